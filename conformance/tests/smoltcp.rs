//! smoltcp in the simulator, against synack-core and against itself.
#![cfg(feature = "smoltcp")]

use synack::net::faults::Profile as Faults;
use synack::sim::workload::Kind;
use synack::sim::{self, RunSpec};
use synack::stacks::smoltcp::smol_stack;
use synack::stacks::TcpStack;
use synack::trace::TraceOptions;
use synack_core::Config;

fn pair(
    client_smol: bool,
    server_smol: bool,
) -> impl Fn(usize, Config, [u8; 16]) -> Box<dyn TcpStack> {
    move |host, config, key| {
        let smol = if host == 0 { client_smol } else { server_smol };
        if smol {
            smol_stack(host, config, key)
        } else {
            synack::stacks::core::core_stack(host, config, key)
        }
    }
}

#[test]
fn bulk_transfers_between_core_and_smoltcp() {
    let mut passed = 0;
    for (c, s) in [(true, false), (false, true), (true, true)] {
        for seed in 0..6 {
            for faults in [Faults::None, Faults::Lossy] {
                let spec = RunSpec {
                    workload: Some(Kind::Bulk),
                    max_bytes: 100_000,
                    ..RunSpec::new(seed, faults)
                };
                let r = sim::run_with(&spec, &TraceOptions::default(), &pair(c, s)).unwrap();
                let what = format!("client smoltcp {c}, server smoltcp {s}, seed {seed}, {faults}");
                match (&r.failure, r.expected) {
                    (None, _) => passed += 1,
                    // Under loss, smoltcp's stopped retransmission timer can hang a close, and
                    // its second retransmission comes too soon; those are known differences of
                    // smoltcp's, and only under loss.
                    (Some(_), Some(id)) if faults == Faults::Lossy => assert!(
                        [
                            "smoltcp-retransmission-timer-stopped",
                            "smoltcp-rto-backoff"
                        ]
                        .contains(&id),
                        "{what}: {id}"
                    ),
                    (Some(f), _) => panic!("{what}: {f}"),
                }
            }
        }
    }
    assert!(passed >= 33, "only {passed} of 36 transfers passed");
}

fn run(seed: u64, client_smol: bool, server_smol: bool) -> sim::RunResult {
    let spec = RunSpec::new(seed, Faults::Chaos);
    sim::run_with(
        &spec,
        &TraceOptions::default(),
        &pair(client_smol, server_smol),
    )
    .unwrap()
}

#[test]
fn a_fin_on_the_syn_sequence_number_is_recognised_and_explains_the_hang() {
    // Seed 204 draws an early close; smoltcp (A) sends its FIN at SEQ = ISS and hangs in
    // FIN-WAIT-2 while synack-core waits for that FIN.
    let r = run(204, true, false);
    let failure = r.failure.as_ref().expect("the run hangs");
    assert!(failure.message.contains("A in FIN-WAIT-2"), "{failure}");
    // (The run also shows other differences on the way, the backoff its timeouts drop.)
    assert!(
        r.known.contains(&"smoltcp-fin-on-syn-sequence"),
        "{:?}",
        r.known
    );
    assert_eq!(r.expected, Some("smoltcp-fin-on-syn-sequence"));
}

#[test]
fn a_stopped_retransmission_timer_is_recognised_and_explains_the_hang() {
    // Seed 221: smoltcp's FIN is lost, the peer's FIN takes it to CLOSING, and it has no timer
    // left to retransmit the FIN with.
    let r = run(221, true, false);
    let failure = r.failure.as_ref().expect("the run hangs");
    assert!(failure.message.contains("A in CLOSING"), "{failure}");
    assert_eq!(r.expected, Some("smoltcp-retransmission-timer-stopped"));
}

#[test]
fn a_go_back_n_storm_ends_the_run_and_is_explained() {
    // Swarm seed 285267: smoltcp (A) sends its whole window again at every third duplicate
    // ACK, synack-core acknowledges each copy at once, and duplicates in the network multiply
    // the segments. Without the bound on copies in flight the run fills memory.
    let spec = RunSpec::new(285_267, Faults::Swarm);
    let r = sim::run_with(&spec, &TraceOptions::default(), &pair(true, false)).unwrap();
    let failure = r.failure.as_ref().expect("the storm ends the run");
    assert_eq!(failure.oracle, synack::sim::oracle::Oracle::Liveness);
    assert!(failure.message.contains("a packet storm"), "{failure}");
    assert_eq!(r.expected, Some("smoltcp-fast-retransmit-goes-back-n"));
}

#[test]
fn synack_core_reports_no_known_difference() {
    for seed in [204, 221] {
        let r = run(seed, false, false);
        assert!(r.known.is_empty(), "seed {seed}: {:?}", r.known);
        assert_eq!(r.failure.map(|f| f.to_string()), None, "seed {seed}");
    }
}

#[test]
fn every_pairing_passes_a_chaos_sweep_but_for_known_differences() {
    // CI sweeps 1,000 seeds of each mixed pairing in release; this is the quick version, with
    // transfers up to 256 KiB so that a debug build runs it in seconds.
    for (c, s) in [(true, false), (false, true), (true, true)] {
        for seed in 0..40 {
            let spec = RunSpec {
                max_bytes: 256 << 10,
                ..RunSpec::new(seed, Faults::Chaos)
            };
            let r = sim::run_with(&spec, &TraceOptions::default(), &pair(c, s)).unwrap();
            if let Some(f) = &r.failure {
                assert!(
                    r.expected.is_some(),
                    "client smoltcp {c}, server smoltcp {s}, seed {seed}: {f} (known: {:?})",
                    r.known
                );
            }
        }
    }
}

#[test]
fn smoltcp_table_against_rfc9293() {
    // smoltcp's differences from the RFC 9293 reference are findings about smoltcp, kept for
    // review; the harness's own vocabulary ("connection refused") is shared with synack-core.
    use synack::rfc::{self, deviations, generate, Event};
    use synack_core::{Profile, State};
    let reference = rfc::reference(Profile::Rfc9293).unwrap();
    let generated = generate::generate_smoltcp(Profile::Rfc9293);
    assert!(
        generated.unreachable.is_empty(),
        "{:?}",
        generated.unreachable
    );
    let c = rfc::compare(
        &reference,
        &generated,
        &deviations::vocabulary(Profile::Rfc9293),
    );
    insta::assert_snapshot!("comparison_smoltcp_rfc9293", rfc::render_comparison(&c));
    // The stopped retransmission timer shows in the table too: in CLOSING nothing is resent.
    let closing = &generated.cells[&(State::Closing, Event::RetransmissionTimeout)];
    assert!(closing.sends.is_empty(), "{:?}", closing.sends);
}
