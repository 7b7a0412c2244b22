//! The runner: plays a parsed script against a target, line by line, and judges what the
//! target does.
//!
//! This module owns the [`Target`] trait (what a script runs against: the virtual host in
//! virtual time, or the Linux kernel through TUN in real time) and [`play`], which follows
//! packetdrill's rules:
//! - Times. `+N` counts from the moment the previous event finished, except between two
//!   inbound packets, where it counts from the previous one's script time. `*` and ranges are
//!   for outbound packets only. With a tolerance, an event passes within
//!   max(tolerance, 12.5 % of the time since the previous event) of its script time; without
//!   one (the default on virtual time) it must happen exactly then.
//! - Sequence numbers. SYNs carry absolute numbers, every other segment numbers relative to
//!   its sender's ISN: an inbound SYN's sequence number goes on the wire as written and is the
//!   script's ISN; the stack's ISN (and, when it connects, its port) is learned from its
//!   first SYN, and learned again for a new connection: after `connect`, or when the script
//!   sends a new SYN after a RST. An ACK number is translated only when the ACK bit is set,
//!   and is always compared.
//! - Outbound packets. The stack's segments queue up; each `>` line takes the next one and
//!   compares flags, sequence and acknowledgment numbers, length, the window where the line
//!   gives one, and the options (in order, NOPs included, TSval and TSecr not compared) unless
//!   the line says `<...>`. So a segment no line expects fails at the next `>` line. One rule
//!   is added to packetdrill's: a segment sent no later than the last event that no line took
//!   fails the script at its end, rather than going unseen.
//! - System calls. A call that cannot complete blocks and the script goes on; its result is
//!   checked when it returns, and its return time too if the line gives one (`+0...0.1`,
//!   which ends 0.1 s after the previous event). A call still blocked when the script ends
//!   fails it.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::Duration;

use synack_core::wire::{Flags, Ipv4Header, Packet, TcpHeader, TcpOption};
use synack_core::{SeqNum, State};

use super::calls::{self, Call, NotACall, Ret, EOPNOTSUPP};
use super::syntax::{Action, CallLine, Event, Opts, PacketLine, Pos, Script, TcpOpt, Time, When};

/// The script's port when the stack connects to it (packetdrill's `--connect_port`).
pub const SCRIPT_PORT: u16 = 8080;
/// The script's port when it connects to the stack.
pub const SCRIPT_CLIENT_PORT: u16 = 48_879;
/// How long past an outbound line's latest time the runner waits for a late segment, to say
/// when it came.
const LATE_GRACE: Duration = Duration::from_secs(2);
/// packetdrill's `tolerance_percent`: the share of the time since the previous event an
/// event may be off by, when a tolerance is given.
const TOLERANCE_PERCENT: u128 = 125; // per mille

/// What happened while a target waited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Happened {
    /// The stack sent a packet.
    Packet {
        /// When, since the script's start.
        at: Duration,
        /// The whole IPv4 packet.
        bytes: Vec<u8>,
    },
    /// A blocked call returned.
    Returned {
        /// When.
        at: Duration,
        /// What it returned.
        ret: Ret,
    },
}

/// What a script runs against.
pub trait Target {
    /// The stack's address and the script's.
    fn addresses(&self) -> (Ipv4Addr, Ipv4Addr);
    /// The time since the script's start.
    fn now(&self) -> Duration;
    /// Hands the stack a packet, now.
    fn inject(&mut self, packet: &[u8]);
    /// Lets time pass until `until`, or until the stack sends a packet or a blocked call
    /// returns, whichever is first.
    fn wait(&mut self, until: Duration) -> Option<Happened>;
    /// Makes a call, now: its result, or `None` if it blocks (then [`Target::wait`] reports
    /// its return).
    fn call(&mut self, call: &Call) -> Option<Ret>;
    /// Whether a call is blocked.
    fn blocked(&self) -> bool;
    /// The state changes the stack reported, in order (none, for a stack that reports none).
    fn transitions(&self) -> Vec<(State, State)> {
        Vec::new()
    }
    /// The script's ports: the one it connects to the stack from, and the one the stack
    /// connects to.
    fn script_ports(&self) -> (u16, u16) {
        (SCRIPT_CLIENT_PORT, SCRIPT_PORT)
    }
}

/// How to judge a script.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// packetdrill's timing tolerance; `None`: exact.
    pub tolerance: Option<Duration>,
    /// Accept option lists that differ from the script's (a stack that does not implement
    /// the kernel's sackOK, wscale and timestamps), counting each.
    pub lenient_options: bool,
}

/// A script's failure: where, what, and the lines that show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The line and column of the event that failed.
    pub pos: Pos,
    /// What went wrong, in packetdrill's words where it has them.
    pub message: String,
    /// The script's line, the actual segment, and their times.
    pub detail: Vec<String>,
}

/// How a script ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every line held.
    Passed,
    /// A line did not.
    Failed(Failure),
    /// The script needs a feature the runner or the stack does not have: named here.
    Skipped(String),
    /// The script is malformed: where and why.
    Malformed(Pos, String),
}

/// What a played script shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Played {
    /// The verdict.
    pub verdict: Verdict,
    /// Lines the runner ignored (shell commands, code blocks, options), each with a note.
    pub notes: Vec<String>,
    /// Outbound option lists that differed, accepted under `--lenient-options`.
    pub option_mismatches: u32,
    /// Events played.
    pub events: usize,
    /// The time of the last event, since the script's start.
    pub end: Duration,
    /// The state changes the stack reported (`from`, `to`), in order.
    pub transitions: Vec<(State, State)>,
}

/// The features a script may need that the runner does not build or judge, checked before
/// it runs: it is skipped, naming the first.
fn unsupported(script: &Script) -> Option<String> {
    for o in &script.options {
        if o.name == "ip_version" && o.value.as_deref().is_some_and(|v| v.contains('6')) {
            return Some("IPv6".into());
        }
    }
    for e in &script.events {
        match &e.action {
            Action::Packet(p) => {
                if p.flags.ece || p.flags.cwr || p.ecn.is_some() {
                    return Some("ECN".into());
                }
                if p.flags.urg {
                    return Some("urgent data".into());
                }
                if let Opts::List(list) = &p.opts {
                    for o in list {
                        match o {
                            TcpOpt::Sack(_) => return Some("SACK blocks".into()),
                            TcpOpt::Timestamps { .. } if !p.flags.syn => {
                                return Some("timestamps on data".into())
                            }
                            TcpOpt::FastOpen => return Some("TCP Fast Open".into()),
                            TcpOpt::Other(name) => return Some(format!("TCP option {name}")),
                            _ => {}
                        }
                    }
                }
            }
            Action::Call(c) => {
                if let Err(NotACall::Unsupported(what)) = calls::call(c) {
                    return Some(what);
                }
            }
            Action::Shell(_) | Action::Code(_) => {}
        }
    }
    None
}

/// The latest a script's events may be scheduled, added up: about 11 days.
const MAX_SCRIPT_MICROS: u64 = 1_000_000 * 1_000_000;
/// The most data one inbound line may carry: what fits one IPv4 packet with a full TCP header.
const MAX_INBOUND_LEN: u32 = 65_535 - 20 - 60;

/// Checks what the syntax allows but packetdrill's semantics do not.
fn validate(script: &Script) -> Result<(), (Pos, String)> {
    let mut last_absolute = 0;
    let mut total: u64 = 0;
    for (i, e) in script.events.iter().enumerate() {
        let times = match e.when {
            When::Any => [None, None, e.returns],
            When::At { time, upto } => [Some(time), upto, e.returns],
        };
        for t in times.into_iter().flatten() {
            total = if t.relative {
                total.saturating_add(t.micros)
            } else {
                total.max(t.micros)
            };
        }
        if total > MAX_SCRIPT_MICROS {
            return Err((e.pos, "a script may last at most 1,000,000 s".into()));
        }
        let outbound = matches!(&e.action, Action::Packet(p) if !p.inbound);
        if i == 0 {
            let zero = matches!(e.when, When::At { time, upto: None } if time.micros == 0);
            if !zero {
                return Err((e.pos, "the first event must be at time 0".into()));
            }
        }
        match e.when {
            When::Any if !outbound => {
                return Err((e.pos, "`*` is for outbound packets only".into()));
            }
            When::At { upto: Some(_), .. } if !outbound => {
                return Err((e.pos, "a time range is for outbound packets only".into()));
            }
            When::At { time, upto } => {
                if !time.relative {
                    if time.micros < last_absolute {
                        return Err((e.pos, "an absolute time goes backwards".into()));
                    }
                    last_absolute = time.micros;
                }
                if let Some(u) = upto {
                    if u.relative == time.relative && u.micros < time.micros {
                        return Err((e.pos, "the time range is backwards".into()));
                    }
                }
            }
            When::Any => {}
        }
        match &e.action {
            Action::Packet(p) if p.inbound => {
                if p.len > MAX_INBOUND_LEN {
                    return Err((
                        p.seq_pos,
                        format!("{} octets do not fit one IPv4 packet", p.len),
                    ));
                }
                if p.win.is_none() {
                    return Err((
                        p.seq_pos,
                        "an inbound packet must give its window (`win N`)".into(),
                    ));
                }
                if let Some((w, pos)) = p.win {
                    if w > u32::from(u16::MAX) {
                        return Err((pos, format!("window {w} does not fit in 16 bits")));
                    }
                }
                if p.opts == Opts::Any {
                    return Err((p.opts_pos, "`<...>` is for outbound packets only".into()));
                }
                if let Opts::List(list) = &p.opts {
                    let octets: usize = list.iter().map(TcpOpt::wire_len).sum();
                    if octets > 40 {
                        return Err((
                            p.opts_pos,
                            format!("{octets} octets of options do not fit a TCP header (40)"),
                        ));
                    }
                }
            }
            Action::Call(c) => {
                match calls::call(c) {
                    Err(NotACall::Bad(pos, m)) => return Err((pos, m)),
                    // Skipped, naming the call or option; its values are not the runner's.
                    Err(NotACall::Unsupported(_)) => continue,
                    Ok(_) => {}
                }
                if let Err(NotACall::Bad(pos, m)) = calls::expected(c) {
                    return Err((pos, m));
                }
                if c.name == "getsockopt" {
                    if let Err(NotACall::Bad(pos, m)) = calls::expected_so_error(c) {
                        return Err((pos, m));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A call in flight.
struct Pending {
    event: usize,
    expected: Ret,
    /// For `getsockopt(SO_ERROR)`: the value expected.
    so_error: Option<i32>,
    /// When it must return, with its tolerance, if the line says.
    returns: Option<(Duration, Duration)>,
    /// The script's descriptor it returns, for `socket` and `accept`.
    new_fd: bool,
    /// For `setsockopt`: the option, as the script names it.
    option: Option<String>,
}

/// The state of a script's connection, as the runner maps its numbers.
#[derive(Default)]
struct Numbers {
    /// The stack's port and the script's.
    stack_port: Option<u16>,
    script_port: Option<u16>,
    /// The stack's ISN on the wire and in the script.
    live_local_isn: Option<u32>,
    script_local_isn: u32,
    /// The script's ISN (as written, which is also on the wire).
    remote_isn: u32,
    /// Whether the stack has acknowledged the script's SYN since it was sent, with no RST
    /// crossing since: a SYN then is a new one in a synchronized state (RFC 5961 §4), not a
    /// new connection, and keeps the ISNs.
    synchronized: bool,
    /// A new script ISN since the stack's was learned: its next SYN is a new connection's.
    relearn_local: bool,
    /// Live TSvals by the script's TSval, to translate the script's TSecr.
    tsvals: BTreeMap<u32, u32>,
}

struct Runner<'a, T: Target> {
    target: &'a mut T,
    script: &'a Script,
    source: &'a str,
    opts: Options,
    queue: VecDeque<(Duration, Vec<u8>)>,
    pending: Option<Pending>,
    /// The script's file descriptors, mapped to the target's.
    fds: BTreeMap<i64, i64>,
    nums: Numbers,
    /// When the previous event finished, and its script time.
    base: Duration,
    prev_scheduled: Duration,
    prev_inbound: bool,
    option_mismatches: u32,
    /// When each event played so far ended.
    ended: Vec<Duration>,
    /// What the stack turned out to lack, which skips the script.
    unsupported: Option<String>,
}

/// Plays `script` (whose text is `source`) against `target`.
pub fn play<T: Target>(target: &mut T, script: &Script, source: &str, opts: Options) -> Played {
    let mut notes = Vec::new();
    for o in &script.options {
        notes.push(format!(
            "{}: option --{} ignored (the runner takes its settings from the command line)",
            o.pos, o.name
        ));
    }
    for e in &script.events {
        match &e.action {
            Action::Shell(cmd) => notes.push(format!(
                "{}: shell command ignored (a virtual host has no shell): `{cmd}`",
                e.pos
            )),
            Action::Code(_) => notes.push(format!("{}: code block ignored", e.pos)),
            _ => {}
        }
    }
    let mut played = Played {
        verdict: Verdict::Passed,
        notes,
        option_mismatches: 0,
        events: 0,
        end: Duration::ZERO,
        transitions: Vec::new(),
    };
    if let Err((pos, m)) = validate(script) {
        played.verdict = Verdict::Malformed(pos, m);
        return played;
    }
    if let Some(feature) = unsupported(script) {
        played.verdict = Verdict::Skipped(feature);
        return played;
    }
    let mut runner = Runner {
        target,
        script,
        source,
        opts,
        queue: VecDeque::new(),
        pending: None,
        fds: BTreeMap::new(),
        nums: Numbers::default(),
        base: Duration::ZERO,
        prev_scheduled: Duration::ZERO,
        prev_inbound: false,
        option_mismatches: 0,
        ended: Vec::new(),
        unsupported: None,
    };
    let result = runner.run(&mut played.events);
    played.option_mismatches = runner.option_mismatches;
    played.end = runner.base;
    played.transitions = runner.target.transitions();
    if let Err(f) = result {
        played.verdict = match runner.unsupported.take() {
            Some(what) => Verdict::Skipped(what),
            None => Verdict::Failed(f),
        };
    }
    played
}

/// Seconds, as packetdrill prints them.
fn secs(d: Duration) -> String {
    format!("{:.6}", d.as_secs_f64())
}

fn micros(t: Time) -> Duration {
    Duration::from_micros(t.micros)
}

impl<T: Target> Runner<'_, T> {
    fn line_text(&self, pos: Pos) -> String {
        self.source
            .lines()
            .nth((pos.line as usize).saturating_sub(1))
            .unwrap_or("")
            .trim()
            .to_string()
    }

    fn fail(&self, pos: Pos, message: impl Into<String>, detail: Vec<String>) -> Failure {
        Failure {
            pos,
            message: message.into(),
            detail,
        }
    }

    /// The tolerance of an event scheduled at `at`.
    fn tolerance(&self, at: Duration) -> Duration {
        match self.opts.tolerance {
            None => Duration::ZERO,
            Some(t) => {
                let since = at.saturating_sub(self.prev_scheduled);
                let share = Duration::from_nanos(
                    u64::try_from(since.as_nanos() * TOLERANCE_PERCENT / 1000).unwrap_or(u64::MAX),
                );
                t.max(share)
            }
        }
    }

    /// An event's script time: its start and (for ranges and `*`) latest time.
    fn schedule(&self, e: &Event, inbound: bool) -> (Duration, Duration) {
        match e.when {
            When::Any => (self.base, Duration::MAX),
            When::At { time, upto } => {
                let offset = if self.prev_inbound && inbound {
                    self.prev_scheduled
                } else {
                    self.base
                };
                let at = |t: Time| {
                    if t.relative {
                        offset + micros(t)
                    } else {
                        micros(t)
                    }
                };
                let start = at(time);
                (start, upto.map_or(start, at))
            }
        }
    }

    /// Checks that `actual` falls in `[lo - tol, hi + tol]`.
    fn check_time(
        &self,
        pos: Pos,
        what: &str,
        (lo, hi): (Duration, Duration),
        tol: Duration,
        actual: Duration,
    ) -> Result<(), Failure> {
        if actual + tol >= lo && (hi == Duration::MAX || actual <= hi + tol) {
            return Ok(());
        }
        let expected = if lo == hi {
            format!("at {} sec", secs(lo))
        } else {
            format!("in time range {}~{} sec", secs(lo), secs(hi))
        };
        Err(self.fail(
            pos,
            format!(
                "timing error: expected {what} {expected} but happened at {} sec; tolerance {} sec",
                secs(actual),
                secs(tol)
            ),
            vec![format!("script line: {}", self.line_text(pos))],
        ))
    }

    /// Lets the target run until `until`, queueing its packets and checking the calls that
    /// return meanwhile.
    fn advance(&mut self, until: Duration) -> Result<(), Failure> {
        while let Some(h) = self.target.wait(until) {
            self.happened(h)?;
        }
        Ok(())
    }

    fn happened(&mut self, h: Happened) -> Result<(), Failure> {
        match h {
            Happened::Packet { at, bytes } => {
                self.queue.push_back((at, bytes));
                Ok(())
            }
            Happened::Returned { at, ret } => match self.pending.take() {
                Some(p) => self.returned(p, at, ret),
                None => Ok(()),
            },
        }
    }

    fn run(&mut self, played: &mut usize) -> Result<(), Failure> {
        let script = self.script;
        for (i, e) in script.events.iter().enumerate() {
            let inbound = matches!(&e.action, Action::Packet(p) if p.inbound);
            let (lo, hi) = self.schedule(e, inbound);
            let tol = self.tolerance(lo);
            match &e.action {
                Action::Packet(p) if p.inbound => {
                    self.advance(lo)?;
                    let now = self.target.now();
                    self.check_time(e.pos, "inbound packet", (lo, lo), tol, now)?;
                    let bytes = self.inbound(p)?;
                    self.target.inject(&bytes);
                }
                Action::Packet(p) => {
                    let (at, bytes) = self.next_outbound(e.pos, hi, tol)?;
                    // `*`: any time at all, as packetdrill's ANY_TIME.
                    let window = if e.when == When::Any {
                        (Duration::ZERO, Duration::MAX)
                    } else {
                        (lo, hi)
                    };
                    self.outbound(e, p, at, &bytes, window, tol)?;
                    self.base = self.base.max(at);
                }
                Action::Call(c) => {
                    self.advance(lo)?;
                    let now = self.target.now();
                    self.check_time(e.pos, "system call start", (lo, lo), tol, now)?;
                    self.start_call(i, e, c, lo)?;
                }
                Action::Shell(_) | Action::Code(_) => {
                    self.advance(lo)?;
                }
            }
            *played += 1;
            if !matches!(&e.action, Action::Packet(p) if !p.inbound) {
                self.base = self.target.now();
            }
            self.prev_scheduled = if hi == Duration::MAX { self.base } else { lo };
            self.prev_inbound = inbound;
            self.ended.push(self.base);
        }
        self.finish()
    }

    /// The stack's next segment for an outbound line, waiting until its latest time (and a
    /// grace beyond it, to say how late it came).
    fn next_outbound(
        &mut self,
        pos: Pos,
        hi: Duration,
        tol: Duration,
    ) -> Result<(Duration, Vec<u8>), Failure> {
        let deadline = if hi == Duration::MAX {
            // `*`: as long as a stack may take to time out, on either clock.
            self.target.now() + Duration::from_secs(600)
        } else {
            hi + tol + LATE_GRACE
        };
        loop {
            if let Some(p) = self.queue.pop_front() {
                return Ok(p);
            }
            match self.target.wait(deadline) {
                Some(h) => self.happened(h)?,
                None => {
                    return Err(self.fail(
                        pos,
                        format!(
                            "expected packet was not sent (waited until {} sec)",
                            secs(self.target.now())
                        ),
                        vec![format!("script packet: {}", self.line_text(pos))],
                    ))
                }
            }
        }
    }

    fn finish(&mut self) -> Result<(), Failure> {
        // A blocked call gets until its line says it returns; one whose line gives no end
        // time must have returned by the script's end (packetdrill would wait for it forever).
        if let Some(p) = &self.pending {
            let (event, until) = match p.returns {
                Some((end, tol)) => (p.event, end + tol),
                None => (p.event, self.base),
            };
            self.advance(until)?;
            if self.pending.is_some() {
                let pos = self.script.events[event].pos;
                return Err(self.fail(
                    pos,
                    format!(
                        "the system call had not returned by {} sec, when the script ended",
                        secs(until)
                    ),
                    vec![format!("script line: {}", self.line_text(pos))],
                ));
            }
        }
        // Segments sent by the last event's time that no line took: the failure is placed at
        // the last event that had ended when the segment was sent.
        let end = self.base;
        self.advance(end)?;
        if let Some((at, bytes)) = self.queue.iter().find(|(at, _)| *at <= end) {
            let after = self.ended.iter().rposition(|t| *t <= *at).unwrap_or(0);
            let pos = self
                .script
                .events
                .get(after)
                .map_or(Pos::default(), |e| e.pos);
            let actual = self.render_live(bytes);
            return Err(self.fail(
                pos,
                "the stack sent a segment that no line expects, after this line",
                vec![
                    format!("script line: {}", self.line_text(pos)),
                    format!("actual packet: {:>9} {actual}", secs(*at)),
                ],
            ));
        }
        Ok(())
    }

    fn start_call(
        &mut self,
        i: usize,
        e: &Event,
        line: &CallLine,
        start: Duration,
    ) -> Result<(), Failure> {
        if self.pending.is_some() {
            // On a real clock, the blocked call may be a moment from returning (the kernel
            // takes the packet that ends it in its own time): it gets the tolerance.
            let now = self.target.now();
            let tol = self.tolerance(now);
            self.advance(now + tol)?;
        }
        if self.pending.is_some() {
            return Err(self.fail(
                e.pos,
                "a system call while another blocking call is still in progress",
                vec![format!("script line: {}", self.line_text(e.pos))],
            ));
        }
        let bad = |m: String| self.fail(e.pos, m, Vec::new());
        let mut call = match calls::call(line) {
            Ok(c) => c,
            Err(NotACall::Unsupported(m)) | Err(NotACall::Bad(_, m)) => return Err(bad(m)),
        };
        let expected = calls::expected(line).map_err(|_| bad("bad return value".into()))?;
        let so_error = if line.name == "getsockopt" {
            calls::expected_so_error(line).ok()
        } else {
            None
        };
        // The script's descriptors map to the target's.
        if let Some(fd) = call.fd_mut() {
            *fd = self.fds.get(fd).copied().unwrap_or(-1 - fd.abs());
        }
        match call {
            Call::Bind { port, .. } => {
                self.nums.stack_port = Some(port);
                self.nums.script_port = Some(self.target.script_ports().0);
            }
            Call::Connect { .. } => {
                // A new connection: its port and ISN are learned from its SYN.
                self.nums.script_port = Some(self.target.script_ports().1);
                self.nums.stack_port = None;
                self.nums.relearn_local = true;
                self.nums.synchronized = false;
            }
            _ => {}
        }
        // packetdrill's end time counts from the same point as the start: from the previous
        // event when the start is relative (`+0...0.1` ends 0.1 s after it).
        let returns = e.returns.map(|t| {
            let start_relative = matches!(e.when, When::At { time, .. } if time.relative);
            let end = if t.relative || start_relative {
                let offset = match e.when {
                    When::At { time, .. } if time.relative => micros(time),
                    _ => Duration::ZERO,
                };
                start.saturating_sub(offset) + micros(t)
            } else {
                micros(t)
            };
            (end, self.tolerance(end))
        });
        let pending = Pending {
            event: i,
            expected,
            so_error,
            returns,
            new_fd: matches!(call, Call::Socket | Call::Accept { .. }),
            option: match call {
                Call::SetOption { .. } => line.args.get(2).map(|(e, _)| e.to_string()),
                _ => None,
            },
        };
        if let Call::Close { fd } = call {
            self.fds.retain(|_, live| *live != fd);
        }
        match self.target.call(&call) {
            Some(ret) => {
                let now = self.target.now();
                self.returned(pending, now, ret)
            }
            None => {
                self.pending = Some(pending);
                Ok(())
            }
        }
    }

    fn returned(&mut self, p: Pending, at: Duration, ret: Ret) -> Result<(), Failure> {
        let e = &self.script.events[p.event];
        let Action::Call(line) = &e.action else {
            return Ok(());
        };
        // A target returns SO_ERROR's value as `getsockopt`'s result; the call itself
        // returns 0 with the value in its argument.
        let (ret, so_error) = match (p.so_error, ret) {
            (Some(_), Ok(v)) => (Ok(0), Some(v)),
            (_, ret) => (ret, None),
        };
        let detail = vec![
            format!("script line: {}", self.line_text(e.pos)),
            format!("returned at {} sec: {}", secs(at), calls::show_ret(&ret)),
        ];
        // A socket option the runner makes but the stack cannot express: the script needs
        // what the stack lacks, and is skipped, naming it.
        if let (Ok(_), Err(EOPNOTSUPP), Some(opt)) = (&p.expected, &ret, &p.option) {
            self.unsupported = Some(format!("{opt}, which the stack cannot set"));
            return Err(self.fail(line.pos, format!("the stack cannot set {opt}"), detail));
        }
        let ok = match (&p.expected, &ret) {
            (Ok(want), Ok(got)) if p.new_fd => {
                if *want >= 0 && *got >= 0 {
                    self.fds.insert(*want, *got);
                    true
                } else {
                    want == got
                }
            }
            (want, got) => want == got,
        };
        if !ok {
            let message = match (&p.expected, &ret) {
                (Ok(want), Ok(got)) => format!("Expected result {want} but got {got}"),
                (Ok(want), Err(errno)) => format!(
                    "Expected result {want} but got -1 with errno {errno} ({})",
                    calls::errno_name(*errno)
                ),
                (Err(want), Ok(got)) => format!(
                    "Expected errno {want} ({}) but got {got}",
                    calls::errno_name(*want)
                ),
                (Err(want), Err(got)) => format!(
                    "Expected errno {want} ({}) but got {got} ({})",
                    calls::errno_name(*want),
                    calls::errno_name(*got)
                ),
            };
            return Err(self.fail(
                line.pos,
                format!("runtime error in {} call: {message}", line.name),
                detail,
            ));
        }
        if let (Some(want), Some(got)) = (p.so_error, so_error) {
            if i64::from(want) != got {
                return Err(self.fail(
                    line.pos,
                    format!(
                        "runtime error in getsockopt call: Bad getsockopt optval: expected: {} actual: {}",
                        calls::errno_name(want),
                        calls::errno_name(i32::try_from(got).unwrap_or(0))
                    ),
                    detail,
                ));
            }
        }
        if let Some((end, tol)) = p.returns {
            self.check_time(line.pos, "system call return", (end, end), tol, at)?;
        }
        Ok(())
    }

    /// The packet an inbound line sends.
    fn inbound(&mut self, p: &PacketLine) -> Result<Vec<u8>, Failure> {
        let (stack_addr, script_addr) = self.target.addresses();
        let n = &mut self.nums;
        if p.flags.syn && !n.synchronized {
            n.remote_isn = p.seq;
            n.relearn_local = n.live_local_isn.is_some();
        }
        if p.flags.rst {
            n.synchronized = false;
        }
        let seq = if p.flags.syn {
            p.seq
        } else {
            p.seq.wrapping_add(n.remote_isn)
        };
        let live_isn = n.live_local_isn.unwrap_or(n.script_local_isn);
        let ack = match p.ack {
            Some((a, _)) if p.flags.ack => {
                if p.flags.syn {
                    a.wrapping_sub(n.script_local_isn).wrapping_add(live_isn)
                } else {
                    a.wrapping_add(live_isn)
                }
            }
            Some((a, _)) => a,
            None => 0,
        };
        // ECE, CWR and URG never get here: a script with them is skipped.
        let flags = script_flags(p);
        let options = match &p.opts {
            Opts::List(list) => list
                .iter()
                .filter_map(|o| match o {
                    TcpOpt::Nop => Some(TcpOption::Nop),
                    TcpOpt::Mss(m) => Some(TcpOption::Mss(*m)),
                    TcpOpt::WindowScale(s) => Some(TcpOption::WindowScale(*s)),
                    TcpOpt::SackPermitted => Some(TcpOption::SackPermitted),
                    TcpOpt::Timestamps { val, ecr } => Some(TcpOption::Timestamps {
                        tsval: *val,
                        tsecr: n.tsvals.get(ecr).copied().unwrap_or(*ecr),
                    }),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let mut tcp = TcpHeader::new(
            n.script_port.unwrap_or(self.target.script_ports().0),
            n.stack_port.unwrap_or(calls::DEFAULT_PORT),
            SeqNum(seq),
            SeqNum(ack),
            flags,
        )
        .with_options(options);
        tcp.window = p
            .win
            .map_or(0, |(w, _)| u16::try_from(w).unwrap_or(u16::MAX));
        let payload = vec![0u8; p.len as usize];
        let packet = Packet {
            ip: Ipv4Header::new(script_addr, stack_addr),
            tcp,
            payload: &payload,
        };
        packet.to_bytes().map_err(|e| Failure {
            pos: p.seq_pos,
            message: format!("cannot build this packet: {e:?}"),
            detail: Vec::new(),
        })
    }

    /// Judges the stack's segment against an outbound line.
    fn outbound(
        &mut self,
        e: &Event,
        p: &PacketLine,
        at: Duration,
        bytes: &[u8],
        window: (Duration, Duration),
        tol: Duration,
    ) -> Result<(), Failure> {
        let detail = |this: &Self| {
            vec![
                format!(
                    "script packet: {:>9} {}",
                    secs(window.0),
                    this.line_text(e.pos)
                ),
                format!("actual packet: {:>9} {}", secs(at), this.render_live(bytes)),
            ]
        };
        let live = match Packet::parse(bytes) {
            Ok(l) => l,
            Err(err) => {
                return Err(self.fail(
                    e.pos,
                    format!(
                    "error handling packet: the stack sent a packet that does not parse ({err:?})"
                ),
                    detail(self),
                ))
            }
        };
        let t = &live.tcp;
        let n = &mut self.nums;
        let both_syn = t.flags.contains(Flags::SYN) && p.flags.syn;
        if both_syn && (n.live_local_isn.is_none() || n.relearn_local) {
            n.live_local_isn = Some(t.seq.0);
            n.script_local_isn = p.seq;
            n.relearn_local = false;
        }
        if t.flags.contains(Flags::RST) {
            n.synchronized = false;
        } else if t.flags.contains(Flags::ACK) {
            n.synchronized = true;
        }
        if n.stack_port.is_none() {
            n.stack_port = Some(t.src_port);
        }
        let live_isn = n.live_local_isn.unwrap_or(0);
        let seq = if t.flags.contains(Flags::SYN) {
            t.seq
                .0
                .wrapping_sub(live_isn)
                .wrapping_add(n.script_local_isn)
        } else {
            t.seq.0.wrapping_sub(live_isn)
        };
        let ack = if t.flags.contains(Flags::ACK) && !t.flags.contains(Flags::SYN) {
            t.ack.0.wrapping_sub(n.remote_isn)
        } else {
            t.ack.0
        };
        let want_flags = script_flags(p);
        let field = |name: &str, want: u32, got: u32| {
            format!("error handling packet: live packet field {name}: expected: {want} ({want:#x}) vs actual: {got} ({got:#x})")
        };
        if t.flags != want_flags {
            return Err(self.fail(
                p.flags_pos,
                format!(
                    "error handling packet: live packet flags: expected: {} vs actual: {}",
                    flag_text(want_flags),
                    flag_text(t.flags)
                ),
                detail(self),
            ));
        }
        if seq != p.seq {
            return Err(self.fail(p.seq_pos, field("tcp_seq", p.seq, seq), detail(self)));
        }
        let want_ack = p.ack.map_or(0, |(a, _)| a);
        if ack != want_ack {
            let pos = p.ack.map_or(p.seq_pos, |(_, pos)| pos);
            return Err(self.fail(pos, field("tcp_ack_seq", want_ack, ack), detail(self)));
        }
        let len = u32::try_from(live.payload.len()).unwrap_or(u32::MAX);
        if len != p.len {
            return Err(self.fail(
                p.seq_pos,
                format!(
                    "error handling packet: live packet payload: expected {} bytes vs actual {len} bytes",
                    p.len
                ),
                detail(self),
            ));
        }
        if live.payload.iter().any(|b| *b != 0) {
            return Err(self.fail(
                p.seq_pos,
                "error handling packet: incorrect outbound data payload",
                detail(self),
            ));
        }
        if let Some((w, pos)) = p.win {
            if u32::from(t.window) != w {
                return Err(self.fail(
                    pos,
                    field("tcp_window", w, u32::from(t.window)),
                    detail(self),
                ));
            }
        }
        if !options_match(&p.opts, &t.options) {
            if self.opts.lenient_options {
                self.option_mismatches += 1;
            } else {
                return Err(self.fail(
                    p.opts_pos,
                    format!(
                        "error handling packet: bad outbound TCP options: expected {} vs actual {}",
                        script_opts_text(&p.opts),
                        live_opts_text(&t.options)
                    ),
                    detail(self),
                ));
            }
        }
        // The script's TSvals, mapped to the stack's, for the TSecr of later inbound lines.
        if let (Opts::List(list), Some(live_val)) = (
            &p.opts,
            t.options.iter().find_map(|o| match o {
                TcpOption::Timestamps { tsval, .. } => Some(*tsval),
                _ => None,
            }),
        ) {
            for o in list {
                if let TcpOpt::Timestamps { val, .. } = o {
                    self.nums.tsvals.insert(*val, live_val);
                }
            }
        }
        self.check_time(e.pos, "outbound packet", window, tol, at)
            .map_err(|mut f| {
                f.detail = detail(self);
                f
            })
    }

    /// A live segment in the script's notation, its numbers as the script would write them.
    fn render_live(&self, bytes: &[u8]) -> String {
        let Ok(live) = Packet::parse(bytes) else {
            return format!("(a packet of {} octets that does not parse)", bytes.len());
        };
        let t = &live.tcp;
        let n = &self.nums;
        let live_isn = n.live_local_isn.unwrap_or(0);
        let syn = t.flags.contains(Flags::SYN);
        let seq = if syn {
            t.seq
                .0
                .wrapping_sub(live_isn)
                .wrapping_add(n.script_local_isn)
        } else {
            t.seq.0.wrapping_sub(live_isn)
        };
        let len = live.payload.len() as u32;
        let mut s = format!(
            "> {} {seq}:{}({len})",
            flag_text(t.flags),
            seq.wrapping_add(len)
        );
        if t.flags.contains(Flags::ACK) {
            let ack = if syn {
                t.ack.0
            } else {
                t.ack.0.wrapping_sub(n.remote_isn)
            };
            let _ = write!(s, " ack {ack}");
        }
        let _ = write!(s, " win {}", t.window);
        if !t.options.is_empty() {
            let _ = write!(s, " {}", live_opts_text(&t.options));
        }
        s
    }
}

fn script_flags(p: &PacketLine) -> Flags {
    let f = &p.flags;
    let mut flags = Flags::empty();
    for (on, bit) in [
        (f.syn, Flags::SYN),
        (f.fin, Flags::FIN),
        (f.rst, Flags::RST),
        (f.psh, Flags::PSH),
        (f.ack, Flags::ACK),
        (f.urg, Flags::URG),
        (f.ece, Flags::ECE),
        (f.cwr, Flags::CWR),
    ] {
        if on {
            flags |= bit;
        }
    }
    flags
}

/// Flags in packetdrill's order (F S R P . U E W), `-` for none.
pub fn flag_text(flags: Flags) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (Flags::FIN, 'F'),
        (Flags::SYN, 'S'),
        (Flags::RST, 'R'),
        (Flags::PSH, 'P'),
        (Flags::ACK, '.'),
        (Flags::URG, 'U'),
        (Flags::ECE, 'E'),
        (Flags::CWR, 'W'),
    ] {
        if flags.contains(bit) {
            s.push(c);
        }
    }
    if s.is_empty() {
        s.push('-');
    }
    s
}

/// Whether a live option list matches a line's: the same kinds in the same order, with
/// equal values except TSval and TSecr, which packetdrill does not compare by default.
fn options_match(want: &Opts, got: &[TcpOption]) -> bool {
    match want {
        Opts::Any => true,
        Opts::None => got.is_empty(),
        Opts::List(list) => {
            // The live list has no EOL (the parser stops there); neither does a match.
            let list: Vec<&TcpOpt> = list.iter().filter(|o| **o != TcpOpt::Eol).collect();
            list.len() == got.len()
                && list.iter().zip(got).all(|(w, g)| match (w, g) {
                    (TcpOpt::Nop, TcpOption::Nop) => true,
                    (TcpOpt::Mss(a), TcpOption::Mss(b)) => a == b,
                    (TcpOpt::WindowScale(a), TcpOption::WindowScale(b)) => a == b,
                    (TcpOpt::SackPermitted, TcpOption::SackPermitted) => true,
                    (TcpOpt::Timestamps { .. }, TcpOption::Timestamps { .. }) => true,
                    _ => false,
                })
        }
    }
}

fn script_opts_text(o: &Opts) -> String {
    match o {
        Opts::None => "no options".into(),
        Opts::Any => "<...>".into(),
        Opts::List(list) => {
            let items: Vec<String> = list
                .iter()
                .map(|o| match o {
                    TcpOpt::Nop => "nop".into(),
                    TcpOpt::Eol => "eol".into(),
                    TcpOpt::Mss(m) => format!("mss {m}"),
                    TcpOpt::WindowScale(s) => format!("wscale {s}"),
                    TcpOpt::SackPermitted => "sackOK".into(),
                    TcpOpt::Sack(b) => {
                        let blocks: Vec<String> =
                            b.iter().map(|(l, r)| format!("{l}:{r}")).collect();
                        format!("sack {}", blocks.join(" "))
                    }
                    TcpOpt::Timestamps { val, ecr } => format!("TS val {val} ecr {ecr}"),
                    TcpOpt::FastOpen => "FO".into(),
                    TcpOpt::Other(n) => n.clone(),
                })
                .collect();
            format!("<{}>", items.join(","))
        }
    }
}

fn live_opts_text(opts: &[TcpOption]) -> String {
    if opts.is_empty() {
        return "no options".into();
    }
    let items: Vec<String> = opts
        .iter()
        .map(|o| match o {
            TcpOption::Nop => "nop".into(),
            TcpOption::Mss(m) => format!("mss {m}"),
            TcpOption::WindowScale(s) => format!("wscale {s}"),
            TcpOption::SackPermitted => "sackOK".into(),
            TcpOption::Sack(b) => format!("sack ({} blocks)", b.len()),
            TcpOption::Timestamps { tsval, tsecr } => format!("TS val {tsval} ecr {tsecr}"),
            other => format!("kind {}", other.kind()),
        })
        .collect();
    format!("<{}>", items.join(","))
}
