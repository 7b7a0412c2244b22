//! The TUN boundary: the kernel as a host of the one event loop (`crate::sim::Run`), on the wall
//! clock, and the playing of one scenario across it.
//!
//! Host 0 of the loop is synack-core and host 1 is the kernel, reached through the TUN device:
//! what the network delivers to host 1 is written to the device, and what the kernel sends to
//! synack-core's address is read from it. The network (`crate::net`) applies the fault model,
//! writes the pcap and records the trace, as it does in the simulator. The kernel's own
//! application (`super::scenarios::kernel_side`) runs on a thread of its own with `std::net`.

use std::cell::RefCell;
use std::net::{SocketAddrV4, TcpListener};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant as WallInstant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use synack_core::wire::{Flags, Packet};
use synack_core::{Config, Endpoint, Event, Instant, SocketId, State, UserError};

use super::scenarios::{kernel_side, scripts, CoreSide, Scenario};
use super::{Options, CORE, KERNEL, SCENARIO_LIMIT, TUN_NAME};
use crate::net::faults::{self, Decision, Faults};
use crate::net::{Decider, Network, Summary};
use crate::sim::wire::{Violation, WireOracle};
use crate::sim::{Clock, Run, Users};
use crate::stacks::core::CoreStack;
use crate::stacks::{TcpStack, Transition};
use crate::trace::{Trace, TraceOptions};

/// The loop's host number of synack-core; the kernel is the other.
const CORE_HOST: usize = 0;

/// How far apart the wall clock may see two moments that the wire oracles take as one (an
/// arrival and the answer it prompts), or misjudge an interval: two waits on the device.
const WIRE_SLACK: Duration = Duration::from_millis(10);

/// How long the wall clock waits for the kernel at most before the loop looks again at what
/// else may have happened (the kernel's application finishing).
const TICK: Duration = Duration::from_millis(5);

/// The TUN device, shared by the kernel's host (which writes packets to it and reads them
/// from it) and the wall clock (which waits on it).
pub(super) struct Port {
    device: tun::Device,
    rx: RefCell<Vec<u8>>,
    /// A packet for synack-core that the clock read while it waited, for the host to take.
    pending: RefCell<Option<Vec<u8>>>,
    /// The first error of the device; it ends the scenario.
    error: RefCell<Option<String>>,
}

impl Port {
    pub(super) fn new(device: tun::Device) -> Port {
        Port {
            device,
            rx: RefCell::new(vec![0; 65_536]),
            pending: RefCell::new(None),
            error: RefCell::new(None),
        }
    }

    fn fail(&self, e: String) {
        self.error.borrow_mut().get_or_insert(e);
    }

    /// The packet for synack-core's address that a wait kept, if any.
    pub(super) fn take(&self) -> Option<Vec<u8>> {
        self.pending.borrow_mut().take()
    }

    /// Writes a packet to the device, for the kernel.
    pub(super) fn send(&self, bytes: &[u8]) {
        if let Err(e) = self.device.send(bytes) {
            self.fail(format!("write to {TUN_NAME}: {e}"));
        }
    }

    /// The device's first error, if any.
    pub(super) fn error(&self) -> Option<String> {
        self.error.borrow().clone()
    }

    /// Waits at most `wait` for a packet for synack-core and keeps it pending. Only what is
    /// addressed to synack-core crosses, and an IPv4 packet that does not parse (synack-core
    /// must drop and count it); the kernel's other chatter (IPv6 router solicitations, say)
    /// is not ours.
    pub(super) fn wait(&self, wait: Duration) {
        if self.pending.borrow().is_some() {
            return;
        }
        let mut rx = self.rx.borrow_mut();
        match self.device.recv_timeout(&mut rx, wait) {
            Ok(n) => {
                let bytes = &rx[..n];
                let ours = match Packet::parse(bytes) {
                    Ok(p) => p.ip.dst == CORE,
                    Err(_) => bytes.first().is_some_and(|v| v >> 4 == 4),
                };
                if ours {
                    *self.pending.borrow_mut() = Some(bytes.to_vec());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => self.fail(format!("read from {TUN_NAME}: {e}")),
        }
    }
}

/// The kernel, as a host of the event loop: its packets cross the TUN device. Its user calls
/// are made by its own application, through its sockets, so the harness cannot make them
/// here, and it reports no state changes (the harness cannot see the kernel's TCBs).
struct KernelHost {
    port: Rc<Port>,
}

/// The Linux kernel's defaults, as this harness leaves them: TIME-WAIT lasts `TCP_TIMEWAIT_LEN`
/// (60 s, so an MSL of 30 s); the RTO starts at `TCP_TIMEOUT_INIT` (1 s) and is kept between
/// `TCP_RTO_MIN` (200 ms) and `TCP_RTO_MAX` (120 s); a delayed ACK waits at most
/// `TCP_DELACK_MAX` (200 ms) (include/net/tcp.h). Challenge ACKs are limited by the sysctl
/// `net.ipv4.tcp_challenge_ack_limit`, per host rather than per connection.
pub const LINUX_PARAMETERS: crate::stacks::Parameters = crate::stacks::Parameters {
    msl: Duration::from_secs(30),
    rto_initial: Duration::from_secs(1),
    rto_min: Duration::from_millis(200),
    rto_max: Duration::from_secs(120),
    ack_delay: Duration::from_millis(200),
    challenge_ack_limit: None,
    // A jiffy at HZ=250; the wall clock's own slack covers it.
    granularity: Duration::from_millis(4),
};

impl TcpStack for KernelHost {
    fn parameters(&self) -> crate::stacks::Parameters {
        LINUX_PARAMETERS
    }
    fn name(&self) -> &str {
        "linux"
    }
    fn handle_packet(&mut self, _now: Instant, bytes: &[u8]) {
        if let Err(e) = self.port.device.send(bytes) {
            self.port.fail(format!("write to {TUN_NAME}: {e}"));
        }
    }
    fn poll_transmit(&mut self, _now: Instant, out: &mut Vec<u8>) -> bool {
        self.port.wait(Duration::ZERO);
        match self.port.pending.borrow_mut().take() {
            Some(p) => {
                out.clear();
                out.extend_from_slice(&p);
                true
            }
            None => false,
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_event(&mut self) -> Option<(SocketId, Event)> {
        None
    }
    fn drain_transitions(&mut self, _out: &mut Vec<Transition>) {}
    fn live_sockets(&self) -> usize {
        0
    }
    fn listen(&mut self, _port: u16) -> Result<SocketId, UserError> {
        Err(UserError::ConnectionDoesNotExist)
    }
    fn listen_to(&mut self, _port: u16, _remote: SocketAddrV4) -> Result<SocketId, UserError> {
        Err(UserError::ConnectionDoesNotExist)
    }
    fn connect(
        &mut self,
        _now: Instant,
        _remote: SocketAddrV4,
        _local_port: Option<u16>,
    ) -> Result<SocketId, UserError> {
        Err(UserError::ConnectionDoesNotExist)
    }
    fn accept(&mut self, _listener: SocketId) -> Result<Option<SocketId>, UserError> {
        Err(UserError::ConnectionDoesNotExist)
    }
    fn send(&mut self, _now: Instant, _id: SocketId, _data: &[u8]) -> Result<usize, UserError> {
        Err(UserError::ConnectionDoesNotExist)
    }
    fn recv(&mut self, _id: SocketId, _buf: &mut [u8]) -> Result<usize, UserError> {
        Err(UserError::ConnectionDoesNotExist)
    }
    fn close(&mut self, _id: SocketId) -> Result<(), UserError> {
        Err(UserError::ConnectionDoesNotExist)
    }
    fn abort(&mut self, _id: SocketId) -> Result<(), UserError> {
        Err(UserError::ConnectionDoesNotExist)
    }
    fn status(&self, _id: SocketId) -> Result<State, UserError> {
        Err(UserError::ConnectionDoesNotExist)
    }
    fn endpoints(&self, _id: SocketId) -> Option<(SocketAddrV4, SocketAddrV4)> {
        None
    }
    fn conn_state(&self, _local: SocketAddrV4, _remote: SocketAddrV4) -> Option<State> {
        None
    }
}

/// The wall clock, from the start of a scenario. It waits for the next event of ours, or for
/// a packet from the kernel, whichever comes first, and at most [`TICK`]. This is the one part
/// of synack whose time is the wall clock.
struct WallClock {
    start: WallInstant,
    port: Rc<Port>,
}

impl WallClock {
    fn now(&self) -> Instant {
        Instant::from_nanos(u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }
}

impl Clock for WallClock {
    fn advance(&mut self, _now: Instant, next: Option<Instant>) -> Option<Instant> {
        let wall = self.now();
        let until = next.map_or(wall + TICK, |n| n.min(wall + TICK));
        self.port.wait(until.saturating_since(wall));
        Some(self.now())
    }
}

/// The users of the two hosts: synack-core's side of the script, the kernel's application on
/// its thread, and the checks on what crosses.
struct Sides {
    core: CoreSide,
    kernel: Option<JoinHandle<Result<(), String>>>,
    kernel_done: bool,
    port: Rc<Port>,
    /// The first error of either side or of the device; it ends the scenario.
    error: Option<String>,
    /// The wire requirements (`crate::sim::wire`), checked on both sides' segments.
    wire: WireOracle,
    /// What they found in the kernel's segments: findings about Linux, reported, not failed.
    findings: Vec<String>,
    lost: u64,
    duplicated: u64,
    /// Segments carrying an option they should not.
    bad_options: Vec<String>,
    /// What the kernel offered on its SYNs.
    kernel_offers: Vec<&'static str>,
    /// Octets the kernel's application has handed its socket, counted by its thread.
    kernel_written: Arc<AtomicU64>,
}

impl Sides {
    /// synack-core sends no option but MSS, and that only on a SYN (it declines window
    /// scaling, timestamps and SACK: RFC 7323 §1.3, §2.2, §3.2; RFC 2018 §2). Reads the
    /// summary the network made when the packet left its sender.
    fn inspect(&mut self, to_kernel: bool, s: &Summary) {
        let syn = s.flags.contains(Flags::SYN);
        let o = &s.options;
        let mut seen = Vec::new();
        if o.window_scale.is_some() {
            seen.push("window scaling");
        }
        if o.timestamps.is_some() {
            seen.push("timestamps");
        }
        if o.sack_permitted {
            seen.push("SACK-permitted");
        }
        if o.sack_blocks > 0 {
            seen.push("SACK blocks");
        }
        if to_kernel {
            if o.mss.is_some() && !syn {
                seen.push("MSS");
            }
            if o.unknown > 0 {
                seen.push("an option of unknown kind");
            }
            for name in seen {
                self.bad_options
                    .push(format!("synack-core sent {name} (SYN: {syn})"));
            }
        } else if syn {
            for name in seen {
                if !self.kernel_offers.contains(&name) {
                    self.kernel_offers.push(name);
                }
            }
        } else {
            // Declined on our SYN or SYN,ACK, so the kernel must not use it (RFC 7323 §3.2: no
            // TSopt unless both SYNs had one; RFC 2018 §3: SACK only to a SACK-permitted
            // peer).
            for name in seen {
                self.bad_options.push(format!(
                    "the kernel sent {name} after synack-core declined it"
                ));
            }
        }
    }
}

impl Sides {
    /// A wire requirement that host `culprit` broke, seen at `segment`: synack-core's fail the
    /// scenario, the kernel's are findings about Linux.
    fn judge(&mut self, culprit: usize, segment: Option<&Summary>, v: Option<Violation>) {
        let Some(v) = v else { return };
        let at = segment.map(|s| format!("{s}: ")).unwrap_or_default();
        let text = format!("wire requirement {}: {at}{}", v.requirement, v.message);
        if culprit == CORE_HOST {
            self.error
                .get_or_insert(format!("synack-core broke a {text}"));
        } else if self.findings.len() < 5 {
            let why = crate::stacks::known::ALL
                .into_iter()
                .find(|d| d.stack == "linux" && d.requirements.contains(&v.requirement))
                .map(|d| format!(" (known difference {})", d.id))
                .unwrap_or_default();
            self.findings
                .push(format!("the kernel broke a {text}{why}"));
        }
    }
}

impl Users for Sides {
    fn act(&mut self, now: Instant, stacks: &mut crate::sim::apps::Stacks, _net: &mut Network) {
        if self.error.is_some() {
            return;
        }
        let core = &mut *stacks[CORE_HOST];
        while let Some((id, e)) = core.poll_event() {
            self.core.on_event(core, id, e);
        }
        if let Err(e) = self.core.step(core, now) {
            self.error = Some(e);
        }
        if self.kernel.as_ref().is_some_and(JoinHandle::is_finished) {
            if let Some(h) = self.kernel.take() {
                let result = h
                    .join()
                    .unwrap_or_else(|_| Err("the kernel side panicked".into()));
                self.kernel_done = true;
                if let Err(e) = result {
                    self.error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = self.port.error.borrow_mut().take() {
            self.error.get_or_insert(e);
        }
    }

    fn sent(
        &mut self,
        now: Instant,
        from: usize,
        segment: &Summary,
        data: &[u8],
        decision: &Decision,
        _stacks: &crate::sim::apps::Stacks,
    ) {
        self.lost += u64::from(decision.lost.is_some());
        self.duplicated += u64::from(decision.copies.len() > 1);
        self.inspect(from == CORE_HOST, segment);
        // What the sender's application had written, for MUST-38 and MUST-36. The kernel's
        // application writes on its own thread, so when a write was taken is not known here,
        // and the override timeout (timed from the write) is not judged.
        let written = if from == CORE_HOST {
            self.core.written
        } else {
            self.kernel_written.load(Ordering::Relaxed)
        };
        self.wire.wrote(None, segment.src, segment.dst, written);
        let v = self.wire.sent(now, from, segment, data);
        self.judge(from, Some(segment), v);
    }

    fn malformed(&mut self, _now: Instant, from: usize, err: &synack_core::wire::WireError) {
        let v = self.wire.malformed(from, err);
        self.judge(from, None, Some(v));
    }

    fn arriving(
        &mut self,
        now: Instant,
        to: usize,
        segment: &Summary,
        stacks: &crate::sim::apps::Stacks,
    ) {
        // Only synack-core's states can be seen; what the kernel holds is its own.
        let state = (to == CORE_HOST).then(|| {
            crate::net::state_at(crate::sim::stacks_of(stacks), to, 1 - to, segment)
                .unwrap_or(State::Closed)
        });
        let (_, v) = self.wire.arrived(now, to, segment, state);
        self.judge(to, Some(segment), v);
    }

    fn transition(
        &mut self,
        now: Instant,
        host: usize,
        t: &crate::stacks::Transition,
        timer: bool,
        stacks: &crate::sim::apps::Stacks,
    ) {
        let sockets = stacks[host].endpoints(t.socket);
        let v = self.wire.transition(now, host, t, timer, sockets);
        self.judge(host, None, v);
    }

    /// Done when both scripts are, and synack-core holds no socket (TIME-WAIT over).
    fn finished(&mut self, _now: Instant, stacks: &crate::sim::apps::Stacks) -> bool {
        self.error.is_some()
            || (self.core.done && self.kernel_done && stacks[CORE_HOST].live_sockets() == 0)
    }

    fn stalled(&mut self, _now: Instant, _why: &str, stacks: &crate::sim::apps::Stacks) {
        let state = self.core.sock.map_or("no connection".to_string(), |id| {
            stacks[CORE_HOST].state(id).to_string()
        });
        self.error.get_or_insert(format!(
            "not finished after {}s: synack-core at step {} of {:?} ({state}), kernel {}",
            SCENARIO_LIMIT.as_secs(),
            self.core.step,
            self.core.script,
            if self.kernel_done { "done" } else { "not done" }
        ));
    }
}

/// What one scenario did.
#[derive(Debug)]
pub struct Outcome {
    /// Packets that crossed the device, both ways.
    pub packets: u64,
    /// Packets the fault model dropped.
    pub lost: u64,
    /// Packets it duplicated.
    pub duplicated: u64,
    /// Wall-clock seconds the scenario took.
    pub secs: f64,
    /// The pcap of both directions.
    pub pcap: PathBuf,
    /// What the kernel offered on its SYNs (synack-core declined it all).
    pub offers: Vec<&'static str>,
    /// Wire requirements the kernel's segments broke (the first few): findings about Linux.
    pub findings: Vec<String>,
    /// How many segments each wire requirement was checked on.
    pub requirement_checks: std::collections::BTreeMap<&'static str, u64>,
}

impl Outcome {
    /// One line: packets and faults, time, what the kernel offered, the wire checks, the pcap.
    pub fn summary(&self) -> String {
        let checks: Vec<String> = self
            .requirement_checks
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        format!(
            "{} packets ({} lost, {} duplicated) in {:.2}s; {}; wire checks {}; pcap {}",
            self.packets,
            self.lost,
            self.duplicated,
            self.secs,
            if self.offers.is_empty() {
                "kernel's SYN,ACK: MSS only".to_string()
            } else {
                format!("kernel's SYN offered {}, declined", self.offers.join(", "))
            },
            if checks.is_empty() {
                "none (no data)".to_string()
            } else {
                checks.join(", ")
            },
            self.pcap.display()
        )
    }
}

fn config() -> Config {
    Config {
        // Real time: TIME-WAIT of 2 × 250 ms, and Linux's 200 ms RTO floor rather than RFC
        // 6298's 1 s (2.4 says SHOULD), so that loss costs seconds, not minutes.
        msl: Duration::from_millis(250),
        rto_min: Duration::from_millis(200),
        // The state changes go to the trace, as in the simulator.
        record_log: true,
        ..Config::default()
    }
}

pub(super) fn play(
    port: &Rc<Port>,
    opts: &Options,
    index: usize,
    s: &Scenario,
) -> Result<Outcome, String> {
    let tcp_port = 5000 + index as u16 + 20 * u16::from(opts.faults != faults::Profile::None);
    let slug: String = s
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let pcap = opts.pcap_dir.join(format!(
        "interop-{}-{:02}-{slug}.pcapng",
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
        (
            [now.clone(), now],
            Decider::Numbered {
                decisions: Default::default(),
                until: Instant::ZERO,
            },
        )
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
        rng.set_stream(index as u64);
        let mut model_rng = ChaCha8Rng::seed_from_u64(opts.seed);
        // The whole scenario is the fault phase.
        let models = opts.faults.models(&mut model_rng, SCENARIO_LIMIT);
        let heal = Instant::ZERO + SCENARIO_LIMIT;
        (
            models,
            Decider::Draw {
                rng: Box::new(rng),
                heal,
            },
        )
    };
    port.pending.borrow_mut().take();
    port.error.borrow_mut().take();
    let mut clock = WallClock {
        start: WallInstant::now(),
        port: Rc::clone(port),
    };
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&opts.seed.to_le_bytes());
    key[8] = index as u8;
    let mut core: Box<dyn TcpStack> = Box::new(CoreStack::new(Endpoint::new(config(), CORE, key)));
    let (core_script, kernel_script) = scripts(s);
    let mut side = CoreSide {
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
    let total = s.core_sends;
    let kernel_written = Arc::new(AtomicU64::new(0));
    if s.core_is_client {
        let l = TcpListener::bind(SocketAddrV4::new(KERNEL, tcp_port))
            .map_err(|e| format!("kernel listen on {KERNEL}:{tcp_port}: {e}"))?;
        let count = Arc::clone(&kernel_written);
        kernel = std::thread::spawn(move || {
            kernel_side(tcp_port, Some(l), kernel_script, total, &count)
        });
        let id = core
            .connect(
                clock.now(),
                SocketAddrV4::new(KERNEL, tcp_port),
                Some(40_000 + tcp_port),
            )
            .map_err(|e| format!("core connect: {e}"))?;
        side.sock = Some(id);
    } else {
        side.listener = Some(
            core.listen(tcp_port)
                .map_err(|e| format!("core listen: {e}"))?,
        );
        let count = Arc::clone(&kernel_written);
        kernel =
            std::thread::spawn(move || kernel_side(tcp_port, None, kernel_script, total, &count));
    }
    let mut run = Run {
        now: clock.now(),
        stacks: [
            core,
            Box::new(KernelHost {
                port: Rc::clone(port),
            }),
        ],
        net: Network::new(models, decider, false, trace),
    };
    let mut sides = Sides {
        core: side,
        kernel: Some(kernel),
        kernel_done: false,
        port: Rc::clone(port),
        error: None,
        // The wall clock reads a packet up to one wait (5 ms) after it crossed, and a step may
        // take a little longer again.
        wire: WireOracle::new(run.stacks.each_ref().map(|s| s.parameters()), WIRE_SLACK),
        findings: Vec::new(),
        lost: 0,
        duplicated: 0,
        bad_options: Vec::new(),
        kernel_offers: Vec::new(),
        kernel_written,
    };
    run.run_on(&mut clock, &mut sides, Instant::ZERO + SCENARIO_LIMIT);
    let secs = clock.start.elapsed().as_secs_f64();
    let record = run.net.finish();
    if let Some(e) = sides.error {
        return Err(e);
    }
    if !sides.bad_options.is_empty() {
        return Err(sides.bad_options.join("; "));
    }
    if let Some(e) = record.trace.pcap_error {
        return Err(format!("pcap: {e}"));
    }
    Ok(Outcome {
        packets: record.packets,
        lost: sides.lost,
        duplicated: sides.duplicated,
        secs,
        pcap,
        offers: sides.kernel_offers,
        findings: sides.findings,
        requirement_checks: sides.wire.checks(),
    })
}
