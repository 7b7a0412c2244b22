//! One host's TCP: many connections behind one IPv4 address.
//!
//! This module owns what lies between the wire and the TCBs: demultiplexing by 4-tuple,
//! listeners and their backlogs, ephemeral ports, ISN choice, the RST replies of a CLOSED port
//! (RFC 9293 §3.10.7.1), LISTEN processing (§3.10.7.2), the user-call entry points, the event
//! queue and the observation log. Everything is kept in ordered maps, so that the order of
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
use crate::event::{
    Cause, DropReason, Event, Observation, SegmentSummary, SocketId, Status, UserCall,
};
use crate::isn::{IsnGenerator, Rfc6528};
use crate::state::State;
use crate::tcb::{Incoming, Origin, OutSegment, Tcb};
use crate::time::Instant;
use crate::wire::{Flags, Ipv4Header, Packet, TcpHeader, TcpOption};

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
    /// An endpoint at `addr` whose ISNs come from RFC 6528 with `isn_key`.
    #[must_use]
    pub fn new(config: Config, addr: Ipv4Addr, isn_key: [u8; 16]) -> Endpoint {
        Endpoint::with_isn(config, addr, Box::new(Rfc6528::new(isn_key)))
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
        let mss = packet.tcp.options.iter().find_map(|o| match o {
            TcpOption::Mss(m) => Some(*m),
            _ => None,
        });
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
        let iss = self.isn.isn(now, local, remote);
        let id = self.new_id();
        let mut tcb = Tcb::new(
            &self.config,
            local,
            remote,
            iss,
            Origin::Passive,
            State::Listen,
        );
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
                let (local, remote) = (tcb.local, tcb.remote);
                self.emit(now, Some(id), local, remote, &seg, out);
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
        let mut ip = Ipv4Header::new(*local.ip(), *remote.ip());
        ip.identification = self.ip_id;
        self.ip_id = self.ip_id.wrapping_add(1);
        let options = seg.mss.map(|m| vec![TcpOption::Mss(m)]).unwrap_or_default();
        let mut tcp = TcpHeader::new(local.port(), remote.port(), seg.seq, seg.ack, seg.flags)
            .with_options(options);
        tcp.window = seg.window;
        let packet = Packet {
            ip,
            tcp,
            payload: &seg.payload,
        };
        self.stats.packets_out += 1;
        self.observe(Observation::SegmentOut {
            at: now,
            socket,
            segment: SegmentSummary {
                src: local,
                dst: remote,
                seq: seg.seq,
                ack: seg.ack,
                flags: seg.flags,
                window: seg.window,
                len: seg.payload.len() as u32,
            },
        });
        // A segment we formed always fits: at most one MSS (u16) of data and one option.
        let _ = packet.emit(out);
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

    // ----- user calls (RFC 9293 §3.10.1–3.10.6) -----

    /// Passive OPEN on `port` (§3.10.1), from any remote socket.
    pub fn listen(&mut self, port: u16) -> Result<SocketId, UserError> {
        self.listen_from(port, None)
    }

    /// Passive OPEN on `port`, accepting only `remote` when it is given (a fully specified
    /// passive OPEN, which SEND can turn active: RFC 793 Figure 6, LISTEN → SYN-SENT).
    pub fn listen_from(
        &mut self,
        port: u16,
        remote: Option<SocketAddrV4>,
    ) -> Result<SocketId, UserError> {
        // §3.10.1 OPEN in a state other than CLOSED: "Return "error: connection already exists"."
        // A port that a listener or a connection already uses cannot take a passive OPEN.
        if self.listeners.contains_key(&port) || self.conns.keys().any(|(p, _)| *p == port) {
            return Err(UserError::ConnectionAlreadyExists);
        }
        let id = self.new_id();
        self.sockets.insert(
            id,
            Socket::Listener(Listener {
                port,
                remote,
                embryonic: BTreeSet::new(),
                ready: VecDeque::new(),
            }),
        );
        self.listeners.insert(port, id);
        self.observe_transition(id, State::Closed, State::Listen, UserCall::PassiveOpen);
        Ok(id)
    }

    /// Active OPEN to `remote` (§3.10.1), from `local_port` or an ephemeral port.
    pub fn connect(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
        local_port: Option<u16>,
    ) -> Result<SocketId, UserError> {
        self.tick(now);
        let port = match local_port {
            Some(p) => p,
            None => self.ephemeral_port(remote)?,
        };
        if self.conns.contains_key(&(port, remote)) {
            return Err(UserError::ConnectionAlreadyExists);
        }
        // §3.10.1 LISTEN: "If the OPEN call is active and the remote socket is specified, then
        // change the connection from passive to active": a listener for exactly this remote
        // becomes the connection.
        if let Some(&lid) = self.listeners.get(&port) {
            if matches!(self.sockets.get(&lid), Some(Socket::Listener(l)) if l.remote == Some(remote))
            {
                self.activate_listener(now, lid, UserCall::ActiveOpen)?;
                self.after_call(lid);
                return Ok(lid);
            }
        }
        let local = SocketAddrV4::new(self.addr, port);
        let iss = self.isn.isn(now, local, remote);
        let id = self.new_id();
        let mut tcb = Tcb::new(
            &self.config,
            local,
            remote,
            iss,
            Origin::Active,
            State::Closed,
        );
        tcb.open_active(iss, UserCall::ActiveOpen);
        self.sockets.insert(id, Socket::Conn(Box::new(tcb)));
        self.conns.insert((port, remote), id);
        self.after_call(id);
        Ok(id)
    }

    /// Turns a fully specified passive OPEN into an active one (RFC 9293 §3.10.1 and §3.10.2,
    /// LISTEN): the listener becomes a connection in SYN-SENT under the same id.
    fn activate_listener(
        &mut self,
        now: Instant,
        id: SocketId,
        call: UserCall,
    ) -> Result<(), UserError> {
        let Some(Socket::Listener(l)) = self.sockets.get(&id) else {
            return Err(UserError::NotListening);
        };
        let Some(remote) = l.remote else {
            return Err(UserError::RemoteSocketUnspecified);
        };
        let port = l.port;
        if !l.embryonic.is_empty()
            || !l.ready.is_empty()
            || self.conns.contains_key(&(port, remote))
        {
            return Err(UserError::ConnectionAlreadyExists);
        }
        let local = SocketAddrV4::new(self.addr, port);
        let iss = self.isn.isn(now, local, remote);
        let mut tcb = Tcb::new(
            &self.config,
            local,
            remote,
            iss,
            Origin::Active,
            State::Listen,
        );
        tcb.open_active(iss, call);
        self.listeners.remove(&port);
        self.sockets.insert(id, Socket::Conn(Box::new(tcb)));
        self.conns.insert((port, remote), id);
        Ok(())
    }

    /// The next established connection of a listener, if any.
    pub fn accept(&mut self, listener: SocketId) -> Result<Option<SocketId>, UserError> {
        // A listener is a TCB in LISTEN (RFC 9293 §3.10.1); only it has connections to accept.
        match self.sockets.get_mut(&listener) {
            None => Err(UserError::ConnectionDoesNotExist),
            Some(Socket::Conn(_)) => Err(UserError::NotListening),
            Some(Socket::Listener(l)) => {
                let next = l.ready.pop_front();
                if let Some(id) = next {
                    self.parent.remove(&id);
                }
                Ok(next)
            }
        }
    }

    /// SEND (§3.10.2): queues data; returns how many octets were taken (0 when the buffer is
    /// full).
    pub fn send(&mut self, now: Instant, id: SocketId, data: &[u8]) -> Result<usize, UserError> {
        self.tick(now);
        // RFC 9293 §3.10.2 SEND: CLOSED, LISTEN, or a connection's own state.
        match self.sockets.get_mut(&id) {
            None => Err(UserError::ConnectionDoesNotExist),
            Some(Socket::Listener(_)) => {
                // §3.10.2 LISTEN: "If the remote socket is specified, then change the connection
                // from passive to active, select an ISS. Send a SYN segment ... Enter SYN-SENT
                // state. ... If the remote socket was not specified, then return "error: remote
                // socket unspecified"."
                self.activate_listener(now, id, UserCall::Send)?;
                let n = match self.sockets.get_mut(&id) {
                    Some(Socket::Conn(tcb)) => tcb.send(data)?,
                    _ => 0,
                };
                self.after_call(id);
                Ok(n)
            }
            Some(Socket::Conn(tcb)) => tcb.send(data),
        }
    }

    /// RECEIVE (§3.10.3): copies in-order data into `buf`; returns the octets copied, 0 when
    /// none is ready. After the peer's FIN and the last octet, returns "connection closing".
    pub fn recv(&mut self, id: SocketId, buf: &mut [u8]) -> Result<usize, UserError> {
        // RFC 9293 §3.10.3 RECEIVE: CLOSED, LISTEN, or a connection's own state.
        let result = match self.sockets.get_mut(&id) {
            None => return Err(UserError::ConnectionDoesNotExist),
            // §3.10.3 LISTEN: "Queue for processing after entering ESTABLISHED state."
            Some(Socket::Listener(_)) => return Ok(0),
            Some(Socket::Conn(tcb)) => tcb.recv(buf),
        };
        self.after_call(id);
        result
    }

    /// CLOSE (§3.10.4): closes our direction; the peer may go on sending.
    pub fn close(&mut self, id: SocketId) -> Result<(), UserError> {
        // RFC 9293 §3.10.4 CLOSE: CLOSED, LISTEN, or a connection's own state.
        match self.sockets.get_mut(&id) {
            None => Err(UserError::ConnectionDoesNotExist),
            // §3.10.4 LISTEN: "Delete TCB, enter CLOSED state, and return."
            Some(Socket::Listener(_)) => {
                self.remove_listener(id, UserCall::Close);
                Ok(())
            }
            Some(Socket::Conn(tcb)) => {
                let r = tcb.close();
                self.after_call(id);
                r
            }
        }
    }

    /// ABORT (§3.10.5): resets the connection.
    pub fn abort(&mut self, id: SocketId) -> Result<(), UserError> {
        // RFC 9293 §3.10.5 ABORT: CLOSED, LISTEN, or a connection's own state.
        match self.sockets.get_mut(&id) {
            None => Err(UserError::ConnectionDoesNotExist),
            // §3.10.5 LISTEN: "Delete TCB, enter CLOSED state, and return."
            Some(Socket::Listener(_)) => {
                self.remove_listener(id, UserCall::Abort);
                Ok(())
            }
            Some(Socket::Conn(tcb)) => {
                let r = tcb.abort();
                self.after_call(id);
                r
            }
        }
    }

    /// The state of a socket (STATUS's first field, without the rest): `None` once it is gone.
    #[must_use]
    pub fn socket_state(&self, id: SocketId) -> Option<State> {
        match self.sockets.get(&id)? {
            Socket::Conn(tcb) => Some(tcb.state),
            Socket::Listener(_) => Some(State::Listen),
        }
    }

    /// STATUS (§3.10.6).
    pub fn status(&self, id: SocketId) -> Result<Status, UserError> {
        // RFC 9293 §3.10.6 STATUS: CLOSED, LISTEN, or a connection's own state.
        match self.sockets.get(&id) {
            None => Err(UserError::ConnectionDoesNotExist),
            Some(Socket::Conn(tcb)) => Ok(tcb.status()),
            Some(Socket::Listener(l)) => Ok(Status {
                state: State::Listen,
                local: SocketAddrV4::new(self.addr, l.port),
                remote: l
                    .remote
                    .unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
                snd_una: crate::SeqNum(0),
                snd_nxt: crate::SeqNum(0),
                snd_wnd: 0,
                rcv_nxt: crate::SeqNum(0),
                rcv_wnd: 0,
                send_queued: 0,
                recv_queued: 0,
                recv_out_of_order: 0,
                rto_nanos: 0,
                snd_mss: 0,
            }),
        }
    }

    /// Deletes a listener. Children the user never accepted are aborted (each sends its RST),
    /// since nobody could ever read them.
    fn remove_listener(&mut self, id: SocketId, call: UserCall) {
        let Some(Socket::Listener(l)) = self.sockets.remove(&id) else {
            return;
        };
        self.listeners.remove(&l.port);
        let orphans: Vec<SocketId> = l.embryonic.iter().chain(l.ready.iter()).copied().collect();
        self.observe_transition(id, State::Listen, State::Closed, call);
        self.events.push_back((id, Event::Closed));
        for child in orphans {
            self.parent.remove(&child);
            if let Some(Socket::Conn(tcb)) = self.sockets.get_mut(&child) {
                let _ = tcb.abort();
            }
            self.after_call(child);
        }
    }

    // ----- helpers -----

    fn tick(&mut self, now: Instant) {
        self.now = self.now.max(now);
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
