//! Coverage: which state changes and which reference-table cells a run exercised.
//!
//! This module owns the counting. State changes are counted as the stacks report them; table
//! cells as the applications make their calls, as segments arrive (each classified against the
//! receiving connection's own variables as the wire has shown them, `super::view`) and as
//! timers run.

use std::collections::BTreeMap;

use synack_core::wire::Flags;
use synack_core::{SeqNum, State};

use super::view::Side;
use crate::net::Summary;
use crate::reference::Event;

const EVENTS: usize = Event::ALL.len();

/// How often each state change happened.
pub type Transitions = BTreeMap<(State, State), u64>;
/// How often each reference-table cell was exercised.
pub type Cells = BTreeMap<(State, Event), u64>;

/// The counts of one run.
pub struct Coverage {
    transitions: BTreeMap<(State, State), u64>,
    cells: [[u64; EVENTS]; 11],
}

impl Default for Coverage {
    fn default() -> Self {
        Coverage {
            transitions: BTreeMap::new(),
            cells: [[0; EVENTS]; 11],
        }
    }
}

fn state_index(s: State) -> usize {
    State::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

impl Coverage {
    /// One more of `event` in `state`.
    pub fn count(&mut self, state: State, event: Event) {
        if let Some(e) = Event::ALL.iter().position(|x| *x == event) {
            self.cells[state_index(state)][e] += 1;
        }
    }

    /// A stack reported `from -> to`; `timer` says whether its timers ran just before (a
    /// TIME-WAIT that ends then met its 2MSL timeout).
    pub fn transition(&mut self, from: State, to: State, timer: bool) {
        *self.transitions.entry((from, to)).or_insert(0) += 1;
        if from == State::TimeWait && to == State::Closed && timer {
            self.count(State::TimeWait, Event::TimeWaitTimeout);
        }
    }

    /// A host's timers are about to run: each connection of `states` that can have a
    /// retransmission timer pending meets a retransmission timeout (TIME-WAIT's and the user
    /// timeout's are counted from their effects).
    pub fn timers(&mut self, states: impl Iterator<Item = State>) {
        for s in states {
            if matches!(
                s,
                State::SynSent
                    | State::SynReceived
                    | State::FinWait1
                    | State::Closing
                    | State::LastAck
            ) {
                self.count(s, Event::RetransmissionTimeout);
            }
        }
    }

    /// `s` reaches a host whose connection is in `state` and whose side of it the wire showed
    /// as `receiver` until now: count the cell it exercises.
    pub fn arrives(&mut self, receiver: &Side, s: &Summary, state: State) {
        if let Some(e) = classify(receiver, s) {
            self.count(state, e);
        }
    }

    /// The counts: state changes, and cells with how often each was exercised.
    pub fn finish(self) -> (Transitions, Cells) {
        let mut cells = BTreeMap::new();
        for (si, row) in self.cells.iter().enumerate() {
            for (ei, n) in row.iter().enumerate() {
                if *n > 0 {
                    cells.insert((State::ALL[si], Event::ALL[ei]), *n);
                }
            }
        }
        (self.transitions, cells)
    }
}

/// The column of the table a segment falls in, relative to the receiver's variables `v`.
fn classify(v: &Side, s: &Summary) -> Option<Event> {
    use Event as E;
    let (seq, ack, len) = (s.seq, s.ack, s.len);
    let in_window = |x: SeqNum| match v.rcv_nxt {
        Some(r) => x.in_window(r, r + v.rcv_wnd.max(1)),
        None => true,
    };
    let at_rcv_nxt = v.rcv_nxt.is_none_or(|r| seq == r);
    let ack_ok = match (v.snd_una, v.snd_nxt) {
        (Some(una), Some(nxt)) => una.lt(ack) && ack.le(nxt),
        _ => false,
    };
    let unsent = v.snd_nxt.is_some_and(|nxt| ack.gt(nxt));
    Some(if s.has(Flags::RST) {
        if s.has(Flags::ACK) && at_rcv_nxt {
            E::RstAckAcceptable
        } else if at_rcv_nxt {
            E::RstAtRcvNxt
        } else if in_window(seq) {
            E::RstInWindow
        } else {
            E::RstOutsideWindow
        }
    } else if s.has(Flags::SYN) {
        if s.has(Flags::ACK) {
            if ack_ok {
                E::SynAckAcceptable
            } else {
                E::SynAckUnacceptable
            }
        } else if in_window(seq) {
            E::SynInWindow
        } else {
            E::SynOutsideWindow
        }
    } else if !s.has(Flags::ACK) {
        E::NoAck
    } else if !(in_window(seq) || (len == 0 && at_rcv_nxt)) {
        E::DataOutsideWindow
    } else if s.has(Flags::FIN) && at_rcv_nxt {
        E::FinInSequence
    } else if len > 0 && at_rcv_nxt {
        E::DataInSequence
    } else if len > 0 {
        return None; // out of order, inside the window: no column of its own
    } else if unsent {
        E::AckOfUnsent
    } else if ack_ok {
        E::AckAcceptable
    } else {
        E::AckDuplicate
    })
}
