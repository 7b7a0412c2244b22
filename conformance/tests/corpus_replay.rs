//! Replays every committed fuzz input on stable, through the same functions the fuzz targets
//! call: the seed corpus of each target and its saved regressions. Checks, too, that the
//! `endpoint` seed corpus drives a connection through all eleven states.

use std::fs;
use std::path::{Path, PathBuf};

use synack_core::State;

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus")
}

/// The files of one corpus folder, sorted so that failures report in a stable order. Dotfiles
/// (such as `.gitkeep`) are not inputs.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    files
}

/// Runs `body` on every input of `target` (seeds and regressions); returns how many seeds.
fn replay(target: &str, body: impl Fn(&[u8]) + std::panic::RefUnwindSafe) -> usize {
    let seeds = inputs(&corpus_root().join(target));
    let regressions = inputs(&corpus_root().join("regressions").join(target));
    for path in seeds.iter().chain(&regressions) {
        let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if std::panic::catch_unwind(|| body(&data)).is_err() {
            panic!(
                "{} fails target {target}; reproduce with \
                 cargo +nightly fuzz run {target} {}",
                path.display(),
                path.display()
            );
        }
    }
    seeds.len()
}

#[test]
fn wire_corpus_replays() {
    assert!(
        replay("wire", synack::fuzzing::wire) > 0,
        "corpus/wire/ holds no seed inputs"
    );
}

#[test]
fn endpoint_corpus_replays() {
    let seeds = replay("endpoint", |d| {
        synack::fuzzing::endpoint(d);
    });
    assert!(seeds > 0, "corpus/endpoint/ holds no seed inputs");
}

#[test]
fn sim_corpus_replays() {
    let seeds = replay("sim", |d| {
        synack::fuzzing::sim(d);
    });
    assert!(seeds > 0, "corpus/sim/ holds no seed inputs");
}

#[test]
fn parsers_corpus_replays() {
    assert!(
        replay("parsers", synack::fuzzing::parsers) > 0,
        "corpus/parsers/ holds no seed inputs"
    );
}

/// The states no seed of `target` passes through, `body` returning the states of one input.
fn unreached(target: &str, body: fn(&[u8]) -> Vec<State>) -> Vec<State> {
    let mut reached: Vec<State> = Vec::new();
    for path in inputs(&corpus_root().join(target)) {
        let data = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        reached.extend(body(&data));
    }
    State::ALL
        .into_iter()
        .filter(|s| !reached.contains(s))
        .collect()
}

/// The `endpoint` seeds, taken together, pass through every state.
#[test]
fn endpoint_corpus_reaches_every_state() {
    let missing = unreached("endpoint", synack::fuzzing::endpoint);
    assert!(
        missing.is_empty(),
        "corpus/endpoint/ never reaches {missing:?}"
    );
}

/// Tooling, not a check: picks a small set of `endpoint` seeds from a minimized fuzz corpus in
/// `$SYNACK_SEEDS_FROM`: a few inputs that together reach every state, then inputs spread over
/// the sizes, 24 in all, written to corpus/endpoint/.
/// `SYNACK_SEEDS_FROM=/tmp/corpus cargo test --test corpus_replay -- --ignored pick_endpoint_seeds`
#[test]
#[ignore]
fn pick_endpoint_seeds() {
    let Some(from) = std::env::var_os("SYNACK_SEEDS_FROM") else {
        return;
    };
    let mut files = inputs(Path::new(&from));
    files.sort_by_key(|p| fs::metadata(p).map(|m| m.len()).unwrap_or(0));
    let runs: Vec<(PathBuf, Vec<State>)> = files
        .iter()
        .map(|p| {
            (
                p.clone(),
                synack::fuzzing::endpoint(&fs::read(p).unwrap_or_default()),
            )
        })
        .collect();
    let mut chosen: Vec<PathBuf> = Vec::new();
    let mut reached: Vec<State> = Vec::new();
    // Greedy: the input that adds the most unreached states, until none adds any.
    loop {
        let best = runs
            .iter()
            .filter(|(p, _)| !chosen.contains(p))
            .max_by_key(|(_, s)| s.iter().filter(|x| !reached.contains(x)).count());
        let Some((p, states)) = best else { break };
        if states.iter().all(|x| reached.contains(x)) {
            break;
        }
        reached.extend(states.iter().copied());
        chosen.push(p.clone());
    }
    let step = (runs.len() / 24).max(1);
    for (p, _) in runs.iter().step_by(step) {
        if chosen.len() >= 24 {
            break;
        }
        if !chosen.contains(p) {
            chosen.push(p.clone());
        }
    }
    let out = corpus_root().join("endpoint");
    fs::create_dir_all(&out).unwrap();
    for p in &chosen {
        fs::copy(p, out.join(p.file_name().unwrap())).unwrap();
    }
    println!("{} seeds reaching {:?}", chosen.len(), reached);
}

/// The hand-built `endpoint` seeds decode to what they were built from and reach their states;
/// with `SYNACK_WRITE_SEEDS=1` they are (re)written to corpus/endpoint/.
#[test]
fn hand_built_endpoint_seeds_reach_their_states() {
    for (name, input) in synack::fuzzing::endpoint_state_seeds() {
        let bytes = synack::fuzzing::encode_endpoint(&input);
        let states = synack::fuzzing::endpoint(&bytes);
        let want = match name {
            "closed" => State::Closed,
            "listen" => State::Listen,
            "syn-sent" => State::SynSent,
            "syn-received" => State::SynReceived,
            "established" => State::Established,
            "fin-wait-1" => State::FinWait1,
            "fin-wait-2" => State::FinWait2,
            "close-wait" => State::CloseWait,
            "closing" => State::Closing,
            "last-ack" => State::LastAck,
            "time-wait" => State::TimeWait,
            _ => State::SynSent,
        };
        assert!(states.contains(&want), "{name}: reached {states:?}");
        if std::env::var_os("SYNACK_WRITE_SEEDS").is_some() {
            let path = corpus_root().join("endpoint").join(format!("state-{name}"));
            fs::write(&path, &bytes).unwrap();
        }
    }
}

/// The `sim` seeds, taken together, pass through every state; with `SYNACK_WRITE_SEEDS=1` the
/// hand-built ones (one per workload, no faults) are (re)written to corpus/sim/.
#[test]
fn sim_corpus_reaches_every_state() {
    if std::env::var_os("SYNACK_WRITE_SEEDS").is_some() {
        for kind in 0..synack::sim::workload::Kind::ALL.len() as u8 {
            let name = synack::sim::workload::Kind::ALL[usize::from(kind)].name();
            let path = corpus_root().join("sim").join(format!("workload-{name}"));
            fs::write(
                &path,
                synack::fuzzing::encode_sim(u64::from(kind) + 1, kind, false),
            )
            .unwrap();
        }
    }
    let missing = unreached("sim", synack::fuzzing::sim);
    assert!(missing.is_empty(), "corpus/sim/ never reaches {missing:?}");
}

#[test]
fn script_corpus_replays() {
    assert!(
        replay("script", |d| {
            let _ = synack::fuzzing::script(d);
        }) > 0,
        "corpus/script/ holds no seed inputs"
    );
}
