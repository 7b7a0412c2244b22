//! Fuzz target bodies.
//!
//! Each function takes the raw input of one fuzz iteration and panics if, and only if, it finds
//! a bug. The wrappers in `fuzz/fuzz_targets/` call them under libFuzzer; the stable test
//! `tests/corpus_replay.rs` calls them on every file under `corpus/<target>/` and
//! `corpus/regressions/<target>/`.
//!
//! - `wire`: arbitrary bytes as IPv4 + TCP, round-tripped, and differential against etherparse.
//! - `endpoint`: one `Endpoint` fed a structured sequence of calls, time and segments, with
//!   its invariants checked after every step.
//! - `sim`: a whole simulated run with an explicit fault schedule, under every oracle.
//! - `parsers`: the other parsers of synack (table files, regression files, CLI ranges).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use synack_core::wire::{Flags, Ipv4Header, Packet, TcpHeader, TcpOption, WireError};
use synack_core::{Config, Endpoint, Instant, Observation, Profile, SeqNum, SocketId, State};

use crate::net::faults::{Copies, Copy, Decision, LossCause};
use crate::sim::workload::{Kind, Workload};
use crate::sim::{self, RunSpec};
use crate::trace::TraceOptions;

/// `wire`: parse arbitrary bytes as IPv4 + TCP. When they parse, emitting must succeed, the
/// emitted bytes must parse to the same fields, emitting those fields again must give the same
/// bytes, and etherparse must read the same fields from the input. When ours rejects the input
/// for its structure (lengths, version), etherparse must reject it too.
pub fn wire(data: &[u8]) {
    let parsed = Packet::parse(data);
    differential(data, &parsed);
    let Ok(packet) = parsed else {
        return;
    };
    let bytes = match packet.to_bytes() {
        Ok(bytes) => bytes,
        Err(e) => panic!("a parsed packet failed to emit: {e}\n{packet:#?}"),
    };
    let again = match Packet::parse(&bytes) {
        Ok(again) => again,
        Err(e) => panic!("an emitted packet failed to parse: {e}\n{packet:#?}"),
    };
    assert_eq!(packet, again, "fields changed across emit and parse");
    assert_eq!(
        again.to_bytes().ok().as_deref(),
        Some(bytes.as_slice()),
        "emission is not a function of the fields"
    );
}

/// Compares our parse of `data` with etherparse's, where both define the case.
fn differential(data: &[u8], ours: &Result<Packet<'_>, WireError>) {
    let theirs = etherparse::Ipv4Slice::from_slice(data).ok().and_then(|ip| {
        let payload = ip.payload().payload;
        etherparse::TcpSlice::from_slice(payload)
            .ok()
            .map(|tcp| (ip, tcp))
    });
    match ours {
        Ok(p) => {
            let Some((ip, tcp)) = theirs else {
                panic!("we accept what etherparse rejects: {p:#?}");
            };
            let h = ip.header();
            assert_eq!(Ipv4Addr::from(h.source()), p.ip.src);
            assert_eq!(Ipv4Addr::from(h.destination()), p.ip.dst);
            assert_eq!(h.ttl(), p.ip.ttl);
            assert_eq!(h.identification(), p.ip.identification);
            assert_eq!(h.dont_fragment(), p.ip.dont_fragment);
            assert_eq!(h.options(), &p.ip.options[..]);
            assert_eq!(tcp.source_port(), p.tcp.src_port);
            assert_eq!(tcp.destination_port(), p.tcp.dst_port);
            assert_eq!(tcp.sequence_number(), p.tcp.seq.get());
            assert_eq!(tcp.acknowledgment_number(), p.tcp.ack.get());
            assert_eq!(tcp.data_offset(), p.tcp.data_offset);
            assert_eq!(tcp.window_size(), p.tcp.window);
            assert_eq!(tcp.urgent_pointer(), p.tcp.urgent);
            assert_eq!(tcp.syn(), p.tcp.flags.contains(Flags::SYN));
            assert_eq!(tcp.fin(), p.tcp.flags.contains(Flags::FIN));
            assert_eq!(tcp.rst(), p.tcp.flags.contains(Flags::RST));
            assert_eq!(tcp.ack(), p.tcp.flags.contains(Flags::ACK));
            assert_eq!(tcp.payload(), p.payload);
        }
        Err(
            WireError::Truncated { .. }
            | WireError::BadVersion(_)
            | WireError::BadIhl(_)
            | WireError::BadDataOffset { .. },
        ) => assert!(
            theirs.is_none(),
            "etherparse accepts what we reject as malformed: {ours:?}"
        ),
        // Checksums, fragments, the protocol, the total length against the header checks that
        // come after the checksum, and option contents: etherparse does not check them, or
        // checks them in another order.
        Err(_) => {}
    }
}

// ------------------------------------------------------------------------------ endpoint

/// A number relative to one of the connection's variables.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Rel {
    /// RCV.NXT plus an offset.
    RcvNxt(i16),
    /// SND.NXT plus an offset.
    SndNxt(i16),
    /// SND.UNA plus an offset.
    SndUna(i16),
    /// Any value.
    Any(u32),
}

/// A segment from the peer.
#[derive(Arbitrary, Debug, Clone)]
pub struct Seg {
    /// SEG.SEQ.
    pub seq: Rel,
    /// SEG.ACK.
    pub ack: Rel,
    /// Control bits.
    pub flags: u8,
    /// Window.
    pub window: u16,
    /// Octets of data (at most 3000).
    pub len: u16,
    /// An MSS option.
    pub mss: Option<u16>,
}

/// One step of the `endpoint` target.
#[derive(Arbitrary, Debug, Clone)]
pub enum Op {
    /// Passive OPEN on port 1000.
    Listen,
    /// Passive OPEN on port 1000 naming the peer.
    ListenTo,
    /// Active OPEN from port 1000 to the peer.
    Connect,
    /// ACCEPT on the listener.
    Accept,
    /// SEND this many octets.
    Send(u16),
    /// RECEIVE up to this many octets.
    Recv(u16),
    /// CLOSE.
    Close,
    /// ABORT.
    Abort,
    /// Time passes (microseconds), and the timers that are due run.
    Advance(u32),
    /// Run every timer due within this many seconds.
    Timers(u8),
    /// A segment from the peer.
    Segment(Seg),
    /// Raw bytes as a packet.
    Raw(Vec<u8>),
}

/// The input of the `endpoint` target.
#[derive(Arbitrary, Debug, Clone)]
pub struct EndpointInput {
    /// RFC 793 instead of RFC 9293.
    pub rfc793: bool,
    /// Small buffers (1000 octets), so windows close.
    pub small_buffers: bool,
    /// The steps.
    pub ops: Vec<Op>,
}

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 2000);
const A_PORT: u16 = 1000;

/// `endpoint`: runs a structured input; returns the states the connection passed through, for
/// the corpus test that checks every state is reached.
pub fn endpoint(data: &[u8]) -> Vec<State> {
    let Ok(input) = EndpointInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return Vec::new();
    };
    run_endpoint(&input)
}

/// The body of the `endpoint` target on a decoded input.
pub fn run_endpoint(input: &EndpointInput) -> Vec<State> {
    let profile = if input.rfc793 {
        Profile::Rfc793
    } else {
        Profile::Rfc9293
    };
    let buffers = if input.small_buffers { 1000 } else { 64 * 1024 };
    let config = Config {
        profile,
        record_log: true,
        send_buffer: buffers,
        recv_buffer: buffers,
        ..Config::default()
    };
    let mut ep = Endpoint::new(config.clone(), A, [9; 16]);
    let mut now = Instant::ZERO;
    let mut socket: Option<SocketId> = None;
    let mut listener: Option<SocketId> = None;
    let mut seen = vec![State::Closed];
    for op in input.ops.iter().take(200) {
        let id = socket.or(listener).unwrap_or(SocketId(u64::MAX));
        match op {
            Op::Listen => {
                if let Ok(l) = ep.listen(A_PORT) {
                    listener = Some(l);
                }
            }
            Op::ListenTo => {
                if let Ok(l) = ep.listen_from(A_PORT, Some(B)) {
                    listener = Some(l);
                    socket = Some(l);
                }
            }
            Op::Connect => {
                if let Ok(c) = ep.connect(now, B, Some(A_PORT)) {
                    socket = Some(c);
                }
            }
            Op::Accept => {
                if let Some(l) = listener {
                    if let Ok(Some(c)) = ep.accept(l) {
                        socket = Some(c);
                    }
                }
            }
            Op::Send(n) => {
                let _ = ep.send(now, id, &vec![0x55; usize::from(*n)]);
            }
            Op::Recv(n) => {
                let _ = ep.recv(id, &mut vec![0; usize::from(*n)]);
            }
            Op::Close => {
                let _ = ep.close(id);
            }
            Op::Abort => {
                let _ = ep.abort(id);
            }
            Op::Advance(us) => {
                now += Duration::from_micros(u64::from(*us));
                ep.handle_timeout(now);
                check_timeout(&ep, now);
            }
            Op::Timers(secs) => {
                let end = now + Duration::from_secs(u64::from(*secs));
                while let Some(t) = ep.poll_timeout().filter(|t| *t <= end) {
                    now = now.max(t);
                    ep.handle_timeout(now);
                    check_timeout(&ep, now);
                }
            }
            Op::Segment(seg) => {
                let conn = socket.or_else(|| {
                    ep.sockets()
                        .find(|s| ep.status(*s).is_ok_and(|st| st.remote == B))
                });
                let st = conn.and_then(|c| ep.status(c).ok());
                let value = |r: Rel| -> u32 {
                    match (r, st) {
                        (Rel::RcvNxt(o), Some(s)) => s.rcv_nxt.get().wrapping_add(o as u32),
                        (Rel::SndNxt(o), Some(s)) => s.snd_nxt.get().wrapping_add(o as u32),
                        (Rel::SndUna(o), Some(s)) => s.snd_una.get().wrapping_add(o as u32),
                        (Rel::Any(v), _) => v,
                        (Rel::RcvNxt(o) | Rel::SndNxt(o) | Rel::SndUna(o), None) => o as u32,
                    }
                };
                let options = seg.mss.map(|m| vec![TcpOption::Mss(m)]).unwrap_or_default();
                let mut tcp = TcpHeader::new(
                    B.port(),
                    A_PORT,
                    SeqNum(value(seg.seq)),
                    SeqNum(value(seg.ack)),
                    Flags::from_bits_retain(seg.flags),
                )
                .with_options(options);
                tcp.window = seg.window;
                let payload = vec![0x33; usize::from(seg.len.min(3000))];
                if let Ok(bytes) = (Packet {
                    ip: Ipv4Header::new(*B.ip(), A),
                    tcp,
                    payload: &payload,
                })
                .to_bytes()
                {
                    ep.handle_packet(now, &bytes);
                }
            }
            Op::Raw(bytes) => ep.handle_packet(now, bytes),
        }
        // Every packet it sends is well formed.
        while let Some(p) = ep.poll_transmit(now) {
            if let Err(e) = Packet::parse(&p) {
                panic!("the endpoint sent a malformed packet ({e}): {p:02x?}");
            }
        }
        while ep.poll_event().is_some() {}
        // Every state change is legal in the reference table.
        for o in ep.drain_log() {
            if let Observation::StateChange { from, to, .. } = o {
                assert!(
                    crate::sim::oracle::legal(profile, from, to),
                    "illegal transition {from} -> {to} under {}",
                    profile.name()
                );
                if !seen.contains(&to) {
                    seen.push(to);
                }
            }
        }
        // The variables and buffers stay in bounds.
        for s in ep.sockets().collect::<Vec<_>>() {
            let Ok(st) = ep.status(s) else {
                continue;
            };
            if st.state == State::Listen {
                continue;
            }
            assert!(
                st.snd_una.le(st.snd_nxt),
                "SND.UNA {} > SND.NXT {}",
                st.snd_una,
                st.snd_nxt
            );
            assert!(
                st.send_queued <= config.send_buffer,
                "send buffer over its bound"
            );
            assert!(
                st.recv_queued + st.recv_out_of_order <= config.recv_buffer,
                "receive buffer over its bound"
            );
        }
    }
    seen
}

fn check_timeout(ep: &Endpoint, now: Instant) {
    if let Some(t) = ep.poll_timeout() {
        assert!(
            t > now,
            "poll_timeout {t} is not after {now} after handle_timeout"
        );
    }
}

// ------------------------------------------------------------------------------ sim

/// What the network does to one packet, as the `sim` target chooses it.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct FuzzDecision {
    /// Lose it.
    pub lose: bool,
    /// Send a second copy, delayed by this many milliseconds.
    pub duplicate: Option<u8>,
    /// Extra delay in milliseconds.
    pub delay_ms: u8,
    /// Flip this bit of the copy.
    pub flip: Option<u16>,
}

/// The input of the `sim` target.
#[derive(Arbitrary, Debug, Clone)]
pub struct SimInput {
    /// The seed (workload, ISNs, link delays).
    pub seed: u64,
    /// The workload kind (an index into `Kind::ALL`).
    pub kind: u8,
    /// RFC 793 instead of RFC 9293.
    pub rfc793: bool,
    /// The decisions for the first packets, in order.
    pub decisions: Vec<FuzzDecision>,
}

/// Losses in a row (a lost packet, or a lone corrupted copy) after which the next packet is
/// delivered intact regardless: a network that loses everything for longer than the user
/// timeout would time a correct connection out.
const MAX_LOSSES_IN_A_ROW: usize = 5;

/// Largest transfer of a `sim` run, in octets.
const SIM_MAX_BYTES: u64 = 8 << 10;
/// Most connections of a `sim` run.
const SIM_MAX_CONNECTIONS: usize = 4;

/// `sim`: one simulated run with an explicit fault schedule; every oracle must hold. Returns
/// the states the connections passed through, for the corpus test.
pub fn sim(data: &[u8]) -> Vec<State> {
    let Ok(input) = SimInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return Vec::new();
    };
    run_sim(&input)
}

/// The bytes `arbitrary` decodes into a `SimInput` with no fault decisions (seed inputs).
pub fn encode_sim(seed: u64, kind: u8, rfc793: bool) -> Vec<u8> {
    let mut out = seed.to_le_bytes().to_vec();
    out.push(kind);
    out.push(u8::from(rfc793));
    out.push(0);
    out
}

/// The run a `sim` input describes.
pub fn sim_spec(input: &SimInput) -> RunSpec {
    let mut losses = 0;
    let decisions: Vec<Decision> = input
        .decisions
        .iter()
        .take(400)
        .map(|d| {
            let flip = d.flip.map(u32::from).filter(|b| *b < 40 * 8);
            // A lone corrupted copy is lost too: the receiver's checksum drops it.
            let intact = !d.lose && (flip.is_none() || d.duplicate.is_some());
            if !intact && losses >= MAX_LOSSES_IN_A_ROW {
                losses = 0;
                return Decision {
                    lost: None,
                    copies: Copies::one(Copy {
                        extra_us: u64::from(d.delay_ms) * 1000,
                        flip_bit: None,
                    }),
                };
            }
            losses = if intact { 0 } else { losses + 1 };
            if d.lose {
                return Decision::lose(LossCause::Loss);
            }
            let copy = |extra_ms: u8| Copy {
                extra_us: u64::from(extra_ms) * 1000,
                flip_bit: flip,
            };
            let first = copy(d.delay_ms);
            let copies = match d.duplicate {
                Some(x) => Copies::two(
                    first,
                    Copy {
                        flip_bit: None,
                        ..copy(x)
                    },
                ),
                None => Copies::one(first),
            };
            Decision { lost: None, copies }
        })
        .collect();
    RunSpec {
        profile: if input.rfc793 {
            Profile::Rfc793
        } else {
            Profile::Rfc9293
        },
        // A short run: coverage comes from the decisions, not from megabytes.
        fixed: Some(
            Workload::draw(
                &mut ChaCha8Rng::seed_from_u64(input.seed),
                Some(Kind::ALL[usize::from(input.kind) % Kind::ALL.len()]),
                SIM_MAX_BYTES,
            )
            .bounded(SIM_MAX_BYTES, SIM_MAX_CONNECTIONS),
        ),
        decisions: Some(decisions),
        ..RunSpec::new(input.seed, crate::net::faults::Profile::None)
    }
}

/// The body of the `sim` target on a decoded input.
pub fn run_sim(input: &SimInput) -> Vec<State> {
    let spec = sim_spec(input);
    match sim::run(&spec, &TraceOptions::default()) {
        Ok(r) => {
            if let Some(f) = r.failure {
                panic!("{f}\n{input:?}");
            }
            let mut states: Vec<State> = r.transitions.keys().flat_map(|(a, b)| [*a, *b]).collect();
            states.sort();
            states.dedup();
            states
        }
        Err(e) => panic!("the run could not start: {e}"),
    }
}

// ------------------------------------------------------------------------------ script

/// `script`: the script parser, and the runner on synack-core for every script that parses.
/// Any text gives a verdict (malformed, skipped, failed or passed), never a panic; values
/// nested past 32 deep are malformed, so the parser cannot run out of stack.
pub fn script(data: &[u8]) -> Option<crate::script::Verdict> {
    let text = String::from_utf8_lossy(data);
    let parsed = crate::script::syntax::parse(&text).ok()?;
    // A long script is many short ones to the runner; this keeps each input quick.
    if parsed.events.len() > 64 {
        return None;
    }
    let played = crate::script::play_source(
        &text,
        crate::stacks::core(),
        synack_core::Profile::Rfc9293,
        crate::script::Options::default(),
    );
    Some(played.verdict)
}

// ------------------------------------------------------------------------------ parsers

/// `parsers`: the other parsers synack has: reference-table files, regression files, and the
/// `--seeds` and `--shard` arguments. Any input gives a value or an error, never a panic.
pub fn parsers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = crate::rfc::parse_table(&text, "fuzz");
    if let Ok(reg) = serde_json::from_slice::<crate::shrink::Regression>(data) {
        let _ = reg.spec();
    }
    let _ = crate::sweep::parse_range(&text);
    let _ = crate::sweep::parse_shard(&text);
}

/// Seed inputs for `wire`: packets from simulator runs, one of each kind (control bits, data or
/// not, options or not, corrupted or not), so that the fuzzer starts past the checksums.
pub fn wire_seeds(
    seeds: std::ops::Range<u64>,
    faults: crate::net::faults::Profile,
    max: usize,
) -> Vec<Vec<u8>> {
    let mut kinds = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for seed in seeds {
        let options = TraceOptions {
            keep_packets: true,
            ..TraceOptions::default()
        };
        let Ok(r) = sim::run(&RunSpec::new(seed, faults), &options) else {
            continue;
        };
        for p in r.wire {
            let kind = match Packet::parse(&p) {
                Ok(pk) => format!(
                    "{:?}/{}/{}",
                    pk.tcp.flags,
                    pk.payload.is_empty(),
                    pk.tcp.options.is_empty()
                ),
                Err(e) => format!("error {:?}", std::mem::discriminant(&e)),
            };
            if kinds.insert(kind) {
                out.push(p);
            }
            if out.len() >= max {
                return out;
            }
        }
    }
    out
}

/// The bytes that `arbitrary` (1.x) decodes back into `input`, for building seed inputs by
/// hand. `Op::Raw` is not encodable this way (its length is read from the end of the data) and
/// is skipped.
pub fn encode_endpoint(input: &EndpointInput) -> Vec<u8> {
    fn variant(out: &mut Vec<u8>, index: u64, count: u64) {
        // derive(Arbitrary) picks variant (u32 * count) >> 32.
        let x = (index << 32).div_ceil(count);
        out.extend_from_slice(&(x as u32).to_le_bytes());
    }
    fn rel(out: &mut Vec<u8>, r: Rel) {
        match r {
            Rel::RcvNxt(o) => {
                variant(out, 0, 4);
                out.extend_from_slice(&o.to_le_bytes());
            }
            Rel::SndNxt(o) => {
                variant(out, 1, 4);
                out.extend_from_slice(&o.to_le_bytes());
            }
            Rel::SndUna(o) => {
                variant(out, 2, 4);
                out.extend_from_slice(&o.to_le_bytes());
            }
            Rel::Any(v) => {
                variant(out, 3, 4);
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    let mut out = vec![u8::from(input.rfc793), u8::from(input.small_buffers)];
    for op in &input.ops {
        if matches!(op, Op::Raw(_)) {
            continue;
        }
        // The remaining elements of the last field are each preceded by a "keep going" bool.
        out.push(1);
        match op {
            Op::Listen => variant(&mut out, 0, 12),
            Op::ListenTo => variant(&mut out, 1, 12),
            Op::Connect => variant(&mut out, 2, 12),
            Op::Accept => variant(&mut out, 3, 12),
            Op::Send(n) => {
                variant(&mut out, 4, 12);
                out.extend_from_slice(&n.to_le_bytes());
            }
            Op::Recv(n) => {
                variant(&mut out, 5, 12);
                out.extend_from_slice(&n.to_le_bytes());
            }
            Op::Close => variant(&mut out, 6, 12),
            Op::Abort => variant(&mut out, 7, 12),
            Op::Advance(us) => {
                variant(&mut out, 8, 12);
                out.extend_from_slice(&us.to_le_bytes());
            }
            Op::Timers(s) => {
                variant(&mut out, 9, 12);
                out.push(*s);
            }
            Op::Segment(seg) => {
                variant(&mut out, 10, 12);
                rel(&mut out, seg.seq);
                rel(&mut out, seg.ack);
                out.push(seg.flags);
                out.extend_from_slice(&seg.window.to_le_bytes());
                out.extend_from_slice(&seg.len.to_le_bytes());
                match seg.mss {
                    None => out.push(0),
                    Some(m) => {
                        out.push(1);
                        out.extend_from_slice(&m.to_le_bytes());
                    }
                }
            }
            Op::Raw(_) => {}
        }
    }
    out.push(0);
    out
}

/// Inputs that drive the endpoint into each state along the paths of the table generator, for
/// the `endpoint` seed corpus: (state name, input).
pub fn endpoint_state_seeds() -> Vec<(&'static str, EndpointInput)> {
    let seg = |seq: Rel, ack: Rel, flags: Flags, len: u16| {
        Op::Segment(Seg {
            seq,
            ack,
            flags: flags.bits(),
            window: 8192,
            len,
            mss: Some(1460),
        })
    };
    let synack = seg(Rel::Any(5000), Rel::SndNxt(0), Flags::SYN | Flags::ACK, 0);
    let ack_all = seg(Rel::RcvNxt(0), Rel::SndNxt(0), Flags::ACK, 0);
    let fin = seg(Rel::RcvNxt(0), Rel::SndNxt(0), Flags::FIN | Flags::ACK, 0);
    let fin_crossing = seg(Rel::RcvNxt(0), Rel::SndUna(0), Flags::FIN | Flags::ACK, 0);
    let data = seg(Rel::RcvNxt(0), Rel::SndNxt(0), Flags::ACK, 100);
    let established = vec![
        Op::Connect,
        synack.clone(),
        Op::Send(200),
        ack_all.clone(),
        data,
        Op::Recv(100),
    ];
    let with = |mut base: Vec<Op>, more: &[Op]| {
        base.extend_from_slice(more);
        base
    };
    let fw1 = with(established.clone(), &[Op::Close]);
    let fw2 = with(fw1.clone(), std::slice::from_ref(&ack_all));
    let cw = with(established.clone(), std::slice::from_ref(&fin));
    let list = vec![
        ("closed", vec![Op::Connect, Op::Abort]),
        ("listen", vec![Op::Listen]),
        ("syn-sent", vec![Op::Connect, Op::Timers(4)]),
        (
            "syn-received",
            vec![
                Op::Listen,
                seg(Rel::Any(5000), Rel::Any(0), Flags::SYN, 0),
                Op::Timers(2),
            ],
        ),
        ("established", established.clone()),
        ("fin-wait-1", with(fw1.clone(), &[Op::Timers(3)])),
        ("fin-wait-2", fw2.clone()),
        ("close-wait", cw.clone()),
        ("closing", with(fw1, &[fin_crossing])),
        ("last-ack", with(cw, &[Op::Close, Op::Timers(2)])),
        ("time-wait", with(fw2, &[fin, Op::Timers(250)])),
        ("listen-to-send", vec![Op::ListenTo, Op::Send(10), synack]),
    ];
    list.into_iter()
        .map(|(name, ops)| {
            (
                name,
                EndpointInput {
                    rfc793: false,
                    small_buffers: false,
                    ops,
                },
            )
        })
        .collect()
}
