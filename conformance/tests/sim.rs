//! The simulator end to end: fixed scenarios, determinism, independence from the thread
//! count, a planted bug caught by a sweep, reproduced by replay and shrunk to a few faults, and
//! the committed regressions.

use std::path::Path;

use synack::config::RunConfig;
use synack::net::faults::Profile as Faults;
use synack::shrink::{self, Regression};
use synack::sim::workload::{Kind, Workload};
use synack::sim::{self, RunSpec};
use synack::stacks::planted::{Bug, Planted};
use synack::stacks::TcpStack;
use synack::sweep::{self, SweepOptions};
use synack::trace::{self, TraceOptions};
use synack_core::Config;

fn planted(host: usize, config: Config, key: [u8; 16]) -> Box<dyn TcpStack> {
    Box::new(Planted::new(
        synack::stacks::core::core_stack(host, config.clone(), key),
        Bug::DropRetransmittedFin,
        &config,
    ))
}

fn options(seeds: std::ops::Range<u64>, faults: Faults, jobs: usize) -> SweepOptions {
    SweepOptions {
        seeds,
        run: RunConfig {
            faults,
            max_bytes: 256 << 10,
            ..RunConfig::default()
        },
        jobs,
        shard: None,
        check_determinism: false,
        max_failures: None,
    }
}

#[test]
fn fixed_scenarios_pass_on_a_perfect_network() {
    for (kind, up, down) in [
        (Kind::Bulk, 0, 0),
        (Kind::Bulk, 300_000, 200_000),
        (Kind::HalfClose, 100, 100_000),
        (Kind::SimultaneousOpen, 1000, 1000),
        (Kind::SimultaneousClose, 10, 10),
    ] {
        let spec = RunSpec {
            fixed: Some(Workload::fixed(kind, up, down)),
            ..RunSpec::new(3, Faults::None)
        };
        let r = sim::run(&spec, &TraceOptions::default()).unwrap();
        assert_eq!(r.failure, None, "{kind}");
        assert_eq!(r.faults, 0);
    }
}

#[test]
fn every_workload_passes_under_every_fault_profile() {
    for faults in Faults::ALL {
        for kind in Kind::ALL {
            for seed in 0..4 {
                let spec = RunSpec {
                    workload: Some(kind),
                    max_bytes: 200_000,
                    ..RunSpec::new(seed, faults)
                };
                let r = sim::run(&spec, &TraceOptions::default()).unwrap();
                assert_eq!(r.failure, None, "seed {seed} {kind} under {faults}");
            }
        }
    }
}

#[test]
fn a_seed_replays_byte_for_byte() {
    let spec = RunSpec::new(7, Faults::Chaos);
    let keep = TraceOptions {
        keep_events: true,
        keep_schedule: true,
        ..TraceOptions::default()
    };
    let a = sim::run(&spec, &keep).unwrap();
    let b = sim::run(
        &spec,
        &TraceOptions {
            keep_schedule: true,
            ..TraceOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        a.trace_hash, b.trace_hash,
        "keeping the events does not change the run"
    );
    assert_eq!(a.schedule, b.schedule);
    let other = sim::run(&RunSpec::new(8, Faults::Chaos), &TraceOptions::default()).unwrap();
    assert_ne!(a.trace_hash, other.trace_hash);
}

#[test]
fn the_recorded_schedule_reproduces_the_run() {
    let spec = RunSpec::new(11, Faults::Swarm);
    let drawn = sim::run(
        &spec,
        &TraceOptions {
            keep_schedule: true,
            ..TraceOptions::default()
        },
    )
    .unwrap();
    let replayed = sim::run(
        &RunSpec {
            schedule: Some(drawn.schedule.clone()),
            ..spec
        },
        &TraceOptions::default(),
    )
    .unwrap();
    assert_eq!(drawn.trace_hash, replayed.trace_hash);
}

#[test]
fn reports_do_not_depend_on_the_number_of_threads() {
    let one = sweep::sweep(
        &options(0..40, Faults::Swarm, 1),
        &synack::stacks::core::core_stack,
        &|_, _| {},
    )
    .unwrap();
    let two = sweep::sweep(
        &options(0..40, Faults::Swarm, 2),
        &synack::stacks::core::core_stack,
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(
        serde_json::to_string(&one).unwrap(),
        serde_json::to_string(&two).unwrap()
    );
    assert_eq!(one.failed, 0);
}

#[test]
fn a_planted_bug_is_caught_replayed_and_shrunk() {
    // A sweep with the bug fails.
    let report = sweep::sweep(&options(0..60, Faults::Chaos, 2), &planted, &|_, _| {}).unwrap();
    assert!(report.failed > 0, "the sweep catches the planted bug");
    let seed = report.failures().next().unwrap().seed;
    let first = report.outcomes.iter().find(|o| o.seed == seed).unwrap();

    // Replay reproduces it exactly.
    let spec = RunSpec {
        max_bytes: 256 << 10,
        ..RunSpec::new(seed, Faults::Chaos)
    };
    let replayed = sim::run_with(&spec, &TraceOptions::default(), &planted).unwrap();
    assert_eq!(replayed.trace_hash, first.trace_hash);
    assert_eq!(replayed.failure, first.failure);
    // Without the bug, the same seed passes.
    let fixed = sim::run(&spec, &TraceOptions::default()).unwrap();
    assert_eq!(fixed.failure, None);

    // Shrinking leaves a handful of faults that still fail the same way.
    let shrunk = shrink::shrink(&spec, &planted).unwrap();
    assert!(shrunk.original > shrunk.schedule.len());
    assert!(
        shrunk.schedule.len() <= 5,
        "{} faults left: {:?}",
        shrunk.schedule.len(),
        shrunk.schedule
    );
    assert_eq!(
        Some(shrunk.failure.oracle),
        first.failure.as_ref().map(|f| f.oracle)
    );

    // The regression file records the planted bug and replays: failing with the bug as the
    // file names it, passing without.
    let spec = RunSpec {
        stacks: synack::stacks::Pairing {
            plant: Some(Bug::DropRetransmittedFin),
            ..synack::stacks::Pairing::core()
        },
        ..spec
    };
    let dir = std::env::temp_dir().join(format!("synack-regression-{}", std::process::id()));
    let path = shrink::write_regression(&spec, &shrunk, &dir, false).unwrap();
    let reg = Regression::load(&path).unwrap();
    let pairing = reg.pairing().unwrap();
    assert_eq!(pairing.plant, Some(Bug::DropRetransmittedFin));
    let with_bug = sim::run(&reg.spec().unwrap(), &TraceOptions::default()).unwrap();
    assert_eq!(
        with_bug.failure.as_ref(),
        Some(&shrunk.failure),
        "the regression replays the shrunk failure exactly"
    );
    let without = sim::run_with(
        &reg.spec().unwrap(),
        &TraceOptions::default(),
        &synack::stacks::core::core_stack,
    )
    .unwrap();
    assert_eq!(without.failure, None);
    // An existing file is not replaced unless asked.
    let again = shrink::write_regression(&spec, &shrunk, &dir, false);
    assert!(again.is_err(), "overwrote {}", path.display());
    assert!(shrink::write_regression(&spec, &shrunk, &dir, true).is_ok());
    std::fs::remove_dir_all(dir).ok();
}

/// Every committed simulator regression: it must pass on synack-core, and, for those found by
/// a planted bug, still fail with that bug (so the file still reaches the behaviour it guards).
#[test]
fn committed_regressions_replay() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/schedules");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no regressions under {}", dir.display());
    for path in files {
        let reg = Regression::load(&path).unwrap();
        let spec = reg.spec().unwrap();
        let r = sim::run(&spec, &TraceOptions::default()).unwrap();
        assert_eq!(r.failure, None, "{} fails on synack-core", path.display());
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("chaos-rfc9293-seed51-") {
            let buggy = sim::run_with(&spec, &TraceOptions::default(), &planted).unwrap();
            assert!(
                buggy.failure.is_some(),
                "{name} no longer catches the planted bug"
            );
        }
    }
}

#[test]
fn the_pcapng_holds_every_packet_with_its_fault_and_valid_checksums_except_corrupted_copies() {
    use pcap_file::pcapng::{Block, PcapNgReader};
    use pcap_file::DataLink;
    let dir = std::env::temp_dir();
    let path = dir.join(format!("synack-test-{}.pcapng", std::process::id()));
    let spec = RunSpec::new(7, Faults::Chaos);
    let options = TraceOptions {
        keep_events: true,
        keep_schedule: true,
        pcap: Some(path.clone()),
        ..TraceOptions::default()
    };
    let r = sim::run(&spec, &options).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let mut reader = PcapNgReader::new(file).expect("a pcapng section");
    let (mut records, mut bad, mut comments) = (0, 0, Vec::new());
    let mut interfaces = 0;
    while let Some(block) = reader.next_block() {
        match block.expect("a well-formed block") {
            Block::InterfaceDescription(i) => {
                interfaces += 1;
                assert_eq!(i.linktype, DataLink::RAW);
            }
            Block::EnhancedPacket(p) => {
                records += 1;
                if synack_core::wire::Packet::parse(&p.data).is_err() {
                    bad += 1;
                }
                for o in &p.options {
                    if let pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption::Comment(c) = o {
                        comments.push(c.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    std::fs::remove_file(&path).ok();
    assert_eq!(interfaces, 1);
    let copies: usize = r
        .events
        .iter()
        .map(|e| match e {
            trace::TraceEvent::Sent { decision, .. } => decision.copies.len().max(1),
            _ => 0,
        })
        .sum();
    assert_eq!(records, copies);
    assert_eq!(
        comments.len(),
        records,
        "every packet says what happened to it"
    );
    let corrupted = r
        .schedule
        .values()
        .flat_map(|d| &d.copies)
        .filter(|c| c.flip_bit.is_some())
        .count();
    assert_eq!(
        bad, corrupted,
        "only the corrupted copies fail their checksums"
    );
    let said = |what: &str| comments.iter().filter(|c| c.contains(what)).count();
    assert_eq!(said("flipped (corrupted)"), corrupted);
    let lost = r.schedule.values().filter(|d| d.lost.is_some()).count();
    assert_eq!(said("dropped"), lost);
    assert!(lost > 0, "seed 7 under chaos loses packets");
}

#[test]
fn a_replay_trace_is_relative_to_each_isn_shows_windows_calls_and_ports_and_stays_aligned() {
    // Many connections, so that the ports column is on and the trace passes line 99.
    let spec = RunSpec {
        workload: Some(Kind::ManyConnections),
        max_bytes: 3000,
        ..RunSpec::new(3, Faults::Chaos)
    };
    let options = TraceOptions {
        keep_events: true,
        ..TraceOptions::default()
    };
    let r = sim::run(&spec, &options).unwrap();
    let text = trace::render_with(&r.events, &trace::Notation::REPLAY);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 120, "{} lines", lines.len());
    let time_at = lines[0].find("time (s)").expect("a time column");
    assert!(lines[0].contains("ports"));
    for l in &lines[1..] {
        let t = &l[time_at..];
        assert!(
            t.starts_with(|c: char| c.is_ascii_digit()),
            "the time column moved: {l:?}"
        );
    }
    let first_syn = lines.iter().find(|l| l.contains("<CTL=SYN>")).unwrap();
    assert!(first_syn.contains("<SEQ=0><CTL=SYN><WND="), "{first_syn}");
    let syn_ack = lines.iter().find(|l| l.contains("<CTL=SYN,ACK>")).unwrap();
    assert!(syn_ack.contains("<SEQ=0><ACK=1><CTL=SYN,ACK>"), "{syn_ack}");
    assert!(lines
        .iter()
        .any(|l| l.contains("(OPEN active, to 10.0.0.2:")));
    assert!(lines.iter().any(|l| l.starts_with("100.")));
    // The same run rendered with absolute numbers shows the ISNs themselves.
    let absolute = trace::render_with(
        &r.events,
        &trace::Notation {
            relative: false,
            ..trace::Notation::REPLAY
        },
    );
    assert!(!absolute.contains("<SEQ=0><CTL=SYN>"));
}

#[test]
fn a_stack_that_does_not_replay_fails_the_determinism_oracle() {
    // A stack whose ISN key changes from one build to the next: the same seed runs twice with
    // different sequence numbers, so its traces differ.
    let builds = std::sync::atomic::AtomicU64::new(0);
    let drifting = |host: usize, config: Config, mut key: [u8; 16]| -> Box<dyn TcpStack> {
        key[15] ^= builds.fetch_add(1, std::sync::atomic::Ordering::Relaxed) as u8;
        synack::stacks::core::core_stack(host, config, key)
    };
    let opts = SweepOptions {
        check_determinism: true,
        ..options(0..4, Faults::None, 1)
    };
    let report = sweep::sweep(&opts, &drifting, &|_, _| {}).unwrap();
    assert_eq!(report.failed, 4);
    for o in report.failures() {
        let f = o.failure.as_ref().unwrap();
        assert_eq!(f.oracle, synack::sim::oracle::Oracle::Determinism, "{f}");
        assert!(o.replay.is_some());
    }
    // The same stack without the drift passes the check.
    let steady = sweep::sweep(&opts, &synack::stacks::core::core_stack, &|_, _| {}).unwrap();
    assert_eq!(steady.failed, 0);
}

/// Every planted wire bug, and the requirement a swarm sweep of it names.
const WIRE_BUGS: [(Bug, &str, std::ops::Range<u64>); 19] = [
    (Bug::IgnorePeerMss, "MUST-16", 0..200),
    (Bug::DoubleThePeerWindow, "§3.8.6", 0..200),
    (Bug::AssumeMssWithoutOption, "MUST-15", 0..200),
    (Bug::ShortRto, "RFC 6298 (2.1)", 0..200),
    (Bug::NoBackoff, "MUST-19", 0..200),
    (Bug::ShortTimeWait, "MUST-13", 0..200),
    (Bug::SlowAcks, "MUST-40", 0..200),
    (Bug::StretchAcks, "SHLD-19", 0..200),
    (Bug::SlowDuplicateAcks, "RFC 5681 §4.2", 0..200),
    (Bug::SlowFinAcks, "§3.10.7.4", 0..200),
    (Bug::ResetIgnoresAck, "§3.10.7.1", 0..200),
    (Bug::StaleRetransmission, "§3.4", 0..200),
    (Bug::FinMoves, "§3.6", 0..200),
    (Bug::OddChecksum, "MUST-2", 0..200),
    (Bug::AcceptRstInWindow, "RFC 5961 §3.2", 0..200),
    (Bug::UnlimitedChallengeAcks, "RFC 5961 §7", 0..200),
    (Bug::SplitSegments, "MUST-38", 0..200),
    (Bug::EagerWindowUpdates, "MUST-39", 0..200),
    // A lost window update behind a zero window is rare in the swarm: these seeds hold one.
    (Bug::NoZeroWindowProbes, "MUST-36", 400..440),
];

#[test]
fn the_wire_oracles_catch_the_planted_wire_bugs_and_name_the_requirement() {
    for (bug, requirement, seeds) in WIRE_BUGS {
        let opts = SweepOptions {
            run: RunConfig {
                faults: Faults::Swarm,
                stacks: synack::stacks::Pairing {
                    plant: Some(bug),
                    ..synack::stacks::Pairing::core()
                },
                ..RunConfig::default()
            },
            ..options(seeds, Faults::Swarm, 2)
        };
        let report = sweep::sweep(&opts, &opts.run.factory(), &|_, _| {}).unwrap();
        assert!(report.failed > 0, "{bug}: no seed failed");
        let named: Vec<_> = report
            .failures()
            .filter_map(|r| r.failure.as_ref())
            .filter(|f| f.oracle == synack::sim::oracle::Oracle::Wire)
            .filter_map(|f| f.requirement)
            .collect();
        assert!(
            named.contains(&requirement),
            "{bug}: no failure names {requirement}; they name {named:?}"
        );
        assert!(report.requirement_checks[requirement] > 0);
    }
}

/// Each condition's fixed scenario (the default suite runs them too): synack-core passes,
/// the checks the condition is there for are exercised, and under the ISN condition the
/// sequence numbers wrap.
#[test]
fn each_condition_alone_passes_and_exercises_its_checks() {
    for (name, outcome) in synack::suite::conditions().unwrap() {
        assert!(outcome.is_ok(), "{name}: {outcome:?}");
    }
    let spec = RunSpec {
        transfer: Some(synack::suite::CONDITION_TRANSFER),
        conditions: Some("isn-wrap"),
        ..RunSpec::new(0, Faults::None)
    };
    let keep = TraceOptions {
        keep_packets: true,
        ..TraceOptions::default()
    };
    let r = sim::run(&spec, &keep).unwrap();
    let seqs: Vec<u32> = r
        .wire
        .iter()
        .filter_map(|p| synack::net::Summary::parse(p).ok())
        .filter(|s| s.len > 0)
        .map(|s| s.seq.get())
        .collect();
    assert!(seqs.iter().any(|q| *q > u32::MAX - 50_000), "{seqs:?}");
    assert!(seqs.iter().any(|q| *q < 200_000), "no wrap: {seqs:?}");
}
