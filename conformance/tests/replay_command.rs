//! The CLI's central promise: a failure prints the command that reproduces it. For every flag
//! that decides a sweep's runs, a sweep with a planted bug is made to fail, and each failing
//! seed's replay command (as the JSON report carries it, built by the same function that the
//! sweep prints) is run through the `synack` binary: it must fail the same way, with the same
//! trace hash.

use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_synack");

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("synack-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

/// Runs `synack ARGS`, returning (exit code, stdout).
fn synack(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN).args(args).output().expect("run synack");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Sweeps with `flags` and a planted bug; for every failing seed (up to three), replays its
/// command and compares the trace hash and the failure.
fn replays_the_same(name: &str, flags: &[&str]) {
    let report_path = scratch(&format!("{name}.json"));
    let report_arg = report_path.to_string_lossy().into_owned();
    let mut args = vec![
        "sweep",
        "--plant",
        "drop-retransmitted-fin",
        "--report",
        &report_arg,
    ];
    args.extend_from_slice(flags);
    let (code, stdout) = synack(&args);
    assert!(
        code == Some(0) || code == Some(1),
        "{name}: sweep exited {code:?}\n{stdout}"
    );
    let text = std::fs::read_to_string(&report_path).expect("the report");
    let report: serde_json::Value = serde_json::from_str(&text).expect("report is JSON");
    let failing: Vec<&serde_json::Value> = report["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .filter(|o| !o["failure"].is_null())
        .collect();
    assert!(
        !failing.is_empty(),
        "{name}: no seed failed, nothing to replay"
    );
    for o in failing.iter().take(3) {
        let command = o["replay"]
            .as_str()
            .expect("a failing seed carries its replay command");
        let words: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(words.first(), Some(&"synack"), "{command}");
        let (code, stdout) = synack(&words[1..]);
        let hash = stdout
            .lines()
            .find_map(|l| l.strip_prefix("trace "))
            .unwrap_or_else(|| panic!("{name}: `{command}` printed no trace hash:\n{stdout}"));
        assert_eq!(
            Some(hash),
            o["trace_hash"].as_str(),
            "{name}: `{command}` ran another trace"
        );
        let expected = o["expected"].as_str();
        match expected {
            Some(id) => assert!(
                stdout.contains(&format!("failed as expected ({id})")),
                "{name}: `{command}`:\n{stdout}"
            ),
            None => {
                assert_eq!(code, Some(1), "{name}: `{command}` did not fail:\n{stdout}");
                assert!(stdout.contains("FAILED"), "{name}: `{command}`:\n{stdout}");
            }
        }
    }
}

#[test]
fn faults_and_max_bytes() {
    replays_the_same(
        "chaos",
        &[
            "--seeds",
            "0..40",
            "--faults",
            "chaos",
            "--max-bytes",
            "65536",
        ],
    );
}

#[test]
fn other_fault_profiles() {
    replays_the_same(
        "lossy",
        &[
            "--seeds",
            "0..60",
            "--faults",
            "lossy",
            "--max-bytes",
            "65536",
        ],
    );
    replays_the_same(
        "swarm",
        &[
            "--seeds",
            "0..60",
            "--faults",
            "swarm",
            "--max-bytes",
            "65536",
        ],
    );
}

#[test]
fn tcp_profile() {
    replays_the_same(
        "rfc793",
        &[
            "--seeds",
            "0..40",
            "--faults",
            "chaos",
            "--profile",
            "rfc793",
            "--max-bytes",
            "65536",
        ],
    );
}

#[test]
fn workload() {
    replays_the_same(
        "workload",
        &[
            "--seeds",
            "0..40",
            "--faults",
            "chaos",
            "--workload",
            "half-close",
            "--max-bytes",
            "65536",
        ],
    );
}

#[test]
fn transfer() {
    replays_the_same(
        "transfer",
        &[
            "--seeds",
            "0..40",
            "--faults",
            "chaos",
            "--transfer",
            "30000",
        ],
    );
}

#[test]
fn stacks() {
    replays_the_same(
        "stacks",
        &[
            "--seeds",
            "0..40",
            "--faults",
            "chaos",
            "--stacks",
            "smoltcp,core",
            "--max-bytes",
            "65536",
        ],
    );
}

#[test]
fn jobs_shard_and_determinism_check_change_no_run() {
    replays_the_same(
        "shard",
        &[
            "--seeds",
            "0..80",
            "--faults",
            "chaos",
            "--max-bytes",
            "65536",
            "--shard",
            "1/2",
            "--jobs",
            "1",
            "--check-determinism",
        ],
    );
}

#[test]
fn flags_that_cannot_combine_are_refused() {
    let regression = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../corpus/schedules/chaos-rfc9293-seed51-liveness.json"
    );
    for args in [
        &["sweep", "--transfer", "1000", "--workload", "abort"][..],
        &["sweep", "--transfer", "1000", "--max-bytes", "5000"][..],
        &["replay", "--regression", regression, "--faults", "none"][..],
        &[
            "replay",
            "--regression",
            regression,
            "--stacks",
            "smoltcp,core",
        ][..],
        &["table", "--diff", "--format", "dot"][..],
        &["table", "--reference", "--stack", "smoltcp"][..],
        &["sweep", "--seeds", "5..5"][..],
        &["sweep", "--seeds", "0..2", "--shard", "5/7"][..],
        &["sweep", "--seeds", "0..3", "--jobs", "10000"][..],
        &[
            "sweep",
            "--seeds",
            "0..3",
            "--max-bytes",
            "18446744073709551615",
        ][..],
        &["corpus-export", "--max", "0"][..],
        &["sweep", "--seeds", "0..3", "--max-failures", "0"][..],
    ] {
        let (code, out) = synack(args);
        assert_eq!(code, Some(2), "{args:?} exited {code:?}:\n{out}");
    }
}
