//! synack-core against the Linux kernel, through a TUN device in a network namespace of its own.
//!
//! This module owns `synack interop linux`. The command checks that it may run (root, and
//! /dev/net/tun), creates a network namespace with `ip netns add`, and runs itself again inside
//! it (`ip netns exec`), so that the TUN device, its addresses and the kernel's sockets exist
//! only there; the namespace is deleted when the inner run ends, whether it passed, failed or
//! crashed. No code here is unsafe: the `tun` crate owns the one system-call module, and the
//! namespace is entered by a fresh process rather than by `setns`.
//!
//! Inside, the kernel is 10.77.0.1 on the TUN device `synack0` and synack-core is 10.77.0.2,
//! on the far side of the device: every packet the kernel sends to 10.77.0.2 is read from the
//! device and handed to synack-core, and what synack-core sends is written to the device. The
//! kernel side of each scenario is plain `std::net` on a thread; synack-core and the kernel's
//! packets are hosts of the harness's one event loop (`crate::sim::Run`), run here on the wall
//! clock (this is the one part of synack whose clock is the wall clock). With
//! faults, the simulator's fault model draws a decision for every packet crossing the device,
//! in both directions, from a seeded ChaCha stream: loss, duplication and reordering. Every run
//! writes a pcap of both directions as they left their sender.
//!
//! The kernel offers window scaling, timestamps and SACK on its SYN. synack-core announces only
//! its MSS, which declines all three (RFC 7323 §1.3 and §2.2: both SYNs must carry the option;
//! RFC 2018 §2: SACK only if SACK-permitted was received): every segment synack-core sends is
//! checked to carry no option but MSS on a SYN.

mod boundary;
mod scenarios;
pub mod script;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::net::faults;
use crate::Error;
pub use boundary::Outcome;

/// The kernel's address, on the TUN device.
pub const KERNEL: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
/// synack-core's address, behind the TUN device.
pub const CORE: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const TUN_NAME: &str = "synack0";
/// How long one scenario may take before it fails.
const SCENARIO_LIMIT: Duration = Duration::from_secs(180);

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Fault profile at the TUN boundary (`none` or any simulator profile).
    pub faults: faults::Profile,
    /// Seed of the fault decisions.
    pub seed: u64,
    /// Octets of each bulk transfer.
    pub bulk: u64,
    /// Where the pcaps go.
    pub pcap_dir: PathBuf,
    /// Only the scenarios whose name contains this.
    pub only: Option<String>,
}

/// Checks root and /dev/net/tun.
pub fn preflight() -> Result<(), Error> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| Error::CannotRun(format!("cannot read /proc/self/status: {e}")))?;
    // "Uid: real effective saved fs"
    let euid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|u| u.parse::<u32>().ok());
    if euid != Some(0) {
        return Err(Error::CannotRun(
            "synack interop linux needs root (it creates a network namespace and a TUN device)"
                .into(),
        ));
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map_err(|e| Error::CannotRun(format!("synack interop linux needs /dev/net/tun: {e}")))?;
    let ip = Command::new("ip").arg("-V").output();
    if !ip.is_ok_and(|o| o.status.success()) {
        return Err(Error::CannotRun(
            "synack interop linux needs the ip command (iproute2)".into(),
        ));
    }
    Ok(())
}

/// A network namespace that is deleted when dropped.
struct Namespace(String);

impl Namespace {
    fn create(name: &str) -> Result<Namespace, Error> {
        run_ip(&["netns", "add", name])?;
        Ok(Namespace(name.to_string()))
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        if let Err(e) = run_ip(&["netns", "delete", &self.0]) {
            eprintln!("synack: could not delete network namespace {}: {e}", self.0);
        }
    }
}

fn run_ip(args: &[&str]) -> Result<(), Error> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| Error::cannot_run(format!("ip {}: {e}", args.join(" "))))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::cannot_run(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// The outer run: creates the namespace, runs `inner_args` of this executable inside it, and
/// deletes the namespace. Returns whether the inner run passed.
pub fn run_in_namespace(inner_args: &[String]) -> Result<bool, Error> {
    let name = format!("synack-{}", std::process::id());
    let ns = Namespace::create(&name)?;
    let exe = std::env::current_exe()
        .map_err(|e| Error::cannot_run(format!("cannot find this executable: {e}")))?;
    let status = Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(exe)
        .args(inner_args)
        .status()
        .map_err(|e| Error::cannot_run(format!("ip netns exec {}: {e}", ns.0)))?;
    drop(ns);
    println!("network namespace {name} removed");
    if status.code() == Some(2) {
        return Err(Error::cannot_run(
            "the run inside the namespace ended with status 2: bad input, or it could not start (see above)",
        ));
    }
    Ok(status.success())
}

/// One scenario's result.
#[derive(Debug)]
pub struct ScenarioResult {
    /// The scenario's name.
    pub name: String,
    /// What it did, or why it failed.
    pub outcome: Result<Outcome, String>,
}

/// What the inner run did, for the CLI to print.
#[derive(Debug)]
pub struct Report {
    /// The fault profile the scenarios ran under.
    pub faults: faults::Profile,
    /// The seed of the fault decisions.
    pub seed: u64,
    /// Every scenario that ran, in order.
    pub scenarios: Vec<ScenarioResult>,
}

impl Report {
    /// Scenarios that failed.
    pub fn failed(&self) -> usize {
        self.scenarios.iter().filter(|s| s.outcome.is_err()).count()
    }

    /// Scenarios that passed.
    pub fn passed(&self) -> usize {
        self.scenarios.len() - self.failed()
    }
}

/// The names of every scenario, in the order they run.
pub fn scenario_names() -> Vec<String> {
    scenarios::scenarios(0)
        .into_iter()
        .map(|s| s.name)
        .collect()
}

/// Creates the TUN device: the kernel's address on it, the far side's behind it.
fn device() -> Result<boundary::Port, Error> {
    let mut config = tun::Configuration::default();
    // tun's address calls take anything `ToAddress`.
    config
        .tun_name(TUN_NAME)
        .address(KERNEL)
        .netmask((255, 255, 255, 0))
        .mtu(1500)
        .up();
    let tun = tun::create(&config)
        .map_err(|e| Error::cannot_run(format!("cannot create {TUN_NAME}: {e}")))?;
    Ok(boundary::Port::new(tun))
}

/// The inner run, inside the namespace: sets up the device and plays every scenario (or those
/// whose name contains `opts.only`; none matching is bad usage).
pub fn run_inside(opts: &Options) -> Result<Report, Error> {
    let all = scenarios::scenarios(opts.bulk);
    let chosen: Vec<(usize, &scenarios::Scenario)> = all
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            opts.only
                .as_ref()
                .is_none_or(|o| s.name.contains(o.as_str()))
        })
        .collect();
    if chosen.is_empty() {
        return Err(Error::parse(
            "--scenario",
            format!(
                "{:?} matches no scenario; the scenarios are: {}",
                opts.only.as_deref().unwrap_or(""),
                scenario_names().join("; ")
            ),
        ));
    }
    let port = std::rc::Rc::new(device()?);
    std::fs::create_dir_all(&opts.pcap_dir).map_err(|e| Error::file(&opts.pcap_dir, e))?;
    let scenarios = chosen
        .into_iter()
        .map(|(i, s)| ScenarioResult {
            name: s.name.clone(),
            outcome: boundary::play(&port, opts, i, s),
        })
        .collect();
    Ok(Report {
        faults: opts.faults,
        seed: opts.seed,
        scenarios,
    })
}
