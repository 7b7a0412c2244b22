//! Planted bugs: wrappers around a correct stack that break it in one known way.
//!
//! This module owns the bugs the harness must catch, so that a test (or a user, through the
//! hidden `--plant` option) can check that the oracles, replay and shrinking work. Nothing here
//! is ever used by a normal run.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddrV4;
use std::str::FromStr;
use std::time::Duration;

use synack_core::wire::{Flags, Packet, TcpOption};
use synack_core::{Config, Event, Instant, SeqNum, SocketId, State, UserError};

use super::{Parameters, TcpStack, Transition};

/// A known bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// Every retransmitted FIN is silently not sent.
    DropRetransmittedFin,
    /// The stack announces an MSS of [`SMALL_MSS`] but sends as if its peer had announced its
    /// own (RFC 9293 §3.7.1, MUST-16): its outgoing SYNs carry the smaller MSS, and the MSS of
    /// the SYNs it receives is read back up to what the peer really takes.
    IgnorePeerMss,
    /// The stack sends into twice the window it was offered (RFC 9293 §3.8.6): its outgoing
    /// segments advertise half its window, and the windows it receives are read doubled.
    DoubleThePeerWindow,
    /// The stack announces no MSS, and takes a SYN without the option to mean 1460 where
    /// §3.7.1 says 536 (MUST-15).
    AssumeMssWithoutOption,
    /// The stack's RTO starts at 200 ms and may fall to it, while it declares RFC 6298's 1 s
    /// (RFC 6298 (2.1), (2.4)).
    ShortRto,
    /// Beside the stack's own retransmissions, every unacknowledged segment is sent again each
    /// second, without backoff (RFC 6298 (5.5), MUST-19).
    NoBackoff,
    /// TIME-WAIT lasts 2 s while the stack declares an MSL of 2 minutes (MUST-13).
    ShortTimeWait,
    /// ACKs that carry nothing else are held for 600 ms (MUST-40: under 0.5 s).
    SlowAcks,
    /// Of the ACKs that acknowledge new data and carry nothing else, three in four are never
    /// sent; the stack declares a delayed ACK of 200 ms, so it is held to an ACK for every
    /// 2×RMSS octets (SHLD-19).
    StretchAcks,
    /// A duplicate ACK, which out-of-order data draws, is held for 100 ms (RFC 5681 §4.2).
    SlowDuplicateAcks,
    /// Every segment whose ACK first covers the peer's FIN is held until [`SLOW_FIN_ACK`] after
    /// the first of them: the FIN is acknowledged late (§3.10.7.4, within MUST-40's 0.5 s).
    SlowFinAcks,
    /// A reset that answers a segment with ACK takes the form meant for a segment without:
    /// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, where §3.10.7.1 gives <SEQ=SEG.ACK><CTL=RST>.
    ResetIgnoresAck,
    /// A retransmission carries a wrong last octet, as if read from the wrong place in the
    /// send buffer (§3.4).
    StaleRetransmission,
    /// A retransmitted FIN goes one sequence number past where it was first sent (§3.6).
    FinMoves,
    /// The TCP checksum of a segment with an odd number of data octets is wrong: the last
    /// octet is left out of the sum, as if never padded (§3.1, MUST-2).
    OddChecksum,
    /// Any RST in the window resets the connection, as in RFC 793, while the stack declares
    /// RFC 5961's mitigations (RFC 5961 §3.2): an arriving RST is read as if at RCV.NXT.
    AcceptRstInWindow,
    /// Challenge ACKs are not limited, while the stack declares at most one per second
    /// (RFC 5961 §7).
    UnlimitedChallengeAcks,
    /// A segment of new data longer than [`SPLIT_AT`] octets leaves as two: its first
    /// [`SPLIT_AT`] octets, then the rest, a short segment while a full one could be sent
    /// (RFC 9293 §3.8.6.2.1, MUST-38).
    SplitSegments,
    /// Every read by the application, cut to [`SMALL_READ`] octets as an application reading
    /// small records would make it, is followed by an ACK that offers the octets it freed at
    /// once: the right edge of the window creeps forward (§3.8.6.2.2, MUST-39).
    EagerWindowUpdates,
    /// Zero-window probes are never sent: a segment of one octet at or past the right edge the
    /// peer last offered is dropped (§3.8.6.1, MUST-36).
    NoZeroWindowProbes,
}

/// How late `SlowFinAcks` acknowledges a FIN.
pub const SLOW_FIN_ACK: Duration = Duration::from_millis(600);

/// Where `SplitSegments` cuts a segment.
pub const SPLIT_AT: usize = 64;

/// The most `EagerWindowUpdates` lets one read take.
pub const SMALL_READ: usize = 100;

/// The MSS `IgnorePeerMss` announces.
pub const SMALL_MSS: u16 = 1000;

impl Bug {
    /// Every bug, in the order `--plant` lists them.
    pub const ALL: [Bug; 20] = [
        Bug::DropRetransmittedFin,
        Bug::IgnorePeerMss,
        Bug::DoubleThePeerWindow,
        Bug::AssumeMssWithoutOption,
        Bug::ShortRto,
        Bug::NoBackoff,
        Bug::ShortTimeWait,
        Bug::SlowAcks,
        Bug::StretchAcks,
        Bug::SlowDuplicateAcks,
        Bug::SlowFinAcks,
        Bug::ResetIgnoresAck,
        Bug::StaleRetransmission,
        Bug::FinMoves,
        Bug::OddChecksum,
        Bug::AcceptRstInWindow,
        Bug::UnlimitedChallengeAcks,
        Bug::SplitSegments,
        Bug::EagerWindowUpdates,
        Bug::NoZeroWindowProbes,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Bug::DropRetransmittedFin => "drop-retransmitted-fin",
            Bug::IgnorePeerMss => "ignore-peer-mss",
            Bug::DoubleThePeerWindow => "double-the-peer-window",
            Bug::AssumeMssWithoutOption => "assume-mss-without-option",
            Bug::ShortRto => "short-rto",
            Bug::NoBackoff => "no-backoff",
            Bug::ShortTimeWait => "short-time-wait",
            Bug::SlowAcks => "slow-acks",
            Bug::StretchAcks => "stretch-acks",
            Bug::SlowDuplicateAcks => "slow-duplicate-acks",
            Bug::SlowFinAcks => "slow-fin-acks",
            Bug::ResetIgnoresAck => "reset-ignores-ack",
            Bug::StaleRetransmission => "stale-retransmission",
            Bug::FinMoves => "fin-moves",
            Bug::OddChecksum => "odd-checksum",
            Bug::AcceptRstInWindow => "accept-rst-in-window",
            Bug::UnlimitedChallengeAcks => "unlimited-challenge-acks",
            Bug::SplitSegments => "split-segments",
            Bug::EagerWindowUpdates => "eager-window-updates",
            Bug::NoZeroWindowProbes => "no-zero-window-probes",
        }
    }

    /// The configuration the stack really runs with, for a bug that is a configuration
    /// departing from what the stack declares.
    pub fn configure(self, config: &mut Config) {
        match self {
            Bug::ShortRto => {
                config.rto_initial = Duration::from_millis(200);
                config.rto_min = Duration::from_millis(200);
            }
            Bug::ShortTimeWait => config.msl = Duration::from_secs(1),
            Bug::UnlimitedChallengeAcks => config.challenge_ack_limit = 1_000_000,
            _ => {}
        }
    }

    /// What the stack declares: what it would declare without the bug, where the bug is
    /// a departure from its declaration (`declared` was built from the configuration the run
    /// gave it, before [`Bug::configure`]).
    fn declare(self, declared: &Config, params: &mut Parameters) {
        match self {
            Bug::ShortRto => {
                params.rto_initial = declared.rto_initial;
                params.rto_min = declared.rto_min;
            }
            Bug::ShortTimeWait => params.msl = declared.msl,
            Bug::StretchAcks => params.ack_delay = Duration::from_millis(200),
            Bug::UnlimitedChallengeAcks => params.challenge_ack_limit = Some(1),
            _ => {}
        }
    }
}

impl FromStr for Bug {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Bug::ALL.into_iter().find(|b| b.name() == s).ok_or_else(|| {
            format!(
                "unknown bug {s:?}; expected one of: {}",
                Bug::ALL.map(Bug::name).join(", ")
            )
        })
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Rewrites a packet's TCP header with `change`, re-emitting it with fresh checksums; a
/// packet that does not parse (a corrupted copy) is left as it is.
fn rewrite(
    bytes: &[u8],
    change: impl FnOnce(&mut synack_core::wire::TcpHeader),
) -> Option<Vec<u8>> {
    let p = Packet::parse(bytes).ok()?;
    let mut tcp = p.tcp.clone();
    change(&mut tcp);
    Packet {
        ip: p.ip.clone(),
        tcp,
        payload: p.payload,
    }
    .to_bytes()
    .ok()
}

/// Sets the MSS option of a SYN to `mss`.
fn set_mss(tcp: &mut synack_core::wire::TcpHeader, mss: u16) {
    if tcp.flags.contains(Flags::SYN) {
        for o in &mut tcp.options {
            if let TcpOption::Mss(m) = o {
                *m = mss;
            }
        }
    }
}

/// A stack with a planted bug.
pub struct Planted {
    inner: Box<dyn TcpStack>,
    bug: Bug,
    /// What it declares.
    params: Parameters,
    /// (source port, destination port, SEG.SEQ) of the data segments and FINs it sent.
    sent: BTreeSet<(u16, u16, u32)>,
    /// Packets it holds back, with when each is due: the earliest first.
    held: Vec<(Instant, Vec<u8>)>,
    /// For `NoBackoff`: the segments not yet acknowledged, by (source port, destination port),
    /// with their end and when they were last sent.
    unacked: Vec<Unacked>,
    /// The last ACK each connection (source port, destination port) sent, and how many pure
    /// ACKs it has sent.
    acks: BTreeMap<(u16, u16), (SeqNum, u64)>,
    /// For `ResetIgnoresAck`: SEG.SEQ, SEG.LEN and SEG.ACK of the last segment with ACK that
    /// arrived, if the last to arrive had one.
    last_in: Option<(SeqNum, u32, SeqNum)>,
    /// For `EagerWindowUpdates` and `NoZeroWindowProbes`, by (source port, destination port)
    /// of what the stack sends: its latest segment with ACK (after its SYN), with SND.NXT as
    /// it stood then; and a right edge: for `NoZeroWindowProbes` the one the peer last offered,
    /// for `EagerWindowUpdates` the largest the stack offered.
    last_out: BTreeMap<(u16, u16), (Vec<u8>, SeqNum)>,
    peer_edge: BTreeMap<(u16, u16), SeqNum>,
    /// For `SlowFinAcks`, by (source port, destination port) of what the stack sends: one
    /// past the FIN the peer sent, and, once the stack first acknowledged it, until when its
    /// segments that do are held.
    peer_fin: BTreeMap<(u16, u16), (SeqNum, Option<Instant>)>,
}

/// A segment `NoBackoff` sends again: its (source port, destination port), its end, when it
/// was last sent, and its octets.
type Unacked = ((u16, u16), SeqNum, Instant, Vec<u8>);

/// How long `NoBackoff` waits before sending an unacknowledged segment again.
const NO_BACKOFF_INTERVAL: Duration = Duration::from_secs(1);

impl Planted {
    /// Plants `bug` in `inner`, which was built with `config` changed by [`Bug::configure`]:
    /// `config` is the configuration before that change.
    pub fn new(inner: Box<dyn TcpStack>, bug: Bug, config: &Config) -> Planted {
        let mut params = inner.parameters();
        bug.declare(config, &mut params);
        Planted {
            inner,
            bug,
            params,
            sent: BTreeSet::new(),
            held: Vec::new(),
            unacked: Vec::new(),
            acks: BTreeMap::new(),
            last_in: None,
            last_out: BTreeMap::new(),
            peer_edge: BTreeMap::new(),
            peer_fin: BTreeMap::new(),
        }
    }

    /// Holds `bytes` back until `due`.
    fn hold(&mut self, due: Instant, bytes: Vec<u8>) {
        let i = self.held.partition_point(|(t, _)| *t <= due);
        self.held.insert(i, (due, bytes));
    }

    /// The bug's work on one packet the inner stack sent: `Some` to send (maybe rewritten),
    /// `None` to hold it or drop it.
    fn outgoing(&mut self, now: Instant, bytes: &[u8]) -> Option<Vec<u8>> {
        let Ok(p) = Packet::parse(bytes) else {
            return Some(bytes.to_vec());
        };
        let t = &p.tcp;
        let ports = (t.src_port, t.dst_port);
        let key = (t.src_port, t.dst_port, t.seq.get());
        let pure_ack = t.flags == Flags::ACK && p.payload.is_empty();
        let occupies = !p.payload.is_empty() || t.flags.intersects(Flags::SYN | Flags::FIN);
        let repeat = occupies && !self.sent.insert(key);
        if self.bug == Bug::EagerWindowUpdates
            && t.flags.contains(Flags::ACK)
            && !t.flags.intersects(Flags::SYN | Flags::RST)
        {
            let end = t.seq
                + u32::try_from(p.payload.len()).unwrap_or(u32::MAX)
                + u32::from(t.flags.contains(Flags::FIN));
            let next = match self.last_out.get(&ports) {
                Some((_, n)) if end.lt(*n) => *n,
                _ => end,
            };
            // The edge its own updates offered stays offered: the stack's later segments would
            // pull it back.
            let offered = self.peer_edge.get(&ports).copied();
            let kept = offered.filter(|e| (t.ack + u32::from(t.window)).lt(*e));
            let out = match kept {
                Some(e) => rewrite(bytes, |h| {
                    h.window = u16::try_from(h.ack.distance_to(e)).unwrap_or(u16::MAX)
                }),
                None => Some(bytes.to_vec()),
            };
            let out = out.unwrap_or_else(|| bytes.to_vec());
            self.last_out.insert(ports, (out.clone(), next));
            if kept.is_none() {
                self.peer_edge.insert(ports, t.ack + u32::from(t.window));
            }
            return Some(out);
        }
        match self.bug {
            Bug::DropRetransmittedFin if repeat && t.flags.contains(Flags::FIN) => None,
            Bug::IgnorePeerMss => rewrite(bytes, |t| set_mss(t, SMALL_MSS)),
            Bug::DoubleThePeerWindow => rewrite(bytes, |t| {
                if !t.flags.contains(Flags::SYN) {
                    t.window /= 2;
                }
            }),
            Bug::AssumeMssWithoutOption => rewrite(bytes, |t| {
                t.options.retain(|o| !matches!(o, TcpOption::Mss(_)));
            }),
            Bug::NoBackoff => {
                if occupies {
                    let end = t.seq + synack_core::SegmentSummary::of(&p).seg_len();
                    self.unacked
                        .retain(|(k, e, _, _)| !(*k == ports && *e == end));
                    self.unacked.push((ports, end, now, bytes.to_vec()));
                }
                Some(bytes.to_vec())
            }
            Bug::SlowAcks => {
                // Anything else the connection sends carries the ACK a held one would.
                self.held.retain(|(_, b)| {
                    Packet::parse(b).map_or(true, |h| (h.tcp.src_port, h.tcp.dst_port) != ports)
                });
                if pure_ack {
                    self.hold(now + Duration::from_millis(600), bytes.to_vec());
                    return None;
                }
                Some(bytes.to_vec())
            }
            Bug::StretchAcks if pure_ack => {
                let n = self.acks.entry(ports).or_insert((t.ack, 0));
                if n.0 == t.ack {
                    return Some(bytes.to_vec());
                }
                n.0 = t.ack;
                n.1 += 1;
                (n.1 % 4 == 0).then(|| bytes.to_vec())
            }
            Bug::SlowFinAcks if t.flags.contains(Flags::ACK) => {
                match self.peer_fin.get_mut(&ports) {
                    Some((end, until)) if *end == t.ack => {
                        let due = *until.get_or_insert(now + SLOW_FIN_ACK);
                        if now < due {
                            self.hold(due, bytes.to_vec());
                            return None;
                        }
                        Some(bytes.to_vec())
                    }
                    _ => Some(bytes.to_vec()),
                }
            }
            Bug::SlowDuplicateAcks if pure_ack => {
                let last = self.acks.insert(ports, (t.ack, 0));
                if last.is_some_and(|(a, _)| a == t.ack) {
                    self.hold(now + Duration::from_millis(100), bytes.to_vec());
                    return None;
                }
                Some(bytes.to_vec())
            }
            Bug::SlowDuplicateAcks | Bug::AcceptRstInWindow if t.flags.contains(Flags::ACK) => {
                self.acks.insert(ports, (t.ack, 0));
                Some(bytes.to_vec())
            }
            Bug::ResetIgnoresAck if t.flags == Flags::RST => match self.last_in {
                // The reset answers the segment that just arrived, which carried an ACK.
                Some((seq, len, ack)) if ack == t.seq => rewrite(bytes, |t| {
                    t.flags = Flags::RST | Flags::ACK;
                    t.ack = seq + len;
                    t.seq = SeqNum(0);
                }),
                _ => Some(bytes.to_vec()),
            },
            Bug::StaleRetransmission if repeat && !p.payload.is_empty() => {
                let mut payload = p.payload.to_vec();
                if let Some(last) = payload.last_mut() {
                    *last ^= 0xff;
                }
                Packet {
                    ip: p.ip.clone(),
                    tcp: p.tcp.clone(),
                    payload: &payload,
                }
                .to_bytes()
                .ok()
            }
            Bug::FinMoves if repeat && t.flags.contains(Flags::FIN) && p.payload.is_empty() => {
                rewrite(bytes, |t| t.seq += 1)
            }
            Bug::SplitSegments if !repeat && p.payload.len() > SPLIT_AT => {
                let (first, rest) = p.payload.split_at(SPLIT_AT);
                let mut head = p.tcp.clone();
                head.flags -= Flags::FIN;
                let mut tail = p.tcp.clone();
                tail.seq += SPLIT_AT as u32;
                self.sent.insert((t.src_port, t.dst_port, tail.seq.get()));
                let second = Packet {
                    ip: p.ip.clone(),
                    tcp: tail,
                    payload: rest,
                }
                .to_bytes()
                .ok()?;
                self.hold(now, second);
                Packet {
                    ip: p.ip.clone(),
                    tcp: head,
                    payload: first,
                }
                .to_bytes()
                .ok()
            }
            Bug::NoZeroWindowProbes
                if p.payload.len() == 1
                    && self.peer_edge.get(&ports).is_some_and(|e| e.le(t.seq)) =>
            {
                None
            }
            Bug::OddChecksum if p.payload.len() % 2 == 1 => {
                // The last octet stands in the sum as the high half of a word: take it out.
                let mut b = bytes.to_vec();
                let at = p.ip.header_len() + 16;
                let last = u32::from(*p.payload.last().unwrap_or(&0)) << 8;
                if let Some(field) = b.get_mut(at..at + 2) {
                    let sum = u32::from(!u16::from_be_bytes([field[0], field[1]])) + 0xffff - last;
                    let folded = (sum & 0xffff) + (sum >> 16);
                    let folded = (folded & 0xffff) + (folded >> 16);
                    field.copy_from_slice(&(!(folded as u16)).to_be_bytes());
                }
                Some(b)
            }
            _ => Some(bytes.to_vec()),
        }
    }
}

impl Planted {
    /// `EagerWindowUpdates`: the application read `n` octets on `id`; an ACK at once offers
    /// them on top of the window the stack last offered.
    fn offer_freed(&mut self, id: SocketId, n: usize) {
        let Some((local, remote)) = self.inner.endpoints(id) else {
            return;
        };
        let ports = (local.port(), remote.port());
        let Some((bytes, next)) = self.last_out.get(&ports) else {
            return;
        };
        let Ok(p) = Packet::parse(bytes) else {
            return;
        };
        let mut tcp = p.tcp.clone();
        tcp.seq = *next;
        tcp.flags = Flags::ACK;
        let freed = u16::try_from(n).unwrap_or(u16::MAX);
        tcp.window = tcp.window.saturating_add(freed);
        let update = Packet {
            ip: p.ip.clone(),
            tcp,
            payload: &[],
        }
        .to_bytes();
        if let Ok(b) = update {
            let edge = p.tcp.ack + u32::from(p.tcp.window.saturating_add(freed));
            self.peer_edge.insert(ports, edge);
            self.last_out.insert(ports, (b.clone(), *next));
            // Due at once: it goes out at the host's next transmission.
            self.hold(Instant::ZERO, b);
        }
    }
}

impl TcpStack for Planted {
    fn name(&self) -> &str {
        "planted"
    }
    fn handle_packet(&mut self, now: Instant, bytes: &[u8]) {
        if self.bug == Bug::NoZeroWindowProbes {
            if let Ok(p) = Packet::parse(bytes) {
                let t = &p.tcp;
                if t.flags.contains(Flags::ACK) && !t.flags.intersects(Flags::SYN | Flags::RST) {
                    let edge = t.ack + u32::from(t.window);
                    self.peer_edge.insert((t.dst_port, t.src_port), edge);
                }
            }
        }
        if self.bug == Bug::SlowFinAcks {
            if let Ok(p) = Packet::parse(bytes) {
                let t = &p.tcp;
                if t.flags.contains(Flags::FIN) && !t.flags.contains(Flags::RST) {
                    let end = t.seq + synack_core::SegmentSummary::of(&p).seg_len();
                    let ports = (t.dst_port, t.src_port);
                    if self.peer_fin.get(&ports).is_none_or(|(e, _)| *e != end) {
                        self.peer_fin.insert(ports, (end, None));
                    }
                }
            }
        }
        if self.bug == Bug::ResetIgnoresAck {
            self.last_in = Packet::parse(bytes).ok().and_then(|p| {
                let len = synack_core::SegmentSummary::of(&p).seg_len();
                p.tcp
                    .flags
                    .contains(Flags::ACK)
                    .then_some((p.tcp.seq, len, p.tcp.ack))
            });
        }
        let rewritten = match self.bug {
            // The peer announced SMALL_MSS; read it as the 1460 it would otherwise be.
            Bug::IgnorePeerMss => rewrite(bytes, |t| set_mss(t, 1460)),
            Bug::DoubleThePeerWindow => rewrite(bytes, |t| {
                if !t.flags.contains(Flags::SYN) {
                    t.window = t.window.saturating_mul(2);
                }
            }),
            // A RST is read as if at RCV.NXT, the ACK the stack last sent on the connection.
            Bug::AcceptRstInWindow => rewrite(bytes, |t| {
                if t.flags.contains(Flags::RST) {
                    if let Some((rcv_nxt, _)) = self.acks.get(&(t.dst_port, t.src_port)) {
                        t.seq = *rcv_nxt;
                    }
                }
            }),
            // A SYN without the option is read as if it announced 1460.
            Bug::AssumeMssWithoutOption => rewrite(bytes, |t| {
                if t.flags.contains(Flags::SYN)
                    && !t.options.iter().any(|o| matches!(o, TcpOption::Mss(_)))
                {
                    t.options.push(TcpOption::Mss(1460));
                    t.data_offset += 1;
                }
            }),
            Bug::NoBackoff => {
                if let Ok(p) = Packet::parse(bytes) {
                    if p.tcp.flags.contains(Flags::ACK) {
                        let ports = (p.tcp.dst_port, p.tcp.src_port);
                        let ack = p.tcp.ack;
                        self.unacked
                            .retain(|(k, end, _, _)| !(*k == ports && end.le(ack)));
                    }
                }
                None
            }
            _ => None,
        };
        self.inner
            .handle_packet(now, rewritten.as_deref().unwrap_or(bytes));
    }
    fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        if self.held.first().is_some_and(|(t, _)| *t <= now) {
            let (_, b) = self.held.remove(0);
            *out = b;
            return true;
        }
        if let Some(u) = self
            .unacked
            .iter_mut()
            .find(|u| u.2 + NO_BACKOFF_INTERVAL <= now)
        {
            u.2 = now;
            out.clone_from(&u.3);
            return true;
        }
        loop {
            if !self.inner.poll_transmit(now, out) {
                return false;
            }
            if let Some(b) = self.outgoing(now, out) {
                *out = b;
                return true;
            }
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        let held = self.held.first().map(|(t, _)| *t);
        let again = self.unacked.iter().map(|u| u.2 + NO_BACKOFF_INTERVAL).min();
        [self.inner.poll_timeout(), held, again]
            .into_iter()
            .flatten()
            .min()
    }
    fn handle_timeout(&mut self, now: Instant) {
        if self.inner.poll_timeout().is_some_and(|t| t <= now) {
            self.inner.handle_timeout(now);
        }
    }
    fn poll_event(&mut self) -> Option<(SocketId, Event)> {
        self.inner.poll_event()
    }
    fn drain_transitions(&mut self, out: &mut Vec<Transition>) {
        self.inner.drain_transitions(out);
    }
    fn live_sockets(&self) -> usize {
        self.inner.live_sockets()
    }
    fn listen(&mut self, port: u16) -> Result<SocketId, UserError> {
        self.inner.listen(port)
    }
    fn listen_to(&mut self, port: u16, remote: SocketAddrV4) -> Result<SocketId, UserError> {
        self.inner.listen_to(port, remote)
    }
    fn connect(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
        local_port: Option<u16>,
    ) -> Result<SocketId, UserError> {
        self.inner.connect(now, remote, local_port)
    }
    fn accept(&mut self, listener: SocketId) -> Result<Option<SocketId>, UserError> {
        self.inner.accept(listener)
    }
    fn send(&mut self, now: Instant, id: SocketId, data: &[u8]) -> Result<usize, UserError> {
        self.inner.send(now, id, data)
    }
    fn recv(&mut self, id: SocketId, buf: &mut [u8]) -> Result<usize, UserError> {
        if self.bug != Bug::EagerWindowUpdates {
            return self.inner.recv(id, buf);
        }
        let small = buf.len().min(SMALL_READ);
        let r = self.inner.recv(id, &mut buf[..small]);
        if let Ok(n @ 1..) = r {
            self.offer_freed(id, n);
        }
        r
    }
    fn close(&mut self, id: SocketId) -> Result<(), UserError> {
        self.inner.close(id)
    }
    fn abort(&mut self, id: SocketId) -> Result<(), UserError> {
        self.inner.abort(id)
    }
    fn set_no_delay(&mut self, id: SocketId, on: bool) -> Result<(), UserError> {
        self.inner.set_no_delay(id, on)
    }
    fn status(&self, id: SocketId) -> Result<State, UserError> {
        self.inner.status(id)
    }
    fn endpoints(&self, id: SocketId) -> Option<(SocketAddrV4, SocketAddrV4)> {
        self.inner.endpoints(id)
    }
    fn conn_state(&self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<State> {
        self.inner.conn_state(local, remote)
    }
    fn known_differences(&self) -> Vec<&'static super::known::KnownDifference> {
        self.inner.known_differences()
    }
    fn parameters(&self) -> Parameters {
        self.params
    }
}
