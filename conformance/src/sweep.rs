//! Sweeps: many seeds in parallel.
//!
//! This module owns running a range of seeds (optionally one shard of it) on a pool of threads,
//! catching a panic in any run as a failure of that seed, checking determinism by running each
//! seed twice, and the JSON report. Results are gathered in seed order and the report holds no
//! wall-clock figure, so it is the same whatever the number of threads.

use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;
use synack_core::{Instant, State};

use crate::rfc::{figures, Event};

use crate::config::{ConfigRecord, RunConfig};
use crate::sim::oracle::{Failure, Oracle};
use crate::sim::{self, workload::Kind, RunResult, RunSpec};
use crate::stacks::StackFactory;
use crate::trace::TraceOptions;
use crate::Error;

/// What to sweep.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// Seeds, `start..end`.
    pub seeds: Range<u64>,
    /// What decides each seed's run besides the seed; its replay command is the one a
    /// failure prints.
    pub run: RunConfig,
    /// Threads.
    pub jobs: usize,
    /// Run only seeds `s` with `s % n == k`.
    pub shard: Option<(u64, u64)>,
    /// Run every seed twice and compare trace hashes.
    pub check_determinism: bool,
    /// Stop after this many failures (not counting those a known difference explains): the
    /// report then holds the seeds in order up to the last of them, whatever the threads.
    pub max_failures: Option<usize>,
}

/// The most seeds one sweep runs (its outcomes are kept in memory); a larger sweep runs as
/// shards.
pub const MAX_SEEDS: u64 = 10_000_000;

/// The most threads a sweep starts.
pub const MAX_JOBS: usize = 1024;

/// The version of the report's layout; it changes when a field changes meaning or goes.
pub const REPORT_SCHEMA: u32 = 2;

impl SweepOptions {
    /// Checks the options against their bounds before anything runs: at least one seed to
    /// run after sharding, 1 to [`MAX_JOBS`] threads, and the run's own bounds.
    pub fn validate(&self) -> Result<(), Error> {
        self.run.validate()?;
        if self.max_failures == Some(0) {
            return Err(Error::parse(
                "--max-failures",
                "0 would stop before the first seed: expected at least 1",
            ));
        }
        if !(1..=MAX_JOBS).contains(&self.jobs) {
            return Err(Error::parse(
                "--jobs",
                format!("{} is out of bounds: expected 1 to {MAX_JOBS}", self.jobs),
            ));
        }
        if self.seeds.end.saturating_sub(self.seeds.start) > MAX_SEEDS {
            return Err(Error::parse(
                "--seeds",
                format!(
                    "{}..{} holds {} seeds: expected at most {MAX_SEEDS} (run larger sweeps as shards)",
                    self.seeds.start,
                    self.seeds.end,
                    self.seeds.end.saturating_sub(self.seeds.start)
                ),
            ));
        }
        if seed_iter(self).next().is_none() {
            let (place, why) = match self.shard {
                Some((k, n)) if !self.seeds.is_empty() => (
                    "--shard",
                    format!(
                        "shard {k}/{n} of seeds {}..{} holds no seed",
                        self.seeds.start, self.seeds.end
                    ),
                ),
                _ => (
                    "--seeds",
                    format!(
                        "{}..{} holds no seed: END must be after START",
                        self.seeds.start, self.seeds.end
                    ),
                ),
            };
            return Err(Error::parse(
                place,
                format!("{why}; a sweep of no seeds tests nothing"),
            ));
        }
        Ok(())
    }
}

/// One seed's outcome, as the report keeps it.
#[derive(Clone, Debug, Serialize)]
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// The workload it drew.
    pub workload: Option<Kind>,
    /// Trace hash.
    pub trace_hash: String,
    /// Packets sent.
    pub packets: u64,
    /// Faulty packets.
    pub faults: usize,
    /// Virtual end time, nanoseconds.
    pub end_ns: u64,
    /// The failure, if the seed failed.
    pub failure: Option<Failure>,
    /// Known differences from the RFCs the stacks showed (see `stacks::known`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub known: Vec<&'static str>,
    /// The known difference that explains the failure: the seed failed as expected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<&'static str>,
    /// The command that replays this seed, for a seed that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
    /// State changes seen, for the coverage report.
    #[serde(skip)]
    pub transitions: BTreeMap<(State, State), u64>,
    /// Reference-table cells exercised, for the coverage report.
    #[serde(skip)]
    pub cells: BTreeMap<(State, Event), u64>,
    /// Segments each wire requirement was checked on, for the report.
    #[serde(skip)]
    pub requirement_checks: BTreeMap<&'static str, u64>,
}

impl SeedOutcome {
    /// Failed, and no known difference explains it.
    pub fn unexplained(&self) -> bool {
        self.failure.is_some() && self.expected.is_none()
    }
}

/// A sweep's report.
#[derive(Clone, Debug, Serialize)]
pub struct SweepReport {
    /// The version of this layout ([`REPORT_SCHEMA`]).
    pub schema: u32,
    /// `start..end`.
    pub seeds: String,
    /// Everything besides the seed that decided each run.
    pub config: ConfigRecord,
    /// Whether every seed ran twice, its traces compared.
    pub check_determinism: bool,
    /// The failure limit (`--max-failures`), if any.
    pub max_failures: Option<usize>,
    /// The sweep reached its failure limit before its last seed: `runs` counts the seeds up to
    /// the limit-th failure.
    pub stopped_early: bool,
    /// Fault profile.
    pub faults: String,
    /// TCP profile.
    pub profile: String,
    /// The shard, `k/n`, if any.
    pub shard: Option<String>,
    /// Seeds run.
    pub runs: usize,
    /// Seeds that passed.
    pub passed: usize,
    /// Seeds that failed, not explained by a known difference.
    pub failed: usize,
    /// Seeds that failed because of a known difference of a stack under test, by difference.
    pub expected: BTreeMap<&'static str, usize>,
    /// Packets sent in all runs.
    pub packets: u64,
    /// Which transitions and reference-table cells the sweep exercised, and how often.
    pub coverage: Coverage,
    /// How many segments each wire requirement was checked on, over every seed.
    pub requirement_checks: BTreeMap<&'static str, u64>,
    /// Every seed, in order.
    pub outcomes: Vec<SeedOutcome>,
}

/// What a sweep exercised.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Coverage {
    /// Figure 5 transitions (`FROM -> TO`) with how often each happened; 0 for never.
    pub figure_5: BTreeMap<String, u64>,
    /// Figure 6 transitions never exercised.
    pub figure_6_never: Vec<String>,
    /// Figure 5 transitions never exercised.
    pub figure_5_never: Vec<String>,
    /// Every state change seen, with how often.
    pub transitions: BTreeMap<String, u64>,
    /// Reference-table cells (`STATE / EVENT`) exercised, with how often.
    pub cells: BTreeMap<String, u64>,
    /// Cells of the table (11 states by 25 events) the sweep exercised.
    pub cells_exercised: usize,
}

fn coverage(outcomes: &[SeedOutcome]) -> Coverage {
    let mut transitions: BTreeMap<(State, State), u64> = BTreeMap::new();
    let mut cells: BTreeMap<(State, Event), u64> = BTreeMap::new();
    for o in outcomes {
        for (k, n) in &o.transitions {
            *transitions.entry(*k).or_insert(0) += n;
        }
        for (k, n) in &o.cells {
            *cells.entry(*k).or_insert(0) += n;
        }
    }
    let name = |(f, t): (State, State)| format!("{f} -> {t}");
    let figure_5: BTreeMap<String, u64> = figures::figure_5()
        .iter()
        .map(|a| {
            (
                name((a.from, a.to)),
                transitions.get(&(a.from, a.to)).copied().unwrap_or(0),
            )
        })
        .collect();
    let never = |arrows: &[figures::Arrow]| -> Vec<String> {
        arrows
            .iter()
            .filter(|a| !transitions.contains_key(&(a.from, a.to)))
            .map(|a| format!("{} -> {} ({})", a.from, a.to, a.label))
            .collect()
    };
    Coverage {
        figure_6_never: never(&figures::FIGURE_6),
        figure_5_never: never(&figures::figure_5()),
        figure_5,
        transitions: transitions.iter().map(|(k, n)| (name(*k), *n)).collect(),
        cells_exercised: cells.len(),
        cells: cells
            .iter()
            .map(|((s, e), n)| (format!("{s} / {e}"), *n))
            .collect(),
    }
}

impl SweepReport {
    /// The seeds that failed, not explained by a known difference.
    pub fn failures(&self) -> impl Iterator<Item = &SeedOutcome> {
        self.outcomes.iter().filter(|o| o.unexplained())
    }

    /// The failures grouped by oracle and requirement, in the oracles' order, each group's
    /// seeds in order.
    pub fn failure_groups(&self) -> Vec<(String, Vec<&SeedOutcome>)> {
        let mut groups: BTreeMap<(Oracle, Option<&str>), Vec<&SeedOutcome>> = BTreeMap::new();
        for o in self.failures() {
            if let Some(f) = &o.failure {
                groups.entry((f.oracle, f.requirement)).or_default().push(o);
            }
        }
        groups
            .into_iter()
            .map(|((oracle, requirement), seeds)| match requirement {
                Some(r) => (format!("{oracle} {r}"), seeds),
                None => (oracle.to_string(), seeds),
            })
            .collect()
    }
}

impl Coverage {
    /// The state diagram of `profile` as this sweep covered it: its name, how many
    /// transitions it has, and those never exercised. RFC 9293 Figure 5 adds SYN-RECEIVED to
    /// LISTEN on a RST (its note 1) to RFC 793 Figure 6.
    pub fn diagram(&self, profile: synack_core::Profile) -> (&'static str, usize, &[String]) {
        match profile {
            synack_core::Profile::Rfc793 => (
                "RFC 793 Figure 6",
                figures::FIGURE_6.len(),
                &self.figure_6_never,
            ),
            _ => (
                "RFC 9293 Figure 5",
                figures::figure_5().len(),
                &self.figure_5_never,
            ),
        }
    }
}

/// Runs one seed, turning a panic into a failure.
pub fn run_caught(spec: &RunSpec, factory: StackFactory<'_>) -> SeedOutcome {
    let result = catch_unwind(AssertUnwindSafe(|| {
        sim::run_with(spec, &TraceOptions::default(), factory)
    }));
    match result {
        Ok(Ok(r)) => outcome(&r),
        Ok(Err(e)) => failed(
            spec.seed,
            Oracle::Panic,
            format!("run could not start: {e}"),
        ),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic with a non-string payload".to_string());
            failed(spec.seed, Oracle::Panic, message)
        }
    }
}

fn outcome(r: &RunResult) -> SeedOutcome {
    SeedOutcome {
        seed: r.seed,
        workload: Some(r.workload),
        trace_hash: r.trace_hash.clone(),
        packets: r.packets,
        faults: r.faults,
        end_ns: r.end_ns,
        failure: r.failure.clone(),
        known: r.known.clone(),
        expected: r.expected,
        replay: None,
        transitions: r.transitions.clone(),
        cells: r.cells.clone(),
        requirement_checks: r.requirement_checks.clone(),
    }
}

fn failed(seed: u64, oracle: Oracle, message: String) -> SeedOutcome {
    SeedOutcome {
        seed,
        workload: None,
        trace_hash: String::new(),
        packets: 0,
        faults: 0,
        end_ns: 0,
        failure: Some(Failure {
            oracle,
            at_ns: Instant::ZERO.as_nanos(),
            connection: None,
            requirement: None,
            message,
        }),
        known: Vec::new(),
        expected: None,
        replay: None,
        transitions: BTreeMap::new(),
        cells: BTreeMap::new(),
        requirement_checks: BTreeMap::new(),
    }
}

/// The seeds of a sweep, after sharding, in order.
pub fn seed_iter(opts: &SweepOptions) -> impl Iterator<Item = u64> + '_ {
    opts.seeds
        .clone()
        .filter(|s| opts.shard.is_none_or(|(k, n)| n > 0 && s % n == k))
}

/// The seeds of a sweep, after sharding.
pub fn seeds(opts: &SweepOptions) -> Vec<u64> {
    seed_iter(opts).collect()
}

/// Runs the sweep. `progress` is called (from any thread) after each seed with the number done
/// and the outcome.
pub fn sweep(
    opts: &SweepOptions,
    factory: StackFactory<'_>,
    progress: &(dyn Fn(usize, &SeedOutcome) + Sync),
) -> Result<SweepReport, Error> {
    opts.validate()?;
    let seeds = seeds(opts);
    // More threads than seeds would only wait.
    let threads = opts.jobs.clamp(1, seeds.len().max(1));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::cannot_run(format!("cannot start {} threads: {e}", opts.jobs)))?;
    let done = AtomicUsize::new(0);
    let run_seed = |seed: u64| {
        let spec = opts.run.spec(seed);
        let mut o = run_caught(&spec, factory);
        if opts.check_determinism && o.failure.is_none() {
            let again = run_caught(&spec, factory);
            if again.trace_hash != o.trace_hash || again.failure.is_some() {
                o.failure = Some(Failure {
                    oracle: Oracle::Determinism,
                    at_ns: 0,
                    connection: None,
                    requirement: None,
                    message: format!(
                        "not deterministic: trace {} then {}",
                        o.trace_hash, again.trace_hash
                    ),
                });
            }
        }
        if o.failure.is_some() {
            o.replay = Some(spec.replay_command());
        }
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        progress(n, &o);
        o
    };
    // Without a failure limit the seeds run as one batch. With one, they run in batches in
    // seed order, and the outcomes are cut after the limit-th failure in seed order, so that
    // the report does not depend on which thread finished first.
    let batch = match opts.max_failures {
        None => seeds.len().max(1),
        Some(_) => (threads * 16).max(64),
    };
    let mut outcomes: Vec<SeedOutcome> = Vec::with_capacity(seeds.len());
    let mut stopped_early = false;
    for chunk in seeds.chunks(batch) {
        let done_here: Vec<SeedOutcome> =
            pool.install(|| chunk.par_iter().map(|&seed| run_seed(seed)).collect());
        outcomes.extend(done_here);
        if let Some(limit) = opts.max_failures {
            let mut failures = 0;
            if let Some(cut) = outcomes.iter().position(|o| {
                failures += usize::from(o.unexplained());
                failures >= limit
            }) {
                stopped_early = cut + 1 < seeds.len();
                outcomes.truncate(cut + 1);
                break;
            }
        }
    }
    let failed = outcomes.iter().filter(|o| o.unexplained()).count();
    let mut expected = BTreeMap::new();
    for id in outcomes.iter().filter_map(|o| o.expected) {
        *expected.entry(id).or_insert(0) += 1;
    }
    let explained: usize = expected.values().sum();
    Ok(SweepReport {
        schema: REPORT_SCHEMA,
        seeds: format!("{}..{}", opts.seeds.start, opts.seeds.end),
        config: opts.run.record(),
        check_determinism: opts.check_determinism,
        max_failures: opts.max_failures,
        stopped_early,
        faults: opts.run.faults.name().to_string(),
        profile: opts.run.profile.name().to_string(),
        shard: opts.shard.map(|(k, n)| format!("{k}/{n}")),
        runs: outcomes.len(),
        passed: outcomes.len() - failed - explained,
        failed,
        expected,
        packets: outcomes.iter().map(|o| o.packets).sum(),
        coverage: coverage(&outcomes),
        requirement_checks: {
            let mut all = BTreeMap::new();
            for o in &outcomes {
                for (r, n) in &o.requirement_checks {
                    *all.entry(*r).or_insert(0) += n;
                }
            }
            all
        },
        outcomes,
    })
}

/// Parses `START..END` (the `--seeds` argument).
pub fn parse_range(s: &str) -> Result<Range<u64>, String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("{s:?}: expected START..END"))?;
    let a: u64 = a.parse().map_err(|e| format!("{s:?}: start: {e}"))?;
    let b: u64 = b.parse().map_err(|e| format!("{s:?}: end: {e}"))?;
    if a > b {
        return Err(format!("{s:?}: start is after end"));
    }
    Ok(a..b)
}

/// Parses `K/N` (the `--shard` argument).
pub fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let (k, n) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?}: expected K/N"))?;
    let k: u64 = k.parse().map_err(|e| format!("{s:?}: K: {e}"))?;
    let n: u64 = n.parse().map_err(|e| format!("{s:?}: N: {e}"))?;
    if n == 0 || k >= n {
        return Err(format!("{s:?}: need 0 <= K < N"));
    }
    Ok((k, n))
}

/// The JUnit cases of a sweep: one per seed, named `seed N`, in the class
/// `sweep.CLIENT,SERVER.FAULTS`. A failure carries its replay command; a failure that a known
/// difference explains is a skipped case naming it.
pub fn junit_cases(report: &SweepReport) -> Vec<crate::junit::Case> {
    use crate::junit::{Case, Outcome};
    let classname = format!("sweep.{}.{}", report.config.stacks, report.faults);
    report
        .outcomes
        .iter()
        .map(|o| Case {
            name: format!("seed {}", o.seed),
            classname: classname.clone(),
            outcome: match (&o.failure, o.expected) {
                (None, _) => Outcome::Passed,
                (Some(_), Some(id)) => Outcome::Skipped(format!("known difference {id}")),
                (Some(f), None) => Outcome::Failed {
                    message: f.to_string(),
                    detail: o.replay.clone().unwrap_or_default(),
                },
            },
        })
        .collect()
}

/// Merges the JSON reports of a sweep's shards (`synack sweep --shard K/N --report FILE`, one
/// per shard) into the report of the whole sweep, as `synack report merge` does. The shards
/// must come from the same sweep (schema, seeds, configuration, determinism check, failure
/// limit) and be distinct shards of it; counts and coverage add up, the outcomes are put in
/// seed order, and the transitions never exercised are those no shard exercised. A report
/// that does not fit is an error naming its file.
pub fn merge_reports(reports: &[(String, serde_json::Value)]) -> Result<serde_json::Value, Error> {
    use serde_json::{json, Map, Value};
    let Some((_, first)) = reports.first() else {
        return Err(Error::parse("report merge", "no reports to merge"));
    };
    let same = [
        "schema",
        "seeds",
        "config",
        "check_determinism",
        "max_failures",
        "faults",
        "profile",
    ];
    let mut shards: Vec<String> = Vec::new();
    for (name, r) in reports {
        if r.get("schema").and_then(Value::as_u64) != Some(u64::from(REPORT_SCHEMA)) {
            return Err(Error::parse(
                name.clone(),
                format!("not a sweep report of schema {REPORT_SCHEMA}"),
            ));
        }
        for field in same {
            if r.get(field) != first.get(field) {
                return Err(Error::parse(
                    name.clone(),
                    format!("field {field} differs from the first report's: not a shard of the same sweep"),
                ));
            }
        }
        let shard = r
            .get("shard")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::parse(name.clone(), "not a shard (no field shard)"))?;
        if shards.iter().any(|s| s == shard) {
            return Err(Error::parse(
                name.clone(),
                format!("shard {shard} appears twice"),
            ));
        }
        shards.push(shard.to_string());
    }
    let count = |field: &str| -> u64 {
        reports
            .iter()
            .filter_map(|(_, r)| r.get(field).and_then(Value::as_u64))
            .sum()
    };
    let sum_maps = |path: &[&str]| -> Map<String, Value> {
        let mut out: BTreeMap<String, u64> = BTreeMap::new();
        for (_, r) in reports {
            let mut v = r;
            for p in path {
                v = v.get(*p).unwrap_or(&Value::Null);
            }
            if let Some(m) = v.as_object() {
                for (k, n) in m {
                    *out.entry(k.clone()).or_insert(0) += n.as_u64().unwrap_or(0);
                }
            }
        }
        out.into_iter().map(|(k, n)| (k, json!(n))).collect()
    };
    let mut outcomes: Vec<Value> = reports
        .iter()
        .filter_map(|(_, r)| r.get("outcomes").and_then(Value::as_array))
        .flatten()
        .cloned()
        .collect();
    outcomes.sort_by_key(|o| o.get("seed").and_then(Value::as_u64).unwrap_or(u64::MAX));
    let transitions = sum_maps(&["coverage", "transitions"]);
    let cells = sum_maps(&["coverage", "cells"]);
    let exercised = |a: &figures::Arrow| {
        transitions
            .get(&format!("{} -> {}", a.from, a.to))
            .and_then(Value::as_u64)
            .is_some_and(|n| n > 0)
    };
    let never = |arrows: &[figures::Arrow]| -> Vec<String> {
        arrows
            .iter()
            .filter(|a| !exercised(a))
            .map(|a| format!("{} -> {} ({})", a.from, a.to, a.label))
            .collect()
    };
    let coverage = json!({
        "figure_5": sum_maps(&["coverage", "figure_5"]),
        "figure_6_never": never(&figures::FIGURE_6),
        "figure_5_never": never(&figures::figure_5()),
        "transitions": transitions,
        "cells": cells,
        "cells_exercised": cells.len(),
    });
    let mut merged = first.clone();
    let obj = merged
        .as_object_mut()
        .ok_or_else(|| Error::parse(reports[0].0.clone(), "not a JSON object"))?;
    shards.sort();
    obj.insert(
        "shard".into(),
        json!(format!("merged: {}", shards.join(" "))),
    );
    obj.insert(
        "stopped_early".into(),
        json!(reports
            .iter()
            .any(|(_, r)| r.get("stopped_early") == Some(&json!(true)))),
    );
    for field in ["runs", "passed", "failed", "packets"] {
        obj.insert(field.into(), json!(count(field)));
    }
    obj.insert("expected".into(), Value::Object(sum_maps(&["expected"])));
    obj.insert(
        "requirement_checks".into(),
        Value::Object(sum_maps(&["requirement_checks"])),
    );
    obj.insert("coverage".into(), coverage);
    obj.insert("outcomes".into(), Value::Array(outcomes));
    Ok(merged)
}
