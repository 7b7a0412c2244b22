//! Planted bugs: wrappers around a correct stack that break it in one known way.
//!
//! This module owns the bugs the harness must catch, so that a test (or a user, through the
//! hidden `--plant` option) can check that the oracles, replay and shrinking work. Nothing here
//! is ever used by a normal run.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddrV4;
use std::str::FromStr;

use synack_core::wire::{Flags, Packet, TcpOption};
use synack_core::{Event, Instant, SocketId, State, UserError};

use super::{TcpStack, Transition};

/// A known bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// Every retransmitted FIN is silently not sent.
    DropRetransmittedFin,
    /// The stack announces an MSS of [`SMALL_MSS`] but sends as if its peer had announced its
    /// own (RFC 9293 §3.7.1, MUST-16): its outgoing SYNs carry the smaller MSS, and the MSS of
    /// the SYNs it receives is read back up to what the peer really takes.
    IgnorePeerMss,
    /// The stack sends into twice the window it was offered (RFC 9293 §3.8.6): its outgoing
    /// segments advertise half its window, and the windows it receives are read doubled.
    DoubleThePeerWindow,
}

/// The MSS `IgnorePeerMss` announces.
pub const SMALL_MSS: u16 = 1000;

impl Bug {
    /// Every bug, in the order `--plant` lists them.
    pub const ALL: [Bug; 3] = [
        Bug::DropRetransmittedFin,
        Bug::IgnorePeerMss,
        Bug::DoubleThePeerWindow,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Bug::DropRetransmittedFin => "drop-retransmitted-fin",
            Bug::IgnorePeerMss => "ignore-peer-mss",
            Bug::DoubleThePeerWindow => "double-the-peer-window",
        }
    }
}

impl FromStr for Bug {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Bug::ALL.into_iter().find(|b| b.name() == s).ok_or_else(|| {
            format!(
                "unknown bug {s:?}; expected one of: {}",
                Bug::ALL.map(Bug::name).join(", ")
            )
        })
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Rewrites a packet's TCP header with `change`, re-emitting it with fresh checksums; a
/// packet that does not parse (a corrupted copy) is left as it is.
fn rewrite(
    bytes: &[u8],
    change: impl FnOnce(&mut synack_core::wire::TcpHeader),
) -> Option<Vec<u8>> {
    let p = Packet::parse(bytes).ok()?;
    let mut tcp = p.tcp.clone();
    change(&mut tcp);
    Packet {
        ip: p.ip.clone(),
        tcp,
        payload: p.payload,
    }
    .to_bytes()
    .ok()
}

/// Sets the MSS option of a SYN to `mss`.
fn set_mss(tcp: &mut synack_core::wire::TcpHeader, mss: u16) {
    if tcp.flags.contains(Flags::SYN) {
        for o in &mut tcp.options {
            if let TcpOption::Mss(m) = o {
                *m = mss;
            }
        }
    }
}

/// A stack with a planted bug.
pub struct Planted {
    inner: Box<dyn TcpStack>,
    bug: Bug,
    fins_sent: BTreeSet<(u16, u16, u32)>,
}

impl Planted {
    /// Plants `bug` in `inner`.
    pub fn new(inner: Box<dyn TcpStack>, bug: Bug) -> Planted {
        Planted {
            inner,
            bug,
            fins_sent: BTreeSet::new(),
        }
    }
}

impl TcpStack for Planted {
    fn name(&self) -> &str {
        "planted"
    }
    fn handle_packet(&mut self, now: Instant, bytes: &[u8]) {
        let rewritten = match self.bug {
            Bug::DropRetransmittedFin => None,
            // The peer announced SMALL_MSS; read it as the 1460 it would otherwise be.
            Bug::IgnorePeerMss => rewrite(bytes, |t| set_mss(t, 1460)),
            Bug::DoubleThePeerWindow => rewrite(bytes, |t| {
                if !t.flags.contains(Flags::SYN) {
                    t.window = t.window.saturating_mul(2);
                }
            }),
        };
        self.inner
            .handle_packet(now, rewritten.as_deref().unwrap_or(bytes));
    }
    fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        loop {
            if !self.inner.poll_transmit(now, out) {
                return false;
            }
            match self.bug {
                Bug::IgnorePeerMss => {
                    if let Some(b) = rewrite(out, |t| set_mss(t, SMALL_MSS)) {
                        *out = b;
                    }
                    return true;
                }
                Bug::DoubleThePeerWindow => {
                    if let Some(b) = rewrite(out, |t| {
                        if !t.flags.contains(Flags::SYN) {
                            t.window /= 2;
                        }
                    }) {
                        *out = b;
                    }
                    return true;
                }
                Bug::DropRetransmittedFin => {
                    if let Ok(p) = Packet::parse(out) {
                        if p.tcp.flags.contains(Flags::FIN) {
                            let key = (p.tcp.src_port, p.tcp.dst_port, p.tcp.seq.get());
                            if !self.fins_sent.insert(key) {
                                continue;
                            }
                        }
                    }
                    return true;
                }
            }
        }
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
    fn status(&self, id: SocketId) -> Result<State, UserError> {
        self.inner.status(id)
    }
    fn endpoints(&self, id: SocketId) -> Option<(SocketAddrV4, SocketAddrV4)> {
        self.inner.endpoints(id)
    }
    fn conn_state(&self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<State> {
        self.inner.conn_state(local, remote)
    }
    fn known_differences(&self) -> Vec<&'static super::known::KnownDifference> {
        self.inner.known_differences()
    }
}
