//! synack-core: a sans-IO TCP (RFC 9293, with an RFC 793 profile).
//!
//! Bytes and virtual time in, bytes and events out. Nothing in this crate reads a clock,
//! performs I/O, spawns a thread, draws randomness it was not given, or lets hash-map iteration
//! order reach its output: the same inputs always give the same outputs, which is what lets the
//! synack harness replay any run from its seed.
//!
//! - [`Endpoint`]: one host's TCP. Input: `handle_packet`, `handle_timeout`, the user calls
//!   (`listen`, `connect`, `accept`, `send`, `recv`, `close`, `abort`, `status`). Output:
//!   `poll_transmit`, `poll_event`, `poll_timeout`, and the observation log.
//! - [`seq`]: sequence numbers modulo 2^32 (RFC 9293 §3.4).
//! - [`time`]: virtual time.
//! - [`wire`]: IPv4 + TCP parse and emit.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod endpoint;
pub mod error;
pub mod event;
pub mod isn;
pub mod seq;
pub mod state;
mod tcb;
pub mod time;
pub mod wire;

pub use config::{Config, Profile};
pub use endpoint::{Endpoint, Stats};
pub use error::UserError;
pub use event::{
    Cause, DropReason, Event, Observation, SegmentSummary, SocketId, Status, Timer, UserCall,
};
pub use isn::{IsnGenerator, Rfc6528};
pub use seq::SeqNum;
pub use state::State;
pub use tcb::{DEFAULT_MSS, RFC793_CORRECTIONS};
pub use time::Instant;
