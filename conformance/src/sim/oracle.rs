//! The oracles: every check the simulator makes on a run.
//!
//! This module owns the checks themselves (stream integrity, legal transitions, orderly close,
//! liveness), the set of (from, to) transitions each profile allows, taken from the profile's
//! reference transition table (`crate::reference`), and [`Verdict`], which keeps a run's first
//! failure. What a failure is lives in `crate::failure`. Every check reads what a stack
//! reported, the wire and the applications' own counts; none reads a stack's internals.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use synack_core::{Event, Instant, Profile, SocketId, State};

pub use crate::failure::{Failure, Oracle};
use crate::stacks::{TcpStack, Transition};
use crate::trace::HOST_NAMES;

use super::workload::first_mismatch;

/// A run's first failure, if any.
#[derive(Debug, Default)]
pub struct Verdict {
    /// The first failure.
    pub failure: Option<Failure>,
    /// The first wire failure that a known difference of the host that broke the requirement,
    /// seen by then, explains: recorded, and the run goes on, so that the rest of it is judged
    /// and measured. It is the run's failure if nothing else fails.
    pub waived: Option<Failure>,
}

impl Verdict {
    /// Records a failure unless one is already recorded.
    pub fn fail(
        &mut self,
        oracle: Oracle,
        at: Instant,
        connection: Option<String>,
        message: String,
    ) {
        self.fail_requirement(oracle, None, at, connection, message);
    }

    /// Records a failure that names the requirement it breaks, unless one is already
    /// recorded.
    pub fn fail_requirement(
        &mut self,
        oracle: Oracle,
        requirement: Option<&'static str>,
        at: Instant,
        connection: Option<String>,
        message: String,
    ) {
        self.record(Failure {
            oracle,
            at_ns: at.as_nanos(),
            connection,
            requirement,
            message,
        });
    }

    /// Records `failure` unless one is already recorded.
    pub fn record(&mut self, failure: Failure) {
        self.failure.get_or_insert(failure);
    }

    /// Whether the run has failed.
    pub fn failed(&self) -> bool {
        self.failure.is_some()
    }

    /// Records a failure a known difference explains (see [`Verdict::waived`]).
    pub fn waive(&mut self, failure: Failure) {
        self.waived.get_or_insert(failure);
    }

    /// The run's failure: the first, or else the first waived one.
    pub fn outcome(self) -> Option<Failure> {
        self.failure.or(self.waived)
    }
}

/// Stream integrity, as octets arrive: what host `host` just read at stream offset `offset`
/// must be the peer's pattern, and no more than the `expect` octets the peer writes in all.
pub fn check_read(
    host: usize,
    key: u64,
    offset: u64,
    data: &[u8],
    expect: u64,
) -> Result<(), String> {
    if let Some(i) = first_mismatch(key, offset, data) {
        return Err(format!(
            "{} read a wrong octet at stream offset {}",
            HOST_NAMES[host],
            offset + i as u64
        ));
    }
    let read = offset + data.len() as u64;
    if read > expect {
        return Err(format!(
            "{} read {read} octets, more than the {expect} its peer wrote",
            HOST_NAMES[host]
        ));
    }
    Ok(())
}

/// Stream integrity at the end of the stream: the peer's FIN came after all it wrote.
pub fn check_eof(host: usize, read: u64, expect: u64) -> Result<(), String> {
    if read == expect {
        Ok(())
    } else {
        Err(format!(
            "{} reached the end of the stream after {read} of {expect} octets",
            HOST_NAMES[host]
        ))
    }
}

/// A reset, refusal or user timeout an application was told of. Outside a planned abort, and
/// before the application has read its peer's whole stream to the FIN and closed, it is a
/// failure: a user timeout is a connection that stopped making progress (liveness), a reset
/// or refusal cut a stream short (stream integrity). After that, nothing can be cut short: an
/// old duplicate SYN that resets a connection in TIME-WAIT under RFC 793 (§3.9, "If the SYN
/// is in the window it is an error, send a reset") is the RFC at work, and the transition
/// oracle still judges the state change.
pub fn check_ended(
    event: Event,
    planned_abort: bool,
    finished: bool,
    host: usize,
    read: u64,
    expect: u64,
) -> Option<(Oracle, String)> {
    if planned_abort
        || finished
        || !matches!(event, Event::Reset | Event::Refused | Event::TimedOut)
    {
        return None;
    }
    let oracle = if event == Event::TimedOut {
        Oracle::Liveness
    } else {
        Oracle::StreamIntegrity
    };
    Some((
        oracle,
        format!(
            "{} got {event:?} after reading {read} of {expect} octets",
            HOST_NAMES[host]
        ),
    ))
}

/// Legal transitions: a state change a stack reported must be one the profile's table takes.
pub fn check_transition(profile: Profile, host: usize, t: &Transition) -> Result<(), String> {
    if legal(profile, t.from, t.to) {
        Ok(())
    } else {
        Err(format!(
            "{} socket {} went {} -> {}, which {} does not allow",
            HOST_NAMES[host],
            t.socket,
            t.from,
            t.to,
            profile.name()
        ))
    }
}

/// Orderly close: at the end a host holds no socket and no timer.
pub fn check_orderly_close(host: usize, stack: &dyn TcpStack) -> Result<(), String> {
    let live = stack.live_sockets();
    if live > 0 {
        return Err(format!("{} still holds {live} socket(s)", HOST_NAMES[host]));
    }
    if let Some(t) = stack.poll_timeout() {
        return Err(format!(
            "{} still has a timer, due at {t}",
            HOST_NAMES[host]
        ));
    }
    Ok(())
}

/// Liveness: what a stuck application was doing, for the failure message.
pub fn describe_stuck(
    why: &str,
    host: usize,
    stack: &dyn TcpStack,
    socket: Option<SocketId>,
    progress: String,
) -> String {
    let state = socket.map_or(State::Closed, |id| stack.state(id));
    format!("{why}: {} in {state} at {progress}", HOST_NAMES[host])
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
