//! synack-core behind `TcpStack`.
//!
//! This module owns the adapter from `synack_core::Endpoint` to the harness's trait, and the
//! factory the registry lists as `core`. It reports state changes from the endpoint's
//! observation log, so the log must be on (`Config::record_log`; the simulator turns it on).

use core::net::SocketAddrV4;

use synack_core::{Config, Endpoint, Event, Instant, Observation, SocketId, State, UserError};

use super::{Parameters, TcpStack, Transition, ADDRS};

/// synack-core on host `host` (0 is A, 1 is B), its ISNs keyed by `isn_key`.
pub fn core_stack(host: usize, config: Config, isn_key: [u8; 16]) -> Box<dyn TcpStack> {
    Box::new(CoreStack::new(Endpoint::new(config, ADDRS[host], isn_key)))
}

/// synack-core's endpoint under test. Its observation log must be on (`Config::record_log`) for
/// transitions to be reported.
pub struct CoreStack {
    endpoint: Endpoint,
}

impl CoreStack {
    /// Wraps an endpoint.
    pub fn new(endpoint: Endpoint) -> CoreStack {
        CoreStack { endpoint }
    }

    /// The endpoint, for a harness that drives it directly (the interop boundary).
    pub fn endpoint_mut(&mut self) -> &mut Endpoint {
        &mut self.endpoint
    }
}

impl TcpStack for CoreStack {
    fn name(&self) -> &str {
        "core"
    }
    fn handle_packet(&mut self, now: Instant, bytes: &[u8]) {
        self.endpoint.handle_packet(now, bytes);
    }
    fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        self.endpoint.poll_transmit_into(now, out)
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
    fn drain_transitions(&mut self, out: &mut Vec<Transition>) {
        out.extend(self.endpoint.log_drain().filter_map(|o| match o {
            Observation::StateChange {
                socket, from, to, ..
            } => Some(Transition { socket, from, to }),
            _ => None,
        }));
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
    /// synack-core has no Nagle algorithm (SHLD-7 is not implemented): every SEND is pushed,
    /// so "no delay" is what it does, and the algorithm cannot be turned on.
    fn set_no_delay(&mut self, id: SocketId, on: bool) -> Result<(), UserError> {
        self.endpoint.status(id)?;
        if on {
            Ok(())
        } else {
            Err(UserError::InsufficientResources)
        }
    }
    fn status(&self, id: SocketId) -> Result<State, UserError> {
        self.endpoint.status(id).map(|s| s.state)
    }
    fn state(&self, id: SocketId) -> State {
        self.endpoint.socket_state(id).unwrap_or(State::Closed)
    }
    fn endpoints(&self, id: SocketId) -> Option<(SocketAddrV4, SocketAddrV4)> {
        self.endpoint.status(id).ok().map(|s| (s.local, s.remote))
    }
    fn conn_state(&self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<State> {
        self.endpoint.conn_state(local, remote)
    }
    fn parameters(&self) -> Parameters {
        Parameters::of_core(self.endpoint.config())
    }
}
