//! `synack bench`: simulator throughput for stack authors.
//!
//! This module owns the benchmark scenarios (`lifecycle-64k`, `chaos-64k`, `bulk-10m`) and the
//! measurement of one row: a scenario on one stack pairing, run seed after seed on one thread
//! for a wall-clock budget, with every oracle on, as a sweep runs it. A row reports
//! simulations per second, simulated segments per second and the peak resident set size while
//! the row ran. The wall clock is read here and nowhere else in the harness; nothing it
//! measures feeds back into a run.

use std::time::{Duration, Instant as WallClock};

use crate::net::faults::Profile as Faults;
use crate::sim::workload::{Kind, Workload};
use crate::sim::{self, RunSpec};
use crate::stacks::StackFactory;
use crate::trace::TraceOptions;

/// A benchmark scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// Its name on the command line.
    pub name: &'static str,
    /// What it runs.
    pub description: &'static str,
    /// The fault profile.
    pub faults: Faults,
    /// Octets from A to B.
    pub up: u64,
    /// Octets from B to A.
    pub down: u64,
}

/// Every scenario, in the order the table lists them.
pub const SCENARIOS: [Scenario; 3] = [
    Scenario {
        name: "lifecycle-64k",
        description: "lossless: handshake, 64 KiB each way, four-way close, TIME-WAIT, CLOSED",
        faults: Faults::None,
        up: 64 << 10,
        down: 64 << 10,
    },
    Scenario {
        name: "chaos-64k",
        description: "the chaos fault profile, 64 KiB each way, to CLOSED",
        faults: Faults::Chaos,
        up: 64 << 10,
        down: 64 << 10,
    },
    Scenario {
        name: "bulk-10m",
        description: "lossless, 10 MiB from A to B, to CLOSED",
        faults: Faults::None,
        up: 10 << 20,
        down: 0,
    },
];

/// The scenario named `name`.
pub fn scenario(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

impl Scenario {
    /// The run of `seed` in this scenario.
    pub fn spec(&self, seed: u64) -> RunSpec {
        RunSpec {
            fixed: Some(Workload::fixed(Kind::Bulk, self.up, self.down)),
            ..RunSpec::new(seed, self.faults)
        }
    }
}

/// One row of the table.
#[derive(Clone, Debug)]
pub struct Row {
    /// The scenario.
    pub scenario: &'static str,
    /// The stacks, as `CLIENT,SERVER`.
    pub stacks: String,
    /// Simulations completed.
    pub runs: u64,
    /// Simulated segments in all.
    pub segments: u64,
    /// Wall-clock time they took.
    pub elapsed: Duration,
    /// Runs that failed an oracle (a benchmark of a failing stack measures the wrong thing).
    pub failed: u64,
    /// Peak resident set size while the row ran, in KiB, where the system tells it.
    pub peak_rss_kib: Option<u64>,
}

impl Row {
    /// Simulations per second.
    pub fn sims_per_sec(&self) -> f64 {
        self.runs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Segments per second.
    pub fn segments_per_sec(&self) -> f64 {
        self.segments as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs `scenario` on `factory` seed after seed (from 0), on this thread, until `budget` has
/// passed and at least one run is done.
pub fn measure(
    scenario: &Scenario,
    stacks: &str,
    factory: StackFactory<'_>,
    budget: Duration,
) -> Result<Row, crate::Error> {
    reset_peak_rss();
    let started = WallClock::now();
    let (mut runs, mut segments, mut failed) = (0u64, 0u64, 0u64);
    while runs == 0 || started.elapsed() < budget {
        let r = sim::run_with(&scenario.spec(runs), &TraceOptions::default(), factory)?;
        runs += 1;
        segments += r.packets;
        failed += u64::from(r.failure.is_some() && r.expected.is_none());
    }
    Ok(Row {
        scenario: scenario.name,
        stacks: stacks.to_string(),
        runs,
        segments,
        elapsed: started.elapsed(),
        failed,
        peak_rss_kib: peak_rss_kib(),
    })
}

/// The table, one row per line, aligned.
pub fn render(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<15} {:<16} {:>14} {:>14} {:>10} {:>8}\n",
        "scenario", "stacks", "simulations/s", "segments/s", "peak RSS", "failed"
    );
    for r in rows {
        let rss = r
            .peak_rss_kib
            .map_or("-".to_string(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
        out.push_str(&format!(
            "{:<15} {:<16} {:>14.0} {:>14.0} {:>10} {:>8}\n",
            r.scenario,
            r.stacks,
            r.sims_per_sec(),
            r.segments_per_sec(),
            rss,
            r.failed
        ));
    }
    out
}

/// Resets the process's peak RSS counter (Linux: `5` into /proc/self/clear_refs), so that each
/// row reports its own peak. Elsewhere, or if refused, the peak is the process's.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The process's peak resident set size, from Linux's /proc/self/status (VmHWM); `None`
/// elsewhere.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
