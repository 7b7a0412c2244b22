//! A stack of one's own, registered beside synack's stacks with `synack::cli::main_with`, using
//! only synack's public API: synack-core with one difference planted. It sends each FIN once
//! and never again, so a FIN the network loses is never retransmitted and the peer waits in
//! FIN-WAIT or CLOSE-WAIT for good (RFC 9293 §3.10.4: the FIN is sent reliably, like data,
//! and is retransmitted until acknowledged; §3.8.1).
//!
//! ```sh
//! cargo run --example fin_once -- sweep --seeds 0..300 --stacks fin-once,core
//! cargo run --example fin_once -- replay --seed N --stacks fin-once,core --trace
//! ```

use std::collections::BTreeSet;
use std::net::SocketAddrV4;
use std::process::ExitCode;

use synack::stacks::known::KnownDifference;
use synack::stacks::{core::core_stack, Parameters, StackEntry, TcpStack, Transition};
use synack_core::wire::{Flags, Packet};
use synack_core::{Config, Event, Instant, SocketId, State, UserError};

struct FinOnce {
    inner: Box<dyn TcpStack>,
    /// The FINs sent, by connection (local, remote) and sequence number.
    sent: BTreeSet<(SocketAddrV4, SocketAddrV4, u32)>,
}

fn fin_once(host: usize, config: Config, isn_key: [u8; 16]) -> Box<dyn TcpStack> {
    Box::new(FinOnce {
        inner: core_stack(host, config, isn_key),
        sent: BTreeSet::new(),
    })
}

impl TcpStack for FinOnce {
    fn name(&self) -> &str {
        "fin-once"
    }
    fn handle_packet(&mut self, now: Instant, bytes: &[u8]) {
        self.inner.handle_packet(now, bytes);
    }
    fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        while self.inner.poll_transmit(now, out) {
            let Ok(p) = Packet::parse(out) else {
                return true;
            };
            if p.tcp.flags.contains(Flags::FIN) {
                let local = SocketAddrV4::new(p.ip.src, p.tcp.src_port);
                let remote = SocketAddrV4::new(p.ip.dst, p.tcp.dst_port);
                // The planted difference: a FIN already sent is not sent again.
                if !self.sent.insert((local, remote, p.tcp.seq.0)) {
                    continue;
                }
            }
            return true;
        }
        false
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.inner.poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.inner.handle_timeout(now);
    }
    fn poll_event(&mut self) -> Option<(SocketId, Event)> {
        self.inner.poll_event()
    }
    fn drain_transitions(&mut self, out: &mut Vec<Transition>) {
        self.inner.drain_transitions(out);
    }
    fn live_sockets(&self) -> usize {
        self.inner.live_sockets()
    }
    fn listen(&mut self, port: u16) -> Result<SocketId, UserError> {
        self.inner.listen(port)
    }
    fn listen_to(&mut self, port: u16, remote: SocketAddrV4) -> Result<SocketId, UserError> {
        self.inner.listen_to(port, remote)
    }
    fn connect(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
        local_port: Option<u16>,
    ) -> Result<SocketId, UserError> {
        self.inner.connect(now, remote, local_port)
    }
    fn accept(&mut self, listener: SocketId) -> Result<Option<SocketId>, UserError> {
        self.inner.accept(listener)
    }
    fn send(&mut self, now: Instant, id: SocketId, data: &[u8]) -> Result<usize, UserError> {
        self.inner.send(now, id, data)
    }
    fn recv(&mut self, id: SocketId, buf: &mut [u8]) -> Result<usize, UserError> {
        self.inner.recv(id, buf)
    }
    fn close(&mut self, id: SocketId) -> Result<(), UserError> {
        self.inner.close(id)
    }
    fn abort(&mut self, id: SocketId) -> Result<(), UserError> {
        self.inner.abort(id)
    }
    fn set_no_delay(&mut self, id: SocketId, on: bool) -> Result<(), UserError> {
        self.inner.set_no_delay(id, on)
    }
    fn status(&self, id: SocketId) -> Result<State, UserError> {
        self.inner.status(id)
    }
    fn endpoints(&self, id: SocketId) -> Option<(SocketAddrV4, SocketAddrV4)> {
        self.inner.endpoints(id)
    }
    fn conn_state(&self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<State> {
        self.inner.conn_state(local, remote)
    }
    fn parameters(&self) -> Parameters {
        self.inner.parameters()
    }
    /// None declared: the difference is a bug to be caught, not a choice.
    fn known_differences(&self) -> Vec<&'static KnownDifference> {
        Vec::new()
    }
}

static FIN_ONCE: StackEntry = StackEntry {
    name: "fin-once",
    title: "FIN once",
    description: "synack-core that never retransmits a FIN",
    factory: fin_once,
    table_factory: None,
    ours: false,
};

fn main() -> ExitCode {
    synack::cli::main_with(&[&FIN_ONCE])
}
