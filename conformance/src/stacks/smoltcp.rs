//! smoltcp as a stack under test: its `Interface` on a queue device, with virtual time.
//!
//! This module owns the adapter from smoltcp's socket API to `TcpStack`. smoltcp's clock is the
//! simulator's virtual time and its random seed comes from the run's ISN key. A smoltcp socket
//! in LISTEN becomes the connection itself when a SYN arrives, so a listener here is a pool:
//! each time its listening socket leaves LISTEN, the socket is handed over as a new connection
//! and a fresh one listens in its place. State changes are observed after every poll, so a
//! change smoltcp makes and undoes within one poll is not seen.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddrV4;

use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant as SmolInstant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpEndpoint, Ipv4Address};
use synack_core::wire::{Flags, TcpHeader};
use synack_core::{Event, Instant, SeqNum, SocketId, State, UserError};

use super::known::{self, KnownDifference};
use super::{TcpStack, Transition, ADDRS};

/// A device whose wire is two queues.
#[derive(Default)]
struct QueueDevice {
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
    /// Buffers handed back by the harness, reused for the next packets.
    spare: Vec<Vec<u8>>,
}

struct Rx(Vec<u8>);
struct Tx<'a> {
    tx: &'a mut VecDeque<Vec<u8>>,
    spare: &'a mut Vec<Vec<u8>>,
}

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.resize(len, 0);
        let r = f(&mut buf);
        self.tx.push_back(buf);
        r
    }
}

impl Device for QueueDevice {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;
    fn receive(&mut self, _: SmolInstant) -> Option<(Rx, Tx<'_>)> {
        let p = self.rx.pop_front()?;
        Some((
            Rx(p),
            Tx {
                tx: &mut self.tx,
                spare: &mut self.spare,
            },
        ))
    }
    fn transmit(&mut self, _: SmolInstant) -> Option<Tx<'_>> {
        Some(Tx {
            tx: &mut self.tx,
            spare: &mut self.spare,
        })
    }
    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ip;
        c.max_transmission_unit = 1500;
        c
    }
}

fn state(s: tcp::State) -> State {
    match s {
        tcp::State::Closed => State::Closed,
        tcp::State::Listen => State::Listen,
        tcp::State::SynSent => State::SynSent,
        tcp::State::SynReceived => State::SynReceived,
        tcp::State::Established => State::Established,
        tcp::State::FinWait1 => State::FinWait1,
        tcp::State::FinWait2 => State::FinWait2,
        tcp::State::CloseWait => State::CloseWait,
        tcp::State::Closing => State::Closing,
        tcp::State::LastAck => State::LastAck,
        tcp::State::TimeWait => State::TimeWait,
    }
}

fn now_smol(t: Instant) -> SmolInstant {
    SmolInstant::from_micros((t.as_nanos() / 1000) as i64)
}

struct Conn {
    handle: SocketHandle,
    last: State,
    listener: Option<SocketId>,
    accepted: bool,
    fin_told: bool,
    /// The user closed it in SYN-SENT or aborted it: CLOSED is no news to them.
    user_ended: bool,
    /// Its socket pair (local port, remote socket), once known.
    key: Option<(u16, SocketAddrV4)>,
}

struct Listener {
    port: u16,
    handle: SocketHandle,
    ready: VecDeque<SocketId>,
}

/// smoltcp on host `host` (0 is A, 1 is B), seeded by `isn_key`: the registry's factory for
/// smoltcp, as `core_stack` is for synack-core. smoltcp keeps its own settings, so `Config` is
/// not read.
pub fn smol_stack(
    host: usize,
    _config: synack_core::Config,
    isn_key: [u8; 16],
) -> Box<dyn TcpStack> {
    Box::new(SmolStack::new(ADDRS[host], isn_key))
}

/// smoltcp for the table generator, with smoltcp's timeout standing in for the user timeout.
pub fn smol_table_stack(config: synack_core::Config) -> Box<dyn TcpStack> {
    Box::new(SmolStack::new(ADDRS[0], [7; 16]).with_user_timeout(config.user_timeout))
}

/// smoltcp behind `TcpStack`.
pub struct SmolStack {
    iface: Interface,
    device: QueueDevice,
    sockets: SocketSet<'static>,
    conns: BTreeMap<SocketId, Conn>,
    listeners: BTreeMap<SocketId, Listener>,
    next_id: u64,
    now: Instant,
    transitions: Vec<Transition>,
    events: VecDeque<(SocketId, Event)>,
    /// When smoltcp next wants to be polled, as of the last poll.
    next: Option<Instant>,
    /// The ISS of each connection (local port, remote socket), from the SYNs it sent.
    iss: BTreeMap<(u16, SocketAddrV4), SeqNum>,
    /// The last ACK each connection received (local port, remote socket).
    last_ack: BTreeMap<(u16, SocketAddrV4), SeqNum>,
    /// Socket pairs a RST arrived for (since our last SYN on them).
    rst: std::collections::BTreeSet<(u16, SocketAddrV4)>,
    /// Listening sockets closed over one poll, with their port (see `hide_listeners`).
    hidden: Vec<(SocketHandle, u16)>,
    /// smoltcp's timeout for new sockets (see `with_user_timeout`).
    user_timeout: Option<smoltcp::time::Duration>,
    /// Known differences seen so far.
    known: Vec<&'static KnownDifference>,
    /// What the wire shows of each connection (local port, remote socket), to see the
    /// differences of the wire oracles' kind happen.
    watch: BTreeMap<(u16, SocketAddrV4), Watch>,
    /// smoltcp panicked as `known::SMOLTCP_WINDOW_UNDERFLOW_PANIC` says: the host has stopped.
    crashed: bool,
}

/// The message of the panic `known::SMOLTCP_WINDOW_UNDERFLOW_PANIC` describes.
const SMOLTCP_UNDERFLOW_PANIC: &str = "attempt to subtract sequence numbers with underflow";

/// One connection's segments as the adapter sees them cross, for the known differences that
/// show only there.
#[derive(Debug, Default)]
struct Watch {
    /// The highest ACK that arrived: smoltcp's SND.UNA, once it took it.
    una: Option<SeqNum>,
    /// Where smoltcp's in-order data ends: its last ACK, extended by in-order data that
    /// arrived since.
    rcv_nxt: Option<SeqNum>,
    /// Out-of-order data that arrived past `rcv_nxt`: separate ranges, in order.
    ranges: Vec<(SeqNum, SeqNum)>,
    /// The first sequence number of the latest segment smoltcp sent with data, SYN or FIN at
    /// SND.UNA, when it last sent it on a timeout (or first), and the wait before that.
    sent: Option<(SeqNum, Instant, Option<std::time::Duration>)>,
    /// When a segment last arrived.
    arrived: Option<Instant>,
    /// The MSS the peer's SYN announced (536 without the option, §3.7.1), and the window
    /// scale shifts of smoltcp's SYN and the peer's.
    peer_mss: Option<u16>,
    shifts: (Option<u8>, Option<u8>),
    /// The largest window, scaled, smoltcp offered after its SYN.
    max_wnd: u32,
    /// The ACK and window of the latest segment with ACK that reached it, and how many pure
    /// ACKs in a row repeated both (smoltcp's duplicate ACKs).
    last_ack: Option<(SeqNum, u16)>,
    dup_acks: u32,
    /// The ACK at which the latest runs of three duplicate ACKs came, and how many such runs
    /// came at it: each sends smoltcp's whole window again.
    rewinds: (Option<SeqNum>, u32),
}

/// smoltcp's out-of-order ranges (`ASSEMBLER_MAX_SEGMENT_COUNT`).
const SMOLTCP_RANGES: usize = 4;

impl Watch {
    /// `seg`, which smoltcp sends, shows it without silly-window avoidance: data under one
    /// MSS without PSH or FIN (smoltcp sets PSH on a segment that empties its buffer, so more
    /// was queued), or a window under half the largest it offered and under one MSS (a
    /// receiver with SWS avoidance offers no such window; zero is a closed window, not a
    /// silly one).
    fn silly(
        &mut self,
        seg: &synack_core::SegmentSummary,
        tcp: &TcpHeader,
    ) -> Option<&'static KnownDifference> {
        if seg.flags.contains(Flags::SYN) {
            self.shifts.0 = tcp.window_scale();
            return None;
        }
        let mss = u32::from(self.peer_mss?.min(SMOLTCP_MSS));
        if seg.len > 0 && seg.len < mss && !seg.flags.intersects(Flags::PSH | Flags::FIN) {
            return Some(&known::SMOLTCP_NO_SENDER_SWS);
        }
        let shift = match self.shifts {
            (Some(s), Some(_)) => u32::from(s.min(14)),
            _ => 0,
        };
        let wnd = u32::from(seg.window) << shift;
        let small = wnd > 0 && wnd < self.max_wnd / 2 && wnd < mss;
        self.max_wnd = self.max_wnd.max(wnd);
        small.then_some(&known::SMOLTCP_NO_RECEIVER_SWS)
    }

    /// Data [start, end) arrived: whether smoltcp had room to keep it, if it was out of order.
    fn data(&mut self, start: SeqNum, end: SeqNum) -> bool {
        let Some(next) = self.rcv_nxt else {
            return true;
        };
        if start.le(next) {
            if next.lt(end) {
                self.advance(end);
            }
            return true;
        }
        let i = self.ranges.partition_point(|r| r.1.lt(start));
        if self.ranges.get(i).is_some_and(|r| r.0.le(end)) {
            let r = &mut self.ranges[i];
            r.0 = if start.lt(r.0) { start } else { r.0 };
            r.1 = if end.gt(r.1) { end } else { r.1 };
            while i + 1 < self.ranges.len() && self.ranges[i + 1].0.le(self.ranges[i].1) {
                let n = self.ranges.remove(i + 1);
                if n.1.gt(self.ranges[i].1) {
                    self.ranges[i].1 = n.1;
                }
            }
            return true;
        }
        if self.ranges.len() >= SMOLTCP_RANGES {
            return false;
        }
        self.ranges.insert(i, (start, end));
        true
    }

    /// In-order data now ends at `end`: the ranges it reaches join it.
    fn advance(&mut self, mut end: SeqNum) {
        while let Some(r) = self.ranges.first().copied() {
            if r.0.gt(end) {
                break;
            }
            if r.1.gt(end) {
                end = r.1;
            }
            self.ranges.remove(0);
        }
        self.rcv_nxt = Some(end);
    }
}

impl SmolStack {
    /// smoltcp at `addr`, its random seed taken from `key`.
    pub fn new(addr: std::net::Ipv4Addr, key: [u8; 16]) -> SmolStack {
        let mut device = QueueDevice::default();
        let mut config = IfaceConfig::new(HardwareAddress::Ip);
        config.random_seed = u64::from_le_bytes([
            key[0], key[1], key[2], key[3], key[4], key[5], key[6], key[7],
        ]);
        let mut iface = Interface::new(config, &mut device, SmolInstant::ZERO);
        let o = addr.octets();
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(IpAddress::v4(o[0], o[1], o[2], o[3]), 24));
        });
        SmolStack {
            iface,
            device,
            sockets: SocketSet::new(Vec::new()),
            conns: BTreeMap::new(),
            listeners: BTreeMap::new(),
            next_id: 1,
            now: Instant::ZERO,
            transitions: Vec::new(),
            events: VecDeque::new(),
            next: None,
            iss: BTreeMap::new(),
            last_ack: BTreeMap::new(),
            hidden: Vec::new(),
            rst: std::collections::BTreeSet::new(),
            user_timeout: None,
            known: Vec::new(),
            crashed: false,
            watch: BTreeMap::new(),
        }
    }

    /// Whether a connection (not a listener) holds the socket pair `local`, `remote`.
    fn has_connection(&self, local: SocketAddrV4, remote: SocketAddrV4) -> bool {
        self.conns.values().any(|c| {
            let s = self.sockets.get::<tcp::Socket>(c.handle);
            s.state() != tcp::State::Closed
                && s.local_endpoint().and_then(sock_addr) == Some(local)
                && s.remote_endpoint().and_then(sock_addr) == Some(remote)
        })
    }

    /// Whether the connection between `local` and `remote` is in TIME-WAIT.
    fn in_time_wait(&self, local: SocketAddrV4, remote: SocketAddrV4) -> bool {
        self.conns.values().any(|c| {
            let s = self.sockets.get::<tcp::Socket>(c.handle);
            s.state() == tcp::State::TimeWait
                && s.local_endpoint().and_then(sock_addr) == Some(local)
                && s.remote_endpoint().and_then(sock_addr) == Some(remote)
        })
    }

    /// A pool keeps a fresh socket listening beside a listener's connections, and smoltcp
    /// offers a packet to its sockets in slot order, so a listening socket could take a SYN
    /// meant for a connection of the same socket pair (a duplicate, say). A TCP demultiplexes
    /// to the connection first and to LISTEN only when none exists (RFC 9293 §3.10.7.1-2),
    /// so for such a SYN the listening sockets of the port are closed over the poll.
    fn hide_listeners(&mut self, port: u16) {
        for l in self.listeners.values().filter(|l| l.port == port) {
            self.sockets.get_mut::<tcp::Socket>(l.handle).close();
            self.hidden.push((l.handle, port));
        }
    }

    fn new_socket(&self) -> tcp::Socket<'static> {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 64 * 1024]),
            tcp::SocketBuffer::new(vec![0; 64 * 1024]),
        );
        s.set_timeout(self.user_timeout);
        s
    }

    /// Gives every socket smoltcp's timeout, its nearest to the USER TIMEOUT (RFC 9293
    /// §3.10.8, and the OPEN call's timeout parameter, §3.10.1). smoltcp aborts a
    /// connection that has heard nothing from its peer for that long, even an idle one, so
    /// the simulator leaves it off; the table generator sets it to read the user-timeout row.
    pub fn with_user_timeout(mut self, timeout: std::time::Duration) -> SmolStack {
        self.user_timeout = Some(smoltcp::time::Duration::from_micros(
            u64::try_from(timeout.as_micros()).unwrap_or(u64::MAX),
        ));
        self
    }

    fn ended_by_user(&mut self, id: SocketId) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.user_ended = true;
        }
    }

    fn id(&mut self) -> SocketId {
        let id = SocketId(self.next_id);
        self.next_id += 1;
        id
    }

    /// Polls smoltcp, then records what changed: listeners handing over connections, state
    /// changes, and the events they mean.
    /// Runs smoltcp. A panic of the kind a known difference names stops this host for good,
    /// as a crashed host would stop, and is reported as seen; any other panic goes on up.
    fn poll(&mut self) {
        if self.crashed {
            return;
        }
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.poll_inner()));
        if let Err(payload) = polled {
            let message = payload
                .downcast_ref::<&str>()
                .map(|m| m.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            if !message.contains(SMOLTCP_UNDERFLOW_PANIC) {
                std::panic::resume_unwind(payload);
            }
            self.crashed = true;
            self.device.tx.clear();
            self.next = None;
            self.saw(&known::SMOLTCP_WINDOW_UNDERFLOW_PANIC);
        }
    }

    fn poll_inner(&mut self) {
        let _ = self
            .iface
            .poll(now_smol(self.now), &mut self.device, &mut self.sockets);
        // Listening sockets hidden from a SYN that belongs to an existing connection listen
        // again (LISTEN holds no state, so nothing is lost).
        for (handle, port) in std::mem::take(&mut self.hidden) {
            let _ = self.sockets.get_mut::<tcp::Socket>(handle).listen(port);
        }
        // Listeners whose socket left LISTEN: the socket becomes a connection.
        let lids: Vec<SocketId> = self.listeners.keys().copied().collect();
        for lid in lids {
            let Some(l) = self.listeners.get(&lid) else {
                continue;
            };
            let (handle, port) = (l.handle, l.port);
            let s = state(self.sockets.get::<tcp::Socket>(handle).state());
            if s != State::Listen {
                let fresh = self.sockets.add(self.new_socket());
                let _ = self.sockets.get_mut::<tcp::Socket>(fresh).listen(port);
                if let Some(l) = self.listeners.get_mut(&lid) {
                    l.handle = fresh;
                }
                let cid = self.id();
                self.transitions.push(Transition {
                    socket: cid,
                    from: State::Listen,
                    to: s,
                });
                self.conns.insert(
                    cid,
                    Conn {
                        handle,
                        last: s,
                        listener: Some(lid),
                        accepted: false,
                        fin_told: false,
                        user_ended: false,
                        key: None,
                    },
                );
            }
        }
        let ids: Vec<SocketId> = self.conns.keys().copied().collect();
        let mut stalled = false;
        for id in ids {
            let Some(c) = self.conns.get(&id) else {
                continue;
            };
            let sock = self.sockets.get::<tcp::Socket>(c.handle);
            let s = state(sock.state());
            let readable = sock.can_recv();
            let peer_closed = !sock.may_recv()
                && matches!(
                    s,
                    State::CloseWait | State::LastAck | State::Closing | State::TimeWait
                );
            let (last, listener, accepted, fin_told, user_ended) =
                (c.last, c.listener, c.accepted, c.fin_told, c.user_ended);
            // The socket pair, kept once known: smoltcp forgets it when the socket closes.
            let key = sock
                .local_endpoint()
                .and_then(sock_addr)
                .zip(sock.remote_endpoint().and_then(sock_addr))
                .map(|(l, r)| (l.port(), r))
                .or(c.key);
            // Sequence space of ours the peer has not acknowledged: a FIN in FIN-WAIT-1,
            // CLOSING and LAST-ACK; data in the send buffer otherwise.
            let outstanding = matches!(s, State::FinWait1 | State::Closing | State::LastAck)
                || (matches!(s, State::Established | State::CloseWait) && sock.send_queue() > 0);
            stalled |= outstanding;
            if s != last {
                self.transitions.push(Transition {
                    socket: id,
                    from: last,
                    to: s,
                });
                // Our FIN acknowledged by the ACK of our SYN: the FIN had the SYN's number.
                let fin_acked = matches!(
                    (last, s),
                    (State::FinWait1, State::FinWait2 | State::TimeWait)
                        | (State::Closing, State::TimeWait)
                );
                if let (true, Some(key)) = (fin_acked, key) {
                    if let (Some(iss), Some(ack)) = (self.iss.get(&key), self.last_ack.get(&key)) {
                        if *ack == *iss + 1 {
                            self.saw(&known::SMOLTCP_FIN_ON_SYN_SEQUENCE);
                        }
                    }
                }
                // Synchronized, possibly past ESTABLISHED within one poll (an ACK with a FIN).
                if s.is_synchronized() && !last.is_synchronized() {
                    self.events.push_back((id, Event::Connected));
                    if let (Some(lid), false) = (listener, accepted) {
                        if let Some(l) = self.listeners.get_mut(&lid) {
                            l.ready.push_back(id);
                            self.events.push_back((lid, Event::Incoming));
                        }
                    }
                }
                if s == State::Closed && !user_ended {
                    // smoltcp closes a connection on its own for a RST or for its timeout
                    // (the user timeout's stand-in); LAST-ACK, CLOSING and TIME-WAIT end
                    // normally.
                    let reset = key.is_some_and(|k| self.rst.contains(&k));
                    let e = match (last, reset) {
                        (State::SynSent, true) => Some(Event::Refused),
                        (
                            State::Established
                            | State::FinWait1
                            | State::FinWait2
                            | State::CloseWait,
                            true,
                        ) => Some(Event::Reset),
                        (
                            State::SynSent
                            | State::SynReceived
                            | State::Established
                            | State::FinWait1
                            | State::FinWait2
                            | State::CloseWait,
                            false,
                        ) => Some(Event::TimedOut),
                        _ => None,
                    };
                    if let Some(e) = e {
                        self.events.push_back((id, e));
                    }
                    self.events.push_back((id, Event::Closed));
                }
            }
            if readable {
                self.events.push_back((id, Event::Readable));
            }
            if peer_closed && !fin_told {
                self.events.push_back((id, Event::PeerClosed));
            }
            if let Some(c) = self.conns.get_mut(&id) {
                c.key = key;
                c.last = s;
                c.fin_told |= peer_closed;
            }
            // A closed connection with nothing left to read is gone. So is a listener's
            // connection that a RST returned to LISTEN (RFC 9293 §3.10.7.4, SYN-RECEIVED):
            // the pool already has a fresh socket listening in its place.
            // A reset flushes the queues (RFC 9293 §3.10.7.4, second check): what a reset
            // connection still holds unread is gone with it.
            let reset = key.is_some_and(|k| self.rst.contains(&k));
            if (s == State::Closed && (!readable || reset))
                || (s == State::Listen && listener.is_some())
            {
                if let Some(c) = self.conns.remove(&id) {
                    self.sockets.remove(c.handle);
                }
            }
        }
        let now = now_smol(self.now);
        self.next = self
            .iface
            .poll_delay(now, &self.sockets)
            .map(|d| self.now + std::time::Duration::from_micros(d.total_micros()));
        // Something of ours unacknowledged and no timer running at all: nothing will ever
        // retransmit it (RFC 6298 §5, R5.2: the timer stops only when all is acknowledged).
        if stalled && self.next.is_none() {
            self.saw(&known::SMOLTCP_RETRANSMISSION_TIMER_STOPPED);
        }
    }

    /// A segment arrives: a stale ACK on data, or out-of-order data with no room left, is a
    /// known difference seen (smoltcp will drop the segment without an ACK).
    fn watch_arrival(&mut self, seg: &synack_core::SegmentSummary, tcp: &TcpHeader) {
        let w = self.watch.entry((seg.dst.port(), seg.src)).or_default();
        w.arrived = Some(self.now);
        if seg.flags.contains(Flags::SYN) {
            w.peer_mss = Some(tcp.mss().unwrap_or(536));
            w.shifts.1 = tcp.window_scale();
        }
        let mut seen = None;
        if seg.flags.contains(Flags::ACK) && seg.window == 0 && !seg.flags.contains(Flags::RST) {
            seen = Some(&known::SMOLTCP_NO_ZERO_WINDOW_PROBE);
        }
        if let Some(d) = seen.take() {
            self.saw(d);
        }
        let Some(w) = self.watch.get_mut(&(seg.dst.port(), seg.src)) else {
            return;
        };
        // The third duplicate ACK in a row (no data, the same ACK and window) sets smoltcp's
        // fast retransmit, which sends its whole window again. One such rewind is a recovery
        // that wastes a window; three at the same ACK are the window's own copies drawing
        // the duplicates that rewind it again: the storm has begun.
        if seg.flags.contains(Flags::ACK) && !seg.flags.intersects(Flags::SYN | Flags::RST) {
            let pure = seg.len == 0 && !seg.flags.contains(Flags::FIN);
            if pure && w.last_ack == Some((seg.ack, seg.window)) {
                w.dup_acks += 1;
                if w.dup_acks == 3 {
                    w.rewinds = match w.rewinds {
                        (Some(at), n) if at == seg.ack => (Some(at), n + 1),
                        _ => (Some(seg.ack), 1),
                    };
                    if w.rewinds.1 >= 3 {
                        seen = Some(&known::SMOLTCP_FAST_RETRANSMIT_GOES_BACK_N);
                    }
                }
            } else {
                w.dup_acks = 0;
                w.last_ack = Some((seg.ack, seg.window));
            }
        }
        // Data it holds already, all of it: smoltcp finds the segment unacceptable and drops
        // it before reading its ACK (§3.10.7.4, first check; its test leaves a FIN out).
        let start = seg.seq + u32::from(seg.flags.contains(Flags::SYN));
        let old = seg.len > 0 && w.rcv_nxt.is_some_and(|n| (start + seg.len).le(n));
        if seg.flags.contains(Flags::ACK) {
            let occupies = seg.len > 0 || seg.flags.contains(Flags::FIN);
            if occupies && w.una.is_some_and(|u| seg.ack.lt(u)) {
                seen = Some(&known::SMOLTCP_OLD_ACK_DROPS_SEGMENT);
            }
            if !old && w.una.is_none_or(|u| u.lt(seg.ack)) {
                w.una = Some(seg.ack);
            }
        }
        // Data it holds already, and the FIN at RCV.NXT: smoltcp measures the segment by its
        // data, finds it all old, and drops the FIN with it.
        if old
            && seen.is_none()
            && seg.flags.contains(Flags::FIN)
            && w.rcv_nxt == Some(start + seg.len)
        {
            seen = Some(&known::SMOLTCP_FIN_AFTER_OLD_DATA);
        }
        if seg.len > 0 && seen.is_none() && !w.data(start, start + seg.len) {
            seen = Some(&known::SMOLTCP_ASSEMBLER_FULL);
        }
        // A FIN at RCV.NXT that it took (not one it dropped above) moves RCV.NXT past it, so
        // that a copy of its segment arriving before the ACK leaves is old.
        if seen.is_none() && seg.flags.contains(Flags::FIN) && w.rcv_nxt == Some(start + seg.len) {
            w.advance(start + seg.len + 1);
        }
        if let Some(d) = seen {
            self.saw(d);
        }
    }

    /// smoltcp sends a segment: its ACK sets where its in-order data ends, and a repeat of
    /// the same data that nothing arriving prompted, sooner than twice the wait before the
    /// previous repeat, is its backoff difference seen.
    fn watch_sending(&mut self, seg: &synack_core::SegmentSummary, tcp: &TcpHeader) {
        let now = self.now;
        let w = self.watch.entry((seg.src.port(), seg.dst)).or_default();
        if seg.flags.contains(Flags::SYN) && w.sent.is_none_or(|(seq, _, _)| seq != seg.seq) {
            // (A SYN's first octet is its ISS, and SND.UNA is unknown until an ACK arrives.)
            // A new incarnation; what the peer's SYN announced stands.
            *w = Watch {
                peer_mss: w.peer_mss,
                shifts: (None, w.shifts.1),
                ..Watch::default()
            };
        }
        if seg.flags.contains(Flags::ACK) && w.rcv_nxt.is_none_or(|n| n.lt(seg.ack)) {
            w.advance(seg.ack);
        }
        let sws = w.silly(seg, tcp);
        if let Some(d) = sws {
            self.saw(d);
        }
        let Some(w) = self.watch.get_mut(&(seg.src.port(), seg.dst)) else {
            return;
        };
        if seg.flags.contains(Flags::RST)
            || !(seg.len > 0 || seg.flags.intersects(Flags::SYN | Flags::FIN))
        {
            return;
        }
        // Only a segment that holds SND.UNA: after a timeout smoltcp sends what follows it as
        // well. What is tracked is that first unacknowledged octet.
        let first = match w.una {
            Some(una) if !seg.flags.contains(Flags::SYN) => una,
            _ => seg.seq,
        };
        let end = seg.seq + seg.seg_len();
        if !(seg.seq.le(first) && first.lt(end)) {
            return;
        }
        // A repeat at the moment a segment arrived answers it; any other is a timeout.
        let prompted = w.arrived == Some(now);
        let (mut seen, mut timed_out) = (false, false);
        w.sent = match w.sent {
            Some((seq, _, _)) if seq == first && prompted => w.sent,
            Some((seq, at, gap)) if seq == first => {
                let wait = now.saturating_since(at);
                seen = gap.is_some_and(|g| wait < 2 * g);
                timed_out = true;
                Some((seq, now, Some(wait)))
            }
            _ => Some((first, now, None)),
        };
        if seen {
            self.saw(&known::SMOLTCP_RTO_BACKOFF);
        }
        // A timeout: the ACK that follows will drop the backoff, and after a SYN's, no 3 s RTO.
        if timed_out && seg.flags.contains(Flags::SYN) {
            self.saw(&known::SMOLTCP_NO_SYN_RTO_FALLBACK);
        } else if timed_out {
            self.saw(&known::SMOLTCP_BACKOFF_NOT_KEPT);
        }
    }

    fn saw(&mut self, d: &'static KnownDifference) {
        if !self.known.contains(&d) {
            self.known.push(d);
        }
    }

    /// Checks a segment smoltcp sends: a FIN or data must not reuse the sequence number of
    /// the connection's own SYN (RFC 9293 §3.4). A SYN gives the connection's ISS and starts a
    /// fresh incarnation, which no earlier RST concerns. The same difference has a second
    /// sign, seen in `poll`: the ACK of the SYN taken as the ACK of the FIN, which smoltcp may
    /// not have sent at all yet. Each catches runs the other does not (seed 996 of
    /// smoltcp,core only the second, three seeds of 0..5000 only this one).
    fn inspect(&mut self, bytes: &[u8]) {
        let Ok(p) = synack_core::wire::Packet::parse(bytes) else {
            return;
        };
        let seg = synack_core::SegmentSummary::of(&p);
        self.watch_sending(&seg, &p.tcp);
        let key = (seg.src.port(), seg.dst);
        if seg.flags.contains(Flags::SYN) {
            self.iss.insert(key, seg.seq);
            self.rst.remove(&key);
        } else if (seg.flags.contains(Flags::FIN) || seg.len > 0)
            && self.iss.get(&key) == Some(&seg.seq)
        {
            self.saw(&known::SMOLTCP_FIN_ON_SYN_SEQUENCE);
        }
    }
}

fn endpoint(addr: SocketAddrV4) -> IpEndpoint {
    let o = addr.ip().octets();
    IpEndpoint::new(
        IpAddress::Ipv4(Ipv4Address::new(o[0], o[1], o[2], o[3])),
        addr.port(),
    )
}

fn sock_addr(e: IpEndpoint) -> Option<SocketAddrV4> {
    match e.addr {
        IpAddress::Ipv4(a) => {
            let o = a.octets();
            Some(SocketAddrV4::new(
                std::net::Ipv4Addr::new(o[0], o[1], o[2], o[3]),
                e.port,
            ))
        }
    }
}

/// The MSS smoltcp announces on this harness's 1500-octet MTU.
const SMOLTCP_MSS: u16 = 1460;

/// smoltcp 0.12's fixed choices (src/socket/tcp.rs): TIME-WAIT lasts `CLOSE_DELAY` (10 s), so
/// its MSL is 5 s; its RTO starts at `RTTE_INITIAL_RTT` + 4×`RTTE_INITIAL_DEV` (700 ms) and is
/// kept between `RTTE_MIN_RTO` (10 ms) and `RTTE_MAX_RTO` (10 s); it delays an ACK by
/// `ACK_DELAY_DEFAULT` (10 ms). It sends challenge ACKs without a rate limit.
pub const SMOLTCP_PARAMETERS: super::Parameters = super::Parameters {
    msl: std::time::Duration::from_secs(5),
    rto_initial: std::time::Duration::from_millis(700),
    rto_min: std::time::Duration::from_millis(10),
    rto_max: std::time::Duration::from_secs(10),
    ack_delay: std::time::Duration::from_millis(10),
    challenge_ack_limit: None,
    // smoltcp's clock counts microseconds.
    granularity: std::time::Duration::from_micros(1),
};

impl TcpStack for SmolStack {
    fn parameters(&self) -> super::Parameters {
        SMOLTCP_PARAMETERS
    }
    fn name(&self) -> &str {
        "smoltcp"
    }
    fn handle_packet(&mut self, now: Instant, bytes: &[u8]) {
        self.now = self.now.max(now);
        if let Ok(p) = synack_core::wire::Packet::parse(bytes) {
            let seg = synack_core::SegmentSummary::of(&p);
            if seg.flags.contains(Flags::ACK) {
                self.last_ack.insert((seg.dst.port(), seg.src), seg.ack);
            }
            if seg.flags.contains(Flags::RST) {
                self.rst.insert((seg.dst.port(), seg.src));
            }
            if seg.flags.contains(Flags::SYN) && self.has_connection(seg.dst, seg.src) {
                self.hide_listeners(seg.dst.port());
            }
            self.watch_arrival(&seg, &p.tcp);
            // smoltcp announces the MSS of a 1500-octet MTU; a peer announcing more is
            // acknowledged by the peer's measure (see the known difference).
            if seg.flags.contains(Flags::SYN) && p.tcp.mss().is_some_and(|m| m > SMOLTCP_MSS) {
                self.saw(&known::SMOLTCP_ACK_EVERY_PEER_MSS);
            }
            if seg.flags.contains(Flags::FIN) && self.in_time_wait(seg.dst, seg.src) {
                self.saw(&known::SMOLTCP_TIME_WAIT_NOT_RESTARTED);
            }
        }
        let mut b = self.device.spare.pop().unwrap_or_default();
        b.clear();
        b.extend_from_slice(bytes);
        self.device.rx.push_back(b);
        self.poll();
    }
    fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        self.now = self.now.max(now);
        if self.device.tx.is_empty() {
            self.poll();
        }
        let Some(p) = self.device.tx.pop_front() else {
            return false;
        };
        self.inspect(&p);
        // Hand smoltcp's buffer over and keep the caller's for its next packet.
        let spare = std::mem::replace(out, p);
        self.device.spare.push(spare);
        true
    }
    fn poll_timeout(&self) -> Option<Instant> {
        // A delay of zero means "poll again now": one nanosecond later, so time moves on.
        self.next.map(|t| {
            if t <= self.now {
                self.now + std::time::Duration::from_nanos(1)
            } else {
                t
            }
        })
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        self.poll();
    }
    fn poll_event(&mut self) -> Option<(SocketId, Event)> {
        self.events.pop_front()
    }
    fn drain_transitions(&mut self, out: &mut Vec<Transition>) {
        out.append(&mut self.transitions);
    }
    fn live_sockets(&self) -> usize {
        self.conns.len() + self.listeners.len()
    }
    fn listen(&mut self, port: u16) -> Result<SocketId, UserError> {
        if self.listeners.values().any(|l| l.port == port) {
            return Err(UserError::ConnectionAlreadyExists);
        }
        let handle = self.sockets.add(self.new_socket());
        self.sockets
            .get_mut::<tcp::Socket>(handle)
            .listen(port)
            .map_err(|_| UserError::InsufficientResources)?;
        let id = self.id();
        self.transitions.push(Transition {
            socket: id,
            from: State::Closed,
            to: State::Listen,
        });
        self.listeners.insert(
            id,
            Listener {
                port,
                handle,
                ready: VecDeque::new(),
            },
        );
        Ok(id)
    }
    fn listen_to(&mut self, _port: u16, _remote: SocketAddrV4) -> Result<SocketId, UserError> {
        // smoltcp has no fully specified passive OPEN (RFC 9293 §3.10.1).
        self.saw(&known::SMOLTCP_NO_FULLY_SPECIFIED_PASSIVE_OPEN);
        Err(UserError::InsufficientResources)
    }
    fn connect(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
        local_port: Option<u16>,
    ) -> Result<SocketId, UserError> {
        self.now = self.now.max(now);
        let handle = self.sockets.add(self.new_socket());
        let local = local_port.unwrap_or(49152 + (self.next_id % 16000) as u16);
        self.sockets
            .get_mut::<tcp::Socket>(handle)
            .connect(self.iface.context(), endpoint(remote), local)
            .map_err(|_| UserError::ConnectionAlreadyExists)?;
        let id = self.id();
        self.transitions.push(Transition {
            socket: id,
            from: State::Closed,
            to: State::SynSent,
        });
        self.conns.insert(
            id,
            Conn {
                handle,
                last: State::SynSent,
                listener: None,
                accepted: true,
                fin_told: false,
                user_ended: false,
                key: None,
            },
        );
        self.poll();
        Ok(id)
    }
    fn accept(&mut self, listener: SocketId) -> Result<Option<SocketId>, UserError> {
        let l = self
            .listeners
            .get_mut(&listener)
            .ok_or(UserError::ConnectionDoesNotExist)?;
        let next = l.ready.pop_front();
        if let Some(id) = next {
            if let Some(c) = self.conns.get_mut(&id) {
                c.accepted = true;
            }
        }
        Ok(next)
    }
    fn send(&mut self, now: Instant, id: SocketId, data: &[u8]) -> Result<usize, UserError> {
        self.now = self.now.max(now);
        if self.listeners.contains_key(&id) {
            // RFC 9293 §3.10.2 SEND in LISTEN without a foreign socket: an error.
            return Err(UserError::RemoteSocketUnspecified);
        }
        let c = self
            .conns
            .get(&id)
            .ok_or(UserError::ConnectionDoesNotExist)?;
        let n = self
            .sockets
            .get_mut::<tcp::Socket>(c.handle)
            .send_slice(data)
            .map_err(|_| UserError::ConnectionClosing)?;
        self.poll();
        Ok(n)
    }
    fn recv(&mut self, id: SocketId, buf: &mut [u8]) -> Result<usize, UserError> {
        if self.listeners.contains_key(&id) {
            // RFC 9293 §3.10.3 RECEIVE in LISTEN: queued until the connection exists.
            return Ok(0);
        }
        let c = self
            .conns
            .get(&id)
            .ok_or(UserError::ConnectionDoesNotExist)?;
        let sock = self.sockets.get_mut::<tcp::Socket>(c.handle);
        match sock.recv_slice(buf) {
            Ok(0) if !sock.may_recv() && !sock.can_recv() => Err(UserError::ConnectionClosing),
            Ok(n) => {
                self.poll();
                Ok(n)
            }
            Err(tcp::RecvError::Finished) => Err(UserError::ConnectionClosing),
            Err(tcp::RecvError::InvalidState) => Ok(0),
        }
    }
    fn close(&mut self, id: SocketId) -> Result<(), UserError> {
        if let Some(l) = self.listeners.remove(&id) {
            self.sockets.remove(l.handle);
            // Its connections nobody accepted go with it, reset, as synack-core's do
            // (RFC 9293 §3.10.4 CLOSE in LISTEN deletes the TCB; a queued connection has no
            // user to hand it to).
            let orphans: Vec<SocketId> = self
                .conns
                .iter()
                .filter(|(_, c)| c.listener == Some(id) && !c.accepted)
                .map(|(cid, _)| *cid)
                .collect();
            for cid in orphans {
                self.ended_by_user(cid);
                if let Some(c) = self.conns.get(&cid) {
                    self.sockets.get_mut::<tcp::Socket>(c.handle).abort();
                }
            }
            self.transitions.push(Transition {
                socket: id,
                from: State::Listen,
                to: State::Closed,
            });
            self.poll();
            return Ok(());
        }
        let c = self
            .conns
            .get(&id)
            .ok_or(UserError::ConnectionDoesNotExist)?;
        let handle = c.handle;
        if self.sockets.get::<tcp::Socket>(handle).state() == tcp::State::SynSent {
            self.ended_by_user(id);
        }
        self.sockets.get_mut::<tcp::Socket>(handle).close();
        self.poll();
        Ok(())
    }
    fn set_no_delay(&mut self, id: SocketId, on: bool) -> Result<(), UserError> {
        let c = self
            .conns
            .get(&id)
            .ok_or(UserError::ConnectionDoesNotExist)?;
        let handle = c.handle;
        self.sockets
            .get_mut::<tcp::Socket>(handle)
            .set_nagle_enabled(!on);
        Ok(())
    }
    fn abort(&mut self, id: SocketId) -> Result<(), UserError> {
        if self.listeners.contains_key(&id) {
            return self.close(id);
        }
        let c = self
            .conns
            .get(&id)
            .ok_or(UserError::ConnectionDoesNotExist)?;
        let handle = c.handle;
        self.ended_by_user(id);
        self.sockets.get_mut::<tcp::Socket>(handle).abort();
        self.poll();
        Ok(())
    }
    fn status(&self, id: SocketId) -> Result<State, UserError> {
        if self.listeners.contains_key(&id) {
            return Ok(State::Listen);
        }
        let c = self
            .conns
            .get(&id)
            .ok_or(UserError::ConnectionDoesNotExist)?;
        Ok(state(self.sockets.get::<tcp::Socket>(c.handle).state()))
    }
    fn endpoints(&self, id: SocketId) -> Option<(SocketAddrV4, SocketAddrV4)> {
        let c = self.conns.get(&id)?;
        let s = self.sockets.get::<tcp::Socket>(c.handle);
        Some((
            sock_addr(s.local_endpoint()?)?,
            sock_addr(s.remote_endpoint()?)?,
        ))
    }
    fn conn_state(&self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<State> {
        for c in self.conns.values() {
            let s = self.sockets.get::<tcp::Socket>(c.handle);
            if s.local_endpoint().and_then(sock_addr) == Some(local)
                && s.remote_endpoint().and_then(sock_addr) == Some(remote)
            {
                return Some(state(s.state()));
            }
        }
        self.listeners
            .values()
            .any(|l| l.port == local.port())
            .then_some(State::Listen)
    }
    fn known_differences(&self) -> Vec<&'static KnownDifference> {
        self.known.clone()
    }
}
