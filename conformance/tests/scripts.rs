//! The scripts in packetdrill's syntax: `corpus/scripts` passes on synack-core, exactly, in
//! virtual time; the packetdrill-style client and server pass with `--lenient-options` and
//! not without; wrong scripts fail where they are wrong, with located messages; and every
//! failure of smoltcp on the folder is one that `known-differences.toml` records.

use std::path::{Path, PathBuf};

use synack::script::{self, Options, Outcome, Summary, Verdict};
use synack::stacks;
use synack_core::Profile;

fn corpus(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../corpus")
        .join(dir)
}

fn play_all(dir: &Path, stack: &str, opts: Options) -> Vec<Outcome> {
    let paths = script::collect(&[dir.to_path_buf()]).expect("the scripts are found");
    let entry = stacks::by_name(stack).expect("a registered stack");
    script::play_all_virtual(&paths, entry, Profile::Rfc9293, opts)
        .expect("readable, and known-differences.toml parses")
}

fn failures(outcomes: &[Outcome]) -> String {
    outcomes
        .iter()
        .filter(|o| !matches!(o.played.verdict, Verdict::Passed) && !o.is_known_difference())
        .map(|o| format!("{}\n  {}", o.line(), o.detail().join("\n  ")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_script_passes_on_synack_core_exactly() {
    let outcomes = play_all(&corpus("scripts"), "core", Options::default());
    assert!(outcomes.len() >= 40, "only {} scripts", outcomes.len());
    let summary = Summary::of(&outcomes);
    assert_eq!(
        (
            summary.failed,
            summary.skipped,
            summary.malformed,
            summary.known
        ),
        (0, 0, 0, 0),
        "{}",
        failures(&outcomes)
    );
}

#[test]
fn the_scripts_take_synack_core_through_every_transition_of_figure_5_but_one() {
    let outcomes = play_all(&corpus("scripts"), "core", Options::default());
    let seen: std::collections::BTreeSet<_> = outcomes
        .iter()
        .flat_map(|o| o.played.transitions.iter().copied())
        .collect();
    let missing: Vec<String> = synack::rfc::figures::figure_5()
        .iter()
        .filter(|a| !seen.contains(&(a.from, a.to)))
        .map(|a| format!("{:?} -> {:?} ({})", a.from, a.to, a.label))
        .collect();
    // A SEND on a listener (LISTEN -> SYN-SENT) has no socket call.
    assert_eq!(missing, ["Listen -> SynSent (SEND / snd SYN)"]);
}

#[test]
fn the_scripts_cover_every_topic() {
    for topic in [
        "handshake",
        "close",
        "rst",
        "data",
        "window",
        "retransmission",
    ] {
        let n = script::collect(&[corpus("scripts").join(topic)])
            .expect("the topic's folder exists")
            .len();
        assert!(n > 0, "no scripts about {topic}");
    }
}

#[test]
fn packetdrill_style_scripts_need_lenient_options_on_synack_core() {
    let lenient = Options {
        lenient_options: true,
        ..Options::default()
    };
    let outcomes = play_all(&corpus("packetdrill-style"), "core", lenient);
    assert_eq!(outcomes.len(), 2);
    assert_eq!(Summary::of(&outcomes).passed, 2, "{}", failures(&outcomes));
    // synack-core offers only its MSS: one option list differs in each, and is counted.
    assert!(outcomes.iter().all(|o| o.played.option_mismatches == 1));
    // Without --lenient-options the kernel's SYN options are not what synack-core sends.
    for o in play_all(&corpus("packetdrill-style"), "core", Options::default()) {
        let Verdict::Failed(f) = &o.played.verdict else {
            panic!("{} passed without --lenient-options", o.path.display());
        };
        assert!(
            f.message.contains("bad outbound TCP options"),
            "{}",
            f.message
        );
    }
}

fn wrong(name: &str) -> Outcome {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/wrong-scripts")
        .join(name);
    script::play_virtual(&path, stacks::core(), Profile::Rfc9293, Options::default())
        .expect("readable")
}

#[test]
fn an_expectation_one_sequence_number_off_fails_at_the_sequence_number() {
    let o = wrong("off-by-one-sequence.pkt");
    let Verdict::Failed(f) = &o.played.verdict else {
        panic!("{}", o.line());
    };
    assert_eq!((f.pos.line, f.pos.col), (20, 11), "{}", o.line());
    assert!(
        f.message
            .contains("live packet field tcp_seq: expected: 2 (0x2) vs actual: 1 (0x1)"),
        "{}",
        f.message
    );
    // The expected line and the actual segment, in the script's notation, with the time.
    assert_eq!(
        f.detail,
        [
            "script packet:  0.300000 +0   > P. 2:202(200) ack 101",
            "actual packet:  0.300000 > P. 1:201(200) ack 101 win 65435",
        ]
    );
}

#[test]
fn a_missing_outbound_line_fails_at_the_next_one() {
    let o = wrong("missing-outbound.pkt");
    let Verdict::Failed(f) = &o.played.verdict else {
        panic!("{}", o.line());
    };
    assert_eq!((f.pos.line, f.pos.col), (19, 8), "{}", o.line());
    assert!(
        f.message.contains("expected: P. vs actual: ."),
        "{}",
        f.message
    );
}

#[test]
fn a_syntax_error_is_located_and_malformed() {
    let o = wrong("syntax-error.pkt");
    let Verdict::Malformed(pos, message) = &o.played.verdict else {
        panic!("{}", o.line());
    };
    assert_eq!((pos.line, pos.col), (12, 1));
    assert!(
        message.contains("the option list opened at 11:24"),
        "{message}"
    );
    assert_eq!(Summary::of(&[o]).exit_code(), 2);
}

#[test]
fn a_segment_no_line_expects_fails_the_script() {
    // The peer's data is acknowledged; the script ends without a line for that ACK.
    let source = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
                  +0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n\
                  +0 < S 0:0(0) win 65535 <mss 1460>\n+0 > S. 0:0(0) ack 1 <mss 1460>\n\
                  +0 < . 1:1(0) ack 1 win 65535\n+0 < P. 1:11(10) ack 1 win 65535\n";
    let played = script::play_source(source, stacks::core(), Profile::Rfc9293, Options::default());
    let Verdict::Failed(f) = &played.verdict else {
        panic!("{:?}", played.verdict);
    };
    assert_eq!(f.pos.line, 7);
    assert!(f.message.contains("no line expects"), "{}", f.message);
}

#[test]
fn a_script_needing_sack_blocks_is_skipped_naming_them() {
    let source = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
                  +0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n\
                  +0 < . 1:1(0) ack 1 win 65535 <nop,nop,sack 1:2>\n";
    let played = script::play_source(source, stacks::core(), Profile::Rfc9293, Options::default());
    assert_eq!(played.verdict, Verdict::Skipped("SACK blocks".into()));
}

#[cfg(feature = "smoltcp")]
#[test]
fn every_failure_of_smoltcp_is_a_recorded_difference() {
    let opts = Options {
        lenient_options: true,
        tolerance: Some(std::time::Duration::from_millis(20)),
    };
    let outcomes = play_all(&corpus("scripts"), "smoltcp", opts);
    let summary = Summary::of(&outcomes);
    assert_eq!(summary.failed, 0, "{}", failures(&outcomes));
    assert!(summary.known > 0);
    // Each difference recorded for smoltcp still shows.
    for o in &outcomes {
        if o.known.is_some() {
            assert!(o.is_known_difference(), "{}", o.line());
        }
    }
}

fn play(source: &str) -> Verdict {
    script::play_source(source, stacks::core(), Profile::Rfc9293, Options::default()).verdict
}

#[test]
fn a_blocking_calls_end_counts_from_the_previous_event_as_its_start_does() {
    // connect starts at 1 s and must return 0.1 s after it, at 1.1 s.
    let source = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
                  +1 fcntl(3, F_GETFL) = 0x2\n\
                  +0...0.1 connect(3, ..., ...) = 0\n\
                  +0 > S 0:0(0) <mss 1460>\n\
                  +0.1 < S. 0:0(0) ack 1 win 65535 <mss 1460>\n\
                  +0 > . 1:1(0) ack 1\n";
    assert_eq!(play(source), Verdict::Passed);
    let late = source.replace("+0...0.1 connect", "+0...0.2 connect");
    let Verdict::Failed(f) = play(&late) else {
        panic!("a call that returns early passed");
    };
    assert!(
        f.message.contains("system call return at 1.200000"),
        "{}",
        f.message
    );
}

#[test]
fn a_second_connect_is_a_new_connection_with_its_own_isn() {
    let source = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
                  +0...0.1 connect(3, ..., ...) = -1 ECONNREFUSED (Connection refused)\n\
                  +0 > S 0:0(0) <mss 1460>\n\
                  +0.1 < R. 0:0(0) ack 1 win 0\n\
                  +0 close(3) = 0\n\
                  +0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
                  +0...0.1 connect(3, ..., ...) = 0\n\
                  +0 > S 0:0(0) <mss 1460>\n\
                  +0.1 < S. 0:0(0) ack 1 win 65535 <mss 1460>\n\
                  +0 > . 1:1(0) ack 1\n";
    assert_eq!(play(source), Verdict::Passed);
}

#[test]
fn a_call_still_blocked_at_the_end_fails_the_script() {
    let source = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
                  +0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n\
                  +0 accept(3, ..., ...) = 4\n";
    let Verdict::Failed(f) = play(source) else {
        panic!("a call that never returned passed");
    };
    assert_eq!(f.pos.line, 4);
}

#[test]
fn deep_values_and_trailing_text_are_malformed_not_a_crash() {
    let deep = format!("0 socket({}1{}) = 3\n", "[".repeat(5000), "]".repeat(5000));
    assert!(matches!(play(&deep), Verdict::Malformed(_, m) if m.contains("nests")));
    let junk = "0 < . 1:1(0) ack 1 wn 100\n";
    assert!(matches!(play(junk), Verdict::Malformed(p, m) if p.col == 20 && m.contains("`wn`")));
    let unsupported = "0 getsockopt(3, SOL_TCP, TCP_INFO, {tcpi_state=7}, [104]) = 0\n";
    assert_eq!(
        play(unsupported),
        Verdict::Skipped("socket option SOL_TCP TCP_INFO".into())
    );
}

#[test]
fn an_option_the_stack_cannot_set_skips_the_script() {
    // synack-core has no Nagle algorithm to turn on.
    let source = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
                  +0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n\
                  +0 < S 0:0(0) win 65535 <mss 1460>\n+0 > S. 0:0(0) ack 1 <mss 1460>\n\
                  +0 < . 1:1(0) ack 1 win 65535\n+0 accept(3, ..., ...) = 4\n\
                  +0 setsockopt(4, IPPROTO_TCP, TCP_NODELAY, [0], 4) = 0\n";
    assert_eq!(
        play(source),
        Verdict::Skipped("TCP_NODELAY, which the stack cannot set".into())
    );
}
