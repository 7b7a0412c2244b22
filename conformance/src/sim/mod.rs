//! The seeded discrete-event network simulator.
//!
//! This module owns a run: two hosts (A, the client, at 10.0.0.1; B, the server, at 10.0.0.2),
//! each a `TcpStack` with its applications, joined by a link whose two directions have their
//! own `Faults`. Events are ordered by virtual time, then by the order they were scheduled;
//! time jumps to the next event, so waiting out TIME-WAIT or an RTO backoff costs nothing.
//!
//! A run has one seed. Separate ChaCha streams, all derived from it, draw the fault models and
//! the fault phase, the per-packet fault decisions, the workload, and the ISN keys, so that
//! changing how one is drawn does not reshuffle the others. The network is faulty for the
//! drawn fault phase, then heals; every connection must then finish within
//! [`LIVENESS_BOUND`].

pub mod faults;
pub mod known;
pub mod oracle;
pub mod stack;
pub mod workload;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use synack_core::{Config, Endpoint, Event, Instant, SocketId, State, UserError};

use crate::trace::{notation, state_name, Trace, TraceEvent, TraceOptions};
use faults::{Decision, LinkState, PacketKey, Schedule};
use oracle::{Failure, Oracle};
use stack::{CoreStack, TcpStack};
use workload::{fill_pattern, pattern_byte, ConnPlan, Kind, Script, Step, Workload};

/// After the network heals, every connection must be CLOSED within this much virtual time: the
/// largest RTO (60 s) before the first retransmission after the heal, the transfers themselves,
/// and 2×MSL (240 s) of TIME-WAIT, with room to spare.
pub const LIVENESS_BOUND: Duration = Duration::from_secs(600);

/// How many distinct packet identities a run remembers for `PacketKey::occurrence`. A packet
/// sent again after this many others restarts its count, the same way in every replay.
const SEEN_LIMIT: usize = 4096;

/// Client (TCP A) and server (TCP B) addresses.
pub const ADDRS: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)];

/// Stream numbers of the run's ChaCha generators.
mod streams {
    pub const NETWORK: u64 = 0;
    pub const FAULTS: u64 = 1;
    pub const WORKLOAD: u64 = 2;
    pub const ISN: u64 = 3;
}

/// Everything that decides a run.
#[derive(Clone, Debug, Serialize)]
pub struct RunSpec {
    /// The seed.
    pub seed: u64,
    /// The fault profile.
    pub faults: faults::Profile,
    /// The TCP profile of both stacks.
    #[serde(serialize_with = "profile_name")]
    pub profile: synack_core::Profile,
    /// The workload kind; drawn from the seed when `None`.
    pub workload: Option<Kind>,
    /// Largest transfer of a drawn workload, in octets.
    pub max_bytes: u64,
    /// Replay these fault decisions instead of drawing them (packets not listed are delivered
    /// intact and on time).
    #[serde(skip)]
    pub schedule: Option<Schedule>,
    /// A fixed workload, overriding the drawn one.
    #[serde(skip)]
    pub fixed: Option<Workload>,
    /// Explicit decisions by packet number (the order packets entered the network), for the
    /// `sim` fuzz target: packets past the list are delivered intact and on time.
    #[serde(skip)]
    pub decisions: Option<Vec<Decision>>,
}

impl RunSpec {
    /// A run of `seed` under `faults` with the defaults: RFC 9293, a drawn workload, transfers
    /// up to 4 MiB.
    pub fn new(seed: u64, faults: faults::Profile) -> RunSpec {
        RunSpec {
            seed,
            faults,
            profile: synack_core::Profile::Rfc9293,
            workload: None,
            max_bytes: 4 << 20,
            schedule: None,
            fixed: None,
            decisions: None,
        }
    }
}

/// What a run produced.
#[derive(Debug, Serialize)]
pub struct RunResult {
    /// The seed.
    pub seed: u64,
    /// The workload that ran.
    pub workload: Kind,
    /// Its full plan, for regression files.
    #[serde(skip)]
    pub plan: Workload,
    /// Connections in the workload.
    pub connections: usize,
    /// Octets the applications wrote, both ways.
    pub bytes: u64,
    /// The first failed oracle, if any.
    pub failure: Option<Failure>,
    /// BLAKE3 of the trace.
    pub trace_hash: String,
    /// Packets sent by both hosts.
    pub packets: u64,
    /// Packets that suffered a fault.
    pub faults: usize,
    /// Virtual time at the end.
    pub end_ns: u64,
    /// When the network healed.
    pub heal_ns: u64,
    /// The fault decisions made (non-default ones only), if `TraceOptions::keep_schedule`.
    #[serde(skip)]
    pub schedule: Schedule,
    /// The trace events, if kept.
    #[serde(skip)]
    pub events: Vec<TraceEvent>,
    /// How often each state change happened.
    #[serde(skip)]
    pub transitions: BTreeMap<(State, State), u64>,
    /// How often each reference-table cell was exercised: the state a connection was in and
    /// the event it met (segments classified against the receiver's own variables, as the
    /// simulator sees them on the wire).
    #[serde(skip)]
    pub cells: BTreeMap<(State, crate::rfc::Event), u64>,
    /// Every packet on the wire, if `TraceOptions::keep_packets`.
    #[serde(skip)]
    pub wire: Vec<Vec<u8>>,
    /// Known differences from the RFCs the stacks showed (ids, see `known`).
    pub known: Vec<&'static str>,
    /// The known difference that explains the failure, if one does: the run failed as
    /// expected.
    pub expected: Option<&'static str>,
}

/// Builds the stack of a host: `host` is 0 (A) or 1 (B).
pub type StackFactory<'a> = &'a dyn Fn(usize, Config, [u8; 16]) -> Box<dyn TcpStack>;

/// synack-core on both hosts.
pub fn core_stack(host: usize, config: Config, isn_key: [u8; 16]) -> Box<dyn TcpStack> {
    Box::new(CoreStack::new(Endpoint::new(config, ADDRS[host], isn_key)))
}

fn profile_name<S: serde::Serializer>(p: &synack_core::Profile, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.name())
}

fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

fn splitmix(z: u64) -> u64 {
    workload::mix64(z.wrapping_add(workload::GOLDEN_GAMMA))
}

/// The states, on A and on B, of the connection a packet belongs to: each host's view of the
/// packet's 4-tuple (`None` where it has neither a connection nor a listener for it).
pub fn connection_states(stacks: [&dyn TcpStack; 2], bytes: &[u8]) -> [Option<String>; 2] {
    let Ok(p) = synack_core::wire::Packet::parse(bytes) else {
        return [None, None];
    };
    let src = SocketAddrV4::new(p.ip.src, p.tcp.src_port);
    let dst = SocketAddrV4::new(p.ip.dst, p.tcp.dst_port);
    let mut out = [None, None];
    for (h, slot) in out.iter_mut().enumerate() {
        let (local, remote) = if *src.ip() == ADDRS[h] {
            (src, dst)
        } else {
            (dst, src)
        };
        *slot = stacks[h].conn_state(local, remote).map(state_name);
    }
    out
}

/// One side of one connection.
struct App {
    conn: usize,
    host: usize,
    script: Script,
    step: usize,
    socket: Option<SocketId>,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    written: u64,
    read: u64,
    /// Octets the peer will write in all.
    expect: u64,
    eof: bool,
    /// The connection has been established: the script may run. Like a blocking connect(),
    /// an application waits for this (a CLOSE in SYN-SENT would delete the connection).
    connected: bool,
    /// The socket is a fully specified passive OPEN that the first SEND turns active.
    opens_by_send: bool,
    reset: bool,
    aborted: bool,
    closed: bool,
    key_out: u64,
    key_in: u64,
    chunks: ChaCha8Rng,
    buf: Vec<u8>,
}

impl App {
    fn script_done(&self) -> bool {
        self.step >= self.script.steps.len()
    }

    fn describe(&self) -> String {
        let (a, b) = if self.host == 0 {
            (self.local, self.remote)
        } else {
            (self.remote, self.local)
        };
        format!("A {a} <-> B {b}")
    }
}

struct Host {
    stack: Box<dyn TcpStack>,
    listener: Option<SocketId>,
    to_accept: usize,
}

/// A packet copy in flight.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Flight {
    at: Instant,
    order: u64,
    n: u64,
    to: usize,
    corrupted: bool,
    bytes: Vec<u8>,
}

struct Sim<'a> {
    spec: &'a RunSpec,
    now: Instant,
    hosts: Vec<Host>,
    apps: Vec<App>,
    queue: BinaryHeap<Reverse<Flight>>,
    order: u64,
    packets: u64,
    models: [faults::Faults; 2],
    links: [LinkState; 2],
    network: ChaCha8Rng,
    heal: Instant,
    schedule: Schedule,
    keep_schedule: bool,
    faulty: usize,
    /// Packets sent so far with each (from, seq, ctl, len), for `PacketKey::occurrence`, for
    /// the last `SEEN_LIMIT` distinct keys (oldest forgotten first, so memory stays flat
    /// however long the transfer).
    seen: BTreeMap<(u8, u32, u8, u32), u32>,
    seen_order: std::collections::VecDeque<(u8, u32, u8, u32)>,
    trace: Trace,
    failure: Option<Failure>,
    transitions: BTreeMap<(State, State), u64>,
    cells: BTreeMap<(State, crate::rfc::Event), u64>,
    /// Each host's own variables for each of its connections, as seen on the wire.
    views: BTreeMap<(usize, SocketAddrV4, SocketAddrV4), View>,
    /// Whether a host's timers ran in the current step.
    timer_fired: [bool; 2],
}

/// A host's variables for one connection, from the segments it sent and received.
#[derive(Clone, Copy, Default)]
struct View {
    snd_una: Option<u32>,
    snd_nxt: Option<u32>,
    rcv_nxt: Option<u32>,
    rcv_wnd: u32,
}

/// Runs one seed with synack-core on both hosts.
pub fn run(spec: &RunSpec, trace: &TraceOptions) -> Result<RunResult, String> {
    run_with(spec, trace, &core_stack)
}

/// Runs one seed with the given stacks.
pub fn run_with(
    spec: &RunSpec,
    trace: &TraceOptions,
    factory: StackFactory<'_>,
) -> Result<RunResult, String> {
    let mut fault_rng = rng(spec.seed, streams::FAULTS);
    let fault_phase = Duration::from_millis(fault_rng.random_range(1_000..60_000));
    let models = spec.faults.models(&mut fault_rng, fault_phase);
    let mut workload_rng = rng(spec.seed, streams::WORKLOAD);
    let workload = spec
        .fixed
        .clone()
        .unwrap_or_else(|| Workload::draw(&mut workload_rng, spec.workload, spec.max_bytes));
    let mut isn_rng = rng(spec.seed, streams::ISN);
    let config = Config {
        profile: spec.profile,
        record_log: true,
        ..Config::default()
    };
    let hosts: Vec<Host> = (0..2)
        .map(|h| {
            let mut key = [0u8; 16];
            isn_rng.fill(&mut key);
            Host {
                stack: factory(h, config.clone(), key),
                listener: None,
                to_accept: 0,
            }
        })
        .collect();
    let heal = if spec.faults == faults::Profile::None {
        Instant::ZERO
    } else {
        Instant::ZERO + fault_phase
    };
    let mut sim = Sim {
        spec,
        now: Instant::ZERO,
        hosts,
        apps: Vec::new(),
        queue: BinaryHeap::new(),
        order: 0,
        packets: 0,
        models,
        links: [LinkState::new(), LinkState::new()],
        network: rng(spec.seed, streams::NETWORK),
        heal,
        schedule: Schedule::new(),
        keep_schedule: trace.keep_schedule,
        faulty: 0,
        seen: BTreeMap::new(),
        seen_order: std::collections::VecDeque::new(),
        trace: Trace::new(trace)?,
        failure: None,
        transitions: BTreeMap::new(),
        cells: BTreeMap::new(),
        views: BTreeMap::new(),
        timer_fired: [false; 2],
    };
    sim.start(&workload, &mut workload_rng);
    sim.run_loop();
    let mut known: Vec<&'static known::KnownDifference> = Vec::new();
    for h in &sim.hosts {
        for d in h.stack.known_differences() {
            if !known.contains(&d) {
                known.push(d);
            }
        }
    }
    let expected = sim
        .failure
        .as_ref()
        .and_then(|f| known::explain(f, &known))
        .map(|d| d.id);
    let packets = sim.trace.take_packets();
    let (trace_hash, events, pcap_error) = sim.trace.finish();
    if let Some(e) = pcap_error {
        return Err(format!("pcap: {e}"));
    }
    Ok(RunResult {
        seed: spec.seed,
        workload: workload.kind,
        plan: workload.clone(),
        connections: workload.conns.len(),
        bytes: workload.total_bytes(),
        failure: sim.failure,
        trace_hash,
        packets: sim.packets,
        faults: sim.faulty,
        end_ns: sim.now.as_nanos(),
        heal_ns: heal.as_nanos(),
        schedule: sim.schedule,
        events,
        transitions: sim.transitions,
        cells: sim.cells,
        wire: packets,
        known: known.iter().map(|d| d.id).collect(),
        expected,
    })
}

impl Sim<'_> {
    fn fail(&mut self, oracle: Oracle, connection: Option<String>, message: String) {
        if self.failure.is_none() {
            self.failure = Some(Failure {
                oracle,
                at_ns: self.now.as_nanos(),
                connection,
                message,
            });
        }
    }

    fn new_app(&self, conn: usize, host: usize, plan: &ConnPlan, wl_rng: &mut ChaCha8Rng) -> App {
        let (script, peer) = if host == 0 {
            (plan.client.clone(), &plan.server)
        } else {
            (plan.server.clone(), &plan.client)
        };
        let client = SocketAddrV4::new(ADDRS[0], plan.client_port);
        let server = SocketAddrV4::new(ADDRS[1], workload::SERVER_PORT);
        let (local, remote) = if host == 0 {
            (client, server)
        } else {
            (server, client)
        };
        let key = |dir: u64| splitmix(self.spec.seed ^ splitmix(conn as u64 * 2 + dir));
        App {
            conn,
            host,
            buf: vec![0; script.write_chunk.max(script.read_chunk) as usize],
            script,
            step: 0,
            socket: None,
            local,
            remote,
            written: 0,
            read: 0,
            expect: peer.total_written(),
            eof: false,
            connected: false,
            opens_by_send: false,
            reset: false,
            aborted: false,
            closed: false,
            key_out: key(host as u64),
            key_in: key(1 - host as u64),
            chunks: ChaCha8Rng::seed_from_u64(wl_rng.random()),
        }
    }

    fn start(&mut self, workload: &Workload, wl_rng: &mut ChaCha8Rng) {
        let simultaneous = matches!(workload.kind, Kind::SimultaneousOpen | Kind::EarlyClose);
        let passive_send = workload.kind == Kind::PassiveSend;
        for (i, plan) in workload.conns.iter().enumerate() {
            let client = self.new_app(i, 0, plan, wl_rng);
            let server = self.new_app(i, 1, plan, wl_rng);
            self.apps.push(client);
            self.apps.push(server);
        }
        if passive_send {
            // A listens; B's passive OPEN names A, and B's first SEND makes it active.
            self.count(State::Closed, crate::rfc::Event::PassiveOpen);
            let port = self.apps[0].local.port();
            match self.hosts[0].stack.listen(port) {
                Ok(l) => {
                    self.hosts[0].listener = Some(l);
                    self.hosts[0].to_accept = 1;
                }
                Err(e) => self.fail(Oracle::Liveness, None, format!("A cannot listen: {e}")),
            }
            self.count(State::Closed, crate::rfc::Event::PassiveOpen);
            let (local, remote) = (self.apps[1].local, self.apps[1].remote);
            match self.hosts[1].stack.listen_to(local.port(), remote) {
                Ok(id) => {
                    self.apps[1].socket = Some(id);
                    self.apps[1].opens_by_send = true;
                }
                Err(e) => self.fail(Oracle::Liveness, None, format!("B cannot listen: {e}")),
            }
            return;
        }
        if !simultaneous {
            self.count(State::Closed, crate::rfc::Event::PassiveOpen);
            match self.hosts[1].stack.listen(workload::SERVER_PORT) {
                Ok(l) => {
                    self.hosts[1].listener = Some(l);
                    self.hosts[1].to_accept = workload.conns.iter().filter(|c| c.accepted).count();
                }
                Err(e) => self.fail(Oracle::Liveness, None, format!("B cannot listen: {e}")),
            }
        }
        for k in 0..self.apps.len() {
            let (host, local, remote) =
                (self.apps[k].host, self.apps[k].local, self.apps[k].remote);
            if host == 0 || simultaneous {
                let now = self.now;
                self.count(State::Closed, crate::rfc::Event::ActiveOpen);
                match self.hosts[host]
                    .stack
                    .connect(now, remote, Some(local.port()))
                {
                    Ok(id) => self.apps[k].socket = Some(id),
                    Err(e) => {
                        let c = self.apps[k].describe();
                        self.fail(Oracle::Liveness, Some(c), format!("OPEN refused: {e}"));
                    }
                }
            }
        }
    }

    fn all_done(&self) -> bool {
        self.apps
            .iter()
            .all(|a| a.script_done() || a.reset || a.aborted)
            && self.apps.iter().all(|a| {
                a.socket
                    .is_none_or(|id| self.hosts[a.host].stack.state(id) == State::Closed)
            })
            && self.hosts.iter().all(|h| h.listener.is_none())
    }

    fn run_loop(&mut self) {
        let bound = self.heal + LIVENESS_BOUND;
        loop {
            self.drive_apps();
            self.timer_fired = [false; 2];
            self.transmit();
            self.observe_transitions();
            if self.failure.is_some() {
                return;
            }
            if self.all_done() {
                self.check_orderly_close();
                return;
            }
            let next_flight = self.queue.peek().map(|f| f.0.at);
            let next_timer = self
                .hosts
                .iter()
                .filter_map(|h| h.stack.poll_timeout())
                .min();
            let next = match (next_flight, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => {
                        self.liveness("nothing left to happen (no packet in flight, no timer)");
                        return;
                    }
                },
            };
            if next > bound {
                self.now = bound;
                self.liveness(&format!(
                    "not finished {}s after the network healed",
                    LIVENESS_BOUND.as_secs()
                ));
                return;
            }
            self.now = self.now.max(next);
            if next_flight.is_some_and(|t| t <= self.now) {
                if let Some(Reverse(f)) = self.queue.pop() {
                    self.deliver(f);
                }
            } else {
                for h in 0..self.hosts.len() {
                    if self.hosts[h]
                        .stack
                        .poll_timeout()
                        .is_some_and(|t| t <= self.now)
                    {
                        self.count_timeout(h);
                        self.hosts[h].stack.handle_timeout(self.now);
                    }
                }
            }
        }
    }

    fn liveness(&mut self, why: &str) {
        let stuck = self
            .apps
            .iter()
            .find(|a| {
                !(a.script_done() || a.reset || a.aborted)
                    || a.socket
                        .is_some_and(|id| self.hosts[a.host].stack.state(id) != State::Closed)
            })
            .map(|a| {
                let state = a
                    .socket
                    .map_or(State::Closed, |id| self.hosts[a.host].stack.state(id));
                (
                    a.describe(),
                    format!(
                        "{}: {} in {} at step {} of {:?}, wrote {} read {} of {}",
                        why,
                        crate::trace::HOST_NAMES[a.host],
                        state,
                        a.step,
                        a.script.steps,
                        a.written,
                        a.read,
                        a.expect
                    ),
                )
            });
        match stuck {
            Some((c, m)) => self.fail(Oracle::Liveness, Some(c), m),
            None => self.fail(
                Oracle::Liveness,
                None,
                format!("{why}: a listener is still open"),
            ),
        }
    }

    fn deliver(&mut self, f: Flight) {
        if !f.corrupted {
            self.classify_arrival(f.to, &f.bytes);
        }
        self.hosts[f.to].stack.handle_packet(self.now, &f.bytes);
        let states = self.states_of(&f.bytes);
        self.trace.record(
            TraceEvent::Arrived {
                n: f.n,
                at_ns: self.now.as_nanos(),
                to: f.to,
                corrupted: f.corrupted,
                states,
            },
            None,
        );
    }

    /// The states, on A and on B, of the connection a packet belongs to.
    fn states_of(&self, bytes: &[u8]) -> [Option<String>; 2] {
        connection_states([&*self.hosts[0].stack, &*self.hosts[1].stack], bytes)
    }

    fn transmit(&mut self) {
        for h in 0..self.hosts.len() {
            while let Some(bytes) = self.hosts[h].stack.poll_transmit(self.now) {
                self.send(h, bytes);
            }
        }
    }

    fn send(&mut self, from: usize, bytes: Vec<u8>) {
        let n = self.packets;
        self.packets += 1;
        self.note_sent(from, &bytes);
        let key = self.key(from, &bytes);
        let decision = match (&self.spec.decisions, &self.spec.schedule) {
            (Some(list), _) => list
                .get(n as usize)
                .cloned()
                .unwrap_or_else(Decision::deliver),
            (None, Some(schedule)) => schedule
                .get(&key)
                .cloned()
                .unwrap_or_else(Decision::deliver),
            (None, None) if self.now < self.heal => faults::draw(
                &self.models[from],
                &mut self.links[from],
                &mut self.network,
                self.now,
                bytes.len(),
            ),
            (None, None) => Decision::deliver(),
        };
        if decision.is_fault() {
            self.faulty += 1;
            if self.keep_schedule {
                self.schedule.insert(key, decision.clone());
            }
        }
        let sender_state = self.states_of(&bytes)[from].clone();
        self.trace.record(
            TraceEvent::Sent {
                n,
                at_ns: self.now.as_nanos(),
                from,
                segment: notation(&bytes),
                len: bytes.len(),
                decision: decision.clone(),
                sender_state,
            },
            Some(&bytes),
        );
        if decision.copies.is_empty() {
            self.trace.wire(self.now, &bytes);
        }
        for copy in &decision.copies {
            let mut b = bytes.clone();
            if let Some(bit) = copy.flip_bit {
                faults::flip(&mut b, bit);
            }
            self.trace.wire(self.now, &b);
            let at = self.now + self.models[from].delay + Duration::from_micros(copy.extra_us);
            self.order += 1;
            self.queue.push(Reverse(Flight {
                at,
                order: self.order,
                n,
                to: 1 - from,
                corrupted: copy.flip_bit.is_some(),
                bytes: b,
            }));
        }
    }

    fn count(&mut self, state: State, event: crate::rfc::Event) {
        *self.cells.entry((state, event)).or_insert(0) += 1;
    }

    /// A host's timers are about to run: the connections that can have a retransmission timer
    /// pending meet a retransmission timeout (TIME-WAIT's and the user timeout's are counted
    /// from their effects).
    fn count_timeout(&mut self, h: usize) {
        self.timer_fired[h] = true;
        let states: Vec<State> = self
            .apps
            .iter()
            .filter(|a| a.host == h)
            .filter_map(|a| a.socket.map(|id| self.hosts[h].stack.state(id)))
            .filter(|s| {
                matches!(
                    s,
                    State::SynSent
                        | State::SynReceived
                        | State::FinWait1
                        | State::Closing
                        | State::LastAck
                )
            })
            .collect();
        for s in states {
            self.count(s, crate::rfc::Event::RetransmissionTimeout);
        }
    }

    fn note_sent(&mut self, from: usize, bytes: &[u8]) {
        let Ok(p) = synack_core::wire::Packet::parse(bytes) else {
            return;
        };
        let local = SocketAddrV4::new(p.ip.src, p.tcp.src_port);
        let remote = SocketAddrV4::new(p.ip.dst, p.tcp.dst_port);
        let flags = p.tcp.flags;
        if flags.contains(synack_core::wire::Flags::RST) {
            return;
        }
        let v = self.views.entry((from, local, remote)).or_default();
        let end = p
            .tcp
            .seq
            .get()
            .wrapping_add(p.payload.len() as u32)
            .wrapping_add(u32::from(flags.contains(synack_core::wire::Flags::SYN)))
            .wrapping_add(u32::from(flags.contains(synack_core::wire::Flags::FIN)));
        if v.snd_nxt
            .is_none_or(|n| synack_core::SeqNum(n).lt(synack_core::SeqNum(end)))
        {
            v.snd_nxt = Some(end);
        }
        if v.snd_una.is_none() {
            v.snd_una = Some(p.tcp.seq.get());
        }
        if flags.contains(synack_core::wire::Flags::ACK) {
            v.rcv_nxt = Some(p.tcp.ack.get());
        }
        v.rcv_wnd = u32::from(p.tcp.window);
    }

    /// Counts the reference-table cell a segment exercises at its receiver, and learns the
    /// receiver's SND.UNA from it.
    fn classify_arrival(&mut self, to: usize, bytes: &[u8]) {
        use crate::rfc::Event as E;
        use synack_core::wire::Flags;
        use synack_core::SeqNum;
        let Ok(p) = synack_core::wire::Packet::parse(bytes) else {
            return;
        };
        let local = SocketAddrV4::new(p.ip.dst, p.tcp.dst_port);
        let remote = SocketAddrV4::new(p.ip.src, p.tcp.src_port);
        let state = self.hosts[to]
            .stack
            .conn_state(local, remote)
            .unwrap_or(State::Closed);
        let v = self
            .views
            .get(&(to, local, remote))
            .copied()
            .unwrap_or_default();
        let (seq, ack, flags, len) = (
            SeqNum(p.tcp.seq.get()),
            SeqNum(p.tcp.ack.get()),
            p.tcp.flags,
            p.payload.len(),
        );
        let in_window = |s: SeqNum| match v.rcv_nxt {
            Some(r) => s.in_window(SeqNum(r), SeqNum(r) + v.rcv_wnd.max(1)),
            None => true,
        };
        let at_rcv_nxt = v.rcv_nxt.is_none_or(|r| seq == SeqNum(r));
        let ack_ok = match (v.snd_una, v.snd_nxt) {
            (Some(una), Some(nxt)) => SeqNum(una).lt(ack) && ack.le(SeqNum(nxt)),
            _ => false,
        };
        let unsent = v.snd_nxt.is_some_and(|nxt| ack.gt(SeqNum(nxt)));
        let event = if flags.contains(Flags::RST) {
            if flags.contains(Flags::ACK) && at_rcv_nxt {
                Some(E::RstAckAcceptable)
            } else if at_rcv_nxt {
                Some(E::RstAtRcvNxt)
            } else if in_window(seq) {
                Some(E::RstInWindow)
            } else {
                Some(E::RstOutsideWindow)
            }
        } else if flags.contains(Flags::SYN) {
            if flags.contains(Flags::ACK) {
                Some(if ack_ok {
                    E::SynAckAcceptable
                } else {
                    E::SynAckUnacceptable
                })
            } else if in_window(seq) {
                Some(E::SynInWindow)
            } else {
                Some(E::SynOutsideWindow)
            }
        } else if !flags.contains(Flags::ACK) {
            Some(E::NoAck)
        } else if !(in_window(seq) || (len == 0 && at_rcv_nxt)) {
            Some(E::DataOutsideWindow)
        } else if flags.contains(Flags::FIN) && at_rcv_nxt {
            Some(E::FinInSequence)
        } else if len > 0 && at_rcv_nxt {
            Some(E::DataInSequence)
        } else if len > 0 {
            None // out of order, inside the window: no column of its own
        } else if unsent {
            Some(E::AckOfUnsent)
        } else if ack_ok {
            Some(E::AckAcceptable)
        } else {
            Some(E::AckDuplicate)
        };
        if let Some(e) = event {
            self.count(state, e);
        }
        if flags.contains(Flags::ACK) {
            let v = self.views.entry((to, local, remote)).or_default();
            if v.snd_una.is_none_or(|u| SeqNum(u).lt(ack))
                && v.snd_nxt.is_some_and(|n| ack.le(SeqNum(n)))
            {
                v.snd_una = Some(ack.get());
            }
        }
    }

    fn key(&mut self, from: usize, bytes: &[u8]) -> PacketKey {
        let (seq, ctl, len) = match synack_core::wire::Packet::parse(bytes) {
            Ok(p) => {
                let ctl = p.tcp.flags
                    & (synack_core::wire::Flags::SYN
                        | synack_core::wire::Flags::FIN
                        | synack_core::wire::Flags::RST);
                (p.tcp.seq.get(), ctl.bits(), p.payload.len() as u32)
            }
            Err(_) => (0, 0, bytes.len() as u32),
        };
        let k = (from as u8, seq, ctl, len);
        let count = self.seen.entry(k).or_insert_with(|| {
            self.seen_order.push_back(k);
            0
        });
        let occurrence = *count;
        *count += 1;
        if self.seen_order.len() > SEEN_LIMIT {
            if let Some(old) = self.seen_order.pop_front() {
                self.seen.remove(&old);
            }
        }
        PacketKey {
            from: from as u8,
            seq,
            ctl,
            len,
            occurrence,
        }
    }

    fn observe_transitions(&mut self) {
        for h in 0..self.hosts.len() {
            for t in self.hosts[h].stack.drain_transitions() {
                *self.transitions.entry((t.from, t.to)).or_insert(0) += 1;
                if t.from == State::TimeWait && t.to == State::Closed && self.timer_fired[h] {
                    self.count(State::TimeWait, crate::rfc::Event::TimeWaitTimeout);
                }
                self.trace.record(
                    TraceEvent::State {
                        at_ns: self.now.as_nanos(),
                        host: h,
                        socket: t.socket.0,
                        from: state_name(t.from),
                        to: state_name(t.to),
                    },
                    None,
                );
                if !oracle::legal(self.spec.profile, t.from, t.to) {
                    let c = self
                        .apps
                        .iter()
                        .find(|a| a.host == h && a.socket == Some(t.socket))
                        .map(App::describe);
                    self.fail(
                        Oracle::LegalTransitions,
                        c,
                        format!(
                            "{} socket {} went {} -> {}, which {} does not allow",
                            crate::trace::HOST_NAMES[h],
                            t.socket,
                            t.from,
                            t.to,
                            self.spec.profile.name()
                        ),
                    );
                }
            }
        }
    }

    fn check_orderly_close(&mut self) {
        for h in 0..self.hosts.len() {
            let live = self.hosts[h].stack.live_sockets();
            if live > 0 {
                self.fail(
                    Oracle::OrderlyClose,
                    None,
                    format!(
                        "{} still holds {live} socket(s)",
                        crate::trace::HOST_NAMES[h]
                    ),
                );
            }
            if let Some(t) = self.hosts[h].stack.poll_timeout() {
                self.fail(
                    Oracle::OrderlyClose,
                    None,
                    format!(
                        "{} still has a timer, due at {t}",
                        crate::trace::HOST_NAMES[h]
                    ),
                );
            }
        }
    }

    fn drive_apps(&mut self) {
        // Events first: resets and timeouts end an application's script.
        for h in 0..self.hosts.len() {
            while let Some((id, e)) = self.hosts[h].stack.poll_event() {
                let Some(k) = self
                    .apps
                    .iter()
                    .position(|a| a.host == h && a.socket == Some(id))
                else {
                    continue;
                };
                match e {
                    Event::Reset | Event::Refused | Event::TimedOut => {
                        let app = &mut self.apps[k];
                        app.reset = true;
                        let aborting = self
                            .apps
                            .iter()
                            .any(|a| a.conn == self.apps[k].conn && a.aborted);
                        let (c, r, x, w) = (
                            self.apps[k].describe(),
                            self.apps[k].read,
                            self.apps[k].expect,
                            self.apps[k].host,
                        );
                        let planned_abort = aborting || self.conn_aborts(self.apps[k].conn);
                        // A user timeout is a connection that stopped making progress; a
                        // reset or refusal cut a stream short.
                        let oracle = if e == Event::TimedOut {
                            Oracle::Liveness
                        } else {
                            Oracle::StreamIntegrity
                        };
                        if !planned_abort {
                            self.fail(
                                oracle,
                                Some(c),
                                format!(
                                    "{} got {e:?} after reading {r} of {x} octets",
                                    crate::trace::HOST_NAMES[w]
                                ),
                            );
                        }
                    }
                    _ => {}
                }
            }
        }
        // Accept.
        for h in 0..self.hosts.len() {
            let Some(l) = self.hosts[h].listener else {
                continue;
            };
            while self.hosts[h].to_accept > 0 {
                match self.hosts[h].stack.accept(l) {
                    Ok(Some(id)) => {
                        self.hosts[h].to_accept -= 1;
                        let remote = self.hosts[h].stack.endpoints(id).map(|e| e.1);
                        match self
                            .apps
                            .iter_mut()
                            .find(|a| a.host == h && a.socket.is_none() && Some(a.remote) == remote)
                        {
                            Some(app) => app.socket = Some(id),
                            None => self.fail(
                                Oracle::StreamIntegrity,
                                None,
                                format!(
                                    "{} accepted an unplanned connection from {remote:?}",
                                    crate::trace::HOST_NAMES[h]
                                ),
                            ),
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        self.fail(Oracle::Liveness, None, format!("accept failed: {e}"));
                        break;
                    }
                }
            }
            if self.hosts[h].to_accept == 0 {
                let _ = self.hosts[h].stack.close(l);
                self.hosts[h].listener = None;
            }
        }
        // Applications react to each other within one instant (a `Sync` step releases its
        // peer), so run them until none moves, a few passes at most.
        for _ in 0..4 {
            let before: Vec<usize> = self.apps.iter().map(|a| a.step).collect();
            for k in 0..self.apps.len() {
                self.drive_app(k);
            }
            if self.apps.iter().map(|a| a.step).eq(before) {
                break;
            }
        }
    }

    /// Whether the other side of connection `conn` has reached (or passed) its `Sync` step.
    fn peer_synced(&self, k: usize) -> bool {
        let me = &self.apps[k];
        self.apps.iter().any(|a| {
            a.conn == me.conn
                && a.host != me.host
                && a.script.steps[..a.step.min(a.script.steps.len())]
                    .iter()
                    .chain(a.script.steps.get(a.step))
                    .any(|s| *s == Step::Sync)
        })
    }

    fn conn_aborts(&self, conn: usize) -> bool {
        self.apps
            .iter()
            .any(|a| a.conn == conn && a.script.steps.contains(&Step::Abort))
    }

    fn drive_app(&mut self, k: usize) {
        let now = self.now;
        let peer_synced = self.peer_synced(k);
        let app = &mut self.apps[k];
        let Some(id) = app.socket else {
            return;
        };
        if app.reset || app.aborted {
            return;
        }
        let stack = &mut self.hosts[app.host].stack;
        if !app.connected {
            let state = stack.state(id);
            // Steps that act before the connection is established.
            match (app.script.steps.get(app.step), state) {
                (Some(Step::CloseInSynSent), State::SynSent) if now > Instant::ZERO => {
                    *self
                        .cells
                        .entry((state, crate::rfc::Event::Close))
                        .or_insert(0) += 1;
                    let _ = stack.close(id);
                    app.closed = true;
                    app.step += 1;
                    return;
                }
                (Some(Step::CloseInSynReceived), State::SynReceived) => {
                    *self
                        .cells
                        .entry((state, crate::rfc::Event::Close))
                        .or_insert(0) += 1;
                    let _ = stack.close(id);
                    app.closed = true;
                    app.step += 1;
                    app.connected = true;
                    return;
                }
                (Some(&Step::WriteTo(total)), State::Listen)
                    if app.opens_by_send && total > app.written =>
                {
                    // The first SEND: LISTEN to SYN-SENT (RFC 793 Figure 6).
                    *self
                        .cells
                        .entry((state, crate::rfc::Event::Send))
                        .or_insert(0) += 1;
                    let left = usize::try_from(total - app.written).unwrap_or(usize::MAX);
                    let n = (app.script.write_chunk as usize)
                        .min(left)
                        .clamp(1, app.buf.len());
                    fill_pattern(app.key_out, app.written, &mut app.buf[..n]);
                    if let Ok(taken) = stack.send(now, id, &app.buf[..n]) {
                        app.written += taken as u64;
                    }
                    return;
                }
                _ => {}
            }
            match state {
                State::Listen | State::SynSent | State::SynReceived | State::Closed => return,
                _ => app.connected = true,
            }
        }
        let mut failure = None;
        // Read whatever is ready, checking every octet against the peer's pattern.
        loop {
            let want = (app.script.read_chunk as usize).min(app.buf.len()).max(1);
            *self
                .cells
                .entry((stack.state(id), crate::rfc::Event::Receive))
                .or_insert(0) += 1;
            match stack.recv(id, &mut app.buf[..want]) {
                Ok(0) => break,
                Ok(n) => {
                    if let Some(i) = (0..n)
                        .find(|&i| app.buf[i] != pattern_byte(app.key_in, app.read + i as u64))
                    {
                        failure = Some(format!(
                            "{} read a wrong octet at stream offset {}",
                            crate::trace::HOST_NAMES[app.host],
                            app.read + i as u64
                        ));
                    }
                    app.read += n as u64;
                    if app.read > app.expect {
                        failure = Some(format!(
                            "{} read {} octets, more than the {} its peer wrote",
                            crate::trace::HOST_NAMES[app.host],
                            app.read,
                            app.expect
                        ));
                    }
                    if failure.is_some() {
                        break;
                    }
                }
                Err(UserError::ConnectionClosing) => {
                    app.eof = true;
                    break;
                }
                Err(_) => break,
            }
        }
        // Then the script.
        while failure.is_none() {
            let Some(&step) = app.script.steps.get(app.step) else {
                break;
            };
            let advance = match step {
                Step::WriteTo(total) => {
                    while app.written < total {
                        let max =
                            (total - app.written).min(u64::from(app.script.write_chunk)) as usize;
                        let n = app.chunks.random_range(1..=max.max(1));
                        fill_pattern(app.key_out, app.written, &mut app.buf[..n]);
                        *self
                            .cells
                            .entry((stack.state(id), crate::rfc::Event::Send))
                            .or_insert(0) += 1;
                        match stack.send(now, id, &app.buf[..n]) {
                            Ok(0) | Err(_) => break,
                            Ok(taken) => app.written += taken as u64,
                        }
                    }
                    app.written >= total
                }
                Step::ReadTo(total) => app.read >= total,
                Step::Sync => peer_synced,
                Step::ReadToEof => {
                    if app.eof && app.read != app.expect {
                        failure = Some(format!(
                            "{} reached the end of the stream after {} of {} octets",
                            crate::trace::HOST_NAMES[app.host],
                            app.read,
                            app.expect
                        ));
                    }
                    app.eof
                }
                // The early closes, reached only once connected, close as usual.
                Step::Close | Step::CloseInSynSent | Step::CloseInSynReceived => {
                    let before = stack.state(id);
                    *self
                        .cells
                        .entry((before, crate::rfc::Event::Close))
                        .or_insert(0) += 1;
                    app.closed = true;
                    if let Err(e) = stack.close(id) {
                        failure = Some(format!("CLOSE refused: {e}"));
                    }
                    true
                }
                Step::Abort => {
                    let before = stack.state(id);
                    *self
                        .cells
                        .entry((before, crate::rfc::Event::Abort))
                        .or_insert(0) += 1;
                    app.aborted = true;
                    let _ = stack.abort(id);
                    true
                }
            };
            if !advance {
                break;
            }
            app.step += 1;
        }
        if let Some(message) = failure {
            let c = self.apps[k].describe();
            self.fail(Oracle::StreamIntegrity, Some(c), message);
        }
    }
}
