//! The transitions of RFC 793 Figure 6 and RFC 9293 Figure 5, and which cells of a table
//! take them.

use std::fmt::Write as _;

use synack_core::State;

use super::Table;
use State::*;

/// A labelled transition of a state diagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrow {
    /// From.
    pub from: State,
    /// To.
    pub to: State,
    /// The diagram's label: event / action.
    pub label: &'static str,
}

const fn arrow(from: State, to: State, label: &'static str) -> Arrow {
    Arrow { from, to, label }
}

/// RFC 793 Figure 6: nineteen labelled transitions.
pub const FIGURE_6: [Arrow; 19] = [
    arrow(Closed, Listen, "passive OPEN / create TCB"),
    arrow(Closed, SynSent, "active OPEN / create TCB, snd SYN"),
    arrow(Listen, Closed, "CLOSE / delete TCB"),
    arrow(Listen, SynReceived, "rcv SYN / snd SYN,ACK"),
    arrow(Listen, SynSent, "SEND / snd SYN"),
    arrow(SynSent, Closed, "CLOSE / delete TCB"),
    arrow(SynSent, SynReceived, "rcv SYN / snd ACK"),
    arrow(SynSent, Established, "rcv SYN,ACK / snd ACK"),
    arrow(SynReceived, Established, "rcv ACK of SYN"),
    arrow(SynReceived, FinWait1, "CLOSE / snd FIN"),
    arrow(Established, FinWait1, "CLOSE / snd FIN"),
    arrow(Established, CloseWait, "rcv FIN / snd ACK"),
    arrow(FinWait1, FinWait2, "rcv ACK of FIN"),
    arrow(FinWait1, Closing, "rcv FIN / snd ACK"),
    arrow(FinWait2, TimeWait, "rcv FIN / snd ACK"),
    arrow(CloseWait, LastAck, "CLOSE / snd FIN"),
    arrow(Closing, TimeWait, "rcv ACK of FIN"),
    arrow(LastAck, Closed, "rcv ACK of FIN"),
    arrow(TimeWait, Closed, "Timeout=2MSL / delete TCB"),
];

/// RFC 9293 Figure 5: Figure 6's transitions (with SYN-SENT to SYN-RECEIVED labelled "rcv
/// SYN / snd SYN,ACK") and, by its note 1, SYN-RECEIVED to LISTEN on a RST after a passive
/// OPEN.
pub const FIGURE_5_EXTRA: [Arrow; 1] = [arrow(SynReceived, Listen, "rcv RST (note 1)")];

/// Every arrow of Figure 5 (which includes Figure 6's).
pub fn figure_5() -> Vec<Arrow> {
    FIGURE_6
        .iter()
        .chain(FIGURE_5_EXTRA.iter())
        .copied()
        .collect()
}

/// The arrows with the table cells that take each, as a review document.
pub fn render(table: &Table) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# RFC 793 Figure 6 and RFC 9293 Figure 5 transitions in the {} table of {}\n",
        table.profile, table.source
    );
    let _ = writeln!(
        out,
        "| from | to | label | cells that take it |\n|---|---|---|---|"
    );
    for a in figure_5() {
        let cells: Vec<String> = table
            .cells
            .iter()
            .filter(|((s, _), c)| *s == a.from && c.next == Some(a.to))
            .map(|((_, e), _)| e.name().to_string())
            .collect();
        let figure = if FIGURE_5_EXTRA.contains(&a) {
            " (Figure 5 only)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "| {} | {} | {}{figure} | {} |",
            a.from,
            a.to,
            a.label,
            if cells.is_empty() {
                "**none**".to_string()
            } else {
                cells.join(", ")
            }
        );
    }
    let _ = writeln!(
        out,
        "\nPaths that reach each state are those of conformance/src/rfc/generate.rs; every cell \
         above starts from its row's path."
    );
    out
}
