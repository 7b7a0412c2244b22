//! Workloads: what the applications on the two hosts do, drawn per seed.
//!
//! This module owns the workload kinds and their plans (who writes how much, who closes when),
//! and the data pattern that lets a receiver check every octet against what its peer wrote
//! without storing it. The applications that carry the plans out are in `apps`.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A kind of workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A bulk transfer each way, at the same time.
    Bulk,
    /// Rounds of request and response.
    RequestResponse,
    /// The half-close: the client closes, the server keeps sending, then closes.
    HalfClose,
    /// Both hosts open actively, to each other, at the same moment.
    SimultaneousOpen,
    /// Both hosts close at about the same moment.
    SimultaneousClose,
    /// The client aborts mid-transfer.
    Abort,
    /// Many connections through one listener.
    ManyConnections,
    /// A client gives up in SYN-SENT (CLOSE), so the server's SYN,ACK draws a RST and its
    /// connection returns to LISTEN; then a second connection does a transfer.
    Impatient,
    /// The server's passive OPEN names the client, and its first SEND turns it active (RFC 793
    /// Figure 6, LISTEN to SYN-SENT); the client is the one listening.
    PassiveSend,
    /// A simultaneous open in which the client closes while in SYN-RECEIVED.
    EarlyClose,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 10] = [
        Kind::Bulk,
        Kind::RequestResponse,
        Kind::HalfClose,
        Kind::SimultaneousOpen,
        Kind::SimultaneousClose,
        Kind::Abort,
        Kind::ManyConnections,
        Kind::Impatient,
        Kind::PassiveSend,
        Kind::EarlyClose,
    ];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Bulk => "bulk",
            Kind::RequestResponse => "request-response",
            Kind::HalfClose => "half-close",
            Kind::SimultaneousOpen => "simultaneous-open",
            Kind::SimultaneousClose => "simultaneous-close",
            Kind::Abort => "abort",
            Kind::ManyConnections => "many-connections",
            Kind::Impatient => "impatient",
            Kind::PassiveSend => "passive-send",
            Kind::EarlyClose => "early-close",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown workload {s:?}; expected one of: {}",
                    Kind::ALL.map(Kind::name).join(", ")
                )
            })
    }
}

/// One step of an application's script.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    /// Write until this many octets have been written in all.
    WriteTo(u64),
    /// Wait until this many octets have been read in all.
    ReadTo(u64),
    /// Wait for the peer's FIN.
    ReadToEof,
    /// Wait until the peer's application has reached its own `Sync` too: both then go on in
    /// the same instant, which is how a simultaneous close is staged.
    Sync,
    /// CLOSE.
    Close,
    /// CLOSE as soon as the connection has sent its SYN, while still in SYN-SENT.
    CloseInSynSent,
    /// CLOSE once the connection is in SYN-RECEIVED (or later), never in SYN-SENT.
    CloseInSynReceived,
    /// ABORT.
    Abort,
}

/// What one side of one connection does. Reading goes on all the time, whatever the step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Script {
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Largest write, in octets; each write is drawn up to it.
    pub write_chunk: u32,
    /// Largest read, in octets.
    pub read_chunk: u32,
}

impl Script {
    /// Octets this side writes in all: its largest `WriteTo`.
    pub fn total_written(&self) -> u64 {
        self.steps
            .iter()
            .filter_map(|st| match st {
                Step::WriteTo(n) => Some(*n),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }
}

/// One connection of a workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnPlan {
    /// The client's port, which also tells the server which plan a connection follows.
    pub client_port: u16,
    /// The client's script.
    pub client: Script,
    /// The server's script.
    pub server: Script,
    /// The run ends with this connection reset by the client (the server sees only a prefix).
    pub aborts: bool,
    /// The server accepts this connection (an impatient client's never is).
    pub accepted: bool,
}

/// A drawn workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    /// Its kind.
    pub kind: Kind,
    /// Its connections.
    pub conns: Vec<ConnPlan>,
    /// The port the server listens on ([`SERVER_PORT`]; regression files written before it
    /// was recorded used 80, and keep it, since the ISNs and so every fault key depend on it).
    #[serde(default = "port_of_older_files")]
    pub server_port: u16,
}

/// The port the server listens on: in the dynamic range, which IANA never assigns, so that
/// Wireshark dissects the data as plain TCP rather than as some protocol's.
pub const SERVER_PORT: u16 = 49_293;

fn port_of_older_files() -> u16 {
    80
}
/// First client port; connection i uses `CLIENT_PORT_BASE + i`.
pub const CLIENT_PORT_BASE: u16 = 40_000;

fn size(rng: &mut ChaCha8Rng, max: u64) -> u64 {
    // Log-uniform: as many small transfers as large ones, and zero now and then.
    if rng.random_bool(0.1) {
        return 0;
    }
    let bits = rng.random_range(0..=max.max(1).ilog2());
    rng.random_range(0..=(1u64 << bits).min(max))
}

fn script(rng: &mut ChaCha8Rng, steps: Vec<Step>) -> Script {
    Script {
        steps,
        write_chunk: rng.random_range(1..=65_536),
        read_chunk: rng.random_range(1..=65_536),
    }
}

impl Workload {
    /// Draws a workload of `kind` (or of a drawn kind) whose transfers are at most `max_bytes`.
    pub fn draw(rng: &mut ChaCha8Rng, kind: Option<Kind>, max_bytes: u64) -> Workload {
        let kind = kind.unwrap_or_else(|| Kind::ALL[rng.random_range(0..Kind::ALL.len())]);
        let port = |i: usize| CLIENT_PORT_BASE + i as u16;
        let conns = match kind {
            Kind::Bulk => {
                let (up, down) = (size(rng, max_bytes), size(rng, max_bytes));
                vec![ConnPlan {
                    client_port: port(0),
                    client: script(rng, vec![Step::WriteTo(up), Step::Close, Step::ReadToEof]),
                    server: script(rng, vec![Step::WriteTo(down), Step::ReadToEof, Step::Close]),
                    aborts: false,
                    accepted: true,
                }]
            }
            Kind::RequestResponse => {
                let rounds = rng.random_range(1..=8);
                let (mut c, mut s) = (Vec::new(), Vec::new());
                let (mut req, mut resp) = (0, 0);
                for _ in 0..rounds {
                    req += size(rng, 4096).max(1);
                    resp += size(rng, 65_536);
                    c.extend([Step::WriteTo(req), Step::ReadTo(resp)]);
                    s.extend([Step::ReadTo(req), Step::WriteTo(resp)]);
                }
                c.extend([Step::Close, Step::ReadToEof]);
                s.extend([Step::ReadToEof, Step::Close]);
                vec![ConnPlan {
                    client_port: port(0),
                    client: script(rng, c),
                    server: script(rng, s),
                    aborts: false,
                    accepted: true,
                }]
            }
            Kind::HalfClose => {
                let (req, resp) = (size(rng, 4096), size(rng, max_bytes));
                vec![ConnPlan {
                    client_port: port(0),
                    client: script(rng, vec![Step::WriteTo(req), Step::Close, Step::ReadToEof]),
                    server: script(rng, vec![Step::ReadToEof, Step::WriteTo(resp), Step::Close]),
                    aborts: false,
                    accepted: true,
                }]
            }
            Kind::SimultaneousOpen | Kind::SimultaneousClose => {
                let (x, y) = (size(rng, 65_536), size(rng, 65_536));
                let (c, s) = exchange_then_close(kind, x, y);
                vec![ConnPlan {
                    client_port: port(0),
                    client: script(rng, c),
                    server: script(rng, s),
                    aborts: false,
                    accepted: true,
                }]
            }
            Kind::Abort => {
                let x = size(rng, 65_536);
                let k = rng.random_range(1..=65_536);
                vec![ConnPlan {
                    client_port: port(0),
                    client: script(rng, vec![Step::WriteTo(x), Step::ReadTo(k), Step::Abort]),
                    // More than the client will ever read, so the server is still sending
                    // when the client aborts, and its next segment draws the RST.
                    server: script(
                        rng,
                        vec![Step::WriteTo(1 << 24), Step::Close, Step::ReadToEof],
                    ),
                    aborts: true,
                    accepted: true,
                }]
            }
            Kind::Impatient => {
                let (up, down) = (size(rng, 65_536), size(rng, 65_536));
                vec![
                    ConnPlan {
                        client_port: port(0),
                        client: script(rng, vec![Step::CloseInSynSent]),
                        server: script(rng, vec![]),
                        aborts: false,
                        accepted: false,
                    },
                    ConnPlan {
                        client_port: port(1),
                        client: script(rng, vec![Step::WriteTo(up), Step::Close, Step::ReadToEof]),
                        server: script(
                            rng,
                            vec![Step::WriteTo(down), Step::ReadToEof, Step::Close],
                        ),
                        aborts: false,
                        accepted: true,
                    },
                ]
            }
            Kind::PassiveSend => {
                let (up, down) = (size(rng, 65_536), size(rng, 65_536));
                vec![ConnPlan {
                    client_port: port(0),
                    client: script(rng, vec![Step::WriteTo(up), Step::ReadToEof, Step::Close]),
                    // The first write is the SEND that turns the passive OPEN active.
                    server: script(
                        rng,
                        vec![Step::WriteTo(down.max(1)), Step::Close, Step::ReadToEof],
                    ),
                    aborts: false,
                    accepted: true,
                }]
            }
            Kind::EarlyClose => {
                let y = size(rng, 65_536);
                vec![ConnPlan {
                    client_port: port(0),
                    client: script(rng, vec![Step::CloseInSynReceived, Step::ReadToEof]),
                    server: script(rng, vec![Step::WriteTo(y), Step::ReadToEof, Step::Close]),
                    aborts: false,
                    accepted: true,
                }]
            }
            Kind::ManyConnections => {
                let n = rng.random_range(2..=100);
                (0..n)
                    .map(|i| {
                        let (req, resp) = (size(rng, 2048).max(1), size(rng, 16_384));
                        ConnPlan {
                            client_port: port(i),
                            client: script(
                                rng,
                                vec![
                                    Step::WriteTo(req),
                                    Step::ReadTo(resp),
                                    Step::Close,
                                    Step::ReadToEof,
                                ],
                            ),
                            server: script(
                                rng,
                                vec![
                                    Step::ReadTo(req),
                                    Step::WriteTo(resp),
                                    Step::ReadToEof,
                                    Step::Close,
                                ],
                            ),
                            aborts: false,
                            accepted: true,
                        }
                    })
                    .collect()
            }
        };
        Workload {
            kind,
            conns,
            server_port: SERVER_PORT,
        }
    }

    /// A fixed workload of `kind` with the given sizes, for the named scenarios.
    pub fn fixed(kind: Kind, up: u64, down: u64) -> Workload {
        let s = |steps| Script {
            steps,
            write_chunk: 4096,
            read_chunk: 4096,
        };
        let (client, server) = match kind {
            Kind::HalfClose => (
                vec![Step::WriteTo(up), Step::Close, Step::ReadToEof],
                vec![Step::ReadToEof, Step::WriteTo(down), Step::Close],
            ),
            Kind::SimultaneousOpen | Kind::SimultaneousClose => exchange_then_close(kind, up, down),
            _ => (
                vec![Step::WriteTo(up), Step::Close, Step::ReadToEof],
                vec![Step::WriteTo(down), Step::ReadToEof, Step::Close],
            ),
        };
        Workload {
            kind,
            conns: vec![ConnPlan {
                client_port: CLIENT_PORT_BASE,
                client: s(client),
                server: s(server),
                aborts: false,
                accepted: true,
            }],
            server_port: SERVER_PORT,
        }
    }

    /// The same plan cut down to a short run: at most `max_conns` connections, and every
    /// transfer at most `cap` octets, except that the side a planned abort cuts short still
    /// writes more than its peer reads before aborting (so a segment of it draws the RST).
    pub fn bounded(mut self, cap: u64, max_conns: usize) -> Workload {
        self.conns.truncate(max_conns.max(1));
        for c in &mut self.conns {
            let aborts = c.aborts;
            for (script, limit) in [(&mut c.client, cap), (&mut c.server, cap)] {
                let writes_past_abort = aborts && !script.steps.contains(&Step::Abort);
                let limit = if writes_past_abort {
                    2 * limit + 1
                } else {
                    limit
                };
                for step in &mut script.steps {
                    match step {
                        Step::WriteTo(n) => *n = (*n).min(limit),
                        Step::ReadTo(n) => *n = (*n).min(cap),
                        _ => {}
                    }
                }
            }
        }
        self
    }

    /// Octets all connections write, both ways.
    pub fn total_bytes(&self) -> u64 {
        self.conns
            .iter()
            .map(|c| c.client.total_written() + c.server.total_written())
            .sum()
    }
}

/// Scripts that exchange `x` octets up and `y` down, then close; for a simultaneous close both
/// sides close in the same instant, once both have read everything.
fn exchange_then_close(kind: Kind, x: u64, y: u64) -> (Vec<Step>, Vec<Step>) {
    let sync: &[Step] = if kind == Kind::SimultaneousClose {
        &[Step::Sync]
    } else {
        &[]
    };
    let side = |w: u64, r: u64| {
        let mut steps = vec![Step::WriteTo(w), Step::ReadTo(r)];
        steps.extend_from_slice(sync);
        steps.extend([Step::Close, Step::ReadToEof]);
        steps
    };
    (side(x, y), side(y, x))
}

/// The 8-octet block `b` of the stream keyed by `key` (itself a SplitMix64 output), as a
/// little-endian word: the Weyl sequence `key + b × γ` that SplitMix64 steps through. γ is odd,
/// so for a given key the map from block number to word is a bijection and a block delivered
/// at any other offset never matches; consecutive blocks differ by γ, so writing and checking
/// the pattern is one addition per eight octets.
fn block(key: u64, b: u64) -> u64 {
    key.wrapping_add(b.wrapping_mul(GOLDEN_GAMMA))
}

/// The octet at stream offset `i` of the stream keyed by `key`.
pub fn pattern_byte(key: u64, i: u64) -> u8 {
    (block(key, i / 8) >> ((i % 8) * 8)) as u8
}

/// SplitMix64's increment.
pub(crate) const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output function.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Splits `len` octets from stream offset `start` into a head up to the next block boundary,
/// whole blocks, and a tail: `(head, blocks)`.
fn split(start: u64, len: usize) -> (usize, usize) {
    let head = ((8 - start % 8) % 8) as usize;
    let head = head.min(len);
    (head, (len - head) / 8)
}

/// Fills `buf` with the pattern from offset `start`, a block at a time.
pub fn fill_pattern(key: u64, start: u64, buf: &mut [u8]) {
    let (head, _) = split(start, buf.len());
    let (first, rest) = buf.split_at_mut(head);
    for (k, b) in first.iter_mut().enumerate() {
        *b = pattern_byte(key, start + k as u64);
    }
    let mut word = block(key, (start + head as u64) / 8);
    let mut words = rest.chunks_exact_mut(8);
    for w in &mut words {
        w.copy_from_slice(&word.to_le_bytes());
        word = word.wrapping_add(GOLDEN_GAMMA);
    }
    let tail = words.into_remainder();
    tail.copy_from_slice(&word.to_le_bytes()[..tail.len()]);
}

/// The index in `data` of the first octet that differs from the pattern at offset `start`; `None`
/// if all agree. Whole blocks are compared 64 octets at a time, and a run that differs is then
/// searched octet by octet.
pub fn first_mismatch(key: u64, start: u64, data: &[u8]) -> Option<usize> {
    let (head, _) = split(start, data.len());
    if let Some(i) = (0..head).find(|&i| data[i] != pattern_byte(key, start + i as u64)) {
        return Some(i);
    }
    let mut word = block(key, (start + head as u64) / 8);
    let mut offset = head;
    let mut runs = data[head..].chunks_exact(64);
    for run in &mut runs {
        let mut diff = 0u64;
        for w in run.chunks_exact(8) {
            let got = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            diff |= got ^ word;
            word = word.wrapping_add(GOLDEN_GAMMA);
        }
        if diff != 0 {
            return slow_mismatch(key, start + offset as u64, run).map(|i| offset + i);
        }
        offset += 64;
    }
    // What is left of the last block of 64: whole words first, then the last few octets.
    let mut words = runs.remainder().chunks_exact(8);
    for w in &mut words {
        let got = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        if got != word {
            return slow_mismatch(key, start + offset as u64, w).map(|i| offset + i);
        }
        word = word.wrapping_add(GOLDEN_GAMMA);
        offset += 8;
    }
    let tail = words.remainder();
    let expected = word.to_le_bytes();
    tail.iter()
        .zip(expected)
        .position(|(got, want)| *got != want)
        .map(|i| offset + i)
}

fn slow_mismatch(key: u64, start: u64, data: &[u8]) -> Option<usize> {
    (0..data.len()).find(|&i| data[i] != pattern_byte(key, start + i as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_a_block_at_a_time_is_the_pattern_an_octet_at_a_time() {
        for start in [0u64, 1, 7, 8, 9, 1_000_003] {
            for len in [0usize, 1, 5, 8, 13, 64, 1460] {
                let mut buf = vec![0; len];
                fill_pattern(42, start, &mut buf);
                let slow: Vec<u8> = (0..len as u64)
                    .map(|i| pattern_byte(42, start + i))
                    .collect();
                assert_eq!(buf, slow, "start {start}, len {len}");
                assert_eq!(first_mismatch(42, start, &buf), None);
            }
        }
    }

    #[test]
    fn a_wrong_octet_is_found_wherever_it_is() {
        let mut buf = vec![0; 100];
        fill_pattern(7, 3, &mut buf);
        for i in [0, 4, 5, 12, 68, 75, 90, 93, 99] {
            let mut bad = buf.clone();
            bad[i] ^= 0x10;
            assert_eq!(first_mismatch(7, 3, &bad), Some(i));
        }
        assert!(first_mismatch(8, 3, &buf).is_some(), "another stream's key");
    }
}
