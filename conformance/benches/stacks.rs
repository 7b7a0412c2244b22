//! The same chaos scenario with synack-core on both hosts and with smoltcp on both hosts:
//! simulated segments per second for each, and their ratio.
//!
//! Each pairing runs the same 16 seeds (chaos faults, a 64 KiB transfer each way); a round is
//! all 16 runs, timed with the wall clock, and the median of 9 rounds is reported. The two
//! pairings do not send the same number of segments (their retransmissions differ), so each
//! rate is its own segments over its own time. A run may fail only through a known difference
//! of smoltcp (`stacks::known`); anything else stops the benchmark.

use std::time::Instant as WallClock;

use synack::net::faults::Profile;
use synack::sim::workload::{Kind, Workload};
use synack::sim::{self, RunSpec};
use synack::stacks::smoltcp::smol_stack;
use synack::trace::TraceOptions;

const SEEDS: u64 = 16;
const ROUNDS: usize = 9;

fn spec(seed: u64) -> RunSpec {
    RunSpec {
        fixed: Some(Workload::fixed(Kind::Bulk, 64 << 10, 64 << 10)),
        ..RunSpec::new(seed, Profile::Chaos)
    }
}

/// One round: every seed once; the segments sent.
fn round(factory: synack::stacks::StackFactory<'_>) -> u64 {
    (0..SEEDS)
        .map(|s| {
            let r = sim::run_with(&spec(s), &TraceOptions::default(), factory).expect("run starts");
            if let Some(f) = &r.failure {
                assert!(r.expected.is_some(), "seed {s} failed: {f}");
            }
            r.packets
        })
        .sum()
}

/// Median segments per second and seconds per round.
fn rate(name: &str, factory: synack::stacks::StackFactory<'_>) -> (f64, f64) {
    let segments = round(factory);
    let mut secs: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let t = WallClock::now();
            std::hint::black_box(round(factory));
            t.elapsed().as_secs_f64()
        })
        .collect();
    secs.sort_by(f64::total_cmp);
    let median = secs[ROUNDS / 2];
    let rate = segments as f64 / median;
    println!(
        "{name:<18} {segments:>7} segments per round, median {:>8.2} ms, {:>10.0} segments/s",
        median * 1e3,
        rate
    );
    (rate, median)
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench` absent: do one round only.
    if !std::env::args().any(|a| a == "--bench") {
        round(&synack::stacks::core::core_stack);
        round(&smol_stack);
        return;
    }
    println!("chaos, 64 KiB each way, {SEEDS} seeds per round, median of {ROUNDS} rounds");
    let (core, core_secs) = rate("core <-> core", &synack::stacks::core::core_stack);
    let (smol, smol_secs) = rate("smoltcp <-> smoltcp", &smol_stack);
    println!(
        "ratio core/smoltcp: {:.2} in segments/s; {:.2} in scenarios/s",
        core / smol,
        smol_secs / core_secs
    );
}
