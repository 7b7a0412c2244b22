//! The generator: the transition table of any `TcpStack`, from what it does.
//!
//! For each state it drives a fresh stack (TCP A, at 10.0.0.1:1000) into the state through real
//! events, playing the peer (TCP B, at 10.0.0.2:2000) by hand-built segments, along these paths:
//!
//! - CLOSED: nothing (no TCB).
//! - LISTEN: passive OPEN naming B as the remote socket (fully specified, so that SEND and an
//!   active OPEN can turn it active, RFC 9293 §3.10.1–3.10.2).
//! - SYN-SENT: active OPEN; A's SYN is not answered.
//! - SYN-RECEIVED: the passive OPEN of LISTEN, then B's SYN.
//! - ESTABLISHED: active OPEN, B's SYN,ACK, A's ACK.
//! - FIN-WAIT-1: ESTABLISHED, then CLOSE; A's FIN is not acknowledged.
//! - FIN-WAIT-2: FIN-WAIT-1, then B's ACK of the FIN.
//! - CLOSE-WAIT: ESTABLISHED, then B's FIN.
//! - CLOSING: FIN-WAIT-1, then B's FIN, which does not acknowledge A's.
//! - LAST-ACK: CLOSE-WAIT, then CLOSE.
//! - TIME-WAIT: FIN-WAIT-2, then B's FIN.
//!
//! It then applies one event and records what happened: the state the connection reached (from
//! the transitions the stack reports), the segments A sent, written relative to A's variables
//! as the generator knows them from the exchange, and what the user was told. A state the stack
//! cannot be driven into is reported in the table, never skipped.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use synack_core::wire::{Flags, Ipv4Header, Packet, TcpHeader};
use synack_core::{
    Config, Event as StackEvent, Instant, Profile, SeqNum, SocketId, State, UserError,
};

use super::{Cell, Event, Table};
use crate::stacks::{StackEntry, TcpStack};

/// Builds the stack under test.
pub type Factory<'a> = &'a dyn Fn(Config) -> Box<dyn TcpStack>;

const A_PORT: u16 = 1000;
const B: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 2000);
const A_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// B's ISS, and the sequence number of segments to a TCB that knows no RCV.NXT.
const B_ISS: u32 = 5000;
/// The acknowledgment number of segments to a TCB that has sent nothing.
const NO_ACK: u32 = 7000;

/// A's variables, as the peer knows them.
#[derive(Clone, Copy, Debug, Default)]
struct Vars {
    iss: Option<u32>,
    snd_una: u32,
    snd_nxt: u32,
    /// `None` while A knows no RCV.NXT (CLOSED); for LISTEN and SYN-SENT the generator's
    /// segments start at B_ISS, which a SYN makes RCV.NXT - 1.
    rcv_nxt: Option<u32>,
    rcv_wnd: u32,
}

/// A segment the generator sends.
#[derive(Clone, Copy, Debug)]
struct Injected {
    seq: u32,
    ack: u32,
    flags: Flags,
    len: u32,
}

impl Injected {
    fn seg_len(&self) -> u32 {
        self.len
            + u32::from(self.flags.contains(Flags::SYN))
            + u32::from(self.flags.contains(Flags::FIN))
    }
}

struct Driver {
    stack: Box<dyn TcpStack>,
    now: Instant,
    subject: Option<SocketId>,
    vars: Vars,
    /// LISTEN was reached by a passive OPEN that names no remote socket.
    partial_listen: bool,
}

impl Driver {
    fn new(factory: Factory<'_>, config: Config) -> Driver {
        Driver {
            stack: factory(config),
            now: Instant::ZERO,
            subject: None,
            vars: Vars::default(),
            partial_listen: false,
        }
    }

    /// Collects what A sends now and learns A's variables from it.
    fn collect(&mut self) -> Vec<(Flags, u32, u32, u32, u16)> {
        let mut out = Vec::new();
        let mut bytes = Vec::new();
        while self.stack.poll_transmit(self.now, &mut bytes) {
            let Ok(p) = Packet::parse(&bytes) else {
                continue;
            };
            let len = p.payload.len() as u32;
            let flags = p.tcp.flags;
            let seq = p.tcp.seq.get();
            if flags.contains(Flags::SYN) {
                self.vars.iss = Some(seq);
            }
            if !flags.contains(Flags::RST) {
                let end = seq
                    .wrapping_add(len)
                    .wrapping_add(u32::from(flags.contains(Flags::SYN)))
                    .wrapping_add(u32::from(flags.contains(Flags::FIN)));
                if SeqNum(self.vars.snd_nxt).lt(SeqNum(end))
                    || self.vars.iss == Some(seq)
                        && flags.contains(Flags::SYN)
                        && self.vars.snd_nxt == 0
                {
                    self.vars.snd_nxt = end;
                }
                if self.vars.snd_una == 0 {
                    if let Some(iss) = self.vars.iss {
                        self.vars.snd_una = iss;
                    }
                }
                self.vars.rcv_wnd = u32::from(p.tcp.window);
            }
            out.push((flags, seq, p.tcp.ack.get(), len, p.tcp.window));
        }
        out
    }

    fn inject(&mut self, seg: Injected) {
        let mut tcp = TcpHeader::new(
            B.port(),
            A_PORT,
            SeqNum(seg.seq),
            SeqNum(seg.ack),
            seg.flags,
        );
        tcp.window = 8192;
        let payload = vec![0x42; seg.len as usize];
        let packet = Packet {
            ip: Ipv4Header::new(*B.ip(), A_ADDR),
            tcp,
            payload: &payload,
        };
        if let Ok(bytes) = packet.to_bytes() {
            self.stack.handle_packet(self.now, &bytes);
        }
    }

    fn drain(&mut self) {
        self.collect();
        transitions(&mut *self.stack);
        while self.stack.poll_event().is_some() {}
    }

    /// B acknowledges up to `ack`, after which A's SND.UNA is there.
    fn ack_from_b(&mut self, seq: u32, ack: u32, flags: Flags) {
        self.inject(Injected {
            seq,
            ack,
            flags,
            len: 0,
        });
        if flags.contains(Flags::ACK) {
            self.vars.snd_una = ack;
        }
    }
}

/// Drives a fresh stack into `target`; returns the driver or why it could not.
fn drive(factory: Factory<'_>, config: Config, target: State) -> Result<Driver, String> {
    let mut d = Driver::new(factory, config);
    let b_next_after_syn = B_ISS.wrapping_add(1);
    let active = |d: &mut Driver| -> Result<(), String> {
        let id = d
            .stack
            .connect(d.now, B, Some(A_PORT))
            .map_err(|e| format!("active OPEN refused: {e}"))?;
        d.subject = Some(id);
        d.collect();
        Ok(())
    };
    // A passive OPEN naming B; a stack without a fully specified passive OPEN listens for
    // anyone (and its LISTEN row says what that costs: SEND and OPEN cannot turn it active).
    let passive = |d: &mut Driver| -> Result<(), String> {
        let id = match d.stack.listen_to(A_PORT, B) {
            Ok(id) => id,
            Err(_) => {
                d.partial_listen = true;
                d.stack
                    .listen(A_PORT)
                    .map_err(|e| format!("passive OPEN refused: {e}"))?
            }
        };
        d.subject = Some(id);
        Ok(())
    };
    let establish = |d: &mut Driver| -> Result<(), String> {
        active(d)?;
        let ack = d.vars.snd_nxt;
        d.ack_from_b(B_ISS, ack, Flags::SYN | Flags::ACK);
        d.vars.rcv_nxt = Some(b_next_after_syn);
        d.collect();
        Ok(())
    };
    let fin_wait_1 = |d: &mut Driver| -> Result<(), String> {
        establish(d)?;
        let id = d.subject.ok_or("no connection")?;
        d.stack
            .close(id)
            .map_err(|e| format!("CLOSE refused: {e}"))?;
        d.collect();
        Ok(())
    };
    match target {
        State::Closed => {}
        State::Listen => passive(&mut d)?,
        State::SynSent => active(&mut d)?,
        State::SynReceived => {
            passive(&mut d)?;
            d.inject(Injected {
                seq: B_ISS,
                ack: 0,
                flags: Flags::SYN,
                len: 0,
            });
            d.vars.rcv_nxt = Some(b_next_after_syn);
            d.collect();
            // The connection is the TCB that left LISTEN.
            let t = transitions(&mut *d.stack);
            if let Some(tr) = t
                .iter()
                .find(|t| t.from == State::Listen && t.to == State::SynReceived)
            {
                d.subject = Some(tr.socket);
            }
        }
        State::Established => establish(&mut d)?,
        State::FinWait1 => fin_wait_1(&mut d)?,
        State::FinWait2 | State::TimeWait => {
            fin_wait_1(&mut d)?;
            let ack = d.vars.snd_nxt;
            d.ack_from_b(b_next_after_syn, ack, Flags::ACK);
            d.collect();
            if target == State::TimeWait {
                d.ack_from_b(b_next_after_syn, ack, Flags::FIN | Flags::ACK);
                d.vars.rcv_nxt = Some(b_next_after_syn.wrapping_add(1));
                d.collect();
            }
        }
        State::CloseWait | State::LastAck => {
            establish(&mut d)?;
            let ack = d.vars.snd_nxt;
            d.ack_from_b(b_next_after_syn, ack, Flags::FIN | Flags::ACK);
            d.vars.rcv_nxt = Some(b_next_after_syn.wrapping_add(1));
            d.collect();
            if target == State::LastAck {
                let id = d.subject.ok_or("no connection")?;
                d.stack
                    .close(id)
                    .map_err(|e| format!("CLOSE refused: {e}"))?;
                d.collect();
            }
        }
        State::Closing => {
            fin_wait_1(&mut d)?;
            // B's FIN acknowledges only up to A's FIN, not the FIN itself.
            let ack = d.vars.snd_una;
            d.ack_from_b(b_next_after_syn, ack, Flags::FIN | Flags::ACK);
            d.vars.rcv_nxt = Some(b_next_after_syn.wrapping_add(1));
            d.collect();
        }
    }
    d.drain();
    let reached = d.subject.map_or(State::Closed, |id| d.stack.state(id));
    if reached != target {
        return Err(format!(
            "the path to {target} ended in {reached} (see the paths in conformance/src/rfc/generate.rs)"
        ));
    }
    Ok(d)
}

/// The segment of a segment event, relative to A's variables.
fn segment_for(event: Event, state: State, v: &Vars) -> Injected {
    let known = matches!(state, State::Closed | State::Listen | State::SynSent);
    let rcv_nxt = if known {
        B_ISS
    } else {
        v.rcv_nxt.unwrap_or(B_ISS)
    };
    let snd_nxt = if state == State::Closed || state == State::Listen {
        NO_ACK
    } else {
        v.snd_nxt
    };
    let snd_una = if state == State::Closed || state == State::Listen {
        NO_ACK
    } else {
        v.snd_una
    };
    let beyond = rcv_nxt.wrapping_add(v.rcv_wnd.max(1)).wrapping_add(1000);
    let seg = |seq: u32, ack: u32, flags: Flags, len: u32| Injected {
        seq,
        ack,
        flags,
        len,
    };
    match event {
        Event::SynInWindow => seg(
            if known {
                rcv_nxt
            } else {
                rcv_nxt.wrapping_add(1)
            },
            0,
            Flags::SYN,
            0,
        ),
        Event::SynOutsideWindow => seg(if known { rcv_nxt } else { beyond }, 0, Flags::SYN, 0),
        Event::SynAckAcceptable => seg(rcv_nxt, snd_nxt, Flags::SYN | Flags::ACK, 0),
        Event::SynAckUnacceptable => seg(
            rcv_nxt,
            snd_nxt.wrapping_add(1000),
            Flags::SYN | Flags::ACK,
            0,
        ),
        Event::AckAcceptable => seg(rcv_nxt, snd_nxt, Flags::ACK, 0),
        Event::AckDuplicate => seg(rcv_nxt, snd_una, Flags::ACK, 0),
        Event::AckOfUnsent => seg(rcv_nxt, snd_nxt.wrapping_add(1000), Flags::ACK, 0),
        Event::RstAtRcvNxt => seg(rcv_nxt, 0, Flags::RST, 0),
        Event::RstInWindow => seg(rcv_nxt.wrapping_add(10), 0, Flags::RST, 0),
        Event::RstOutsideWindow => seg(beyond, 0, Flags::RST, 0),
        Event::RstAckAcceptable => seg(rcv_nxt, snd_nxt, Flags::RST | Flags::ACK, 0),
        Event::FinInSequence => seg(rcv_nxt, snd_una, Flags::FIN | Flags::ACK, 0),
        Event::DataInSequence => seg(rcv_nxt, snd_nxt, Flags::ACK, 10),
        Event::DataOutsideWindow => seg(beyond, snd_nxt, Flags::ACK, 10),
        _ => seg(rcv_nxt, snd_nxt, Flags::ACK, 10), // NoAck is built by the caller
    }
}

/// A's segment, in the RFC's notation, relative to A's variables before the event.
fn symbolic(
    flags: Flags,
    seq: u32,
    ack: u32,
    len: u32,
    v: &Vars,
    inj: Option<&Injected>,
) -> String {
    let seq_name = if flags.contains(Flags::RST) {
        match inj {
            Some(i) if i.flags.contains(Flags::ACK) && seq == i.ack => "SEG.ACK".to_string(),
            _ if seq == v.snd_nxt && v.iss.is_some() => "SND.NXT".to_string(),
            _ if seq == 0 => "0".to_string(),
            _ => seq.to_string(),
        }
    } else if flags.contains(Flags::SYN) && (v.iss.is_none() || Some(seq) == v.iss) {
        // A SYN from a TCB the event created carries its (new) ISS.
        "ISS".to_string()
    } else if seq == v.snd_nxt {
        "SND.NXT".to_string()
    } else if seq == v.snd_una {
        "SND.UNA".to_string()
    } else {
        seq.to_string()
    };
    let mut out = format!("<SEQ={seq_name}>");
    if flags.contains(Flags::ACK) {
        let ack_name = match (v.rcv_nxt, inj) {
            (Some(r), _) if ack == r => "RCV.NXT".to_string(),
            (Some(r), Some(i)) if ack == i.seq.wrapping_add(i.seg_len()) && i.seq == r => {
                "RCV.NXT".to_string()
            }
            (_, Some(i)) if ack == i.seq.wrapping_add(i.seg_len()) => "SEG.SEQ+SEG.LEN".to_string(),
            _ => ack.to_string(),
        };
        out.push_str(&format!("<ACK={ack_name}>"));
    }
    let ctl = flags & (Flags::SYN | Flags::FIN | Flags::RST | Flags::ACK);
    if !ctl.is_empty() {
        out.push_str(&format!("<CTL={ctl}>"));
    }
    if len > 0 {
        out.push_str("<DATA>");
    }
    out
}

fn signal(e: StackEvent) -> Option<&'static str> {
    match e {
        StackEvent::Reset => Some("error: connection reset"),
        StackEvent::Refused => Some("error: connection refused"),
        StackEvent::TimedOut => Some("error: connection aborted due to user timeout"),
        StackEvent::PeerClosed => Some("connection closing"),
        _ => None,
    }
}

/// A socket id that never existed, for calls on a CLOSED connection.
const NO_SOCKET: SocketId = SocketId(u64::MAX);

/// Applies `event` in `state`; `None` when the event cannot occur there (TIME-WAIT timeout
/// outside TIME-WAIT).
fn apply(d: &mut Driver, state: State, event: Event) -> Option<Cell> {
    let before = d.vars;
    let id = d.subject.unwrap_or(NO_SOCKET);
    let mut result: Option<Result<String, UserError>> = None;
    let mut injected = None;
    match event {
        Event::ActiveOpen => {
            result = Some(d.stack.connect(d.now, B, Some(A_PORT)).map(|_| "ok".into()))
        }
        Event::PassiveOpen => result = Some(d.stack.listen(A_PORT).map(|_| "ok".into())),
        Event::Send => result = Some(d.stack.send(d.now, id, b"hello").map(|_| "ok".into())),
        Event::Receive => result = Some(d.stack.recv(id, &mut [0u8; 64]).map(|_| "ok".into())),
        Event::Close => result = Some(d.stack.close(id).map(|()| "ok".into())),
        Event::Abort => result = Some(d.stack.abort(id).map(|()| "ok".into())),
        Event::Status => {
            result = Some(if state == State::Closed {
                Err(UserError::ConnectionDoesNotExist)
            } else {
                d.stack.status(id).map(|s| format!("state = {s}"))
            })
        }
        Event::RetransmissionTimeout | Event::UserTimeout => {
            // The first timer, if it runs within the largest RTO (60 s).
            if let Some(t) = d
                .stack
                .poll_timeout()
                .filter(|t| *t <= d.now + Duration::from_secs(60))
            {
                d.now = t;
                d.stack.handle_timeout(t);
            }
        }
        Event::TimeWaitTimeout => {
            if state != State::TimeWait {
                return None;
            }
            let end = d.now + Duration::from_secs(2 * 120 + 1);
            while let Some(t) = d.stack.poll_timeout().filter(|t| *t <= end) {
                d.now = t;
                d.stack.handle_timeout(t);
            }
        }
        Event::NoAck => {
            let rcv_nxt = before.rcv_nxt.unwrap_or(B_ISS);
            let seg = Injected {
                seq: rcv_nxt,
                ack: 0,
                flags: Flags::empty(),
                len: 10,
            };
            d.inject(seg);
            injected = Some(seg);
        }
        _ => {
            let seg = segment_for(event, state, &before);
            d.inject(seg);
            injected = Some(seg);
        }
    }
    // A stack may delay its ACK of a segment, by less than 0.5 s (RFC 9293 §3.8.6.3): run
    // the timers due within that, which is still short of any RTO (at least 1 s, RFC 6298).
    if injected.is_some() {
        let end = d.now + Duration::from_millis(499);
        while let Some(t) = d.stack.poll_timeout().filter(|t| *t <= end) {
            d.now = t;
            d.stack.handle_timeout(t);
        }
    }
    // A's TCB for LISTEN and SYN-SENT rows starts its receive sequence at B_ISS + 1 after a SYN.
    let mut vars = before;
    if vars.rcv_nxt.is_none() && matches!(state, State::Listen | State::SynSent) {
        vars.rcv_nxt = Some(B_ISS);
    }
    let sent = d.collect();
    let mut sends: Vec<String> = Vec::new();
    for (flags, seq, ack, len, _) in sent {
        let s = symbolic(flags, seq, ack, len, &vars, injected.as_ref());
        if sends.last() != Some(&s) {
            sends.push(s);
        }
    }
    let mut next = state;
    for t in transitions(&mut *d.stack) {
        if t.from == next {
            next = t.to;
        }
    }
    let mut user: Vec<String> = Vec::new();
    if let Some(r) = result {
        user.push(match r {
            Ok(s) => s,
            Err(e) => format!("error: {e}"),
        });
    }
    while let Some((_, e)) = d.stack.poll_event() {
        if let Some(s) = signal(e) {
            if !user.iter().any(|u| u == s) {
                user.push(s.to_string());
            }
        }
    }
    Some(Cell {
        next: Some(next),
        sends,
        user: user.join("; "),
        section: String::new(),
    })
}

/// The generated table of the stack `factory` builds, under `profile`.
pub fn generate(profile: Profile, name: &str, factory: Factory<'_>) -> Table {
    let base = Config {
        profile,
        record_log: true,
        ..Config::default()
    };
    let mut cells = BTreeMap::new();
    let mut unreachable = Vec::new();
    for state in State::ALL {
        for event in Event::ALL {
            // The user timeout is shortened below the RTO, so that it is the timer that fires.
            let config = if event == Event::UserTimeout {
                Config {
                    user_timeout: Duration::from_millis(500),
                    ..base.clone()
                }
            } else {
                base.clone()
            };
            match drive(factory, config, state) {
                Err(why) => {
                    if !unreachable
                        .iter()
                        .any(|(s, _): &(State, String)| *s == state)
                    {
                        unreachable.push((state, why));
                    }
                }
                Ok(mut d) => {
                    let cell = apply(&mut d, state, event).unwrap_or(Cell {
                        next: None,
                        sends: Vec::new(),
                        user: String::new(),
                        section: String::new(),
                    });
                    cells.insert((state, event), cell);
                }
            }
        }
    }
    Table {
        profile: profile.name().to_string(),
        source: name.to_string(),
        cells,
        unreachable,
    }
}

/// The state changes `stack` reported since the last call.
fn transitions(stack: &mut dyn TcpStack) -> Vec<crate::stacks::Transition> {
    let mut out = Vec::new();
    stack.drain_transitions(&mut out);
    out
}

/// The table of a registered stack.
pub fn generate_for(profile: Profile, stack: &StackEntry) -> Table {
    generate(profile, stack.title, &|config| stack.for_table(config))
}

/// The table of synack-core.
pub fn generate_core(profile: Profile) -> Table {
    generate_for(profile, crate::stacks::core())
}

/// The table of smoltcp, with smoltcp's timeout standing in for the user timeout.
#[cfg(feature = "smoltcp")]
pub fn generate_smoltcp(profile: Profile) -> Table {
    generate(
        profile,
        "smoltcp",
        &crate::stacks::smoltcp::smol_table_stack,
    )
}
