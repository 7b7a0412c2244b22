//! The reference transition tables of RFC 793 and RFC 9293, as data.
//!
//! This module owns the tables' event alphabet ([`Event`]), their cells, the parser of the
//! table files (`conformance/rfc/*.table`, encoded by hand from the RFC text; never derived from
//! an implementation), and the two reference tables. The simulator's transition oracle and its
//! coverage read them, so this module sits below the simulator; the generator, the comparison
//! and the renderings (`crate::rfc`) sit above it.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use synack_core::{Profile, State};

use crate::Error;

/// One column of a table: a user call, a class of segment, or a timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Event {
    /// OPEN, active.
    ActiveOpen,
    /// OPEN, passive.
    PassiveOpen,
    /// SEND.
    Send,
    /// RECEIVE.
    Receive,
    /// CLOSE.
    Close,
    /// ABORT.
    Abort,
    /// STATUS.
    Status,
    /// A SYN whose sequence number is in the receive window.
    SynInWindow,
    /// A SYN whose sequence number is past the receive window.
    SynOutsideWindow,
    /// A SYN,ACK acknowledging SND.NXT.
    SynAckAcceptable,
    /// A SYN,ACK acknowledging SND.NXT + 1000.
    SynAckUnacceptable,
    /// An ACK of SND.NXT.
    AckAcceptable,
    /// An ACK of SND.UNA.
    AckDuplicate,
    /// An ACK of SND.NXT + 1000.
    AckOfUnsent,
    /// A RST at RCV.NXT.
    RstAtRcvNxt,
    /// A RST at RCV.NXT + 10.
    RstInWindow,
    /// A RST past the window.
    RstOutsideWindow,
    /// A RST,ACK at RCV.NXT acknowledging SND.NXT.
    RstAckAcceptable,
    /// A FIN,ACK at RCV.NXT acknowledging SND.UNA (nothing new).
    FinInSequence,
    /// Ten octets at RCV.NXT, acknowledging SND.NXT.
    DataInSequence,
    /// Ten octets past the window.
    DataOutsideWindow,
    /// Ten octets at RCV.NXT without the ACK bit.
    NoAck,
    /// The retransmission timer expires.
    RetransmissionTimeout,
    /// The 2 MSL timer expires.
    TimeWaitTimeout,
    /// The user timeout expires.
    UserTimeout,
}

impl Event {
    /// Every event, in column order.
    pub const ALL: [Event; 25] = [
        Event::ActiveOpen,
        Event::PassiveOpen,
        Event::Send,
        Event::Receive,
        Event::Close,
        Event::Abort,
        Event::Status,
        Event::SynInWindow,
        Event::SynOutsideWindow,
        Event::SynAckAcceptable,
        Event::SynAckUnacceptable,
        Event::AckAcceptable,
        Event::AckDuplicate,
        Event::AckOfUnsent,
        Event::RstAtRcvNxt,
        Event::RstInWindow,
        Event::RstOutsideWindow,
        Event::RstAckAcceptable,
        Event::FinInSequence,
        Event::DataInSequence,
        Event::DataOutsideWindow,
        Event::NoAck,
        Event::RetransmissionTimeout,
        Event::TimeWaitTimeout,
        Event::UserTimeout,
    ];

    /// The column's name, as the table files write it.
    pub fn name(self) -> &'static str {
        match self {
            Event::ActiveOpen => "active OPEN",
            Event::PassiveOpen => "passive OPEN",
            Event::Send => "SEND",
            Event::Receive => "RECEIVE",
            Event::Close => "CLOSE",
            Event::Abort => "ABORT",
            Event::Status => "STATUS",
            Event::SynInWindow => "SYN in window",
            Event::SynOutsideWindow => "SYN outside window",
            Event::SynAckAcceptable => "SYN,ACK acceptable",
            Event::SynAckUnacceptable => "SYN,ACK unacceptable",
            Event::AckAcceptable => "ACK acceptable",
            Event::AckDuplicate => "ACK duplicate",
            Event::AckOfUnsent => "ACK of unsent data",
            Event::RstAtRcvNxt => "RST at RCV.NXT",
            Event::RstInWindow => "RST in window",
            Event::RstOutsideWindow => "RST outside window",
            Event::RstAckAcceptable => "RST,ACK acceptable",
            Event::FinInSequence => "FIN in sequence",
            Event::DataInSequence => "data in sequence",
            Event::DataOutsideWindow => "data outside window",
            Event::NoAck => "no ACK",
            Event::RetransmissionTimeout => "retransmission timeout",
            Event::TimeWaitTimeout => "TIME-WAIT timeout",
            Event::UserTimeout => "user timeout",
        }
    }

    /// Whether this is a user call.
    pub fn is_call(self) -> bool {
        (self as usize) < 7
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a cell says happens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    /// The next state; `None` where the event cannot occur in this state ("n/a").
    pub next: Option<State>,
    /// The segments sent, symbolically.
    pub sends: Vec<String>,
    /// What the user is told; empty for nothing.
    pub user: String,
    /// Where the RFC says so (reference tables only).
    pub section: String,
}

impl Cell {
    /// `next sends user`, the part of a cell that comparison looks at.
    pub fn outcome(&self) -> String {
        format!(
            "{} | {} | {}",
            self.next.map_or("n/a".to_string(), |s| s.to_string()),
            if self.sends.is_empty() {
                "-".to_string()
            } else {
                self.sends.join(" ; ")
            },
            if self.user.is_empty() {
                "-"
            } else {
                &self.user
            }
        )
    }
}

/// A whole table: 11 states by 25 events.
#[derive(Clone, Debug)]
pub struct Table {
    /// The profile.
    pub profile: String,
    /// Where it came from ("reference" or the stack's name).
    pub source: String,
    /// The cells.
    pub cells: BTreeMap<(State, Event), Cell>,
    /// States the generator could not drive the stack into, with why.
    pub unreachable: Vec<(State, String)>,
}

fn parse_state(s: &str) -> Option<State> {
    State::ALL.into_iter().find(|st| st.name() == s)
}

fn parse_event(s: &str) -> Option<Event> {
    Event::ALL.into_iter().find(|e| e.name() == s)
}

const RFC9293_TABLE: &str = include_str!("../rfc/rfc9293.table");
const RFC793_TABLE: &str = include_str!("../rfc/rfc793.table");

/// Parses a table file; `base` supplies the cells it does not list.
fn parse(text: &str, name: &str, base: Option<&Table>, prefix: &str) -> Result<Table, Error> {
    let mut cells = base.map(|b| b.cells.clone()).unwrap_or_default();
    if base.is_some() {
        // Inherited cells hold for this RFC at the same step of its event processing.
        for cell in cells.values_mut() {
            cell.section = format!(
                "RFC 793 §3.9 (as RFC 9293 {})",
                cell.section.trim_start_matches("RFC 9293 ")
            );
        }
    }
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("base ") {
            continue;
        }
        let at = || format!("{name}:{}", i + 1);
        let fields: Vec<&str> = line.split('|').map(str::trim).collect();
        let [state, event, next, sends, user, section] = fields[..] else {
            return Err(Error::parse(
                at(),
                format!("expected 6 fields separated by |, got {}", fields.len()),
            ));
        };
        let state = parse_state(state)
            .ok_or_else(|| Error::parse(at(), format!("unknown state {state:?}")))?;
        let event = parse_event(event)
            .ok_or_else(|| Error::parse(at(), format!("unknown event {event:?}")))?;
        let next = match next {
            "=" => Some(state),
            "n/a" => None,
            s => Some(
                parse_state(s).ok_or_else(|| Error::parse(at(), format!("unknown state {s:?}")))?,
            ),
        };
        let sends = if sends == "-" {
            Vec::new()
        } else {
            sends.split(';').map(|s| s.trim().to_string()).collect()
        };
        let user = if user == "-" {
            String::new()
        } else {
            user.to_string()
        };
        let section = if section.starts_with("RFC ") {
            section.to_string()
        } else {
            format!("{prefix}{section}")
        };
        cells.insert(
            (state, event),
            Cell {
                next,
                sends,
                user,
                section,
            },
        );
    }
    for s in State::ALL {
        for e in Event::ALL {
            if !cells.contains_key(&(s, e)) {
                return Err(Error::parse(name, format!("no cell for {s} / {e}")));
            }
        }
    }
    Ok(Table {
        profile: String::new(),
        source: "reference".into(),
        cells,
        unreachable: Vec::new(),
    })
}

/// Parses the text of a table file with no base (the `parsers` fuzz target uses this).
pub fn parse_table(text: &str, name: &str) -> Result<Table, Error> {
    parse(text, name, None, "RFC 9293 ")
}

/// The reference table of a profile.
pub fn reference(profile: Profile) -> Result<Table, Error> {
    let rfc9293 = parse(
        RFC9293_TABLE,
        "conformance/rfc/rfc9293.table",
        None,
        "RFC 9293 ",
    )?;
    let mut table = match profile {
        Profile::Rfc9293 => rfc9293,
        Profile::Rfc793 => parse(
            RFC793_TABLE,
            "conformance/rfc/rfc793.table",
            Some(&rfc9293),
            "RFC 793 ",
        )?,
    };
    table.profile = profile.name().to_string();
    Ok(table)
}
