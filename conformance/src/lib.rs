//! synack: a deterministic fuzz and conformance harness for TCP.
//!
//! The layers, each importing only from those before it:
//! - [`failure`], [`reference`](mod@reference): what a failure is; the RFC reference tables as data.
//! - [`stacks`]: the `TcpStack` trait, the registry of stacks, the adapters (synack-core,
//!   smoltcp), planted bugs and known differences.
//! - [`net`], [`trace`]: the one packet path (event queue, links, faults, schedules, one parsed
//!   summary per segment) and the trace it emits, with its renderings.
//! - [`sim`]: the seeded simulator: applications, oracles, coverage.
//! - [`rfc`], [`scenario`], [`sweep`], [`shrink`], [`bench`](mod@bench), [`suite`], [`fuzzing`],
//!   `interop`: what is built on runs: tables, scripted figures, many seeds, delta debugging,
//!   benchmarks, the default suite, fuzz target bodies, and the Linux kernel through TUN
//!   (feature `interop`, Linux).
//! - [`harness`]: [`Harness`], the builder a user's own tests drive a stack with.
//! - [`cli`]: the command line (parses arguments and prints), with [`cli::main_with`] for a
//!   user's program that registers its own stacks; the `synack` binary calls [`cli::main`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use error::Error;
pub use harness::Harness;

pub mod bench;
pub mod cli;
pub mod config;
pub mod error;
pub mod failure;
pub mod fuzzing;
pub mod harness;
#[cfg(all(feature = "interop", target_os = "linux"))]
pub mod interop;
pub mod junit;
pub mod net;
pub mod reference;
pub mod requirements;
pub mod rfc;
pub mod scenario;
pub mod script;
pub mod shrink;
pub mod sim;
pub mod stacks;
pub mod suite;
pub mod sweep;
pub mod trace;
