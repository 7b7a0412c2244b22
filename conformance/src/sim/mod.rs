//! The seeded discrete-event network simulator.
//!
//! This module owns a run: two hosts (A, the client, at 10.0.0.1; B, the server, at 10.0.0.2),
//! each a `TcpStack` with its applications (`apps`), joined by the network (`crate::net`),
//! whose two directions have their own fault models. Time jumps to the next arrival or timer,
//! so waiting out TIME-WAIT or an RTO backoff costs nothing. Every step the oracles (`oracle`)
//! judge what the stacks reported, and coverage (`coverage`) counts what was exercised.
//!
//! A run has one seed. Separate ChaCha streams, all derived from it, draw the fault models and
//! the fault phase, the per-packet fault decisions, the workload, and the ISN keys, so that
//! changing how one is drawn does not reshuffle the others. The network is faulty for the
//! drawn fault phase, then heals; every connection must then finish within
//! [`LIVENESS_BOUND`].

pub mod apps;
pub mod attacker;
pub mod conditions;
pub mod coverage;
pub mod oracle;
pub mod view;
pub mod wire;
pub mod workload;

use std::collections::BTreeMap;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use synack_core::{Config, Instant, State};

use crate::net::faults::{self, Decision, Schedule};
use crate::net::{Decider, Network, Summary};
use crate::reference::Event;
use crate::stacks::{known, Pairing, StackFactory, Transition};
use crate::trace::{Trace, TraceEvent, TraceOptions};
use crate::Error;
use apps::{Apps, Ctx, Stacks};
use conditions::Conditions;
use coverage::Coverage;
use oracle::{Failure, Oracle, Verdict};
use wire::WireOracle;
use workload::{Kind, Workload};

/// After the network heals, every connection must be CLOSED within this much virtual time: the
/// largest RTO (60 s) before the first retransmission after the heal, the transfers themselves,
/// and 2×MSL (240 s) of TIME-WAIT, with room to spare.
pub const LIVENESS_BOUND: Duration = Duration::from_secs(600);

/// How long explicit decisions (`RunSpec::decisions`) apply: the network then heals, as a
/// drawn one does after its fault phase, well before a correct connection's user timeout.
pub const DECISIONS_PHASE: Duration = Duration::from_secs(30);

/// The largest transfer a drawn workload makes by default, in octets (4 MiB).
pub const DEFAULT_MAX_BYTES: u64 = 4 << 20;

/// Stream numbers of the run's ChaCha generators.
mod streams {
    pub const NETWORK: u64 = 0;
    pub const FAULTS: u64 = 1;
    pub const WORKLOAD: u64 = 2;
    pub const ISN: u64 = 3;
    /// The applications' chunk sizes: a stream of its own, so that a run whose workload is
    /// given (a regression file's) writes and reads in the same chunks as the run that drew it.
    pub const CHUNKS: u64 = 4;
    /// The swarm profile's conditions (`super::conditions`): a stream of their own, so that
    /// the fault models a seed draws stay what they were.
    pub const CONDITIONS: u64 = 5;
}

/// Everything that decides a run.
#[derive(Clone, Debug, Serialize)]
pub struct RunSpec {
    /// The seed.
    pub seed: u64,
    /// The fault profile.
    pub faults: faults::Profile,
    /// The TCP profile of both stacks.
    #[serde(serialize_with = "profile_name")]
    pub profile: synack_core::Profile,
    /// The workload kind; drawn from the seed when `None`.
    pub workload: Option<Kind>,
    /// Largest transfer of a drawn workload, in octets.
    pub max_bytes: u64,
    /// Replay these fault decisions instead of drawing them (packets not listed are delivered
    /// intact and on time).
    #[serde(skip)]
    pub schedule: Option<Schedule>,
    /// A fixed workload, overriding the drawn one.
    #[serde(skip)]
    pub fixed: Option<Workload>,
    /// Explicit decisions by packet number (the order packets entered the network), for the
    /// `sim` fuzz target: packets past the list, and every packet sent after
    /// [`DECISIONS_PHASE`], are delivered intact and on time.
    #[serde(skip)]
    pub decisions: Option<Vec<Decision>>,
    /// Instead of a drawn workload, one bulk transfer of this many octets from A to B
    /// (`--transfer`); `fixed` takes precedence.
    pub transfer: Option<u64>,
    /// The stacks of the two hosts, and a bug planted in both: [`run`] builds them, and the
    /// replay command names them. ([`run_with`] takes a factory of its own.)
    #[serde(skip)]
    pub stacks: Pairing,
    /// The fixed conditions by name (`conditions::fixed`, `--conditions`), if given;
    /// otherwise the swarm profile draws them from the seed and the others run without (see
    /// [`conditions`]).
    #[serde(skip)]
    pub conditions: Option<&'static str>,
}

impl RunSpec {
    /// A run of `seed` under `faults` with the defaults: RFC 9293, a drawn workload, transfers
    /// up to [`DEFAULT_MAX_BYTES`].
    pub fn new(seed: u64, faults: faults::Profile) -> RunSpec {
        RunSpec {
            seed,
            faults,
            profile: synack_core::Profile::Rfc9293,
            workload: None,
            max_bytes: DEFAULT_MAX_BYTES,
            schedule: None,
            fixed: None,
            decisions: None,
            transfer: None,
            stacks: Pairing::core(),
            conditions: None,
        }
    }

    /// The run's conditions: given, or drawn from the seed under the swarm profile.
    pub fn conditions(&self) -> Conditions {
        match self
            .conditions
            .and_then(|name| conditions::by_name(name).ok())
        {
            Some(f) => f.conditions,
            None if self.faults == faults::Profile::Swarm && self.decisions.is_none() => {
                Conditions::draw(&mut rng(self.seed, streams::CONDITIONS))
            }
            None => Conditions::default(),
        }
    }

    /// The `synack replay` command that reproduces this run: every setting that differs from
    /// the default is spelled out. Sweep output, sweep reports and the tests all take it from
    /// here. (A run from a regression file replays with `--regression FILE`, and a run with
    /// explicit decisions with its fuzz input; neither is a command line.)
    pub fn replay_command(&self) -> String {
        let mut cmd = format!(
            "synack replay --seed {} --faults {} --profile {}",
            self.seed,
            self.faults,
            self.profile.name()
        );
        if let Some(w) = self.workload {
            cmd.push_str(&format!(" --workload {w}"));
        }
        if self.max_bytes != DEFAULT_MAX_BYTES {
            cmd.push_str(&format!(" --max-bytes {}", self.max_bytes));
        }
        if let Some(n) = self.transfer {
            cmd.push_str(&format!(" --transfer {n}"));
        }
        if (self.stacks.client.name, self.stacks.server.name) != ("core", "core") {
            cmd.push_str(&format!(" --stacks {}", self.stacks.names()));
        }
        if let Some(b) = self.stacks.plant {
            cmd.push_str(&format!(" --plant {b}"));
        }
        if let Some(c) = self.conditions {
            cmd.push_str(&format!(" --conditions {c}"));
        }
        cmd
    }
}

/// What a run produced.
#[derive(Debug, Serialize)]
pub struct RunResult {
    /// The seed.
    pub seed: u64,
    /// The workload that ran.
    pub workload: Kind,
    /// Its full plan, for regression files.
    #[serde(skip)]
    pub plan: Workload,
    /// Connections in the workload.
    pub connections: usize,
    /// Octets the applications wrote, both ways.
    pub bytes: u64,
    /// The first failed oracle, if any.
    pub failure: Option<Failure>,
    /// BLAKE3 of the trace's binary encoding (see `crate::trace`).
    pub trace_hash: String,
    /// Packets sent by both hosts.
    pub packets: u64,
    /// Packets that suffered a fault.
    pub faults: usize,
    /// Virtual time at the end.
    pub end_ns: u64,
    /// When the network healed.
    pub heal_ns: u64,
    /// The fault decisions made (non-default ones only), if `TraceOptions::keep_schedule`.
    #[serde(skip)]
    pub schedule: Schedule,
    /// The trace events, if kept.
    #[serde(skip)]
    pub events: Vec<TraceEvent>,
    /// How often each state change happened.
    #[serde(skip)]
    pub transitions: BTreeMap<(State, State), u64>,
    /// How often each reference-table cell was exercised: the state a connection was in and
    /// the event it met (segments classified against the receiver's own variables, as the
    /// simulator sees them on the wire).
    #[serde(skip)]
    pub cells: BTreeMap<(State, Event), u64>,
    /// Every packet on the wire, if `TraceOptions::keep_packets`.
    #[serde(skip)]
    pub wire: Vec<Vec<u8>>,
    /// How many segments each wire requirement was checked on (see [`wire`]).
    #[serde(skip)]
    pub requirement_checks: BTreeMap<&'static str, u64>,
    /// Known differences from the RFCs the stacks showed (ids, see `crate::stacks::known`).
    pub known: Vec<&'static str>,
    /// The conditions the run had.
    pub conditions: Conditions,
    /// The known difference that explains the failure, if one does: the run failed as
    /// expected.
    pub expected: Option<&'static str>,
}

fn profile_name<S: serde::Serializer>(p: &synack_core::Profile, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.name())
}

fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

/// Runs one seed on the stacks it names (`RunSpec::stacks`).
pub fn run(spec: &RunSpec, trace: &TraceOptions) -> Result<RunResult, Error> {
    let stacks = spec.stacks;
    run_with(spec, trace, &move |h, c, k| stacks.build(h, c, k))
}

/// Runs one seed with the given stacks.
pub fn run_with(
    spec: &RunSpec,
    trace: &TraceOptions,
    factory: StackFactory<'_>,
) -> Result<RunResult, Error> {
    let mut fault_rng = rng(spec.seed, streams::FAULTS);
    let fault_phase = Duration::from_millis(fault_rng.random_range(1_000..60_000));
    let mut models = spec.faults.models(&mut fault_rng, fault_phase);
    let conditions = spec.conditions();
    for m in &mut models {
        conditions.faults(m);
    }
    let mut workload_rng = rng(spec.seed, streams::WORKLOAD);
    let workload = spec
        .fixed
        .clone()
        .or_else(|| spec.transfer.map(|n| Workload::fixed(Kind::Bulk, n, 0)))
        .unwrap_or_else(|| Workload::draw(&mut workload_rng, spec.workload, spec.max_bytes));
    let mut isn_rng = rng(spec.seed, streams::ISN);
    let config = Config {
        profile: spec.profile,
        record_log: true,
        ..Config::default()
    };
    let stacks: Stacks = [0, 1].map(|h| {
        let mut key = [0u8; 16];
        isn_rng.fill(&mut key);
        let mut config = config.clone();
        conditions.configure(h, &mut config);
        factory(h, config, key)
    });
    let heal = if spec.decisions.is_some() {
        Instant::ZERO + DECISIONS_PHASE
    } else if spec.faults == faults::Profile::None {
        Instant::ZERO
    } else {
        Instant::ZERO + fault_phase
    };
    let decider = match (&spec.decisions, &spec.schedule) {
        (Some(list), _) => Decider::Numbered {
            decisions: (0..).zip(list.iter().copied()).collect(),
            until: heal,
        },
        (None, Some(schedule)) => Decider::Schedule(schedule.clone()),
        (None, None) => Decider::Draw {
            rng: Box::new(rng(spec.seed, streams::NETWORK)),
            heal,
        },
    };
    let mut run = Run {
        now: Instant::ZERO,
        stacks,
        net: Network::new(models, decider, trace.keep_schedule, Trace::new(trace)?),
    };
    let mut users = Checked {
        profile: spec.profile,
        apps: Apps::new(&workload, spec.seed, &mut rng(spec.seed, streams::CHUNKS))
            .with_readers(conditions.read_pause, conditions.stall),
        coverage: Coverage::default(),
        verdict: Verdict::default(),
        wire: WireOracle::new(
            run.stacks.each_ref().map(|s| s.parameters()),
            Duration::ZERO,
        ),
        // RFC 5961's attacker, against stacks that declare its mitigations, while faults run.
        attacker: conditions
            .attack
            .filter(|_| {
                spec.profile == synack_core::Profile::Rfc9293
                    && run
                        .stacks
                        .iter()
                        .all(|s| s.parameters().challenge_ack_limit.is_some())
            })
            .map(|every| {
                let until = heal.max(Instant::ZERO + Duration::from_secs(5));
                attacker::Attacker::new(spec.seed, every, until)
            }),
    };
    users.apps.start(
        workload.kind,
        &workload.conns,
        &mut Ctx {
            now: run.now,
            stacks: &mut run.stacks,
            coverage: &mut users.coverage,
            verdict: &mut users.verdict,
            net: &mut run.net,
        },
    );
    run.run(&mut users, heal + LIVENESS_BOUND);
    let mut seen: Vec<&'static known::KnownDifference> = Vec::new();
    for stack in &run.stacks {
        for d in stack.known_differences() {
            if !seen.contains(&d) {
                seen.push(d);
            }
        }
    }
    let failure = users.verdict.outcome();
    let expected = failure
        .as_ref()
        .and_then(|f| known::explain(f, &seen))
        .map(|d| d.id);
    let end = run.now;
    let record = run.net.finish();
    if let Some(e) = record.trace.pcap_error {
        return Err(Error::Pcap(e));
    }
    let (transitions, cells) = users.coverage.finish();
    Ok(RunResult {
        seed: spec.seed,
        workload: workload.kind,
        connections: workload.conns.len(),
        bytes: workload.total_bytes(),
        plan: workload,
        failure,
        trace_hash: record.trace.hash,
        packets: record.packets,
        faults: record.faulty,
        end_ns: end.as_nanos(),
        heal_ns: heal.as_nanos(),
        schedule: record.schedule,
        events: record.trace.events,
        transitions,
        cells,
        wire: record.trace.packets,
        requirement_checks: users.wire.checks(),
        known: seen.iter().map(|d| d.id).collect(),
        conditions,
        expected,
    })
}

/// The users of the two stacks: what the event loop drives besides the stacks and the
/// network. The simulator's applications with their oracles are one; the scripted figures
/// (`crate::scenario`) are another.
pub trait Users {
    /// The users' turn at `now`: the user calls due, and reactions to what the stacks told.
    fn act(&mut self, now: Instant, stacks: &mut Stacks, net: &mut Network);
    /// When the next scripted call is due, if the users have one waiting.
    fn next_call(&self) -> Option<Instant> {
        None
    }
    /// Host `from` sent `segment`, carrying `data`, at `now`, and the network decided its fate.
    fn sent(
        &mut self,
        _now: Instant,
        _from: usize,
        _segment: &Summary,
        _data: &[u8],
        _decision: &Decision,
        _stacks: &Stacks,
    ) {
    }
    /// Host `from` sent a packet that does not parse (`err`) at `now`.
    fn malformed(&mut self, _now: Instant, _from: usize, _err: &synack_core::wire::WireError) {}
    /// `segment` is about to reach host `to`, intact, at `now`.
    fn arriving(&mut self, _now: Instant, _to: usize, _segment: &Summary, _stacks: &Stacks) {}
    /// Host `to` has handled `segment`, which arrived intact at `now`.
    fn handled(&mut self, _now: Instant, _to: usize, _segment: &Summary, _stacks: &Stacks) {}
    /// Host `host`'s timers are about to run.
    fn timers(&mut self, _host: usize, _stacks: &Stacks) {}
    /// Host `host` reported `t`; `timer` says whether its timers ran this step.
    fn transition(
        &mut self,
        _now: Instant,
        _host: usize,
        _t: &Transition,
        _timer: bool,
        _stacks: &Stacks,
    ) {
    }
    /// Whether the run is over after this step (a failure, or everything done).
    fn finished(&mut self, _now: Instant, _stacks: &Stacks) -> bool {
        false
    }
    /// Nothing is left to happen, or the bound passed, before the users finished.
    fn stalled(&mut self, _now: Instant, _why: &str, _stacks: &Stacks) {}
}

/// How the event loop's time moves on.
pub trait Clock {
    /// Moves time on from `now`, towards `next` (the next scripted call, arrival or timer; `None`
    /// if nothing is scheduled), and returns the new time; `None` ends the run with nothing
    /// left to happen.
    fn advance(&mut self, now: Instant, next: Option<Instant>) -> Option<Instant>;
}

/// Virtual time: the clock jumps to the next event, so that waiting out TIME-WAIT or an RTO
/// backoff costs nothing. Every simulated run uses it.
pub struct VirtualClock;

impl Clock for VirtualClock {
    fn advance(&mut self, _now: Instant, next: Option<Instant>) -> Option<Instant> {
        next
    }
}

/// The one event loop: the stacks, the network and the clock (virtual in the simulator and
/// the scripted figures, the wall clock at the interop boundary).
pub struct Run {
    /// The time of the current step.
    pub now: Instant,
    /// The hosts' stacks.
    pub stacks: Stacks,
    /// The network between them.
    pub net: Network,
}

impl Run {
    /// Runs in virtual time until the users finish, nothing is left to happen, or `bound`
    /// passes.
    pub fn run(&mut self, users: &mut dyn Users, bound: Instant) {
        self.run_on(&mut VirtualClock, users, bound);
    }

    /// Runs on `clock` until the users finish, nothing is left to happen, or `bound` passes.
    /// Each step: the users act, the stacks transmit, their state changes are reported; then
    /// the clock moves on to the next scripted call, arrival or timer, and the earliest that is
    /// due happens. A scripted call goes before an arrival at the same instant, an arrival
    /// before a timer.
    pub fn run_on(&mut self, clock: &mut dyn Clock, users: &mut dyn Users, bound: Instant) {
        let mut transitions = Vec::new();
        let mut timer_fired = [false; 2];
        loop {
            users.act(self.now, &mut self.stacks, &mut self.net);
            let burst = self.transmit(users);
            let why = match burst {
                Some(h) => Some(format!(
                    "host {} sent more than {BURST_LIMIT} segments at one instant without stopping",
                    if h == 0 { "A" } else { "B" }
                )),
                None if self.net.in_flight() > FLIGHT_LIMIT => Some(format!(
                    "a packet storm: more than {FLIGHT_LIMIT} copies in flight at once"
                )),
                None => None,
            };
            if let Some(why) = why {
                users.stalled(self.now, &why, &self.stacks);
                return;
            }
            for (h, fired) in timer_fired.iter_mut().enumerate() {
                transitions.clear();
                self.stacks[h].drain_transitions(&mut transitions);
                for t in &transitions {
                    self.net.transition(self.now, h, t);
                    users.transition(self.now, h, t, *fired, &self.stacks);
                }
                *fired = false;
            }
            if users.finished(self.now, &self.stacks) {
                return;
            }
            let next_timer = self.stacks.iter().filter_map(|s| s.poll_timeout()).min();
            let next = [users.next_call(), self.net.next_arrival(), next_timer]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = clock.advance(self.now, next) else {
                users.stalled(self.now, NOTHING_LEFT, &self.stacks);
                return;
            };
            if next > bound {
                self.now = self.now.max(bound);
                let why = format!(
                    "not finished {}s after the network healed",
                    LIVENESS_BOUND.as_secs()
                );
                users.stalled(self.now, &why, &self.stacks);
                return;
            }
            self.now = self.now.max(next);
            // On the wall clock several may be due at once: the earliest goes first.
            let arrival = self.net.next_arrival();
            if users
                .next_call()
                .is_some_and(|t| t <= self.now && arrival.is_none_or(|a| t <= a))
            {
                continue;
            }
            if let Some(a) = self.net.pop_due(self.now) {
                if let (false, Ok(s)) = (a.corrupted, &a.summary) {
                    users.arriving(self.now, a.to, s, &self.stacks);
                }
                self.stacks[a.to].handle_packet(self.now, &a.bytes);
                if let (false, Ok(s)) = (a.corrupted, &a.summary) {
                    users.handled(self.now, a.to, s, &self.stacks);
                }
                self.net.arrived(self.now, a, stacks_of(&self.stacks));
            } else {
                for (h, fired) in timer_fired.iter_mut().enumerate() {
                    if self.stacks[h].poll_timeout().is_some_and(|t| t <= self.now) {
                        *fired = true;
                        users.timers(h, &self.stacks);
                        self.net.timer(self.now, h);
                        self.stacks[h].handle_timeout(self.now);
                    }
                }
            }
        }
    }

    /// Each host sends what it has; `Some(host)` if a host did not stop within
    /// [`BURST_LIMIT`] segments.
    fn transmit(&mut self, users: &mut dyn Users) -> Option<usize> {
        for h in 0..2 {
            for sent in 0.. {
                if sent == BURST_LIMIT {
                    return Some(h);
                }
                let mut buf = self.net.buffer();
                if !self.stacks[h].poll_transmit(self.now, &mut buf) {
                    self.net.recycle(buf);
                    break;
                }
                let now = self.now;
                let stacks = &self.stacks;
                self.net
                    .send(now, h, buf, stacks_of(stacks), |sent, bytes| {
                        match &sent.summary {
                            Ok(s) => {
                                let data = bytes.get(usize::from(s.header_len)..).unwrap_or(&[]);
                                users.sent(now, h, s, data, &sent.decision, stacks);
                            }
                            Err(e) => users.malformed(now, h, e),
                        }
                    });
            }
        }
        None
    }
}

/// The most segments one host may send at one instant. A stack whose `poll_transmit` never
/// says it is done would otherwise fill memory with copies in flight; no window the simulator
/// offers holds this many segments (at an MSS of 536, 100,000 segments are 53 MB), so a stack
/// that reaches it is sending without end, and the run ends there as a liveness failure.
pub const BURST_LIMIT: usize = 100_000;

/// The most copies the network holds in flight at once. Every window the simulator's stacks
/// offer, doubled by duplication, holds far fewer; a run past it is a storm (segments that each
/// draw more than one answer, multiplied by duplicates), which would otherwise grow until memory
/// runs out long before the liveness bound passes in virtual time. The run ends there as a
/// liveness failure.
pub const FLIGHT_LIMIT: usize = 100_000;

/// Why a run stalled when no packet was in flight and no timer was set.
const NOTHING_LEFT: &str = "nothing left to happen (no packet in flight, no timer)";

/// The simulator's users: the applications, judged by the oracles, counted by coverage.
struct Checked {
    profile: synack_core::Profile,
    apps: Apps,
    coverage: Coverage,
    verdict: Verdict,
    wire: WireOracle,
    attacker: Option<attacker::Attacker>,
}

impl Users for Checked {
    fn next_call(&self) -> Option<Instant> {
        let strike = self.attacker.as_ref().and_then(attacker::Attacker::next_at);
        [self.apps.next_read(), strike].into_iter().flatten().min()
    }

    fn act(&mut self, now: Instant, stacks: &mut Stacks, net: &mut Network) {
        let forged = match &mut self.attacker {
            Some(a) if a.next_at().is_some_and(|t| t <= now) => {
                // The attacker aims at ESTABLISHED connections only: elsewhere RFC 9293 lets a
                // forged SYN or RST end a connection (SYN-RECEIVED back to LISTEN, §3.10.7.4).
                let mut targets = self.wire.targets();
                targets.retain(|t| {
                    let to = usize::from(*t.to.ip() == crate::stacks::ADDRS[1]);
                    stacks[to].conn_state(t.to, t.from) == Some(State::Established)
                });
                a.strike(now, &targets)
            }
            _ => None,
        };
        if let Some((target, _, bytes)) = forged {
            let to = usize::from(*target.to.ip() == crate::stacks::ADDRS[1]);
            let a = net.inject(now, to, bytes, crate::trace::Injected::Forged);
            if let Ok(s) = a.summary {
                self.arriving(now, to, &s, stacks);
            }
            stacks[to].handle_packet(now, &a.bytes);
            if let Ok(s) = a.summary {
                self.handled(now, to, &s, stacks);
            }
            net.arrived(now, a, stacks_of(stacks));
        }
        self.apps.drive(&mut Ctx {
            now,
            stacks,
            coverage: &mut self.coverage,
            verdict: &mut self.verdict,
            net,
        });
        let wire = &mut self.wire;
        self.apps
            .report_writes(|local, remote, total| wire.wrote(Some(now), local, remote, total));
    }

    fn sent(
        &mut self,
        now: Instant,
        from: usize,
        segment: &Summary,
        data: &[u8],
        _decision: &Decision,
        stacks: &Stacks,
    ) {
        let v = self.wire.sent(now, from, segment, data);
        self.wire_failure(now, from, segment, v, &*stacks[from]);
    }

    fn malformed(&mut self, now: Instant, from: usize, err: &synack_core::wire::WireError) {
        let v = self.wire.malformed(from, err);
        self.verdict
            .fail_requirement(Oracle::Wire, Some(v.requirement), now, None, v.message);
    }

    fn arriving(&mut self, now: Instant, to: usize, segment: &Summary, stacks: &Stacks) {
        let state = crate::net::state_at(stacks_of(stacks), to, 1 - to, segment);
        let (receiver, v) =
            self.wire
                .arrived(now, to, segment, Some(state.unwrap_or(State::Closed)));
        self.wire_failure(now, 1 - to, segment, v, &*stacks[to]);
        self.coverage
            .arrives(&receiver, segment, state.unwrap_or(State::Closed));
    }

    fn handled(&mut self, now: Instant, to: usize, segment: &Summary, stacks: &Stacks) {
        let state = stacks[to].conn_state(
            std::net::SocketAddrV4::new(*segment.dst.ip(), segment.dst.port()),
            segment.src,
        );
        let v = self.wire.handled(now, segment, state);
        self.wire_failure(now, 1 - to, segment, v, &*stacks[to]);
    }

    fn timers(&mut self, host: usize, stacks: &Stacks) {
        self.coverage.timers(self.apps.states(host, stacks));
    }

    fn transition(
        &mut self,
        now: Instant,
        host: usize,
        t: &Transition,
        timer: bool,
        stacks: &Stacks,
    ) {
        self.coverage.transition(t.from, t.to, timer);
        let sockets = stacks[host]
            .endpoints(t.socket)
            .or_else(|| self.apps.sockets_of(host, t.socket));
        if let Some(v) = self.wire.transition(now, host, t, timer, sockets) {
            let c = self.apps.connection_of(host, t.socket);
            self.verdict
                .fail_requirement(Oracle::Wire, Some(v.requirement), now, c, v.message);
        }
        if let Err(m) = oracle::check_transition(self.profile, host, t) {
            let c = self.apps.connection_of(host, t.socket);
            self.verdict.fail(Oracle::LegalTransitions, now, c, m);
        }
    }

    fn finished(&mut self, now: Instant, stacks: &Stacks) -> bool {
        if self.verdict.failed() {
            return true;
        }
        if !self.apps.all_done(stacks) {
            return false;
        }
        for (h, stack) in stacks.iter().enumerate() {
            if let Err(m) = oracle::check_orderly_close(h, &**stack) {
                self.verdict.fail(Oracle::OrderlyClose, now, None, m);
            }
        }
        true
    }

    fn stalled(&mut self, now: Instant, why: &str, stacks: &Stacks) {
        // Data left waiting behind a closed window that its sender never probed (MUST-36) is
        // why the run stalled: that is the failure to name.
        for (local, remote, v) in self.wire.unprobed(now, why == NOTHING_LEFT) {
            let host = usize::from(*local.ip() == crate::stacks::ADDRS[1]);
            let synchronized = stacks[host]
                .conn_state(local, remote)
                .is_some_and(State::is_synchronized);
            if synchronized {
                let (a, b) = if host == 0 {
                    (local, remote)
                } else {
                    (remote, local)
                };
                self.verdict.fail_requirement(
                    Oracle::Wire,
                    Some(v.requirement),
                    now,
                    Some(format!("A {a} <-> B {b}")),
                    v.message,
                );
                return;
            }
        }
        self.apps.liveness(why, now, stacks, &mut self.verdict);
    }
}

impl Checked {
    /// A wire requirement `segment` broke (its sender's, or its receiver's by what it had not
    /// sent), if it broke one; `from` is the host that sent it, `breaker` the stack that broke
    /// it. A break that a known difference `breaker` has shown explains is waived: recorded,
    /// and the run goes on (see [`Verdict::waived`]).
    fn wire_failure(
        &mut self,
        now: Instant,
        from: usize,
        segment: &Summary,
        v: Option<wire::Violation>,
        breaker: &dyn crate::stacks::TcpStack,
    ) {
        let Some(v) = v else { return };
        let (a, b) = if from == 0 {
            (segment.src, segment.dst)
        } else {
            (segment.dst, segment.src)
        };
        let failure = crate::failure::Failure {
            oracle: Oracle::Wire,
            requirement: Some(v.requirement),
            at_ns: now.as_nanos(),
            connection: Some(format!("A {a} <-> B {b}")),
            message: format!("{}: {}", segment, v.message),
        };
        if known::explain(&failure, &breaker.known_differences()).is_some() {
            self.verdict.waive(failure);
        } else {
            self.verdict.record(failure);
        }
    }
}

/// Both hosts' stacks, for the network's trace.
pub fn stacks_of(stacks: &Stacks) -> crate::net::Hosts<'_> {
    [Some(&*stacks[0]), Some(&*stacks[1])]
}
