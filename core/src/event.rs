//! What an endpoint tells its user and its observers.
//!
//! This module owns the asynchronous reports of RFC 9293 §3.9.1.8 ([`Event`]), the record of
//! everything the endpoint did ([`Observation`]), and the small types they carry. It holds no
//! behaviour.

use core::fmt;
use core::net::SocketAddrV4;

use crate::seq::SeqNum;
use crate::state::State;
use crate::time::Instant;
use crate::wire::{Flags, WireError};

/// Identifies a socket (a listener or a connection) of one endpoint. Ids are handed out in
/// increasing order and never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocketId(pub u64);

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// An asynchronous report to the user (RFC 9293 §3.9.1.8), returned by `poll_event`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Event {
    /// The connection reached ESTABLISHED.
    Connected,
    /// A listener holds an established connection for `accept`.
    Incoming,
    /// Data is ready for `recv`.
    Readable,
    /// The peer's FIN arrived: it will send no more ("connection closing").
    PeerClosed,
    /// The peer reset a synchronized connection ("connection reset").
    Reset,
    /// The peer refused our connection request ("connection refused").
    Refused,
    /// The user timeout expired ("connection aborted due to user timeout").
    TimedOut,
    /// The TCB was deleted: the socket is CLOSED and its id is no longer valid.
    Closed,
}

/// A user call, as the cause of a state change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UserCall {
    /// OPEN, active.
    ActiveOpen,
    /// OPEN, passive.
    PassiveOpen,
    /// SEND.
    Send,
    /// RECEIVE.
    Receive,
    /// CLOSE.
    Close,
    /// ABORT.
    Abort,
    /// STATUS.
    Status,
}

/// A timer, as the cause of a state change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// The retransmission timer (also the persist timer while the peer's window is zero).
    Retransmission,
    /// The 2×MSL TIME-WAIT timer.
    TimeWait,
    /// The user timeout.
    User,
}

/// Why a state changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cause {
    /// A user call.
    User(UserCall),
    /// An arriving segment.
    Segment(SegmentSummary),
    /// A timeout.
    Timeout(Timer),
}

/// The header fields of a segment that a reader of a trace needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SegmentSummary {
    /// Source address and port.
    pub src: SocketAddrV4,
    /// Destination address and port.
    pub dst: SocketAddrV4,
    /// SEG.SEQ.
    pub seq: SeqNum,
    /// SEG.ACK (meaningful with ACK set).
    pub ack: SeqNum,
    /// Control bits.
    pub flags: Flags,
    /// SEG.WND.
    pub window: u16,
    /// Octets of data.
    pub len: u32,
}

impl SegmentSummary {
    /// The summary of a parsed packet.
    #[must_use]
    pub fn of(packet: &crate::wire::Packet<'_>) -> SegmentSummary {
        SegmentSummary {
            src: SocketAddrV4::new(packet.ip.src, packet.tcp.src_port),
            dst: SocketAddrV4::new(packet.ip.dst, packet.tcp.dst_port),
            seq: packet.tcp.seq,
            ack: packet.tcp.ack,
            flags: packet.tcp.flags,
            window: packet.tcp.window,
            len: u32::try_from(packet.payload.len()).unwrap_or(u32::MAX),
        }
    }

    /// SEG.LEN: the sequence space it occupies, its data and its SYN and FIN (RFC 9293 §3.4).
    #[must_use]
    pub fn seg_len(&self) -> u32 {
        self.len
            .saturating_add(u32::from(self.flags.contains(Flags::SYN)))
            .saturating_add(u32::from(self.flags.contains(Flags::FIN)))
    }
}

impl fmt::Display for SegmentSummary {
    /// RFC 793 figure notation: `<SEQ=100><ACK=301><CTL=SYN,ACK>`, with `<DATA=n>` for data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<SEQ={}>", self.seq)?;
        if self.flags.contains(Flags::ACK) {
            write!(f, "<ACK={}>", self.ack)?;
        }
        if !self.flags.is_empty() {
            write!(f, "<CTL={}>", self.flags)?;
        }
        if self.len > 0 {
            write!(f, "<DATA={}>", self.len)?;
        }
        Ok(())
    }
}

/// Why an arriving packet was dropped without effect on any connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The bytes are not a well-formed IPv4 datagram carrying TCP.
    Malformed(WireError),
    /// The destination address is not this endpoint's.
    WrongAddress,
    /// A RST for no connection (RFC 9293 §3.10.7.1), or a RST to a listener (§3.10.7.2).
    RstIgnored,
    /// A SYN to a listener whose backlog is full.
    BacklogFull,
    /// A segment with neither SYN, RST nor ACK to a listener (§3.10.7.2 "Fourth").
    ListenOther,
    /// A segment in SYN-SENT with neither SYN nor RST (§3.10.7.3 "Fifth"), or a RST with an
    /// unacceptable ACK.
    SynSentOther,
    /// Not acceptable by the sequence test (§3.10.7.4 "First"); an ACK was sent unless RST.
    Unacceptable,
    /// An in-window RST that is not at RCV.NXT (RFC 5961 §3.2); a challenge ACK was sent.
    RstChallenged,
    /// A RST outside the window (RFC 5961 §3.2 case 1).
    RstOutOfWindow,
    /// A SYN in a synchronized state (RFC 5961 §4.2); a challenge ACK was sent.
    SynChallenged,
    /// A challenge ACK was due but the per-connection limit (RFC 5961 §7) held it back.
    ChallengeAckLimited,
    /// A segment without ACK in a synchronized state (§3.10.7.4 "Fifth").
    NoAck,
    /// An ACK outside `SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT` (§3.10.7.4, RFC 5961 §5).
    UnacceptableAck,
}

/// One thing an endpoint did, for a harness that checks it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Observation {
    /// A connection changed state.
    StateChange {
        /// When.
        at: Instant,
        /// Which connection.
        socket: SocketId,
        /// The state it left.
        from: State,
        /// The state it entered.
        to: State,
        /// What caused it.
        cause: Cause,
    },
    /// A well-formed segment arrived.
    SegmentIn {
        /// When.
        at: Instant,
        /// The connection it was delivered to, if any.
        socket: Option<SocketId>,
        /// The segment.
        segment: SegmentSummary,
    },
    /// A segment was sent.
    SegmentOut {
        /// When.
        at: Instant,
        /// The connection that sent it, if any (a RST for no connection has none).
        socket: Option<SocketId>,
        /// The segment.
        segment: SegmentSummary,
    },
    /// An arriving segment was dropped.
    Drop {
        /// When.
        at: Instant,
        /// The connection it reached, if any.
        socket: Option<SocketId>,
        /// Why.
        reason: DropReason,
    },
}

/// The answer to STATUS (RFC 9293 §3.9.1.5): the state and the connection's variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// The current state.
    pub state: State,
    /// Local address and port.
    pub local: SocketAddrV4,
    /// Remote address and port; unspecified (0.0.0.0:0) for a listener that names none.
    pub remote: SocketAddrV4,
    /// SND.UNA.
    pub snd_una: SeqNum,
    /// SND.NXT.
    pub snd_nxt: SeqNum,
    /// SND.WND.
    pub snd_wnd: u32,
    /// RCV.NXT.
    pub rcv_nxt: SeqNum,
    /// RCV.WND as last advertised.
    pub rcv_wnd: u32,
    /// Bytes queued to send, including those sent and not yet acknowledged.
    pub send_queued: usize,
    /// Bytes received in order and not yet read.
    pub recv_queued: usize,
    /// Bytes received out of order and held for reassembly.
    pub recv_out_of_order: usize,
    /// The current retransmission timeout, in nanoseconds.
    pub rto_nanos: u64,
    /// The effective send MSS.
    pub snd_mss: u16,
}
