//! The library's builder, as a user's test drives it: a sweep that passes, a planted bug that
//! fails with its oracle, its requirement and the command that replays it, replay, the table
//! and the scripts.

use std::path::Path;

use synack::net::faults::Profile as Faults;
use synack::stacks::planted::Bug;
use synack::stacks::{self, StackEntry};
use synack::Harness;

/// A stack of the user's own, as a `static`: here synack-core under another name.
static MINE: StackEntry = StackEntry {
    name: "mine",
    title: "my stack",
    description: "synack-core, registered as a user's stack would be",
    factory: stacks::core::core_stack,
    table_factory: None,
    ours: false,
};

#[test]
fn a_users_stack_sweeps_and_passes() {
    let sweep = Harness::new(&MINE)
        .against(stacks::core())
        .faults(Faults::Swarm)
        .seeds(0..40)
        .run()
        .expect("the sweep runs");
    sweep.assert_passed();
    assert_eq!(sweep.report.passed, 40);
    assert_eq!(sweep.report.config.stacks, "mine,core");
}

#[test]
fn a_planted_bug_fails_with_its_requirement_and_replay_command() {
    let sweep = Harness::new(&MINE)
        .plant(Bug::ShortTimeWait)
        .seeds(0..20)
        .command("cargo run --example mine --")
        .run()
        .expect("the sweep runs");
    assert!(sweep.failures().count() > 0);
    let panic = std::panic::catch_unwind(|| sweep.assert_passed()).expect_err("it must fail");
    let message = panic.downcast_ref::<String>().expect("a formatted message");
    assert!(message.contains("MUST-13"), "{message}");
    assert!(
        message.contains("replay: cargo run --example mine -- replay --seed"),
        "{message}"
    );
    assert!(
        message.contains("--stacks mine,mine --plant short-time-wait"),
        "{message}"
    );
    // The seed replays the same way through the builder.
    let first = sweep.failures().next().expect("a failure");
    let again = Harness::new(&MINE)
        .plant(Bug::ShortTimeWait)
        .replay(first.seed)
        .expect("the seed runs");
    assert_eq!(
        again.failure.map(|f| f.to_string()),
        first.failure.as_ref().map(|f| f.to_string())
    );
    // And shrinks to the fewest fault decisions that still break MUST-13.
    let shrunk = Harness::new(&MINE)
        .plant(Bug::ShortTimeWait)
        .shrink(first.seed)
        .expect("a failing seed shrinks");
    assert!(shrunk.schedule.len() <= shrunk.original);
    assert_eq!(shrunk.failure.requirement, Some("MUST-13"));
}

#[test]
fn the_table_and_the_scripts_run_through_the_builder() {
    let comparison = Harness::new(stacks::core())
        .table()
        .expect("the reference parses");
    assert!(comparison.passes());
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/scripts/handshake");
    let outcomes = Harness::new(&MINE)
        .scripts(&[scripts], synack::script::Options::default())
        .expect("the scripts are read");
    assert!(!outcomes.is_empty());
    assert!(outcomes
        .iter()
        .all(|o| o.played.verdict == synack::script::Verdict::Passed));
}
