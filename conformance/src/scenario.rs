//! Scripted scenarios: the RFC 793 figures and the handshake, four-way close and half-close
//! teaching flows, played through the network (`crate::net`) with no faults and fixed ISNs,
//! and rendered in the figures' notation.
//!
//! This module owns the small script language the figures need beyond a workload: user calls at
//! set times, old duplicate segments arriving from the network's past, a host crashing (losing
//! its TCBs), and a packet held back so that a later one overtakes it. Links have a 10 ms delay.

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};

use synack_core::wire::{Flags, Ipv4Header, Packet, TcpHeader};
use synack_core::{Config, Endpoint, Instant, Profile, SeqNum, SocketId, UserError};

use crate::net::faults::{Copies, Copy, Decision, Faults};
use crate::net::{Decider, Network};
use crate::sim::apps::Stacks;
use crate::sim::{stacks_of, Run, Users};
use crate::stacks::core::CoreStack;
use crate::stacks::{TcpStack, ADDRS};
use crate::trace::{render_rfc, Trace, TraceOptions};
use crate::Error;

/// Something a scenario does at a given time.
#[derive(Clone, Debug)]
pub enum Action {
    /// Passive OPEN on a port.
    Listen(usize, u16),
    /// Active OPEN from a port to the other host's port.
    Connect(usize, u16, u16),
    /// SEND this many octets on the host's connection.
    Send(usize, usize),
    /// CLOSE the host's connection.
    Close(usize),
    /// The host loses all its TCBs (and comes back with the next ISNs).
    Crash(usize),
    /// A segment from the network's past reaches `to`: from the other host's `src_port` to
    /// `dst_port`, with this SEQ, ACK (when ACK is among the flags) and flags.
    OldSegment {
        /// Receiving host.
        to: usize,
        /// Sender's port.
        src_port: u16,
        /// Receiver's port.
        dst_port: u16,
        /// SEG.SEQ.
        seq: u32,
        /// SEG.ACK.
        ack: u32,
        /// Control bits.
        flags: Flags,
    },
}

/// A scripted run.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The ISNs each host uses, in order (the last one repeats).
    pub isns: [Vec<u32>; 2],
    /// What happens, at which millisecond.
    pub actions: Vec<(u64, Action)>,
    /// Packets (by the order they were sent, from 0) held back by this many extra milliseconds.
    pub held: BTreeMap<u64, u64>,
    /// When the scenario ends, in milliseconds.
    pub until_ms: u64,
    /// TCP profile.
    pub profile: Profile,
    /// Keep listening after the first connection is accepted (otherwise the listener closes,
    /// so that a host with no connection shows CLOSED, as the figures draw it).
    pub keep_listening: bool,
}

fn stack(host: usize, isns: &[u32], profile: Profile) -> Box<dyn TcpStack> {
    let list = isns.to_vec();
    let mut next = 0usize;
    let isn = move |_: Instant, _: SocketAddrV4, _: SocketAddrV4| {
        let v = list.get(next).or(list.last()).copied().unwrap_or(0);
        next += 1;
        SeqNum(v)
    };
    let config = Config {
        profile,
        record_log: true,
        ..Config::default()
    };
    Box::new(CoreStack::new(Endpoint::with_isn(
        config,
        ADDRS[host],
        Box::new(isn),
    )))
}

/// Plays a scenario and returns its trace in RFC figure notation.
pub fn play(s: &Scenario) -> Result<String, Error> {
    let trace = Trace::new(&TraceOptions {
        keep_events: true,
        ..TraceOptions::default()
    })?;
    // A held packet is delivered late by the script's extra delay; every other one on time.
    let held = s
        .held
        .iter()
        .map(|(n, ms)| {
            let copy = Copy {
                extra_us: ms * 1000,
                flip_bit: None,
            };
            (
                *n,
                Decision {
                    lost: None,
                    copies: Copies::one(copy),
                },
            )
        })
        .collect();
    let mut run = Run {
        now: Instant::ZERO,
        stacks: [
            stack(0, &s.isns[0], s.profile),
            stack(1, &s.isns[1], s.profile),
        ],
        net: Network::new(
            [Faults::none(), Faults::none()],
            Decider::Numbered {
                decisions: held,
                until: Instant::from_nanos(u64::MAX),
            },
            false,
            trace,
        ),
    };
    let mut actions = s.actions.clone();
    actions.sort_by_key(|(t, _)| *t);
    let mut script = Script {
        s,
        actions: actions.into(),
        current: [None, None],
        listeners: [None, None],
        isn_used: [0, 0],
        error: None,
    };
    run.run(&mut script, Instant::from_millis(s.until_ms));
    if let Some(e) = script.error {
        return Err(e);
    }
    Ok(render_rfc(&run.net.finish().trace.events))
}

/// The users of a scenario: its actions, at their times.
struct Script<'a> {
    s: &'a Scenario,
    actions: VecDeque<(u64, Action)>,
    /// Each host's connection (or listener) that SEND and CLOSE apply to.
    current: [Option<SocketId>; 2],
    listeners: [Option<SocketId>; 2],
    /// After a crash a host takes the ISNs after those it used before.
    isn_used: [usize; 2],
    error: Option<Error>,
}

fn call<T>(r: Result<T, UserError>) -> Result<T, Error> {
    r.map_err(|e| Error::cannot_run(format!("the script's call failed: {e}")))
}

impl Script<'_> {
    fn perform(
        &mut self,
        now: Instant,
        action: Action,
        stacks: &mut Stacks,
        net: &mut Network,
    ) -> Result<(), Error> {
        match action {
            Action::Listen(h, port) => {
                let id = call(stacks[h].listen(port))?;
                self.listeners[h] = Some(id);
                self.current[h] = Some(id);
            }
            Action::Connect(h, port, remote_port) => {
                let remote = SocketAddrV4::new(ADDRS[1 - h], remote_port);
                self.current[h] = Some(call(stacks[h].connect(now, remote, Some(port)))?);
            }
            Action::Send(h, n) => {
                let id = self.current[h].ok_or(Error::cannot_run("SEND with no connection"))?;
                call(stacks[h].send(now, id, &vec![0x61; n]))?;
            }
            Action::Close(h) => {
                let id = self.current[h].ok_or(Error::cannot_run("CLOSE with no connection"))?;
                call(stacks[h].close(id))?;
            }
            Action::Crash(h) => {
                self.isn_used[h] += 1;
                let isns = &self.s.isns[h];
                let rest = isns
                    .get(self.isn_used[h]..)
                    .filter(|r| !r.is_empty())
                    .unwrap_or(isns);
                stacks[h] = stack(h, rest, self.s.profile);
                self.current[h] = None;
                self.listeners[h] = None;
            }
            Action::OldSegment {
                to,
                src_port,
                dst_port,
                seq,
                ack,
                flags,
            } => {
                let mut tcp = TcpHeader::new(src_port, dst_port, SeqNum(seq), SeqNum(ack), flags);
                tcp.window = 8192;
                let bytes = Packet {
                    ip: Ipv4Header::new(ADDRS[1 - to], ADDRS[to]),
                    tcp,
                    payload: &[],
                }
                .to_bytes()
                .map_err(|e| Error::cannot_run(format!("the old segment: {e}")))?;
                let a = net.inject(now, to, bytes, crate::trace::Injected::OldDuplicate);
                stacks[to].handle_packet(now, &a.bytes);
                net.arrived(now, a, stacks_of(stacks));
            }
        }
        Ok(())
    }
}

impl Users for Script<'_> {
    fn act(&mut self, now: Instant, stacks: &mut Stacks, net: &mut Network) {
        // Accept what the listeners hold; the accepted connection becomes the host's own.
        for (h, stack) in stacks.iter_mut().enumerate() {
            if let Some(l) = self.listeners[h] {
                if let Ok(Some(id)) = stack.accept(l) {
                    self.current[h] = Some(id);
                    if !self.s.keep_listening {
                        let _ = stack.close(l);
                        self.listeners[h] = None;
                    }
                }
            }
        }
        // One action due now; the loop comes back at once for the next one at the same time.
        if self.next_call().is_some_and(|t| t <= now) {
            if let Some((_, action)) = self.actions.pop_front() {
                if let Err(e) = self.perform(now, action, stacks, net) {
                    self.error.get_or_insert(e);
                }
            }
        }
        for stack in stacks.iter_mut() {
            while stack.poll_event().is_some() {}
        }
    }

    fn next_call(&self) -> Option<Instant> {
        self.actions.front().map(|(t, _)| Instant::from_millis(*t))
    }

    fn finished(&mut self, _now: Instant, _stacks: &Stacks) -> bool {
        self.error.is_some()
    }
}

/// The client's and server's ports in the figures.
pub const A_PORT: u16 = 1000;
/// The server's port.
pub const B_PORT: u16 = 80;

/// A and B joined by the three-way handshake: A (ISN `a`) opens actively to B (ISN `b`).
fn handshake(a: u32, b: u32) -> Scenario {
    Scenario {
        isns: [vec![a], vec![b]],
        actions: vec![
            (0, Action::Listen(1, B_PORT)),
            (0, Action::Connect(0, A_PORT, B_PORT)),
        ],
        held: BTreeMap::new(),
        until_ms: 100,
        profile: Profile::Rfc9293,
        keep_listening: false,
    }
}

/// The figures and flows, by name.
pub fn all() -> Vec<(&'static str, Scenario)> {
    let mut v = Vec::new();
    // Figure 7: the basic three-way handshake, then data.
    let mut s = handshake(100, 300);
    s.actions.push((100, Action::Send(0, 5)));
    s.until_ms = 150;
    v.push(("rfc793_figure_7_basic_handshake", s));
    // Figure 8: both open at once.
    v.push((
        "rfc793_figure_8_simultaneous_open",
        Scenario {
            isns: [vec![100], vec![300]],
            actions: vec![
                (0, Action::Connect(0, A_PORT, B_PORT)),
                (0, Action::Connect(1, B_PORT, A_PORT)),
            ],
            held: BTreeMap::new(),
            until_ms: 100,
            profile: Profile::Rfc9293,
            keep_listening: false,
        },
    ));
    // Figure 9: an old duplicate SYN reaches B before A's own SYN, which is held back.
    v.push((
        "rfc793_figure_9_recovery_from_old_duplicate_syn",
        Scenario {
            isns: [vec![100], vec![300, 400]],
            actions: vec![
                (0, Action::Listen(1, B_PORT)),
                (0, Action::Connect(0, A_PORT, B_PORT)),
                (
                    1,
                    Action::OldSegment {
                        to: 1,
                        src_port: A_PORT,
                        dst_port: B_PORT,
                        seq: 90,
                        ack: 0,
                        flags: Flags::SYN,
                    },
                ),
            ],
            held: [(0, 50)].into_iter().collect(),
            until_ms: 200,
            profile: Profile::Rfc9293,
            keep_listening: false,
        },
    ));
    // Figure 10: A crashes; its new SYN meets B's half-open connection.
    let mut s = handshake(99, 299);
    s.isns[0] = vec![99, 400];
    s.actions.extend([
        (100, Action::Crash(0)),
        (110, Action::Connect(0, A_PORT, B_PORT)),
    ]);
    s.until_ms = 1200;
    // B still listens, so A's next SYN starts the basic handshake (the figure's line 7).
    s.keep_listening = true;
    v.push(("rfc793_figure_10_half_open_connection_discovery", s));
    // Figure 11: A crashes; B's data meets no connection.
    let mut s = handshake(99, 299);
    s.actions
        .extend([(100, Action::Crash(0)), (110, Action::Send(1, 10))]);
    s.until_ms = 200;
    v.push(("rfc793_figure_11_active_side_causes_half_open_discovery", s));
    // Figure 12: an old duplicate SYN between two listeners.
    v.push((
        "rfc793_figure_12_old_duplicate_syn_initiates_a_reset_on_two_passive_sockets",
        Scenario {
            isns: [vec![100], vec![300]],
            actions: vec![
                (0, Action::Listen(0, A_PORT)),
                (0, Action::Listen(1, B_PORT)),
                (
                    1,
                    Action::OldSegment {
                        to: 1,
                        src_port: A_PORT,
                        dst_port: B_PORT,
                        seq: 90,
                        ack: 0,
                        flags: Flags::SYN,
                    },
                ),
            ],
            held: BTreeMap::new(),
            until_ms: 100,
            profile: Profile::Rfc9293,
            keep_listening: false,
        },
    ));
    // Figure 13: A closes, then B.
    let mut s = handshake(99, 299);
    s.actions
        .extend([(100, Action::Close(0)), (200, Action::Close(1))]);
    s.until_ms = 300_000;
    v.push(("rfc793_figure_13_normal_close", s));
    // Figure 14: both close at once.
    let mut s = handshake(99, 299);
    s.actions
        .extend([(100, Action::Close(0)), (100, Action::Close(1))]);
    s.until_ms = 300_000;
    v.push(("rfc793_figure_14_simultaneous_close", s));
    // The handshake, four-way close and half-close teaching flows.
    v.push(("flow_three_way_handshake", handshake(100, 300)));
    let mut s = handshake(100, 300);
    s.actions
        .extend([(100, Action::Close(0)), (200, Action::Close(1))]);
    s.until_ms = 300_000;
    v.push(("flow_four_way_close", s));
    let mut s = handshake(100, 300);
    s.actions.extend([
        (100, Action::Close(0)),
        (150, Action::Send(1, 1000)),
        (200, Action::Send(1, 1000)),
        (300, Action::Close(1)),
    ]);
    s.until_ms = 300_000;
    v.push(("flow_half_close_passive_side_keeps_sending", s));
    v
}

/// A's address, for callers that build their own scenarios.
pub fn addr(host: usize) -> Ipv4Addr {
    ADDRS[host]
}
