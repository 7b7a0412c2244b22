//! The record of a run: packets with their fault decisions, arrivals and state changes, at
//! virtual times.
//!
//! This module owns the trace and its three renderings: RFC 793 figure notation (for people),
//! pcap (LINKTYPE_RAW IPv4 with virtual timestamps, for Wireshark and tshark) and JSON lines
//! (for tools). Every event also feeds a BLAKE3 hash, so two runs can be compared by one value
//! without keeping either; events are kept in memory, and the pcap written, only when asked.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness};
use serde::Serialize;
use synack_core::wire::Packet;
use synack_core::{Instant, SegmentSummary, State};

use crate::sim::faults::Decision;

/// Host names in traces: host 0 is TCP A (the client), host 1 is TCP B (the server).
pub const HOST_NAMES: [&str; 2] = ["A", "B"];

/// One thing that happened in a run.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TraceEvent {
    /// A host sent a packet; `decision` is what the network did with it.
    Sent {
        /// Packet number.
        n: u64,
        /// Virtual time, nanoseconds.
        at_ns: u64,
        /// Sending host (0 = A, 1 = B).
        from: usize,
        /// The segment in RFC notation, or why it did not parse.
        segment: String,
        /// Octets on the wire.
        len: usize,
        /// The fault decision.
        decision: Decision,
        /// The sender's state for this connection when it sent.
        sender_state: Option<String>,
    },
    /// A copy of a packet reached a host.
    Arrived {
        /// Packet number.
        n: u64,
        /// Virtual time, nanoseconds.
        at_ns: u64,
        /// Receiving host.
        to: usize,
        /// Whether this copy had a bit flipped.
        corrupted: bool,
        /// The states of the connection on A and on B after the arrival.
        states: [Option<String>; 2],
    },
    /// A socket changed state.
    State {
        /// Virtual time, nanoseconds.
        at_ns: u64,
        /// Host.
        host: usize,
        /// Socket id on that host.
        socket: u64,
        /// State left.
        from: String,
        /// State entered.
        to: String,
    },
}

/// What to keep of a trace besides its hash.
#[derive(Default)]
pub struct TraceOptions {
    /// Keep the events in memory (for the RFC rendering and JSON lines).
    pub keep_events: bool,
    /// Keep the run's fault decisions (for shrinking). Without it a run's memory does not grow
    /// with its length.
    pub keep_schedule: bool,
    /// Keep every packet that went on the wire (for exporting fuzz corpora).
    pub keep_packets: bool,
    /// Write every packet on the wire to this pcap file.
    pub pcap: Option<std::path::PathBuf>,
}

/// A trace being recorded.
pub struct Trace {
    hasher: blake3::Hasher,
    events: Option<Vec<TraceEvent>>,
    pcap: Option<PcapWriter<BufWriter<File>>>,
    pcap_error: Option<String>,
    packets: Option<Vec<Vec<u8>>>,
}

impl Trace {
    /// A new trace; fails only if the pcap file cannot be created.
    pub fn new(options: &TraceOptions) -> Result<Trace, String> {
        let pcap = match &options.pcap {
            None => None,
            Some(path) => {
                let file = File::create(path)
                    .map_err(|e| format!("{}: cannot create pcap: {e}", path.display()))?;
                let header = PcapHeader {
                    datalink: DataLink::RAW,
                    snaplen: 65_535,
                    endianness: Endianness::Little,
                    ..PcapHeader::default()
                };
                Some(
                    PcapWriter::with_header(BufWriter::new(file), header)
                        .map_err(|e| format!("{}: {e}", path.display()))?,
                )
            }
        };
        Ok(Trace {
            hasher: blake3::Hasher::new(),
            events: options.keep_events.then(Vec::new),
            pcap,
            pcap_error: None,
            packets: options.keep_packets.then(Vec::new),
        })
    }

    /// Records a packet as it goes on the wire (each copy, corrupted copies as corrupted).
    pub fn wire(&mut self, at: Instant, bytes: &[u8]) {
        if let Some(p) = &mut self.packets {
            p.push(bytes.to_vec());
        }
        if let Some(w) = &mut self.pcap {
            let ts = Duration::from_nanos(at.as_nanos());
            if let Err(e) = w.write_packet(&PcapPacket::new(ts, bytes.len() as u32, bytes)) {
                self.pcap_error.get_or_insert(e.to_string());
            }
        }
    }

    /// Records an event.
    pub fn record(&mut self, event: TraceEvent, raw: Option<&[u8]>) {
        // The hash covers a fixed encoding of each event (and the raw packet octets), which
        // serde_json gives deterministically for these types.
        if let Ok(encoded) = serde_json::to_vec(&event) {
            self.hasher.update(&(encoded.len() as u64).to_le_bytes());
            self.hasher.update(&encoded);
        }
        if let Some(raw) = raw {
            self.hasher.update(raw);
        }
        if let Some(events) = &mut self.events {
            events.push(event);
        }
    }

    /// The packets kept so far (`TraceOptions::keep_packets`).
    pub fn take_packets(&mut self) -> Vec<Vec<u8>> {
        self.packets.take().unwrap_or_default()
    }

    /// Ends the trace: its hash (hex), its events if kept, and any pcap write error.
    pub fn finish(mut self) -> (String, Vec<TraceEvent>, Option<String>) {
        if let Some(w) = self.pcap.take() {
            if let Err(e) = w.into_writer().flush() {
                self.pcap_error.get_or_insert(e.to_string());
            }
        }
        (
            self.hasher.finalize().to_hex().to_string(),
            self.events.unwrap_or_default(),
            self.pcap_error,
        )
    }
}

/// A packet's segment in RFC notation, or a note that it did not parse.
pub fn notation(bytes: &[u8]) -> String {
    match Packet::parse(bytes) {
        Ok(p) => SegmentSummary::of(&p).to_string(),
        Err(e) => format!("(not a TCP packet: {e})"),
    }
}

/// Renders the trace in RFC 793 figure notation: TCP A on the left, TCP B on the right, one
/// line per segment. A line shows the sender's state when it sent and the receiver's state
/// after the segment arrived; a lost segment shows where it was lost, a duplicated one arrives
/// twice, and a corrupted copy is dropped by the receiver's checksum.
pub fn render_rfc(events: &[TraceEvent]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "    {:<64}TCP B", "TCP A");
    let mut sent: std::collections::BTreeMap<u64, (usize, String, Option<String>, String)> =
        std::collections::BTreeMap::new();
    let mut line = 0;
    let state = |s: &Option<String>| s.clone().unwrap_or_else(|| "CLOSED".to_string());
    for e in events {
        match e {
            TraceEvent::Sent {
                n,
                at_ns,
                from,
                segment,
                decision,
                sender_state,
                ..
            } => {
                sent.insert(
                    *n,
                    (
                        *from,
                        segment.clone(),
                        sender_state.clone(),
                        decision.describe(),
                    ),
                );
                if decision.lost.is_some() {
                    line += 1;
                    let (arrow, mid) = if *from == 0 {
                        ("-->", "...")
                    } else {
                        ("<--", "...")
                    };
                    let a = if *from == 0 {
                        state(sender_state)
                    } else {
                        String::new()
                    };
                    let b = if *from == 1 {
                        state(sender_state)
                    } else {
                        String::new()
                    };
                    let _ = writeln!(
                        out,
                        "{:<4}{:<12} {} {:<44} {} {:<14} {} at {}",
                        format!("{line}."),
                        a,
                        arrow,
                        segment,
                        mid,
                        b,
                        decision.describe(),
                        Instant::from_nanos(*at_ns)
                    );
                }
            }
            TraceEvent::Arrived {
                n,
                at_ns,
                corrupted,
                states,
                ..
            } => {
                let Some((from, segment, sender, faults)) = sent.get(n) else {
                    continue;
                };
                // A segment from the network's past has no sender state: say what it is.
                let mut shown = [state(&states[0]), state(&states[1])];
                if sender.as_deref() == Some("(old duplicate)") {
                    shown[*from] = "(duplicate)".to_string();
                }
                line += 1;
                let arrow = if *from == 0 { "-->" } else { "<--" };
                let mut note = String::new();
                if *corrupted {
                    note.push_str("corrupted, dropped by checksum");
                } else if !faults.is_empty() {
                    note.push_str(faults);
                }
                let _ = writeln!(
                    out,
                    "{:<4}{:<12} {} {:<44} {} {:<14} {}",
                    format!("{line}."),
                    shown[0],
                    arrow,
                    segment,
                    arrow,
                    shown[1],
                    if note.is_empty() {
                        format!("at {}", Instant::from_nanos(*at_ns))
                    } else {
                        format!("{note} at {}", Instant::from_nanos(*at_ns))
                    }
                );
            }
            TraceEvent::State {
                at_ns,
                host,
                from,
                to,
                ..
            } if from == "TIME-WAIT" && to == "CLOSED" => {
                // The figures' "(2 MSL) CLOSED": a state change no segment shows.
                line += 1;
                let (a, b) = if *host == 0 {
                    ("(2 MSL) CLOSED", "")
                } else {
                    ("", "(2 MSL) CLOSED")
                };
                let _ = writeln!(
                    out,
                    "{:<4}{:<66}{:<14} at {}",
                    format!("{line}."),
                    a,
                    b,
                    Instant::from_nanos(*at_ns)
                );
            }
            TraceEvent::State { .. } => {}
        }
    }
    out
}

/// Writes the events as JSON lines.
pub fn write_json_lines(events: &[TraceEvent], path: &Path) -> Result<(), String> {
    let file = File::create(path).map_err(|e| format!("{}: cannot create: {e}", path.display()))?;
    let mut w = BufWriter::new(file);
    for e in events {
        serde_json::to_writer(&mut w, e).map_err(|e| format!("{}: {e}", path.display()))?;
        w.write_all(b"\n")
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    w.flush().map_err(|e| format!("{}: {e}", path.display()))
}

/// The state's RFC name, for trace events.
pub fn state_name(s: State) -> String {
    s.to_string()
}
