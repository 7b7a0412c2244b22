//! What a failure is: the oracle that failed, when, on which connection, and what was seen.
//!
//! This module owns the vocabulary every layer reports failures in (the stacks' known
//! differences name the oracles they explain; the simulator, scripts and sweeps report
//! `Failure`s). It depends on nothing else in the harness.

use std::fmt;

use serde::Serialize;
use synack_core::Instant;

/// The oracles checked on every run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Oracle {
    /// Each direction delivers exactly the octets the peer's application wrote, in order, once.
    StreamIntegrity,
    /// Every reported state change is legal in the profile's table.
    LegalTransitions,
    /// Both sides end CLOSED with no connection, timer or buffer left.
    OrderlyClose,
    /// Every connection finishes within the bound after the network heals.
    Liveness,
    /// The implementation panicked.
    Panic,
    /// The same run, made twice, left two different traces.
    Determinism,
    /// A requirement of the RFCs that the segments on the wire show, checked by the passive
    /// observer of `sim::wire`; the failure names the requirement.
    Wire,
}

impl fmt::Display for Oracle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Oracle::StreamIntegrity => "stream integrity",
            Oracle::LegalTransitions => "legal transitions",
            Oracle::OrderlyClose => "orderly close",
            Oracle::Liveness => "liveness",
            Oracle::Panic => "panic",
            Oracle::Determinism => "determinism",
            Oracle::Wire => "wire requirement",
        })
    }
}

/// A failed oracle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// Which oracle.
    pub oracle: Oracle,
    /// Virtual time, nanoseconds.
    pub at_ns: u64,
    /// The connection, as `A 10.0.0.1:40000 <-> B 10.0.0.2:80`, when one is concerned.
    pub connection: Option<String>,
    /// The requirement broken, as RFC 9293 Appendix B labels it (`MUST-16`) or by the section
    /// of the RFC that states it, for a wire requirement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirement: Option<&'static str>,
    /// What was seen.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.oracle)?;
        if let Some(r) = self.requirement {
            write!(f, " {r}")?;
        }
        write!(f, " failed at {}", Instant::from_nanos(self.at_ns))?;
        if let Some(c) = &self.connection {
            write!(f, " on {c}")?;
        }
        write!(f, ": {}", self.message)
    }
}
