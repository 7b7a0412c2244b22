//! The applications: the user of each host's TCP, carrying a workload's plan out.
//!
//! This module owns the two hosts' applications and the user calls they make through
//! `TcpStack`: opening (passive, active, fully specified passive), accepting, writing the
//! data pattern, reading and checking it (through the stream-integrity checks of `oracle`),
//! closing and aborting, each when its script says. Each call is counted as the table cell it
//! exercises. Applications react within one virtual instant; they never wait on a clock.

use std::net::SocketAddrV4;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use synack_core::{Event, Instant, SocketId, State, UserError};

use super::coverage::Coverage;
use super::oracle::{self, Oracle, Verdict};
use super::workload::{self, fill_pattern, ConnPlan, Kind, Script, Step, Workload};
use crate::net::Network;
use crate::reference::Event as Cell;
use crate::stacks::{TcpStack, ADDRS};
use crate::trace::HOST_NAMES;

/// The stacks of the two hosts.
pub type Stacks = [Box<dyn TcpStack>; 2];

/// One side of one connection.
struct App {
    conn: usize,
    host: usize,
    script: Script,
    step: usize,
    socket: Option<SocketId>,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    written: u64,
    /// How much of `written` the wire oracles have been told (`Apps::report_writes`).
    reported: u64,
    read: u64,
    /// Octets the peer will write in all.
    expect: u64,
    eof: bool,
    /// The connection has been established: the script may run. Like a blocking connect(),
    /// an application waits for this (a CLOSE in SYN-SENT would delete the connection).
    connected: bool,
    /// The socket is a fully specified passive OPEN that the first SEND turns active.
    opens_by_send: bool,
    reset: bool,
    aborted: bool,
    key_out: u64,
    key_in: u64,
    chunks: ChaCha8Rng,
    /// What it writes from: `out[staged]` holds the pattern from stream offset `written`,
    /// filled once and offered until the stack has taken it all.
    out: Vec<u8>,
    staged: std::ops::Range<usize>,
    /// A slow reader reads at most once per this interval (`super::conditions`).
    read_pause: Option<Duration>,
    /// A reader that stalls stops reading this long once it has read something.
    stall: Option<Duration>,
    /// It reads next no sooner than this, and `waiting` says the loop must wake it then.
    next_read: Instant,
    waiting: bool,
}

impl App {
    /// Fills the next `n` octets of the stream to offer, unless some are still staged.
    fn stage(&mut self, n: usize) {
        if self.staged.is_empty() {
            fill_pattern(self.key_out, self.written, &mut self.out[..n]);
            self.staged = 0..n;
        }
    }

    /// The stack took `n` of the staged octets.
    fn taken(&mut self, n: usize) {
        let n = n.min(self.staged.len());
        self.written += n as u64;
        self.staged.start += n;
    }

    fn script_done(&self) -> bool {
        self.step >= self.script.steps.len()
    }

    fn finished(&self) -> bool {
        self.script_done() || self.reset || self.aborted
    }

    fn describe(&self) -> String {
        let (a, b) = if self.host == 0 {
            (self.local, self.remote)
        } else {
            (self.remote, self.local)
        };
        format!("A {a} <-> B {b}")
    }
}

/// Every application of a run.
pub struct Apps {
    apps: Vec<App>,
    /// The port B listens on.
    server_port: u16,
    /// Each host's listening socket, while connections remain to accept.
    listener: [Option<SocketId>; 2],
    /// Connections each host still has to accept.
    to_accept: [usize; 2],
    /// Which connections end in a planned abort.
    aborts: Vec<bool>,
    /// What every application reads into: a read is checked before the next one starts.
    read_buf: Vec<u8>,
}

fn splitmix(z: u64) -> u64 {
    workload::mix64(z.wrapping_add(workload::GOLDEN_GAMMA))
}

/// What the applications need from the run at each step.
pub struct Ctx<'a> {
    /// Virtual time.
    pub now: Instant,
    /// The stacks.
    pub stacks: &'a mut Stacks,
    /// Where cells are counted.
    pub coverage: &'a mut Coverage,
    /// Where failures go.
    pub verdict: &'a mut Verdict,
    /// The network, whose trace shows the user calls.
    pub net: &'a mut Network,
}

impl Ctx<'_> {
    fn fail(&mut self, oracle: Oracle, connection: Option<String>, message: String) {
        self.verdict.fail(oracle, self.now, connection, message);
    }

    /// Shows a user call of host `host` in a kept trace.
    fn call<T: Shown, E: std::fmt::Display>(
        &mut self,
        host: usize,
        call: impl FnOnce() -> String,
        result: &Result<T, E>,
    ) {
        note(self.net, self.now, host, call, result);
    }
}

/// What a user call returned, as a trace shows it.
trait Shown {
    fn shown(&self) -> String;
}

impl Shown for () {
    fn shown(&self) -> String {
        "ok".to_string()
    }
}

impl Shown for usize {
    fn shown(&self) -> String {
        self.to_string()
    }
}

impl Shown for SocketId {
    fn shown(&self) -> String {
        format!("socket {self}")
    }
}

impl Shown for Option<SocketId> {
    fn shown(&self) -> String {
        self.map_or("none".to_string(), |id| id.shown())
    }
}

/// Shows a user call of host `host` and what it returned in a kept trace (the text is made
/// only then): `CLOSE #3 -> ok`, `SEND 1460 octets on #2 -> 1460`, `RECEIVE up to 4096
/// octets on #2 -> error: connection closing`.
fn note<T: Shown, E: std::fmt::Display>(
    net: &mut Network,
    now: Instant,
    host: usize,
    call: impl FnOnce() -> String,
    result: &Result<T, E>,
) {
    net.call(now, host, || match result {
        Ok(v) => format!("{} -> {}", call(), v.shown()),
        Err(e) => format!("{} -> error: {e}", call()),
    });
}

impl Apps {
    /// The applications of `workload`, their chunk sizes drawn from `wl_rng`, their streams
    /// keyed by `seed`.
    pub fn new(workload: &Workload, seed: u64, wl_rng: &mut ChaCha8Rng) -> Apps {
        let mut apps = Vec::with_capacity(workload.conns.len() * 2);
        for (i, plan) in workload.conns.iter().enumerate() {
            apps.push(new_app(seed, i, 0, plan, workload.server_port, wl_rng));
            apps.push(new_app(seed, i, 1, plan, workload.server_port, wl_rng));
        }
        let aborts = workload
            .conns
            .iter()
            .map(|c| c.client.steps.contains(&Step::Abort) || c.server.steps.contains(&Step::Abort))
            .collect();
        let largest_read = apps.iter().map(|a| a.script.read_chunk).max().unwrap_or(1);
        Apps {
            apps,
            server_port: workload.server_port,
            listener: [None; 2],
            to_accept: [0; 2],
            aborts,
            read_buf: vec![0; largest_read.max(1) as usize],
        }
    }

    /// Makes each host's applications slow readers, reading at most once per `pause`, and
    /// readers that stop reading for `stall` once they have read something.
    pub fn with_readers(
        mut self,
        pause: [Option<Duration>; 2],
        stall: [Option<Duration>; 2],
    ) -> Apps {
        for a in &mut self.apps {
            a.read_pause = pause[a.host];
            a.stall = stall[a.host];
        }
        self
    }

    /// When a slow reader next reads, if one is connected and still has its script to run.
    /// (Each read moves its time on; one not yet connected reads nothing and waits for its
    /// stack instead.)
    pub fn next_read(&self) -> Option<Instant> {
        self.apps
            .iter()
            .filter(|a| a.waiting && a.connected && !a.finished())
            .map(|a| a.next_read)
            .min()
    }

    /// The opening calls: listeners, fully specified passive OPENs, active OPENs.
    pub fn start(&mut self, kind: Kind, conns: &[ConnPlan], cx: &mut Ctx<'_>) {
        let simultaneous = matches!(kind, Kind::SimultaneousOpen | Kind::EarlyClose);
        if kind == Kind::PassiveSend {
            // A listens; B's passive OPEN names A, and B's first SEND makes it active.
            cx.coverage.count(State::Closed, Cell::PassiveOpen);
            let port = self.apps[0].local.port();
            let r = cx.stacks[0].listen(port);
            cx.call(0, || format!("OPEN passive, port {port}"), &r);
            match r {
                Ok(l) => {
                    self.listener[0] = Some(l);
                    self.to_accept[0] = 1;
                }
                Err(e) => cx.fail(Oracle::Liveness, None, format!("A cannot listen: {e}")),
            }
            cx.coverage.count(State::Closed, Cell::PassiveOpen);
            let (local, remote) = (self.apps[1].local, self.apps[1].remote);
            let r = cx.stacks[1].listen_to(local.port(), remote);
            cx.call(
                1,
                || format!("OPEN passive, port {}, to {remote}", local.port()),
                &r,
            );
            match r {
                Ok(id) => {
                    self.apps[1].socket = Some(id);
                    self.apps[1].opens_by_send = true;
                }
                Err(e) => cx.fail(Oracle::Liveness, None, format!("B cannot listen: {e}")),
            }
            return;
        }
        if !simultaneous {
            cx.coverage.count(State::Closed, Cell::PassiveOpen);
            let port = self.server_port;
            let r = cx.stacks[1].listen(port);
            cx.call(1, || format!("OPEN passive, port {port}"), &r);
            match r {
                Ok(l) => {
                    self.listener[1] = Some(l);
                    self.to_accept[1] = conns.iter().filter(|c| c.accepted).count();
                }
                Err(e) => cx.fail(Oracle::Liveness, None, format!("B cannot listen: {e}")),
            }
        }
        for app in &mut self.apps {
            if app.host == 0 || simultaneous {
                cx.coverage.count(State::Closed, Cell::ActiveOpen);
                let r = cx.stacks[app.host].connect(cx.now, app.remote, Some(app.local.port()));
                cx.call(app.host, || format!("OPEN active, to {}", app.remote), &r);
                match r {
                    Ok(id) => app.socket = Some(id),
                    Err(e) => {
                        let c = app.describe();
                        cx.fail(Oracle::Liveness, Some(c), format!("OPEN refused: {e}"));
                    }
                }
            }
        }
    }

    /// Whether every application is done and every connection CLOSED.
    pub fn all_done(&self, stacks: &Stacks) -> bool {
        self.apps.iter().all(App::finished)
            && self.apps.iter().all(|a| {
                a.socket
                    .is_none_or(|id| stacks[a.host].state(id) == State::Closed)
            })
            && self.listener.iter().all(Option::is_none)
    }

    /// The states of host `h`'s connections.
    pub fn states<'a>(&'a self, h: usize, stacks: &'a Stacks) -> impl Iterator<Item = State> + 'a {
        self.apps
            .iter()
            .filter(move |a| a.host == h)
            .filter_map(move |a| a.socket.map(|id| stacks[h].state(id)))
    }

    /// Hands `take` what each application has handed its stack since `take` last took it:
    /// (its socket, its peer's, octets in all). `take` says whether it took it.
    pub fn report_writes(&mut self, mut take: impl FnMut(SocketAddrV4, SocketAddrV4, u64) -> bool) {
        for a in self.apps.iter_mut().filter(|a| a.written > a.reported) {
            if take(a.local, a.remote, a.written) {
                a.reported = a.written;
            }
        }
    }

    /// The (local, remote) sockets of host `h`'s `socket`, as its application opened them.
    pub fn sockets_of(&self, h: usize, socket: SocketId) -> Option<(SocketAddrV4, SocketAddrV4)> {
        self.apps
            .iter()
            .find(|a| a.host == h && a.socket == Some(socket))
            .map(|a| (a.local, a.remote))
    }

    /// The connection of host `h`'s `socket`, described for a failure.
    pub fn connection_of(&self, h: usize, socket: SocketId) -> Option<String> {
        self.apps
            .iter()
            .find(|a| a.host == h && a.socket == Some(socket))
            .map(App::describe)
    }

    /// Liveness failed for `why`: names the first application still waiting.
    pub fn liveness(&self, why: &str, now: Instant, stacks: &Stacks, verdict: &mut Verdict) {
        let stuck = self.apps.iter().find(|a| {
            !a.finished()
                || a.socket
                    .is_some_and(|id| stacks[a.host].state(id) != State::Closed)
        });
        match stuck {
            Some(a) => {
                let progress = format!(
                    "step {} of {:?}, wrote {} read {} of {}",
                    a.step, a.script.steps, a.written, a.read, a.expect
                );
                let m = oracle::describe_stuck(why, a.host, &*stacks[a.host], a.socket, progress);
                verdict.fail(Oracle::Liveness, now, Some(a.describe()), m);
            }
            None => verdict.fail(
                Oracle::Liveness,
                now,
                None,
                format!("{why}: a listener is still open"),
            ),
        }
    }

    /// The applications' turn: events, accepts, then each script as far as it can go.
    pub fn drive(&mut self, cx: &mut Ctx<'_>) {
        self.take_events(cx);
        self.accept(cx);
        // Applications react to each other within one instant (a `Sync` step releases its
        // peer), so run them until none moves, a few passes at most.
        for _ in 0..4 {
            let mut moved = false;
            for k in 0..self.apps.len() {
                let before = self.apps[k].step;
                let synced = self.peer_synced(k);
                drive_app(&mut self.apps[k], synced, &mut self.read_buf, cx);
                moved |= self.apps[k].step != before;
            }
            if !moved {
                break;
            }
        }
    }

    /// Resets and timeouts end an application's script.
    fn take_events(&mut self, cx: &mut Ctx<'_>) {
        for h in 0..2 {
            while let Some((id, e)) = cx.stacks[h].poll_event() {
                if !matches!(e, Event::Reset | Event::Refused | Event::TimedOut) {
                    continue;
                }
                let Some(k) = self
                    .apps
                    .iter()
                    .position(|a| a.host == h && a.socket == Some(id))
                else {
                    continue;
                };
                self.apps[k].reset = true;
                let app = &self.apps[k];
                let planned = self.aborts[app.conn];
                if let Some((o, m)) =
                    oracle::check_ended(e, planned, app.script_done(), h, app.read, app.expect)
                {
                    cx.fail(o, Some(app.describe()), m);
                }
            }
        }
    }

    fn accept(&mut self, cx: &mut Ctx<'_>) {
        for (h, name) in HOST_NAMES.iter().enumerate() {
            let Some(l) = self.listener[h] else {
                continue;
            };
            while self.to_accept[h] > 0 {
                let r = cx.stacks[h].accept(l);
                if !matches!(r, Ok(None)) {
                    cx.call(h, || format!("ACCEPT on {l}"), &r);
                }
                match r {
                    Ok(Some(id)) => {
                        self.to_accept[h] -= 1;
                        let remote = cx.stacks[h].endpoints(id).map(|e| e.1);
                        match self
                            .apps
                            .iter_mut()
                            .find(|a| a.host == h && a.socket.is_none() && Some(a.remote) == remote)
                        {
                            Some(app) => app.socket = Some(id),
                            None => cx.fail(
                                Oracle::StreamIntegrity,
                                None,
                                format!("{name} accepted an unplanned connection from {remote:?}"),
                            ),
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        cx.fail(Oracle::Liveness, None, format!("accept failed: {e}"));
                        break;
                    }
                }
            }
            if self.to_accept[h] == 0 {
                let r = cx.stacks[h].close(l);
                cx.call(h, || format!("CLOSE {l} (the listener)"), &r);
                self.listener[h] = None;
            }
        }
    }

    /// Whether the other side of application `k`'s connection has reached (or passed) its
    /// `Sync` step.
    fn peer_synced(&self, k: usize) -> bool {
        // `new` places connection i's client at 2i and its server at 2i + 1.
        self.apps.get(k ^ 1).is_some_and(|a| {
            a.script.steps[..a.step.min(a.script.steps.len())]
                .iter()
                .chain(a.script.steps.get(a.step))
                .any(|s| *s == Step::Sync)
        })
    }
}

fn new_app(
    seed: u64,
    conn: usize,
    host: usize,
    plan: &ConnPlan,
    server_port: u16,
    wl_rng: &mut ChaCha8Rng,
) -> App {
    let (script, peer) = if host == 0 {
        (plan.client.clone(), &plan.server)
    } else {
        (plan.server.clone(), &plan.client)
    };
    let client = SocketAddrV4::new(ADDRS[0], plan.client_port);
    let server = SocketAddrV4::new(ADDRS[1], server_port);
    let (local, remote) = if host == 0 {
        (client, server)
    } else {
        (server, client)
    };
    let key = |dir: u64| splitmix(seed ^ splitmix(conn as u64 * 2 + dir));
    App {
        conn,
        host,
        // No chunk is larger than the application writes in all.
        out: vec![
            0;
            u64::from(script.write_chunk)
                .min(script.total_written())
                .max(1) as usize
        ],
        staged: 0..0,
        read_pause: None,
        stall: None,
        next_read: Instant::ZERO,
        waiting: false,
        script,
        step: 0,
        socket: None,
        local,
        remote,
        written: 0,
        reported: 0,
        read: 0,
        expect: peer.total_written(),
        eof: false,
        connected: false,
        opens_by_send: false,
        reset: false,
        aborted: false,
        key_out: key(host as u64),
        key_in: key(1 - host as u64),
        chunks: ChaCha8Rng::seed_from_u64(wl_rng.random()),
    }
}

/// SEND of the octets `app` has staged: what the stack took is counted as written, and the
/// call is shown in a kept trace unless it took nothing.
fn send_staged(
    app: &mut App,
    id: SocketId,
    stack: &mut dyn TcpStack,
    net: &mut Network,
    now: Instant,
) -> Result<usize, UserError> {
    let n = app.staged.len();
    let r = stack.send(now, id, &app.out[app.staged.clone()]);
    if !matches!(r, Ok(0)) {
        note(
            net,
            now,
            app.host,
            || format!("SEND {n} octets on {id}"),
            &r,
        );
    }
    if let Ok(taken) = r {
        app.taken(taken);
    }
    r
}

/// One application's turn: the steps that act before the connection is established, then
/// reading what is ready, then the script as far as it can go.
fn drive_app(app: &mut App, peer_synced: bool, buf: &mut [u8], cx: &mut Ctx<'_>) {
    let now = cx.now;
    let Some(id) = app.socket else {
        return;
    };
    if app.reset || app.aborted {
        return;
    }
    let stack = &mut cx.stacks[app.host];
    if !app.connected {
        let state = stack.state(id);
        match (app.script.steps.get(app.step), state) {
            (Some(Step::CloseInSynSent), State::SynSent) if now > Instant::ZERO => {
                cx.coverage.count(state, Cell::Close);
                let r = stack.close(id);
                note(cx.net, now, app.host, || format!("CLOSE {id}"), &r);
                app.step += 1;
                return;
            }
            (Some(Step::CloseInSynReceived), State::SynReceived) => {
                cx.coverage.count(state, Cell::Close);
                let r = stack.close(id);
                note(cx.net, now, app.host, || format!("CLOSE {id}"), &r);
                app.step += 1;
                app.connected = true;
                return;
            }
            (Some(&Step::WriteTo(total)), State::Listen)
                if app.opens_by_send && total > app.written =>
            {
                // The first SEND: LISTEN to SYN-SENT (RFC 793 Figure 6).
                cx.coverage.count(state, Cell::Send);
                let left = usize::try_from(total - app.written).unwrap_or(usize::MAX);
                let n = (app.script.write_chunk as usize)
                    .min(left)
                    .clamp(1, app.out.len());
                app.stage(n);
                let _ = send_staged(app, id, &mut **stack, cx.net, now);
                return;
            }
            _ => {}
        }
        match state {
            State::Listen | State::SynSent | State::SynReceived | State::Closed => return,
            _ => app.connected = true,
        }
    }
    let mut failure = None;
    // Read whatever is ready, checking every octet against the peer's pattern; a slow reader
    // only when its interval has passed.
    // A slow or stalled reader holds back only while its connection is ESTABLISHED or
    // CLOSE-WAIT: the TCB lasts there until this application closes (or a RST, as in
    // ESTABLISHED), so a FIN can wait unread behind the data, and its ACK must not wait with it
    // (§3.10.7.4, eighth check). Once this side closes, the TCB may soon be gone (a RST ends
    // TIME-WAIT, §3.10.7.4), and what it holds unread with it.
    let holds = matches!(stack.state(id), State::Established | State::CloseWait);
    let reads = now >= app.next_read || !holds;
    if reads {
        app.waiting = app.read_pause.is_some();
        if let Some(p) = app.read_pause {
            // The next multiple of the interval: a host's slow readers wake together, so a
            // hundred connections cost the loop one wake-up per interval, not a hundred.
            let p_ns = p.as_nanos().max(1) as u64;
            let next = (now.as_nanos() / p_ns + 1) * p_ns;
            app.next_read = Instant::ZERO + Duration::from_nanos(next);
        }
    }
    if reads {
        loop {
            let want = (app.script.read_chunk as usize).clamp(1, buf.len());
            cx.coverage.count(stack.state(id), Cell::Receive);
            let r = stack.recv(id, &mut buf[..want]);
            if !matches!(r, Ok(0)) {
                let what = || format!("RECEIVE up to {want} octets on {id}");
                note(cx.net, now, app.host, what, &r);
            }
            match r {
                Ok(0) => break,
                Ok(n) => {
                    let checked =
                        oracle::check_read(app.host, app.key_in, app.read, &buf[..n], app.expect);
                    app.read += n as u64;
                    if let Err(m) = checked {
                        failure = Some(m);
                        break;
                    }
                }
                Err(UserError::ConnectionClosing) => {
                    app.eof = true;
                    break;
                }
                // A reader that came back late (a stalled one) may find the connection gone:
                // TIME-WAIT ended, or a RST ended it. With every octet read, the stream is whole
                // and its end has passed.
                Err(UserError::ConnectionDoesNotExist) if app.read >= app.expect => {
                    app.eof = true;
                    break;
                }
                Err(_) => break,
            }
        }
    }
    if let (Some(d), true) = (app.stall, app.read > 0) {
        app.stall = None;
        app.next_read = now + d;
        app.waiting = true;
    }
    // Then the script.
    while failure.is_none() {
        let Some(&step) = app.script.steps.get(app.step) else {
            break;
        };
        let advance = match step {
            Step::WriteTo(total) => {
                while app.written < total {
                    if app.staged.is_empty() {
                        let max =
                            (total - app.written).min(u64::from(app.script.write_chunk)) as usize;
                        let n = app.chunks.random_range(1..=max.max(1));
                        app.stage(n);
                    }
                    cx.coverage.count(stack.state(id), Cell::Send);
                    if !matches!(send_staged(app, id, &mut **stack, cx.net, now), Ok(1..)) {
                        break;
                    }
                }
                app.written >= total
            }
            Step::ReadTo(total) => app.read >= total,
            Step::Sync => peer_synced,
            Step::ReadToEof => {
                if app.eof {
                    if let Err(m) = oracle::check_eof(app.host, app.read, app.expect) {
                        failure = Some(m);
                    }
                }
                app.eof
            }
            // The early closes, reached only once connected, close as usual.
            Step::Close | Step::CloseInSynSent | Step::CloseInSynReceived => {
                cx.coverage.count(stack.state(id), Cell::Close);
                let r = stack.close(id);
                note(cx.net, now, app.host, || format!("CLOSE {id}"), &r);
                if let Err(e) = r {
                    failure = Some(format!("CLOSE refused: {e}"));
                }
                true
            }
            Step::Abort => {
                cx.coverage.count(stack.state(id), Cell::Abort);
                app.aborted = true;
                let r = stack.abort(id);
                note(cx.net, now, app.host, || format!("ABORT {id}"), &r);
                true
            }
        };
        if !advance {
            break;
        }
        app.step += 1;
    }
    if let Some(message) = failure {
        let c = app.describe();
        cx.fail(Oracle::StreamIntegrity, Some(c), message);
    }
}
