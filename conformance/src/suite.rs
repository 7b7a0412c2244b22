//! The default suite: what `synack` with no arguments runs.
//!
//! This module owns the suite's contents: synack-core's transition tables against the RFC 793
//! and RFC 9293 references, the RFC 793 figures and the teaching flows played as scripts, six
//! fixed scenarios on a perfect network, and a swarm sweep of [`SWEEP_SEEDS`]. The CLI prints
//! what each part returns.

use std::ops::Range;

use crate::config::RunConfig;
use crate::net::faults::Profile as Faults;
use crate::rfc;
use crate::sim::workload::{Kind, Workload};
use crate::sim::{self, RunResult, RunSpec};
use crate::sweep::SweepOptions;
use crate::trace::TraceOptions;
use crate::Error;

/// The seeds of the suite's swarm sweep.
pub const SWEEP_SEEDS: Range<u64> = 0..1000;

/// One profile's table comparison.
#[derive(Debug)]
pub struct TableCheck {
    /// The TCP profile.
    pub profile: synack_core::Profile,
    /// Cells that agree.
    pub agree: usize,
    /// Cells that differ as listed deliberately.
    pub deliberate: usize,
    /// Cells that differ otherwise.
    pub unexplained: usize,
}

/// synack-core's tables against both references.
pub fn tables() -> Result<Vec<TableCheck>, Error> {
    [synack_core::Profile::Rfc9293, synack_core::Profile::Rfc793]
        .into_iter()
        .map(|profile| {
            let reference = rfc::reference(profile)?;
            let generated = rfc::generate::generate_core(profile);
            let c = rfc::compare(
                &reference,
                &generated,
                &rfc::deviations::for_profile(profile),
            );
            let unexplained = c.unexplained().count();
            Ok(TableCheck {
                profile,
                agree: c.agree,
                deliberate: c.differences.len() - unexplained,
                unexplained,
            })
        })
        .collect()
}

/// The scripted figures and flows: each name with the error of any that could not be played.
pub fn figures() -> Vec<(&'static str, Result<(), Error>)> {
    crate::scenario::all()
        .into_iter()
        .map(|(name, s)| (name, crate::scenario::play(&s).map(|_| ())))
        .collect()
}

/// The fixed scenarios: a workload each, on a perfect network.
pub fn scenarios() -> Vec<(&'static str, Workload)> {
    vec![
        ("handshake", Workload::fixed(Kind::Bulk, 0, 0)),
        ("transfer", Workload::fixed(Kind::Bulk, 1 << 20, 1 << 20)),
        ("normal close", Workload::fixed(Kind::Bulk, 1000, 1000)),
        ("half-close", Workload::fixed(Kind::HalfClose, 100, 100_000)),
        (
            "simultaneous open",
            Workload::fixed(Kind::SimultaneousOpen, 1000, 1000),
        ),
        (
            "simultaneous close",
            Workload::fixed(Kind::SimultaneousClose, 0, 0),
        ),
    ]
}

/// Runs one fixed scenario on synack-core.
pub fn run_scenario(workload: Workload) -> Result<RunResult, Error> {
    let spec = RunSpec {
        fixed: Some(workload),
        ..RunSpec::new(0, Faults::None)
    };
    sim::run(&spec, &TraceOptions::default())
}

/// The suite's sweep, on `jobs` threads.
pub fn sweep_options(jobs: usize) -> SweepOptions {
    SweepOptions {
        seeds: SWEEP_SEEDS,
        run: RunConfig::default(),
        jobs,
        shard: None,
        check_determinism: false,
        max_failures: None,
    }
}
