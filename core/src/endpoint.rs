//! One host's TCP: many connections behind one IPv4 address.
//!
//! This module owns what lies between the wire and the TCBs: demultiplexing by 4-tuple,
//! listeners and their backlogs, ephemeral ports, ISN choice, the RST replies of a CLOSED port
//! (RFC 9293 §3.10.7.1), LISTEN processing (§3.10.7.2), the user-call entry points (in
//! `calls`), the event queue and the observation log. Everything is kept in ordered maps, so that the order of
//! packets, events and log entries depends only on the inputs.
//!
//! Polling order, after any `handle_*` call or user call: drain `poll_transmit` until it
//! returns `None`, drain `poll_event`, then sleep until `poll_timeout` and call
//! `handle_timeout`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Bound;

use core::net::{Ipv4Addr, SocketAddrV4};

use crate::config::Config;
use crate::error::UserError;
use crate::event::{Cause, DropReason, Event, Observation, SegmentSummary, SocketId, UserCall};
use crate::isn::{IsnGenerator, Rfc6528};
use crate::seq::SeqNum;
use crate::state::State;
use crate::tcb::{Incoming, Origin, OutSegment, Tcb};
use crate::time::Instant;
use crate::wire::{self, Flags, Ipv4Header, Packet, TcpHeader, TcpOption};

mod calls;

/// First port of the dynamic range (RFC 6335 §6), used for ephemeral ports.
const EPHEMERAL_FIRST: u16 = 49152;

/// Counters of what an endpoint received and dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Packets given to `handle_packet`.
    pub packets_in: u64,
    /// Packets returned by `poll_transmit`.
    pub packets_out: u64,
    /// Packets that did not parse as IPv4 + TCP (bad checksum included).
    pub malformed: u64,
    /// Well-formed segments dropped for any reason (see [`DropReason`]).
    pub dropped: u64,
}

#[derive(Debug)]
struct Listener {
    port: u16,
    /// The remote socket of a fully specified passive OPEN.
    remote: Option<SocketAddrV4>,
    /// Children not yet established.
    embryonic: BTreeSet<SocketId>,
    /// Established children waiting for `accept`.
    ready: VecDeque<SocketId>,
}

#[derive(Debug)]
enum Socket {
    Listener(Listener),
    Conn(Box<Tcb>),
}

/// A TCB's lists of news, kept empty between calls.
#[derive(Default)]
struct Spare {
    transitions: Vec<(State, State, Cause)>,
    events: Vec<Event>,
    drops: Vec<DropReason>,
}

/// One host's TCP. See the module documentation for the polling order.
pub struct Endpoint {
    config: Config,
    addr: Ipv4Addr,
    isn: Box<dyn IsnGenerator>,
    sockets: BTreeMap<SocketId, Socket>,
    /// (local port, remote socket) → connection.
    conns: BTreeMap<(u16, SocketAddrV4), SocketId>,
    listeners: BTreeMap<u16, SocketId>,
    /// Which listener a passive connection belongs to, until it is accepted.
    parent: BTreeMap<SocketId, SocketId>,
    next_id: u64,
    next_port: u16,
    ip_id: u16,
    /// Packets formed outside any TCB (RSTs for CLOSED ports, RSTs of deleted TCBs).
    out: VecDeque<(Option<SocketId>, SocketAddrV4, SocketAddrV4, OutSegment)>,
    events: VecDeque<(SocketId, Event)>,
    log: Vec<Observation>,
    /// Empty lists, swapped with a TCB's as its news is taken (see `after_call`).
    spare: Spare,
    stats: Stats,
    /// The latest time the endpoint has been given; stamps log entries of calls without one.
    now: Instant,
}

impl core::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Endpoint")
            .field("addr", &self.addr)
            .field("sockets", &self.sockets.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An endpoint at `addr` whose ISNs come from RFC 6528 with `isn_key`, or from the clock
    /// alone after `Config::isn_base`.
    #[must_use]
    pub fn new(config: Config, addr: Ipv4Addr, isn_key: [u8; 16]) -> Endpoint {
        let isn: Box<dyn IsnGenerator> = match config.isn_base {
            // RFC 6528's M alone: the 4 µs clock from `base`.
            Some(base) => Box::new(move |now: Instant, _, _| {
                SeqNum(base.wrapping_add((now.as_nanos() / 4_000) as u32))
            }),
            None => Box::new(Rfc6528::new(isn_key)),
        };
        Endpoint::with_isn(config, addr, isn)
    }

    /// An endpoint whose ISNs come from `isn`.
    #[must_use]
    pub fn with_isn(config: Config, addr: Ipv4Addr, isn: Box<dyn IsnGenerator>) -> Endpoint {
        Endpoint {
            config,
            addr,
            isn,
            sockets: BTreeMap::new(),
            conns: BTreeMap::new(),
            listeners: BTreeMap::new(),
            parent: BTreeMap::new(),
            next_id: 1,
            next_port: EPHEMERAL_FIRST,
            ip_id: 0,
            out: VecDeque::new(),
            events: VecDeque::new(),
            log: Vec::new(),
            spare: Spare::default(),
            stats: Stats::default(),
            now: Instant::ZERO,
        }
    }

    // ----- getters -----

    /// This endpoint's address.
    #[must_use]
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Sockets that exist (listeners and connections not yet CLOSED), in id order.
    pub fn sockets(&self) -> impl Iterator<Item = SocketId> + '_ {
        self.sockets.keys().copied()
    }

    /// Takes the observation log (empty unless `Config::record_log`).
    pub fn drain_log(&mut self) -> Vec<Observation> {
        std::mem::take(&mut self.log)
    }

    /// Drains the observation log in place, keeping its memory for the next entries.
    pub fn log_drain(&mut self) -> std::vec::Drain<'_, Observation> {
        self.log.drain(..)
    }

    /// The state of the connection between `local` and `remote`: LISTEN if only a listener
    /// on the local port would take a segment from `remote`, `None` if nothing would (RFC 9293
    /// §3.10.7: the connection first, then the port's listener).
    #[must_use]
    pub fn conn_state(&self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<State> {
        if let Some(Socket::Conn(tcb)) = self
            .conns
            .get(&(local.port(), remote))
            .and_then(|id| self.sockets.get(id))
        {
            return Some(tcb.state);
        }
        match self
            .listeners
            .get(&local.port())
            .and_then(|id| self.sockets.get(id))
        {
            Some(Socket::Listener(l)) if l.remote.is_none_or(|r| r == remote) => {
                Some(State::Listen)
            }
            _ => None,
        }
    }

    // ----- input -----

    /// A packet arrived from the network.
    pub fn handle_packet(&mut self, now: Instant, bytes: &[u8]) {
        self.tick(now);
        self.stats.packets_in += 1;
        let packet = match Packet::parse(bytes) {
            Ok(p) => p,
            Err(e) => {
                self.stats.malformed += 1;
                self.record_drop(None, DropReason::Malformed(e));
                return;
            }
        };
        let src = SocketAddrV4::new(packet.ip.src, packet.tcp.src_port);
        let dst = SocketAddrV4::new(packet.ip.dst, packet.tcp.dst_port);
        let mss = packet.tcp.mss();
        let summary = SegmentSummary::of(&packet);
        let seg = Incoming {
            seq: packet.tcp.seq,
            ack: packet.tcp.ack,
            flags: packet.tcp.flags,
            window: packet.tcp.window,
            mss,
            payload: packet.payload,
            summary,
        };
        if packet.ip.dst != self.addr {
            self.record_drop(None, DropReason::WrongAddress);
            return;
        }
        if let Some(&id) = self.conns.get(&(dst.port(), src)) {
            self.observe(Observation::SegmentIn {
                at: now,
                socket: Some(id),
                segment: summary,
            });
            if let Some(Socket::Conn(tcb)) = self.sockets.get_mut(&id) {
                tcb.on_segment(now, &seg);
            }
            self.after_call(id);
            return;
        }
        let listener = self.listeners.get(&dst.port()).copied().filter(|id| {
            matches!(self.sockets.get(id), Some(Socket::Listener(l)) if l.remote.is_none_or(|r| r == src))
        });
        self.observe(Observation::SegmentIn {
            at: now,
            socket: listener,
            segment: summary,
        });
        // RFC 9293 §3.10.7: no connection, so the port's state decides: LISTEN (§3.10.7.2) or
        // CLOSED (§3.10.7.1).
        match listener {
            Some(lid) => self.segment_to_listener(now, lid, dst, src, &seg),
            None => self.segment_to_closed(dst, src, &seg, None),
        }
    }

    /// RFC 9293 §3.10.7.1 CLOSED: "An incoming segment containing a RST is discarded. An
    /// incoming segment not containing a RST causes a RST to be sent in response."
    fn segment_to_closed(
        &mut self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seg: &Incoming<'_>,
        socket: Option<SocketId>,
    ) {
        if seg.flags.contains(Flags::RST) {
            self.record_drop(socket, DropReason::RstIgnored);
        } else {
            self.out
                .push_back((socket, local, remote, seg.reset_reply()));
        }
    }

    /// RFC 9293 §3.10.7.2 LISTEN.
    fn segment_to_listener(
        &mut self,
        now: Instant,
        lid: SocketId,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seg: &Incoming<'_>,
    ) {
        // "First, check for a RST: ... An incoming RST should be ignored. Return."
        if seg.flags.contains(Flags::RST) {
            self.record_drop(Some(lid), DropReason::RstIgnored);
            return;
        }
        // "Second, check for an ACK: Any acknowledgment is bad if it arrives on a connection
        // still in the LISTEN state. An acceptable reset segment should be formed for any
        // arriving ACK-bearing segment. The RST should be formatted as follows:
        // <SEQ=SEG.ACK><CTL=RST>"
        if seg.flags.contains(Flags::ACK) {
            self.out
                .push_back((Some(lid), local, remote, OutSegment::rst(seg.ack, None)));
            return;
        }
        // "Third, check for a SYN".
        if !seg.flags.contains(Flags::SYN) {
            // "Fourth, other data or control: ... Drop the segment and return."
            self.record_drop(Some(lid), DropReason::ListenOther);
            return;
        }
        let Some(Socket::Listener(l)) = self.sockets.get(&lid) else {
            return;
        };
        if l.embryonic.len() + l.ready.len() >= self.config.backlog {
            self.record_drop(Some(lid), DropReason::BacklogFull);
            return;
        }
        let id = self.new_id();
        let (mut tcb, _) = self.new_tcb(now, local, remote, Origin::Passive, State::Listen);
        // "If the listen was not fully specified (i.e., the remote socket was not fully
        // specified), then the unspecified fields should be filled in now."
        tcb.on_listen_syn(seg);
        self.sockets.insert(id, Socket::Conn(Box::new(tcb)));
        self.conns.insert((local.port(), remote), id);
        self.parent.insert(id, lid);
        if let Some(Socket::Listener(l)) = self.sockets.get_mut(&lid) {
            l.embryonic.insert(id);
        }
        self.after_call(id);
    }

    /// Moves what a TCB produced during a call into the endpoint: log, events, listener
    /// bookkeeping, and its removal if it was deleted.
    fn after_call(&mut self, id: SocketId) {
        let now = self.now;
        let Some(Socket::Conn(tcb)) = self.sockets.get_mut(&id) else {
            return;
        };
        // Most calls (a RECEIVE with nothing ready) leave nothing to collect.
        if tcb.transitions.is_empty()
            && tcb.events.is_empty()
            && tcb.drops.is_empty()
            && !tcb.just_established
            && !tcb.deleted
        {
            return;
        }
        // Swap the TCB's lists for the endpoint's empty spares, so that neither side gives up
        // the memory it grew.
        let mut transitions = std::mem::take(&mut self.spare.transitions);
        let mut events = std::mem::take(&mut self.spare.events);
        let mut drops = std::mem::take(&mut self.spare.drops);
        std::mem::swap(&mut transitions, &mut tcb.transitions);
        std::mem::swap(&mut events, &mut tcb.events);
        std::mem::swap(&mut drops, &mut tcb.drops);
        let established = std::mem::take(&mut tcb.just_established);
        let deleted = tcb.deleted;
        let silent = tcb.silent;
        let key = (tcb.local.port(), tcb.remote);
        let (local, remote) = (tcb.local, tcb.remote);
        let leftovers: Vec<OutSegment> = if deleted {
            tcb.control.drain(..).collect()
        } else {
            Vec::new()
        };
        for (from, to, cause) in transitions.drain(..) {
            self.observe(Observation::StateChange {
                at: now,
                socket: id,
                from,
                to,
                cause,
            });
        }
        for reason in drops.drain(..) {
            self.record_drop(Some(id), reason);
        }
        for e in events.drain(..) {
            self.events.push_back((id, e));
        }
        self.spare = Spare {
            transitions,
            events,
            drops,
        };
        if established {
            if let Some(&lid) = self.parent.get(&id) {
                if let Some(Socket::Listener(l)) = self.sockets.get_mut(&lid) {
                    l.embryonic.remove(&id);
                    l.ready.push_back(id);
                    self.events.push_back((lid, Event::Incoming));
                }
            }
        }
        if deleted {
            for seg in leftovers {
                self.out.push_back((Some(id), local, remote, seg));
            }
            self.sockets.remove(&id);
            self.conns.remove(&key);
            if let Some(lid) = self.parent.remove(&id) {
                if let Some(Socket::Listener(l)) = self.sockets.get_mut(&lid) {
                    l.embryonic.remove(&id);
                    l.ready.retain(|c| *c != id);
                }
            }
            if !silent {
                self.events.push_back((id, Event::Closed));
            }
        }
    }

    // ----- output -----

    /// The next packet to send, if any.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.poll_transmit_into(now, &mut out).then_some(out)
    }

    /// The next packet to send, written into `out` (cleared first); false if there is none.
    /// A caller that hands the same buffer back each time allocates nothing per packet.
    pub fn poll_transmit_into(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        self.tick(now);
        out.clear();
        if let Some((socket, local, remote, seg)) = self.out.pop_front() {
            self.emit(now, socket, local, remote, &seg, out);
            return true;
        }
        // The connections with something to send, in socket order; most polls find none.
        let mut next = self.sockets.iter_mut().find_map(|(id, s)| match s {
            Socket::Conn(tcb) if tcb.wants_transmit() => Some(*id),
            _ => None,
        });
        while let Some(id) = next {
            let Some(Socket::Conn(tcb)) = self.sockets.get_mut(&id) else {
                break;
            };
            if let Some(seg) = tcb.poll_segment(now) {
                let data = tcb.data_slices(seg.seq, seg.data_len);
                let segment = write_packet(self.ip_id, tcb.local, tcb.remote, &seg, data, out);
                self.emitted(now, Some(id), segment);
                return true;
            }
            next = self
                .sockets
                .range_mut((Bound::Excluded(id), Bound::Unbounded))
                .find_map(|(id, s)| match s {
                    Socket::Conn(tcb) if tcb.wants_transmit() => Some(*id),
                    _ => None,
                });
        }
        false
    }

    fn emit(
        &mut self,
        now: Instant,
        socket: Option<SocketId>,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seg: &OutSegment,
        out: &mut Vec<u8>,
    ) {
        let segment = write_packet(self.ip_id, local, remote, seg, [&[], &[]], out);
        self.emitted(now, socket, segment);
    }

    /// Counts and logs a packet just written.
    fn emitted(&mut self, now: Instant, socket: Option<SocketId>, segment: SegmentSummary) {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.stats.packets_out += 1;
        self.observe(Observation::SegmentOut {
            at: now,
            socket,
            segment,
        });
    }

    /// The next event for the user, if any.
    pub fn poll_event(&mut self) -> Option<(SocketId, Event)> {
        self.events.pop_front()
    }

    /// When `handle_timeout` must next be called, if any timer runs.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sockets
            .values()
            .filter_map(|s| match s {
                Socket::Conn(tcb) => tcb.next_deadline(),
                Socket::Listener(_) => None,
            })
            .min()
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        let due: Vec<SocketId> = self
            .sockets
            .iter()
            .filter_map(|(id, s)| match s {
                Socket::Conn(tcb) if tcb.next_deadline().is_some_and(|d| d <= now) => Some(*id),
                _ => None,
            })
            .collect();
        for id in due {
            if let Some(Socket::Conn(tcb)) = self.sockets.get_mut(&id) {
                tcb.on_timeout(now);
            }
            self.after_call(id);
        }
    }

    // ----- helpers -----

    fn tick(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// A TCB for `local`–`remote` in `state`, with an ISS from the endpoint's generator
    /// (RFC 9293 §3.4.1), which it returns too.
    fn new_tcb(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        origin: Origin,
        state: State,
    ) -> (Tcb, SeqNum) {
        let iss = self.isn.isn(now, local, remote);
        (
            Tcb::new(&self.config, local, remote, iss, origin, state),
            iss,
        )
    }

    fn new_id(&mut self) -> SocketId {
        let id = SocketId(self.next_id);
        self.next_id += 1;
        id
    }

    fn ephemeral_port(&mut self, remote: SocketAddrV4) -> Result<u16, UserError> {
        let span = u32::from(u16::MAX - EPHEMERAL_FIRST) + 1;
        for _ in 0..span {
            let port = self.next_port;
            self.next_port = if port == u16::MAX {
                EPHEMERAL_FIRST
            } else {
                port + 1
            };
            if !self.listeners.contains_key(&port) && !self.conns.contains_key(&(port, remote)) {
                return Ok(port);
            }
        }
        Err(UserError::InsufficientResources)
    }

    fn observe(&mut self, o: Observation) {
        if self.config.record_log {
            self.log.push(o);
        }
    }

    fn observe_transition(&mut self, id: SocketId, from: State, to: State, call: UserCall) {
        self.observe(Observation::StateChange {
            at: self.now,
            socket: id,
            from,
            to,
            cause: Cause::User(call),
        });
    }

    fn record_drop(&mut self, socket: Option<SocketId>, reason: DropReason) {
        if !matches!(reason, DropReason::Malformed(_)) {
            self.stats.dropped += 1;
        }
        self.observe(Observation::Drop {
            at: self.now,
            socket,
            reason,
        });
    }
}

/// Writes `seg`, with `data` (its octets, in parts) after the header, as one IPv4 packet into
/// `out`, and returns its summary.
fn write_packet(
    ip_id: u16,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    seg: &OutSegment,
    data: [&[u8]; 2],
    out: &mut Vec<u8>,
) -> SegmentSummary {
    let mut ip = Ipv4Header::new(*local.ip(), *remote.ip());
    ip.identification = ip_id;
    let options = seg.mss.map(|m| vec![TcpOption::Mss(m)]).unwrap_or_default();
    let mut tcp = TcpHeader::new(local.port(), remote.port(), seg.seq, seg.ack, seg.flags)
        .with_options(options);
    tcp.window = seg.window;
    let len = data[0].len() + data[1].len();
    // A segment we formed always fits: at most one MSS (u16) of data and one option.
    let _ = wire::emit_parts(&ip, &tcp, &data, out);
    SegmentSummary {
        src: local,
        dst: remote,
        seq: seg.seq,
        ack: seg.ack,
        flags: seg.flags,
        window: seg.window,
        len: len as u32,
    }
}
