//! The eleven connection states of RFC 9293 §3.3.2.
//!
//! This module owns the `State` type and the facts that depend only on a state (is it
//! synchronized, does it still receive). It holds no transition logic: that lives in the TCB.

use core::fmt;

/// A connection state (RFC 9293 §3.3.2, Figure 5). CLOSED is "fictional because it represents
/// the state when there is no TCB"; a socket reports it only as the last state it reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// No connection.
    Closed,
    /// Waiting for a connection request from any remote TCP and port.
    Listen,
    /// Waiting for a matching connection request after having sent one.
    SynSent,
    /// Waiting for a confirming acknowledgment after having both received and sent a request.
    SynReceived,
    /// An open connection: data received can be delivered to the user.
    Established,
    /// Waiting for a termination request from the remote TCP, or an ACK of ours.
    FinWait1,
    /// Waiting for a termination request from the remote TCP.
    FinWait2,
    /// Waiting for a termination request from the local user.
    CloseWait,
    /// Waiting for an acknowledgment of our termination request from the remote TCP.
    Closing,
    /// Waiting for an acknowledgment of the termination request previously sent.
    LastAck,
    /// Waiting for enough time to pass to be sure the remote TCP received our ACK of its FIN.
    TimeWait,
}

impl State {
    /// Every state, in the order of RFC 9293 §3.3.2.
    pub const ALL: [State; 11] = [
        State::Closed,
        State::Listen,
        State::SynSent,
        State::SynReceived,
        State::Established,
        State::FinWait1,
        State::FinWait2,
        State::CloseWait,
        State::Closing,
        State::LastAck,
        State::TimeWait,
    ];

    /// The RFC's name for the state, e.g. `SYN-SENT`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
        }
    }

    /// RFC 9293 §3.5.1: the synchronized states are ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2,
    /// CLOSE-WAIT, CLOSING, LAST-ACK and TIME-WAIT.
    #[must_use]
    pub const fn is_synchronized(self) -> bool {
        !matches!(
            self,
            State::Closed | State::Listen | State::SynSent | State::SynReceived
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}
