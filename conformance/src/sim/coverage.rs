//! Coverage: which state changes and which reference-table cells a run exercised.
//!
//! This module owns the counting. State changes are counted as the stacks report them; table
//! cells as the applications make their calls, as segments arrive (each classified against the
//! receiving connection's own variables, which this module rebuilds from the wire: what a host
//! sent and what it had acknowledged) and as timers run.

use std::collections::BTreeMap;
use std::net::SocketAddrV4;

use synack_core::wire::Flags;
use synack_core::{SeqNum, State};

use crate::net::Summary;
use crate::reference::Event;

const EVENTS: usize = Event::ALL.len();

/// How often each state change happened.
pub type Transitions = BTreeMap<(State, State), u64>;
/// How often each reference-table cell was exercised.
pub type Cells = BTreeMap<(State, Event), u64>;

/// A host's variables for one connection, from the segments it sent and received.
#[derive(Clone, Copy, Default)]
struct View {
    snd_una: Option<u32>,
    snd_nxt: Option<u32>,
    rcv_nxt: Option<u32>,
    rcv_wnd: u32,
}

/// The counts of one run.
pub struct Coverage {
    transitions: BTreeMap<(State, State), u64>,
    cells: [[u64; EVENTS]; 11],
    views: BTreeMap<(usize, SocketAddrV4, SocketAddrV4), View>,
}

impl Default for Coverage {
    fn default() -> Self {
        Coverage {
            transitions: BTreeMap::new(),
            cells: [[0; EVENTS]; 11],
            views: BTreeMap::new(),
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

    /// Host `from` sent `s`: its SND.NXT, RCV.NXT and window as the wire shows them.
    pub fn sent(&mut self, from: usize, s: &Summary) {
        if s.has(Flags::RST) {
            return;
        }
        let v = self.views.entry((from, s.src, s.dst)).or_default();
        let end = s.end();
        if v.snd_nxt.is_none_or(|n| SeqNum(n).lt(end)) {
            v.snd_nxt = Some(end.get());
        }
        if v.snd_una.is_none() {
            v.snd_una = Some(s.seq.get());
        }
        if s.has(Flags::ACK) {
            v.rcv_nxt = Some(s.ack.get());
        }
        v.rcv_wnd = u32::from(s.window);
    }

    /// `s` reaches host `to`, whose connection is in `state`: count the cell it exercises,
    /// and learn the receiver's SND.UNA from it.
    pub fn arrives(&mut self, to: usize, s: &Summary, state: State) {
        let (local, remote) = (s.dst, s.src);
        let v = self
            .views
            .get(&(to, local, remote))
            .copied()
            .unwrap_or_default();
        if let Some(e) = classify(&v, s) {
            self.count(state, e);
        }
        if s.has(Flags::ACK) {
            let ack = s.ack;
            let v = self.views.entry((to, local, remote)).or_default();
            if v.snd_una.is_none_or(|u| SeqNum(u).lt(ack))
                && v.snd_nxt.is_some_and(|n| ack.le(SeqNum(n)))
            {
                v.snd_una = Some(ack.get());
            }
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
fn classify(v: &View, s: &Summary) -> Option<Event> {
    use Event as E;
    let (seq, ack, len) = (s.seq, s.ack, s.len);
    let in_window = |x: SeqNum| match v.rcv_nxt {
        Some(r) => x.in_window(SeqNum(r), SeqNum(r) + v.rcv_wnd.max(1)),
        None => true,
    };
    let at_rcv_nxt = v.rcv_nxt.is_none_or(|r| seq == SeqNum(r));
    let ack_ok = match (v.snd_una, v.snd_nxt) {
        (Some(una), Some(nxt)) => SeqNum(una).lt(ack) && ack.le(SeqNum(nxt)),
        _ => false,
    };
    let unsent = v.snd_nxt.is_some_and(|nxt| ack.gt(SeqNum(nxt)));
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
