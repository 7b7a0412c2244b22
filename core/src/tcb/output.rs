//! Segment formation, window advertisement and the timeouts of a TCB.
//!
//! This module owns what a connection sends and when: the SYN and SYN,ACK, data within the send
//! window, the FIN, ACKs, zero-window probes (RFC 9293 §3.8.6.1), the receiver's silly-window
//! avoidance (§3.8.6.2.2), and the retransmission, TIME-WAIT and user timeouts (§3.10.8,
//! RFC 6298).

use core::time::Duration;

use super::{OutSegment, Tcb};
use crate::event::{Cause, Event, Timer};
use crate::seq::SeqNum;
use crate::state::State;
use crate::time::Instant;
use crate::wire::Flags;

/// The sender's SWS override timeout: how long data the silly-window rule holds back waits
/// before it is sent anyway (RFC 9293 §3.8.6.2.1 (4), "in the range 0.1 - 1.0 seconds").
pub(crate) const SWS_OVERRIDE: Duration = Duration::from_millis(200);

impl Tcb {
    /// The right edge of the send window: SND.WL2 + SND.WND. RFC 9293 §3.8.6: "The window sent
    /// in each segment indicates the range of sequence numbers the sender of the window (the
    /// data receiver) is currently prepared to accept", a range that starts at that segment's
    /// ACK. SND.UNA + SND.WND (§3.8.6.2.1's usable window) is the same edge whenever the window
    /// came with the latest ACK; but when an ACK advances SND.UNA in a segment whose window the
    /// SND.WL1/SND.WL2 rule of §3.10.7.4 does not take (a retransmission of older data, say),
    /// SND.UNA + SND.WND would reach past every edge the receiver offered.
    fn send_right_edge(&self) -> SeqNum {
        self.snd_wl2 + self.snd_wnd
    }

    /// Unsent octets that the send window allows now (right edge − SND.NXT, at least 0).
    fn usable_window(&self) -> u32 {
        let right = self.send_right_edge();
        if self.snd_nxt.lt(right) {
            self.snd_nxt.distance_to(right)
        } else {
            0
        }
    }

    /// Whether the offered window is used up: nothing more may be sent until the peer opens it.
    pub(crate) fn window_closed(&self) -> bool {
        self.send_right_edge().le(self.snd_nxt)
    }

    /// Octets queued but never sent.
    fn unsent(&self) -> u32 {
        let end = self.fin_seq();
        if self.snd_nxt.lt(end) {
            self.snd_nxt.distance_to(end)
        } else {
            0
        }
    }

    /// States in which queued data may be segmentized: those after ESTABLISHED in which our FIN
    /// has not been sent (§3.10.2 queues data in SYN-SENT and SYN-RECEIVED until ESTABLISHED).
    fn may_send_data(&self) -> bool {
        matches!(
            self.state,
            State::Established | State::CloseWait | State::FinWait1 | State::LastAck
        )
    }

    pub(crate) fn has_new_data_to_send(&self) -> bool {
        self.may_send_data()
            && (self.sendable() > 0 || (self.fin_queued && self.snd_nxt == self.fin_seq()))
    }

    /// The octets of new data to put in the next segment: min(D, U) up to one MSS, where D is
    /// what is queued and unsent and U the usable window, or 0 while the sender's silly-window
    /// rule holds them back. RFC 9293 §3.8.6.2.1 (MUST-38) sends data "(1) if a maximum-sized
    /// segment can be sent, i.e., if: min(D,U) >= Eff.snd.MSS; (2) or if the data is pushed and
    /// all queued data can be sent now, i.e., if: [SND.NXT = SND.UNA and] PUSHed and D <= U
    /// ... (3) or if at least a fraction Fs of the maximum window can be sent, i.e., if:
    /// [SND.NXT = SND.UNA and] min(D,U) >= Fs * Max(SND.WND); (4) or if the override timeout
    /// occurs", with Fs = 1/2. Every SEND is pushed here (MAY-15), and the bracketed Nagle
    /// conditions are not imposed.
    fn sendable(&self) -> u32 {
        let (d, u) = (self.unsent(), self.usable_window());
        let n = d.min(u).min(u32::from(self.snd_mss));
        let allowed = n == u32::from(self.snd_mss)
            || n == d
            || n >= self.max_snd_wnd / 2
            || self.sws_override;
        if allowed {
            n
        } else {
            0
        }
    }

    /// Starts the sender's SWS override timeout when the silly-window rule holds back data the
    /// window would take, and stops it when nothing is held (§3.8.6.2.1 (4): "The override
    /// timeout should be in the range 0.1 - 1.0 seconds").
    pub(crate) fn arm_sws_override(&mut self, now: Instant) {
        let held = self.may_send_data()
            && self.unsent().min(self.usable_window()) > 0
            && self.sendable() == 0;
        if !held {
            self.sws_deadline = None;
            self.sws_override = false;
        } else if self.sws_deadline.is_none() {
            self.sws_deadline = Some(now + SWS_OVERRIDE);
        }
    }

    /// RFC 9293 §3.8.6.2.2: the right window edge advances only when it can move by at least
    /// min(Fr * RCV.BUFF, Eff.snd.MSS), Fr = 1/2; it never moves left.
    fn sws_threshold(&self) -> u32 {
        let half = u32::try_from(self.recv.capacity() / 2).unwrap_or(u32::MAX);
        half.min(u32::from(self.config.mss)).max(1)
    }

    /// The right edge the free space would allow now, and how far it is past the advertised one.
    fn window_growth(&self) -> (SeqNum, u32) {
        let free = u32::try_from(self.recv.free())
            .unwrap_or(u32::MAX)
            .min(65_535);
        let right = self.rcv_nxt + free;
        if right.gt(self.rcv_adv) {
            (right, self.rcv_adv.distance_to(right))
        } else {
            (self.rcv_adv, 0)
        }
    }

    /// The window to put in an outgoing segment, advancing the advertised right edge when the
    /// silly-window rule allows it.
    fn advertise_window(&mut self) -> u16 {
        let (right, growth) = self.window_growth();
        if growth >= self.sws_threshold() || self.rcv_adv.lt(self.rcv_nxt) {
            self.rcv_adv = right;
        }
        let wnd = self.rcv_nxt.distance_to(self.rcv_adv);
        u16::try_from(wnd).unwrap_or(u16::MAX)
    }

    /// The first window of a connection, before the SWS rule has anything to compare with.
    pub(crate) fn init_rcv_window(&mut self) {
        let free = u32::try_from(self.recv.free())
            .unwrap_or(u32::MAX)
            .min(65_535);
        self.rcv_adv = self.rcv_nxt + free;
    }

    /// After the user read: a window update is owed when the edge may advance and the window
    /// we advertised has fallen below half the buffer, so that a sender facing a small or zero
    /// window learns that it opened (§3.8.6.2.2, §3.8.6.1).
    pub(crate) fn maybe_window_update(&mut self) {
        if !self.state.is_synchronized() || self.fin_received {
            return;
        }
        let (_, growth) = self.window_growth();
        let advertised = self.rcv_nxt.distance_to(self.rcv_adv);
        let half = u32::try_from(self.recv.capacity() / 2).unwrap_or(u32::MAX);
        if growth >= self.sws_threshold() && advertised < half {
            self.ack_due = true;
        }
    }

    /// A synchronized-state segment: <SEQ=seq><ACK=RCV.NXT><CTL=ACK|extra> with our window.
    /// Every SEND is pushed, so a segment that carries the last octet queued carries PSH:
    /// "the PSH bit will be set in the last TCP segment created from the buffer" (RFC 9293
    /// §3.9.1; MUST-61 for a TCP without a PUSH flag on SEND).
    fn segment(&mut self, seq: SeqNum, extra: Flags, data_len: u32) -> OutSegment {
        self.ack_due = false;
        let push = if data_len > 0 && seq + data_len == self.fin_seq() {
            Flags::PSH
        } else {
            Flags::empty()
        };
        OutSegment {
            seq,
            ack: self.rcv_nxt,
            flags: Flags::ACK | extra | push,
            window: self.advertise_window(),
            mss: None,
            data_len,
        }
    }

    /// How many of the `len` octets from `seq` the send buffer holds (all of them, for what
    /// `next_segment` asks).
    fn data_len_at(&self, seq: SeqNum, len: u32) -> u32 {
        let start = self.snd_buf_seq.distance_to(seq) as usize;
        let end = (start + len as usize).min(self.send_buf.len());
        (end - start.min(end)) as u32
    }

    /// The data octets of `[seq, seq + len)` in the send buffer, as the two parts of its ring
    /// (either may be empty). A segment's data is copied from here into its packet, once.
    pub(crate) fn data_slices(&self, seq: SeqNum, len: u32) -> [&[u8]; 2] {
        let start = self.snd_buf_seq.distance_to(seq) as usize;
        let end = (start + len as usize).min(self.send_buf.len());
        let start = start.min(end);
        let (a, b) = self.send_buf.as_slices();
        let first = &a[start.min(a.len())..end.min(a.len())];
        let second = &b[start.saturating_sub(a.len())..end.saturating_sub(a.len())];
        [first, second]
    }

    /// The SYN or SYN,ACK (§3.10.1, §3.10.7.2, §3.10.7.3), with the MSS option (§3.7.1, MUST-14
    /// allows sending it; we always do).
    fn syn_segment(&mut self) -> OutSegment {
        let synack = self.state != State::SynSent;
        let window = if synack {
            self.advertise_window()
        } else {
            u16::try_from(self.recv.free()).unwrap_or(u16::MAX)
        };
        OutSegment {
            seq: self.iss,
            ack: if synack { self.rcv_nxt } else { SeqNum(0) },
            flags: if synack {
                Flags::SYN | Flags::ACK
            } else {
                Flags::SYN
            },
            window,
            mss: self.config.mss_option.then_some(self.config.mss),
            data_len: 0,
        }
    }

    /// The next segment to send, if any. Arms the timers that the segment needs.
    pub(crate) fn poll_segment(&mut self, now: Instant) -> Option<OutSegment> {
        let seg = self.next_segment(now)?;
        // What this segment left queued may be what the silly-window rule holds back.
        self.arm_sws_override(now);
        let occupies = seg.data_len > 0 || seg.flags.intersects(Flags::SYN | Flags::FIN);
        if occupies && !seg.flags.contains(Flags::RST) {
            // RFC 6298 (5.1): "Every time a packet containing data is sent (including a
            // retransmission), if the timer is not running, start it running so that it will
            // expire after RTO seconds".
            if self.rtx_deadline.is_none() {
                self.rtx_deadline = Some(now + self.rtt.rto());
            }
            if self.user_deadline.is_none() {
                self.user_deadline = Some(now + self.config.user_timeout);
            }
        }
        Some(seg)
    }

    fn next_segment(&mut self, now: Instant) -> Option<OutSegment> {
        if let Some(rst) = self.control.pop_front() {
            return Some(rst);
        }
        if self.deleted {
            return None;
        }
        // The SYN is in flight while SND.UNA = ISS: in SYN-SENT, SYN-RECEIVED, and in
        // FIN-WAIT-1 after a CLOSE in SYN-RECEIVED.
        if self.syn_due || (self.rtx_due && self.snd_una == self.iss) {
            self.syn_due = false;
            self.rtx_due = false;
            if self.snd_una == self.iss {
                if !self.syn_retransmitted {
                    self.rtt.start_timing(self.iss + 1, now);
                }
                return Some(self.syn_segment());
            }
        }
        if matches!(self.state, State::SynSent | State::SynReceived) {
            if self.state == State::SynReceived && self.ack_due {
                // RFC 9293 §3.10.7.4 "First": an unacceptable segment (or a challenge) is
                // answered with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, in SYN-RECEIVED too.
                return Some(self.segment(self.snd_nxt, Flags::empty(), 0));
            }
            return None;
        }
        if self.rtx_due {
            // RFC 9293 §3.10.8: "send the segment at the front of the retransmission queue
            // again". It holds up to one MSS from SND.UNA, and the FIN if it fits.
            self.rtx_due = false;
            let in_flight = self.snd_una.distance_to(self.snd_nxt);
            if in_flight > 0 {
                return Some(self.segment_from(self.snd_una, in_flight, false));
            }
        }
        if self.probe_due {
            // RFC 9293 §3.8.6.1: "The transmitting host SHOULD send the first zero-window probe
            // when a zero window has existed for the retransmission timeout period ... the
            // sending TCP peer must regularly transmit at least one octet of new data (if
            // available)".
            self.probe_due = false;
            if self.may_send_data() && self.unsent() > 0 {
                let seq = self.snd_nxt;
                self.snd_nxt += 1;
                let data = self.data_len_at(seq, 1);
                return Some(self.segment(seq, Flags::empty(), data));
            }
        }
        if self.may_send_data() {
            let n = self.sendable();
            if n > 0 {
                self.sws_override = false;
                self.sws_deadline = None;
                let seq = self.snd_nxt;
                let seg = self.segment_from(seq, n, true);
                self.snd_nxt = seq + seg.data_len + u32::from(seg.flags.contains(Flags::FIN));
                self.rtt.start_timing(self.snd_nxt, now);
                return Some(seg);
            }
            if self.fin_queued && self.snd_nxt == self.fin_seq() {
                // §3.10.4: the FIN follows the last queued octet.
                let seq = self.snd_nxt;
                self.snd_nxt += 1;
                self.rtt.start_timing(self.snd_nxt, now);
                return Some(self.segment(seq, Flags::FIN, 0));
            }
        }
        if self.ack_due {
            // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
            return Some(self.segment(self.snd_nxt, Flags::empty(), 0));
        }
        None
    }

    /// A segment of data from `seq`: up to `len` octets of sequence space and one MSS of data.
    /// The FIN goes with it when the data reaches the end of the stream after a CLOSE, and the
    /// FIN is either in flight already (a retransmission) or due now (`new`).
    fn segment_from(&mut self, seq: SeqNum, len: u32, new: bool) -> OutSegment {
        let data_left = if seq.lt(self.fin_seq()) {
            seq.distance_to(self.fin_seq())
        } else {
            0
        };
        let n = len.min(data_left).min(u32::from(self.snd_mss));
        let data = self.data_len_at(seq, n);
        let fin = self.fin_queued && seq + n == self.fin_seq() && (new || self.fin_sent());
        self.segment(seq, if fin { Flags::FIN } else { Flags::empty() }, data)
    }

    /// The earliest deadline of this TCB.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        [
            self.rtx_deadline,
            self.time_wait_deadline,
            self.user_deadline,
            self.sws_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// RFC 9293 §3.10.8: the timeouts, in the order user, TIME-WAIT, retransmission.
    pub(crate) fn on_timeout(&mut self, now: Instant) {
        if self.user_deadline.is_some_and(|d| d <= now) {
            // USER TIMEOUT: "flush all queues, signal the user "error: connection aborted due to
            // user timeout" in general and for any outstanding calls, delete the TCB, enter the
            // CLOSED state, and return."
            self.delete(Cause::Timeout(Timer::User), Some(Event::TimedOut));
            return;
        }
        if self.time_wait_deadline.is_some_and(|d| d <= now) {
            // TIME-WAIT TIMEOUT: "delete the TCB, enter the CLOSED state, and return."
            self.delete(Cause::Timeout(Timer::TimeWait), None);
            return;
        }
        if self.sws_deadline.is_some_and(|d| d <= now) {
            self.sws_deadline = None;
            self.sws_override = true;
        }
        if self.rtx_deadline.is_some_and(|d| d <= now) {
            self.rtx_deadline = None;
            self.on_rtx_timeout();
        }
    }

    /// RETRANSMISSION TIMEOUT: "send the segment at the front of the retransmission queue
    /// again, reinitialize the retransmission timer, and return." RFC 6298 (5.4)–(5.6): retransmit
    /// the earliest unacknowledged segment, back off the timer, restart it (in `poll_segment`).
    fn on_rtx_timeout(&mut self) {
        let in_flight = self.snd_una != self.snd_nxt;
        // RFC 9293 §3.10.8 RETRANSMISSION TIMEOUT, by state: what is at the front of the queue.
        match self.state {
            // The SYN or SYN,ACK is the front of the queue.
            State::SynSent | State::SynReceived => {
                self.syn_due = true;
                self.syn_retransmitted = true;
            }
            _ if in_flight => {
                self.rtx_due = true;
                if self.snd_una == self.iss {
                    self.syn_retransmitted = true;
                }
                self.recovery_point = Some(self.snd_nxt);
            }
            // The persist timer: the window is closed and data waits (RFC 9293 §3.8.6.1).
            _ if self.window_closed() && self.unsent() > 0 => self.probe_due = true,
            _ => return,
        }
        self.rtt.on_retransmit();
        self.rtt.on_timeout();
    }

    /// Arms the persist timer when the peer's window is closed (zero, or used up to its right
    /// edge), data waits and nothing is in flight to elicit a window update (RFC 9293
    /// §3.8.6.1: "a TCP implementation MUST support probing of a zero window", MUST-35).
    pub(crate) fn arm_persist(&mut self, now: Instant) {
        self.arm_sws_override(now);
        if self.may_send_data()
            && self.window_closed()
            && self.snd_una == self.snd_nxt
            && self.unsent() > 0
            && self.rtx_deadline.is_none()
        {
            self.rtx_deadline = Some(now + self.rtt.rto());
        }
    }

    /// Enters TIME-WAIT or restarts its 2×MSL timer, turning off the other timers
    /// (§3.10.7.4 "Eighth").
    pub(crate) fn start_time_wait(&mut self, now: Instant, cause: Cause) {
        self.set_state(State::TimeWait, cause);
        self.time_wait_deadline = Some(now + self.config.msl.saturating_mul(2));
        self.rtx_deadline = None;
        self.user_deadline = None;
        self.rtx_due = false;
        self.probe_due = false;
    }

    /// RFC 5961 §7: send a challenge ACK unless this connection has sent its allowance in the
    /// current second. Returns whether it will be sent.
    pub(crate) fn challenge_ack(&mut self, now: Instant) -> bool {
        let (start, count) = self.challenge_window;
        let (start, count) = if now.saturating_since(start) >= Duration::from_secs(1) {
            (now, 0)
        } else {
            (start, count)
        };
        if count >= self.config.challenge_ack_limit {
            self.challenge_window = (start, count);
            return false;
        }
        self.challenge_window = (start, count + 1);
        self.ack_due = true;
        true
    }
}
