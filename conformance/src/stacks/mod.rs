//! The stacks layer: what the harness asks of a TCP, the stacks it knows, and how they differ
//! from the RFCs.
//!
//! This module owns:
//! - the [`TcpStack`] trait: everything the harness may ask of a TCP (packets in and out,
//!   timers, the user calls, and the state changes it reports). Nothing in the harness reaches
//!   past it, so any stack that implements it can be swept, replayed, shrunk and tabled;
//! - the adapters: synack-core ([`core`](mod@core)), smoltcp (`smoltcp`, feature `smoltcp`), and the
//!   planted bugs that wrap either ([`planted`]);
//! - the known differences of stacks we did not write ([`known`]);
//! - the [`REGISTRY`]: name, description and factory of every stack, which the CLI, the table
//!   generator, the benches and the tests all read.
//!
//! It depends on synack-core only; everything else in the harness depends on it.
//!
//! # Adding a stack
//! Write one file here with a type that implements [`TcpStack`] and a factory
//! `fn(host, Config, isn_key) -> Box<dyn TcpStack>`, and add one line to [`REGISTRY`]. Every
//! command then takes it by name: `synack sweep --stacks NAME,core`, `synack table --stack
//! NAME`, `synack bench --stacks NAME`.

pub mod core;
pub mod known;
pub mod planted;
#[cfg(feature = "smoltcp")]
pub mod smoltcp;

use ::core::net::{Ipv4Addr, SocketAddrV4};
use ::core::time::Duration;

use known::KnownDifference;
use planted::{Bug, Planted};
use synack_core::{Config, Event, Instant, SocketId, State, UserError};

/// The hosts' addresses: host 0 is TCP A (the client) at 10.0.0.1, host 1 is TCP B (the
/// server) at 10.0.0.2.
pub const ADDRS: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)];

/// Builds the stack of a host: `host` is 0 (A) or 1 (B), with the run's TCP configuration and
/// the host's ISN key (16 octets drawn from the run's seed). Sweeps call it from many threads.
pub type StackFactory<'a> = &'a (dyn Fn(usize, Config, [u8; 16]) -> Box<dyn TcpStack> + Sync);

/// A stack the harness knows by name.
pub struct StackEntry {
    /// Its name on the command line.
    pub name: &'static str,
    /// Its name in tables and reports ("synack-core", "smoltcp").
    pub title: &'static str,
    /// One line for `--help` and reports.
    pub description: &'static str,
    /// Builds it on a host of the simulator.
    pub factory: fn(usize, Config, [u8; 16]) -> Box<dyn TcpStack>,
    /// Builds it for the table generator (host A, with `Config::user_timeout` honoured), if
    /// that differs from `factory(0, config, key)`.
    pub table_factory: Option<fn(Config) -> Box<dyn TcpStack>>,
    /// Whether this is synack-core: its table differences beyond the listed deliberate ones
    /// fail `synack table --diff`. Another stack's differences are findings about it.
    pub ours: bool,
}

impl StackEntry {
    /// The stack for the table generator.
    pub fn for_table(&self, config: Config) -> Box<dyn TcpStack> {
        match self.table_factory {
            Some(f) => f(config),
            None => (self.factory)(0, config, [7; 16]),
        }
    }
}

impl std::fmt::Debug for StackEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for StackEntry {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// Every stack this build knows, in the order `--help` lists them.
pub const REGISTRY: &[StackEntry] = &[
    StackEntry {
        name: "core",
        title: "synack-core",
        description: "synack-core, this project's sans-IO TCP",
        factory: core::core_stack,
        table_factory: None,
        ours: true,
    },
    #[cfg(feature = "smoltcp")]
    StackEntry {
        name: "smoltcp",
        title: "smoltcp",
        description: "smoltcp 0.12 on a queue device with virtual time",
        factory: smoltcp::smol_stack,
        table_factory: Some(smoltcp::smol_table_stack),
        ours: false,
    },
];

/// The stack named `name`, among this build's ([`REGISTRY`]).
pub fn by_name(name: &str) -> Result<&'static StackEntry, String> {
    Registry::builtin().by_name(name)
}

/// The stacks a command can take by name: this build's ([`REGISTRY`]) and those a user's
/// program adds (`synack::cli::main_with`).
#[derive(Clone, Debug)]
pub struct Registry {
    entries: Vec<&'static StackEntry>,
}

impl Registry {
    /// This build's stacks.
    pub fn builtin() -> Registry {
        Registry {
            entries: REGISTRY.iter().collect(),
        }
    }

    /// This build's stacks and `more`, after them. A name already taken is an error.
    pub fn with(more: &[&'static StackEntry]) -> Result<Registry, String> {
        let mut r = Registry::builtin();
        for e in more {
            if r.entries.iter().any(|x| x.name == e.name) {
                return Err(format!("two stacks are named {:?}", e.name));
            }
            if e.name.is_empty() || e.name.contains(',') || e.name == "linux" {
                return Err(format!(
                    "{:?} cannot name a stack (it is empty, holds a comma, or is linux)",
                    e.name
                ));
            }
            r.entries.push(e);
        }
        Ok(r)
    }

    /// The stack named `name`.
    pub fn by_name(&self, name: &str) -> Result<&'static StackEntry, String> {
        self.entries
            .iter()
            .copied()
            .find(|e| e.name == name)
            .ok_or_else(|| {
                format!(
                    "unknown stack {name:?}; expected one of: {}",
                    self.names().join(", ")
                )
            })
    }

    /// `CLIENT,SERVER`, by name.
    pub fn pairing(&self, s: &str) -> Result<Pairing, String> {
        let (c, v) = s
            .split_once(',')
            .ok_or_else(|| format!("{s:?}: expected CLIENT,SERVER"))?;
        Ok(Pairing {
            client: self.by_name(c)?,
            server: self.by_name(v)?,
            plant: None,
        })
    }

    /// Every stack's name, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.name).collect()
    }

    /// Every stack, in order.
    pub fn entries(&self) -> &[&'static StackEntry] {
        &self.entries
    }
}

/// synack-core.
pub fn core() -> &'static StackEntry {
    &REGISTRY[0]
}

/// The names of every stack, in registry order.
pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|e| e.name).collect()
}

/// The stacks of a run: the client's (host A) and the server's (host B), and a bug planted in
/// both, if any.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pairing {
    /// Host A's stack.
    pub client: &'static StackEntry,
    /// Host B's stack.
    pub server: &'static StackEntry,
    /// A bug planted in both.
    pub plant: Option<Bug>,
}

impl Pairing {
    /// synack-core on both hosts, nothing planted.
    pub fn core() -> Pairing {
        Pairing {
            client: core(),
            server: core(),
            plant: None,
        }
    }

    /// Parses `CLIENT,SERVER`, among this build's stacks.
    pub fn parse(s: &str) -> Result<Pairing, String> {
        Registry::builtin().pairing(s)
    }

    /// `CLIENT,SERVER`.
    pub fn names(&self) -> String {
        format!("{},{}", self.client.name, self.server.name)
    }

    /// Builds host `host`'s stack.
    pub fn build(&self, host: usize, config: Config, isn_key: [u8; 16]) -> Box<dyn TcpStack> {
        let entry = if host == 0 { self.client } else { self.server };
        match self.plant {
            Some(bug) => {
                let mut planted = config.clone();
                bug.configure(&mut planted);
                let stack = (entry.factory)(host, planted, isn_key);
                Box::new(Planted::new(stack, bug, &config))
            }
            None => (entry.factory)(host, config, isn_key),
        }
    }
}

/// What a stack declares of the choices the RFCs leave it. The wire oracles (`crate::sim::wire`)
/// judge each stack by its own declaration, so a stack that chose a short TIME-WAIT is held to
/// that choice, and the choice itself, where it departs from the RFCs, is a known difference
/// ([`known`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Parameters {
    /// Maximum segment lifetime: TIME-WAIT lasts 2×MSL (RFC 9293 §3.4.2, §3.10.7.4; MUST-13).
    pub msl: Duration,
    /// The RTO before any RTT sample (RFC 6298 (2.1)): the first retransmission of a SYN comes
    /// no sooner.
    pub rto_initial: Duration,
    /// The least RTO (RFC 6298 (2.4)): no retransmission comes sooner after the timer started.
    pub rto_min: Duration,
    /// The most RTO (RFC 6298 (2.5)): backoff doubles the RTO up to it.
    pub rto_max: Duration,
    /// The longest an ACK of in-order data is held (RFC 9293 §3.8.6.3: under 0.5 s; MUST-40).
    pub ack_delay: Duration,
    /// RFC 5961 §7: the most challenge ACKs per connection per second, if the stack implements
    /// RFC 5961.
    pub challenge_ack_limit: Option<u32>,
    /// The resolution of its clock (RFC 6298 §2's G): its timers may fire this much early
    /// as the simulator's nanoseconds see them.
    pub granularity: Duration,
}

impl Parameters {
    /// The parameters of a synack-core endpoint with `config`: it acknowledges at once.
    pub fn of_core(config: &Config) -> Parameters {
        Parameters {
            msl: config.msl,
            rto_initial: config.rto_initial,
            rto_min: config.rto_min,
            rto_max: config.rto_max,
            ack_delay: Duration::ZERO,
            challenge_ack_limit: (config.profile == synack_core::Profile::Rfc9293)
                .then_some(config.challenge_ack_limit),
            granularity: Duration::ZERO,
        }
    }
}

/// A state change reported by a stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The socket.
    pub socket: SocketId,
    /// The state it left.
    pub from: State,
    /// The state it entered.
    pub to: State,
}

/// One host's TCP, as the harness drives it: implement this for your stack, and every command
/// (sweeps, replay, shrinking, tables, scripts, benches) takes it.
///
/// # The polling contract
///
/// The harness owns time and the network. After any input (a packet, a timeout, a user call)
/// it drains [`poll_transmit`](TcpStack::poll_transmit) until it returns false, then
/// [`poll_event`](TcpStack::poll_event) until it returns `None`, then reads
/// [`drain_transitions`](TcpStack::drain_transitions); it calls
/// [`handle_timeout`](TcpStack::handle_timeout) once the instant
/// [`poll_timeout`](TcpStack::poll_timeout) names has come, and never before. Time is always
/// a parameter (virtual, in nanoseconds from the run's start): a stack must not read a clock,
/// start a thread, or draw randomness it was not given (the ISN key its factory receives), or
/// runs stop replaying from their seed. Everything is single-threaded and synchronous: a call
/// returns when its effects are queued.
///
/// Packets are whole IPv4 datagrams carrying TCP, in both directions. A stack drops and counts
/// what it cannot parse; it must not panic on any input.
///
/// # What the user calls return
///
/// The calls are RFC 9293 §3.9.1's, and their errors are §3.10's, as [`UserError`] names them:
/// - `listen`, `listen_to` (OPEN, passive), `connect` (OPEN, active): the new socket's id;
///   "connection already exists" if the socket pair is in use, "insufficient resources" with
///   no port or room left (§3.10.1).
/// - `accept`: an established connection of a listener, `Ok(None)` if there is none yet;
///   "socket is not listening" on any other socket.
/// - `send` (SEND): the octets taken, which may be fewer than offered when the buffer is
///   full, 0 when none fit; "connection closing" after our CLOSE, "connection does not exist"
///   once CLOSED (§3.10.2).
/// - `recv` (RECEIVE): octets read, `Ok(0)` when none are ready; "connection closing" once the
///   peer's FIN has been read past and nothing is left (§3.10.3).
/// - `close` (CLOSE, §3.10.4): our direction ends (a FIN follows the queued data); receiving
///   goes on. `abort` (ABORT, §3.10.5): a RST, and the TCB goes.
/// - `status` (STATUS, §3.10.6): the socket's state, "connection does not exist" once gone.
///
/// Events ([`Event`]) tell the application what the calls cannot: a connection established,
/// one waiting for `accept`, data readable, the peer's FIN, a reset, a refusal, a user timeout,
/// the TCB deleted.
///
/// # State changes
///
/// The oracles check every state change against the RFC's diagram, so a stack reports each
/// one, in order, from [`drain_transitions`](TcpStack::drain_transitions). A stack that cannot
/// see its own states (the kernel through TUN is one) reports none; the harness then judges
/// it from the wire and the user calls alone, and the checks that need transitions pass
/// vacuously for it. An adapter over a stack that exposes its state but no log of changes
/// polls that state after every input and reports each difference as a transition, as the
/// smoltcp adapter does.
///
/// # Parameters and known differences
///
/// [`parameters`](TcpStack::parameters) declares the choices the RFCs leave open (MSL, RTO
/// bounds, the delayed-ACK bound, RFC 5961's challenge-ACK limit, the clock's granularity);
/// the wire oracles hold the stack to its own declaration. Where a stack departs from the RFCs
/// on purpose or by design, describe the departure as a [`KnownDifference`] (with the RFC
/// sections and the oracles or wire requirements it breaks) and return it from
/// [`known_differences`](TcpStack::known_differences) once the stack has shown it in the run:
/// a failure it explains is then reported as expected, and any other failure still fails.
///
/// # Example
///
/// A stack that wraps synack-core and announces no MSS option:
///
/// ```
/// use synack::stacks::{core::CoreStack, TcpStack, ADDRS};
/// use synack_core::{Config, Endpoint};
///
/// fn my_stack(host: usize, config: Config, isn_key: [u8; 16]) -> Box<dyn TcpStack> {
///     let config = Config { mss_option: false, ..config };
///     Box::new(CoreStack::new(Endpoint::new(config, ADDRS[host], isn_key)))
/// }
///
/// let mut stack = my_stack(0, Config::default(), [1; 16]);
/// assert_eq!(stack.name(), "core");
/// assert!(stack.listen(80).is_ok());
/// ```
pub trait TcpStack {
    /// A short name for reports ("core", "smoltcp", ...).
    fn name(&self) -> &str;
    /// A packet arrived.
    fn handle_packet(&mut self, now: Instant, bytes: &[u8]);
    /// The next packet to send: clears `out`, writes one whole IPv4 packet into it and returns
    /// true, or returns false when there is nothing to send. The harness hands the same
    /// buffers back again, so a stack that writes into `out` allocates nothing per packet.
    fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> bool;
    /// When `handle_timeout` is next due.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Runs the timers due at `now`.
    fn handle_timeout(&mut self, now: Instant);
    /// The next event for the application.
    fn poll_event(&mut self) -> Option<(SocketId, Event)>;
    /// Appends the state changes since the last call to `out`, in the order they happened.
    fn drain_transitions(&mut self, out: &mut Vec<Transition>);
    /// Sockets that still exist (listeners and connections not yet CLOSED).
    fn live_sockets(&self) -> usize;

    /// Passive OPEN, from any remote socket.
    fn listen(&mut self, port: u16) -> Result<SocketId, UserError>;
    /// Passive OPEN that names its remote socket (fully specified), which SEND or an active
    /// OPEN can turn active.
    fn listen_to(&mut self, port: u16, remote: SocketAddrV4) -> Result<SocketId, UserError>;
    /// Active OPEN.
    fn connect(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
        local_port: Option<u16>,
    ) -> Result<SocketId, UserError>;
    /// An established connection of a listener.
    fn accept(&mut self, listener: SocketId) -> Result<Option<SocketId>, UserError>;
    /// SEND: octets taken.
    fn send(&mut self, now: Instant, id: SocketId, data: &[u8]) -> Result<usize, UserError>;
    /// RECEIVE: octets read, 0 when none is ready, "connection closing" after the peer's FIN.
    fn recv(&mut self, id: SocketId, buf: &mut [u8]) -> Result<usize, UserError>;
    /// CLOSE (our direction).
    fn close(&mut self, id: SocketId) -> Result<(), UserError>;
    /// ABORT.
    fn abort(&mut self, id: SocketId) -> Result<(), UserError>;
    /// Turns Nagle's algorithm (RFC 9293 §3.7.4) off (`true`) or on for a connection, as
    /// sockets' `TCP_NODELAY` does. A stack that cannot express the choice says
    /// "insufficient resources"; by default none can.
    fn set_no_delay(&mut self, _id: SocketId, _on: bool) -> Result<(), UserError> {
        Err(UserError::InsufficientResources)
    }
    /// STATUS (RFC 9293 §3.10.6): the socket's state, or "connection does not exist".
    fn status(&self, id: SocketId) -> Result<State, UserError>;
    /// The socket's state, CLOSED once it is gone.
    fn state(&self, id: SocketId) -> State {
        self.status(id).unwrap_or(State::Closed)
    }
    /// The local and remote sockets of a connection.
    fn endpoints(&self, id: SocketId) -> Option<(SocketAddrV4, SocketAddrV4)>;
    /// The state of the connection between `local` and `remote`: LISTEN if only a listener
    /// on the local port would take it, `None` if nothing would.
    fn conn_state(&self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<State>;
    /// The choices the RFCs leave it, as it was configured: what the wire oracles hold it to.
    fn parameters(&self) -> Parameters;
    /// The known differences from the RFCs this stack has shown so far in the run, in the
    /// order first seen (see [`known`]). synack-core reports none.
    fn known_differences(&self) -> Vec<&'static KnownDifference> {
        Vec::new()
    }
}
