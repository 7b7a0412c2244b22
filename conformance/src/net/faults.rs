//! Fault models of the links, the named fault profiles, and the per-packet fault decisions.
//!
//! This module owns what the network does to packets: a `Faults` model for each direction of a
//! link (loss, duplication, reordering by delay jitter, corruption, delay, bandwidth with a
//! drop-tail queue, partitions), the named profiles (`none`, `lossy`, `chaos`, `partition`,
//! `swarm`), and `Decision`, the record of what was done to one packet. A run records every
//! non-default decision in a `Schedule`; replaying a schedule reproduces the network exactly,
//! and removing decisions from it is how `shrink` finds the fewest faults that still fail.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use synack_core::Instant;

/// One direction of a link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    /// Probability that a packet is lost.
    pub loss: f64,
    /// Probability that a packet is sent twice; the copy has its own delay, so it may arrive
    /// before or after the original.
    pub duplicate: f64,
    /// Probability that a copy has one bit flipped, in the header or the payload.
    pub corrupt: f64,
    /// Fixed one-way delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from zero to this, per copy: packets overtake each other.
    pub jitter: Duration,
    /// Bytes per second the link carries, if limited; packets queue behind each other.
    pub bandwidth: Option<u64>,
    /// Packets that may wait in the queue of a limited link; more are dropped (drop-tail).
    pub queue_limit: usize,
    /// Time windows (from the start of the run) in which every packet is lost.
    pub partitions: Vec<(Duration, Duration)>,
    /// A duplicate copy is held back by half this to all of it, beyond its jitter, so that it
    /// arrives as an old duplicate; zero for none.
    #[serde(default)]
    pub hold: Duration,
}

impl Faults {
    /// A perfect link with a 10 ms delay.
    pub fn none() -> Faults {
        Faults {
            loss: 0.0,
            duplicate: 0.0,
            corrupt: 0.0,
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            bandwidth: None,
            queue_limit: 0,
            partitions: Vec::new(),
            hold: Duration::ZERO,
        }
    }

    fn partitioned(&self, now: Instant) -> bool {
        let t = Duration::from_nanos(now.as_nanos());
        self.partitions.iter().any(|(s, e)| *s <= t && t < *e)
    }
}

/// Which fault model a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Profile {
    /// No faults: a fixed delay only.
    None,
    /// Loss, a little duplication and reordering.
    Lossy,
    /// Every fault at once.
    Chaos,
    /// Partitions, one way and both ways, with light loss.
    Partition,
    /// A profile drawn per seed: each fault on or off, with a drawn rate (VOPR-style).
    Swarm,
}

impl Profile {
    /// Every profile, in the order the CLI lists them.
    pub const ALL: [Profile; 5] = [
        Profile::None,
        Profile::Lossy,
        Profile::Chaos,
        Profile::Partition,
        Profile::Swarm,
    ];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Profile::None => "none",
            Profile::Lossy => "lossy",
            Profile::Chaos => "chaos",
            Profile::Partition => "partition",
            Profile::Swarm => "swarm",
        }
    }

    /// The fault models of the two directions (client to server, server to client), drawn from
    /// `rng` where the profile calls for it; `fault_phase` is when the network heals.
    pub fn models(self, rng: &mut ChaCha8Rng, fault_phase: Duration) -> [Faults; 2] {
        match self {
            Profile::None => [Faults::none(), Faults::none()],
            Profile::Lossy => {
                let f = Faults {
                    loss: 0.05,
                    duplicate: 0.02,
                    jitter: Duration::from_millis(5),
                    ..Faults::none()
                };
                [f.clone(), f]
            }
            Profile::Chaos => {
                let f = Faults {
                    loss: 0.1,
                    duplicate: 0.05,
                    corrupt: 0.02,
                    delay: Duration::from_millis(10),
                    jitter: Duration::from_millis(30),
                    bandwidth: Some(10_000_000),
                    queue_limit: 64,
                    partitions: Vec::new(),
                    hold: Duration::ZERO,
                };
                let mut a = f.clone();
                let mut b = f;
                a.partitions = draw_partitions(rng, fault_phase, 1);
                b.partitions = draw_partitions(rng, fault_phase, 1);
                [a, b]
            }
            Profile::Partition => {
                let base = Faults {
                    loss: 0.01,
                    ..Faults::none()
                };
                let both = draw_partitions(rng, fault_phase, 2);
                let mut a = base.clone();
                let mut b = base;
                a.partitions = both.clone();
                b.partitions = both;
                // And one one-way partition in each direction.
                a.partitions.extend(draw_partitions(rng, fault_phase, 1));
                b.partitions.extend(draw_partitions(rng, fault_phase, 1));
                [a, b]
            }
            Profile::Swarm => [swarm(rng, fault_phase), swarm(rng, fault_phase)],
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown fault profile {s:?}; expected one of: {}",
                    Profile::ALL.map(Profile::name).join(", ")
                )
            })
    }
}

/// Up to `n` partitions inside the fault phase, each at most 20 s long: well under the user
/// timeout, so that a partition alone never aborts a connection.
fn draw_partitions(
    rng: &mut ChaCha8Rng,
    fault_phase: Duration,
    n: usize,
) -> Vec<(Duration, Duration)> {
    let phase_ms = fault_phase.as_millis().max(1) as u64;
    let mut out = Vec::new();
    for _ in 0..n {
        // Three draws per slot whether or not it is used, so later draws do not shift.
        let used = rng.random_bool(0.7);
        let start = rng.random_range(0..phase_ms);
        let len = rng
            .random_range(100..20_000u64)
            .min(phase_ms - start)
            .max(1);
        if used {
            out.push((
                Duration::from_millis(start),
                Duration::from_millis(start + len),
            ));
        }
    }
    out
}

/// A swarm profile: each fault switched on with probability 1/2, at a drawn rate.
fn swarm(rng: &mut ChaCha8Rng, fault_phase: Duration) -> Faults {
    let on = |rng: &mut ChaCha8Rng| rng.random_bool(0.5);
    let loss = if on(rng) {
        rng.random_range(0.0..0.3)
    } else {
        0.0
    };
    let duplicate = if on(rng) {
        rng.random_range(0.0..0.2)
    } else {
        0.0
    };
    let corrupt = if on(rng) {
        rng.random_range(0.0..0.1)
    } else {
        0.0
    };
    let delay = Duration::from_micros(rng.random_range(100..100_000));
    let jitter = if on(rng) {
        Duration::from_micros(rng.random_range(0..100_000))
    } else {
        Duration::ZERO
    };
    let (bandwidth, queue_limit) = if on(rng) {
        (
            Some(rng.random_range(100_000..100_000_000)),
            rng.random_range(4..256),
        )
    } else {
        (None, 0)
    };
    let partitions = if on(rng) {
        draw_partitions(rng, fault_phase, 2)
    } else {
        Vec::new()
    };
    Faults {
        loss,
        duplicate,
        corrupt,
        delay,
        jitter,
        bandwidth,
        queue_limit,
        partitions,
        hold: Duration::ZERO,
    }
}

/// What happens to one copy of a packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Copy {
    /// Delay beyond the link's fixed delay, in microseconds.
    pub extra_us: u64,
    /// A bit flipped in this copy: bit index from the start of the packet.
    pub flip_bit: Option<u32>,
}

impl Copy {
    /// On time and intact.
    pub const ON_TIME: Copy = Copy {
        extra_us: 0,
        flip_bit: None,
    };
}

/// The most copies of one packet the network delivers: the original and one duplicate.
pub const MAX_COPIES: usize = 2;

/// The copies of a packet that travel: none (lost), one, or two (duplicated). Held inline, so
/// deciding a packet's fate allocates nothing; (de)serialized as a list of at most
/// [`MAX_COPIES`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "Vec<Copy>", try_from = "Vec<Copy>")]
pub struct Copies {
    n: u8,
    items: [Copy; MAX_COPIES],
}

impl Copies {
    /// No copy: the packet is lost.
    pub const NONE: Copies = Copies {
        n: 0,
        items: [Copy::ON_TIME; MAX_COPIES],
    };

    /// One copy.
    pub fn one(c: Copy) -> Copies {
        Copies {
            n: 1,
            items: [c, Copy::ON_TIME],
        }
    }

    /// Two copies: the original and a duplicate.
    pub fn two(a: Copy, b: Copy) -> Copies {
        Copies {
            n: 2,
            items: [a, b],
        }
    }

    /// How many copies travel.
    pub fn len(&self) -> usize {
        usize::from(self.n)
    }

    /// Whether none does.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The copies, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Copy> {
        self.items[..self.len()].iter()
    }
}

impl<'a> IntoIterator for &'a Copies {
    type Item = &'a Copy;
    type IntoIter = std::slice::Iter<'a, Copy>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl From<Copies> for Vec<Copy> {
    fn from(c: Copies) -> Vec<Copy> {
        c.iter().copied().collect()
    }
}

impl TryFrom<Vec<Copy>> for Copies {
    type Error = String;
    fn try_from(v: Vec<Copy>) -> Result<Copies, String> {
        match v[..] {
            [] => Ok(Copies::NONE),
            [a] => Ok(Copies::one(a)),
            [a, b] => Ok(Copies::two(a, b)),
            _ => Err(format!(
                "copies: {} given, at most {MAX_COPIES} (the original and one duplicate)",
                v.len()
            )),
        }
    }
}

/// What the network did to one packet: lost (no copies), or delivered as one or two copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Decision {
    /// Why it was lost, if it was.
    pub lost: Option<LossCause>,
    /// The copies that travel; none when lost.
    pub copies: Copies,
}

/// Why a packet was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LossCause {
    /// Random loss.
    Loss,
    /// A partition was in force.
    Partition,
    /// The link's queue was full.
    QueueFull,
}

impl Decision {
    /// The default: one copy, on time, intact.
    pub const DELIVER: Decision = Decision {
        lost: None,
        copies: Copies {
            n: 1,
            items: [Copy::ON_TIME; MAX_COPIES],
        },
    };

    /// The default: one copy, on time, intact.
    pub fn deliver() -> Decision {
        Decision::DELIVER
    }

    /// Lost, for `cause`.
    pub fn lose(cause: LossCause) -> Decision {
        Decision {
            lost: Some(cause),
            copies: Copies::NONE,
        }
    }

    /// Whether this decision is a fault at all.
    pub fn is_fault(&self) -> bool {
        *self != Decision::DELIVER
    }

    /// A short description for traces: `dropped`, `duplicated`, `delayed`, `corrupted`.
    pub fn describe(&self) -> String {
        if let Some(cause) = self.lost {
            return match cause {
                LossCause::Loss => "dropped".into(),
                LossCause::Partition => "dropped (partition)".into(),
                LossCause::QueueFull => "dropped (queue full)".into(),
            };
        }
        let mut parts = Vec::new();
        if self.copies.len() > 1 {
            parts.push("duplicated".to_string());
        }
        if self.copies.iter().any(|c| c.extra_us > 0) {
            parts.push("delayed".to_string());
        }
        if self.copies.iter().any(|c| c.flip_bit.is_some()) {
            parts.push("corrupted".to_string());
        }
        parts.join(", ")
    }
}

/// The pcapng comment on packet `n` from host `from` (copy `copy` of those the decision made,
/// or the lost packet itself): what the network did with it, e.g. `packet 12 from A:
/// duplicated, copy 2 of 2, delayed 3.5 ms, bit 17 flipped (corrupted)`.
pub fn comment(n: u64, from: usize, decision: &Decision, copy: Option<usize>) -> String {
    let host = ["A", "B"][from.min(1)];
    let mut c = format!("packet {n} from {host}: ");
    match (
        decision.lost,
        copy.and_then(|i| decision.copies.iter().nth(i).map(|k| (i, k))),
    ) {
        (Some(_), _) | (None, None) => c.push_str(&decision.describe()),
        (None, Some((i, k))) => {
            let mut parts = Vec::new();
            if decision.copies.len() > 1 {
                parts.push(format!(
                    "duplicated, copy {} of {}",
                    i + 1,
                    decision.copies.len()
                ));
            }
            if k.extra_us > 0 {
                parts.push(format!("delayed {:.3} ms", k.extra_us as f64 / 1000.0));
            }
            if let Some(bit) = k.flip_bit {
                parts.push(format!("bit {bit} flipped (corrupted)"));
            }
            if parts.is_empty() {
                parts.push("delivered".to_string());
            }
            c.push_str(&parts.join(", "));
        }
    }
    c
}

/// Which packet a decision applies to: the `occurrence`-th packet (counting from 0) that
/// `from` sent with this sequence number, these SYN/FIN/RST bits and this much data.
///
/// Keying decisions by what a packet is, rather than by its position in the run, keeps them
/// attached to the same segments when shrinking removes other decisions: dropping one delay
/// may add or remove a retransmission somewhere, but it does not move every later fault onto
/// a different packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PacketKey {
    /// Sending host: 0 (A) or 1 (B).
    pub from: u8,
    /// SEG.SEQ (0 for a packet that does not parse).
    pub seq: u32,
    /// The SYN, FIN and RST bits.
    pub ctl: u8,
    /// Octets of data (of the whole packet, if it does not parse).
    pub len: u32,
    /// How many packets with the same fields `from` sent before this one.
    pub occurrence: u32,
}

/// The non-default decisions of a run, by packet. Packets not listed are delivered on time and
/// intact.
pub type Schedule = BTreeMap<PacketKey, Decision>;

/// The state of one direction of a link while a run draws decisions.
pub struct LinkState {
    /// Departure times of packets still queued on a bandwidth-limited link.
    queue: std::collections::VecDeque<Instant>,
    busy_until: Instant,
}

impl LinkState {
    /// An idle link.
    pub fn new() -> LinkState {
        LinkState {
            queue: std::collections::VecDeque::new(),
            busy_until: Instant::ZERO,
        }
    }
}

impl Default for LinkState {
    fn default() -> Self {
        LinkState::new()
    }
}

/// Draws the decision for a packet of `len` bytes sent at `now` over a link with `faults`, in
/// the fault phase. Every draw comes from `rng`, in a fixed order, so a seed reproduces it.
pub fn draw(
    faults: &Faults,
    link: &mut LinkState,
    rng: &mut ChaCha8Rng,
    now: Instant,
    len: usize,
) -> Decision {
    // Draw everything first, so that the number of draws per packet is fixed.
    let lost = rng.random_bool(faults.loss.clamp(0.0, 1.0));
    let dup = rng.random_bool(faults.duplicate.clamp(0.0, 1.0));
    let copy = |rng: &mut ChaCha8Rng| {
        let jitter_us = faults.jitter.as_micros() as u64;
        let extra_us = if jitter_us > 0 {
            rng.random_range(0..=jitter_us)
        } else {
            0
        };
        let corrupt = rng.random_bool(faults.corrupt.clamp(0.0, 1.0));
        let bit = rng.random_range(0..(len.max(1) as u32 * 8));
        Copy {
            extra_us,
            flip_bit: corrupt.then_some(bit),
        }
    };
    let first = copy(rng);
    let mut second = copy(rng);
    // Only a model that holds duplicates draws their hold, so other models draw as before.
    if !faults.hold.is_zero() {
        let hold_us = faults.hold.as_micros() as u64;
        second.extra_us += rng.random_range(hold_us / 2..=hold_us);
    }
    // Bandwidth: serialization delay and a drop-tail queue.
    let mut queue_us = 0;
    if let Some(bw) = faults.bandwidth.filter(|b| *b > 0) {
        while link.queue.front().is_some_and(|t| *t <= now) {
            link.queue.pop_front();
        }
        if link.queue.len() >= faults.queue_limit.max(1) {
            return Decision::lose(LossCause::QueueFull);
        }
        let tx = Duration::from_nanos((len as u64).saturating_mul(1_000_000_000) / bw);
        let start = link.busy_until.max(now);
        link.busy_until = start + tx;
        link.queue.push_back(link.busy_until);
        queue_us = link.busy_until.saturating_since(now).as_micros() as u64;
    }
    if faults.partitioned(now) {
        return Decision::lose(LossCause::Partition);
    }
    if lost {
        return Decision::lose(LossCause::Loss);
    }
    let first = Copy {
        extra_us: first.extra_us + queue_us,
        ..first
    };
    let copies = if dup {
        Copies::two(
            first,
            Copy {
                extra_us: second.extra_us + queue_us,
                ..second
            },
        )
    } else {
        Copies::one(first)
    };
    Decision { lost: None, copies }
}

/// Flips one bit of a packet.
pub fn flip(bytes: &mut [u8], bit: u32) {
    let i = (bit / 8) as usize;
    if let Some(b) = bytes.get_mut(i) {
        *b ^= 1 << (bit % 8);
    }
}
