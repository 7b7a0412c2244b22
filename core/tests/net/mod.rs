//! A tiny pump between two endpoints, for the tests: fixed ISNs, explicit delivery, virtual time.
//! Not the simulator: it has just enough to play RFC figures segment by segment and to move a
//! stream through reordering, duplication and loss.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use synack_core::wire::Packet;
use synack_core::{Config, Endpoint, Event, Instant, SegmentSummary, SeqNum, SocketId, State};

pub const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const A_PORT: u16 = 1000;
pub const B_PORT: u16 = 80;

pub fn a_sock() -> SocketAddrV4 {
    SocketAddrV4::new(A, A_PORT)
}

pub fn b_sock() -> SocketAddrV4 {
    SocketAddrV4::new(B, B_PORT)
}

pub fn config() -> Config {
    Config {
        record_log: true,
        ..Config::default()
    }
}

/// An endpoint whose connections all start at ISN `iss`.
pub fn endpoint(addr: Ipv4Addr, iss: u32, config: Config) -> Endpoint {
    Endpoint::with_isn(config, addr, Box::new(move |_, _, _| SeqNum(iss)))
}

/// Every packet the endpoint wants to send now.
pub fn out(ep: &mut Endpoint, now: Instant) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| ep.poll_transmit(now)).collect()
}

/// A packet in RFC 793 figure notation.
pub fn show(bytes: &[u8]) -> String {
    match Packet::parse(bytes) {
        Ok(p) => SegmentSummary::of(&p).to_string(),
        Err(e) => format!("(malformed: {e})"),
    }
}

pub fn shows(packets: &[Vec<u8>]) -> Vec<String> {
    packets.iter().map(|p| show(p)).collect()
}

/// The one packet the endpoint sends now; panics (failing the test) on none or several.
pub fn one(ep: &mut Endpoint, now: Instant) -> Vec<u8> {
    let mut packets = out(ep, now);
    assert_eq!(
        packets.len(),
        1,
        "expected one segment, got {:?}",
        shows(&packets)
    );
    packets.remove(0)
}

/// The state of a socket, CLOSED once it is gone.
pub fn state(ep: &Endpoint, id: SocketId) -> State {
    ep.status(id).map(|s| s.state).unwrap_or(State::Closed)
}

pub fn events(ep: &mut Endpoint) -> Vec<(SocketId, Event)> {
    std::iter::from_fn(|| ep.poll_event()).collect()
}

/// The connection (not the listener) with the given remote socket.
pub fn conn_to(ep: &Endpoint, remote: SocketAddrV4) -> Option<SocketId> {
    ep.sockets().find(|id| {
        ep.status(*id)
            .is_ok_and(|s| s.remote == remote && s.state != State::Listen)
    })
}

pub fn at_ms(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// Everything the pump needs to know about one packet in flight.
#[derive(Clone, Debug)]
struct Flight {
    at: Instant,
    order: u64,
    to_b: bool,
    bytes: Vec<u8>,
}

/// Decides the fate of each packet: `(copies, extra delay per copy)`; zero copies is a loss.
pub type Fate = Box<dyn FnMut(u64, bool, &[u8]) -> Vec<Duration>>;

/// Two endpoints joined by a link with a fixed one-way delay, plus a fate function that may
/// drop, delay (reorder) or duplicate any packet.
pub struct Pair {
    pub a: Endpoint,
    pub b: Endpoint,
    pub now: Instant,
    pub delay: Duration,
    flights: Vec<Flight>,
    sent: u64,
    fate: Fate,
    /// Every packet sent: when, whether A to B, and the segment in figure notation.
    pub trace: Vec<(Instant, bool, String)>,
}

impl Pair {
    pub fn new(a: Endpoint, b: Endpoint) -> Pair {
        Pair {
            a,
            b,
            now: Instant::ZERO,
            delay: Duration::from_millis(10),
            flights: Vec::new(),
            sent: 0,
            fate: Box::new(|_, _, _| vec![Duration::ZERO]),
            trace: Vec::new(),
        }
    }

    pub fn with_fate(mut self, fate: Fate) -> Pair {
        self.fate = fate;
        self
    }

    fn collect(&mut self) {
        for to_b in [true, false] {
            let ep = if to_b { &mut self.a } else { &mut self.b };
            let packets = out(ep, self.now);
            for bytes in packets {
                self.trace.push((self.now, to_b, show(&bytes)));
                let n = self.sent;
                self.sent += 1;
                for extra in (self.fate)(n, to_b, &bytes) {
                    self.flights.push(Flight {
                        at: self.now + self.delay + extra,
                        order: n,
                        to_b,
                        bytes: bytes.clone(),
                    });
                }
            }
        }
    }

    /// Moves time to the next delivery or timer and handles it. Returns false when nothing is
    /// left to happen.
    pub fn step(&mut self) -> bool {
        self.collect();
        let next_flight = self.flights.iter().map(|f| (f.at, f.order)).min();
        let next_timer = [self.a.poll_timeout(), self.b.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let next = match (next_flight.map(|f| f.0), next_timer) {
            (Some(f), Some(t)) => f.min(t),
            (Some(f), None) => f,
            (None, Some(t)) => t,
            (None, None) => return false,
        };
        self.now = self.now.max(next);
        if let Some(i) = self
            .flights
            .iter()
            .enumerate()
            .filter(|(_, f)| f.at <= self.now)
            .min_by_key(|(_, f)| (f.at, f.order))
            .map(|(i, _)| i)
        {
            let f = self.flights.remove(i);
            let ep = if f.to_b { &mut self.b } else { &mut self.a };
            ep.handle_packet(self.now, &f.bytes);
        } else {
            self.a.handle_timeout(self.now);
            self.b.handle_timeout(self.now);
        }
        self.collect();
        true
    }

    /// Steps until `done` holds or `limit` of virtual time passes; returns whether it held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Pair) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            if done(self) {
                return true;
            }
            if self.now > end || !self.step() {
                return done(self);
            }
        }
    }

    /// Steps until nothing is in flight and no timer is due before `limit` from now.
    pub fn settle(&mut self, limit: Duration) {
        let end = self.now + limit;
        while self.now <= end {
            self.collect();
            let quiet = self.flights.is_empty()
                && [self.a.poll_timeout(), self.b.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .all(|t| t > end);
            if quiet || !self.step() {
                return;
            }
        }
    }
}

/// Two endpoints and A's connection driven into a chosen state through real events.
pub struct Reached {
    pub a: Endpoint,
    pub b: Endpoint,
    /// A's socket in the state asked for (a listener for LISTEN).
    pub ca: SocketId,
    /// B's connection to A, where there is one.
    pub cb: Option<SocketId>,
    pub now: Instant,
}

/// Delivers every packet `from` sends now to `to`; returns them.
pub fn deliver(from: &mut Endpoint, to: &mut Endpoint, now: Instant) -> Vec<Vec<u8>> {
    let packets = out(from, now);
    for p in &packets {
        to.handle_packet(now, p);
    }
    packets
}

/// Drives A's connection into `target` (A ISN 100, B ISN 300), along these paths:
/// - LISTEN: passive OPEN. SYN-SENT: active OPEN, the SYN not delivered.
/// - SYN-RECEIVED: passive OPEN at A, B's SYN delivered, A's SYN,ACK not.
/// - ESTABLISHED: active OPEN at A and the three-way handshake.
/// - FIN-WAIT-1: ESTABLISHED, A closes, its FIN not delivered.
/// - FIN-WAIT-2: ESTABLISHED, A closes, B acknowledges the FIN.
/// - CLOSE-WAIT: ESTABLISHED, B closes, A acknowledges the FIN.
/// - CLOSING: ESTABLISHED, both close, B's FIN reaches A before A's FIN reaches B.
/// - LAST-ACK: CLOSE-WAIT, then A closes, its FIN not delivered.
/// - TIME-WAIT: FIN-WAIT-2, then B closes and its FIN reaches A.
/// - CLOSED: ESTABLISHED, then A aborts.
pub fn reach(target: State, profile: synack_core::Profile) -> Reached {
    let cfg = Config {
        profile,
        ..config()
    };
    let mut a = endpoint(A, 100, cfg.clone());
    let mut b = endpoint(B, 300, cfg);
    let t = Instant::ZERO;
    let done = |a, b, ca, cb| Reached {
        a,
        b,
        ca,
        cb,
        now: t,
    };
    match target {
        State::Listen => {
            let ca = a.listen(A_PORT).expect("listen");
            return done(a, b, ca, None);
        }
        State::SynSent => {
            let ca = a.connect(t, b_sock(), Some(A_PORT)).expect("connect");
            out(&mut a, t);
            return done(a, b, ca, None);
        }
        State::SynReceived => {
            a.listen(A_PORT).expect("listen");
            let cb = b.connect(t, a_sock(), Some(B_PORT)).expect("connect");
            deliver(&mut b, &mut a, t);
            out(&mut a, t);
            let ca = conn_to(&a, b_sock()).expect("child");
            return done(a, b, ca, Some(cb));
        }
        _ => {}
    }
    let l = b.listen(B_PORT).expect("listen");
    let ca = a.connect(t, b_sock(), Some(A_PORT)).expect("connect");
    deliver(&mut a, &mut b, t);
    deliver(&mut b, &mut a, t);
    deliver(&mut a, &mut b, t);
    let cb = b.accept(l).expect("listener").expect("established");
    b.close(l).expect("close listener");
    match target {
        State::Established => {}
        State::Closed => {
            a.abort(ca).expect("abort");
            deliver(&mut a, &mut b, t);
        }
        State::FinWait1 => {
            a.close(ca).expect("close");
            out(&mut a, t);
        }
        State::FinWait2 | State::TimeWait => {
            a.close(ca).expect("close");
            deliver(&mut a, &mut b, t);
            deliver(&mut b, &mut a, t);
            if target == State::TimeWait {
                b.close(cb).expect("close");
                deliver(&mut b, &mut a, t);
                deliver(&mut a, &mut b, t);
            }
        }
        State::CloseWait | State::LastAck => {
            b.close(cb).expect("close");
            deliver(&mut b, &mut a, t);
            deliver(&mut a, &mut b, t);
            if target == State::LastAck {
                a.close(ca).expect("close");
                out(&mut a, t);
            }
        }
        State::Closing => {
            a.close(ca).expect("close");
            b.close(cb).expect("close");
            let a_fin = out(&mut a, t);
            deliver(&mut b, &mut a, t);
            drop(a_fin);
            out(&mut a, t);
        }
        _ => unreachable!("handled above"),
    }
    events(&mut a);
    events(&mut b);
    a.drain_log();
    b.drain_log();
    let r = done(a, b, ca, Some(cb));
    assert_eq!(state(&r.a, r.ca), target, "path to {target}");
    r
}

/// The state changes in an endpoint's log since it was last drained.
pub fn transitions(ep: &mut Endpoint) -> Vec<(State, State)> {
    ep.drain_log()
        .into_iter()
        .filter_map(|o| match o {
            synack_core::Observation::StateChange { from, to, .. } => Some((from, to)),
            _ => None,
        })
        .collect()
}

/// A segment built by hand: an old duplicate from the network's past, or a forged one.
pub fn forged(
    src: SocketAddrV4,
    dst: SocketAddrV4,
    seq: u32,
    ack: u32,
    flags: synack_core::wire::Flags,
) -> Vec<u8> {
    use synack_core::wire::{Ipv4Header, TcpHeader};
    let mut tcp = TcpHeader::new(src.port(), dst.port(), SeqNum(seq), SeqNum(ack), flags);
    tcp.window = 8192;
    Packet {
        ip: Ipv4Header::new(*src.ip(), *dst.ip()),
        tcp,
        payload: &[],
    }
    .to_bytes()
    .expect("a plain header emits")
}

/// A fate that loses the first `count` packets (in either direction) whose figure notation
/// contains `needle`, and delivers everything else on time.
pub fn lose_first(needle: &'static str, count: usize) -> Fate {
    let mut lost = 0;
    Box::new(move |_, _, bytes| {
        if lost < count && show(bytes).contains(needle) {
            lost += 1;
            vec![]
        } else {
            vec![Duration::ZERO]
        }
    })
}

/// The times at which segments whose notation contains `needle` were sent.
pub fn sent_at(pair: &Pair, needle: &str) -> Vec<Duration> {
    pair.trace
        .iter()
        .filter(|(_, _, s)| s.contains(needle))
        .map(|(t, _, _)| Duration::from_nanos(t.as_nanos()))
        .collect()
}
