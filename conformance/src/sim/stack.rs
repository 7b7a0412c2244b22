//! The interface between the simulator and an implementation under test.
//!
//! This module owns the `TcpStack` trait: everything the simulator may ask of a TCP (packets in
//! and out, timers, the user calls, and what it reports about its state changes). The simulator
//! never reaches past it, so any stack that implements it can be swept, replayed and shrunk.

use core::net::SocketAddrV4;

use super::known::KnownDifference;
use synack_core::{Endpoint, Event, Instant, Observation, SocketId, State, UserError};

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

/// One host's TCP, as the simulator drives it. The polling contract is synack-core's: after any
/// input, drain `poll_transmit` and `poll_event`; call `handle_timeout` at `poll_timeout`.
pub trait TcpStack {
    /// A short name for reports ("core", "smoltcp", ...).
    fn name(&self) -> &str;
    /// A packet arrived.
    fn handle_packet(&mut self, now: Instant, bytes: &[u8]);
    /// The next packet to send.
    fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>>;
    /// When `handle_timeout` is next due.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Runs the timers due at `now`.
    fn handle_timeout(&mut self, now: Instant);
    /// The next event for the application.
    fn poll_event(&mut self) -> Option<(SocketId, Event)>;
    /// State changes since the last call.
    fn drain_transitions(&mut self) -> Vec<Transition>;
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
    /// The known differences from the RFCs this stack has shown so far in the run, in the
    /// order first seen (see `sim::known`). synack-core reports none.
    fn known_differences(&self) -> Vec<&'static KnownDifference> {
        Vec::new()
    }
}

/// synack-core's endpoint under test. Its observation log must be on (`Config::record_log`) for
/// transitions to be reported.
pub struct CoreStack {
    endpoint: Endpoint,
}

impl CoreStack {
    /// Wraps an endpoint; turns its observation log on.
    pub fn new(endpoint: Endpoint) -> CoreStack {
        CoreStack { endpoint }
    }
}

impl TcpStack for CoreStack {
    fn name(&self) -> &str {
        "core"
    }
    fn handle_packet(&mut self, now: Instant, bytes: &[u8]) {
        self.endpoint.handle_packet(now, bytes);
    }
    fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        self.endpoint.poll_transmit(now)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.endpoint.poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.endpoint.handle_timeout(now);
    }
    fn poll_event(&mut self) -> Option<(SocketId, Event)> {
        self.endpoint.poll_event()
    }
    fn drain_transitions(&mut self) -> Vec<Transition> {
        self.endpoint
            .drain_log()
            .into_iter()
            .filter_map(|o| match o {
                Observation::StateChange {
                    socket, from, to, ..
                } => Some(Transition { socket, from, to }),
                _ => None,
            })
            .collect()
    }
    fn live_sockets(&self) -> usize {
        self.endpoint.sockets().count()
    }
    fn listen(&mut self, port: u16) -> Result<SocketId, UserError> {
        self.endpoint.listen(port)
    }
    fn listen_to(&mut self, port: u16, remote: SocketAddrV4) -> Result<SocketId, UserError> {
        self.endpoint.listen_from(port, Some(remote))
    }
    fn connect(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
        local_port: Option<u16>,
    ) -> Result<SocketId, UserError> {
        self.endpoint.connect(now, remote, local_port)
    }
    fn accept(&mut self, listener: SocketId) -> Result<Option<SocketId>, UserError> {
        self.endpoint.accept(listener)
    }
    fn send(&mut self, now: Instant, id: SocketId, data: &[u8]) -> Result<usize, UserError> {
        self.endpoint.send(now, id, data)
    }
    fn recv(&mut self, id: SocketId, buf: &mut [u8]) -> Result<usize, UserError> {
        self.endpoint.recv(id, buf)
    }
    fn close(&mut self, id: SocketId) -> Result<(), UserError> {
        self.endpoint.close(id)
    }
    fn abort(&mut self, id: SocketId) -> Result<(), UserError> {
        self.endpoint.abort(id)
    }
    fn status(&self, id: SocketId) -> Result<State, UserError> {
        self.endpoint.status(id).map(|s| s.state)
    }
    fn endpoints(&self, id: SocketId) -> Option<(SocketAddrV4, SocketAddrV4)> {
        self.endpoint.status(id).ok().map(|s| (s.local, s.remote))
    }
    fn conn_state(&self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<State> {
        let mut listening = false;
        for id in self.endpoint.sockets() {
            let Ok(s) = self.endpoint.status(id) else {
                continue;
            };
            if s.local.port() != local.port() {
                continue;
            }
            if s.state == State::Listen {
                listening |= s.remote.port() == 0 || s.remote == remote;
            } else if s.remote == remote {
                return Some(s.state);
            }
        }
        listening.then_some(State::Listen)
    }
}
