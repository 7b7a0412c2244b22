//! The `synack` command line: parses arguments, calls the library, prints, and picks the exit
//! status; it owns no knowledge of its own.
//!
//! [`main`] is the `synack` binary. [`main_with`] is the same command line with more stacks
//! registered beside this build's: a user's own `main.rs` (or a `[[test]] harness = false`
//! target) gets every command (`sweep`, `replay`, `shrink`, `table`, `script`, `bench`, ...)
//! for their stack by name, e.g. `--stacks mine,core`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant as WallClock;

use clap::{Args, Parser, Subcommand};

use crate::config::RunConfig;
use crate::net::faults::Profile as Faults;
use crate::shrink::{self, parse_profile, Regression};
use crate::sim::workload::Kind;
use crate::sim::{self, DEFAULT_MAX_BYTES};
use crate::stacks::planted::Bug;
use crate::stacks::{self, known, Pairing, Registry, StackEntry};
use crate::sweep::{self, parse_range, parse_shard, SeedOutcome, SweepOptions, SweepReport};
use crate::trace::{self, TraceOptions};
use indicatif::{ProgressBar, ProgressStyle};

/// synack: a deterministic fuzz and conformance harness for TCP.
///
/// With no subcommand, runs the default suite: the RFC 793 and RFC 9293 table comparisons, the
/// RFC 793 figures, the fixed scenarios (handshake, transfer, normal close, half-close,
/// simultaneous open, simultaneous close) and a swarm sweep of 1,000 seeds. Exit status: 0 all passed, 1 a check failed, 2 bad usage or input.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run many seeds in parallel; ends with "N passed, N failed".
    #[command(
        after_help = "Exit status: 0 every seed passed (and, with --require-coverage, every transition of the profile's state diagram was exercised); 1 a seed failed, or a transition was never exercised; 2 bad usage or input (nothing ran)."
    )]
    Sweep(SweepArgs),
    /// Run one seed (or a regression file) and show its outcome and trace.
    #[command(
        alias = "run",
        after_help = "Exit status: 0 the run passed, or failed as a known difference of a stack under test explains; 1 it failed; 2 bad usage or input."
    )]
    Replay(ReplayArgs),
    /// Reduce a failing seed's faults to the fewest that still fail, and write a regression.
    #[command(
        after_help = "Exit status: 0 the regression was written; 2 bad usage or input, a seed that does not fail, or a regression file that exists (see --force)."
    )]
    Shrink(ShrinkArgs),
    /// Generate a stack's RFC transition table, or compare it with the reference.
    #[command(
        after_help = "Exit status: 0 the table was printed with every state reached, or (--diff) synack-core differs from the reference only as listed deliberately (another stack's differences are findings about it and exit 0); 1 an unexplained difference of synack-core's, or a state never reached; 2 bad usage."
    )]
    Table(TableArgs),
    /// Write seed inputs for the `wire` fuzz target: packets from simulator runs.
    #[command(
        after_help = "Exit status: 0 the packets were written; 2 bad usage, or a file that cannot be written."
    )]
    CorpusExport(CorpusArgs),
    /// Play synack-core against a real TCP: `synack interop linux` (root, /dev/net/tun).
    #[command(
        after_help = "Exit status: 0 every scenario passed; 1 a scenario failed; 2 bad usage, or it cannot run here (it needs root, /dev/net/tun and the ip command)."
    )]
    Interop(InteropArgs),
    /// List RFC 9293 Appendix B's requirements with what covers each; with --sweep, how often
    /// a sweep checked each and how many seeds broke it.
    #[command(
        after_help = "Exit status: 0 listed (and the sweep, if any, passed); 1 the sweep failed; 2 bad usage."
    )]
    Requirements(RequirementsArgs),
    /// Play scripts in packetdrill's syntax (.pkt) against a stack: in virtual time against a
    /// registered stack, or in real time against the Linux kernel.
    #[command(
        after_help = "Exit status: 0 every script passed, was skipped for a feature it needs, or failed where known-differences.toml says the stack departs from the RFCs; 1 a script failed; 2 bad usage, a malformed script, or (linux) it cannot run here."
    )]
    Script(ScriptArgs),
    /// Work on sweep reports: `synack report merge SHARD.json... --out SWEEP.json`.
    #[command(
        after_help = "Exit status: 0 merged; 2 bad usage, a file that cannot be read or written, or reports that are not distinct shards of one sweep."
    )]
    Report(ReportArgs),
    /// Measure simulator throughput: simulations/s, segments/s and peak RSS per scenario and
    /// stack, on one thread, with every oracle on.
    #[command(
        after_help = "Exit status: 0 every run of every row passed its oracles; 1 a run failed (that row measures a failing stack); 2 bad usage."
    )]
    Bench(BenchArgs),
}

#[derive(Args, Debug)]
struct BenchArgs {
    /// Run only this scenario: lifecycle-64k, chaos-64k or bulk-10m.
    #[arg(long)]
    scenario: Option<String>,
    /// Wall-clock seconds each row runs for.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// The stacks to measure, each against itself (default: every registered stack).
    #[arg(long, value_delimiter = ',')]
    stacks: Vec<String>,
}

#[derive(Args, Debug)]
struct InteropArgs {
    /// The peer: linux (the kernel, through a TUN device in a network namespace of its own).
    #[arg(value_parser = ["linux"])]
    peer: String,
    /// Fault profiles to play the scenarios under, in turn, at the TUN boundary.
    #[arg(long, value_delimiter = ',', default_value = "none,lossy")]
    faults: Vec<Faults>,
    /// Seed of the fault decisions.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Octets of each bulk transfer (1 to 1 GiB).
    #[arg(long, default_value_t = 4 << 20, value_parser = clap::value_parser!(u64).range(1..=1 << 30))]
    bulk: u64,
    /// Folder for the pcapng files, one per scenario and fault profile (a relative folder is
    /// taken from where synack runs).
    #[arg(long, default_value = "target/interop")]
    pcap_dir: PathBuf,
    /// Only scenarios whose name contains this.
    #[arg(long)]
    scenario: Option<String>,
    /// Internal: already inside the namespace.
    #[arg(long, hide = true)]
    inside: bool,
}

#[derive(Args, Debug)]
struct ScriptArgs {
    /// Scripts, or folders searched recursively for .pkt files.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The stack under test: a registered stack (virtual time), or linux (the kernel, through
    /// a TUN device in a network namespace of its own; root).
    #[arg(long, default_value = "core")]
    stack: String,
    /// TCP profile of a registered stack: rfc9293 or rfc793.
    #[arg(long, default_value = "rfc9293", value_parser = parse_profile)]
    profile: synack_core::Profile,
    /// Accept outbound option lists that differ from the script's (a stack without the
    /// kernel's sackOK, wscale and timestamps), counting each.
    #[arg(long)]
    lenient_options: bool,
    /// Timing tolerance in milliseconds, by packetdrill's rules (the most of this and 12.5 %
    /// of the time since the previous event, so 0 is not exact). Without it, timing is exact.
    #[arg(long, value_parser = parse_tolerance)]
    tolerance: Option<std::time::Duration>,
    /// Write the results as JSON.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Write the results as JUnit XML, one test case per script.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Internal: already inside the network namespace (linux).
    #[arg(long, hide = true)]
    inside: bool,
}

fn parse_tolerance(s: &str) -> Result<std::time::Duration, String> {
    let ms: f64 = s
        .parse()
        .map_err(|_| format!("{s:?}: expected milliseconds, e.g. 25"))?;
    if !(0.0..=10_000.0).contains(&ms) {
        return Err(format!("{s}: a tolerance is 0 to 10000 ms"));
    }
    Ok(std::time::Duration::from_micros(
        (ms * 1000.0).round() as u64
    ))
}

#[derive(Args, Debug)]
struct ReportArgs {
    #[command(subcommand)]
    action: ReportAction,
}

#[derive(Subcommand, Debug)]
enum ReportAction {
    /// Merge the JSON reports of a sweep's shards (`sweep --shard K/N --report FILE`) into
    /// the report of the whole sweep: counts and coverage added up, outcomes in seed order.
    Merge {
        /// The shards' reports.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Where to write the merged report (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
struct CorpusArgs {
    /// Seeds to take packets from, as START..END (at most 100000 seeds).
    #[arg(long, default_value = "0..20", value_parser = parse_range)]
    seeds: std::ops::Range<u64>,
    /// Fault profile of the runs (chaos includes corrupted packets).
    #[arg(long, default_value = "chaos")]
    faults: Faults,
    /// Most packets to write (1 to 10000).
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u16).range(1..=10_000))]
    max: u16,
    /// Folder to write them to (a relative folder is taken from where synack runs).
    #[arg(long, default_value = "corpus/wire")]
    out: PathBuf,
}

#[derive(Args, Debug)]
struct TableArgs {
    /// The stack whose table to generate: core or smoltcp. Another stack's differences from
    /// the reference are findings about it: they are listed, and do not fail the command.
    #[arg(long, default_value = "core")]
    stack: String,
    /// TCP profile: rfc9293 or rfc793.
    #[arg(long, default_value = "rfc9293", value_parser = parse_profile)]
    profile: synack_core::Profile,
    /// Output: md (markdown), dot (Graphviz), or figures (the transitions of RFC 793 Figure 6
    /// and RFC 9293 Figure 5, the same state diagram, with the cells that take each).
    #[arg(long, default_value = "md", value_parser = ["md", "dot", "figures"])]
    format: String,
    /// Compare with the reference table instead (markdown only); exits 1 on an unexplained
    /// difference of synack-core's.
    #[arg(long, conflicts_with = "format")]
    diff: bool,
    /// Print the reference table instead of the generated one (it is the same for every
    /// stack).
    #[arg(long, conflicts_with_all = ["diff", "stack"])]
    reference: bool,
}

#[derive(Args, Debug, Clone)]
struct RunArgs {
    /// Fault profile: none, lossy, chaos, partition or swarm.
    #[arg(long, default_value = "swarm")]
    faults: Faults,
    /// TCP profile of both stacks: rfc9293 or rfc793.
    #[arg(long, default_value = "rfc9293", value_parser = parse_profile)]
    profile: synack_core::Profile,
    /// Workload (drawn per seed if not given): bulk, request-response, half-close,
    /// simultaneous-open, simultaneous-close, abort, many-connections, impatient,
    /// passive-send, early-close.
    #[arg(long)]
    workload: Option<Kind>,
    /// Largest transfer a drawn workload makes, in octets (1 to 1 GiB).
    #[arg(long, default_value_t = DEFAULT_MAX_BYTES)]
    max_bytes: u64,
    /// Instead of a drawn workload, one bulk transfer of this many octets from A to B (at most
    /// 1 GiB).
    #[arg(long, conflicts_with_all = ["workload", "max_bytes"])]
    transfer: Option<u64>,
    /// The stacks of the client and the server, as CLIENT,SERVER (see `synack bench --help`
    /// for the names).
    #[arg(long, default_value = "core,core")]
    stacks: String,
    /// Plant a known bug in both stacks, to see the harness catch it.
    #[arg(long, hide = true)]
    plant: Option<Bug>,
    /// One condition's fixed scenario in place of what the swarm draws: small-buffers,
    /// mss-536, mss-8960, isn-wrap, stalled-reader, slow-readers, held-duplicates, attacker.
    #[arg(long, value_parser = parse_conditions)]
    conditions: Option<&'static str>,
}

fn parse_conditions(name: &str) -> Result<&'static str, String> {
    crate::sim::conditions::by_name(name).map(|f| f.name)
}

impl RunArgs {
    fn config(&self, reg: &Registry) -> Result<RunConfig, String> {
        let stacks = reg
            .pairing(&self.stacks)
            .map_err(|e| format!("--stacks: {e}"))?;
        Ok(RunConfig {
            faults: self.faults,
            profile: self.profile,
            workload: self.workload,
            max_bytes: self.max_bytes,
            transfer: self.transfer,
            stacks: Pairing {
                plant: self.plant,
                ..stacks
            },
            conditions: self.conditions,
        })
    }
}

#[derive(Args, Debug)]
struct SweepArgs {
    /// Seeds, as START..END (at most 10000000 seeds; shard larger sweeps).
    #[arg(long, default_value = "0..1000", value_parser = parse_range)]
    seeds: std::ops::Range<u64>,
    #[command(flatten)]
    run: RunArgs,
    /// Threads, 1 to 1024 (default: all cores; never more than there are seeds).
    #[arg(long)]
    jobs: Option<usize>,
    /// Run only shard K of N (seeds with seed % N == K), as K/N.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<(u64, u64)>,
    /// Run every seed twice and fail on any difference between the traces.
    #[arg(long)]
    check_determinism: bool,
    /// Write the report as JSON (outcomes and coverage).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Write the results as JUnit XML, one test case per seed (a failure carries its replay
    /// command; a known difference is a skipped case).
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Fail if any transition of the profile's state diagram was never exercised (RFC 9293
    /// Figure 5, 20 transitions; under rfc793, RFC 793 Figure 6, 19).
    #[arg(long)]
    require_coverage: bool,
    /// Stop after N failures; the report holds the seeds in order up to the N-th.
    #[arg(long, value_name = "N")]
    max_failures: Option<usize>,
}

#[derive(Args, Debug)]
struct RequirementsArgs {
    /// Also sweep these seeds (START..END) and count each requirement's checks and
    /// violations.
    #[arg(long, value_parser = parse_range)]
    sweep: Option<std::ops::Range<u64>>,
    #[command(flatten)]
    run: RunArgs,
    /// Threads for the sweep (default: all cores).
    #[arg(long)]
    jobs: Option<usize>,
}

#[derive(Args, Debug)]
struct ReplayArgs {
    /// The seed.
    #[arg(long, required_unless_present = "regression")]
    seed: Option<u64>,
    /// Replay a regression file instead: its seed, profiles, workload, stacks and fault
    /// schedule, so no other run setting may be given with it.
    #[arg(long, conflicts_with_all = ["seed", "faults", "profile", "workload", "max_bytes", "transfer", "stacks", "plant", "conditions"])]
    regression: Option<PathBuf>,
    #[command(flatten)]
    run: RunArgs,
    /// Print the trace in RFC 793 figure notation, with the window, the timers' runs and the
    /// applications' user calls; SEQ and ACK relative to each side's ISN.
    #[arg(long)]
    trace: bool,
    /// With --trace: SEQ and ACK as on the wire, not relative to each side's ISN.
    #[arg(long, requires = "trace")]
    absolute: bool,
    /// Write the packets to a pcap file.
    #[arg(long)]
    pcap: Option<PathBuf>,
    /// Write the trace as JSON lines.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ShrinkArgs {
    /// The failing seed.
    #[arg(long)]
    seed: u64,
    #[command(flatten)]
    run: RunArgs,
    /// Where to write the regression file (a relative folder is taken from where synack runs).
    #[arg(long, default_value = "corpus/schedules")]
    out: PathBuf,
    /// Replace a regression file of the same name.
    #[arg(long)]
    force: bool,
}

/// `println!` that stops quietly when stdout is closed (`synack ... | head`), instead of
/// panicking on the broken pipe.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// The `synack` binary: the command line with this build's stacks.
pub fn main() -> ExitCode {
    main_with(&[])
}

/// The command line with `stacks` registered beside this build's, each taken by its name:
///
/// ```no_run
/// use synack::stacks::{core::core_stack, StackEntry};
///
/// static MINE: StackEntry = StackEntry {
///     name: "mine",
///     title: "my stack",
///     description: "my TCP",
///     factory: core_stack, // yours: fn(usize, Config, [u8; 16]) -> Box<dyn TcpStack>
///     table_factory: None,
///     ours: false,
/// };
///
/// fn main() -> std::process::ExitCode {
///     synack::cli::main_with(&[&MINE])
/// }
/// ```
pub fn main_with(stacks: &[&'static StackEntry]) -> ExitCode {
    let cli = Cli::parse();
    let result = match Registry::with(stacks) {
        Err(e) => Err(e),
        Ok(reg) => match cli.command {
            None => default_suite(),
            Some(Command::Sweep(a)) => run_sweep(&a, &reg),
            Some(Command::Replay(a)) => replay(&a, &reg),
            Some(Command::Shrink(a)) => run_shrink(&a, &reg),
            Some(Command::Table(a)) => table(&a, &reg),
            Some(Command::Interop(a)) => interop(&a),
            Some(Command::CorpusExport(a)) => corpus_export(&a),
            Some(Command::Bench(a)) => bench(&a, &reg),
            Some(Command::Script(a)) => script(&a, &reg),
            Some(Command::Requirements(a)) => requirements(&a, &reg),
            Some(Command::Report(a)) => report(&a),
        },
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("synack: {e}");
            ExitCode::from(2)
        }
    }
}

/// Failures a sweep prints as they happen, before it only counts them.
const LIVE_FAILURES: usize = 5;

/// The failures of a sweep grouped by oracle: how many, the first seed of each with its
/// message and replay command, then every failing seed.
fn print_failures(report: &SweepReport) {
    let groups = report.failure_groups();
    if groups.is_empty() {
        return;
    }
    say!("failures by oracle:");
    for (oracle, seeds) in &groups {
        let first = seeds[0];
        let message = first.failure.as_ref().map(|f| f.to_string());
        say!(
            "  {oracle}: {} seed(s); first, seed {}: {}",
            seeds.len(),
            first.seed,
            message.unwrap_or_default()
        );
        if let Some(cmd) = &first.replay {
            say!("    {cmd}");
        }
    }
    let list: Vec<String> = report.failures().map(|o| o.seed.to_string()).collect();
    say!("failing seeds: {}", list.join(" "));
}

/// The command that runs this program, for the replay commands it prints: `synack`, or, for
/// a program that registered stacks of its own (`main_with`), the path it was started by, so
/// that its replay commands run its stacks.
fn program(reg: &Registry) -> String {
    if reg.entries().len() == stacks::REGISTRY.len() {
        return "synack".into();
    }
    std::env::args()
        .next()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "synack".into())
}

/// `cmd`, a `synack ...` command, as `program ...`.
fn as_program(cmd: &str, program: &str) -> String {
    match cmd.strip_prefix("synack ") {
        Some(rest) if program != "synack" => format!("{program} {rest}"),
        _ => cmd.to_string(),
    }
}

fn sweep_with_progress(opts: &SweepOptions, program: &str) -> Result<SweepReport, String> {
    let total = sweep::seed_iter(opts).count();
    let terminal = std::io::stderr().is_terminal();
    let bar = terminal.then(|| {
        let b = ProgressBar::new(total as u64);
        b.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} seeds, {msg} [{elapsed} < {eta}]")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    });
    let failed = Mutex::new(0usize);
    let step = (total / 10).max(1);
    let progress = |n: usize, o: &SeedOutcome| {
        let mut f = failed.lock().unwrap_or_else(|e| e.into_inner());
        if let (Some(failure), true) = (&o.failure, o.unexplained()) {
            *f += 1;
            // The first few as they come; all of them, grouped, at the end.
            let line = match *f {
                ..=LIVE_FAILURES => Some(format!(
                    "seed {} failed: {failure}\n  {}",
                    o.seed,
                    as_program(o.replay.as_deref().unwrap_or_default(), program)
                )),
                n if n == LIVE_FAILURES + 1 => {
                    Some("more failures: see the summary at the end".to_string())
                }
                _ => None,
            };
            match (&bar, line) {
                (Some(b), Some(line)) => b.println(line),
                (None, Some(line)) => eprintln!("{line}"),
                _ => {}
            }
        }
        match &bar {
            Some(b) => {
                b.set_position(n as u64);
                b.set_message(format!("{} failed", *f));
            }
            None if n % step == 0 || n == total => eprintln!("{n}/{total} seeds, {} failed", *f),
            None => {}
        }
    };
    let report = sweep::sweep(opts, &opts.run.factory(), &progress)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let mut report = report;
    for o in &mut report.outcomes {
        if let Some(cmd) = &mut o.replay {
            *cmd = as_program(cmd, program);
        }
    }
    Ok(report)
}

fn requirements(a: &RequirementsArgs, reg: &Registry) -> Result<bool, String> {
    let catalog = crate::requirements::Catalog::builtin()?;
    let report = match &a.sweep {
        None => None,
        Some(seeds) => {
            let opts = SweepOptions {
                seeds: seeds.clone(),
                run: a.run.config(reg)?,
                jobs: a
                    .jobs
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
                shard: None,
                check_determinism: false,
                max_failures: None,
            };
            opts.validate()?;
            Some(sweep_with_progress(&opts, &program(reg))?)
        }
    };
    say!("{}", catalog.listing(report.as_ref()));
    if let Some(r) = &report {
        say!(
            "sweep of seeds {} ({} faults): {} passed, {} failed",
            r.seeds,
            r.faults,
            r.passed,
            r.failed
        );
        return Ok(r.failed == 0);
    }
    Ok(true)
}

fn run_sweep(a: &SweepArgs, reg: &Registry) -> Result<bool, String> {
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let run = a.run.config(reg)?;
    let opts = SweepOptions {
        seeds: a.seeds.clone(),
        run: run.clone(),
        jobs,
        shard: a.shard,
        check_determinism: a.check_determinism,
        max_failures: a.max_failures,
    };
    opts.validate()?;
    // The report's file is created before the sweep, so that a path that cannot be written
    // fails at once rather than after every seed has run.
    let report_file = match &a.report {
        Some(path) => Some(
            std::fs::File::create(path).map_err(|e| format!("--report {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let started = WallClock::now();
    let report = sweep_with_progress(&opts, &program(reg))?;
    let secs = started.elapsed().as_secs_f64();
    say!(
        "{} seeds of {} faults under {} in {secs:.1}s ({:.0} seeds/s, {:.0} packets/s){}",
        report.runs,
        report.faults,
        report.profile,
        report.runs as f64 / secs.max(1e-9),
        report.packets as f64 / secs.max(1e-9),
        if a.check_determinism {
            ", each run twice"
        } else {
            ""
        }
    );
    let c = &report.coverage;
    let (diagram, arrows, never) = c.diagram(run.profile);
    say!(
        "coverage: {} of {arrows} {diagram} transitions never exercised{}; {} of 275 table cells exercised",
        never.len(),
        if never.is_empty() {
            String::new()
        } else {
            format!(" ({})", never.join("; "))
        },
        c.cells_exercised
    );
    for (id, n) in &report.expected {
        let first = report
            .outcomes
            .iter()
            .find(|o| o.expected == Some(*id))
            .and_then(|o| o.replay.as_deref());
        say!(
            "{n} failed as expected: known difference {id} (first: {})",
            first.unwrap_or_default()
        );
        if let Some(d) = known::by_id(id) {
            say!("  {}\n  {}", d.summary, d.rfc);
        }
    }
    print_failures(&report);
    if report.stopped_early {
        say!(
            "stopped after {} failures (--max-failures): the seeds after seed {} did not run",
            a.max_failures.unwrap_or(0),
            report.outcomes.last().map_or(0, |o| o.seed)
        );
    }
    say!("{} passed, {} failed", report.passed, report.failed);
    let coverage_ok = !a.require_coverage || never.is_empty();
    if !coverage_ok {
        say!(
            "FAILED --require-coverage: {} of {arrows} {diagram} transitions never exercised: {}",
            never.len(),
            never.join("; ")
        );
    }
    // The summary is out first, so that it is there even if the report cannot be written.
    if let Some(path) = &a.junit {
        crate::junit::write(path, "synack sweep", &sweep::junit_cases(&report))?;
    }
    if let (Some(mut file), Some(path)) = (report_file, &a.report) {
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        file.write_all((text + "\n").as_bytes())
            .map_err(|e| format!("--report {}: {e}", path.display()))?;
    }
    Ok(report.failed == 0 && coverage_ok)
}

fn replay(a: &ReplayArgs, reg: &Registry) -> Result<bool, String> {
    // A regression file names everything that decides its run, the stacks included.
    let spec = match &a.regression {
        Some(path) => Regression::load_in(path, reg)?.spec_in(reg)?,
        None => {
            let run = a.run.config(reg)?;
            run.validate()?;
            run.spec(a.seed.unwrap_or(0))
        }
    };
    let options = TraceOptions {
        keep_events: a.trace || a.json.is_some(),
        keep_schedule: false,
        keep_packets: false,
        pcap: a.pcap.clone(),
    };
    let result = sim::run(&spec, &options)?;
    if a.trace {
        let _ = write!(
            std::io::stdout().lock(),
            "{}",
            trace::render_with(
                &result.events,
                &trace::Notation {
                    relative: !a.absolute,
                    ..trace::Notation::REPLAY
                }
            )
        );
    }
    if let Some(path) = &a.json {
        trace::write_json_lines(&result.events, path)?;
    }
    say!(
        "seed {}: {} ({} connection(s), {} octets), {} packets, {} faulty, network healed at {}, ended at {}",
        result.seed,
        result.workload,
        result.connections,
        result.bytes,
        result.packets,
        result.faults,
        synack_core::Instant::from_nanos(result.heal_ns),
        synack_core::Instant::from_nanos(result.end_ns)
    );
    if result.conditions.any() {
        say!("conditions: {}", result.conditions);
    }
    say!("trace {}", result.trace_hash);
    if let Some(kib) = crate::bench::peak_rss_kib() {
        say!("peak RSS {:.1} MiB", kib as f64 / 1024.0);
    }
    for id in &result.known {
        if let Some(d) = known::by_id(id) {
            say!("known difference {id}: {}\n  {}", d.summary, d.rfc);
        }
    }
    match (&result.failure, result.expected) {
        (None, _) => {
            say!("passed");
            Ok(true)
        }
        (Some(f), Some(id)) => {
            say!("failed as expected ({id}): {f}");
            Ok(true)
        }
        (Some(f), None) => {
            say!("FAILED: {f}");
            Ok(false)
        }
    }
}

fn run_shrink(a: &ShrinkArgs, reg: &Registry) -> Result<bool, String> {
    let run = a.run.config(reg)?;
    run.validate()?;
    let spec = run.spec(a.seed);
    let shrunk = shrink::shrink(&spec, &run.factory())?;
    let path = shrink::write_regression(&spec, &shrunk, &a.out, a.force)?;
    say!(
        "seed {}: {} fault decisions shrunk to {} in {} runs",
        a.seed,
        shrunk.original,
        shrunk.schedule.len(),
        shrunk.runs
    );
    for (k, d) in &shrunk.schedule {
        say!(
            "  {} segment SEQ={} with {} octets (occurrence {}): {}",
            crate::trace::HOST_NAMES[usize::from(k.from).min(1)],
            k.seq,
            k.len,
            k.occurrence,
            d.describe()
        );
    }
    say!("still fails: {}", shrunk.failure);
    if let Some(id) = shrunk.expected {
        say!(
            "the failure is explained by the known difference {id} of the stacks under test ({}); the regression records them, and replays as failed as expected",
            spec.stacks.names()
        );
    }
    say!("wrote {}", path.display());
    say!(
        "replay: {} replay --regression {}",
        program(reg),
        path.display()
    );
    Ok(true)
}

fn bench(a: &BenchArgs, reg: &Registry) -> Result<bool, String> {
    use crate::bench;
    let scenarios: Vec<&bench::Scenario> = match &a.scenario {
        Some(name) => vec![bench::scenario(name).ok_or_else(|| {
            format!(
                "unknown bench scenario {name:?}; expected one of: {}",
                bench::SCENARIOS.map(|s| s.name).join(", ")
            )
        })?],
        None => bench::SCENARIOS.iter().collect(),
    };
    if !(a.seconds.is_finite() && a.seconds > 0.0 && a.seconds <= 3600.0) {
        return Err(format!(
            "--seconds {}: expected more than 0 and at most 3600",
            a.seconds
        ));
    }
    let budget = std::time::Duration::from_secs_f64(a.seconds);
    let mut rows = Vec::new();
    for s in scenarios {
        let chosen: Vec<&'static StackEntry> = if a.stacks.is_empty() {
            reg.entries().to_vec()
        } else {
            a.stacks
                .iter()
                .map(|n| reg.by_name(n).map_err(|e| format!("--stacks: {e}")))
                .collect::<Result<_, _>>()?
        };
        for stack in chosen {
            let pairing = Pairing {
                client: stack,
                server: stack,
                plant: None,
            };
            let f = |h, c, k| pairing.build(h, c, k);
            rows.push(bench::measure(s, &pairing.names(), &f, budget)?);
        }
    }
    say!("{}", bench::render(&rows).trim_end());
    Ok(rows.iter().all(|r| r.failed == 0))
}

fn corpus_export(a: &CorpusArgs) -> Result<bool, String> {
    if a.seeds.end - a.seeds.start > 100_000 {
        return Err(format!(
            "--seeds {}..{}: at most 100000 seeds",
            a.seeds.start, a.seeds.end
        ));
    }
    std::fs::create_dir_all(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let packets = crate::fuzzing::wire_seeds(a.seeds.clone(), a.faults, usize::from(a.max));
    for (i, p) in packets.iter().enumerate() {
        let path = a.out.join(format!("sim-{}-{i:02}", a.faults));
        std::fs::write(&path, p).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    say!("wrote {} packets to {}", packets.len(), a.out.display());
    Ok(true)
}

fn table(a: &TableArgs, reg: &Registry) -> Result<bool, String> {
    use crate::rfc;
    let stack = reg.by_name(&a.stack).map_err(|e| format!("--stack: {e}"))?;
    let reference = rfc::reference(a.profile)?;
    let generate = || rfc::generate::generate_for(a.profile, stack);
    if a.diff {
        let generated = generate();
        let deviations = rfc::deviations::for_stack(a.profile, stack);
        let c = rfc::compare(&reference, &generated, &deviations);
        say!("{}", rfc::render_comparison(&c));
        return Ok(!stack.ours || c.passes());
    }
    let table = if a.reference { reference } else { generate() };
    let text = match a.format.as_str() {
        "dot" => rfc::render_dot(&table),
        "figures" => rfc::figures::render(&table),
        _ => rfc::render_markdown(&table),
    };
    say!("{text}");
    Ok(table.unreachable.is_empty())
}

#[cfg(all(feature = "interop", target_os = "linux"))]
fn interop(a: &InteropArgs) -> Result<bool, String> {
    use crate::interop;
    if let Some(only) = &a.scenario {
        let names = interop::scenario_names();
        if !names.iter().any(|n| n.contains(only.as_str())) {
            return Err(format!(
                "--scenario {only:?} matches no scenario; the scenarios are: {}",
                names.join("; ")
            ));
        }
    }
    if !a.inside {
        interop::preflight()?;
        let mut args: Vec<String> = std::env::args().skip(1).collect();
        args.push("--inside".into());
        return Ok(interop::run_in_namespace(&args)?);
    }
    let mut ok = true;
    for faults in &a.faults {
        let opts = interop::Options {
            faults: *faults,
            seed: a.seed,
            bulk: a.bulk,
            pcap_dir: a.pcap_dir.clone(),
            only: a.scenario.clone(),
        };
        let report = interop::run_inside(&opts)?;
        say!(
            "interop: the Linux kernel ({}, synack0) and synack-core ({}), faults {}, seed {}",
            interop::KERNEL,
            interop::CORE,
            report.faults,
            report.seed
        );
        for s in &report.scenarios {
            match &s.outcome {
                Ok(o) => {
                    say!("  {:<24} passed: {}", s.name, o.summary());
                    for f in &o.findings {
                        say!("    finding: {f}");
                    }
                }
                Err(e) => say!("  {:<24} FAILED: {e}", s.name),
            }
        }
        say!("{} passed, {} failed", report.passed(), report.failed());
        ok &= report.failed() == 0;
    }
    Ok(ok)
}

#[cfg(not(all(feature = "interop", target_os = "linux")))]
fn interop(_: &InteropArgs) -> Result<bool, String> {
    Err("this build of synack has no interop (it needs Linux and the interop feature)".into())
}

fn script(a: &ScriptArgs, reg: &Registry) -> Result<bool, String> {
    use crate::script::{self, Options, Report, Summary};
    let paths = script::collect(&a.paths)?;
    if paths.is_empty() {
        return Err(format!(
            "no .pkt scripts under {}",
            a.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let opts = Options {
        tolerance: a.tolerance,
        lenient_options: a.lenient_options,
    };
    let outcomes = if a.stack == "linux" {
        if !a.inside {
            // The outer run: the inner one, in the namespace, prints and writes everything.
            return linux_outer();
        }
        let mut outcomes = linux_scripts(&paths, opts)?;
        script::Known::load(&paths)?.apply_all("linux", &mut outcomes);
        outcomes
    } else {
        let entry = reg
            .by_name(&a.stack)
            .map_err(|e| format!("--stack: {e}; or linux"))?;
        script::play_all_virtual(&paths, entry, a.profile, opts)?
    };
    for o in &outcomes {
        say!("{}", o.line());
        for n in &o.played.notes {
            say!("        note: {n}");
        }
        if o.is_known_difference() {
            continue;
        }
        for d in o.detail() {
            say!("        {d}");
        }
    }
    let summary = Summary::of(&outcomes);
    say!("{}", summary.line());
    let stack = a.stack.as_str();
    if let Some(path) = &a.report {
        let report = Report::new(stack, a.profile.name(), &outcomes);
        let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(path, json).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some(path) = &a.junit {
        crate::junit::write(
            path,
            "synack script",
            &script::junit_cases(&outcomes, stack),
        )?;
    }
    match summary.exit_code() {
        0 => Ok(true),
        1 => Ok(false),
        _ => Err(format!(
            "{} malformed script{} (see above)",
            summary.malformed,
            if summary.malformed == 1 { "" } else { "s" }
        )),
    }
}

/// `synack script --stack linux`, outside the namespace: runs itself again inside it.
#[cfg(all(feature = "interop", target_os = "linux"))]
fn linux_outer() -> Result<bool, String> {
    use crate::interop;
    interop::preflight()?;
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    args.push("--inside".into());
    Ok(interop::run_in_namespace(&args)?)
}

/// `synack script --stack linux`, inside the namespace: plays the scripts on the kernel.
#[cfg(all(feature = "interop", target_os = "linux"))]
fn linux_scripts(
    paths: &[PathBuf],
    opts: crate::script::Options,
) -> Result<Vec<crate::script::Outcome>, String> {
    Ok(crate::interop::script::play_all(paths, opts)?)
}

#[cfg(not(all(feature = "interop", target_os = "linux")))]
fn linux_outer() -> Result<bool, String> {
    Err("this build of synack has no interop (it needs Linux and the interop feature)".into())
}

#[cfg(not(all(feature = "interop", target_os = "linux")))]
fn linux_scripts(
    _: &[PathBuf],
    _: crate::script::Options,
) -> Result<Vec<crate::script::Outcome>, String> {
    Err("this build of synack has no interop (it needs Linux and the interop feature)".into())
}

fn report(a: &ReportArgs) -> Result<bool, String> {
    let ReportAction::Merge { reports, out } = &a.action;
    let mut read = Vec::new();
    for path in reports {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))?;
        read.push((path.display().to_string(), value));
    }
    let merged = sweep::merge_reports(&read)?;
    let text = serde_json::to_string_pretty(&merged).map_err(|e| e.to_string())? + "\n";
    match out {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            say!(
                "merged {} shards into {}: {} seeds, {} passed, {} failed",
                read.len(),
                path.display(),
                merged["runs"],
                merged["passed"],
                merged["failed"]
            );
        }
        None => {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
    }
    Ok(true)
}

fn default_suite() -> Result<bool, String> {
    use crate::suite;
    let mut ok = true;
    say!("synack {}: default suite", env!("CARGO_PKG_VERSION"));
    say!("transition tables (synack-core against the references):");
    for t in suite::tables()? {
        ok &= t.unexplained == 0;
        say!(
            "  {:<20} {} cells agree, {} deliberate differences, {} unexplained",
            t.profile.name(),
            t.agree,
            t.deliberate,
            t.unexplained
        );
    }
    say!("RFC 793 figures and the handshake, four-way close and half-close flows (scripted):");
    let figures = suite::figures();
    let played = figures.iter().filter(|(_, r)| r.is_ok()).count();
    for (name, r) in &figures {
        if let Err(e) = r {
            say!("  {name} FAILED: {e}");
        }
    }
    ok &= played == figures.len();
    say!(
        "  {played} of {} played and matching their reviewed traces",
        figures.len()
    );
    say!("scenarios (faults none, rfc9293):");
    for (name, workload) in suite::scenarios() {
        let r = suite::run_scenario(workload)?;
        match &r.failure {
            None => say!("  {name:<20} passed ({} packets)", r.packets),
            Some(f) => {
                ok = false;
                say!("  {name:<20} FAILED: {f}");
            }
        }
    }
    say!(
        "conditions, each alone (bulk transfer of {} octets, rfc9293; faults none but for held duplicates):",
        suite::CONDITION_TRANSFER
    );
    for (name, outcome) in suite::conditions()? {
        match outcome {
            Ok(packets) => say!("  {name:<20} passed ({packets} packets)"),
            Err(e) => {
                ok = false;
                say!("  {name:<20} FAILED: {e}");
            }
        }
    }
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let opts = suite::sweep_options(jobs);
    say!(
        "swarm sweep, seeds {}..{}:",
        opts.seeds.start,
        opts.seeds.end
    );
    let report = sweep_with_progress(&opts, "synack")?;
    say!("{} passed, {} failed", report.passed, report.failed);
    Ok(ok && report.failed == 0)
}
