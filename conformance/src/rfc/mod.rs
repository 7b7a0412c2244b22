//! The RFC 793 and RFC 9293 transition tables.
//!
//! This module owns the event alphabet of the tables, the reference tables (encoded by hand
//! from the RFC text, as data, in `conformance/rfc/*.table`; never derived from an
//! implementation), the generator that produces the same table from any `TcpStack` by driving
//! it ([`generate`]), the cell-by-cell comparison with its list of deliberate differences
//! ([`deviations`]), and the renderings: markdown per profile, Graphviz DOT, and the list of
//! Figure 5 / Figure 6 transitions with the cells and paths that cover them ([`figures`]).

pub mod deviations;
pub mod figures;
pub mod generate;

use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;

use serde::Serialize;
use synack_core::{Profile, State};

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

const RFC9293_TABLE: &str = include_str!("../../rfc/rfc9293.table");
const RFC793_TABLE: &str = include_str!("../../rfc/rfc793.table");

/// Parses a table file; `base` supplies the cells it does not list.
fn parse(text: &str, name: &str, base: Option<&Table>, prefix: &str) -> Result<Table, String> {
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
            return Err(format!(
                "{}: expected 6 fields separated by |, got {}",
                at(),
                fields.len()
            ));
        };
        let state =
            parse_state(state).ok_or_else(|| format!("{}: unknown state {state:?}", at()))?;
        let event =
            parse_event(event).ok_or_else(|| format!("{}: unknown event {event:?}", at()))?;
        let next = match next {
            "=" => Some(state),
            "n/a" => None,
            s => Some(parse_state(s).ok_or_else(|| format!("{}: unknown state {s:?}", at()))?),
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
                return Err(format!("{name}: no cell for {s} / {e}"));
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
pub fn parse_table(text: &str, name: &str) -> Result<Table, String> {
    parse(text, name, None, "RFC 9293 ")
}

/// The reference table of a profile.
pub fn reference(profile: Profile) -> Result<Table, String> {
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

/// One cell where a generated table differs from the reference.
#[derive(Clone, Debug)]
pub struct Difference {
    /// Row.
    pub state: State,
    /// Column.
    pub event: Event,
    /// What the reference says.
    pub reference: String,
    /// What the stack did.
    pub generated: String,
    /// The deliberate-difference entry that explains it, if any.
    pub reason: Option<String>,
}

/// A comparison of a generated table with the reference.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// Profile.
    pub profile: String,
    /// Stack.
    pub stack: String,
    /// Cells that agree.
    pub agree: usize,
    /// Cells that differ, explained or not.
    pub differences: Vec<Difference>,
    /// States the stack could not be driven into.
    pub unreachable: Vec<(State, String)>,
}

impl Comparison {
    /// Differences no deliberate-difference entry explains.
    pub fn unexplained(&self) -> impl Iterator<Item = &Difference> {
        self.differences.iter().filter(|d| d.reason.is_none())
    }

    /// Whether the stack conforms: every difference explained, every state reached.
    pub fn passes(&self) -> bool {
        self.unexplained().next().is_none() && self.unreachable.is_empty()
    }
}

/// Compares cell by cell; `allowed` lists the deliberate differences that apply.
pub fn compare(
    reference: &Table,
    generated: &Table,
    allowed: &[deviations::Deviation],
) -> Comparison {
    let mut agree = 0;
    let mut differences = Vec::new();
    for (&(state, event), r) in &reference.cells {
        if generated.unreachable.iter().any(|(s, _)| *s == state) {
            continue;
        }
        let Some(g) = generated.cells.get(&(state, event)) else {
            continue;
        };
        if r.outcome() == g.outcome() {
            agree += 1;
            continue;
        }
        let reason = allowed
            .iter()
            .find(|d| d.state == state && d.event == event && d.generated == g.outcome())
            .map(|d| d.reason.to_string());
        differences.push(Difference {
            state,
            event,
            reference: r.outcome(),
            generated: g.outcome(),
            reason,
        });
    }
    Comparison {
        profile: reference.profile.clone(),
        stack: generated.source.clone(),
        agree,
        differences,
        unreachable: generated.unreachable.clone(),
    }
}

/// The table as markdown: a section per state, a row per event.
pub fn render_markdown(table: &Table) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Transition table: {} ({})\n",
        table.profile, table.source
    );
    let _ = writeln!(
        out,
        "Segments are written relative to the connection's variables before the event; `=` means \
         the state does not change, `n/a` that the event cannot occur.\n"
    );
    for (s, why) in &table.unreachable {
        let _ = writeln!(out, "**{s} could not be reached:** {why}\n");
    }
    for state in State::ALL {
        if table.unreachable.iter().any(|(s, _)| *s == state) {
            continue;
        }
        let _ = writeln!(out, "## {state}\n");
        let with_section = table.cells.values().any(|c| !c.section.is_empty());
        if with_section {
            let _ = writeln!(
                out,
                "| event | next | sends | user | RFC |\n|---|---|---|---|---|"
            );
        } else {
            let _ = writeln!(out, "| event | next | sends | user |\n|---|---|---|---|");
        }
        for event in Event::ALL {
            let Some(c) = table.cells.get(&(state, event)) else {
                continue;
            };
            let next = match c.next {
                None => "n/a".to_string(),
                Some(n) if n == state => "=".to_string(),
                Some(n) => n.to_string(),
            };
            let sends = if c.sends.is_empty() {
                "—".to_string()
            } else {
                c.sends
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join("<br>")
            };
            let user = if c.user.is_empty() { "—" } else { &c.user };
            if with_section {
                let _ = writeln!(
                    out,
                    "| {event} | {next} | {sends} | {user} | {} |",
                    c.section
                );
            } else {
                let _ = writeln!(out, "| {event} | {next} | {sends} | {user} |");
            }
        }
        let _ = writeln!(out);
    }
    out
}

/// The state diagram a table implies, in Graphviz DOT: an edge per (from, to) labelled with
/// the events that take it.
pub fn render_dot(table: &Table) -> String {
    let mut edges: BTreeMap<(State, State), Vec<&str>> = BTreeMap::new();
    for (&(s, e), c) in &table.cells {
        if let Some(n) = c.next {
            if n != s {
                edges.entry((s, n)).or_default().push(e.name());
            }
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{} {}\" {{", table.profile, table.source);
    let _ = writeln!(
        out,
        "  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];"
    );
    for s in State::ALL {
        let _ = writeln!(out, "  \"{s}\";");
    }
    for ((from, to), events) in edges {
        let _ = writeln!(
            out,
            "  \"{from}\" -> \"{to}\" [label=\"{}\"];",
            events.join("\\n")
        );
    }
    let _ = writeln!(out, "}}");
    out
}

/// The comparison as a review document.
pub fn render_comparison(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {} against the {} reference\n", c.stack, c.profile);
    let explained = c.differences.iter().filter(|d| d.reason.is_some()).count();
    let unexplained = c.differences.len() - explained;
    let _ = writeln!(
        out,
        "{} cells agree, {} differ as listed deliberately, {} differ otherwise; {} state(s) unreachable.\n",
        c.agree,
        explained,
        unexplained,
        c.unreachable.len()
    );
    for (s, why) in &c.unreachable {
        let _ = writeln!(out, "- unreachable: {s}: {why}");
    }
    if unexplained > 0 {
        let _ = writeln!(out, "## Differences\n");
        for d in c.unexplained() {
            let _ = writeln!(
                out,
                "- {} / {}\n  - reference: {}\n  - generated: {}",
                d.state, d.event, d.reference, d.generated
            );
        }
        let _ = writeln!(out);
    }
    if explained > 0 {
        let _ = writeln!(out, "## Deliberate differences\n");
        for d in c.differences.iter().filter(|d| d.reason.is_some()) {
            let _ = writeln!(
                out,
                "- {} / {}\n  - reference: {}\n  - generated: {}\n  - why: {}",
                d.state,
                d.event,
                d.reference,
                d.generated,
                d.reason.as_deref().unwrap_or_default()
            );
        }
    }
    out
}
