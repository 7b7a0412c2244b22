//! Errors of the user calls, with the texts of RFC 9293 §3.10.1–3.10.6.
//!
//! This module owns `UserError`. A wrong-state call never panics and never changes state: it
//! returns one of these.

use core::fmt;

/// Why a user call (OPEN, SEND, RECEIVE, CLOSE, ABORT, STATUS) was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UserError {
    /// The socket has no TCB: it never existed, or it reached CLOSED.
    ConnectionDoesNotExist,
    /// OPEN on a socket, or a port and remote, that already has a connection.
    ConnectionAlreadyExists,
    /// The call is not allowed after a CLOSE, or after the peer's FIN with nothing left to read.
    ConnectionClosing,
    /// SEND on a passive OPEN whose remote socket was not specified.
    RemoteSocketUnspecified,
    /// No room: no free ephemeral port, or a queue is full.
    InsufficientResources,
    /// The call needs a listener (passive OPEN) and the socket is not one.
    NotListening,
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UserError::ConnectionDoesNotExist => "connection does not exist",
            UserError::ConnectionAlreadyExists => "connection already exists",
            UserError::ConnectionClosing => "connection closing",
            UserError::RemoteSocketUnspecified => "remote socket unspecified",
            UserError::InsufficientResources => "insufficient resources",
            UserError::NotListening => "socket is not listening",
        })
    }
}

impl std::error::Error for UserError {}
