//! Simulator throughput: simulated segments per second and seeds per second, for the chaos
//! profile with a 64 KiB transfer each way.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use synack::net::faults::Profile;
use synack::sim::workload::{Kind, Workload};
use synack::sim::{self, RunSpec};
use synack::trace::TraceOptions;

const SEEDS: u64 = 16;

fn spec(seed: u64) -> RunSpec {
    RunSpec {
        fixed: Some(Workload::fixed(Kind::Bulk, 64 << 10, 64 << 10)),
        ..RunSpec::new(seed, Profile::Chaos)
    }
}

fn run_all() -> u64 {
    (0..SEEDS)
        .map(|s| {
            let r = sim::run(&spec(s), &TraceOptions::default()).expect("run starts");
            assert!(r.failure.is_none(), "seed {s} failed: {:?}", r.failure);
            r.packets
        })
        .sum()
}

fn chaos_64k(c: &mut Criterion) {
    let packets = run_all();
    let mut g = c.benchmark_group("chaos, 64 KiB each way");
    g.sample_size(20);
    g.throughput(Throughput::Elements(packets));
    g.bench_function("segments", |b| b.iter(run_all));
    g.throughput(Throughput::Elements(SEEDS));
    g.bench_function("seeds", |b| b.iter(run_all));
    g.finish();
}

criterion_group!(benches, chaos_64k);
criterion_main!(benches);
