//! The oracles' vocabulary and the table of legal state transitions.
//!
//! This module owns what a failure is (which oracle, when, which connection, what happened) and
//! the plain list of (from, to) transitions each profile allows, encoded by hand from RFC 9293
//! §3.10 and RFC 793 §3.9 (the full reference tables, cell by cell, belong to the `rfc` module
//! of a later issue). The checks themselves run inside the simulator.

use std::fmt;

use serde::Serialize;
use synack_core::{Instant, Profile, State};

/// The oracles checked on every run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
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
}

impl fmt::Display for Oracle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Oracle::StreamIntegrity => "stream integrity",
            Oracle::LegalTransitions => "legal transitions",
            Oracle::OrderlyClose => "orderly close",
            Oracle::Liveness => "liveness",
            Oracle::Panic => "panic",
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
    /// What was seen.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed at {}",
            self.oracle,
            Instant::from_nanos(self.at_ns)
        )?;
        if let Some(c) = &self.connection {
            write!(f, " on {c}")?;
        }
        write!(f, ": {}", self.message)
    }
}

use State::*;

/// Transitions both profiles allow: RFC 9293 Figure 5 (RFC 793 Figure 6) and the transitions
/// the event processing adds (resets, aborts, timeouts).
const COMMON: &[(State, State)] = &[
    // Figure 5.
    (Closed, Listen),
    (Closed, SynSent),
    (Listen, Closed),
    (Listen, SynReceived),
    (Listen, SynSent),
    (SynSent, Closed),
    (SynSent, SynReceived),
    (SynSent, Established),
    (SynReceived, Listen),
    (SynReceived, Established),
    (SynReceived, FinWait1),
    (Established, FinWait1),
    (Established, CloseWait),
    (FinWait1, FinWait2),
    (FinWait1, Closing),
    (FinWait1, TimeWait),
    (FinWait2, TimeWait),
    (CloseWait, LastAck),
    (Closing, TimeWait),
    (LastAck, Closed),
    (TimeWait, Closed),
    // §3.10.7.4 "Eighth": a FIN in SYN-RECEIVED enters CLOSE-WAIT.
    (SynReceived, CloseWait),
    // RST (§3.10.7.4 "Second"), ABORT (§3.10.5), user timeout (§3.10.8): CLOSED from any
    // state that has a TCB.
    (SynReceived, Closed),
    (Established, Closed),
    (FinWait1, Closed),
    (FinWait2, Closed),
    (CloseWait, Closed),
    (Closing, Closed),
];

/// Whether `from -> to` is legal under `profile`. The two profiles share the table: they differ
/// in which segments cause a transition, not in which transitions exist.
pub fn legal(_profile: Profile, from: State, to: State) -> bool {
    COMMON.contains(&(from, to))
}
