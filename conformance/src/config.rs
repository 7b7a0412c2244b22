//! What a command line decides about a run.
//!
//! This module owns [`RunConfig`]: everything besides the seed that decides a run (fault
//! profile, TCP profile, workload, transfer sizes, the stacks and a planted bug), its bounds,
//! the record of it a sweep report keeps, and the [`RunSpec`] of a seed under it, whose
//! `replay_command` is the one place the `synack replay` command is written.

use serde::Serialize;

use crate::net::faults::Profile as Faults;
use crate::sim::workload::Kind;
use crate::sim::{RunSpec, DEFAULT_MAX_BYTES};
use crate::stacks::{Pairing, StackFactory, TcpStack};
use crate::Error;

/// The largest transfer a run may make, in octets (1 GiB): `--max-bytes`, `--transfer` and a
/// regression file's workload are held to it, so that a typing error is refused rather than
/// run for hours.
pub const MAX_TRANSFER: u64 = 1 << 30;

/// Everything besides the seed that decides a run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunConfig {
    /// The fault profile.
    pub faults: Faults,
    /// The TCP profile of both stacks.
    pub profile: synack_core::Profile,
    /// The workload kind, or drawn per seed.
    pub workload: Option<Kind>,
    /// Largest transfer of a drawn workload, in octets.
    pub max_bytes: u64,
    /// Instead of a drawn workload, one bulk transfer of this many octets from A to B.
    pub transfer: Option<u64>,
    /// The stacks, and a bug planted in both.
    pub stacks: Pairing,
    /// A condition's fixed scenario by name (`crate::sim::conditions::fixed`), in place of
    /// what the swarm profile draws.
    pub conditions: Option<&'static str>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            faults: Faults::Swarm,
            profile: synack_core::Profile::Rfc9293,
            workload: None,
            max_bytes: DEFAULT_MAX_BYTES,
            transfer: None,
            stacks: Pairing::core(),
            conditions: None,
        }
    }
}

/// A run's configuration as a sweep report records it: enough, with a seed, to rebuild the
/// run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigRecord {
    /// The fault profile.
    pub faults: String,
    /// The TCP profile.
    pub profile: String,
    /// The stacks, `CLIENT,SERVER`.
    pub stacks: String,
    /// The workload kind, if not drawn.
    pub workload: Option<String>,
    /// Largest transfer of a drawn workload.
    pub max_bytes: u64,
    /// The fixed bulk transfer, if any.
    pub transfer: Option<u64>,
    /// The planted bug, if any.
    pub plant: Option<String>,
    /// The fixed conditions, if any.
    pub conditions: Option<String>,
}

impl RunConfig {
    /// Checks every setting against its bound; the error names the argument and the bound.
    pub fn validate(&self) -> Result<(), Error> {
        if self.max_bytes == 0 || self.max_bytes > MAX_TRANSFER {
            return Err(Error::parse(
                "--max-bytes",
                format!(
                    "{} is out of bounds: expected 1 to {MAX_TRANSFER} octets",
                    self.max_bytes
                ),
            ));
        }
        if let Some(n) = self.transfer {
            if n > MAX_TRANSFER {
                return Err(Error::parse(
                    "--transfer",
                    format!("{n} is out of bounds: expected at most {MAX_TRANSFER} octets"),
                ));
            }
            if self.workload.is_some() {
                return Err(Error::parse(
                    "--transfer",
                    "cannot be combined with --workload: --transfer is a fixed bulk workload",
                ));
            }
            if self.max_bytes != DEFAULT_MAX_BYTES {
                return Err(Error::parse(
                    "--transfer",
                    "cannot be combined with --max-bytes, which bounds drawn workloads only",
                ));
            }
        }
        Ok(())
    }

    /// The configuration as a report records it.
    pub fn record(&self) -> ConfigRecord {
        ConfigRecord {
            faults: self.faults.name().to_string(),
            profile: self.profile.name().to_string(),
            stacks: self.stacks.names(),
            workload: self.workload.map(|w| w.to_string()),
            max_bytes: self.max_bytes,
            transfer: self.transfer,
            plant: self.stacks.plant.map(|b| b.to_string()),
            conditions: self.conditions.map(str::to_string),
        }
    }

    /// The run of `seed`.
    pub fn spec(&self, seed: u64) -> RunSpec {
        RunSpec {
            profile: self.profile,
            workload: self.workload,
            max_bytes: self.max_bytes,
            transfer: self.transfer,
            stacks: self.stacks,
            conditions: self.conditions,
            ..RunSpec::new(seed, self.faults)
        }
    }

    /// Builds host `host`'s stack.
    pub fn build(
        &self,
        host: usize,
        config: synack_core::Config,
        key: [u8; 16],
    ) -> Box<dyn TcpStack> {
        self.stacks.build(host, config, key)
    }

    /// The stack factory of this configuration.
    pub fn factory(
        &self,
    ) -> impl Fn(usize, synack_core::Config, [u8; 16]) -> Box<dyn TcpStack> + Sync + '_ {
        move |host, config, key| self.build(host, config, key)
    }
}

/// A factory as the simulator takes it.
pub fn as_factory<'a>(
    f: &'a (impl Fn(usize, synack_core::Config, [u8; 16]) -> Box<dyn TcpStack> + Sync),
) -> StackFactory<'a> {
    f
}
