//! Wire oracles: requirements of RFC 9293, RFC 6298 and RFC 5681 that the segments on the wire
//! show, checked for any stack by a passive observer.
//!
//! This module owns [`WireOracle`]: the views of each connection's two sides that `super::view`
//! rebuilds from the wire alone (the MSS and window scale each SYN announced, SND.UNA, SND.NXT,
//! RCV.NXT, the largest right window edge offered to each side, the FIN's place), a judgment of
//! each side kept beside them (when its retransmission timer could have started, what in-order
//! data it has not yet acknowledged, the octets it sent), and the checks each segment meets as it
//! leaves its sender or reaches its receiver. Each stack is judged by the parameters it declares
//! (`crate::stacks::Parameters`). A violation names the requirement by its RFC 9293 Appendix B
//! label, or by the section that states it.
//!
//! The checks:
//! - segment size: no segment carries more data than the MSS its receiver announced, or 536
//!   octets when it announced none (§3.7.1, MUST-15 and MUST-16);
//! - the window: no octet of new data goes past the largest right edge (SEG.ACK + SEG.WND,
//!   scaled as RFC 7323 §2.3 says when both SYNs carried the option) that the receiver
//!   advertised and that reached the sender, but for the one octet of a zero-window probe
//!   (§3.8.6, §3.8.6.1 MUST-36). Taking the largest edge ever advertised is what §3.8.6 allows a
//!   sender whose peer shrank its window (SHLD-14, MUST-34): only octets past every edge the
//!   sender was ever offered are new data sent outside the window;
//! - retransmission timing: a retransmission of the first unacknowledged octet that no arriving
//!   segment prompted (a timeout, not a fast retransmit or an answer) comes no sooner after the
//!   timer could have started than the declared initial RTO for a SYN (RFC 6298 (2.1)) and the
//!   declared least RTO for data (RFC 6298 (2.4)); each further one of the same octet at least
//!   doubles the wait, up to the declared maximum (RFC 6298 (5.5), MUST-19). For zero-window
//!   probes the same rules are SHLD-29 and SHLD-30;
//! - acknowledgments: in-order data is acknowledged within the receiver's declared delay, which
//!   the RFC bounds at 0.5 s (§3.8.6.3, MUST-40), at least for every 2×RMSS octets (SHLD-19),
//!   and out-of-order data at once (RFC 5681 §4.2); a FIN that reaches a synchronized receiver
//!   in order and inside its window is acknowledged within the same delay (§3.10.7.4, eighth:
//!   "advance RCV.NXT over the FIN, and send an acknowledgment for the FIN"), whether or not
//!   its application has read up to it;
//! - TIME-WAIT lasts 2×MSL after the later of entering it and the last FIN to arrive (§3.10.7.4,
//!   MUST-13), judged on the stacks' reported transitions;
//! - a reset for a segment that found no connection, or found LISTEN with an ACK, carries the
//!   SEQ and ACK that §3.10.7.1 and §3.10.7.2 give it;
//! - the octets of a retransmission are the octets first sent at those sequence numbers (§3.4),
//!   and the FIN stays where it was first sent, after the last octet of data (§3.4, §3.6).

use std::net::SocketAddrV4;
use std::time::Duration;

use synack_core::wire::Flags;
use synack_core::{Instant, SeqNum, SocketId, State};

use super::view::{self, Side, Views};
use crate::net::Summary;
use crate::stacks::{Parameters, Transition};

/// RFC 9293 §3.7.1: "If an MSS Option is not received at connection setup, TCP
/// implementations MUST assume a default send MSS of 536 (576 - 40) for IPv4" (MUST-15).
pub const DEFAULT_SEND_MSS: u16 = 536;

/// A requirement a segment broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The requirement: its Appendix B label, or the section that states it.
    pub requirement: &'static str,
    /// What the segment did.
    pub message: String,
}

/// The checks, each with its requirement label: the index into [`WireOracle`]'s counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    Window,
    Mss,
    DefaultMss,
    SynRto,
    DataRto,
    Backoff,
    FirstProbe,
    ProbeBackoff,
    AckDelay,
    AckEvery2Rmss,
    OutOfOrderAck,
    FinAck,
    TimeWait,
    ClosedReset,
    ListenReset,
    SameOctets,
    FinAtEnd,
    MssOnSynOnly,
    NoShrink,
    Checksum,
    OptionLength,
    Header,
    ChallengeRst,
    ChallengeSyn,
    ChallengeAck,
    ChallengeRate,
    SenderSws,
    ReceiverSws,
    Probe,
    ProbesKeepOpen,
    Karn,
    SynFallback,
}

impl Check {
    const ALL: [Check; 32] = [
        Check::Window,
        Check::Mss,
        Check::DefaultMss,
        Check::SynRto,
        Check::DataRto,
        Check::Backoff,
        Check::FirstProbe,
        Check::ProbeBackoff,
        Check::AckDelay,
        Check::AckEvery2Rmss,
        Check::OutOfOrderAck,
        Check::FinAck,
        Check::TimeWait,
        Check::ClosedReset,
        Check::ListenReset,
        Check::SameOctets,
        Check::FinAtEnd,
        Check::MssOnSynOnly,
        Check::NoShrink,
        Check::Checksum,
        Check::OptionLength,
        Check::Header,
        Check::ChallengeRst,
        Check::ChallengeSyn,
        Check::ChallengeAck,
        Check::ChallengeRate,
        Check::SenderSws,
        Check::ReceiverSws,
        Check::Probe,
        Check::ProbesKeepOpen,
        Check::Karn,
        Check::SynFallback,
    ];

    /// The requirement it checks.
    fn label(self) -> &'static str {
        match self {
            Check::Window => "§3.8.6",
            Check::Mss => "MUST-16",
            Check::DefaultMss => "MUST-15",
            Check::SynRto => "RFC 6298 (2.1)",
            Check::DataRto => "RFC 6298 (2.4)",
            Check::Backoff => "MUST-19",
            Check::FirstProbe => "SHLD-29",
            Check::ProbeBackoff => "SHLD-30",
            Check::AckDelay => "MUST-40",
            Check::AckEvery2Rmss => "SHLD-19",
            Check::OutOfOrderAck => "RFC 5681 §4.2",
            Check::FinAck => "§3.10.7.4",
            Check::TimeWait => "MUST-13",
            Check::ClosedReset => "§3.10.7.1",
            Check::ListenReset => "§3.10.7.2",
            Check::SameOctets => "§3.4",
            Check::FinAtEnd => "§3.6",
            Check::MssOnSynOnly => "MUST-65",
            Check::NoShrink => "SHLD-14",
            Check::Checksum => "MUST-2",
            Check::OptionLength => "MUST-68",
            Check::Header => "§3.1",
            Check::ChallengeRst => "RFC 5961 §3.2",
            Check::ChallengeSyn => "RFC 5961 §4.2",
            Check::ChallengeAck => "RFC 5961 §5.2",
            Check::ChallengeRate => "RFC 5961 §7",
            Check::SenderSws => "MUST-38",
            Check::ReceiverSws => "MUST-39",
            Check::Probe => "MUST-36",
            Check::ProbesKeepOpen => "MUST-37",
            Check::Karn => "MUST-18",
            Check::SynFallback => "RFC 6298 (5.7)",
        }
    }

    fn fail(self, message: String) -> Violation {
        Violation {
            requirement: self.label(),
            message,
        }
    }
}

/// Every requirement label the wire oracles check, in the order they are listed.
pub fn labels() -> impl Iterator<Item = &'static str> {
    Check::ALL.into_iter().map(Check::label)
}

/// What the oracle judges of one side beyond its view: its retransmission timer, what it owes
/// as a receiver, and the octets it sent.
#[derive(Clone, Debug, Default)]
pub struct Judge {
    /// The earliest its retransmission timer could have been started for what is outstanding:
    /// when it sent with nothing outstanding (RFC 6298 (5.1)), or last retransmitted on a
    /// timeout (5.6). An ACK of new data may restart the timer later (5.3), never earlier.
    armed_at: Option<Instant>,
    /// Retransmissions on a timeout of its first unacknowledged octet since SND.UNA last moved.
    backoffs: u32,
    /// The wait before the latest of them, when both ends of it were timeouts and nothing
    /// arrived between (which might have restarted the timer).
    last_gap: Option<Duration>,
    /// Whether `armed_at` is the latest timeout and nothing has arrived since.
    exact: bool,
    /// Karn's algorithm: one past the last octet (or SYN) it retransmitted on a timeout, whose
    /// ACK gives no RTT sample; the backoffs its RTO carries until an ACK of something sent
    /// only once gives one; and whether its SYN timed out with no sample since.
    rtx_end: Option<SeqNum>,
    karn: u32,
    syn_timed_out: bool,
    /// When a segment last reached it: what it sends then may answer that segment.
    last_arrival: Option<Instant>,
    /// When in-order data it has not yet acknowledged first reached it, and how many octets.
    ack_due: Option<Instant>,
    unacked: u32,
    /// One past the in-order data that reached it since it last acknowledged: where the next
    /// in-order octet begins, ahead of the RCV.NXT its last ACK showed.
    received: Option<SeqNum>,
    /// When out-of-order data reached it, not yet acknowledged.
    out_of_order: Option<Instant>,
    /// When a FIN reached it in order and inside its window, and the FIN's sequence number,
    /// until an ACK past the FIN leaves it.
    fin_due: Option<(Instant, SeqNum)>,
    /// When the latest FIN reached it.
    fin_arrived: Option<Instant>,
    /// The reset it owes a segment that found no connection or a listener: the SEQ, the ACK
    /// (for a reset with ACK), the check, and what the segment was.
    reset_due: Option<(SeqNum, Option<SeqNum>, Check, String)>,
    /// The largest right edge (SEG.ACK + SEG.WND, scaled) it advertised.
    offered: Option<SeqNum>,
    /// A challenge ACK it owes (RFC 5961): since when, for which check, and what drew it.
    challenge_due: Option<(Instant, Check, String)>,
    /// When it sent its recent challenge ACKs (the last second's, for RFC 5961 §7).
    challenges: std::collections::VecDeque<Instant>,
    /// When segments that call for a challenge ACK reached it (the last second's).
    provoked: std::collections::VecDeque<Instant>,
    /// When the latest segment arrived that only a challenge ACK answers: the next ACK it
    /// sends then is one, and counts against its limit.
    challenge_pending: Option<Instant>,
    /// The data octets it sent that are not yet acknowledged, from `octets_at`.
    octets: std::collections::VecDeque<u8>,
    octets_at: Option<SeqNum>,
    /// How many octets its application had handed it, when the harness can tell
    /// ([`WireOracle::wrote`]), and when each write not yet sent was taken: (the stream offset it
    /// reached, when).
    written: Option<u64>,
    writes: std::collections::VecDeque<(u64, Option<Instant>)>,
    /// What `written` was before the writes at the latest moment it grew: a stack may form a
    /// segment between two writes of one moment, so only this much was surely queued then.
    written_earlier: u64,
    /// The largest window, scaled, it advertised after its SYN.
    max_adv: u32,
    /// When it last sent a segment that occupies sequence space.
    last_sent: Option<Instant>,
    /// Since when its peer's window, as the ACKs that reached it show, has been closed with
    /// nothing of its own in flight; and when a probe of it was last answered.
    closed_since: Option<Instant>,
    probe_answered: Option<Instant>,
    /// The right edges (SEG.ACK + SEG.WND, scaled) past SND.UNA of the latest segments with
    /// ACK that reached it, each once: a segment of its that ends at one of them may have been cut by the window it
    /// took, which the wire cannot tell from the others (a stack drops segments the observer
    /// cannot see it drop).
    edges: std::collections::VecDeque<SeqNum>,
}

/// How many of the latest right edges offered to a side [`Judge::edges`] keeps.
const EDGES_KEPT: usize = 256;

/// How many times each check (by `Check as usize`) was applied.
type Counts = [u64; Check::ALL.len()];

fn tick(counts: &mut Counts, c: Check) {
    counts[c as usize] += 1;
}

/// A socket in TIME-WAIT: its host, id, sockets (local, remote), and when it entered.
type InTimeWait = (usize, SocketId, SocketAddrV4, SocketAddrV4, Instant);

/// The passive observer of one run's connections: their views (`super::view`), its judgments,
/// and the checks.
#[derive(Debug)]
pub struct WireOracle {
    views: Views<Judge>,
    /// Each host's declared parameters.
    params: [Parameters; 2],
    /// How far apart two moments may be seen and still count as one: zero in virtual time; at
    /// the interop boundary, how late a packet may be read from the device.
    slack: Duration,
    time_wait: Vec<InTimeWait>,
    counts: Counts,
}

impl WireOracle {
    /// An observer of hosts that declared `params` (host A first), seeing the wire with
    /// `slack` between a moment and when it is seen.
    pub fn new(params: [Parameters; 2], slack: Duration) -> WireOracle {
        WireOracle {
            views: Views::default(),
            params,
            slack,
            time_wait: Vec::new(),
            counts: [0; Check::ALL.len()],
        }
    }

    /// Host `host` sends `s` (whose data is `payload`) at `now`: the checks it must meet, then
    /// what it shows of its sender.
    pub fn sent(
        &mut self,
        now: Instant,
        host: usize,
        s: &Summary,
        payload: &[u8],
    ) -> Option<Violation> {
        let params = self.params[host];
        let slack = self.slack;
        let counts = &mut self.counts;
        // It parsed: its checksums, option lengths and header are right.
        for c in [Check::Checksum, Check::OptionLength, Check::Header] {
            tick(counts, c);
        }
        let (conn, judges, me) = self.views.of(s);
        if s.has(Flags::SYN) && conn[me].iss != Some(s.seq) {
            // A new incarnation of this side: judged afresh, and its peer owes it nothing.
            judges[me] = Judge::default();
            let peer = &mut judges[1 - me];
            (peer.ack_due, peer.unacked, peer.out_of_order, peer.received) = (None, 0, None, None);
            peer.fin_due = None;
        }
        if s.has(Flags::SYN) {
            view::syn_sent(conn, me, s);
        }
        let (side, peer) = (conn[me], conn[1 - me]);
        view::sent(conn, me, s);
        let scaled = side.wscale.is_some() && peer.wscale.is_some() && !s.has(Flags::SYN);
        let judge = &mut judges[me];
        let mut found = None;
        let shift = scaled.then_some(side.wscale).flatten();
        if let Some(v) = receiver_sws(judge, &side, &peer, s, shift, counts) {
            found.get_or_insert(v);
        }
        if let Some(v) = options_and_edge(judge, s, shift, counts) {
            found.get_or_insert(v);
        }
        if let Some(v) = sender_sws(judge, &side, &peer, now, s, slack, counts) {
            found.get_or_insert(v);
        }
        // What it owed as a receiver.
        if let Some(v) = owed(judge, now, s, &params, slack, counts) {
            found.get_or_insert(v);
        }
        if !s.has(Flags::RST) && s.seg_len() > 0 {
            if let Some(v) = timing(judge, &side, now, s, &params, slack, counts) {
                found.get_or_insert(v);
            }
            if let Some(v) = octets(judge, &side, s, payload, counts) {
                found.get_or_insert(v);
            }
            // The first segment since the window closed with data waiting is its probe.
            if judge
                .closed_since
                .is_some_and(|c| judge.last_sent.is_none_or(|t| t < c))
            {
                tick(counts, Check::Probe);
            }
            judge.last_sent = Some(now);
        }
        if s.len > 0 && !s.has(Flags::RST) {
            if let Some(v) = window_check(&side, s, counts) {
                found.get_or_insert(v);
            }
            if peer.syn {
                if let Some(v) = mss_check(&peer, s, counts) {
                    found.get_or_insert(v);
                }
            }
        }
        found
    }

    /// A packet its sender wrote does not parse (`err`, from `synack_core::wire`): the sender
    /// broke the checksum (MUST-2), an option's length (MUST-68) or the header format (§3.1).
    pub fn malformed(&mut self, host: usize, err: &synack_core::wire::WireError) -> Violation {
        use synack_core::wire::WireError as E;
        let check = match err {
            E::BadTcpChecksum { .. } | E::BadIpv4Checksum { .. } => Check::Checksum,
            E::BadOption { .. } => Check::OptionLength,
            _ => Check::Header,
        };
        tick(&mut self.counts, check);
        check.fail(format!(
            "host {} sent a packet that does not parse: {err}",
            if host == 0 { "A" } else { "B" }
        ))
    }

    /// `s` reaches host `host` intact at `now`; `state` is what it finds there (its
    /// connection's state, LISTEN for a listener only, CLOSED for nothing), if the harness can
    /// see it. Returns the receiver's side as it was before (for coverage to classify the
    /// segment against), and a requirement the receiver broke by what it had not yet sent.
    pub fn arrived(
        &mut self,
        now: Instant,
        host: usize,
        s: &Summary,
        state: Option<State>,
    ) -> (Side, Option<Violation>) {
        let params = self.params[host];
        let slack = self.slack;
        let (conn, judges, from) = self.views.of(s);
        let before = conn[1 - from];
        let una_before = conn[from ^ 1].snd_una;
        view::arrived(conn, from, s);
        let scaled = conn[from].wscale.is_some() && conn[1 - from].wscale.is_some();
        let me = &conn[1 - from];
        let judge = &mut judges[1 - from];
        if s.has(Flags::ACK) && !s.has(Flags::RST) {
            let shift = match conn[from].wscale {
                Some(w) if scaled && !s.has(Flags::SYN) => u32::from(w.min(14)),
                _ => 0,
            };
            let edge = s.ack + (u32::from(s.window) << shift);
            if !judge.edges.contains(&edge) {
                if judge.edges.len() == EDGES_KEPT {
                    judge.edges.pop_front();
                }
                judge.edges.push_back(edge);
            }
        }
        judge.last_arrival = Some(now);
        // What arrived may have restarted its timer: the next wait is no measure of its RTO.
        judge.exact = false;
        // SND.UNA moved: the octets before it are delivered, and the backoff starts over.
        if me.snd_una != una_before {
            if let Some(una) = me.snd_una {
                trim(judge, una);
                // Edges at or before SND.UNA can no longer cut new data.
                judge.edges.retain(|e| una.lt(*e));
                // Karn (RFC 6298 §5): an ACK of retransmitted octets alone gives no RTT sample,
                // so the backed-off RTO stays; one that covers an octet sent once may collapse
                // it, and ends RFC 6298 (5.7)'s fallback.
                if judge.rtx_end.is_some_and(|e| una.le(e)) {
                    // A SYN's backoffs give way to RFC 6298 (5.7) once data flows.
                    if !judge.syn_timed_out {
                        judge.karn = judge.karn.max(judge.backoffs);
                    }
                } else {
                    (judge.karn, judge.syn_timed_out) = (0, false);
                }
            }
            judge.backoffs = 0;
            judge.last_gap = None;
            if me.snd_una == me.snd_nxt {
                judge.armed_at = None;
            }
        }
        // The window as the ACKs show it, closed at SND.UNA: data waits for a probe (§3.8.6.1).
        let closed = me.wnd_edge.zip(me.snd_una).is_some_and(|(e, u)| e.le(u));
        if !closed {
            (judge.closed_since, judge.probe_answered) = (None, None);
        } else if let Some(since) = judge.closed_since {
            if s.has(Flags::ACK) && judge.last_sent.is_some_and(|t| t >= since) {
                // From here MUST-37 holds the connection open while the answers come.
                judge.probe_answered = Some(now);
                tick(&mut self.counts, Check::ProbesKeepOpen);
            }
        } else {
            judge.closed_since = Some(now);
        }
        let mut violation = None;
        if let Some((t, check, cause)) = judge.challenge_due.take() {
            tick(&mut self.counts, check);
            if now.saturating_since(t) > slack {
                violation = Some(check.fail(format!(
                    "{} never answered {cause} with a challenge ACK",
                    s.dst
                )));
            }
        }
        if let (Some(limit), Some(state)) = (params.challenge_ack_limit, state) {
            let second = Duration::from_secs(1);
            let drawn = challenge(&before, s, state);
            if drawn.is_some() {
                judge.provoked.push_back(now);
            }
            // Counted against the limit: the answers to a RST and to a SYN. An ACK of what was
            // never sent is answered as RFC 793 already did, with an ACK a stack need not count.
            judge.challenge_pending = drawn
                .filter(|c| matches!(c, Check::ChallengeRst | Check::ChallengeSyn))
                .map(|_| now);
            while judge
                .provoked
                .front()
                .is_some_and(|t| now.saturating_since(*t) >= second)
            {
                judge.provoked.pop_front();
            }
            // Past the limit in the last second, a receiver may stay silent (RFC 5961 §7): it
            // may have spent its challenge ACKs on any segment that called for one.
            let spent = judge.provoked.len() > limit as usize;
            if judge.ack_due.is_none() && judge.received.is_none() && !spent {
                judge.challenge_due = drawn
                    .filter(|c| *c != Check::ChallengeRate)
                    .map(|c| (now, c, s.to_string()));
            }
        }
        if let Some(t) = judge.ack_due {
            // Within the receiver's clock granularity of its declared delay, it is on time.
            if now.saturating_since(t) > ack_bound(&params, slack) {
                violation = Some(Check::AckDelay.fail(format!(
                    "{} has not acknowledged in-order data that reached it {} ago (it declares an ACK delay of {:?})",
                    s.dst,
                    fmt_gap(now.saturating_since(t)),
                    params.ack_delay
                )));
            }
        }
        // A receiver whose connection is gone (a RST took it, or its user aborted) owes the FIN
        // nothing more.
        if state.is_some_and(|st| !st.is_synchronized()) {
            judge.fin_due = None;
        }
        if let Some((t, fin)) = judge.fin_due {
            if violation.is_none() && now.saturating_since(t) > ack_bound(&params, slack) {
                violation = Some(Check::FinAck.fail(format!(
                    "{} has not acknowledged the FIN (SEQ {}) that reached it in order {} ago (it declares an ACK delay of {:?}; MUST-40 bounds it at 0.5s)",
                    s.dst,
                    fin.get(),
                    fmt_gap(now.saturating_since(t)),
                    params.ack_delay
                )));
            }
        }
        if s.has(Flags::FIN) {
            judge.fin_arrived = Some(now);
        }
        if s.len > 0 && !s.has(Flags::RST) {
            if let Some(rcv_nxt) = before.rcv_nxt {
                let next = judge.received.unwrap_or(rcv_nxt);
                let start = s.seq + u32::from(s.has(Flags::SYN));
                let end = start + s.len;
                // Into a window the receiver last showed closed, data is not taken (§3.10.7.4:
                // "no segments will be acceptable"); the probe's ACK is no delayed ACK.
                if start.le(next) && next.lt(end) && before.rcv_wnd > 0 {
                    // In-order data: SHLD-19 asks for an ACK for every 2×RMSS octets.
                    let rmss = u32::from(before.mss.unwrap_or(DEFAULT_SEND_MSS));
                    // Judged in virtual time only: at the interop boundary a burst written to
                    // the device reaches the kernel before its ACKs between them are read.
                    if judge.ack_due.is_some() && violation.is_none() && slack.is_zero() {
                        tick(&mut self.counts, Check::AckEvery2Rmss);
                        if judge.unacked >= 2 * rmss {
                            violation = Some(Check::AckEvery2Rmss.fail(format!(
                                "{} got {} more octets of in-order data while {} octets (2×RMSS is {}) were waiting for its ACK",
                                s.dst,
                                s.len,
                                judge.unacked,
                                2 * rmss
                            )));
                        }
                    }
                    judge.ack_due.get_or_insert(now);
                    judge.unacked = judge.unacked.saturating_add(next.distance_to(end));
                    judge.received = Some(end);
                } else if start.in_window(next + 1, rcv_nxt + before.rcv_wnd.max(1)) {
                    judge.out_of_order.get_or_insert(now);
                }
            }
        }
        // §3.10.7.4, eighth: a FIN that a synchronized receiver takes advances RCV.NXT over
        // it, and the receiver sends "an acknowledgment for the FIN", within the delay MUST-40
        // allows any ACK. It takes the FIN when every octet before it has arrived (the data of
        // this segment included), and the FIN lies inside the window the receiver offered, in
        // a segment that the earlier checks keep: one with an ACK (the fifth check drops one
        // without), and no SYN (the fourth check, RFC 5961 §4.2), whose ACK is not ahead of
        // SND.NXT (the fifth check: "send an ACK, drop the segment") nor, where the receiver
        // declares RFC 5961, behind SND.UNA - MAX.SND.WND (RFC 5961 §5.2: discarded).
        let ahead = before.snd_nxt.is_some_and(|n| n.lt(s.ack));
        let behind = params.challenge_ack_limit.is_some()
            && before.snd_una.is_some_and(|u| s.ack.lt(u - before.max_wnd));
        if s.has(Flags::FIN)
            && s.has(Flags::ACK)
            && !s.has(Flags::RST)
            && !s.has(Flags::SYN)
            && !ahead
            && !behind
            && state.is_none_or(State::is_synchronized)
        {
            if let Some(rcv_nxt) = before.rcv_nxt {
                let fin = s.seq + s.len;
                let in_order = judge.received.unwrap_or(rcv_nxt) == fin;
                let in_window = before.rcv_wnd > 0 && judge.offered.is_some_and(|e| fin.lt(e));
                if in_order && in_window {
                    judge.fin_due.get_or_insert((now, fin));
                }
            }
        }
        if !s.has(Flags::RST) {
            judge.reset_due = match state {
                Some(State::Closed) => Some(if s.has(Flags::ACK) {
                    (s.ack, None, Check::ClosedReset, s.to_string())
                } else {
                    (SeqNum(0), Some(s.end()), Check::ClosedReset, s.to_string())
                }),
                Some(State::Listen) if s.has(Flags::ACK) => {
                    Some((s.ack, None, Check::ListenReset, s.to_string()))
                }
                _ => None,
            };
        }
        (before, violation)
    }

    /// The receiver of `s` has handled it at `now`, and its connection is in `state` (`None`
    /// if gone): a receiver that owed a challenge ACK for it and is no longer synchronized took
    /// a RST not at RCV.NXT, or a SYN, as a reset (RFC 5961 §3.2, §4.2).
    pub fn handled(
        &mut self,
        now: Instant,
        s: &Summary,
        state: Option<State>,
    ) -> Option<Violation> {
        if state.is_some_and(State::is_synchronized) {
            return None;
        }
        let (_, judges, from) = self.views.of(s);
        let (at, check, cause) = judges[1 - from].challenge_due.as_ref()?;
        if *at == now {
            tick(&mut self.counts, *check);
        }
        (*at == now).then(|| {
            check.fail(format!(
                "{} gave up its connection with {} on {cause}, which calls for a challenge ACK and no reset",
                s.dst, s.src
            ))
        })
    }

    /// Host `host` reported `t` at `now`; `timer` says whether its timers ran this step, and
    /// `sockets` are the connection's (local, remote), when the stack still knows them.
    pub fn transition(
        &mut self,
        now: Instant,
        host: usize,
        t: &Transition,
        timer: bool,
        sockets: Option<(SocketAddrV4, SocketAddrV4)>,
    ) -> Option<Violation> {
        if t.to == State::Closed && timer && t.from.is_synchronized() && t.from != State::TimeWait {
            if let Some(v) = sockets.and_then(|(l, r)| self.gave_up(l, r)) {
                return Some(v);
            }
        }
        // A reset at the moment a challenge ACK was owed: the stack took a RST that was not at
        // RCV.NXT, or a SYN, as a reset (RFC 5961 §3.2, §4.2).
        if t.to == State::Closed && !timer {
            if let Some((local, remote)) = sockets.or_else(|| {
                self.time_wait
                    .iter()
                    .find(|w| (w.0, w.1) == (host, t.socket))
                    .map(|w| (w.2, w.3))
            }) {
                if let Some((_, judges, me)) = self.views.between(local, remote) {
                    if let Some((at, check, cause)) = &judges[me].challenge_due {
                        if *at == now {
                            return Some(check.fail(format!(
                                "{local} closed its connection with {remote} on {cause}, which calls for a challenge ACK and no reset"
                            )));
                        }
                    }
                }
            }
        }
        if t.to == State::TimeWait {
            if let Some((local, remote)) = sockets {
                self.time_wait.push((host, t.socket, local, remote, now));
            }
            return None;
        }
        if t.from != State::TimeWait {
            return None;
        }
        let i = self
            .time_wait
            .iter()
            .position(|w| (w.0, w.1) == (host, t.socket))?;
        let (_, _, local, remote, entered) = self.time_wait.swap_remove(i);
        // A reset or a new SYN (MAY-2) may end TIME-WAIT early; only its timer is judged.
        if !timer {
            return None;
        }
        tick(&mut self.counts, Check::TimeWait);
        let msl = self.params[host].msl;
        let slack = self.slack + self.params[host].granularity;
        let (_, judges, me) = self.views.between(local, remote)?;
        let from = judges[me].fin_arrived.map_or(entered, |f| f.max(entered));
        let lasted = now.saturating_since(from);
        (lasted + slack < 2 * msl).then(|| {
            Check::TimeWait.fail(format!(
                "{local} left TIME-WAIT with {remote} {} after {} (2×MSL is {}, MSL declared {:?})",
                fmt_gap(lasted),
                if judges[me].fin_arrived.is_some_and(|f| f > entered) {
                    "the last FIN arrived"
                } else {
                    "it entered"
                },
                fmt_gap(2 * msl),
                msl
            ))
        })
    }

    /// The application on `local`'s side of its connection with `remote` had handed its stack
    /// `total` octets by `now`, or by a moment not known (`None`: an application on a thread of
    /// its own): the data queued that the sender's SWS rule (MUST-38) and zero-window probing
    /// (MUST-36) are judged against. Without it, those checks do not run; without the moment,
    /// the override timeout (timed from the write) is not judged. Returns whether the wire has
    /// shown the connection, so that the total could be taken.
    pub fn wrote(
        &mut self,
        now: Option<Instant>,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        total: u64,
    ) -> bool {
        let Some((_, judges, me)) = self.views.between(local, remote) else {
            return false;
        };
        let judge = &mut judges[me];
        if judge.written.is_none_or(|w| w < total) {
            if now.is_none() || judge.writes.back().is_none_or(|w| w.1 != now) {
                judge.written_earlier = judge.written.unwrap_or(0);
            }
            judge.written = Some(total);
            judge.writes.push_back((total, now));
        }
        true
    }

    /// The connections whose sender has data waiting behind a window closed at SND.UNA, and
    /// has sent nothing since it closed: for a run that ended stalled at `now`. `forever` says
    /// nothing was left to happen (no timer ran), so no probe would ever come; otherwise a
    /// probe was due within twice the sender's declared maximum RTO. Each comes with its
    /// (local, remote) sockets.
    pub fn unprobed(
        &mut self,
        now: Instant,
        forever: bool,
    ) -> Vec<(SocketAddrV4, SocketAddrV4, Violation)> {
        let mut out = Vec::new();
        let mut found = Vec::new();
        for (key, sides, judges) in self.views.iter() {
            for me in 0..2 {
                let (local, remote) = if me == 0 { *key } else { (key.1, key.0) };
                if let Some(since) = waiting_unprobed(&sides[me], &judges[me]) {
                    found.push((local, remote, since));
                }
            }
        }
        for (local, remote, since) in found {
            tick(&mut self.counts, Check::Probe);
            let host = usize::from(*local.ip() == crate::stacks::ADDRS[1]);
            let waited = now.saturating_since(since);
            if forever || waited > 2 * self.params[host].rto_max + self.slack {
                out.push((
                    local,
                    remote,
                    Check::Probe.fail(format!(
                        "{local} has data waiting behind a window {remote} closed {} ago and has not probed it{}",
                        fmt_gap(waited),
                        if forever { ", with no timer left to do it" } else { "" }
                    )),
                ));
            }
        }
        out
    }

    /// `local` timed its connection with `remote` out: with data behind a closed window it never
    /// probed (§3.8.6.1, MUST-36), or while its probes were answered (MUST-37).
    fn gave_up(&mut self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<Violation> {
        let (sides, judges, me) = self.views.between(local, remote)?;
        let (side, judge) = (&sides[me], &judges[me]);
        judge.closed_since?;
        if let Some(at) = waiting_unprobed(side, judge) {
            tick(&mut self.counts, Check::Probe);
            return Some(Check::Probe.fail(format!(
                "{local} timed out its connection with {remote} with data waiting behind a window closed since {at}, never probed"
            )));
        }
        let last = judge.last_sent?;
        let answered = judge.probe_answered.is_some_and(|a| a >= last);
        answered.then(|| {
            Check::ProbesKeepOpen.fail(format!(
                "{local} timed out its connection with {remote} while its zero-window probes were answered (\"the sending TCP peer MUST allow the connection to stay open\")"
            ))
        })
    }

    /// The receiving sides an off-path attacker could aim at (`super::attacker`): synchronized
    /// on the wire, with everything they received acknowledged and no FIN sent.
    pub fn targets(&self) -> Vec<super::attacker::Target> {
        let mut out = Vec::new();
        for (key, sides, judges) in self.views.iter() {
            for me in 0..2 {
                let (side, peer, judge) = (&sides[me], &sides[1 - me], &judges[me]);
                let addrs = if me == 0 {
                    (key.0, key.1)
                } else {
                    (key.1, key.0)
                };
                if let (true, Some(rcv_nxt), Some(snd_una), Some(snd_nxt)) =
                    (peer.syn, side.rcv_nxt, side.snd_una, side.snd_nxt)
                {
                    // Synchronized: its own SYN acknowledged (a SYN in SYN-RECEIVED may rightly
                    // send a passive open back to LISTEN, §3.10.7.4).
                    let synced = side.iss.is_some_and(|iss| iss.lt(snd_una));
                    if synced
                        && judge.ack_due.is_none()
                        && judge.received.is_none()
                        && side.fin.is_none()
                    {
                        out.push(super::attacker::Target {
                            to: addrs.0,
                            from: addrs.1,
                            rcv_nxt,
                            rcv_wnd: side.rcv_wnd,
                            snd_una,
                            snd_nxt,
                        });
                    }
                }
            }
        }
        out
    }

    /// How many times each requirement was checked.
    pub fn checks(&self) -> std::collections::BTreeMap<&'static str, u64> {
        Check::ALL
            .into_iter()
            .filter(|c| self.counts[*c as usize] > 0)
            .map(|c| (c.label(), self.counts[c as usize]))
            .collect()
    }
}

/// Whether `s` calls for a challenge ACK from a receiver in `state` that the wire shows as
/// `me` (RFC 5961): a RST in the window but not at RCV.NXT (§3.2), a SYN in a synchronized
/// state but TIME-WAIT, where it may open a new connection (§4.2, MAY-2), or an ACK of what was
/// never sent (§5.2; RFC 9293 §3.10.7.4 answers it with an ACK too). An ACK from before
/// SND.UNA - MAX.SND.WND returns `ChallengeRate`: it may draw a challenge ACK, which counts.
fn challenge(me: &Side, s: &Summary, state: State) -> Option<Check> {
    if !state.is_synchronized() {
        return None;
    }
    let rcv_nxt = me.rcv_nxt?;
    let shift = u32::from(me.wscale.unwrap_or(0).min(14));
    let wnd = me.rcv_wnd << shift;
    if s.has(Flags::RST) {
        let in_window = s.seq.in_window(rcv_nxt, rcv_nxt + wnd.max(1));
        return (s.seq != rcv_nxt && in_window).then_some(Check::ChallengeRst);
    }
    if s.has(Flags::SYN) {
        // Out of the window, the first check answers it with an ordinary ACK (§3.10.7.4).
        let in_window = s.seq.in_window(rcv_nxt, rcv_nxt + wnd.max(1));
        return (state != State::TimeWait && in_window).then_some(Check::ChallengeSyn);
    }
    // §5.2: acceptable is (SND.UNA - MAX.SND.WND) =< SEG.ACK =< SND.NXT; MAX.SND.WND is at
    // most 65535 octets, scaled by the peer's shift when both SYNs carried the option.
    let ahead = me.snd_nxt.is_some_and(|n| n.lt(s.ack));
    let max_wnd = 65_535u32 << me.wscale.map_or(0u32, |_| 14);
    let behind = me.snd_una.is_some_and(|u| s.ack.lt(u - max_wnd));
    (s.has(Flags::ACK) && (ahead || behind) && s.seq == rcv_nxt).then_some(if ahead {
        Check::ChallengeAck
    } else {
        // Behind: SND.UNA as the wire shows it may run ahead of the receiver's own (an ACK it
        // took for acceptable may have been dropped), so the answer is not demanded; the
        // segment still counts against the challenge ACK limit.
        Check::ChallengeRate
    })
}

/// Since when `side` has had data waiting behind a window closed at SND.UNA, if it has sent
/// nothing (no probe, no retransmission) since: data its application handed it that is not
/// acknowledged.
fn waiting_unprobed(side: &Side, judge: &Judge) -> Option<Instant> {
    let since = judge.closed_since?;
    let acked = u64::from((side.iss? + 1).distance_to(side.snd_una?));
    let waiting = judge.written.is_some_and(|w| w > acked) && side.fin.is_none();
    let probed = judge.last_sent.is_some_and(|t| t >= since);
    (waiting && !probed).then_some(since)
}

/// The shortest override timeout §3.8.6.2.1 allows a sender's SWS avoidance: "The override
/// timeout should be in the range 0.1 - 1.0 seconds".
const SWS_OVERRIDE_MIN: Duration = Duration::from_millis(100);

/// The effective send MSS of a side that announced `own` to a peer that announced `peer`
/// (§3.7.1: Eff.snd.MSS = min(SendMSS+20, MMS_S) - TCPhdrsize - IPoptionsize), for a segment
/// whose TCP header is `tcp_header` octets long. The MSS a side announced stands for its own
/// MMS_S less 20; a side that announced none may have an MMS_S as small as 556 (536 + 20).
fn eff_snd_mss(own: Option<u16>, peer: Option<u16>, tcp_header: u32) -> u32 {
    let send_mss = u32::from(peer.unwrap_or(DEFAULT_SEND_MSS));
    let mms_s = u32::from(own.unwrap_or(DEFAULT_SEND_MSS)) + 20;
    (send_mss + 20).min(mms_s).saturating_sub(tcp_header).max(1)
}

/// The sender's silly-window avoidance (§3.8.6.2.1, MUST-38), judged when `s`, new data
/// shorter than the sender's Eff.snd.MSS, leaves a side `side` whose application had handed it
/// more than `s` carries. With D the octets queued and U the usable window, such a segment is
/// allowed "(2) ... if the data is pushed and all queued data can be sent now", "(3) ... if
/// min(D,U) >= Fs * Max(SND.WND)" with Fs = 1/2, "(4) or if the override timeout occurs"; but
/// never "(1)" while "min(D,U) >= Eff.snd.MSS": no small segment while a full one could be
/// sent. The override timeout cannot have run out before the data was written
/// `SWS_OVERRIDE_MIN` ago.
fn sender_sws(
    judge: &mut Judge,
    side: &Side,
    peer: &Side,
    now: Instant,
    s: &Summary,
    slack: Duration,
    counts: &mut Counts,
) -> Option<Violation> {
    if s.len == 0 || s.has(Flags::SYN) || s.has(Flags::RST) {
        return None;
    }
    let written = match judge.writes.back() {
        Some(w) if w.1 == Some(now) => judge.written_earlier,
        _ => judge.written?,
    };
    let first = side.iss? + 1;
    // New data only, from where the sender's data ended.
    if side.data_end.unwrap_or(first) != s.seq {
        return None;
    }
    let offset = u64::from(first.distance_to(s.seq));
    while judge.writes.front().is_some_and(|w| w.0 <= offset) {
        judge.writes.pop_front();
    }
    let queued = written.saturating_sub(offset);
    let tcp_header = u32::from(s.header_len).saturating_sub(20);
    let eff = eff_snd_mss(side.mss, peer.mss, tcp_header);
    // "(2) ... if the data is pushed and all queued data can be sent now": PSH marks the last
    // segment of what was pushed (MUST-61), so a short segment with it may end the queue as
    // the sender saw it.
    if s.len >= eff || queued <= u64::from(s.len) || s.has(Flags::PSH) {
        return None;
    }
    let usable = side
        .wnd_edge
        .map_or(0, |e| if s.seq.lt(e) { s.seq.distance_to(e) } else { 0 });
    // A probe of a closed window (§3.8.6.1) is no segment the window allowed.
    if usable == 0 {
        return None;
    }
    tick(counts, Check::SenderSws);
    let could = u64::from(usable).min(queued);
    // Ending at an edge it was offered, it may have been cut by the window the sender took; a
    // single octet may be a zero-window probe of a window it took for closed (§3.8.6.1).
    let at_an_edge = judge.edges.contains(&(s.seq + s.len)) || s.len == 1;
    if could >= u64::from(eff) && !at_an_edge {
        return Some(Check::SenderSws.fail(format!(
            "{} sent {} octets while {queued} were queued and the window took {usable}: a full segment of {eff} (its Eff.snd.MSS) could be sent",
            s.src, s.len
        )));
    }
    if s.len >= side.max_wnd / 2 {
        return None;
    }
    let written_at = judge.writes.front().and_then(|w| w.1)?;
    let waited = now.saturating_since(written_at);
    (waited + slack < SWS_OVERRIDE_MIN).then(|| {
        Check::SenderSws.fail(format!(
            "{} sent {} octets, under its Eff.snd.MSS of {eff} and under half the largest window it was offered ({}), with {queued} queued, {} after they were written: no override timeout (0.1 to 1.0 s) could have run out",
            s.src,
            s.len,
            side.max_wnd,
            fmt_gap(waited)
        ))
    })
}

/// The receiver's silly-window avoidance (§3.8.6.2.2, MUST-39): `s`, leaving side `side`, moves
/// the right edge of the window it offers past every edge it offered before. The suggested
/// algorithm keeps RCV.NXT+RCV.WND fixed "until the reduction satisfies: RCV.BUFF - RCV.USER -
/// RCV.WND >= min( Fr * RCV.BUFF, Eff.snd.MSS )" and then sets "RCV.WND ... to
/// RCV.BUFF-RCV.USER", so a window that moves its edge is never smaller than min(RCV.BUFF/2,
/// Eff.snd.MSS). RCV.BUFF is at least the largest window the side advertised; Eff.snd.MSS is
/// taken at its smallest, with 40 octets of options. After the peer's FIN no data is to come.
fn receiver_sws(
    judge: &mut Judge,
    side: &Side,
    peer: &Side,
    s: &Summary,
    shift: Option<u8>,
    counts: &mut Counts,
) -> Option<Violation> {
    if !s.has(Flags::ACK) || s.has(Flags::RST) || s.has(Flags::SYN) {
        return None;
    }
    let wnd = u32::from(s.window) << u32::from(shift.unwrap_or(0).min(14));
    let edge = s.ack + wnd;
    let before = judge.max_adv;
    judge.max_adv = judge.max_adv.max(wnd);
    let past = judge.offered.is_some_and(|o| o.lt(edge));
    if !past || peer.fin.is_some_and(|f| f.lt(s.ack)) {
        return None;
    }
    tick(counts, Check::ReceiverSws);
    let least = (before / 2).min(eff_snd_mss(side.mss, peer.mss, 60));
    (wnd < least).then(|| {
        Check::ReceiverSws.fail(format!(
            "{} moved the right edge of its window to {} with a window of {wnd}, under min(RCV.BUFF/2, Eff.snd.MSS) = {least} (its largest window was {before})",
            s.src,
            edge.get()
        ))
    })
}

/// A duration as people read it: "1.5s", "200ms".
fn fmt_gap(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.6}s", d.as_secs_f64())
    } else {
        format!("{:.3}ms", d.as_secs_f64() * 1e3)
    }
}

/// What the sender of `s`, as a receiver, owed and pays by sending it: the ACK of in-order data
/// within its delay (MUST-40), an immediate ACK of out-of-order data (RFC 5681 §4.2), the reset
/// a segment that found no connection draws (§3.10.7.1, §3.10.7.2).
/// The longest a receiver that declares `params` may take to acknowledge, seen with `slack`:
/// its declared delay, within its clock's granularity (§3.8.6.3, MUST-40).
fn ack_bound(params: &Parameters, slack: Duration) -> Duration {
    params.ack_delay + slack + params.granularity
}

fn owed(
    judge: &mut Judge,
    now: Instant,
    s: &Summary,
    params: &Parameters,
    slack: Duration,
    counts: &mut Counts,
) -> Option<Violation> {
    let mut found = None;
    if let Some((seq, ack, check, cause)) = judge.reset_due.take() {
        if s.has(Flags::RST) {
            tick(counts, check);
            let ack_ok = match ack {
                Some(a) => s.has(Flags::ACK) && s.ack == a,
                None => true,
            };
            if s.seq != seq || !ack_ok {
                let want = match ack {
                    Some(a) => format!("<SEQ={}><ACK={}><CTL=RST,ACK>", seq.get(), a.get()),
                    None => format!("<SEQ={}><CTL=RST>", seq.get()),
                };
                found = Some(check.fail(format!(
                    "{} answered {cause} with a reset that should be {want}",
                    s.src
                )));
            }
        }
    }
    // An ACK sent at the moment a segment that calls for a challenge ACK arrived is one; too
    // many within a second break RFC 5961 §7.
    if let (Some(t), Some(limit)) = (judge.challenge_pending.take(), params.challenge_ack_limit) {
        if s.has(Flags::ACK) && !s.has(Flags::RST) && now.saturating_since(t) <= slack {
            judge.challenges.push_back(now);
            while judge
                .challenges
                .front()
                .is_some_and(|c| now.saturating_since(*c) >= Duration::from_secs(1))
            {
                judge.challenges.pop_front();
            }
            tick(counts, Check::ChallengeRate);
            // A limit counted over fixed seconds lets through up to twice as many in a second
            // that straddles two of them; only more than that breaks every reading of §7.
            let n = judge.challenges.len();
            if n > 2 * limit as usize {
                found = Some(Check::ChallengeRate.fail(format!(
                    "{} sent {n} challenge ACKs within a second; it declares at most {limit} a second, so no second holds more than {}",
                    s.src,
                    2 * limit
                )));
            }
        }
    }
    if let Some((t, check, cause)) = judge.challenge_due.take() {
        tick(counts, check);
        if s.has(Flags::RST) || !s.has(Flags::ACK) {
            found.get_or_insert(check.fail(format!(
                "{} answered {cause} with {s}, not a challenge ACK",
                s.src
            )));
        } else if now.saturating_since(t) > slack {
            found.get_or_insert(check.fail(format!(
                "{} answered {cause} {} late",
                s.src,
                fmt_gap(now.saturating_since(t))
            )));
        }
    }
    if let Some((t, fin)) = judge.fin_due {
        if s.has(Flags::RST) {
            judge.fin_due = None;
        } else if s.has(Flags::ACK) && fin.lt(s.ack) {
            judge.fin_due = None;
            tick(counts, Check::FinAck);
            let waited = now.saturating_since(t);
            if waited > ack_bound(params, slack) {
                found.get_or_insert(Check::FinAck.fail(format!(
                    "{} acknowledged the FIN (SEQ {}) {} after it arrived in order (it declares an ACK delay of {:?}; MUST-40 bounds it at 0.5s)",
                    s.src,
                    fin.get(),
                    fmt_gap(waited),
                    params.ack_delay
                )));
            }
        }
    }
    if !(s.has(Flags::ACK) || s.has(Flags::RST)) {
        return found;
    }
    judge.received = None;
    if let Some(t) = judge.ack_due.take() {
        tick(counts, Check::AckDelay);
        judge.unacked = 0;
        let waited = now.saturating_since(t);
        if waited > ack_bound(params, slack) {
            found.get_or_insert(Check::AckDelay.fail(format!(
                "{} acknowledged in-order data {} after it arrived (it declares an ACK delay of {:?}; the RFC's bound is 0.5s)",
                s.src,
                fmt_gap(waited),
                params.ack_delay
            )));
        }
    }
    if let Some(t) = judge.out_of_order.take() {
        tick(counts, Check::OutOfOrderAck);
        let waited = now.saturating_since(t);
        if waited > slack {
            found.get_or_insert(Check::OutOfOrderAck.fail(format!(
                "{} acknowledged out-of-order data {} after it arrived, not at once",
                s.src,
                fmt_gap(waited)
            )));
        }
    }
    found
}

/// The MSS option only on a SYN (MUST-65), and the right edge its sender advertises never
/// moving left (§3.8.6, SHLD-14: "the receiver SHOULD NOT shrink the window"). With window
/// scaling (`shift`), a window of the same octets may read up to 2^shift - 1 lower.
fn options_and_edge(
    judge: &mut Judge,
    s: &Summary,
    shift: Option<u8>,
    counts: &mut Counts,
) -> Option<Violation> {
    let mut found = None;
    if !s.has(Flags::SYN) {
        tick(counts, Check::MssOnSynOnly);
        if let Some(m) = s.options.mss {
            found = Some(Check::MssOnSynOnly.fail(format!(
                "{} sent an MSS option ({m}) on a segment without SYN",
                s.src
            )));
        }
    }
    if !s.has(Flags::ACK) || s.has(Flags::RST) || s.has(Flags::SYN) {
        return found;
    }
    let shift = u32::from(shift.unwrap_or(0).min(14));
    let edge = s.ack + (u32::from(s.window) << shift);
    if let Some(offered) = judge.offered {
        tick(counts, Check::NoShrink);
        let rounding = (1u32 << shift) - 1;
        if (edge + rounding).lt(offered) {
            found.get_or_insert(Check::NoShrink.fail(format!(
                "{} moved the right edge of its window back from {} to {} (SEG.ACK {} + SEG.WND {})",
                s.src,
                offered.get(),
                edge.get(),
                s.ack.get(),
                u32::from(s.window) << shift
            )));
        }
    }
    if judge.offered.is_none_or(|o| o.lt(edge)) {
        judge.offered = Some(edge);
    }
    found
}

/// Retransmission timing: `s` occupies sequence space and leaves side `side` (as it was before
/// `s`), whose peer is `peer`.
#[allow(clippy::too_many_arguments)]
fn timing(
    judge: &mut Judge,
    side: &Side,
    now: Instant,
    s: &Summary,
    params: &Parameters,
    slack: Duration,
    counts: &mut Counts,
) -> Option<Violation> {
    let start = s.seq;
    let end = s.end();
    let outstanding = side
        .snd_una
        .zip(side.snd_nxt)
        .is_some_and(|(una, nxt)| una.lt(nxt));
    if !outstanding {
        // RFC 6298 (5.1): the timer starts when data is sent and it is not running.
        judge.armed_at = Some(now);
        judge.backoffs = 0;
        judge.last_gap = None;
        judge.exact = false;
        return None;
    }
    let (Some(una), Some(armed_at)) = (side.snd_una, judge.armed_at) else {
        return None;
    };
    let repeat = side.snd_nxt.is_some_and(|n| start.lt(n));
    // Prompted: at the moment a segment arrived, as the sender's clock tells moments apart.
    let prompted = judge
        .last_arrival
        .is_some_and(|t| now.saturating_since(t) <= slack + params.granularity);
    // Sent again at the moment it was sent (with a window update, say): no timer ran.
    let at_once = now.saturating_since(armed_at) <= slack + params.granularity;
    if !(repeat && start.le(una) && una.lt(end)) || prompted || at_once {
        return None;
    }
    // A retransmission of the first unacknowledged octet that no arrival prompted: a timeout.
    let syn = s.has(Flags::SYN);
    let probe = !syn && peer_window_closed(side, una);
    let floor = if syn {
        params.rto_initial
    } else {
        params.rto_min.min(params.rto_initial)
    };
    let k = judge.backoffs;
    let mut check = match (probe, syn, k) {
        (true, _, 0) => Check::FirstProbe,
        (true, _, _) => Check::ProbeBackoff,
        (false, true, 0) => Check::SynRto,
        (false, false, 0) => Check::DataRto,
        (false, _, _) => Check::Backoff,
    };
    let backed_off = |k: u32| {
        floor
            .checked_mul(1u32.checked_shl(k.min(31)).unwrap_or(u32::MAX))
            .unwrap_or(params.rto_max)
            .min(params.rto_max)
    };
    let mut doubled = backed_off(k);
    // The first timeout of data after a timeout whose ACK gave no RTT sample: the RTO is still
    // backed off (Karn's algorithm, MUST-18), and after a SYN that timed out it is at least
    // 3 s (RFC 6298 (5.7)) for a stack whose initial RTO is less. Timestamps (RFC 7323) give
    // samples from retransmissions, so a segment that carries them is judged without either.
    if check == Check::DataRto && s.options.timestamps.is_none() {
        if judge.karn > 0 && backed_off(judge.karn) > doubled {
            (check, doubled) = (Check::Karn, backed_off(judge.karn));
        }
        let fallback = Duration::from_secs(3);
        if judge.syn_timed_out && params.rto_initial < fallback && doubled < fallback {
            (check, doubled) = (Check::SynFallback, fallback);
        }
    }
    tick(counts, check);
    let since_last = judge
        .last_gap
        .filter(|_| judge.exact)
        .map_or(Duration::ZERO, |g| (2 * g).min(params.rto_max));
    let required = doubled.max(since_last);
    let gap = now.saturating_since(armed_at);
    let violation = (gap + slack + params.granularity < required).then(|| {
        let what = if syn {
            "SYN"
        } else if probe {
            "zero-window probe"
        } else {
            "segment"
        };
        let rule = match k {
            0 if check == Check::Karn => format!(
                "its RTO was backed off {} time(s) and no RTT sample has come since (an ACK of retransmitted octets gives none), so it is at least {}",
                judge.karn,
                fmt_gap(required)
            ),
            0 if check == Check::SynFallback => "its SYN timed out, so its RTO is at least 3 s once data flows (its initial RTO is less)".to_string(),
            0 if syn => format!("the initial RTO it declares is {:?}", params.rto_initial),
            0 => format!("the least RTO it declares is {:?}", floor),
            _ => format!(
                "retransmission {} of the same octet must wait at least {} (double the RTO, up to its maximum of {:?})",
                k + 1,
                fmt_gap(required),
                params.rto_max
            ),
        };
        check.fail(format!(
            "{} retransmitted its {what} at {} {} after its retransmission timer could have started; {rule}",
            s.src,
            una.get(),
            fmt_gap(gap)
        ))
    });
    judge.last_gap = (k > 0 && judge.exact).then_some(gap);
    judge.exact = true;
    judge.armed_at = Some(now);
    judge.backoffs = k.saturating_add(1);
    judge.rtx_end = Some(
        judge
            .rtx_end
            .map_or(end, |e| if e.lt(end) { end } else { e }),
    );
    judge.syn_timed_out |= syn;
    violation
}

/// Whether the peer's window, as the sender saw it, left no room past `una`.
fn peer_window_closed(side: &Side, una: SeqNum) -> bool {
    side.edge.is_some_and(|edge| edge.le(una))
}

/// The octets and the FIN: what `s` carries where the sender sent before must be the same
/// (§3.4), and its FIN stays after the last octet of data, where it was first sent (§3.6).
fn octets(
    judge: &mut Judge,
    side: &Side,
    s: &Summary,
    payload: &[u8],
    counts: &mut Counts,
) -> Option<Violation> {
    let data_start = s.seq + u32::from(s.has(Flags::SYN));
    let data_end = data_start + s.len;
    let mut found = None;
    if s.has(Flags::FIN) || (s.len > 0 && side.fin.is_some()) {
        tick(counts, Check::FinAtEnd);
        let fin = if s.has(Flags::FIN) {
            Some(data_end)
        } else {
            None
        };
        if let (Some(was), Some(now_at)) = (side.fin, fin) {
            if was != now_at {
                found = Some(Check::FinAtEnd.fail(format!(
                    "{} sent its FIN at {}, having sent it at {} before",
                    s.src,
                    now_at.get(),
                    was.get()
                )));
            }
        }
        let last_data = side.data_end.map_or(data_end, |e| e.max(data_end));
        let fin_at = fin.or(side.fin);
        if let Some(f) = fin_at {
            if f.lt(last_data) {
                found.get_or_insert(Check::FinAtEnd.fail(format!(
                    "{} sent data up to {} after its FIN at {}",
                    s.src,
                    last_data.get(),
                    f.get()
                )));
            }
        }
    }
    if s.len == 0 || payload.len() != s.len as usize {
        return found;
    }
    let base = *judge.octets_at.get_or_insert(data_start);
    let stored_end = base + u32::try_from(judge.octets.len()).unwrap_or(u32::MAX);
    if data_start.gt(stored_end) || data_end.le(base) {
        if data_start.gt(stored_end) {
            // Data past a gap the observer never saw filled: start again from here.
            judge.octets.clear();
            judge.octets_at = Some(data_start);
            judge.octets.extend(payload);
        }
        return found;
    }
    // The part of `s` already sent: [max(start, base), min(end, stored_end)).
    let from = if data_start.lt(base) {
        base
    } else {
        data_start
    };
    let to = if data_end.lt(stored_end) {
        data_end
    } else {
        stored_end
    };
    let skip = base.distance_to(from) as usize;
    let n = from.distance_to(to) as usize;
    let in_payload = data_start.distance_to(from) as usize;
    if n > 0 {
        tick(counts, Check::SameOctets);
        let sent = &payload[in_payload..in_payload + n];
        let differs = judge.octets.range(skip..skip + n).ne(sent.iter());
        if differs {
            let at = judge
                .octets
                .range(skip..skip + n)
                .zip(sent)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            found.get_or_insert(Check::SameOctets.fail(format!(
                "{} retransmitted octet {} as {:#04x}; it first sent {:#04x} there",
                s.src,
                (from + at as u32).get(),
                sent[at],
                judge.octets[skip + at]
            )));
        }
    }
    if data_end.gt(stored_end) {
        judge.octets.extend(&payload[in_payload + n..]);
    }
    found
}

/// Forgets the octets before `una`: they are acknowledged.
fn trim(judge: &mut Judge, una: SeqNum) {
    let Some(base) = judge.octets_at else { return };
    if !base.lt(una) {
        return;
    }
    let n = (base.distance_to(una) as usize).min(judge.octets.len());
    judge.octets.drain(..n);
    judge.octets_at = Some(base + n as u32);
}

/// The window: no new data past the largest right edge the receiver advertised (§3.8.6).
fn window_check(side: &Side, s: &Summary, counts: &mut Counts) -> Option<Violation> {
    let data_start = s.seq + u32::from(s.has(Flags::SYN));
    let end = data_start + s.len;
    let new_data = side.data_end.is_none_or(|e| end.gt(e));
    let edge = side.edge.filter(|_| new_data)?;
    tick(counts, Check::Window);
    // §3.8.6.1: a zero-window probe carries "at least one octet of new data" past the edge;
    // one octet is what a probe needs.
    let allowed = if s.len == 1 { edge + 1 } else { edge };
    end.gt(allowed).then(|| {
        Check::Window.fail(format!(
            "{} sent data up to {} ({} octets at {}), past the right edge {} its peer advertised (SEG.ACK + SEG.WND of the largest window that reached it)",
            s.src,
            end.get(),
            s.len,
            data_start.get(),
            edge.get()
        ))
    })
}

/// Segment size: no more data than the MSS the receiver, `peer`, announced, or 536 without
/// one (§3.7.1, MUST-15 and MUST-16).
fn mss_check(peer: &Side, s: &Summary, counts: &mut Counts) -> Option<Violation> {
    let (mss, check) = match peer.mss {
        Some(m) => (m, Check::Mss),
        None => (DEFAULT_SEND_MSS, Check::DefaultMss),
    };
    tick(counts, check);
    if s.len <= u32::from(mss) {
        return None;
    }
    let announced = match peer.mss {
        Some(m) => format!("announced an MSS of {m}"),
        None => format!("announced no MSS, so {DEFAULT_SEND_MSS} (§3.7.1)"),
    };
    Some(check.fail(format!(
        "{} sent {} octets of data in one segment; its peer {} {announced}",
        s.src, s.len, s.dst
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::summary::OptionSummary;
    use std::net::{Ipv4Addr, SocketAddrV4};
    use synack_core::SeqNum;

    const A: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40000);
    const B: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 49293);

    fn oracle() -> WireOracle {
        let core = Parameters::of_core(&synack_core::Config::default());
        WireOracle::new([core; 2], Duration::ZERO)
    }

    /// `s` leaves its sender at time zero, carrying zeros.
    fn send(o: &mut WireOracle, s: &Summary) -> Option<Violation> {
        let data = vec![0; s.len as usize];
        o.sent(Instant::ZERO, usize::from(s.src != A), s, &data)
    }

    /// `s` reaches its receiver at time zero, which holds the connection.
    fn arrive(o: &mut WireOracle, s: &Summary) {
        o.arrived(Instant::ZERO, usize::from(s.dst != A), s, None);
    }

    fn seg(src: SocketAddrV4, seq: u32, ack: u32, flags: Flags, window: u16, len: u32) -> Summary {
        Summary {
            src,
            dst: if src == A { B } else { A },
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags,
            window,
            len,
            options: OptionSummary::default(),
            header_len: 40,
        }
    }

    /// A handshake: A (ISS 100) and B (ISS 300) announce `mss_a` and `mss_b`; B offers
    /// `window`.
    fn handshake(o: &mut WireOracle, mss_a: Option<u16>, mss_b: Option<u16>, window: u16) {
        let mut syn = seg(A, 100, 0, Flags::SYN, 65535, 0);
        syn.options.mss = mss_a;
        assert_eq!(send(o, &syn), None);
        arrive(o, &syn);
        let mut syn_ack = seg(B, 300, 101, Flags::SYN | Flags::ACK, window, 0);
        syn_ack.options.mss = mss_b;
        assert_eq!(send(o, &syn_ack), None);
        arrive(o, &syn_ack);
    }

    fn ms(n: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(n)
    }

    /// The handshake, then A's application hands its stack `written` octets at 1 ms and B
    /// acknowledges the SYN offering `window`.
    fn ready_to_send(o: &mut WireOracle, written: u64, window: u16) {
        handshake(o, Some(1000), Some(1000), window);
        o.wrote(Some(ms(1)), A, B, written);
    }

    #[test]
    fn a_short_segment_while_a_full_one_fits_fails_must_38() {
        let mut o = oracle();
        ready_to_send(&mut o, 5000, 8000);
        let short = seg(A, 101, 301, Flags::ACK, 65535, 64);
        let v = o.sent(ms(2), 0, &short, &[0; 64]);
        assert_eq!(v.map(|v| v.requirement), Some("MUST-38"));
    }

    #[test]
    fn a_full_segment_and_one_that_empties_the_queue_pass_must_38() {
        let mut o = oracle();
        ready_to_send(&mut o, 1300, 8000);
        let full = seg(A, 101, 301, Flags::ACK, 65535, 1000);
        assert_eq!(o.sent(ms(2), 0, &full, &[0; 1000]), None);
        let rest = seg(A, 1101, 301, Flags::ACK, 65535, 300);
        assert_eq!(o.sent(ms(2), 0, &rest, &[0; 300]), None);
    }

    #[test]
    fn a_sliver_of_window_is_sent_only_after_the_least_override_timeout_must_38() {
        // B offers 1300 octets; A sends one full segment, then the 300 left in the window
        // (under half of 1300) while 4000 wait: at once it is silly, 0.1 s after the write not.
        for (at, silly) in [(ms(2), true), (ms(101), false)] {
            let mut o = oracle();
            ready_to_send(&mut o, 5000, 1300);
            let full = seg(A, 101, 301, Flags::ACK, 65535, 1000);
            assert_eq!(o.sent(ms(2), 0, &full, &[0; 1000]), None);
            let sliver = seg(A, 1101, 301, Flags::ACK, 65535, 300);
            let v = o.sent(at, 0, &sliver, &[0; 300]);
            assert_eq!(v.map(|v| v.requirement), silly.then_some("MUST-38"));
        }
    }

    #[test]
    fn a_right_edge_moved_by_a_sliver_fails_must_39_and_by_half_the_buffer_passes() {
        for (window, silly) in [(100, true), (2000, false)] {
            let mut o = oracle();
            handshake(&mut o, Some(1000), Some(1000), 4000);
            assert_eq!(send(&mut o, &seg(A, 101, 301, Flags::ACK, 4000, 0)), None);
            // A has received 4000 octets of B's and read none: its window is closed.
            assert_eq!(send(&mut o, &seg(A, 101, 4301, Flags::ACK, 0, 0)), None);
            // Its application reads; the update moves the edge past 8301.
            let update = seg(A, 101, 4301, Flags::ACK, window, 0);
            let v = send(&mut o, &update);
            assert_eq!(v.map(|v| v.requirement), silly.then_some("MUST-39"));
        }
    }

    #[test]
    fn after_an_ack_of_a_retransmission_the_rto_stays_backed_off_must_18() {
        for (again, karn_kept) in [(2200, false), (3200, true)] {
            let mut o = oracle();
            handshake(&mut o, Some(1000), Some(1000), 8000);
            let first = seg(A, 101, 301, Flags::ACK, 65535, 1000);
            assert_eq!(o.sent(ms(0), 0, &first, &[0; 1000]), None);
            // Its timer expires after the least RTO (1 s): it backs off to 2 s.
            assert_eq!(o.sent(ms(1000), 0, &first, &[0; 1000]), None);
            // The ACK may answer either copy: no RTT sample, the RTO stays at 2 s.
            o.arrived(ms(1100), 0, &seg(B, 301, 1101, Flags::ACK, 8000, 0), None);
            let next = seg(A, 1101, 301, Flags::ACK, 65535, 1000);
            assert_eq!(o.sent(ms(1200), 0, &next, &[0; 1000]), None);
            let v = o.sent(ms(again), 0, &next, &[0; 1000]);
            assert_eq!(v.map(|v| v.requirement), (!karn_kept).then_some("MUST-18"));
        }
    }

    #[test]
    fn data_behind_a_zero_window_must_be_probed_must_36() {
        for probed in [false, true] {
            let mut o = oracle();
            ready_to_send(&mut o, 5000, 1000);
            let full = seg(A, 101, 301, Flags::ACK, 65535, 1000);
            assert_eq!(o.sent(ms(2), 0, &full, &[0; 1000]), None);
            // B takes it all and closes its window.
            o.arrived(ms(3), 0, &seg(B, 301, 1101, Flags::ACK, 0, 0), None);
            if probed {
                let probe = seg(A, 1101, 301, Flags::ACK, 65535, 1);
                assert_eq!(o.sent(ms(1003), 0, &probe, &[0]), None);
            }
            let found: Vec<_> = o
                .unprobed(ms(2000), true)
                .into_iter()
                .map(|(local, _, v)| (local, v.requirement))
                .collect();
            let expected = if probed { vec![] } else { vec![(A, "MUST-36")] };
            assert_eq!(found, expected);
        }
    }

    #[test]
    fn data_within_the_announced_mss_passes_and_past_it_fails_must_16() {
        let mut o = oracle();
        handshake(&mut o, Some(1460), Some(1000), 65535);
        let ok = seg(A, 101, 301, Flags::ACK, 65535, 1000);
        assert_eq!(send(&mut o, &ok), None);
        let big = seg(A, 1101, 301, Flags::ACK, 65535, 1001);
        assert_eq!(send(&mut o, &big).map(|v| v.requirement), Some("MUST-16"));
    }

    #[test]
    fn without_an_mss_option_the_peer_is_sent_at_most_536_must_15() {
        let mut o = oracle();
        handshake(&mut o, Some(1460), None, 65535);
        assert_eq!(
            send(&mut o, &seg(A, 101, 301, Flags::ACK, 65535, 536)),
            None
        );
        let v = send(&mut o, &seg(A, 637, 301, Flags::ACK, 65535, 537));
        assert_eq!(v.map(|v| v.requirement), Some("MUST-15"));
    }

    #[test]
    fn new_data_past_the_advertised_edge_fails_but_a_one_octet_probe_does_not() {
        let mut o = oracle();
        handshake(&mut o, Some(1460), Some(1460), 2000);
        // The edge is 101 + 2000 = 2101.
        assert_eq!(
            send(&mut o, &seg(A, 101, 301, Flags::ACK, 65535, 1460)),
            None
        );
        assert_eq!(
            send(&mut o, &seg(A, 1561, 301, Flags::ACK, 65535, 540)),
            None
        );
        // B closes its window: a probe of one octet is allowed, more is not.
        arrive(&mut o, &seg(B, 301, 2101, Flags::ACK, 0, 0));
        assert_eq!(send(&mut o, &seg(A, 2101, 301, Flags::ACK, 65535, 1)), None);
        let v = send(&mut o, &seg(A, 2102, 301, Flags::ACK, 65535, 10));
        assert_eq!(v.map(|v| v.requirement), Some("§3.8.6"));
    }

    #[test]
    fn a_shrunk_window_does_not_make_earlier_octets_a_violation() {
        let mut o = oracle();
        handshake(&mut o, Some(1460), Some(1460), 3000);
        assert_eq!(
            send(&mut o, &seg(A, 101, 301, Flags::ACK, 65535, 1460)),
            None
        );
        // B shrinks its window to end at 1000 (SHLD-14 says it should not); A retransmits
        // what it sent before (SHLD-16), which is not new data.
        arrive(&mut o, &seg(B, 301, 101, Flags::ACK, 899, 0));
        assert_eq!(
            send(&mut o, &seg(A, 101, 301, Flags::ACK, 65535, 1460)),
            None
        );
        // New data up to the largest edge it was offered (3101) is still within the window.
        assert_eq!(
            send(&mut o, &seg(A, 1561, 301, Flags::ACK, 65535, 1460)),
            None
        );
    }

    #[test]
    fn a_scaled_window_counts_its_shift_once_both_syns_carried_the_option() {
        let mut o = oracle();
        let mut syn = seg(A, 100, 0, Flags::SYN, 65535, 0);
        syn.options.window_scale = Some(0);
        send(&mut o, &syn);
        arrive(&mut o, &syn);
        let mut syn_ack = seg(B, 300, 101, Flags::SYN | Flags::ACK, 1000, 0);
        syn_ack.options.window_scale = Some(4);
        syn_ack.options.mss = Some(1460);
        send(&mut o, &syn_ack);
        arrive(&mut o, &syn_ack);
        // The SYN,ACK's window is not scaled: the edge is 1101.
        let v = send(&mut o, &seg(A, 101, 301, Flags::ACK, 65535, 1001));
        assert_eq!(v.map(|v| v.requirement), Some("§3.8.6"));
        // B's next window of 1000 means 16000 octets.
        arrive(&mut o, &seg(B, 301, 101, Flags::ACK, 1000, 0));
        assert_eq!(
            send(&mut o, &seg(A, 1102, 301, Flags::ACK, 65535, 1460)),
            None
        );
    }

    #[test]
    fn a_side_that_starts_again_keeps_its_peers_view() {
        // RFC 793 Figure 9: B answers an old SYN, is reset to LISTEN, and answers A's SYN with
        // a SYN,ACK of a new ISS. A's SYN and MSS still stand, so B's data is still held to it.
        let mut o = oracle();
        handshake(&mut o, Some(1000), Some(1460), 65535);
        let mut again = seg(B, 900, 101, Flags::SYN | Flags::ACK, 65535, 0);
        again.options.mss = Some(1460);
        assert_eq!(send(&mut o, &again), None);
        arrive(&mut o, &again);
        arrive(&mut o, &seg(A, 101, 901, Flags::ACK, 65535, 0));
        let v = send(&mut o, &seg(B, 901, 101, Flags::ACK, 65535, 1460));
        assert_eq!(v.map(|v| v.requirement), Some("MUST-16"));
    }

    #[test]
    fn an_ack_of_what_was_never_sent_offers_no_window() {
        let mut o = oracle();
        handshake(&mut o, Some(1460), Some(1460), 1000);
        // B acknowledges far past A's SND.NXT, with a large window: A must not take it.
        arrive(&mut o, &seg(B, 301, 50_000, Flags::ACK, 65535, 0));
        let v = send(&mut o, &seg(A, 101, 301, Flags::ACK, 65535, 1460));
        assert_eq!(v.map(|v| v.requirement), Some("§3.8.6"));
    }
}
