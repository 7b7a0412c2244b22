//! The library's front door: [`Harness`], a builder over a stack that sweeps seeds, replays
//! one, shrinks a failing one, compares its transition table with the RFC's, and plays
//! scripts, from a user's own `#[test]`.
//!
//! This module owns the builder and what it returns ([`Sweep`]). It adds no behaviour of its
//! own: each method is the same code path the `synack` CLI takes (`sweep::sweep`,
//! `sim::run`, `shrink::shrink`, `rfc::generate`, `script::play_virtual`), so a failure the harness finds in a
//! test is the failure the CLI finds, with the same replay command.
//!
//! ```
//! use synack::net::faults::Profile as Faults;
//! use synack::{stacks, Harness};
//!
//! // Any `&'static StackEntry`: a registered one, or your own `static` (see `TcpStack`).
//! let sweep = Harness::new(stacks::core())
//!     .faults(Faults::Swarm)
//!     .seeds(0..20)
//!     .run()
//!     .expect("the sweep runs");
//! sweep.assert_passed();
//! assert_eq!(sweep.report.passed, 20);
//! ```

use std::ops::Range;
use std::path::PathBuf;

use synack_core::Profile;

use crate::config::RunConfig;
use crate::net::faults::Profile as Faults;
use crate::rfc;
use crate::script;
use crate::shrink;
use crate::sim::{self, RunResult};
use crate::stacks::planted::Bug;
use crate::stacks::{Pairing, StackEntry};
use crate::sweep::{self, SeedOutcome, SweepOptions, SweepReport};
use crate::trace::TraceOptions;
use crate::Error;

/// A stack under test and how to test it.
#[derive(Clone, Debug)]
pub struct Harness {
    run: RunConfig,
    seeds: Range<u64>,
    jobs: usize,
    check_determinism: bool,
    command: String,
}

impl Harness {
    /// `stack` against itself, under the swarm's faults, seeds 0..100, RFC 9293's profile.
    pub fn new(stack: &'static StackEntry) -> Harness {
        Harness {
            run: RunConfig {
                stacks: Pairing {
                    client: stack,
                    server: stack,
                    plant: None,
                },
                ..RunConfig::default()
            },
            seeds: 0..100,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            check_determinism: false,
            command: "synack".into(),
        }
    }

    /// The stack as the client (host A), `peer` as the server (host B).
    pub fn against(mut self, peer: &'static StackEntry) -> Harness {
        self.run.stacks.server = peer;
        self
    }

    /// The fault profile.
    pub fn faults(mut self, faults: Faults) -> Harness {
        self.run.faults = faults;
        self
    }

    /// The TCP profile.
    pub fn profile(mut self, profile: Profile) -> Harness {
        self.run.profile = profile;
        self
    }

    /// The seeds to sweep.
    pub fn seeds(mut self, seeds: Range<u64>) -> Harness {
        self.seeds = seeds;
        self
    }

    /// Threads for a sweep (default: one per core).
    pub fn jobs(mut self, jobs: usize) -> Harness {
        self.jobs = jobs.max(1);
        self
    }

    /// Plants one of synack's known bugs in both stacks (`synack sweep --plant`), to see the
    /// oracles catch it.
    pub fn plant(mut self, bug: Bug) -> Harness {
        self.run.stacks.plant = Some(bug);
        self
    }

    /// Run every seed twice and fail on any difference between the traces.
    pub fn check_determinism(mut self) -> Harness {
        self.check_determinism = true;
        self
    }

    /// One of the swarm's conditions by name (`small-buffers`, `isn-wrap`, ...), in place of
    /// what the swarm draws.
    pub fn conditions(mut self, name: &str) -> Result<Harness, Error> {
        let found = sim::conditions::fixed()
            .into_iter()
            .find(|f| f.name == name)
            .ok_or_else(|| Error::parse("conditions", format!("no condition named {name:?}")))?;
        self.run.conditions = Some(found.name);
        Ok(self)
    }

    /// The command that stands for `synack` in the replay commands a failure prints: the
    /// command that runs your own CLI (see `synack::cli::main_with`), e.g.
    /// `cargo run --example mystack --`.
    pub fn command(mut self, command: &str) -> Harness {
        self.command = command.to_string();
        self
    }

    /// Sweeps the seeds; every oracle on.
    pub fn run(&self) -> Result<Sweep, Error> {
        let opts = SweepOptions {
            seeds: self.seeds.clone(),
            run: self.run.clone(),
            jobs: self.jobs,
            shard: None,
            check_determinism: self.check_determinism,
            max_failures: None,
        };
        let report = sweep::sweep(&opts, &opts.run.factory(), &|_, _| {})?;
        Ok(Sweep {
            report,
            command: self.command.clone(),
        })
    }

    /// Runs one seed and keeps its trace, as `synack replay --seed N` does.
    pub fn replay(&self, seed: u64) -> Result<RunResult, Error> {
        let options = TraceOptions {
            keep_events: true,
            ..TraceOptions::default()
        };
        sim::run(&self.run.spec(seed), &options)
    }

    /// Reduces a failing seed's fault decisions to the fewest that still fail (delta
    /// debugging), as `synack shrink` does; [`shrink::write_regression`] then keeps it as a
    /// regression file that `replay --regression` plays. A seed that passes is an error.
    pub fn shrink(&self, seed: u64) -> Result<shrink::Shrunk, Error> {
        let spec = self.run.spec(seed);
        shrink::shrink(&spec, &self.run.factory())
    }

    /// The stack's transition table, generated by driving it, compared with the RFC's
    /// reference for the profile (the stack as client).
    pub fn table(&self) -> Result<rfc::Comparison, Error> {
        let reference = rfc::reference(self.run.profile)?;
        let stack = self.run.stacks.client;
        let generated = rfc::generate::generate_for(self.run.profile, stack);
        let deviations = rfc::deviations::for_stack(self.run.profile, stack);
        Ok(rfc::compare(&reference, &generated, &deviations))
    }

    /// Plays the scripts at `paths` (files, or folders searched for `.pkt`) on the stack in
    /// virtual time, with the known differences recorded beside them applied.
    pub fn scripts(
        &self,
        paths: &[PathBuf],
        options: script::Options,
    ) -> Result<Vec<script::Outcome>, Error> {
        let scripts = script::collect(paths)?;
        script::play_all_virtual(&scripts, self.run.stacks.client, self.run.profile, options)
    }
}

/// What a sweep showed.
#[derive(Debug)]
pub struct Sweep {
    /// The report, as `synack sweep --report` writes it.
    pub report: SweepReport,
    command: String,
}

impl Sweep {
    /// The seeds that failed for a reason no known difference explains.
    pub fn failures(&self) -> impl Iterator<Item = &SeedOutcome> {
        self.report.outcomes.iter().filter(|o| o.unexplained())
    }

    /// The command that replays `outcome`'s seed, with this harness's command for `synack`.
    pub fn replay_command(&self, outcome: &SeedOutcome) -> Option<String> {
        let cmd = outcome.replay.as_deref()?;
        Some(match cmd.strip_prefix("synack ") {
            Some(rest) => format!("{} {rest}", self.command),
            None => cmd.to_string(),
        })
    }

    /// Panics unless every seed passed (or failed as a known difference explains): the
    /// message names each failing seed's oracle and requirement, and the command that
    /// replays it.
    #[track_caller]
    pub fn assert_passed(&self) {
        let failures: Vec<String> = self
            .failures()
            .take(10)
            .map(|o| {
                let what = o
                    .failure
                    .as_ref()
                    .map_or_else(String::new, ToString::to_string);
                format!(
                    "seed {}: {what}\n  replay: {}",
                    o.seed,
                    self.replay_command(o).unwrap_or_default()
                )
            })
            .collect();
        if !failures.is_empty() {
            panic!(
                "{} of {} seeds failed ({} faults, {}, stacks {}):\n{}",
                self.report.failed,
                self.report.runs,
                self.report.faults,
                self.report.profile,
                self.report.config.stacks,
                failures.join("\n")
            );
        }
    }
}
