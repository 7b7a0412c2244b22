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
//! kernel side of each scenario is plain `std::net` on a thread; synack-core runs on the main
//! thread, in real time (this is the one part of synack whose clock is the wall clock). With
//! faults, the simulator's fault model draws a decision for every packet crossing the device,
//! in both directions, from a seeded ChaCha stream: loss, duplication and reordering. Every run
//! writes a pcap of both directions as they left their sender.
//!
//! The kernel offers window scaling, timestamps and SACK on its SYN. synack-core announces only
//! its MSS, which declines all three (RFC 7323 §1.3 and §2.2: both SYNs must carry the option;
//! RFC 2018 §2: SACK only if SACK-permitted was received): every segment synack-core sends is
//! checked to carry no option but MSS on a SYN.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::thread::JoinHandle;
use std::time::{Duration, Instant as WallClock};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use synack_core::wire::{Flags, Packet, TcpOption};
use synack_core::{Config, Endpoint, Event, Instant, SocketId, State, UserError};

use crate::net::faults::{self, Faults};
use crate::net::{Decider, Network};
use crate::sim::workload::{fill_pattern, first_mismatch};
use crate::trace::{Trace, TraceOptions};

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

/// Why the command could not run at all (exit status 2).
#[derive(Debug)]
pub struct CannotRun(pub String);

/// Checks root and /dev/net/tun.
pub fn preflight() -> Result<(), CannotRun> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| CannotRun(format!("cannot read /proc/self/status: {e}")))?;
    // "Uid: real effective saved fs"
    let euid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|u| u.parse::<u32>().ok());
    if euid != Some(0) {
        return Err(CannotRun(
            "synack interop linux needs root (it creates a network namespace and a TUN device)"
                .into(),
        ));
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map_err(|e| CannotRun(format!("synack interop linux needs /dev/net/tun: {e}")))?;
    let ip = Command::new("ip").arg("-V").output();
    if !ip.is_ok_and(|o| o.status.success()) {
        return Err(CannotRun(
            "synack interop linux needs the ip command (iproute2)".into(),
        ));
    }
    Ok(())
}

/// A network namespace that is deleted when dropped.
struct Namespace(String);

impl Namespace {
    fn create(name: &str) -> Result<Namespace, String> {
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

fn run_ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The outer run: creates the namespace, runs `inner_args` of this executable inside it, and
/// deletes the namespace. Returns whether the inner run passed.
pub fn run_in_namespace(inner_args: &[String]) -> Result<bool, String> {
    let name = format!("synack-{}", std::process::id());
    let ns = Namespace::create(&name)?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let status = Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(exe)
        .args(inner_args)
        .status()
        .map_err(|e| format!("ip netns exec {}: {e}", ns.0))?;
    drop(ns);
    println!("network namespace {name} removed");
    if status.code() == Some(2) {
        return Err("the run inside the namespace could not start (see above)".into());
    }
    Ok(status.success())
}

/// Who does what at the end of a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// Both sides send their data and read the other's; `core_first` closes first, then the
    /// other reads the FIN and closes.
    Close { core_first: bool },
    /// The seed article's half-close: one side sends a request and closes at once, then reads
    /// the response to the end; the other reads the request to the FIN, then sends a response
    /// after it and closes.
    HalfClose { core_closes: bool },
    /// After the exchange, one side aborts; the other must see the reset.
    Abort { core_aborts: bool },
}

/// One interop scenario.
#[derive(Clone, Debug)]
struct Scenario {
    name: String,
    /// synack-core opens the connection (else the kernel does).
    core_is_client: bool,
    /// Octets synack-core sends.
    core_sends: u64,
    /// Octets the kernel sends.
    kernel_sends: u64,
    ending: Ending,
}

fn scenarios(bulk: u64) -> Vec<Scenario> {
    let s = |name: &str, core_is_client, core_sends, kernel_sends, ending| Scenario {
        name: name.to_string(),
        core_is_client,
        core_sends,
        kernel_sends,
        ending,
    };
    use Ending::*;
    vec![
        s(
            "handshake, kernel client",
            false,
            0,
            0,
            Close { core_first: false },
        ),
        s(
            "handshake, kernel server",
            true,
            0,
            0,
            Close { core_first: true },
        ),
        s(
            "bulk core to kernel",
            true,
            bulk,
            0,
            Close { core_first: true },
        ),
        s(
            "bulk kernel to core",
            false,
            0,
            bulk,
            Close { core_first: false },
        ),
        s(
            "half-close by core",
            true,
            100,
            100_000,
            HalfClose { core_closes: true },
        ),
        s(
            "half-close by kernel",
            false,
            100_000,
            100,
            HalfClose { core_closes: false },
        ),
        s(
            "close, core first",
            true,
            5000,
            5000,
            Close { core_first: true },
        ),
        s(
            "close, kernel first",
            true,
            5000,
            5000,
            Close { core_first: false },
        ),
        // The aborter sends nothing: a RST discards what its peer has not yet read (RFC 9293
        // §3.10.7.4, "RST bit is set"), so only the aborter's reading is certain to finish.
        s("abort by core", true, 0, 3000, Abort { core_aborts: true }),
        s(
            "abort by kernel",
            false,
            3000,
            0,
            Abort { core_aborts: false },
        ),
    ]
}

/// A step of one side's script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Write(u64),
    Read(u64),
    /// Read until the peer's FIN; the total read must then be the peer's whole stream.
    ReadToEof,
    Close,
    Abort,
    ExpectReset,
}

/// The scripts of (synack-core, kernel).
fn scripts(s: &Scenario) -> (Vec<Step>, Vec<Step>) {
    use Step::*;
    let (c, k) = (s.core_sends, s.kernel_sends);
    match s.ending {
        Ending::Close { core_first } => {
            let first = |mine, theirs| vec![Write(mine), Read(theirs), Close, ReadToEof];
            let second = |mine, theirs| vec![Write(mine), Read(theirs), ReadToEof, Close];
            if core_first {
                (first(c, k), second(k, c))
            } else {
                (second(c, k), first(k, c))
            }
        }
        Ending::HalfClose { core_closes } => {
            let closer = |mine| vec![Write(mine), Close, ReadToEof];
            let other = |mine| vec![ReadToEof, Write(mine), Close];
            if core_closes {
                (closer(c), other(k))
            } else {
                (other(c), closer(k))
            }
        }
        Ending::Abort { core_aborts } => {
            let aborter = |mine, theirs| vec![Write(mine), Read(theirs), Abort];
            let other = |mine, theirs| vec![Write(mine), Read(theirs), ExpectReset];
            if core_aborts {
                (aborter(c, k), other(k, c))
            } else {
                (other(c, k), aborter(k, c))
            }
        }
    }
}

/// Pattern keys of the two directions.
const CORE_KEY: u64 = 0x5eed_c0de;
const KERNEL_KEY: u64 = 0x5eed_7e57;

/// The kernel's side: std::net, blocking, on its own thread.
fn kernel_side(
    port: u16,
    listener: Option<TcpListener>,
    script: Vec<Step>,
    peer_total: u64,
) -> Result<(), String> {
    let mut stream = match listener {
        Some(l) => l.accept().map_err(|e| format!("kernel accept: {e}"))?.0,
        None => {
            let to = SocketAddr::V4(SocketAddrV4::new(CORE, port));
            TcpStream::connect_timeout(&to, Duration::from_secs(60))
                .map_err(|e| format!("kernel connect to {to}: {e}"))?
        }
    };
    stream
        .set_read_timeout(Some(SCENARIO_LIMIT))
        .map_err(|e| e.to_string())?;
    let (mut written, mut read) = (0u64, 0u64);
    let mut buf = vec![0u8; 64 * 1024];
    for step in script {
        match step {
            Step::Write(n) => {
                while written < n {
                    let len = (n - written).min(buf.len() as u64) as usize;
                    fill_pattern(KERNEL_KEY, written, &mut buf[..len]);
                    stream
                        .write_all(&buf[..len])
                        .map_err(|e| format!("kernel write at {written}: {e}"))?;
                    written += len as u64;
                }
            }
            Step::Read(n) => {
                while read < n {
                    let want = (n - read).min(buf.len() as u64) as usize;
                    let got = stream
                        .read(&mut buf[..want])
                        .map_err(|e| format!("kernel read at {read} of {n}: {e}"))?;
                    if got == 0 {
                        return Err(format!("kernel read: end of stream at {read} of {n}"));
                    }
                    check(KERNEL_READS, read, &buf[..got])?;
                    read += got as u64;
                }
            }
            Step::ReadToEof => loop {
                let got = stream
                    .read(&mut buf)
                    .map_err(|e| format!("kernel read at {read}: {e}"))?;
                if got == 0 {
                    if read != peer_total {
                        return Err(format!("kernel read {read} octets of {peer_total}"));
                    }
                    break;
                }
                check(KERNEL_READS, read, &buf[..got])?;
                read += got as u64;
            },
            Step::Close => stream
                .shutdown(Shutdown::Write)
                .map_err(|e| format!("kernel shutdown: {e}"))?,
            Step::Abort => {
                socket2::SockRef::from(&stream)
                    .set_linger(Some(Duration::ZERO))
                    .map_err(|e| format!("kernel SO_LINGER: {e}"))?;
                drop(stream);
                return Ok(());
            }
            Step::ExpectReset => {
                return match stream.read(&mut buf) {
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
                    Err(e) => Err(format!("kernel expected a reset, got: {e}")),
                    Ok(n) => Err(format!("kernel expected a reset, read {n} octets")),
                };
            }
        }
    }
    Ok(())
}

/// Which stream a side reads: the kernel reads synack-core's pattern and vice versa.
const KERNEL_READS: u64 = CORE_KEY;
const CORE_READS: u64 = KERNEL_KEY;

fn check(key: u64, offset: u64, data: &[u8]) -> Result<(), String> {
    match first_mismatch(key, offset, data) {
        Some(i) => Err(format!(
            "octet {} differs from what the peer wrote",
            offset + i as u64
        )),
        None => Ok(()),
    }
}

/// synack-core's side: the same script, driven by events.
struct CoreSide {
    script: Vec<Step>,
    step: usize,
    listener: Option<SocketId>,
    sock: Option<SocketId>,
    written: u64,
    read: u64,
    peer_total: u64,
    reset: bool,
    /// Scratch space for SEND and RECEIVE.
    buf: Vec<u8>,
    done: bool,
}

impl CoreSide {
    fn on_event(&mut self, ep: &mut Endpoint, id: SocketId, e: Event) {
        match e {
            Event::Incoming if Some(id) == self.listener => {
                if let Ok(Some(c)) = ep.accept(id) {
                    self.sock = Some(c);
                    let _ = ep.close(id);
                    self.listener = None;
                }
            }
            Event::Reset if Some(id) == self.sock => self.reset = true,
            _ => {}
        }
    }

    /// Makes what progress it can; errors end the scenario.
    fn step(&mut self, ep: &mut Endpoint, now: Instant) -> Result<(), String> {
        let Some(id) = self.sock else {
            return Ok(());
        };
        if !self.connected(ep, id) {
            return Ok(());
        }
        let buf = &mut self.buf;
        while let Some(step) = self.script.get(self.step).copied() {
            match step {
                Step::Write(n) => {
                    while self.written < n {
                        let len = (n - self.written).min(buf.len() as u64) as usize;
                        fill_pattern(CORE_KEY, self.written, &mut buf[..len]);
                        let took = ep
                            .send(now, id, &buf[..len])
                            .map_err(|e| format!("core send at {}: {e}", self.written))?;
                        if took == 0 {
                            return Ok(());
                        }
                        self.written += took as u64;
                    }
                }
                Step::Read(n) => {
                    while self.read < n {
                        let want = (n - self.read).min(buf.len() as u64) as usize;
                        match ep.recv(id, &mut buf[..want]) {
                            Ok(0) => return Ok(()),
                            Ok(got) => {
                                check(CORE_READS, self.read, &buf[..got])?;
                                self.read += got as u64;
                            }
                            Err(e) => {
                                return Err(format!("core recv at {} of {n}: {e}", self.read))
                            }
                        }
                    }
                }
                Step::ReadToEof => loop {
                    match ep.recv(id, buf) {
                        Ok(0) => return Ok(()),
                        Ok(got) => {
                            check(CORE_READS, self.read, &buf[..got])?;
                            self.read += got as u64;
                        }
                        Err(UserError::ConnectionClosing) => {
                            if self.read != self.peer_total {
                                return Err(format!(
                                    "core read {} octets of {}",
                                    self.read, self.peer_total
                                ));
                            }
                            break;
                        }
                        Err(e) => return Err(format!("core recv at {}: {e}", self.read)),
                    }
                },
                Step::Close => ep.close(id).map_err(|e| format!("core close: {e}"))?,
                Step::Abort => ep.abort(id).map_err(|e| format!("core abort: {e}"))?,
                Step::ExpectReset => {
                    if !self.reset {
                        return Ok(());
                    }
                }
            }
            self.step += 1;
        }
        self.done = true;
        Ok(())
    }

    fn connected(&self, ep: &Endpoint, id: SocketId) -> bool {
        match ep.status(id) {
            Ok(s) => s.state != State::SynSent && s.state != State::SynReceived,
            Err(_) => true,
        }
    }
}

/// The TUN boundary: the device, the clock, and the network (`crate::net`) that applies the
/// fault model and writes the pcap. Host 0 of the network is synack-core, host 1 the kernel.
struct Boundary<'a> {
    tun: &'a tun::Device,
    start: WallClock,
    net: Network,
    lost: u64,
    duplicated: u64,
    /// Segments of synack-core carrying an option it should not send.
    bad_options: Vec<String>,
    /// What the kernel offered on its SYNs.
    kernel_offers: Vec<&'static str>,
    /// Receive buffer for the device.
    rx: Vec<u8>,
}

/// The network's host number of synack-core; the kernel is the other.
const CORE_HOST: usize = 0;

impl Boundary<'_> {
    fn now(&self) -> Instant {
        Instant::from_nanos(u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    /// A packet leaves its sender: the network records it and decides its fate; whatever is
    /// due now crosses at once.
    fn route(&mut self, ep: &mut Endpoint, to_kernel: bool, bytes: Vec<u8>) -> Result<(), String> {
        let now = self.now();
        self.inspect(to_kernel, &bytes);
        let from = if to_kernel { CORE_HOST } else { 1 - CORE_HOST };
        let sent = self.net.send(now, from, bytes, [None, None]);
        self.lost += u64::from(sent.decision.lost.is_some());
        self.duplicated += u64::from(sent.decision.copies.len() > 1);
        self.deliver_due(ep)
    }

    /// Hands every copy that is due to its receiver: the device for the kernel, the endpoint
    /// for synack-core.
    fn deliver_due(&mut self, ep: &mut Endpoint) -> Result<(), String> {
        let now = self.now();
        while let Some(a) = self.net.pop_due(now) {
            if a.to == CORE_HOST {
                ep.handle_packet(now, &a.bytes);
            } else {
                self.tun
                    .send(&a.bytes)
                    .map_err(|e| format!("write to {TUN_NAME}: {e}"))?;
            }
            self.net.arrived(now, a, [None, None]);
        }
        Ok(())
    }

    /// synack-core sends no option but MSS, and that only on a SYN (it declines window
    /// scaling, timestamps and SACK: RFC 7323 §1.3, §2.2, §3.2; RFC 2018 §2).
    fn inspect(&mut self, to_kernel: bool, bytes: &[u8]) {
        let Ok(p) = Packet::parse(bytes) else {
            return;
        };
        let syn = p.tcp.flags.contains(Flags::SYN);
        if to_kernel {
            for o in &p.tcp.options {
                let ok = matches!(o, TcpOption::Mss(_) if syn) || matches!(o, TcpOption::Nop);
                if !ok {
                    self.bad_options
                        .push(format!("synack-core sent {o:?} (SYN: {syn})"));
                }
            }
        } else {
            for o in &p.tcp.options {
                let name = match o {
                    TcpOption::WindowScale(_) => "window scaling",
                    TcpOption::Timestamps { .. } => "timestamps",
                    TcpOption::SackPermitted => "SACK-permitted",
                    TcpOption::Sack(_) => "SACK blocks",
                    _ => continue,
                };
                if syn {
                    if !self.kernel_offers.contains(&name) {
                        self.kernel_offers.push(name);
                    }
                } else {
                    // Declined on our SYN or SYN,ACK, so the kernel must not use it (RFC
                    // 7323 §3.2: no TSopt unless both SYNs had one; RFC 2018 §3: SACK only
                    // to a SACK-permitted peer).
                    self.bad_options.push(format!(
                        "the kernel sent {name} after synack-core declined it"
                    ));
                }
            }
        }
    }

    /// One turn: held packets that are due, timers, synack-core's output, then wait up to
    /// `max_wait` for a packet from the kernel.
    fn turn(&mut self, ep: &mut Endpoint, max_wait: Duration) -> Result<(), String> {
        self.deliver_due(ep)?;
        if ep.poll_timeout().is_some_and(|t| t <= self.now()) {
            ep.handle_timeout(self.now());
        }
        loop {
            let mut p = self.net.buffer();
            if !ep.poll_transmit_into(self.now(), &mut p) {
                self.net.recycle(p);
                break;
            }
            self.route(ep, true, p)?;
        }
        let now = self.now();
        let mut wait = max_wait;
        if let Some(t) = ep.poll_timeout() {
            wait = wait.min(t.saturating_since(now));
        }
        if let Some(t) = self.net.next_arrival() {
            wait = wait.min(t.saturating_since(now));
        }
        match self.tun.recv_timeout(&mut self.rx, wait) {
            Ok(n) => {
                let bytes = &self.rx[..n];
                // Only what is addressed to synack-core crosses, and an IPv4 packet that does
                // not parse (synack-core must drop and count it); the kernel's other chatter
                // (IPv6 router solicitations, say) is not ours.
                let ours = match Packet::parse(bytes) {
                    Ok(p) => p.ip.dst == CORE,
                    Err(_) => bytes.first().is_some_and(|v| v >> 4 == 4),
                };
                if ours {
                    let mut packet = self.net.buffer();
                    packet.extend_from_slice(bytes);
                    self.route(ep, false, packet)?;
                }
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(format!("read from {TUN_NAME}: {e}")),
        }
    }
}

/// What one scenario did.
struct Outcome {
    packets: u64,
    lost: u64,
    duplicated: u64,
    secs: f64,
    pcap: PathBuf,
    offers: Vec<&'static str>,
}

fn config() -> Config {
    Config {
        // Real time: TIME-WAIT of 2 × 250 ms, and Linux's 200 ms RTO floor rather than RFC
        // 6298's 1 s (2.4 says SHOULD), so that loss costs seconds, not minutes.
        msl: Duration::from_millis(250),
        rto_min: Duration::from_millis(200),
        ..Config::default()
    }
}

fn play(tun: &tun::Device, opts: &Options, index: usize, s: &Scenario) -> Result<Outcome, String> {
    let port = 5000 + index as u16 + 20 * u16::from(opts.faults != faults::Profile::None);
    let slug: String = s
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let pcap = opts.pcap_dir.join(format!(
        "interop-{}-{:02}-{slug}.pcap",
        opts.faults.name(),
        index
    ));
    let trace = Trace::new(&TraceOptions {
        pcap: Some(pcap.clone()),
        ..TraceOptions::default()
    })?;
    let (models, decider) = if opts.faults == faults::Profile::None {
        // No faults: every packet crosses at once.
        let now = Faults {
            delay: Duration::ZERO,
            ..Faults::none()
        };
        ([now.clone(), now], Decider::Numbered(Default::default()))
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
        rng.set_stream(index as u64);
        let mut model_rng = ChaCha8Rng::seed_from_u64(opts.seed);
        // The whole scenario is the fault phase.
        let models = opts.faults.models(&mut model_rng, SCENARIO_LIMIT);
        let heal = Instant::ZERO + SCENARIO_LIMIT;
        (models, Decider::Draw { rng, heal })
    };
    let mut b = Boundary {
        tun,
        start: WallClock::now(),
        net: Network::new(models, decider, false, trace),
        lost: 0,
        duplicated: 0,
        bad_options: Vec::new(),
        kernel_offers: Vec::new(),
        rx: vec![0; 65_536],
    };
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&opts.seed.to_le_bytes());
    key[8] = index as u8;
    let mut ep = Endpoint::new(config(), CORE, key);
    let (core_script, kernel_script) = scripts(s);
    let mut core = CoreSide {
        script: core_script,
        step: 0,
        listener: None,
        sock: None,
        written: 0,
        read: 0,
        peer_total: s.kernel_sends,
        buf: vec![0; 16 * 1024],
        reset: false,
        done: false,
    };
    let kernel: JoinHandle<Result<(), String>>;
    if s.core_is_client {
        let l = TcpListener::bind(SocketAddrV4::new(KERNEL, port))
            .map_err(|e| format!("kernel listen on {KERNEL}:{port}: {e}"))?;
        let script = kernel_script;
        let total = s.core_sends;
        kernel = std::thread::spawn(move || kernel_side(port, Some(l), script, total));
        let id = ep
            .connect(
                b.now(),
                SocketAddrV4::new(KERNEL, port),
                Some(40_000 + port),
            )
            .map_err(|e| format!("core connect: {e}"))?;
        core.sock = Some(id);
    } else {
        core.listener = Some(ep.listen(port).map_err(|e| format!("core listen: {e}"))?);
        let script = kernel_script;
        let total = s.core_sends;
        kernel = std::thread::spawn(move || kernel_side(port, None, script, total));
    }
    let deadline = WallClock::now() + SCENARIO_LIMIT;
    let mut kernel_result: Option<Result<(), String>> = None;
    let mut kernel = Some(kernel);
    loop {
        b.turn(&mut ep, Duration::from_millis(5))?;
        while let Some((id, e)) = ep.poll_event() {
            core.on_event(&mut ep, id, e);
        }
        core.step(&mut ep, b.now())?;
        if kernel.as_ref().is_some_and(JoinHandle::is_finished) {
            if let Some(h) = kernel.take() {
                kernel_result = Some(
                    h.join()
                        .unwrap_or_else(|_| Err("the kernel side panicked".into())),
                );
            }
        }
        if let Some(Err(e)) = &kernel_result {
            return Err(e.clone());
        }
        // Done when both scripts are, and synack-core holds no socket (TIME-WAIT over).
        if core.done && kernel_result.is_some() && ep.sockets().next().is_none() {
            break;
        }
        if WallClock::now() > deadline {
            let state = core
                .sock
                .and_then(|id| ep.status(id).ok())
                .map_or("no connection".to_string(), |s| s.state.to_string());
            return Err(format!(
                "not finished after {}s: synack-core at step {} of {:?} ({state}), kernel {}",
                SCENARIO_LIMIT.as_secs(),
                core.step,
                core.script,
                if kernel_result.is_some() {
                    "done"
                } else {
                    "not done"
                }
            ));
        }
    }
    if !b.bad_options.is_empty() {
        return Err(b.bad_options.join("; "));
    }
    let secs = b.start.elapsed().as_secs_f64();
    let (lost, duplicated, offers) = (b.lost, b.duplicated, b.kernel_offers.clone());
    let record = b.net.finish();
    let packets = record.packets;
    if let Some(e) = record.trace.pcap_error {
        return Err(format!("pcap: {e}"));
    }
    Ok(Outcome {
        packets,
        lost,
        duplicated,
        secs,
        pcap,
        offers,
    })
}

/// The inner run, inside the namespace: sets up the device and plays every scenario.
pub fn run_inside(opts: &Options) -> Result<bool, String> {
    let mut config = tun::Configuration::default();
    // tun's address calls take anything `ToAddress`.
    config
        .tun_name(TUN_NAME)
        .address(KERNEL)
        .netmask((255, 255, 255, 0))
        .mtu(1500)
        .up();
    let tun = tun::create(&config).map_err(|e| format!("cannot create {TUN_NAME}: {e}"))?;
    std::fs::create_dir_all(&opts.pcap_dir)
        .map_err(|e| format!("{}: {e}", opts.pcap_dir.display()))?;
    println!(
        "interop: the Linux kernel ({KERNEL}, {TUN_NAME}) and synack-core ({CORE}), faults {}, seed {}",
        opts.faults.name(),
        opts.seed
    );
    let mut failed = 0;
    let mut ran = 0;
    for (i, s) in scenarios(opts.bulk).iter().enumerate() {
        if opts
            .only
            .as_ref()
            .is_some_and(|o| !s.name.contains(o.as_str()))
        {
            continue;
        }
        ran += 1;
        match play(&tun, opts, i, s) {
            Ok(o) => println!(
                "  {:<24} passed: {} packets ({} lost, {} duplicated) in {:.2}s; {}; pcap {}",
                s.name,
                o.packets,
                o.lost,
                o.duplicated,
                o.secs,
                if o.offers.is_empty() {
                    "kernel's SYN,ACK: MSS only".to_string()
                } else {
                    format!("kernel's SYN offered {}, declined", o.offers.join(", "))
                },
                o.pcap.display()
            ),
            Err(e) => {
                failed += 1;
                println!("  {:<24} FAILED: {e}", s.name);
            }
        }
    }
    println!("{} passed, {failed} failed", ran - failed);
    Ok(failed == 0 && ran > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_ends_with_both_scripts_accounting_for_the_peers_stream() {
        for s in scenarios(1 << 20) {
            let (core, kernel) = scripts(&s);
            let reads = |script: &[Step], peer_total: u64| {
                script.contains(&Step::ReadToEof) || script.contains(&Step::Read(peer_total))
            };
            assert!(reads(&core, s.kernel_sends), "{}: {core:?}", s.name);
            assert!(reads(&kernel, s.core_sends), "{}: {kernel:?}", s.name);
            let ends = |script: &[Step]| {
                script
                    .iter()
                    .any(|st| matches!(st, Step::Close | Step::Abort | Step::ExpectReset))
            };
            assert!(ends(&core) && ends(&kernel), "{}", s.name);
        }
    }

    #[test]
    fn the_roles_are_played_both_ways() {
        let all = scenarios(1 << 20);
        for prefix in ["handshake", "bulk", "half-close", "close", "abort"] {
            let of: Vec<_> = all.iter().filter(|s| s.name.starts_with(prefix)).collect();
            assert_eq!(of.len(), 2, "{prefix}");
            assert_ne!(
                (of[0].core_is_client, of[0].ending),
                (of[1].core_is_client, of[1].ending),
                "{prefix}"
            );
        }
    }

    #[test]
    fn a_wrong_octet_is_caught() {
        let mut data = vec![0u8; 100];
        fill_pattern(CORE_KEY, 1000, &mut data);
        assert!(check(CORE_KEY, 1000, &data).is_ok());
        assert!(check(CORE_KEY, 1001, &data).is_err());
        data[57] ^= 1;
        assert_eq!(
            check(CORE_KEY, 1000, &data),
            Err("octet 1057 differs from what the peer wrote".into())
        );
    }
}
