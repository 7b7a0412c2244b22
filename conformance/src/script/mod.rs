//! Scripts in packetdrill's syntax (`.pkt`), played against a stack.
//!
//! This module owns `synack script`: finding the scripts under the paths given
//! ([`collect`]), playing each against a registered stack in virtual time ([`play_virtual`])
//! or against any other [`run::Target`] (the Linux kernel through TUN lives in
//! `crate::interop`), and what a run of many scripts reports: one line per script, the
//! summary, the JSON report and the JUnit file ([`Outcome`], [`Summary`], [`junit_cases`]).
//!
//! - [`syntax`]: the parser, with located errors;
//! - [`calls`]: the system calls a script may make, and errno names;
//! - [`run`]: the runner and its rules (packetdrill's);
//! - [`host`]: a registered stack behind sockets, in virtual time.
//!
//! A script is played on a stack configured as for a run of the simulator with the chosen
//! profile; each script starts from a fresh stack at time 0.

pub mod calls;
pub mod host;
pub mod run;
pub mod syntax;

use std::path::{Path, PathBuf};

use synack_core::{Config, Profile};

use crate::junit;
use crate::stacks::StackEntry;
use crate::Error;
pub use run::{Options, Played, Target, Verdict};

/// The scripts under `paths`: each file as given, and every `.pkt` file under each folder,
/// searched recursively, in path order. A path that does not exist is an error.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::file(dir, e))?;
        let mut paths = Vec::new();
        for entry in entries {
            paths.push(entry.map_err(|e| Error::file(dir, e))?.path());
        }
        paths.sort();
        for p in paths {
            if p.is_dir() {
                walk(&p, out)?;
            } else if p.extension().is_some_and(|e| e == "pkt") {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(Error::file(p, "no such file or folder"));
        }
    }
    Ok(out)
}

/// A script's outcome: where it is and what playing it showed.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The script's path.
    pub path: PathBuf,
    /// What playing it showed.
    pub played: Played,
    /// The known difference of the stack that its failure is, or that was listed for it and
    /// did not show (then it passed or failed elsewhere).
    pub known: Option<Difference>,
}

impl Outcome {
    /// Whether it failed as a known difference of the stack says it does: at the line listed.
    pub fn is_known_difference(&self) -> bool {
        match (&self.played.verdict, &self.known) {
            (Verdict::Failed(f), Some(k)) => f.pos.line == k.line,
            _ => false,
        }
    }
}

/// A script that fails on a stack because the stack departs from an RFC, as a
/// `known-differences.toml` beside the scripts (or in a folder above them) records it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Difference {
    /// The stack (`linux`, `smoltcp`, ...).
    pub stack: String,
    /// The script, relative to the file's folder.
    pub script: String,
    /// The line at which the stack departs; a failure anywhere else is a failure.
    pub line: u32,
    /// The RFC section the stack departs from.
    pub section: String,
    /// What the stack does instead.
    pub summary: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DifferenceFile {
    #[serde(default)]
    difference: Vec<Difference>,
}

/// The name of the file that records known differences.
pub const KNOWN_FILE: &str = "known-differences.toml";

/// The known differences of the scripts at `paths`: each script's nearest
/// `known-differences.toml`, in its folder or one above it.
#[derive(Debug, Default)]
pub struct Known {
    /// Every entry, with the script path it names (as the file's folder joined with it).
    entries: Vec<(PathBuf, Difference)>,
    loaded: Vec<PathBuf>,
}

impl Known {
    /// Reads the files that govern `scripts`. A file that does not parse is an error that
    /// names it; so is an entry naming a script that does not exist.
    pub fn load(scripts: &[PathBuf]) -> Result<Known, Error> {
        let mut known = Known::default();
        for script in scripts {
            let Some(file) = script
                .ancestors()
                .skip(1)
                .map(|d| d.join(KNOWN_FILE))
                .find(|f| f.is_file())
            else {
                continue;
            };
            if known.loaded.contains(&file) {
                continue;
            }
            let text = std::fs::read_to_string(&file).map_err(|e| Error::file(&file, e))?;
            let parsed: DifferenceFile =
                toml::from_str(&text).map_err(|e| Error::parse(file.display().to_string(), e))?;
            let dir = file.parent().unwrap_or(Path::new("."));
            for d in parsed.difference {
                let path = dir.join(&d.script);
                if !path.is_file() {
                    return Err(Error::parse(
                        file.display().to_string(),
                        format!("{}: no such script", d.script),
                    ));
                }
                known.entries.push((path, d));
            }
            known.loaded.push(file);
        }
        Ok(known)
    }

    /// The difference listed for `script` on `stack`, if any.
    pub fn find(&self, stack: &str, script: &Path) -> Option<&Difference> {
        self.entries
            .iter()
            .find(|(p, d)| d.stack == stack && p == script)
            .map(|(_, d)| d)
    }

    /// Notes on `outcome` what is listed for it.
    pub fn apply(&self, stack: &str, outcome: &mut Outcome) {
        outcome.known = self.find(stack, &outcome.path).cloned();
    }

    /// Notes on each outcome what is listed for it.
    pub fn apply_all(&self, stack: &str, outcomes: &mut [Outcome]) {
        for o in outcomes {
            self.apply(stack, o);
        }
    }
}

/// Plays the scripts at `scripts` (files, as [`collect`] gives them) on `entry` in virtual
/// time, each on a fresh stack, with the known differences recorded beside them applied.
pub fn play_all_virtual(
    scripts: &[PathBuf],
    entry: &StackEntry,
    profile: Profile,
    opts: Options,
) -> Result<Vec<Outcome>, Error> {
    let mut outcomes = scripts
        .iter()
        .map(|p| play_virtual(p, entry, profile, opts))
        .collect::<Result<Vec<_>, _>>()?;
    Known::load(scripts)?.apply_all(entry.name, &mut outcomes);
    Ok(outcomes)
}

impl Outcome {
    /// One line: `passed path`, `FAILED path:line:col: message`, `skipped path: needs X`,
    /// `ERROR path:line:col: message` for a malformed script, and `known path:line:col: ...`
    /// (with the difference on a second line) for a failure a known difference explains.
    pub fn line(&self) -> String {
        let p = self.path.display();
        let extra = if self.played.option_mismatches > 0 {
            let n = self.played.option_mismatches;
            format!(
                " ({n} option list{} differed, accepted by --lenient-options)",
                if n == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        };
        if let (true, Some(k), Verdict::Failed(f)) = (
            self.is_known_difference(),
            &self.known,
            &self.played.verdict,
        ) {
            return format!(
                "known   {p}:{}: {}\n        known difference, {}: {}",
                f.pos, f.message, k.section, k.summary
            );
        }
        let unseen = match &self.known {
            Some(k) => format!(
                " (a known difference is listed at line {}, and did not show)",
                k.line
            ),
            None => String::new(),
        };
        match &self.played.verdict {
            Verdict::Passed => format!("passed  {p}{extra}{unseen}"),
            Verdict::Failed(f) => format!("FAILED  {p}:{}: {}{unseen}", f.pos, f.message),
            Verdict::Skipped(why) => format!("skipped {p}: needs {why}"),
            Verdict::Malformed(pos, m) => format!("ERROR   {p}:{pos}: {m}"),
        }
    }

    /// The lines under a failure: the script's line, the actual segment, their times.
    pub fn detail(&self) -> Vec<String> {
        match &self.played.verdict {
            Verdict::Failed(f) => f.detail.clone(),
            _ => Vec::new(),
        }
    }
}

/// A stack's configuration for scripts: the simulator's defaults with `profile`.
pub fn config(profile: Profile) -> Config {
    Config {
        profile,
        record_log: true,
        ..Config::default()
    }
}

/// Parses the script at `path` and plays it on `entry` in virtual time.
pub fn play_virtual(
    path: &Path,
    entry: &StackEntry,
    profile: Profile,
    opts: Options,
) -> Result<Outcome, Error> {
    let source = std::fs::read_to_string(path).map_err(|e| Error::file(path, e))?;
    let played = play_source(&source, entry, profile, opts);
    Ok(Outcome {
        path: path.to_path_buf(),
        played,
        known: None,
    })
}

/// Parses `source` and plays it on `entry` in virtual time.
pub fn play_source(source: &str, entry: &StackEntry, profile: Profile, opts: Options) -> Played {
    match syntax::parse(source) {
        Ok(script) => {
            let mut host = host::VirtualHost::new(entry, config(profile), [0x5c; 16]);
            run::play(&mut host, &script, source, opts)
        }
        Err(e) => malformed(e),
    }
}

/// What a script that does not parse shows.
pub fn malformed(e: syntax::SyntaxError) -> Played {
    Played {
        verdict: Verdict::Malformed(e.pos, e.message),
        notes: Vec::new(),
        option_mismatches: 0,
        events: 0,
        end: std::time::Duration::ZERO,
        transitions: Vec::new(),
    }
}

/// Counts of a run of scripts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Scripts that passed.
    pub passed: usize,
    /// Scripts that failed.
    pub failed: usize,
    /// Scripts skipped for a feature.
    pub skipped: usize,
    /// Scripts that do not parse or make sense.
    pub malformed: usize,
    /// Scripts that failed where a known difference of the stack says they do.
    pub known: usize,
}

impl Summary {
    /// Counts `outcomes`.
    pub fn of(outcomes: &[Outcome]) -> Summary {
        let mut s = Summary::default();
        for o in outcomes {
            match o.played.verdict {
                Verdict::Passed => s.passed += 1,
                Verdict::Failed(_) if o.is_known_difference() => s.known += 1,
                Verdict::Failed(_) => s.failed += 1,
                Verdict::Skipped(_) => s.skipped += 1,
                Verdict::Malformed(..) => s.malformed += 1,
            }
        }
        s
    }

    /// `N passed, N failed, N skipped` (and the known differences and malformed scripts,
    /// when there are any).
    pub fn line(&self) -> String {
        let mut s = format!(
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        );
        if self.known > 0 {
            s.push_str(&format!(", {} known differences", self.known));
        }
        if self.malformed > 0 {
            s.push_str(&format!(", {} malformed", self.malformed));
        }
        s
    }

    /// The exit status: 2 if a script is malformed, 1 if one failed, else 0.
    pub fn exit_code(&self) -> i32 {
        if self.malformed > 0 {
            2
        } else if self.failed > 0 {
            1
        } else {
            0
        }
    }
}

/// The JUnit cases of a run of scripts on `stack`.
pub fn junit_cases(outcomes: &[Outcome], stack: &str) -> Vec<junit::Case> {
    outcomes
        .iter()
        .map(|o| junit::Case {
            name: o.path.display().to_string(),
            classname: format!("script.{stack}"),
            outcome: match &o.played.verdict {
                Verdict::Passed => junit::Outcome::Passed,
                Verdict::Failed(f) if o.is_known_difference() => {
                    let k = o
                        .known
                        .as_ref()
                        .map_or(String::new(), |k| format!("{}: {}", k.section, k.summary));
                    junit::Outcome::Skipped(format!("known difference at line {}: {k}", f.pos.line))
                }
                Verdict::Failed(f) => junit::Outcome::Failed {
                    message: format!("{}:{}: {}", o.path.display(), f.pos, f.message),
                    detail: f.detail.join("\n"),
                },
                Verdict::Skipped(why) => junit::Outcome::Skipped(format!("needs {why}")),
                Verdict::Malformed(pos, m) => {
                    junit::Outcome::Error(format!("{}:{pos}: {m}", o.path.display()))
                }
            },
        })
        .collect()
}

/// The JSON report of a run of scripts.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    /// The stack.
    pub stack: String,
    /// The profile.
    pub profile: String,
    /// The counts.
    pub summary: Summary,
    /// Every script.
    pub scripts: Vec<ScriptReport>,
}

/// One script in the JSON report.
#[derive(Debug, serde::Serialize)]
pub struct ScriptReport {
    /// Its path.
    pub path: String,
    /// `passed`, `failed`, `known difference`, `skipped` or `malformed`.
    pub verdict: &'static str,
    /// `line:col: message` of a failure or malformed script; the feature a skipped one needs.
    pub message: Option<String>,
    /// The lines that show a failure.
    pub detail: Vec<String>,
    /// Lines the runner ignored, with a note each.
    pub notes: Vec<String>,
    /// Option lists accepted under `--lenient-options`.
    pub option_mismatches: u32,
    /// Events played.
    pub events: usize,
    /// The known difference listed for it on this stack.
    pub known_difference: Option<Difference>,
}

impl Report {
    /// The report of `outcomes` on `stack` with `profile`.
    pub fn new(stack: &str, profile: &str, outcomes: &[Outcome]) -> Report {
        Report {
            stack: stack.to_string(),
            profile: profile.to_string(),
            summary: Summary::of(outcomes),
            scripts: outcomes
                .iter()
                .map(|o| {
                    let (verdict, message) = match &o.played.verdict {
                        Verdict::Passed => ("passed", None),
                        Verdict::Failed(f) if o.is_known_difference() => (
                            "known difference",
                            Some(format!("{}: {}", f.pos, f.message)),
                        ),
                        Verdict::Failed(f) => ("failed", Some(format!("{}: {}", f.pos, f.message))),
                        Verdict::Skipped(w) => ("skipped", Some(w.clone())),
                        Verdict::Malformed(p, m) => ("malformed", Some(format!("{p}: {m}"))),
                    };
                    ScriptReport {
                        path: o.path.display().to_string(),
                        verdict,
                        message,
                        detail: o.detail(),
                        notes: o.played.notes.clone(),
                        option_mismatches: o.played.option_mismatches,
                        events: o.played.events,
                        known_difference: o.known.clone(),
                    }
                })
                .collect(),
        }
    }
}
