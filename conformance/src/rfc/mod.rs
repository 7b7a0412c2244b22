//! The RFC 793 and RFC 9293 transition tables.
//!
//! The event alphabet and the reference tables themselves are data, in [`crate::reference`]
//! (re-exported here). This module owns the generator that produces the same table from any `TcpStack` by driving
//! it ([`generate`]), the cell-by-cell comparison with its list of deliberate differences
//! ([`deviations`]), and the renderings: markdown per profile, Graphviz DOT, and the list of
//! Figure 5 / Figure 6 transitions with the cells and paths that cover them ([`figures`]).

pub mod deviations;
pub mod figures;
pub mod generate;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use synack_core::State;

pub use crate::reference::{parse_table, reference, Cell, Event, Table};

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
