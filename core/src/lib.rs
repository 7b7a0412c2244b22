//! synack-core: a sans-IO TCP.
//!
//! Bytes and virtual time in, bytes and events out. Nothing in this crate reads a clock,
//! performs I/O, spawns a thread, draws randomness it was not given, or lets hash-map iteration
//! order reach its output: the same inputs always give the same outputs, which is what lets the
//! synack harness replay any run from its seed.
//!
//! - [`seq`]: sequence numbers modulo 2^32 (RFC 9293 §3.4).
//! - [`time`]: virtual time.
//! - [`wire`]: IPv4 + TCP parse and emit.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod seq;
pub mod time;
pub mod wire;

pub use seq::SeqNum;
pub use time::Instant;
