//! Replays every committed fuzz input on stable, through the same functions the fuzz targets
//! call: the seed corpus of each target and its saved regressions.

use std::fs;
use std::path::{Path, PathBuf};

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

/// Runs `body` on every input of `target`; returns how many seed inputs there were.
fn replay(target: &str, body: fn(&[u8])) -> usize {
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
    let seeds = replay("wire", synack::fuzzing::wire);
    assert!(seeds > 0, "corpus/wire/ holds no seed inputs");
}
