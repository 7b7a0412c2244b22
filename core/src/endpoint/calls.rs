//! The user calls of RFC 9293 §3.10.1–3.10.6 (OPEN, SEND, RECEIVE, CLOSE, ABORT, STATUS), as
//! the endpoint's entry points: each finds the socket, calls into its TCB or listener, and
//! collects what the call left behind.

use std::collections::{BTreeSet, VecDeque};

use core::net::{Ipv4Addr, SocketAddrV4};

use super::{Endpoint, Listener, Socket};
use crate::error::UserError;
use crate::event::{Event, SocketId, Status, UserCall};
use crate::state::State;
use crate::tcb::{Origin, Tcb};
use crate::time::Instant;

impl Endpoint {
    /// Passive OPEN on `port` (§3.10.1), from any remote socket.
    pub fn listen(&mut self, port: u16) -> Result<SocketId, UserError> {
        self.listen_from(port, None)
    }

    /// Passive OPEN on `port`, accepting only `remote` when it is given (a fully specified
    /// passive OPEN, which SEND can turn active: RFC 793 Figure 6, LISTEN → SYN-SENT).
    pub fn listen_from(
        &mut self,
        port: u16,
        remote: Option<SocketAddrV4>,
    ) -> Result<SocketId, UserError> {
        // §3.10.1 OPEN in a state other than CLOSED: "Return "error: connection already exists"."
        // A port that a listener or a connection already uses cannot take a passive OPEN.
        if self.listeners.contains_key(&port) || self.conns.keys().any(|(p, _)| *p == port) {
            return Err(UserError::ConnectionAlreadyExists);
        }
        let id = self.new_id();
        self.sockets.insert(
            id,
            Socket::Listener(Listener {
                port,
                remote,
                embryonic: BTreeSet::new(),
                ready: VecDeque::new(),
            }),
        );
        self.listeners.insert(port, id);
        self.observe_transition(id, State::Closed, State::Listen, UserCall::PassiveOpen);
        Ok(id)
    }

    /// Active OPEN to `remote` (§3.10.1), from `local_port` or an ephemeral port.
    pub fn connect(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
        local_port: Option<u16>,
    ) -> Result<SocketId, UserError> {
        self.tick(now);
        let port = match local_port {
            Some(p) => p,
            None => self.ephemeral_port(remote)?,
        };
        if self.conns.contains_key(&(port, remote)) {
            return Err(UserError::ConnectionAlreadyExists);
        }
        // §3.10.1 LISTEN: "If the OPEN call is active and the remote socket is specified, then
        // change the connection from passive to active": a listener for exactly this remote
        // becomes the connection.
        if let Some(&lid) = self.listeners.get(&port) {
            if matches!(self.sockets.get(&lid), Some(Socket::Listener(l)) if l.remote == Some(remote))
            {
                self.activate_listener(now, lid, UserCall::ActiveOpen)?;
                self.after_call(lid);
                return Ok(lid);
            }
        }
        let local = SocketAddrV4::new(self.addr, port);
        let id = self.new_id();
        let (mut tcb, iss) = self.new_tcb(now, local, remote, Origin::Active, State::Closed);
        tcb.open_active(iss, UserCall::ActiveOpen);
        self.sockets.insert(id, Socket::Conn(Box::new(tcb)));
        self.conns.insert((port, remote), id);
        self.after_call(id);
        Ok(id)
    }

    /// Turns a fully specified passive OPEN into an active one (RFC 9293 §3.10.1 and §3.10.2,
    /// LISTEN): the listener becomes a connection in SYN-SENT under the same id.
    fn activate_listener(
        &mut self,
        now: Instant,
        id: SocketId,
        call: UserCall,
    ) -> Result<(), UserError> {
        let Some(Socket::Listener(l)) = self.sockets.get(&id) else {
            return Err(UserError::NotListening);
        };
        let Some(remote) = l.remote else {
            return Err(UserError::RemoteSocketUnspecified);
        };
        let port = l.port;
        if !l.embryonic.is_empty()
            || !l.ready.is_empty()
            || self.conns.contains_key(&(port, remote))
        {
            return Err(UserError::ConnectionAlreadyExists);
        }
        let local = SocketAddrV4::new(self.addr, port);
        let (mut tcb, iss) = self.new_tcb(now, local, remote, Origin::Active, State::Listen);
        tcb.open_active(iss, call);
        self.listeners.remove(&port);
        self.sockets.insert(id, Socket::Conn(Box::new(tcb)));
        self.conns.insert((port, remote), id);
        Ok(())
    }

    /// The next established connection of a listener, if any.
    pub fn accept(&mut self, listener: SocketId) -> Result<Option<SocketId>, UserError> {
        // A listener is a TCB in LISTEN (RFC 9293 §3.10.1); only it has connections to accept.
        match self.sockets.get_mut(&listener) {
            None => Err(UserError::ConnectionDoesNotExist),
            Some(Socket::Conn(_)) => Err(UserError::NotListening),
            Some(Socket::Listener(l)) => {
                let next = l.ready.pop_front();
                if let Some(id) = next {
                    self.parent.remove(&id);
                }
                Ok(next)
            }
        }
    }

    /// SEND (§3.10.2): queues data; returns how many octets were taken (0 when the buffer is
    /// full).
    pub fn send(&mut self, now: Instant, id: SocketId, data: &[u8]) -> Result<usize, UserError> {
        self.tick(now);
        // RFC 9293 §3.10.2 SEND: CLOSED, LISTEN, or a connection's own state.
        match self.sockets.get_mut(&id) {
            None => Err(UserError::ConnectionDoesNotExist),
            Some(Socket::Listener(_)) => {
                // §3.10.2 LISTEN: "If the remote socket is specified, then change the connection
                // from passive to active, select an ISS. Send a SYN segment ... Enter SYN-SENT
                // state. ... If the remote socket was not specified, then return "error: remote
                // socket unspecified"."
                self.activate_listener(now, id, UserCall::Send)?;
                let n = match self.sockets.get_mut(&id) {
                    Some(Socket::Conn(tcb)) => tcb.send(data)?,
                    _ => 0,
                };
                self.after_call(id);
                Ok(n)
            }
            Some(Socket::Conn(tcb)) => {
                let taken = tcb.send(data);
                // Data queued behind a closed window with nothing in flight: probe it
                // (RFC 9293 §3.8.6.1, MUST-36).
                if matches!(taken, Ok(1..)) {
                    tcb.arm_persist(now);
                }
                taken
            }
        }
    }

    /// RECEIVE (§3.10.3): copies in-order data into `buf`; returns the octets copied, 0 when
    /// none is ready. After the peer's FIN and the last octet, returns "connection closing".
    pub fn recv(&mut self, id: SocketId, buf: &mut [u8]) -> Result<usize, UserError> {
        // RFC 9293 §3.10.3 RECEIVE: CLOSED, LISTEN, or a connection's own state.
        let result = match self.sockets.get_mut(&id) {
            None => return Err(UserError::ConnectionDoesNotExist),
            // §3.10.3 LISTEN: "Queue for processing after entering ESTABLISHED state."
            Some(Socket::Listener(_)) => return Ok(0),
            Some(Socket::Conn(tcb)) => tcb.recv(buf),
        };
        self.after_call(id);
        result
    }

    /// CLOSE (§3.10.4): closes our direction; the peer may go on sending.
    pub fn close(&mut self, id: SocketId) -> Result<(), UserError> {
        // RFC 9293 §3.10.4 CLOSE: CLOSED, LISTEN ("Delete TCB, enter CLOSED state, and
        // return."), or a connection's own state.
        self.end(id, UserCall::Close, Tcb::close)
    }

    /// ABORT (§3.10.5): resets the connection.
    pub fn abort(&mut self, id: SocketId) -> Result<(), UserError> {
        // RFC 9293 §3.10.5 ABORT: CLOSED, LISTEN ("Delete TCB, enter CLOSED state, and
        // return."), or a connection's own state.
        self.end(id, UserCall::Abort, Tcb::abort)
    }

    /// CLOSE and ABORT alike: no socket is an error, a listener is deleted, a connection
    /// takes `on_conn`.
    fn end(
        &mut self,
        id: SocketId,
        call: UserCall,
        on_conn: fn(&mut Tcb) -> Result<(), UserError>,
    ) -> Result<(), UserError> {
        match self.sockets.get_mut(&id) {
            None => Err(UserError::ConnectionDoesNotExist),
            Some(Socket::Listener(_)) => {
                self.remove_listener(id, call);
                Ok(())
            }
            Some(Socket::Conn(tcb)) => {
                let r = on_conn(tcb);
                self.after_call(id);
                r
            }
        }
    }

    /// The state of a socket (STATUS's first field, without the rest): `None` once it is gone.
    #[must_use]
    pub fn socket_state(&self, id: SocketId) -> Option<State> {
        match self.sockets.get(&id)? {
            Socket::Conn(tcb) => Some(tcb.state),
            Socket::Listener(_) => Some(State::Listen),
        }
    }

    /// STATUS (§3.10.6).
    pub fn status(&self, id: SocketId) -> Result<Status, UserError> {
        // RFC 9293 §3.10.6 STATUS: CLOSED, LISTEN, or a connection's own state.
        match self.sockets.get(&id) {
            None => Err(UserError::ConnectionDoesNotExist),
            Some(Socket::Conn(tcb)) => Ok(tcb.status()),
            Some(Socket::Listener(l)) => Ok(Status {
                state: State::Listen,
                local: SocketAddrV4::new(self.addr, l.port),
                remote: l
                    .remote
                    .unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
                snd_una: crate::SeqNum(0),
                snd_nxt: crate::SeqNum(0),
                snd_wnd: 0,
                rcv_nxt: crate::SeqNum(0),
                rcv_wnd: 0,
                send_queued: 0,
                recv_queued: 0,
                recv_out_of_order: 0,
                rto_nanos: 0,
                snd_mss: 0,
            }),
        }
    }

    /// Deletes a listener. Children the user never accepted are aborted (each sends its RST),
    /// since nobody could ever read them.
    fn remove_listener(&mut self, id: SocketId, call: UserCall) {
        let Some(Socket::Listener(l)) = self.sockets.remove(&id) else {
            return;
        };
        self.listeners.remove(&l.port);
        let orphans: Vec<SocketId> = l.embryonic.iter().chain(l.ready.iter()).copied().collect();
        self.observe_transition(id, State::Listen, State::Closed, call);
        self.events.push_back((id, Event::Closed));
        for child in orphans {
            self.parent.remove(&child);
            if let Some(Socket::Conn(tcb)) = self.sockets.get_mut(&child) {
                let _ = tcb.abort();
            }
            self.after_call(child);
        }
    }
}
