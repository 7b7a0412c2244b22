//! synack: a deterministic fuzz and conformance harness for TCP.
//!
//! - [`sim`]: the seeded discrete-event network simulator, its fault models, workloads and
//!   oracles, and the `TcpStack` trait that any implementation under test provides.
//! - [`trace`]: the record of a run and its renderings (RFC 793 figure notation, pcap, JSON
//!   lines).
//! - [`scenario`]: the RFC 793 figures and the seed article's flows, scripted.
//! - [`sweep`]: many seeds in parallel, with reports that do not depend on the thread count.
//! - [`shrink`]: delta debugging over a failing run's fault decisions.
//! - [`rfc`]: the RFC 793 and RFC 9293 transition tables, the generator, the comparison.
//! - [`fuzzing`]: the bodies of the fuzz targets, shared with the stable corpus replay.
//! - `smol`: smoltcp behind `TcpStack` (feature `smoltcp`).
//! - `interop`: synack-core against the Linux kernel through TUN (feature `interop`, Linux).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bench;
pub mod fuzzing;
#[cfg(all(feature = "interop", target_os = "linux"))]
pub mod interop;
pub mod planted;
pub mod rfc;
pub mod scenario;
pub mod shrink;
pub mod sim;
#[cfg(feature = "smoltcp")]
pub mod smol;
pub mod sweep;
pub mod trace;
