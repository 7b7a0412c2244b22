//! Sharded sweeps merge into the whole sweep: the merged report of three shards is the
//! unsharded report, field for field, but for the shard it names.

use synack::config::RunConfig;
use synack::sweep::{self, SweepOptions};

fn report(shard: Option<(u64, u64)>) -> serde_json::Value {
    let opts = SweepOptions {
        seeds: 0..60,
        run: RunConfig::default(),
        jobs: 2,
        shard,
        check_determinism: false,
        max_failures: None,
    };
    let r = sweep::sweep(&opts, &opts.run.factory(), &|_, _| {}).expect("the sweep runs");
    serde_json::to_value(&r).expect("the report serializes")
}

#[test]
fn three_shards_merge_into_the_whole_sweep() {
    let whole = report(None);
    let shards: Vec<(String, serde_json::Value)> = (0..3)
        .map(|k| (format!("shard {k}"), report(Some((k, 3)))))
        .collect();
    let mut merged = sweep::merge_reports(&shards).expect("the shards merge");
    assert_eq!(merged["shard"], "merged: 0/3 1/3 2/3");
    merged["shard"] = serde_json::Value::Null;
    assert_eq!(merged, whole);
}

#[test]
fn reports_of_different_sweeps_or_the_same_shard_twice_do_not_merge() {
    let a = report(Some((0, 2)));
    let e = sweep::merge_reports(&[("a".into(), a.clone()), ("b".into(), a.clone())])
        .expect_err("the same shard twice");
    assert!(e.to_string().contains("shard 0/2 appears twice"), "{e}");
    let mut other = report(Some((1, 2)));
    other["profile"] = "rfc793".into();
    let e = sweep::merge_reports(&[("a".into(), a), ("other".into(), other)])
        .expect_err("another sweep's shard");
    assert!(
        e.to_string().starts_with("other: field profile differs"),
        "{e}"
    );
}
