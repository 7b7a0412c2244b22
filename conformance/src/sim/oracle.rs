//! The oracles' vocabulary and the table of legal state transitions.
//!
//! This module owns what a failure is (which oracle, when, which connection, what happened) and
//! the set of (from, to) transitions each profile allows, taken from the profile's reference
//! transition table (`crate::rfc`). The checks themselves run inside the simulator.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::OnceLock;

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

/// Transitions the RFC text takes within one segment's processing that no single cell of the
/// table shows, because the cell's segment class does not carry both controls at once.
const WITHIN_ONE_SEGMENT: &[(State, State)] = &[
    // RFC 9293 §3.10.7.4 eighth, FIN-WAIT-1: "If our FIN has been ACKed (perhaps in this
    // segment), then enter TIME-WAIT" (RFC 793 §3.9 likewise).
    (State::FinWait1, State::TimeWait),
    // A FIN with the ACK of our SYN: ESTABLISHED, then CLOSE-WAIT (§3.10.7.4 fifth, eighth).
    (State::SynReceived, State::CloseWait),
];

/// The (from, to) pairs the reference table of `profile` allows.
fn legal_pairs(profile: Profile) -> &'static BTreeSet<(State, State)> {
    static RFC9293: OnceLock<BTreeSet<(State, State)>> = OnceLock::new();
    static RFC793: OnceLock<BTreeSet<(State, State)>> = OnceLock::new();
    let cell = match profile {
        Profile::Rfc9293 => &RFC9293,
        Profile::Rfc793 => &RFC793,
    };
    cell.get_or_init(|| {
        let mut pairs: BTreeSet<(State, State)> = WITHIN_ONE_SEGMENT.iter().copied().collect();
        // The reference tables are part of the build; a parse error is caught by the tests of
        // `rfc`, and would leave only the pairs above.
        if let Ok(table) = crate::rfc::reference(profile) {
            for (&(from, _), c) in &table.cells {
                if let Some(to) = c.next.filter(|to| *to != from) {
                    pairs.insert((from, to));
                }
            }
        }
        pairs
    })
}

/// Whether `from -> to` is legal under `profile`: some cell of the profile's reference table
/// takes it, or the RFC text takes it within one segment (`WITHIN_ONE_SEGMENT`).
pub fn legal(profile: Profile, from: State, to: State) -> bool {
    legal_pairs(profile).contains(&(from, to))
}
