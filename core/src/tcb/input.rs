//! SEGMENT ARRIVES (RFC 9293 §3.10.7) for one connection: LISTEN's SYN, SYN-SENT, and the
//! synchronized states with SYN-RECEIVED, in the RFC's order of checks.

use super::{Origin, OutSegment, Tcb, DEFAULT_MSS};
use crate::config::Profile;
use crate::event::{Cause, DropReason, Event, SegmentSummary};
use crate::seq::SeqNum;
use crate::state::State;
use crate::time::Instant;
use crate::wire::Flags;

/// An arriving segment, after the checksum and demultiplexing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Incoming<'a> {
    pub seq: SeqNum,
    pub ack: SeqNum,
    pub flags: Flags,
    pub window: u16,
    pub mss: Option<u16>,
    pub payload: &'a [u8],
    pub summary: SegmentSummary,
}

impl Incoming<'_> {
    /// SEG.LEN: data octets plus one for SYN and one for FIN.
    pub(crate) fn len(&self) -> u32 {
        self.payload.len() as u32
            + u32::from(self.flags.contains(Flags::SYN))
            + u32::from(self.flags.contains(Flags::FIN))
    }

    /// The reset that answers this segment when no connection can accept it (§3.10.7.1):
    /// "If the ACK bit is off, sequence number zero is used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN>
    /// <CTL=RST,ACK>. If the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>".
    pub(crate) fn reset_reply(&self) -> OutSegment {
        if self.flags.contains(Flags::ACK) {
            OutSegment::rst(self.ack, None)
        } else {
            OutSegment::rst(SeqNum(0), Some(self.seq + self.len()))
        }
    }
}

impl Tcb {
    fn cause(seg: &Incoming<'_>) -> Cause {
        Cause::Segment(seg.summary)
    }

    fn drop_segment(&mut self, reason: DropReason) {
        self.drops.push(reason);
    }

    /// The peer's MSS option (§3.7.1): Eff.snd.MSS is the smaller of what it announced (536 if
    /// nothing, MUST-15) and what we send.
    fn take_mss(&mut self, seg: &Incoming<'_>) {
        let announced = seg.mss.unwrap_or(DEFAULT_MSS).max(1);
        self.snd_mss = announced.min(self.config.mss);
    }

    /// LISTEN, "Third, check for a SYN" (§3.10.7.2), on a new TCB made for this SYN:
    /// "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ ... ISS should be selected and a SYN
    /// segment sent of the form: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. SND.NXT is set to ISS+1
    /// and SND.UNA to ISS. The connection state should be changed to SYN-RECEIVED."
    ///
    /// Data and FIN on the SYN are not queued: they are left unacknowledged, so the peer sends
    /// them again once the connection is synchronized.
    pub(crate) fn on_listen_syn(&mut self, seg: &Incoming<'_>) {
        self.irs = seg.seq;
        self.rcv_nxt = seg.seq + 1;
        self.snd_una = self.iss;
        self.snd_nxt = self.iss + 1;
        self.snd_buf_seq = self.iss + 1;
        self.take_mss(seg);
        // The window of a SYN is never scaled; keep it for when the ACK arrives.
        self.snd_wnd = u32::from(seg.window);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = seg.seq;
        self.snd_wl2 = self.snd_una;
        self.init_rcv_window();
        self.syn_due = true;
        self.set_state(State::SynReceived, Self::cause(seg));
    }

    /// SEGMENT ARRIVES for an existing TCB (not LISTEN).
    pub(crate) fn on_segment(&mut self, now: Instant, seg: &Incoming<'_>) {
        // RFC 9293 §3.10.7: which section applies depends on the state.
        match self.state {
            // §3.10.7.1: a deleted TCB is CLOSED; the endpoint answers for it.
            State::Closed | State::Listen => {}
            State::SynSent => self.on_segment_syn_sent(now, seg),
            _ => self.on_segment_synchronized(now, seg),
        }
    }

    /// §3.10.7.3 SYN-SENT STATE.
    fn on_segment_syn_sent(&mut self, now: Instant, seg: &Incoming<'_>) {
        let rst = seg.flags.contains(Flags::RST);
        // "First, check the ACK bit".
        let mut ack_ok = false;
        if seg.flags.contains(Flags::ACK) {
            // "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is set,
            // if so drop the segment and return) <SEQ=SEG.ACK><CTL=RST> and discard the segment."
            if seg.ack.le(self.iss) || seg.ack.gt(self.snd_nxt) {
                if !rst {
                    self.control.push_back(OutSegment::rst(seg.ack, None));
                }
                self.drop_segment(DropReason::SynSentOther);
                return;
            }
            // "If SND.UNA < SEG.ACK =< SND.NXT, then the ACK is acceptable" (RFC 9293, the strict
            // check); RFC 793 p.66 reads "SND.UNA =< SEG.ACK =< SND.NXT". With SND.UNA = ISS and
            // SEG.ACK =< ISS already refused above, the two agree on every segment.
            // RFC 9293 §3.10.7.3 against RFC 793 §3.9 p.66, by profile.
            ack_ok = match self.profile() {
                Profile::Rfc9293 => self.snd_una.lt(seg.ack) && seg.ack.le(self.snd_nxt),
                Profile::Rfc793 => self.snd_una.le(seg.ack) && seg.ack.le(self.snd_nxt),
            };
        }
        // "Second, check the RST bit": "If the ACK was acceptable, then signal to the user
        // "error: connection reset", drop the segment, enter CLOSED state, delete TCB, and
        // return. Otherwise (no ACK), drop the segment and return." RFC 9293's RFC 5961 note asks
        // for SEG.SEQ = RCV.NXT first, but RCV.NXT is not yet known in SYN-SENT; the acceptable
        // ACK is what ties the RST to our SYN.
        if rst {
            if ack_ok {
                self.delete(Self::cause(seg), Some(Event::Refused));
            } else {
                self.drop_segment(DropReason::SynSentOther);
            }
            return;
        }
        // "Third, check the security": no security/compartment option is supported.
        // "Fourth, check the SYN bit".
        if !seg.flags.contains(Flags::SYN) {
            // "Fifth, if neither of the SYN or RST bits is set, then drop the segment and return."
            self.drop_segment(DropReason::SynSentOther);
            return;
        }
        // "RCV.NXT is set to SEG.SEQ+1, IRS is set to SEG.SEQ. SND.UNA should be advanced to
        // equal SEG.ACK (if there is an ACK)".
        self.irs = seg.seq;
        self.rcv_nxt = seg.seq + 1;
        self.take_mss(seg);
        self.init_rcv_window();
        if ack_ok {
            self.snd_una = seg.ack;
            self.rtt.on_ack(seg.ack, now);
            if self.syn_retransmitted {
                self.rtt.after_syn_retransmitted();
            }
            self.rtx_deadline = None;
            self.user_deadline = None;
        }
        // The window, for both branches below. RFC 9293 sets it only in the SYN-RECEIVED branch;
        // the ESTABLISHED branch needs it as much (RFC 1122 §4.2.2.20, one of RFC793_CORRECTIONS).
        self.snd_wnd = u32::from(seg.window);
        self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
        self.snd_wl1 = seg.seq;
        // A SYN without ACK (simultaneous open) offers its window from our SND.UNA.
        self.snd_wl2 = if ack_ok { seg.ack } else { self.snd_una };
        if self.snd_una.gt(self.iss) {
            // "If SND.UNA > ISS (our SYN has been ACKed), change the connection state to
            // ESTABLISHED, form an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send it."
            self.set_state(State::Established, Self::cause(seg));
            self.ack_due = true;
            // "If there are other controls or text in the segment, then continue processing at
            // the sixth step under Section 3.10.7.4 where the URG bit is checked".
            let rest = Incoming {
                seq: seg.seq + 1,
                flags: seg.flags - Flags::SYN,
                ..*seg
            };
            self.process_text_and_fin(now, &rest);
            // Data queued in SYN-SENT waits behind a zero window: probe it (§3.8.6.1).
            self.arm_persist(now);
        } else {
            // "Otherwise, enter SYN-RECEIVED, form a SYN,ACK segment <SEQ=ISS><ACK=RCV.NXT>
            // <CTL=SYN,ACK> and send it." Simultaneous open (RFC 793 Figure 8). Other controls
            // or text are not queued: the peer will send them again.
            self.syn_due = true;
            self.set_state(State::SynReceived, Self::cause(seg));
        }
    }

    /// RCV.WND as advertised: the acceptability tests hold the peer to what we offered.
    fn rcv_wnd(&self) -> u32 {
        self.rcv_nxt.distance_to(self.rcv_adv).min(1 << 30)
    }

    /// §3.10.7.4 "First, check sequence number": the four cases of Table 6.
    fn acceptable(&self, seq: SeqNum, len: u32) -> bool {
        let wnd = self.rcv_wnd();
        let right = self.rcv_nxt + wnd;
        // RFC 9293 §3.10.7.4 Table 6, by segment length and receive window.
        match (len, wnd) {
            (0, 0) => seq == self.rcv_nxt,
            (0, _) => seq.in_window(self.rcv_nxt, right),
            (_, 0) => false,
            (_, _) => {
                seq.in_window(self.rcv_nxt, right)
                    || (seq + (len - 1)).in_window(self.rcv_nxt, right)
            }
        }
    }

    /// §3.10.7.4 Other States, steps one to eight.
    fn on_segment_synchronized(&mut self, now: Instant, seg: &Incoming<'_>) {
        let cause = Self::cause(seg);
        let mut seg = *seg;
        let rst = seg.flags.contains(Flags::RST);

        // Simultaneous open (RFC 793 Figure 8, RFC 9293 Figure 7): in SYN-RECEIVED reached from
        // SYN-SENT, the peer's SYN,ACK repeats its SYN at IRS, just before RCV.NXT. The SYN is
        // trimmed as an old duplicate ("If a segment's contents straddle the boundary between
        // old and new, only the new parts are processed") so that the ACK it carries completes
        // the handshake, as the figure's line 6 shows.
        if self.state == State::SynReceived
            && self.origin == Origin::Active
            && seg.flags.contains(Flags::SYN | Flags::ACK)
            && !rst
            && seg.seq == self.irs
        {
            seg.seq += 1;
            seg.flags -= Flags::SYN;
            self.ack_due = true;
        }

        // "First, check sequence number".
        let len = seg.len();
        if !self.acceptable(seg.seq, len) {
            // "If the RCV.WND is zero, no segments will be acceptable, but special allowance
            // should be made to accept valid ACKs, URGs, and RSTs": a segment at RCV.NXT with a
            // closed window is processed for its controls, without its text or FIN.
            if self.rcv_wnd() == 0 && seg.seq == self.rcv_nxt && !seg.flags.contains(Flags::SYN) {
                seg.payload = &[];
                seg.flags -= Flags::FIN;
                self.ack_due = true;
            } else if rst {
                // "(unless the RST bit is set, if so drop the segment and return)"; RFC 5961
                // §3.2 case 1: "silently drop the segment".
                self.drop_segment(DropReason::RstOutOfWindow);
                return;
            } else {
                // TIME-WAIT: "The only thing that can arrive in this state is a retransmission of
                // the remote FIN. Acknowledge it, and restart the 2 MSL timeout." A retransmitted
                // FIN lies just before RCV.NXT, so it fails this test; the restart is done here.
                if self.state == State::TimeWait
                    && seg.flags.contains(Flags::FIN)
                    && seg.seq + len == self.rcv_nxt
                {
                    self.start_time_wait(now, cause);
                }
                // "If an incoming segment is not acceptable, an acknowledgment should be sent in
                // reply ... <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. After sending the
                // acknowledgment, drop the unacceptable segment and return."
                self.ack_due = true;
                self.drop_segment(DropReason::Unacceptable);
                return;
            }
        }

        // "Second, check the RST bit".
        if rst {
            if self.profile() == Profile::Rfc9293 && seg.seq != self.rcv_nxt {
                // RFC 5961 §3.2 case 3: "If the RST bit is set and the sequence number does not
                // exactly match the next expected sequence value, yet is within the current
                // receive window, TCP endpoints MUST send an acknowledgment (challenge ACK)".
                if !self.challenge_ack(now) {
                    self.drop_segment(DropReason::ChallengeAckLimited);
                }
                self.drop_segment(DropReason::RstChallenged);
                return;
            }
            // RFC 5961 §3.2 case 2 (RST at RCV.NXT), or RFC 793: any RST in the window.
            self.reset_by_peer(cause);
            return;
        }

        // "Third, check security": no security/compartment option is supported.

        // "Fourth, check the SYN bit". A SYN before the window was answered by the first step.
        if seg.flags.contains(Flags::SYN) {
            // RFC 9293 §3.10.7.4, by state and profile.
            match (self.state, self.origin, self.profile()) {
                // SYN-RECEIVED: "If the connection was initiated with a passive OPEN, then return
                // this connection to the LISTEN state and return."
                (State::SynReceived, Origin::Passive, Profile::Rfc9293) => {
                    self.return_to_listen(cause);
                }
                // Synchronized states: RFC 5961 §4.2 "TCP endpoints MUST send a "challenge ACK"
                // to the remote peer ... MUST drop the unacceptable segment and stop processing".
                (_, _, Profile::Rfc9293) => {
                    if !self.challenge_ack(now) {
                        self.drop_segment(DropReason::ChallengeAckLimited);
                    }
                    self.drop_segment(DropReason::SynChallenged);
                }
                // RFC 793 p.71: "If the SYN is in the window it is an error, send a reset, any
                // outstanding RECEIVEs and SEND should receive "reset" responses ... enter the
                // CLOSED state, delete the TCB, and return."
                (_, _, Profile::Rfc793) => {
                    self.control.push_back(seg.reset_reply());
                    let event = if self.state == State::SynReceived {
                        None
                    } else {
                        Some(Event::Reset)
                    };
                    self.delete(cause, event);
                }
            }
            return;
        }

        // "Fifth, check the ACK field": "if the ACK bit is off, drop the segment and return".
        if !seg.flags.contains(Flags::ACK) {
            self.drop_segment(DropReason::NoAck);
            return;
        }
        if !self.process_ack(now, &seg, cause) {
            return;
        }
        if self.deleted {
            return;
        }

        // "Sixth, check the URG bit": urgent data is not delivered as such; the pointer is
        // ignored and the octets are ordinary data.
        self.process_text_and_fin(now, &seg);
    }

    /// A RST at RCV.NXT (or, under RFC 793, anywhere in the window), by state (§3.10.7.4
    /// "Second").
    fn reset_by_peer(&mut self, cause: Cause) {
        match self.state {
            // SYN-RECEIVED: "If this connection was initiated with a passive OPEN (i.e., came
            // from the LISTEN state), then return this connection to LISTEN state and return.
            // The user need not be informed. If this connection was initiated with an active
            // OPEN (i.e., came from SYN-SENT state), then the connection was refused; signal the
            // user "connection refused"."
            // RFC 9293 §3.10.7.4: passive or active OPEN decides.
            State::SynReceived => match self.origin {
                Origin::Passive => self.return_to_listen(cause),
                Origin::Active => self.delete(cause, Some(Event::Refused)),
            },
            // ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT: "Users should also receive an
            // unsolicited general "connection reset" signal. Enter the CLOSED state, delete the
            // TCB, and return."
            State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                self.delete(cause, Some(Event::Reset));
            }
            // CLOSING, LAST-ACK, TIME-WAIT: "enter the CLOSED state, delete the TCB, and return."
            State::Closing | State::LastAck | State::TimeWait => self.delete(cause, None),
            State::Closed | State::Listen | State::SynSent => {}
        }
    }

    /// A passive connection in SYN-RECEIVED goes back to LISTEN: the listener remains, and this
    /// child of it is deleted without a word to the user.
    fn return_to_listen(&mut self, cause: Cause) {
        self.set_state(State::Listen, cause);
        self.delete_silently();
    }

    fn delete_silently(&mut self) {
        self.deleted = true;
        self.silent = true;
        self.send_buf.clear();
        self.recv.clear();
        self.rtx_deadline = None;
        self.user_deadline = None;
        self.time_wait_deadline = None;
        self.ack_due = false;
        self.syn_due = false;
        self.rtx_due = false;
    }

    /// "Fifth, check the ACK field", for SYN-RECEIVED and the synchronized states. Returns
    /// whether processing continues with the URG, text and FIN steps.
    fn process_ack(&mut self, now: Instant, seg: &Incoming<'_>, cause: Cause) -> bool {
        // RFC 5961 §5 / RFC 9293: "TCP stacks that implement RFC 5961 MUST add an input check
        // that the ACK value is acceptable only if it is in the range of ((SND.UNA -
        // MAX.SND.WND) =< SEG.ACK =< SND.NXT). All incoming segments whose ACK value doesn't
        // satisfy the above condition MUST be discarded and an ACK sent back."
        if self.profile() == Profile::Rfc9293
            && self.state != State::SynReceived
            && !((self.snd_una - self.max_snd_wnd).le(seg.ack) && seg.ack.le(self.snd_nxt))
        {
            self.ack_due = true;
            self.drop_segment(DropReason::UnacceptableAck);
            return false;
        }
        if self.state == State::SynReceived {
            // "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state and continue
            // processing with the variables below set to: SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ,
            // SND.WL2 <- SEG.ACK". RFC 793 p.72 reads "SND.UNA =< SEG.ACK", one of
            // RFC793_CORRECTIONS.
            if self.snd_una.lt(seg.ack) && seg.ack.le(self.snd_nxt) {
                self.snd_wnd = u32::from(seg.window);
                self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
                self.snd_wl1 = seg.seq;
                self.snd_wl2 = seg.ack;
                self.set_state(State::Established, cause);
            } else {
                // "If the segment acknowledgment is not acceptable, form a reset segment
                // <SEQ=SEG.ACK><CTL=RST> and send it."
                self.control.push_back(OutSegment::rst(seg.ack, None));
                self.drop_segment(DropReason::UnacceptableAck);
                return false;
            }
        }
        // ESTABLISHED processing, which FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, CLOSING and
        // LAST-ACK share: "If SND.UNA < SEG.ACK =< SND.NXT, then set SND.UNA <- SEG.ACK."
        if self.snd_una.lt(seg.ack) && seg.ack.le(self.snd_nxt) {
            self.advance_snd_una(now, seg.ack);
        } else if seg.ack.gt(self.snd_nxt) {
            // "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then send an ACK,
            // drop the segment, and return."
            self.ack_due = true;
            self.drop_segment(DropReason::UnacceptableAck);
            return false;
        }
        // "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated. If (SND.WL1 <
        // SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)), set SND.WND <- SEG.WND, set
        // SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK." (RFC 793 p.72 has "SND.UNA < SEG.ACK";
        // one of RFC793_CORRECTIONS.)
        if self.snd_una.le(seg.ack)
            && seg.ack.le(self.snd_nxt)
            && (self.snd_wl1.lt(seg.seq) || (self.snd_wl1 == seg.seq && self.snd_wl2.le(seg.ack)))
        {
            self.snd_wnd = u32::from(seg.window);
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = seg.ack;
            if self.snd_wnd == 0 {
                // The peer answers while its window is closed: it is alive, so the user timeout
                // does not run against a zero window (RFC 9293 §3.8.6.1, MUST-36: "MUST NOT
                // close a connection because of zero window as long as the receiving TCP
                // continues to send acknowledgments in response to the probe segments").
                if self.user_deadline.is_some() {
                    self.user_deadline = Some(now + self.config.user_timeout);
                }
            } else if self.snd_una == self.snd_nxt && !self.window_closed() {
                // The window opened with nothing in flight: the timer that runs now can only
                // be the persist timer, which has nothing left to probe.
                self.rtx_deadline = None;
            }
        }
        // All that was offered is acknowledged and data waits: probe (§3.8.6.1).
        self.arm_persist(now);
        // RFC 9293 §3.10.7.4 "Fifth, check the ACK field": the per-state additions.
        match self.state {
            // FIN-WAIT-1: "if the FIN segment is now acknowledged, then enter FIN-WAIT-2 and
            // continue processing in that state." When the segment also carries the peer's FIN,
            // the FIN step's own FIN-WAIT-1 rule applies instead ("If our FIN has been ACKed
            // (perhaps in this segment), then enter TIME-WAIT"), so the connection goes from
            // FIN-WAIT-1 straight to TIME-WAIT, as that rule describes; FIN-WAIT-2 is entered
            // after the FIN step if the FIN could not be processed.
            State::FinWait1 if self.fin_acked() && !seg.flags.contains(Flags::FIN) => {
                self.set_state(State::FinWait2, cause);
            }
            // CLOSING: "if the ACK acknowledges our FIN, then enter the TIME-WAIT state;
            // otherwise, ignore the segment."
            State::Closing => {
                if !self.fin_acked() {
                    return false;
                }
                // TIME-WAIT; the rest of the segment is processed in that state.
                self.start_time_wait(now, cause);
            }
            // LAST-ACK: "If our FIN is now acknowledged, delete the TCB, enter the CLOSED state,
            // and return."
            State::LastAck if self.fin_acked() => {
                self.delete(cause, None);
                return false;
            }
            // ESTABLISHED, FIN-WAIT-2 ("if the retransmission queue is empty, the user's CLOSE
            // can be acknowledged"), CLOSE-WAIT, LAST-ACK without our FIN acknowledged, and
            // TIME-WAIT (whose retransmitted FIN is answered at the FIN step).
            _ => {}
        }
        if self.state == State::Established && self.close_when_established {
            // §3.10.4 SYN-RECEIVED: the CLOSE queued "for processing after entering ESTABLISHED".
            self.close_when_established = false;
            self.fin_queued = true;
            self.set_state(State::FinWait1, cause);
        }
        true
    }

    /// SND.UNA moves to `ack`: drop acknowledged data, sample the RTT, manage the timers
    /// (RFC 6298 (5.2), (5.3)) and continue a retransmission after a timeout.
    fn advance_snd_una(&mut self, now: Instant, ack: SeqNum) {
        let data_acked = if self.snd_buf_seq.lt(ack) {
            (self.snd_buf_seq.distance_to(ack) as usize).min(self.send_buf.len())
        } else {
            0
        };
        self.send_buf.drain(..data_acked);
        self.snd_buf_seq += data_acked as u32;
        let syn_acked = self.snd_una == self.iss;
        self.snd_una = ack;
        self.rtt.on_ack(ack, now);
        if syn_acked && self.syn_retransmitted {
            // RFC 6298 (5.7), whichever state the ACK of our SYN finds us in (FIN-WAIT-1 after
            // a CLOSE in SYN-RECEIVED, too).
            self.rtt.after_syn_retransmitted();
        }
        if self.snd_una == self.snd_nxt {
            // (5.2) "When all outstanding data has been acknowledged, turn off the
            // retransmission timer."
            self.rtx_deadline = None;
            self.user_deadline = None;
            self.recovery_point = None;
        } else {
            // (5.3) "When an ACK is received that acknowledges new data, restart the
            // retransmission timer so that it will expire after RTO seconds".
            self.rtx_deadline = Some(now + self.rtt.rto());
            self.user_deadline = Some(now + self.config.user_timeout);
            if let Some(point) = self.recovery_point {
                if self.snd_una.lt(point) {
                    // After a timeout, each partial ACK sends the next lost segment.
                    self.rtx_due = true;
                } else {
                    self.recovery_point = None;
                }
            }
        }
    }

    /// "Seventh, process the segment text" and "Eighth, check the FIN bit".
    fn process_text_and_fin(&mut self, now: Instant, seg: &Incoming<'_>) {
        let cause = Self::cause(seg);
        // Trim to the window: what lies before RCV.NXT is old, what lies past the advertised
        // right edge is not ours to keep.
        let mut seq = seg.seq;
        let mut data = seg.payload;
        let mut fin = seg.flags.contains(Flags::FIN);
        if seq.lt(self.rcv_nxt) {
            // An old duplicate, in whole or part: acknowledge it.
            self.ack_due = true;
            let old = seq.distance_to(self.rcv_nxt) as usize;
            if old >= data.len() {
                // Only a FIN can still be new, and only if it sits exactly at RCV.NXT.
                fin = fin && seq + data.len() as u32 == self.rcv_nxt;
                data = &[];
            } else {
                data = &data[old..];
            }
            seq = self.rcv_nxt;
        }
        let room = self.rcv_wnd() as usize;
        let offset_in_window = self.rcv_nxt.distance_to(seq) as usize;
        if offset_in_window + data.len() > room {
            let keep = room.saturating_sub(offset_in_window);
            data = &data[..keep.min(data.len())];
            fin = false;
            self.ack_due = true;
        }

        // RFC 9293 §3.10.7.4, by state.
        match self.state {
            // ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2: "Once the TCP endpoint takes responsibility
            // for the data, it advances RCV.NXT over the data accepted ... Send an
            // acknowledgment of the form: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>". Data above
            // RCV.NXT is held for later (SHLD-31) and acknowledged at once (MAY-13), which tells
            // the sender what is missing.
            State::Established | State::FinWait1 | State::FinWait2 => {
                let base = self.recv.next_offset();
                let at = base + offset_in_window as u64;
                if fin {
                    self.held_fin = Some(at + data.len() as u64);
                }
                if !data.is_empty() {
                    let moved = self.recv.insert(at, data);
                    self.rcv_nxt += moved as u32;
                    if moved > 0 {
                        self.events.push(Event::Readable);
                    }
                    self.ack_due = true;
                }
            }
            // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: "This should not occur since a FIN has
            // been received from the remote side. Ignore the segment text."
            _ => {}
        }

        // "Eighth, check the FIN bit", once the data before it is all in.
        if self.held_fin == Some(self.recv.next_offset()) && !self.fin_received {
            self.held_fin = None;
            self.process_fin(now, cause);
        } else if fin && self.fin_received {
            // A FIN after the peer's FIN, in CLOSE-WAIT, CLOSING, LAST-ACK or TIME-WAIT:
            // "send an acknowledgment for the FIN" and, in TIME-WAIT, "Restart the 2 MSL
            // time-wait timeout". RCV.NXT already covers the first FIN; the user was told then.
            self.ack_due = true;
            if self.state == State::TimeWait {
                self.start_time_wait(now, cause);
            }
        }
        if self.state == State::FinWait1 && self.fin_acked() {
            // The ACK step deferred FIN-WAIT-2 for a FIN that could not be processed yet.
            self.set_state(State::FinWait2, cause);
        }
    }

    /// "If the FIN bit is set, signal the user "connection closing" ... advance RCV.NXT over the
    /// FIN, and send an acknowledgment for the FIN."
    fn process_fin(&mut self, now: Instant, cause: Cause) {
        self.recv.skip_fin();
        self.rcv_nxt += 1;
        self.fin_received = true;
        self.ack_due = true;
        self.events.push(Event::PeerClosed);
        // RFC 9293 §3.10.7.4 "Eighth, check the FIN bit", by state.
        match self.state {
            // SYN-RECEIVED, ESTABLISHED: "Enter the CLOSE-WAIT state."
            State::SynReceived | State::Established => self.set_state(State::CloseWait, cause),
            // FIN-WAIT-1: "If our FIN has been ACKed (perhaps in this segment), then enter
            // TIME-WAIT, start the time-wait timer, turn off the other timers; otherwise, enter
            // the CLOSING state."
            State::FinWait1 => {
                if self.fin_acked() {
                    self.start_time_wait(now, cause);
                } else {
                    self.set_state(State::Closing, cause);
                }
            }
            // FIN-WAIT-2: "Enter the TIME-WAIT state. Start the time-wait timer, turn off the
            // other timers."
            State::FinWait2 => self.start_time_wait(now, cause),
            // TIME-WAIT: "Remain in the TIME-WAIT state. Restart the 2 MSL time-wait timeout."
            State::TimeWait => self.start_time_wait(now, cause),
            // CLOSE-WAIT, CLOSING, LAST-ACK: remain.
            _ => {}
        }
    }
}
