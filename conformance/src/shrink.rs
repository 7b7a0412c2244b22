//! Shrinking: the fewest fault decisions that still make a run fail.
//!
//! This module owns delta debugging (Zeller's ddmin) over the fault decisions a failing run
//! recorded, followed by single removals until no one decision can be dropped, and the
//! regression file that keeps the result: seed, profiles, workload and the minimal schedule,
//! which a `cargo test` replays.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::MAX_TRANSFER;
use crate::net::faults::{self, Decision, PacketKey, Schedule};
use crate::sim::oracle::{Failure, Oracle};
use crate::sim::workload::{Step, Workload};
use crate::sim::{self, RunSpec};
use crate::stacks::planted::Bug;
use crate::stacks::{Pairing, Registry, StackFactory};
use crate::sweep::run_caught;
use crate::trace::TraceOptions;
use crate::Error;

/// A regression: a run that once failed, reduced to its essential faults.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Regression {
    /// The seed (workload, ISN keys and link delays come from it).
    pub seed: u64,
    /// Fault profile name.
    pub faults: String,
    /// TCP profile name.
    pub profile: String,
    /// The workload, in full, so that the file replays the same run however workloads come to
    /// be drawn later.
    pub workload: Workload,
    /// Largest drawn transfer.
    pub max_bytes: u64,
    /// The stacks, `CLIENT,SERVER` (files from before it was recorded ran core,core).
    #[serde(default = "core_pair")]
    pub stacks: String,
    /// A bug planted in both stacks, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plant: Option<String>,
    /// A condition's fixed scenario by name (`--conditions`), if the run had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<String>,
    /// The oracle that failed, and how.
    pub failure: String,
    /// The fault decisions, by packet.
    pub schedule: Vec<(PacketKey, Decision)>,
}

fn core_pair() -> String {
    "core,core".to_string()
}

/// The most connections a regression's workload may hold: the most a drawn workload makes.
pub const MAX_CONNECTIONS: usize = 100;

impl Regression {
    /// The stacks this regression runs on, with the planted bug, among this build's stacks.
    pub fn pairing(&self) -> Result<Pairing, Error> {
        self.pairing_in(&Registry::builtin())
    }

    /// The stacks this regression runs on, with the planted bug, among `stacks`.
    pub fn pairing_in(&self, stacks: &Registry) -> Result<Pairing, Error> {
        let mut p = stacks
            .pairing(&self.stacks)
            .map_err(|e| Error::parse("regression field stacks", e))?;
        p.plant = match &self.plant {
            None => None,
            Some(b) => Some(
                b.parse::<Bug>()
                    .map_err(|e| Error::parse("regression field plant", e))?,
            ),
        };
        Ok(p)
    }

    /// Checks every field against its bound before anything runs.
    pub fn validate(&self) -> Result<(), Error> {
        self.validate_in(&Registry::builtin())
    }

    /// Checks every field against its bound, its stacks among `stacks`.
    pub fn validate_in(&self, stacks: &Registry) -> Result<(), Error> {
        let conns = &self.workload.conns;
        if conns.is_empty() || conns.len() > MAX_CONNECTIONS {
            return Err(Error::parse(
                "regression field workload.conns",
                format!(
                    "{} connections: expected 1 to {MAX_CONNECTIONS}",
                    conns.len()
                ),
            ));
        }
        let mut ports: Vec<u16> = conns.iter().map(|c| c.client_port).collect();
        ports.sort_unstable();
        if let Some(w) = ports.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::parse(
                "regression field workload.conns",
                format!(
                    "two connections from client port {}: each connection needs a port of its own",
                    w[0]
                ),
            ));
        }
        let mut total: u64 = 0;
        for (i, c) in conns.iter().enumerate() {
            for (side, script) in [("client", &c.client), ("server", &c.server)] {
                let place = format!("regression field workload.conns[{i}].{side}");
                for chunk in [script.write_chunk, script.read_chunk] {
                    if chunk == 0 || chunk > 1 << 20 {
                        return Err(Error::parse(
                            place,
                            format!("a chunk of {chunk} octets: expected 1 to {}", 1 << 20),
                        ));
                    }
                }
                for step in &script.steps {
                    if let Step::WriteTo(n) | Step::ReadTo(n) = step {
                        if *n > MAX_TRANSFER {
                            return Err(Error::parse(
                                place,
                                format!("{n} octets: expected at most {MAX_TRANSFER}"),
                            ));
                        }
                    }
                }
                total = total.saturating_add(script.total_written());
            }
        }
        if total > MAX_TRANSFER {
            return Err(Error::parse(
                "regression field workload",
                format!("{total} octets written in all: expected at most {MAX_TRANSFER}"),
            ));
        }
        if self.max_bytes == 0 || self.max_bytes > MAX_TRANSFER {
            return Err(Error::parse(
                "regression field max_bytes",
                format!("{}: expected 1 to {MAX_TRANSFER}", self.max_bytes),
            ));
        }
        for (i, (_, d)) in self.schedule.iter().enumerate() {
            for c in &d.copies {
                let too_late = u128::from(c.extra_us) > sim::LIVENESS_BOUND.as_micros();
                if too_late || c.flip_bit.is_some_and(|b| b >= 65_535 * 8) {
                    return Err(Error::parse(
                        format!("regression field schedule[{i}]"),
                        format!(
                            "a copy delayed {} µs or flipping bit {:?}: expected at most {} s of delay (the liveness bound) and a bit of a packet of at most 65535 octets",
                            c.extra_us, c.flip_bit, sim::LIVENESS_BOUND.as_secs()
                        ),
                    ));
                }
            }
        }
        self.pairing_in(stacks)?;
        Ok(())
    }

    /// The run this regression replays.
    pub fn spec(&self) -> Result<RunSpec, Error> {
        self.spec_in(&Registry::builtin())
    }

    /// The run this regression replays, its stacks among `stacks`.
    pub fn spec_in(&self, stacks: &Registry) -> Result<RunSpec, Error> {
        let faults: faults::Profile = self
            .faults
            .parse()
            .map_err(|e| Error::parse("regression field faults", e))?;
        let profile = parse_profile(&self.profile)
            .map_err(|e| Error::parse("regression field profile", e))?;
        Ok(RunSpec {
            profile,
            fixed: Some(self.workload.clone()),
            max_bytes: self.max_bytes,
            schedule: Some(self.schedule.iter().cloned().collect()),
            stacks: self.pairing_in(stacks)?,
            conditions: match &self.conditions {
                None => None,
                Some(c) => Some(
                    crate::sim::conditions::by_name(c)
                        .map_err(|e| Error::parse("regression field conditions", e))?
                        .name,
                ),
            },
            ..RunSpec::new(self.seed, faults)
        })
    }

    /// Reads a regression file and checks its fields.
    pub fn load(path: &Path) -> Result<Regression, Error> {
        Regression::load_in(path, &Registry::builtin())
    }

    /// Reads a regression file whose stacks are among `stacks`.
    pub fn load_in(path: &Path, stacks: &Registry) -> Result<Regression, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::file(path, e))?;
        let r: Regression = serde_json::from_str(&text).map_err(|e| {
            Error::parse(format!("{}:{}:{}", path.display(), e.line(), e.column()), e)
        })?;
        r.validate_in(stacks).map_err(|e| match e {
            Error::Parse { location, message } => {
                Error::parse(format!("{}: {location}", path.display()), message)
            }
            other => other,
        })?;
        Ok(r)
    }
}

/// Parses `rfc9293` or `rfc793`.
pub fn parse_profile(s: &str) -> Result<synack_core::Profile, String> {
    match s {
        "rfc9293" => Ok(synack_core::Profile::Rfc9293),
        "rfc793" => Ok(synack_core::Profile::Rfc793),
        _ => Err(format!(
            "unknown TCP profile {s:?}; expected rfc9293 or rfc793"
        )),
    }
}

/// The result of shrinking.
#[derive(Debug)]
pub struct Shrunk {
    /// Fault decisions of the original failing run.
    pub original: usize,
    /// The minimal schedule.
    pub schedule: Schedule,
    /// The failure the minimal schedule produces.
    pub failure: Failure,
    /// The workload that ran.
    pub workload: Workload,
    /// Runs it took.
    pub runs: usize,
    /// The known difference of a stack under test that explains the original failure, if one
    /// does: the regression then records a finding about that stack, not a bug of ours.
    pub expected: Option<&'static str>,
}

/// Shrinks a failing seed. Errors if the seed does not fail.
pub fn shrink(spec: &RunSpec, factory: StackFactory<'_>) -> Result<Shrunk, Error> {
    let keep = TraceOptions {
        keep_schedule: true,
        ..TraceOptions::default()
    };
    let first = sim::run_with(spec, &keep, factory)?;
    let Some(failure) = first.failure else {
        return Err(Error::cannot_run(format!(
            "seed {} does not fail; nothing to shrink",
            spec.seed
        )));
    };
    let oracle = failure.oracle;
    let mut runs = 1;
    let fails = |items: &[(PacketKey, Decision)], runs: &mut usize| -> Option<Failure> {
        *runs += 1;
        let s = RunSpec {
            schedule: Some(items.iter().cloned().collect()),
            ..spec.clone()
        };
        let o = run_caught(&s, factory);
        o.failure.filter(|f| f.oracle == oracle)
    };
    let all: Vec<(PacketKey, Decision)> = first.schedule.into_iter().collect();
    let original = all.len();
    // The recorded schedule itself must reproduce the failure.
    let mut last = fails(&all, &mut runs).ok_or_else(|| {
        Error::cannot_run(format!(
            "seed {}: the recorded faults do not reproduce the {oracle} failure",
            spec.seed
        ))
    })?;
    let mut current = all;
    // ddmin.
    let mut n = 2usize;
    while current.len() >= 2 {
        let chunk = current.len().div_ceil(n);
        // Try removing each of the n chunks (testing its complement).
        let found = (0..n).find_map(|i| {
            let (lo, hi) = (i * chunk, ((i + 1) * chunk).min(current.len()));
            if lo >= hi {
                return None;
            }
            let complement: Vec<_> = current[..lo]
                .iter()
                .chain(&current[hi..])
                .cloned()
                .collect();
            fails(&complement, &mut runs).map(|f| (complement, f))
        });
        match found {
            Some((complement, f)) => {
                current = complement;
                last = f;
                n = (n - 1).max(2);
            }
            None if n >= current.len() => break,
            None => n = (n * 2).min(current.len()),
        }
    }
    // One at a time, until no single decision can go.
    let mut i = 0;
    while i < current.len() {
        let without: Vec<_> = current
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, d)| *d)
            .collect();
        match fails(&without, &mut runs) {
            Some(f) => {
                current = without;
                last = f;
            }
            None => i += 1,
        }
    }
    Ok(Shrunk {
        expected: first.expected,
        workload: first.plan,
        original,
        schedule: current.into_iter().collect(),
        failure: last,
        runs,
    })
}

/// Writes a regression file for a shrunk run under `dir`; returns its path. An existing file
/// is replaced only if `force`.
pub fn write_regression(
    spec: &RunSpec,
    shrunk: &Shrunk,
    dir: &Path,
    force: bool,
) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, e))?;
    let oracle = match shrunk.failure.oracle {
        Oracle::StreamIntegrity => "stream-integrity",
        Oracle::LegalTransitions => "legal-transitions",
        Oracle::OrderlyClose => "orderly-close",
        Oracle::Liveness => "liveness",
        Oracle::Panic => "panic",
        Oracle::Determinism => "determinism",
        Oracle::Wire => "wire",
    };
    let path = dir.join(format!(
        "{}-{}-seed{}-{}.json",
        spec.faults.name(),
        spec.profile.name(),
        spec.seed,
        oracle
    ));
    if path.exists() && !force {
        return Err(Error::file(
            &path,
            "exists; give --force to replace it, or --out for another folder",
        ));
    }
    let reg = Regression {
        seed: spec.seed,
        faults: spec.faults.name().to_string(),
        profile: spec.profile.name().to_string(),
        workload: shrunk.workload.clone(),
        max_bytes: spec.max_bytes,
        stacks: spec.stacks.names(),
        plant: spec.stacks.plant.map(|b| b.to_string()),
        conditions: spec.conditions.map(str::to_string),
        failure: shrunk.failure.to_string(),
        schedule: shrunk.schedule.iter().map(|(k, v)| (*k, *v)).collect(),
    };
    let text = serde_json::to_string_pretty(&reg).map_err(|e| Error::file(&path, e))?;
    std::fs::write(&path, text + "\n").map_err(|e| Error::file(&path, e))?;
    Ok(path)
}
