//! The default suite: what `synack` with no arguments runs.
//!
//! This module owns the suite's contents: synack-core's transition tables against the RFC 793
//! and RFC 9293 references, the RFC 793 figures and the teaching flows played as scripts, six
//! fixed scenarios on a perfect network, each swarm condition's fixed scenario, and a swarm
//! sweep of [`SWEEP_SEEDS`]. The CLI prints what each part returns.

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

/// The reviewed traces of the scripted figures and flows: the insta snapshots that
/// `tests/rfc_figures.rs` keeps, built into the binary so that the suite checks against them.
const FIGURE_TRACES: &[(&str, &str)] = &[
    (
        "flow_four_way_close",
        include_str!("../tests/snapshots/rfc_figures__flow_four_way_close.snap"),
    ),
    (
        "flow_half_close_passive_side_keeps_sending",
        include_str!("../tests/snapshots/rfc_figures__flow_half_close_passive_side_keeps_sending.snap"),
    ),
    (
        "flow_three_way_handshake",
        include_str!("../tests/snapshots/rfc_figures__flow_three_way_handshake.snap"),
    ),
    (
        "rfc793_figure_10_half_open_connection_discovery",
        include_str!("../tests/snapshots/rfc_figures__rfc793_figure_10_half_open_connection_discovery.snap"),
    ),
    (
        "rfc793_figure_11_active_side_causes_half_open_discovery",
        include_str!("../tests/snapshots/rfc_figures__rfc793_figure_11_active_side_causes_half_open_discovery.snap"),
    ),
    (
        "rfc793_figure_12_old_duplicate_syn_initiates_a_reset_on_two_passive_sockets",
        include_str!("../tests/snapshots/rfc_figures__rfc793_figure_12_old_duplicate_syn_initiates_a_reset_on_two_passive_sockets.snap"),
    ),
    (
        "rfc793_figure_13_normal_close",
        include_str!("../tests/snapshots/rfc_figures__rfc793_figure_13_normal_close.snap"),
    ),
    (
        "rfc793_figure_14_simultaneous_close",
        include_str!("../tests/snapshots/rfc_figures__rfc793_figure_14_simultaneous_close.snap"),
    ),
    (
        "rfc793_figure_7_basic_handshake",
        include_str!("../tests/snapshots/rfc_figures__rfc793_figure_7_basic_handshake.snap"),
    ),
    (
        "rfc793_figure_8_simultaneous_open",
        include_str!("../tests/snapshots/rfc_figures__rfc793_figure_8_simultaneous_open.snap"),
    ),
    (
        "rfc793_figure_9_recovery_from_old_duplicate_syn",
        include_str!("../tests/snapshots/rfc_figures__rfc793_figure_9_recovery_from_old_duplicate_syn.snap"),
    ),
];

/// The trace a snapshot file holds: what follows its metadata.
fn snapshot_body(file: &str) -> &str {
    file.splitn(3, "---\n").nth(2).unwrap_or("").trim_end()
}

/// The scripted figures and flows, each played and compared with its reviewed trace: each
/// name with what went wrong, if anything did.
pub fn figures() -> Vec<(&'static str, Result<(), String>)> {
    crate::scenario::all()
        .into_iter()
        .map(|(name, s)| {
            let checked = crate::scenario::play(&s)
                .map_err(|e| e.to_string())
                .and_then(|trace| {
                    let Some((_, file)) = FIGURE_TRACES.iter().find(|(n, _)| *n == name) else {
                        return Err("no reviewed trace to compare with".to_string());
                    };
                    let expected = snapshot_body(file);
                    let got = trace.trim_end();
                    match expected.lines().zip(got.lines()).position(|(a, b)| a != b) {
                        Some(i) => Err(format!(
                            "line {} differs from the reviewed trace:\n    expected: {}\n    played:   {}",
                            i + 1,
                            expected.lines().nth(i).unwrap_or(""),
                            got.lines().nth(i).unwrap_or("")
                        )),
                        None if expected.lines().count() != got.lines().count() => Err(format!(
                            "{} lines played, the reviewed trace has {}",
                            got.lines().count(),
                            expected.lines().count()
                        )),
                        None => Ok(()),
                    }
                });
            (name, checked)
        })
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

/// A condition's fixed scenario: the packets it took, or what went wrong.
pub type ConditionOutcome = Result<u64, String>;

/// The octets of the bulk transfer each condition's fixed scenario makes.
pub const CONDITION_TRANSFER: u64 = 200_000;

/// Each condition's fixed scenario (`crate::sim::conditions::fixed`) on synack-core: a bulk
/// transfer on a perfect network (lossy for held duplicates), which must pass and check each requirement the condition is
/// there for. Each name comes with its packet count, or what went wrong.
pub fn conditions() -> Result<Vec<(&'static str, ConditionOutcome)>, Error> {
    let mut out = Vec::new();
    for f in crate::sim::conditions::fixed() {
        let spec = RunSpec {
            transfer: Some(CONDITION_TRANSFER),
            conditions: Some(f.name),
            ..RunSpec::new(0, f.faults)
        };
        let r = sim::run(&spec, &TraceOptions::default())?;
        let unchecked: Vec<_> = f
            .checks
            .iter()
            .filter(|c| r.requirement_checks.get(*c).is_none_or(|n| *n == 0))
            .collect();
        let outcome = match (&r.failure, unchecked.is_empty()) {
            (Some(failure), _) => Err(failure.to_string()),
            (None, false) => Err(format!("never checked {unchecked:?}")),
            (None, true) => Ok(r.packets),
        };
        out.push((f.name, outcome));
    }
    Ok(out)
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
