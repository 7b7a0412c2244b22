//! The RFC 793 figure notation of a trace: TCP A on the left, TCP B on the right, one line per
//! segment, as RFC 793 §3.4–3.5 draws its figures.
//!
//! This module owns the rendering and its options ([`Notation`]): sequence numbers as on the
//! wire or relative to each side's ISN, the window, the connection's ports, and lines for the
//! timers' runs and the applications' user calls. Every line is laid out in columns whose widths
//! come from the whole trace, so long traces and long segments stay aligned.
//!
//! Times are virtual seconds on one clock. The `time` column is when a segment was sent (or
//! when a timer ran, a call was made, a state changed); the `arrived` column is when a
//! delivered segment reached its receiver.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddrV4;

use synack_core::wire::Flags;
use synack_core::{Instant, State};

use super::TraceEvent;
use crate::net::summary::Summary;

/// How to render a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notation {
    /// SEQ and ACK relative to each side's ISN (the sequence number of the first SYN it sent),
    /// as packetdrill and Wireshark show them; otherwise as on the wire.
    pub relative: bool,
    /// Each segment's window, as `<WND=n>`.
    pub window: bool,
    /// Lines for the timers' runs and the applications' user calls.
    pub calls: bool,
    /// A column with each segment's ports (`40000>80`) when the trace has more than one
    /// connection.
    pub ports: bool,
}

impl Notation {
    /// As the RFC's figures draw them: numbers as on the wire, no window, segments and state
    /// changes only.
    pub const FIGURES: Notation = Notation {
        relative: false,
        window: false,
        calls: false,
        ports: false,
    };

    /// For `synack replay --trace`: relative numbers, the window, timers and user calls, and
    /// the ports when there is more than one connection.
    pub const REPLAY: Notation = Notation {
        relative: true,
        window: true,
        calls: true,
        ports: true,
    };
}

/// Renders the trace as the RFC's figures draw it ([`Notation::FIGURES`]).
pub fn render_rfc(events: &[TraceEvent]) -> String {
    render_with(events, &Notation::FIGURES)
}

/// One line of the rendering, before the columns are laid out.
enum Row {
    /// A segment: its sender's and receiver's states, where it went, what the network did.
    Segment {
        states: [String; 2],
        from: usize,
        ports: String,
        segment: String,
        /// `None`: lost on the way.
        arrived_ns: Option<u64>,
        sent_ns: u64,
        network: String,
    },
    /// Something on one host with no segment: a state change no segment shows, a timer run,
    /// a user call. `numbered` rows count as figure lines.
    Host {
        host: usize,
        text: String,
        at_ns: u64,
        numbered: bool,
    },
}

/// A packet sent, as each of its arrivals shows it.
struct Sent {
    from: usize,
    ports: String,
    segment: String,
    /// From no connection of its sender's (an old duplicate, a forgery): no sender state.
    injected: Option<super::Injected>,
    network: String,
    sent_ns: u64,
}

/// The sequence-number bases of each side: the ISN of the latest SYN a socket sent (a new
/// incarnation of a connection on the same sockets has an ISN of its own).
#[derive(Default)]
struct Isns(BTreeMap<(SocketAddrV4, SocketAddrV4), u32>);

impl Isns {
    fn learn(&mut self, s: &Summary) {
        if s.flags.contains(Flags::SYN) {
            self.0.insert((s.src, s.dst), s.seq.get());
        }
    }

    fn text(&self, s: &Summary, n: &Notation) -> String {
        let (seq, ack) = if n.relative {
            let own = self.0.get(&(s.src, s.dst));
            let peer = self.0.get(&(s.dst, s.src));
            (
                own.map_or(s.seq.get(), |i| s.seq.get().wrapping_sub(*i)),
                peer.map_or(s.ack.get(), |i| s.ack.get().wrapping_sub(*i)),
            )
        } else {
            (s.seq.get(), s.ack.get())
        };
        let mut t = format!("<SEQ={seq}>");
        if s.flags.contains(Flags::ACK) {
            let _ = write!(t, "<ACK={ack}>");
        }
        if !s.flags.is_empty() {
            let _ = write!(t, "<CTL={}>", s.flags);
        }
        if n.window {
            let _ = write!(t, "<WND={}>", s.window);
        }
        if s.len > 0 {
            let _ = write!(t, "<DATA={}>", s.len);
        }
        t
    }
}

fn seconds(ns: u64) -> String {
    Instant::from_nanos(ns)
        .to_string()
        .trim_end_matches('s')
        .to_string()
}

/// Renders the trace: TCP A on the left, TCP B on the right, one line per segment. A line
/// shows the sender's state when it sent and the receiver's state after the segment arrived
/// (or the receiver's column left empty, for a segment lost on the way); a duplicated segment
/// arrives twice, and a corrupted copy is dropped by the receiver's checksum.
pub fn render_with(events: &[TraceEvent], n: &Notation) -> String {
    let state = |s: &Option<State>| s.map_or_else(|| "CLOSED".to_string(), |s| s.to_string());
    let mut isns = Isns::default();
    let mut connections: Vec<(u16, u16)> = Vec::new();
    // Packet number -> what its arrivals show.
    let mut sent: BTreeMap<u64, Sent> = BTreeMap::new();
    let mut rows = Vec::new();
    for e in events {
        match e {
            TraceEvent::Sent {
                n: number,
                at_ns,
                from,
                segment,
                decision,
                sender_state,
                injected,
                ..
            } => {
                let (text, ports) = match segment {
                    Ok(s) => {
                        isns.learn(s);
                        let (c, v) = if *from == 0 {
                            (s.src.port(), s.dst.port())
                        } else {
                            (s.dst.port(), s.src.port())
                        };
                        if !connections.contains(&(c, v)) {
                            connections.push((c, v));
                        }
                        (isns.text(s, n), format!("{c}>{v}"))
                    }
                    Err(e) => (format!("(not a TCP packet: {e})"), String::new()),
                };
                if decision.lost.is_some() {
                    let mut states = [String::new(), String::new()];
                    states[*from] = match injected {
                        Some(i) => shown_injected(*i),
                        None => state(sender_state),
                    };
                    rows.push(Row::Segment {
                        states,
                        from: *from,
                        ports: ports.clone(),
                        segment: text.clone(),
                        arrived_ns: None,
                        sent_ns: *at_ns,
                        network: decision.describe(),
                    });
                }
                sent.insert(
                    *number,
                    Sent {
                        from: *from,
                        ports,
                        segment: text,
                        injected: *injected,
                        network: decision.describe(),
                        sent_ns: *at_ns,
                    },
                );
            }
            TraceEvent::Arrived {
                n: number,
                at_ns,
                corrupted,
                states,
                ..
            } => {
                let Some(p) = sent.get(number) else {
                    continue;
                };
                let mut shown = [state(&states[0]), state(&states[1])];
                if let Some(i) = p.injected {
                    // A segment from no connection has no sender state: say what it is.
                    shown[p.from] = shown_injected(i);
                }
                let network = if *corrupted {
                    "corrupted, dropped by checksum".to_string()
                } else {
                    p.network.clone()
                };
                rows.push(Row::Segment {
                    states: shown,
                    from: p.from,
                    ports: p.ports.clone(),
                    segment: p.segment.clone(),
                    arrived_ns: Some(*at_ns),
                    sent_ns: p.sent_ns,
                    network,
                });
            }
            TraceEvent::State {
                at_ns,
                host,
                from: State::TimeWait,
                to: State::Closed,
                ..
            } => rows.push(Row::Host {
                host: *host,
                // The figures' "(2 MSL) CLOSED": a state change no segment shows.
                text: "(2 MSL) CLOSED".to_string(),
                at_ns: *at_ns,
                numbered: true,
            }),
            TraceEvent::State { .. } => {}
            TraceEvent::Timer { at_ns, host } if n.calls => rows.push(Row::Host {
                host: *host,
                text: "(timers run)".to_string(),
                at_ns: *at_ns,
                numbered: false,
            }),
            TraceEvent::Call { at_ns, host, what } if n.calls => rows.push(Row::Host {
                host: *host,
                text: format!("({what})"),
                at_ns: *at_ns,
                numbered: false,
            }),
            TraceEvent::Timer { .. } | TraceEvent::Call { .. } => {}
        }
    }
    layout(&rows, n.ports && connections.len() > 1)
}

/// Lays the rows out in columns as wide as their widest entry.
fn layout(rows: &[Row], ports: bool) -> String {
    let numbered = rows
        .iter()
        .filter(|r| matches!(r, Row::Segment { .. } | Row::Host { numbered: true, .. }))
        .count();
    let num_w = format!("{numbered}.").len() + 1;
    let mut state_w = 12;
    let mut seg_w = 0;
    let mut port_w = 0;
    for r in rows {
        if let Row::Segment {
            states,
            segment,
            ports: p,
            ..
        } = r
        {
            state_w = state_w.max(states[0].len()).max(states[1].len());
            seg_w = seg_w.max(segment.len());
            port_w = port_w.max(p.len());
        }
    }
    let port_col = |p: &str| {
        if ports {
            format!("{p:<port_w$} ")
        } else {
            String::new()
        }
    };
    // Where B's column starts: after the number, ports, A's state and the segment with its
    // two arrows.
    let b_at = num_w + port_col("").len() + state_w + 1 + 4 + seg_w + 1 + 4;
    let time_at = b_at + state_w + 1;
    let mut out = String::new();
    let head = format!(
        "{:num_w$}{}TCP A",
        "",
        port_col(if ports { "ports" } else { "" })
    );
    let _ = writeln!(
        out,
        "{head:<b_at$}{:<w$} {:<15} {:<15} network",
        "TCP B",
        "time (s)",
        "arrived (s)",
        w = state_w
    );
    let mut line = 0;
    for r in rows {
        let text = match r {
            Row::Segment {
                states,
                from,
                ports: p,
                segment,
                arrived_ns,
                sent_ns,
                network,
            } => {
                line += 1;
                let arrow = if *from == 0 { "-->" } else { "<--" };
                let second = if arrived_ns.is_some() { arrow } else { "..." };
                let arrived = arrived_ns.map_or("-".to_string(), seconds);
                format!(
                    "{:<num_w$}{}{:<state_w$} {arrow} {segment:<seg_w$} {second} {:<state_w$} {:<15} {:<15} {network}",
                    format!("{line}."),
                    port_col(p),
                    states[0],
                    states[1],
                    seconds(*sent_ns),
                    arrived,
                )
            }
            Row::Host {
                host,
                text,
                at_ns,
                numbered,
            } => {
                let num = if *numbered {
                    line += 1;
                    format!("{line}.")
                } else {
                    String::new()
                };
                let left = format!("{num:<num_w$}{}", port_col(""));
                // A's notes start in A's column and B's end where B's column does, so that
                // both keep to the left of the time column, however long they are, where they
                // can.
                let mut body = if *host == 0 {
                    format!("{left}{text}")
                } else {
                    let end = time_at - 1;
                    format!("{left}{text:>w$}", w = end.saturating_sub(left.len()))
                };
                if body.len() >= time_at {
                    body.push(' ');
                }
                format!("{body:<time_at$}{}", seconds(*at_ns))
            }
        };
        let _ = writeln!(out, "{}", text.trim_end());
    }
    out
}

/// What a figure shows in place of the sender's state for a segment no connection sent: the
/// RFC's figures call an old duplicate "(duplicate)".
fn shown_injected(i: super::Injected) -> String {
    match i {
        super::Injected::OldDuplicate => "(duplicate)".to_string(),
        super::Injected::Forged => "(forged)".to_string(),
    }
}
