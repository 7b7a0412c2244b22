//! The network between two hosts: the one packet path of every harness.
//!
//! This module owns what happens to a packet between the stack that sent it and the stack that
//! receives it, for the simulator, the scripted scenarios and the interop boundary alike:
//! - numbering each packet, and parsing it once into a [`Summary`] as it leaves its sender;
//! - deciding its fate ([`Decider`]: drawn from the links' fault models, replayed from a
//!   [`Schedule`] keyed by packet identity, or given by packet number) and applying it: loss,
//!   copies, delay, flipped bits;
//! - the event queue of copies in flight, ordered by (arrival time, order sent);
//! - emitting the trace: every packet sent, every copy that arrives, every state change.
//!
//! It never calls a stack: callers hand it packets and take arrivals back, and pass the
//! stacks in only so that the trace can show each connection's states.

pub mod faults;
pub mod summary;

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use synack_core::wire::{Flags, WireError};
use synack_core::{Instant, State};

use crate::stacks::{TcpStack, Transition};
use crate::trace::{Finished, Trace, TraceEvent};
use faults::{Decision, Faults, LinkState, PacketKey, Schedule};
pub use summary::Summary;

/// How many distinct packet identities a run remembers for `PacketKey::occurrence`. A packet
/// sent again after this many others restarts its count, the same way in every replay.
const SEEN_LIMIT: usize = 4096;

/// The stacks whose states the trace shows, by host; `None` for a host the harness cannot ask
/// (the kernel, across the TUN device).
pub type Hosts<'a> = [Option<&'a dyn TcpStack>; 2];

/// How each packet's fate is decided.
pub enum Decider {
    /// Drawn from the links' fault models while `now < heal`; delivered after.
    Draw {
        /// The run's network stream.
        rng: Box<ChaCha8Rng>,
        /// When the network heals.
        heal: Instant,
    },
    /// Replayed by packet identity; packets not listed are delivered intact and on time.
    Schedule(Schedule),
    /// Given by packet number (the order packets entered the network) for packets sent before
    /// `until`; packets not listed, and all packets from `until` on, are delivered intact and
    /// on time.
    Numbered {
        /// The decisions.
        decisions: BTreeMap<u64, Decision>,
        /// When the network heals.
        until: Instant,
    },
}

/// One direction of the link: its fault model and its queue.
struct Link {
    model: Faults,
    state: LinkState,
}

/// A copy of a packet in flight: when it arrives, the order it was sent in, and its slot in
/// `Network::slots` (the queue moves these few octets, not the packets).
#[derive(Clone, Copy)]
struct Flight {
    at: Instant,
    order: u64,
    slot: usize,
}

impl PartialEq for Flight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl Eq for Flight {}
impl PartialOrd for Flight {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Flight {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

/// The copies in flight, taken in (arrival time, order sent) order. Most copies arrive in the
/// order they were sent (always, on a link without jitter), so they wait in a plain queue; only
/// a copy that would arrive before the last one queued goes to the heap. Taking the earlier of
/// the two fronts gives the same order as one heap would.
#[derive(Default)]
struct Flights {
    in_order: VecDeque<Flight>,
    heap: BinaryHeap<Reverse<Flight>>,
}

impl Flights {
    fn push(&mut self, f: Flight) {
        if self.in_order.back().is_none_or(|b| *b <= f) {
            self.in_order.push_back(f);
        } else {
            self.heap.push(Reverse(f));
        }
    }

    fn peek(&self) -> Option<Flight> {
        match (self.in_order.front(), self.heap.peek()) {
            (Some(a), Some(Reverse(b))) => Some(if a <= b { *a } else { *b }),
            (Some(a), None) => Some(*a),
            (None, Some(Reverse(b))) => Some(*b),
            (None, None) => None,
        }
    }

    fn pop(&mut self) -> Option<Flight> {
        let from_queue = match (self.in_order.front(), self.heap.peek()) {
            (Some(a), Some(Reverse(b))) => a <= b,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if from_queue {
            self.in_order.pop_front()
        } else {
            self.heap.pop().map(|Reverse(f)| f)
        }
    }

    fn is_empty(&self) -> bool {
        self.in_order.is_empty() && self.heap.is_empty()
    }
}

/// A copy of a packet reaching its receiver.
#[derive(Debug)]
pub struct Arrival {
    /// Packet number.
    pub n: u64,
    /// Receiving host.
    pub to: usize,
    /// Whether a bit of this copy was flipped (the receiver's checksum must catch it).
    pub corrupted: bool,
    /// The sender's packet, as summarised when it was sent.
    pub summary: Result<Summary, WireError>,
    /// The octets that arrive.
    pub bytes: Vec<u8>,
}

/// What the network did with a packet it was handed.
#[derive(Clone, Copy, Debug)]
pub struct Sent {
    /// Packet number.
    pub n: u64,
    /// The packet's summary.
    pub summary: Result<Summary, WireError>,
    /// Its fate.
    pub decision: Decision,
}

/// What a network leaves when it is done.
#[derive(Debug, Default)]
pub struct Record {
    /// Packets the hosts sent.
    pub packets: u64,
    /// Packets that suffered a fault.
    pub faulty: usize,
    /// The non-default decisions, if kept.
    pub schedule: Schedule,
    /// The trace.
    pub trace: Finished,
}

/// The network.
pub struct Network {
    links: [Link; 2],
    decider: Decider,
    queue: Flights,
    /// The copies in flight, by slot; `free` lists the empty slots.
    slots: Vec<Option<Arrival>>,
    free: Vec<usize>,
    order: u64,
    packets: u64,
    faulty: usize,
    /// Packet identities seen, for `PacketKey::occurrence`: kept only when a schedule is
    /// replayed or recorded, for the last `SEEN_LIMIT` distinct keys.
    seen: BTreeMap<(u8, u32, u8, u32), u32>,
    seen_order: VecDeque<(u8, u32, u8, u32)>,
    keep_schedule: bool,
    schedule: Schedule,
    trace: Trace,
    /// Buffers of delivered packets, handed out again.
    pool: Vec<Vec<u8>>,
}

impl Network {
    /// A network whose two directions (A to B, B to A) follow `models`.
    pub fn new(
        models: [Faults; 2],
        decider: Decider,
        keep_schedule: bool,
        trace: Trace,
    ) -> Network {
        let [a, b] = models;
        Network {
            links: [
                Link {
                    model: a,
                    state: LinkState::new(),
                },
                Link {
                    model: b,
                    state: LinkState::new(),
                },
            ],
            decider,
            queue: Flights::default(),
            slots: Vec::new(),
            free: Vec::new(),
            order: 0,
            packets: 0,
            faulty: 0,
            seen: BTreeMap::new(),
            seen_order: VecDeque::new(),
            keep_schedule,
            schedule: Schedule::new(),
            trace,
            pool: Vec::new(),
        }
    }

    /// How many copies are in flight.
    pub fn in_flight(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// An empty buffer for the next packet a stack sends.
    pub fn buffer(&mut self) -> Vec<u8> {
        self.pool.pop().unwrap_or_else(|| Vec::with_capacity(1600))
    }

    /// Takes back a buffer the caller is done with.
    pub fn recycle(&mut self, mut bytes: Vec<u8>) {
        bytes.clear();
        self.pool.push(bytes);
    }

    /// When the next copy in flight arrives.
    pub fn next_arrival(&self) -> Option<Instant> {
        self.queue.peek().map(|f| f.at)
    }

    /// Whether nothing is in flight.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// Host `from` sent `bytes` at `now`: parse it once, decide its fate, record it, show it to
    /// `seen` (with its octets), and put its copies in flight. The buffer is the network's from
    /// here on.
    pub fn send(
        &mut self,
        now: Instant,
        from: usize,
        bytes: Vec<u8>,
        hosts: Hosts<'_>,
        seen: impl FnOnce(&Sent, &[u8]),
    ) {
        let summary = Summary::parse(&bytes);
        let n = self.packets;
        self.packets += 1;
        let decision = self.decide(now, n, from, &summary, bytes.len());
        if decision.is_fault() {
            self.faulty += 1;
        }
        // States are shown in kept traces only: they follow from the packets and the reported
        // transitions, which the hash covers, so the hash does not need them.
        let sender_state = match (&summary, self.trace.keeps_events()) {
            (Ok(s), true) => state_at(hosts, from, from, s),
            _ => None,
        };
        self.trace.record(
            TraceEvent::Sent {
                n,
                at_ns: now.as_nanos(),
                from,
                segment: summary,
                len: bytes.len(),
                decision,
                sender_state,
                injected: None,
            },
            &bytes,
        );
        seen(
            &Sent {
                n,
                summary,
                decision,
            },
            &bytes,
        );
        self.launch(now, from, n, summary, decision, bytes);
    }

    /// A segment from no connection of the other host's (`origin`: an old duplicate from the
    /// network's past, or a forgery) reaches `to` now, as if sent by the other host: recorded,
    /// and returned for delivery at once.
    pub fn inject(
        &mut self,
        now: Instant,
        to: usize,
        bytes: Vec<u8>,
        origin: crate::trace::Injected,
    ) -> Arrival {
        let summary = Summary::parse(&bytes);
        let n = self.packets;
        self.packets += 1;
        self.trace.record(
            TraceEvent::Sent {
                n,
                at_ns: now.as_nanos(),
                from: 1 - to,
                segment: summary,
                len: bytes.len(),
                decision: Decision::DELIVER,
                sender_state: None,
                injected: Some(origin),
            },
            &bytes,
        );
        if self.trace.wants_wire() {
            let host = ["A", "B"][(1 - to).min(1)];
            self.trace.wire(now, &bytes, || {
                format!(
                    "packet {n}, as if from {host}: {} (sent by no connection)",
                    origin.describe()
                )
            });
        }
        Arrival {
            n,
            to,
            corrupted: false,
            summary,
            bytes,
        }
    }

    fn decide(
        &mut self,
        now: Instant,
        n: u64,
        from: usize,
        summary: &Result<Summary, WireError>,
        len: usize,
    ) -> Decision {
        let tracked = self.keep_schedule || matches!(self.decider, Decider::Schedule(_));
        let key = tracked.then(|| self.key(from, summary, len));
        let decision = match &mut self.decider {
            Decider::Numbered { decisions, until } if now < *until => {
                decisions.get(&n).copied().unwrap_or(Decision::DELIVER)
            }
            Decider::Numbered { .. } => Decision::DELIVER,
            Decider::Schedule(schedule) => key
                .and_then(|k| schedule.get(&k).copied())
                .unwrap_or(Decision::DELIVER),
            Decider::Draw { rng, heal } if now < *heal => {
                let link = &mut self.links[from];
                faults::draw(&link.model, &mut link.state, &mut *rng, now, len)
            }
            Decider::Draw { .. } => Decision::DELIVER,
        };
        if let (true, Some(k)) = (self.keep_schedule && decision.is_fault(), key) {
            self.schedule.insert(k, decision);
        }
        decision
    }

    fn launch(
        &mut self,
        now: Instant,
        from: usize,
        n: u64,
        summary: Result<Summary, WireError>,
        decision: Decision,
        bytes: Vec<u8>,
    ) {
        let delay = self.links[from].model.delay;
        let wants_wire = self.trace.wants_wire();
        if decision.copies.is_empty() && wants_wire {
            self.trace
                .wire(now, &bytes, || faults::comment(n, from, &decision, None));
        }
        let mut bytes = Some(bytes);
        let copies = decision.copies.len();
        for (i, copy) in decision.copies.iter().enumerate() {
            // The last copy takes the sender's buffer; earlier ones are copied from it.
            let mut b = if i + 1 == copies {
                bytes.take().unwrap_or_default()
            } else {
                let mut b = self.buffer();
                b.extend_from_slice(bytes.as_deref().unwrap_or_default());
                b
            };
            if let Some(bit) = copy.flip_bit {
                faults::flip(&mut b, bit);
            }
            if wants_wire {
                self.trace
                    .wire(now, &b, || faults::comment(n, from, &decision, Some(i)));
            }
            self.order += 1;
            let arrival = Arrival {
                n,
                to: 1 - from,
                // A bit past the packet's end (a schedule written for a longer packet) flips
                // nothing.
                corrupted: copy
                    .flip_bit
                    .is_some_and(|bit| (bit as usize) < b.len() * 8),
                summary,
                bytes: b,
            };
            let slot = match self.free.pop() {
                Some(i) => {
                    self.slots[i] = Some(arrival);
                    i
                }
                None => {
                    self.slots.push(Some(arrival));
                    self.slots.len() - 1
                }
            };
            self.queue.push(Flight {
                at: now + delay + Duration::from_micros(copy.extra_us),
                order: self.order,
                slot,
            });
        }
        if let Some(b) = bytes {
            self.recycle(b);
        }
    }

    /// The next copy due at or before `now`, if any.
    pub fn pop_due(&mut self, now: Instant) -> Option<Arrival> {
        if self.queue.peek().is_none_or(|f| f.at > now) {
            return None;
        }
        let slot = self.queue.pop()?.slot;
        self.free.push(slot);
        self.slots.get_mut(slot).and_then(Option::take)
    }

    /// The receiver has taken `arrival`: record it with the states it left, and keep the
    /// buffer for a later packet.
    pub fn arrived(&mut self, now: Instant, arrival: Arrival, hosts: Hosts<'_>) {
        let states = match &arrival.summary {
            Ok(s) if self.trace.keeps_events() => {
                let from = 1 - arrival.to;
                [state_at(hosts, 0, from, s), state_at(hosts, 1, from, s)]
            }
            _ => [None, None],
        };
        self.trace.record(
            TraceEvent::Arrived {
                n: arrival.n,
                at_ns: now.as_nanos(),
                to: arrival.to,
                corrupted: arrival.corrupted,
                states,
            },
            &[],
        );
        self.recycle(arrival.bytes);
    }

    /// Host `host`'s timers ran (kept traces only).
    pub fn timer(&mut self, now: Instant, host: usize) {
        if self.trace.keeps_events() {
            self.trace.record(
                TraceEvent::Timer {
                    at_ns: now.as_nanos(),
                    host,
                },
                &[],
            );
        }
    }

    /// An application on `host` made a user call, described by `what` (kept traces only; the
    /// description is made only then).
    pub fn call(&mut self, now: Instant, host: usize, what: impl FnOnce() -> String) {
        if self.trace.keeps_events() {
            self.trace.record(
                TraceEvent::Call {
                    at_ns: now.as_nanos(),
                    host,
                    what: what(),
                },
                &[],
            );
        }
    }

    /// Records a state change a stack reported.
    pub fn transition(&mut self, now: Instant, host: usize, t: &Transition) {
        self.trace.record(
            TraceEvent::State {
                at_ns: now.as_nanos(),
                host,
                socket: t.socket.0,
                from: t.from,
                to: t.to,
            },
            &[],
        );
    }

    /// The identity of a packet for schedules: who sent it, SEQ, SYN/FIN/RST, data length,
    /// and how many such packets came before.
    fn key(&mut self, from: usize, summary: &Result<Summary, WireError>, len: usize) -> PacketKey {
        let (seq, ctl, len) = match summary {
            Ok(s) => (
                s.seq.get(),
                (s.flags & (Flags::SYN | Flags::FIN | Flags::RST)).bits(),
                s.len,
            ),
            Err(_) => (0, 0, len as u32),
        };
        let k = (from as u8, seq, ctl, len);
        let count = self.seen.entry(k).or_insert_with(|| {
            self.seen_order.push_back(k);
            0
        });
        let occurrence = *count;
        *count += 1;
        if self.seen_order.len() > SEEN_LIMIT {
            if let Some(old) = self.seen_order.pop_front() {
                self.seen.remove(&old);
            }
        }
        PacketKey {
            from: from as u8,
            seq,
            ctl,
            len,
            occurrence,
        }
    }

    /// Ends the run's network.
    pub fn finish(self) -> Record {
        Record {
            packets: self.packets,
            faulty: self.faulty,
            schedule: self.schedule,
            trace: self.trace.finish(),
        }
    }
}

/// The state, on host `h`, of the connection a segment sent by host `from` belongs to (`None`
/// where the host has neither a connection nor a listener for it, or cannot be asked).
pub fn state_at(hosts: Hosts<'_>, h: usize, from: usize, s: &Summary) -> Option<State> {
    let stack = hosts[h]?;
    let (local, remote) = if h == from {
        (s.src, s.dst)
    } else {
        (s.dst, s.src)
    };
    stack.conn_state(local, remote)
}
