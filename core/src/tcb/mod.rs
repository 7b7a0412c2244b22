//! The transmission control block: one connection's state machine (RFC 9293 §3.3.1, §3.10).
//!
//! This module owns a connection's variables (SND.*, RCV.*, ISS, IRS), its buffers, timers and
//! retransmission queue, and every rule of RFC 9293 §3.10 that applies to one connection. The
//! endpoint (`crate::endpoint`) owns demultiplexing, listeners, ports and ISN choice, and turns the
//! segments a TCB emits into packets.
//!
//! Layout: this file holds the TCB and the user calls (§3.10.1–3.10.6); `input.rs` the SEGMENT
//! ARRIVES processing (§3.10.7); `output.rs` segment formation and the timeouts (§3.10.8,
//! RFC 6298); `recv.rs` reassembly; `rto.rs` the RTO estimator.

mod input;
mod output;
mod recv;
mod rto;

use std::collections::VecDeque;

use core::net::SocketAddrV4;

use crate::config::{Config, Profile};
use crate::error::UserError;
use crate::event::{Cause, Event, Status, UserCall};
use crate::seq::SeqNum;
use crate::state::State;
use crate::time::Instant;
use crate::wire::Flags;

pub(crate) use input::Incoming;
use recv::RecvBuffer;
use rto::RttEstimator;

/// RFC 9293 §3.7.1: "If an MSS Option is not received at connection setup, TCP implementations
/// MUST assume a default send MSS of 536 (576 - 40) for IPv4" (MUST-15).
pub const DEFAULT_MSS: u16 = 536;

/// The corrections that `Profile::Rfc793` applies to RFC 793 §3.9, and nothing more. Each is a
/// plain error in RFC 793's text, corrected the same way by RFC 1122 §4.2.2.20 and RFC 9293:
pub const RFC793_CORRECTIONS: &[&str] = &[
    "CLOSE in CLOSE-WAIT enters LAST-ACK, not CLOSING as RFC 793 p.61 says; RFC 793 Figure 6 \
     and RFC 9293 §3.10.4 agree on LAST-ACK.",
    "The send-window update test is SND.UNA =< SEG.ACK =< SND.NXT, not SND.UNA < SEG.ACK \
     (RFC 793 p.72); RFC 1122 §4.2.2.20 and RFC 9293 §3.10.7.4, so that a duplicate ACK can \
     reopen a window.",
    "SYN-SENT sets SND.WND, SND.WL1 and SND.WL2 from the SYN,ACK that establishes the \
     connection, which RFC 793 p.68 omits; RFC 1122 §4.2.2.20.",
    "In SYN-RECEIVED an ACK is acceptable only if SND.UNA < SEG.ACK =< SND.NXT (RFC 793 p.72 \
     reads SND.UNA =< SEG.ACK, which would accept an ACK that does not cover our SYN); \
     RFC 1122 §4.2.2.20 and RFC 9293 §3.10.7.4.",
    "A RST in SYN-RECEIVED returns a passive connection to LISTEN and refuses an active one; \
     RFC 1122 §4.2.2.20 and RFC 9293 §3.10.7.4.",
];

/// A segment a TCB wants sent, before addresses and checksums.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OutSegment {
    pub seq: SeqNum,
    pub ack: SeqNum,
    pub flags: Flags,
    pub window: u16,
    pub mss: Option<u16>,
    /// Octets of data: the TCB's send buffer from `seq` on (see `Tcb::data_slices`), copied
    /// straight into the packet when it is written.
    pub data_len: u32,
}

impl OutSegment {
    /// A bare control segment (RST) with no window.
    pub(crate) fn rst(seq: SeqNum, ack: Option<SeqNum>) -> OutSegment {
        OutSegment {
            seq,
            ack: ack.unwrap_or(SeqNum(0)),
            flags: if ack.is_some() {
                Flags::RST | Flags::ACK
            } else {
                Flags::RST
            },
            window: 0,
            mss: None,
            data_len: 0,
        }
    }
}

/// How a connection began, which decides where a RST in SYN-RECEIVED leads (§3.10.7.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// From LISTEN: a child of a listener.
    Passive,
    /// From SYN-SENT: an active OPEN (or a passive OPEN made active by SEND).
    Active,
}

/// One connection.
#[derive(Debug)]
pub(crate) struct Tcb {
    pub(crate) config: Config,
    pub(crate) state: State,
    pub(crate) origin: Origin,
    pub(crate) local: SocketAddrV4,
    pub(crate) remote: SocketAddrV4,

    // Send sequence variables (RFC 9293 §3.3.1).
    pub(crate) iss: SeqNum,
    pub(crate) snd_una: SeqNum,
    pub(crate) snd_nxt: SeqNum,
    pub(crate) snd_wnd: u32,
    pub(crate) snd_wl1: SeqNum,
    pub(crate) snd_wl2: SeqNum,
    /// RFC 5961 §5: "the largest window that the local sender has ever received from its peer".
    pub(crate) max_snd_wnd: u32,
    /// Eff.snd.MSS (RFC 9293 §3.7.1).
    pub(crate) snd_mss: u16,

    // Receive sequence variables.
    pub(crate) irs: SeqNum,
    pub(crate) rcv_nxt: SeqNum,
    /// RCV.NXT + RCV.WND as last advertised: the right edge, which never moves left.
    pub(crate) rcv_adv: SeqNum,

    /// Data queued by SEND, from sequence number `snd_buf_seq` on: sent-and-unacknowledged,
    /// then unsent. This is the retransmission queue's data.
    pub(crate) send_buf: VecDeque<u8>,
    pub(crate) snd_buf_seq: SeqNum,
    /// CLOSE was called (or queued): a FIN follows the last queued octet.
    pub(crate) fin_queued: bool,
    /// CLOSE in SYN-RECEIVED with data queued: close once ESTABLISHED (§3.10.4).
    pub(crate) close_when_established: bool,
    pub(crate) recv: RecvBuffer,
    /// Stream offset of a FIN that arrived ahead of missing data.
    pub(crate) held_fin: Option<u64>,
    /// The peer's FIN has been processed.
    pub(crate) fin_received: bool,

    pub(crate) rtt: RttEstimator,
    pub(crate) rtx_deadline: Option<Instant>,
    pub(crate) time_wait_deadline: Option<Instant>,
    pub(crate) user_deadline: Option<Instant>,
    /// A SYN (SYN-SENT) or SYN,ACK (SYN-RECEIVED) is to be sent.
    pub(crate) syn_due: bool,
    /// Our SYN was retransmitted at least once (RFC 6298 (5.7)).
    pub(crate) syn_retransmitted: bool,
    /// The front of the retransmission queue is to be sent again.
    pub(crate) rtx_due: bool,
    /// After a timeout, partial ACKs up to this point retransmit the next segment.
    pub(crate) recovery_point: Option<SeqNum>,
    /// A zero-window probe is to be sent (RFC 9293 §3.8.6.1).
    pub(crate) probe_due: bool,
    /// When the sender's SWS override timeout fires for data the silly-window rule holds back
    /// (RFC 9293 §3.8.6.2.1 (4)), and whether it has fired.
    pub(crate) sws_deadline: Option<Instant>,
    pub(crate) sws_override: bool,
    /// An ACK is owed.
    pub(crate) ack_due: bool,
    /// RSTs to send, formed from the segment that caused them.
    pub(crate) control: VecDeque<OutSegment>,
    /// Challenge ACKs sent in the current one-second window, and when it began (RFC 5961 §7).
    pub(crate) challenge_window: (Instant, u32),

    /// The TCB is deleted (CLOSED); the endpoint removes it after the current call.
    pub(crate) deleted: bool,
    /// Deleted without telling the user (a passive SYN-RECEIVED returning to LISTEN).
    pub(crate) silent: bool,
    /// The connection reached ESTABLISHED during the current call.
    pub(crate) just_established: bool,
    pub(crate) events: Vec<Event>,
    pub(crate) transitions: Vec<(State, State, Cause)>,
    pub(crate) drops: Vec<crate::event::DropReason>,
}

impl Tcb {
    /// A TCB in `state` (LISTEN for a listener's child, CLOSED for an active OPEN) that has
    /// not sent anything yet.
    pub(crate) fn new(
        config: &Config,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNum,
        origin: Origin,
        state: State,
    ) -> Tcb {
        Tcb {
            rtt: RttEstimator::new(config.rto_initial, config.rto_min, config.rto_max),
            recv: RecvBuffer::new(config.recv_buffer),
            config: config.clone(),
            state,
            origin,
            local,
            remote,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_wnd: 0,
            snd_wl1: SeqNum(0),
            snd_wl2: SeqNum(0),
            max_snd_wnd: 0,
            snd_mss: DEFAULT_MSS.min(config.mss),
            irs: SeqNum(0),
            rcv_nxt: SeqNum(0),
            rcv_adv: SeqNum(0),
            send_buf: VecDeque::new(),
            snd_buf_seq: iss + 1,
            fin_queued: false,
            close_when_established: false,
            held_fin: None,
            fin_received: false,
            rtx_deadline: None,
            time_wait_deadline: None,
            user_deadline: None,
            syn_due: false,
            syn_retransmitted: false,
            rtx_due: false,
            recovery_point: None,
            probe_due: false,
            sws_deadline: None,
            sws_override: false,
            ack_due: false,
            control: VecDeque::new(),
            challenge_window: (Instant::ZERO, 0),
            deleted: false,
            silent: false,
            just_established: false,
            events: Vec::new(),
            transitions: Vec::new(),
            drops: Vec::new(),
        }
    }

    pub(crate) fn profile(&self) -> Profile {
        self.config.profile
    }

    pub(crate) fn set_state(&mut self, to: State, cause: Cause) {
        if to != self.state {
            self.transitions.push((self.state, to, cause));
            if to == State::Established {
                self.just_established = true;
                self.events.push(Event::Connected);
            }
            self.state = to;
        }
    }

    /// Enter CLOSED and delete the TCB, flushing every queue but the RSTs already formed.
    pub(crate) fn delete(&mut self, cause: Cause, event: Option<Event>) {
        self.set_state(State::Closed, cause);
        if let Some(e) = event {
            self.events.push(e);
        }
        self.deleted = true;
        self.send_buf.clear();
        self.recv.clear();
        self.rtx_deadline = None;
        self.time_wait_deadline = None;
        self.user_deadline = None;
        self.ack_due = false;
        self.syn_due = false;
        self.rtx_due = false;
        self.probe_due = false;
        self.sws_deadline = None;
    }

    /// Active OPEN from CLOSED or LISTEN (§3.10.1, §3.10.2 LISTEN): "A SYN segment of the form
    /// <SEQ=ISS><CTL=SYN> is sent. Set SND.UNA to ISS, SND.NXT to ISS+1, enter SYN-SENT state".
    pub(crate) fn open_active(&mut self, iss: SeqNum, cause: UserCall) {
        self.iss = iss;
        self.snd_una = iss;
        self.snd_nxt = iss + 1;
        self.snd_buf_seq = iss + 1;
        self.origin = Origin::Active;
        self.syn_due = true;
        self.set_state(State::SynSent, Cause::User(cause));
    }

    /// The stream end (sequence number after the last queued octet), where a FIN goes.
    pub(crate) fn fin_seq(&self) -> SeqNum {
        self.snd_buf_seq + self.send_buf.len() as u32
    }

    /// Our FIN has been sent at least once.
    pub(crate) fn fin_sent(&self) -> bool {
        self.fin_queued && self.snd_nxt == self.fin_seq() + 1
    }

    /// Our FIN has been acknowledged.
    pub(crate) fn fin_acked(&self) -> bool {
        self.fin_queued && self.snd_una == self.fin_seq() + 1
    }

    /// SEND (§3.10.2). Returns the octets queued, which may be fewer than offered (none when the
    /// send buffer is full).
    pub(crate) fn send(&mut self, data: &[u8]) -> Result<usize, UserError> {
        // RFC 9293 §3.10.2, by state.
        match self.state {
            State::Closed => Err(UserError::ConnectionDoesNotExist),
            // LISTEN is handled by the endpoint, which owns the passive-to-active change.
            State::Listen => Err(UserError::RemoteSocketUnspecified),
            // "Queue the data for transmission after entering ESTABLISHED state."
            // ESTABLISHED, CLOSE-WAIT: "Segmentize the buffer and send it".
            State::SynSent | State::SynReceived | State::Established | State::CloseWait
                if !self.fin_queued && !self.close_when_established =>
            {
                let room = self.config.send_buffer.saturating_sub(self.send_buf.len());
                let n = room.min(data.len());
                // Take the buffer's memory once, on the first write, rather than doubling
                // (and copying) its way up to the configured size; past 1 MiB it grows as used.
                let upfront = self.config.send_buffer.min(1 << 20);
                if n > 0 && self.send_buf.capacity() < upfront {
                    self.send_buf.reserve_exact(upfront - self.send_buf.len());
                }
                self.send_buf.extend(&data[..n]);
                Ok(n)
            }
            // FIN-WAIT-1, FIN-WAIT-2, CLOSING, LAST-ACK, TIME-WAIT (and any state after a
            // CLOSE): "Return "error: connection closing" and do not service request."
            _ => Err(UserError::ConnectionClosing),
        }
    }

    /// RECEIVE (§3.10.3). Returns the octets copied; zero means nothing is ready yet.
    pub(crate) fn recv(&mut self, buf: &mut [u8]) -> Result<usize, UserError> {
        // RFC 9293 §3.10.3, by state.
        match self.state {
            State::Closed => Err(UserError::ConnectionDoesNotExist),
            // LISTEN, SYN-SENT, SYN-RECEIVED: "Queue for processing after entering ESTABLISHED
            // state" — nothing can be ready yet.
            State::Listen | State::SynSent | State::SynReceived => Ok(0),
            // ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2: "Reassemble queued incoming segments into
            // receive buffer and return to user." CLOSE-WAIT: "RECEIVEs must be satisfied by
            // data already on hand ... If no text is awaiting delivery, the RECEIVE will get an
            // "error: connection closing" response." CLOSING, LAST-ACK and TIME-WAIT follow the
            // CLOSE-WAIT rule rather than refusing outright: data acknowledged before the FIN is
            // the TCP's responsibility to deliver (§3.10.7.4 "Seventh").
            _ => {
                let n = self.recv.read(buf);
                if n == 0 && self.fin_received && !buf.is_empty() {
                    return Err(UserError::ConnectionClosing);
                }
                if n > 0 {
                    self.maybe_window_update();
                }
                Ok(n)
            }
        }
    }

    /// CLOSE (§3.10.4): our direction only; receiving continues.
    pub(crate) fn close(&mut self) -> Result<(), UserError> {
        let cause = Cause::User(UserCall::Close);
        // RFC 9293 §3.10.4, by state.
        match self.state {
            State::Closed => Err(UserError::ConnectionDoesNotExist),
            // LISTEN: "Delete TCB, enter CLOSED state, and return." SYN-SENT: "Delete the TCB".
            State::Listen | State::SynSent => {
                self.delete(cause, None);
                Ok(())
            }
            // SYN-RECEIVED: "If no SENDs have been issued and there is no pending data to send,
            // then form a FIN segment and send it, and enter FIN-WAIT-1 state; otherwise, queue
            // for processing after entering ESTABLISHED state."
            State::SynReceived if self.close_when_established || self.fin_queued => {
                Err(UserError::ConnectionClosing)
            }
            State::SynReceived => {
                if self.send_buf.is_empty() {
                    self.fin_queued = true;
                    self.set_state(State::FinWait1, cause);
                } else {
                    self.close_when_established = true;
                }
                Ok(())
            }
            // ESTABLISHED: "Queue this until all preceding SENDs have been segmentized, then
            // form a FIN segment and send it. In any case, enter FIN-WAIT-1 state."
            State::Established => {
                self.fin_queued = true;
                self.set_state(State::FinWait1, cause);
                Ok(())
            }
            // CLOSE-WAIT: "Queue this request until all preceding SENDs have been segmentized;
            // then send a FIN segment, enter LAST-ACK state." (RFC 793 p.61 says CLOSING: one
            // of RFC793_CORRECTIONS.)
            State::CloseWait => {
                self.fin_queued = true;
                self.set_state(State::LastAck, cause);
                Ok(())
            }
            // FIN-WAIT-1, FIN-WAIT-2: "Strictly speaking, this is an error and should receive an
            // "error: connection closing" response." CLOSING, LAST-ACK, TIME-WAIT: "Respond with
            // "error: connection closing"."
            State::FinWait1
            | State::FinWait2
            | State::Closing
            | State::LastAck
            | State::TimeWait => Err(UserError::ConnectionClosing),
        }
    }

    /// ABORT (§3.10.5).
    pub(crate) fn abort(&mut self) -> Result<(), UserError> {
        let cause = Cause::User(UserCall::Abort);
        // RFC 9293 §3.10.5, by state.
        match self.state {
            State::Closed => Err(UserError::ConnectionDoesNotExist),
            // LISTEN, SYN-SENT: "Delete the TCB, enter CLOSED state, and return."
            State::Listen | State::SynSent => {
                self.delete(cause, None);
                Ok(())
            }
            // SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT: "Send a reset
            // segment: <SEQ=SND.NXT><CTL=RST> ... all segments queued for transmission (except
            // for the RST formed above) or retransmission should be flushed."
            State::SynReceived
            | State::Established
            | State::FinWait1
            | State::FinWait2
            | State::CloseWait => {
                self.control.clear();
                self.control.push_back(OutSegment::rst(self.snd_nxt, None));
                self.delete(cause, None);
                Ok(())
            }
            // CLOSING, LAST-ACK, TIME-WAIT: "Respond with "ok" and delete the TCB".
            State::Closing | State::LastAck | State::TimeWait => {
                self.delete(cause, None);
                Ok(())
            }
        }
    }

    /// STATUS (§3.10.6): "Return "state = ..." and the TCB pointer."
    pub(crate) fn status(&self) -> Status {
        Status {
            state: self.state,
            local: self.local,
            remote: self.remote,
            snd_una: self.snd_una,
            snd_nxt: self.snd_nxt,
            snd_wnd: self.snd_wnd,
            rcv_nxt: self.rcv_nxt,
            rcv_wnd: self.rcv_nxt.distance_to(self.rcv_adv),
            send_queued: self.send_buf.len(),
            recv_queued: self.recv.ready_len(),
            recv_out_of_order: self.recv.held_len(),
            rto_nanos: u64::try_from(self.rtt.rto().as_nanos()).unwrap_or(u64::MAX),
            snd_mss: self.snd_mss,
        }
    }

    /// Has work for `poll_transmit`.
    pub(crate) fn wants_transmit(&self) -> bool {
        !self.control.is_empty()
            || self.ack_due
            || self.syn_due
            || self.rtx_due
            || self.probe_due
            || self.has_new_data_to_send()
    }
}
