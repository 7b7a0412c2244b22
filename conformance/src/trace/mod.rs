//! The record of a run: packets with their fault decisions, arrivals and state changes, at
//! virtual times.
//!
//! This module owns the trace events, the trace hash, and three renderings: RFC 793 figure
//! notation (for people), pcapng (LINKTYPE_RAW IPv4 with virtual timestamps in nanoseconds and a
//! comment on every packet saying what the network did with it, for Wireshark and tshark) and
//! JSON lines (for tools). The network (`crate::net`) emits every event; events are
//! kept in memory, and the pcap written, only when asked, so a run's memory does not grow with
//! its length.
//!
//! # The trace hash
//! Every event feeds a BLAKE3 hash through a compact binary encoding, so two runs compare by
//! one value without keeping either. All integers are little-endian; a state is one octet
//! (`0` for none, else its index in `State::ALL` plus one; `0xfe` marks a segment injected
//! from the network's past). The connections' states beside a segment, the timers' runs and
//! the applications' user calls are shown only in kept traces and are not hashed: they follow
//! from the seed, and what they did is in the packets and transitions, which are.
//!
//! | event | encoding |
//! |---|---|
//! | sent | `1`, n (u64), at_ns (u64), from (u8), octets on the wire (u32), old duplicate (u8: `0xfe`, else 0), loss cause (u8: 0 none, 1 loss, 2 partition, 3 queue full), copies (u8), per copy extra_us (u64) and flipped bit (u8 flag, u32), then the header octets |
//! | arrived | `2`, n (u64), at_ns (u64), to (u8), corrupted (u8) |
//! | state | `3`, at_ns (u64), host (u8), socket (u64), from (u8), to (u8) |
//!
//! The header octets of a sent packet are its length as a u16 followed by its IPv4 and TCP
//! headers exactly as sent; the TCP checksum among them covers the data, and the
//! stream-integrity oracle checks every data octet, so the data itself is not hashed again. A
//! packet that does not parse is hashed whole: `0xffff`, its length (u32), its octets.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use std::borrow::Cow;

use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::{DataLink, Endianness};
use serde::Serialize;
use synack_core::wire::WireError;
use synack_core::{Instant, State};

pub mod notation;

pub use notation::{render_rfc, render_with, Notation};

use crate::net::faults::{Decision, LossCause};
use crate::net::summary::Summary;
use crate::Error;

/// Host names in traces: host 0 is TCP A (the client), host 1 is TCP B (the server).
pub const HOST_NAMES: [&str; 2] = ["A", "B"];

/// Where a segment that no connection of its sender's sent came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Injected {
    /// The network's past: a scripted old duplicate.
    OldDuplicate,
    /// An off-path attacker's forgery (`crate::sim::attacker`).
    Forged,
}

impl Injected {
    /// As a trace shows it in place of the sender's state.
    pub fn describe(self) -> &'static str {
        match self {
            Injected::OldDuplicate => "old duplicate",
            Injected::Forged => "forged",
        }
    }
}

/// One thing that happened in a run.
#[derive(Clone, Debug, PartialEq)]
pub enum TraceEvent {
    /// A host sent a packet; `decision` is what the network did with it.
    Sent {
        /// Packet number.
        n: u64,
        /// Virtual time, nanoseconds.
        at_ns: u64,
        /// Sending host (0 = A, 1 = B).
        from: usize,
        /// The segment, or why it did not parse.
        segment: Result<Summary, WireError>,
        /// Octets on the wire.
        len: usize,
        /// The fault decision.
        decision: Decision,
        /// The sender's state for this connection when it sent.
        sender_state: Option<State>,
        /// The segment comes from no connection of the sender's: from the network's past (a
        /// scripted old duplicate), or forged by an off-path attacker.
        injected: Option<Injected>,
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
        states: [Option<State>; 2],
    },
    /// A host's timers ran (shown in kept traces; not hashed: it follows from the seed, and
    /// what it did is in the packets and transitions that are).
    Timer {
        /// Virtual time, nanoseconds.
        at_ns: u64,
        /// Host.
        host: usize,
    },
    /// An application made a user call (shown in kept traces; not hashed, as `Timer`).
    Call {
        /// Virtual time, nanoseconds.
        at_ns: u64,
        /// Host.
        host: usize,
        /// The call and what it returned, e.g. `SEND 1460 octets: took 1460`.
        what: String,
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
        from: State,
        /// State entered.
        to: State,
    },
}

/// The JSON-lines shape of an event: states by their RFC names, segments in RFC notation.
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum JsonEvent<'a> {
    Sent {
        n: u64,
        at_ns: u64,
        from: usize,
        segment: String,
        len: usize,
        decision: &'a Decision,
        sender_state: Option<String>,
    },
    Arrived {
        n: u64,
        at_ns: u64,
        to: usize,
        corrupted: bool,
        states: [Option<String>; 2],
    },
    State {
        at_ns: u64,
        host: usize,
        socket: u64,
        from: String,
        to: String,
    },
    Timer {
        at_ns: u64,
        host: usize,
    },
    Call {
        at_ns: u64,
        host: usize,
        what: &'a str,
    },
}

impl Serialize for TraceEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let name = |st: &Option<State>| st.map(|x| x.to_string());
        match self {
            TraceEvent::Sent {
                n,
                at_ns,
                from,
                segment,
                len,
                decision,
                sender_state,
                injected,
            } => JsonEvent::Sent {
                n: *n,
                at_ns: *at_ns,
                from: *from,
                segment: notation(segment),
                len: *len,
                decision,
                sender_state: match injected {
                    Some(i) => Some(format!("({})", i.describe())),
                    None => name(sender_state),
                },
            },
            TraceEvent::Arrived {
                n,
                at_ns,
                to,
                corrupted,
                states,
            } => JsonEvent::Arrived {
                n: *n,
                at_ns: *at_ns,
                to: *to,
                corrupted: *corrupted,
                states: [name(&states[0]), name(&states[1])],
            },
            TraceEvent::State {
                at_ns,
                host,
                socket,
                from,
                to,
            } => JsonEvent::State {
                at_ns: *at_ns,
                host: *host,
                socket: *socket,
                from: from.to_string(),
                to: to.to_string(),
            },
            TraceEvent::Timer { at_ns, host } => JsonEvent::Timer {
                at_ns: *at_ns,
                host: *host,
            },
            TraceEvent::Call { at_ns, host, what } => JsonEvent::Call {
                at_ns: *at_ns,
                host: *host,
                what,
            },
        }
        .serialize(s)
    }
}

/// What to keep of a trace besides its hash.
#[derive(Clone, Debug, Default)]
pub struct TraceOptions {
    /// Keep the events in memory (for the RFC rendering and JSON lines).
    pub keep_events: bool,
    /// Keep the run's fault decisions (for shrinking). Without it a run's memory does not grow
    /// with its length.
    pub keep_schedule: bool,
    /// Keep every packet that went on the wire (for exporting fuzz corpora).
    pub keep_packets: bool,
    /// Write every packet on the wire to this pcapng file.
    pub pcap: Option<std::path::PathBuf>,
}

/// Octets of encoded events gathered before they are fed to BLAKE3 in one call, so that it
/// hashes whole chunks at a time.
const HASH_BATCH: usize = 16 << 10;

/// A trace being recorded.
pub struct Trace {
    hasher: blake3::Hasher,
    pending: Vec<u8>,
    events: Option<Vec<TraceEvent>>,
    pcap: Option<PcapNgWriter<BufWriter<File>>>,
    pcap_error: Option<String>,
    packets: Option<Vec<Vec<u8>>>,
}

/// What a finished trace leaves.
#[derive(Debug, Default)]
pub struct Finished {
    /// The hash, in hex.
    pub hash: String,
    /// The events, if kept.
    pub events: Vec<TraceEvent>,
    /// The packets on the wire, if kept.
    pub packets: Vec<Vec<u8>>,
    /// The first pcap write error, if any.
    pub pcap_error: Option<String>,
}

fn state_code(s: Option<State>) -> u8 {
    s.and_then(|s| State::ALL.iter().position(|x| *x == s))
        .map_or(0, |i| i as u8 + 1)
}

impl Trace {
    /// A new trace; fails only if the pcap file cannot be created.
    pub fn new(options: &TraceOptions) -> Result<Trace, Error> {
        let pcap = match &options.pcap {
            None => None,
            Some(path) => {
                let file = File::create(path)
                    .map_err(|e| Error::file(path, format!("cannot create pcap: {e}")))?;
                let section = SectionHeaderBlock {
                    endianness: Endianness::Little,
                    options: vec![SectionHeaderOption::UserApplication(Cow::Borrowed(
                        concat!("synack ", env!("CARGO_PKG_VERSION")),
                    ))],
                    ..SectionHeaderBlock::default()
                };
                let mut w = PcapNgWriter::with_section_header(BufWriter::new(file), section)
                    .map_err(|e| Error::file(path, e))?;
                let interface = InterfaceDescriptionBlock {
                    linktype: DataLink::RAW,
                    snaplen: 65_535,
                    options: vec![
                        InterfaceDescriptionOption::IfName(Cow::Borrowed("synack")),
                        InterfaceDescriptionOption::IfDescription(Cow::Borrowed(
                            "packets as they leave their sender: virtual time in the simulator, wall-clock time at the interop boundary",
                        )),
                        // Timestamps are virtual nanoseconds.
                        InterfaceDescriptionOption::IfTsResol(9),
                    ],
                };
                w.write_pcapng_block(interface)
                    .map_err(|e| Error::file(path, e))?;
                Some(w)
            }
        };
        Ok(Trace {
            hasher: blake3::Hasher::new(),
            pending: Vec::with_capacity(HASH_BATCH + 256),
            events: options.keep_events.then(Vec::new),
            pcap,
            pcap_error: None,
            packets: options.keep_packets.then(Vec::new),
        })
    }

    /// Records a packet as it goes on the wire (each copy, corrupted copies as corrupted);
    /// `comment` says what the network did with it, for the pcapng.
    pub fn wire(&mut self, at: Instant, bytes: &[u8], comment: impl FnOnce() -> String) {
        if let Some(p) = &mut self.packets {
            p.push(bytes.to_vec());
        }
        if let Some(w) = &mut self.pcap {
            let block = EnhancedPacketBlock {
                interface_id: 0,
                timestamp: Duration::from_nanos(at.as_nanos()),
                original_len: bytes.len() as u32,
                data: Cow::Borrowed(bytes),
                options: vec![EnhancedPacketOption::Comment(Cow::Owned(comment()))],
            };
            if let Err(e) = w.write_pcapng_block(block) {
                self.pcap_error.get_or_insert(e.to_string());
            }
        }
    }

    /// Whether the events are kept (and so should carry the connections' states).
    pub fn keeps_events(&self) -> bool {
        self.events.is_some()
    }

    /// Whether the pcap or the packet list wants every copy on the wire.
    pub fn wants_wire(&self) -> bool {
        self.pcap.is_some() || self.packets.is_some()
    }

    /// Records an event; `raw` is the packet of a `Sent` event.
    pub fn record(&mut self, event: TraceEvent, raw: &[u8]) {
        if matches!(event, TraceEvent::Timer { .. } | TraceEvent::Call { .. }) {
            // Shown, not hashed (see the events' docs).
            if let Some(events) = &mut self.events {
                events.push(event);
            }
            return;
        }
        self.encode(&event, raw);
        if self.pending.len() >= HASH_BATCH {
            self.hasher.update(&self.pending);
            self.pending.clear();
        }
        if let Some(events) = &mut self.events {
            events.push(event);
        }
    }

    fn encode(&mut self, event: &TraceEvent, raw: &[u8]) {
        let b = &mut self.pending;
        match event {
            TraceEvent::Sent {
                n,
                at_ns,
                from,
                segment,
                len,
                decision,
                sender_state: _,
                injected,
            } => {
                b.push(1);
                b.extend_from_slice(&n.to_le_bytes());
                b.extend_from_slice(&at_ns.to_le_bytes());
                b.push(*from as u8);
                b.extend_from_slice(&(*len as u32).to_le_bytes());
                b.push(match injected {
                    None => 0,
                    Some(Injected::OldDuplicate) => 0xfe,
                    Some(Injected::Forged) => 0xfd,
                });
                b.push(match decision.lost {
                    None => 0,
                    Some(LossCause::Loss) => 1,
                    Some(LossCause::Partition) => 2,
                    Some(LossCause::QueueFull) => 3,
                });
                b.push(decision.copies.len() as u8);
                for c in &decision.copies {
                    b.extend_from_slice(&c.extra_us.to_le_bytes());
                    b.push(u8::from(c.flip_bit.is_some()));
                    b.extend_from_slice(&c.flip_bit.unwrap_or(0).to_le_bytes());
                }
                match segment {
                    Ok(s) => {
                        let h = usize::from(s.header_len).min(raw.len());
                        b.extend_from_slice(&(h as u16).to_le_bytes());
                        b.extend_from_slice(&raw[..h]);
                    }
                    Err(_) => {
                        b.extend_from_slice(&0xffffu16.to_le_bytes());
                        b.extend_from_slice(&(raw.len() as u32).to_le_bytes());
                        b.extend_from_slice(raw);
                    }
                }
            }
            TraceEvent::Arrived {
                n,
                at_ns,
                to,
                corrupted,
                states: _,
            } => {
                b.push(2);
                b.extend_from_slice(&n.to_le_bytes());
                b.extend_from_slice(&at_ns.to_le_bytes());
                b.push(*to as u8);
                b.push(u8::from(*corrupted));
            }
            TraceEvent::State {
                at_ns,
                host,
                socket,
                from,
                to,
            } => {
                b.push(3);
                b.extend_from_slice(&at_ns.to_le_bytes());
                b.push(*host as u8);
                b.extend_from_slice(&socket.to_le_bytes());
                b.push(state_code(Some(*from)));
                b.push(state_code(Some(*to)));
            }
            TraceEvent::Timer { .. } | TraceEvent::Call { .. } => {}
        }
    }

    /// Ends the trace: its hash, its events and packets if kept, and any pcap write error.
    pub fn finish(mut self) -> Finished {
        if let Some(w) = self.pcap.take() {
            if let Err(e) = w.into_inner().flush() {
                self.pcap_error.get_or_insert(e.to_string());
            }
        }
        self.hasher.update(&self.pending);
        Finished {
            hash: self.hasher.finalize().to_hex().to_string(),
            events: self.events.unwrap_or_default(),
            packets: self.packets.unwrap_or_default(),
            pcap_error: self.pcap_error,
        }
    }
}

/// A segment in RFC notation, or a note that it did not parse.
pub fn notation(segment: &Result<Summary, WireError>) -> String {
    match segment {
        Ok(s) => s.to_string(),
        Err(e) => format!("(not a TCP packet: {e})"),
    }
}

/// Writes the events as JSON lines.
pub fn write_json_lines(events: &[TraceEvent], path: &Path) -> Result<(), Error> {
    let file = File::create(path).map_err(|e| Error::file(path, format!("cannot create: {e}")))?;
    let mut w = BufWriter::new(file);
    for e in events {
        serde_json::to_writer(&mut w, e).map_err(|e| Error::file(path, e))?;
        w.write_all(b"\n").map_err(|e| Error::file(path, e))?;
    }
    w.flush().map_err(|e| Error::file(path, e))
}
