//! The virtual host: a registered stack in virtual time, behind a socket interface, as a
//! script's target.
//!
//! This module owns [`VirtualHost`]: the virtual clock, the stack (any `TcpStack` from the
//! registry), and the file descriptors a script's system calls name, mapped onto the stack's
//! user calls (RFC 9293 §3.9.1): `listen` is a passive OPEN, `connect` an active one,
//! `write` SEND, `read` RECEIVE, `shutdown(SHUT_WR)` and `close` CLOSE. Blocking calls are
//! tried again after every input until they can return. Time moves only when the runner asks
//! it to, so a script's timing is exact.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use synack_core::{Config, Event, Instant, SocketId, State, UserError};

use super::calls::{
    Call, Ret, SockOpt, EADDRINUSE, EAGAIN, EALREADY, EBADF, ECONNREFUSED, ECONNRESET, EINPROGRESS,
    EINVAL, EISCONN, ENOBUFS, ENOTCONN, EOPNOTSUPP, EPIPE, ETIMEDOUT, O_NONBLOCK, O_RDWR,
};
use super::run::{Happened, Target};
use crate::stacks::{StackEntry, TcpStack, Transition, ADDRS};

/// What a file descriptor is.
#[derive(Clone, Copy, Debug)]
enum Sock {
    /// `socket()`, perhaps bound.
    Fresh { port: Option<u16> },
    /// `listen()`.
    Listener { id: SocketId },
    /// A connection, from `connect()` or `accept()`.
    Conn {
        id: SocketId,
        /// The error the next call reports (`SO_ERROR`), once.
        error: Option<i32>,
        /// Whether the connection ever reached ESTABLISHED.
        connected: bool,
        /// The peer closed, or the connection is gone: reads return 0.
        eof: bool,
        /// The user closed our direction.
        shut_wr: bool,
    },
}

#[derive(Debug)]
struct Fd {
    sock: Sock,
    nonblocking: bool,
}

/// A registered stack in virtual time, behind sockets.
pub struct VirtualHost {
    stack: Box<dyn TcpStack>,
    now: Instant,
    fds: BTreeMap<i64, Fd>,
    /// A call that blocked, tried again after every input, with what a blocked write has
    /// handed over so far.
    blocked: Option<(Call, usize)>,
    out: Vec<u8>,
    /// The state changes the stack reported.
    transitions: Vec<Transition>,
}

impl VirtualHost {
    /// `entry`'s stack on host A with `config`, its ISN key `isn_key`.
    pub fn new(entry: &StackEntry, config: Config, isn_key: [u8; 16]) -> VirtualHost {
        VirtualHost {
            stack: (entry.factory)(0, config, isn_key),
            now: Instant::ZERO,
            fds: BTreeMap::new(),
            blocked: None,
            out: Vec::with_capacity(2048),
            transitions: Vec::new(),
        }
    }

    /// The stack's own account of how it departs from the RFCs, so far.
    pub fn known_differences(&self) -> Vec<&'static str> {
        self.stack
            .known_differences()
            .iter()
            .map(|k| k.id)
            .collect()
    }

    fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.now.as_nanos())
    }

    /// Reads the stack's events into the sockets' state.
    fn absorb_events(&mut self) {
        while let Some((socket, event)) = self.stack.poll_event() {
            for fd in self.fds.values_mut() {
                let Sock::Conn {
                    id,
                    error,
                    connected,
                    eof,
                    ..
                } = &mut fd.sock
                else {
                    continue;
                };
                if *id != socket {
                    continue;
                }
                match event {
                    Event::Connected => *connected = true,
                    Event::PeerClosed => *eof = true,
                    Event::Reset => {
                        *error = Some(if *connected { ECONNRESET } else { ECONNREFUSED });
                        *eof = true;
                    }
                    Event::Refused => {
                        *error = Some(ECONNREFUSED);
                        *eof = true;
                    }
                    Event::TimedOut => {
                        *error = Some(ETIMEDOUT);
                        *eof = true;
                    }
                    Event::Closed => *eof = true,
                    _ => {}
                }
            }
        }
        self.stack.drain_transitions(&mut self.transitions);
    }

    fn lowest_free_fd(&self) -> i64 {
        (3..).find(|n| !self.fds.contains_key(n)).unwrap_or(3)
    }

    /// Makes `call`: its result, or `None` if it would block. `written` counts what a
    /// blocking write has handed over so far: it returns once all of it is taken.
    fn attempt(&mut self, call: &Call, written: &mut usize) -> Option<Ret> {
        self.absorb_events();
        if let Call::Socket = call {
            let fd = self.lowest_free_fd();
            self.fds.insert(
                fd,
                Fd {
                    sock: Sock::Fresh { port: None },
                    nonblocking: false,
                },
            );
            return Some(Ok(fd));
        }
        let Some(n) = call.fd() else {
            return Some(Err(EBADF));
        };
        let Some(fd) = self.fds.get(&n) else {
            return Some(Err(EBADF));
        };
        let nonblocking = fd.nonblocking;
        let sock = fd.sock;
        let now = self.now;
        let would_block = |nb: bool| if nb { Some(Err(EAGAIN)) } else { None };
        match (*call, sock) {
            (Call::Socket, _) => unreachable!("handled above"),
            (Call::SetOption { opt, value, .. }, sock) => match (opt, sock) {
                // One host, one script: there is no earlier socket's address to reuse.
                (SockOpt::ReuseAddr, _) => Some(Ok(0)),
                (SockOpt::NoDelay, Sock::Conn { id, .. }) => {
                    match self.stack.set_no_delay(id, value != 0) {
                        Ok(()) => Some(Ok(0)),
                        Err(_) => Some(Err(EOPNOTSUPP)),
                    }
                }
                // Before a connection exists, the stacks have nothing to set it on.
                (SockOpt::NoDelay, _) => Some(Err(EOPNOTSUPP)),
            },
            (Call::SetNonBlocking { on, .. }, _) => {
                if let Some(fd) = self.fds.get_mut(&n) {
                    fd.nonblocking = on;
                }
                Some(Ok(0))
            }
            (Call::GetFlags { .. }, _) => {
                Some(Ok(O_RDWR | if nonblocking { O_NONBLOCK } else { 0 }))
            }
            (Call::Bind { port, .. }, Sock::Fresh { port: None }) => {
                let taken = self.fds.values().any(|f| match f.sock {
                    Sock::Fresh { port: p } => p == Some(port),
                    Sock::Listener { id } => self
                        .stack
                        .endpoints(id)
                        .is_some_and(|(local, _)| local.port() == port),
                    Sock::Conn { .. } => false,
                });
                if taken {
                    return Some(Err(EADDRINUSE));
                }
                if let Some(fd) = self.fds.get_mut(&n) {
                    fd.sock = Sock::Fresh { port: Some(port) };
                }
                Some(Ok(0))
            }
            (Call::Bind { .. }, _) => Some(Err(EINVAL)),
            (Call::Listen { .. }, Sock::Fresh { port }) => {
                let Some(port) = port else {
                    return Some(Err(EINVAL));
                };
                match self.stack.listen(port) {
                    Ok(id) => {
                        if let Some(fd) = self.fds.get_mut(&n) {
                            fd.sock = Sock::Listener { id };
                        }
                        Some(Ok(0))
                    }
                    Err(_) => Some(Err(EADDRINUSE)),
                }
            }
            (Call::Listen { .. }, Sock::Listener { .. }) => Some(Ok(0)),
            (Call::Listen { .. }, Sock::Conn { .. }) => Some(Err(EINVAL)),
            (Call::Accept { .. }, Sock::Listener { id }) => match self.stack.accept(id) {
                Ok(Some(conn)) => {
                    let new = self.lowest_free_fd();
                    let state = self.stack.state(conn);
                    self.fds.insert(
                        new,
                        Fd {
                            sock: Sock::Conn {
                                id: conn,
                                error: None,
                                connected: true,
                                eof: matches!(state, State::Closed),
                                shut_wr: false,
                            },
                            nonblocking: false,
                        },
                    );
                    Some(Ok(new))
                }
                Ok(None) => would_block(nonblocking),
                Err(_) => Some(Err(EINVAL)),
            },
            (Call::Accept { .. }, _) => Some(Err(EINVAL)),
            (Call::Connect { .. }, Sock::Fresh { port }) => {
                let remote = SocketAddrV4::new(ADDRS[1], super::run::SCRIPT_PORT);
                match self.stack.connect(now, remote, port) {
                    Ok(id) => {
                        if let Some(fd) = self.fds.get_mut(&n) {
                            fd.sock = Sock::Conn {
                                id,
                                error: None,
                                connected: false,
                                eof: false,
                                shut_wr: false,
                            };
                        }
                        if nonblocking {
                            Some(Err(EINPROGRESS))
                        } else {
                            // Blocks until the handshake ends; tried again below.
                            self.connect_done(n)
                        }
                    }
                    Err(UserError::InsufficientResources) => Some(Err(ENOBUFS)),
                    Err(_) => Some(Err(EADDRINUSE)),
                }
            }
            (Call::Connect { .. }, Sock::Conn { .. }) => {
                if let Some(done) = self.connect_done(n) {
                    return Some(done);
                }
                if nonblocking {
                    Some(Err(EALREADY))
                } else {
                    None
                }
            }
            (Call::Connect { .. }, Sock::Listener { .. }) => Some(Err(EISCONN)),
            (
                Call::Write { len, .. },
                Sock::Conn {
                    id, error, shut_wr, ..
                },
            ) => {
                // A connection that was refused says so; one that was reset or timed out can
                // send no more: the socket interface's "broken pipe". (RECEIVE reports the
                // reset itself.)
                if let Some(e) = error {
                    self.clear_error(n);
                    return Some(Err(if e == ECONNREFUSED { e } else { EPIPE }));
                }
                if shut_wr {
                    return Some(Err(EPIPE));
                }
                match self.stack.state(id) {
                    State::SynSent | State::SynReceived => return would_block(nonblocking),
                    State::Closed => return Some(Err(EPIPE)),
                    _ => {}
                }
                let data = vec![0u8; len - *written];
                match self.stack.send(now, id, &data) {
                    Ok(taken) => {
                        *written += taken;
                        if *written == len || (nonblocking && *written > 0) {
                            Some(Ok(*written as i64))
                        } else {
                            would_block(nonblocking)
                        }
                    }
                    Err(_) if *written > 0 => Some(Ok(*written as i64)),
                    Err(_) => Some(Err(EPIPE)),
                }
            }
            (Call::Read { len, .. }, Sock::Conn { id, error, eof, .. }) => {
                let mut buf = vec![0u8; len];
                match self.stack.recv(id, &mut buf) {
                    Ok(0) if len > 0 => {
                        if let Some(e) = error {
                            self.clear_error(n);
                            return Some(Err(e));
                        }
                        if eof {
                            return Some(Ok(0));
                        }
                        would_block(nonblocking)
                    }
                    Ok(got) => Some(Ok(got as i64)),
                    Err(UserError::ConnectionClosing) => Some(Ok(0)),
                    Err(_) => match error {
                        Some(e) => {
                            self.clear_error(n);
                            Some(Err(e))
                        }
                        None => Some(Ok(0)),
                    },
                }
            }
            (Call::Write { .. } | Call::Read { .. }, _) => Some(Err(ENOTCONN)),
            (Call::Shutdown { how, .. }, Sock::Conn { id, shut_wr, .. }) => {
                use super::calls::Shut;
                if matches!(how, Shut::Write | Shut::Both) && !shut_wr {
                    // CLOSE: "I have no more to send" (RFC 9293 §3.10.4).
                    let _ = self.stack.close(id);
                    if let Some(Fd {
                        sock: Sock::Conn { shut_wr, .. },
                        ..
                    }) = self.fds.get_mut(&n)
                    {
                        *shut_wr = true;
                    }
                }
                Some(Ok(0))
            }
            (Call::Shutdown { .. }, _) => Some(Err(ENOTCONN)),
            (Call::Close { .. }, sock) => {
                match sock {
                    Sock::Fresh { .. } => {}
                    Sock::Listener { id } => {
                        let _ = self.stack.close(id);
                    }
                    Sock::Conn { id, shut_wr, .. } => {
                        if !shut_wr {
                            let _ = self.stack.close(id);
                        }
                    }
                }
                self.fds.remove(&n);
                Some(Ok(0))
            }
            (Call::GetError { .. }, Sock::Conn { error, .. }) => {
                self.clear_error(n);
                Some(Ok(i64::from(error.unwrap_or(0))))
            }
            (Call::GetError { .. }, _) => Some(Ok(0)),
        }
    }

    /// A blocking `connect` that has ended: 0 once ESTABLISHED, or its error.
    fn connect_done(&mut self, n: i64) -> Option<Ret> {
        let Some(Fd {
            sock:
                Sock::Conn {
                    id,
                    error,
                    connected,
                    ..
                },
            ..
        }) = self.fds.get(&n)
        else {
            return Some(Err(EBADF));
        };
        let (id, error, connected) = (*id, *error, *connected);
        if let Some(e) = error {
            self.clear_error(n);
            return Some(Err(e));
        }
        if connected || !matches!(self.stack.state(id), State::SynSent | State::SynReceived) {
            return Some(Ok(0));
        }
        None
    }

    fn clear_error(&mut self, n: i64) {
        if let Some(Fd {
            sock: Sock::Conn { error, .. },
            ..
        }) = self.fds.get_mut(&n)
        {
            *error = None;
        }
    }
}

impl Target for VirtualHost {
    fn addresses(&self) -> (Ipv4Addr, Ipv4Addr) {
        (ADDRS[0], ADDRS[1])
    }

    fn now(&self) -> Duration {
        self.elapsed()
    }

    fn inject(&mut self, packet: &[u8]) {
        self.stack.handle_packet(self.now, packet);
        self.absorb_events();
    }

    fn wait(&mut self, until: Duration) -> Option<Happened> {
        loop {
            if self.stack.poll_transmit(self.now, &mut self.out) {
                return Some(Happened::Packet {
                    at: self.elapsed(),
                    bytes: self.out.clone(),
                });
            }
            if let Some((call, mut written)) = self.blocked.take() {
                match self.attempt(&call, &mut written) {
                    Some(ret) => {
                        return Some(Happened::Returned {
                            at: self.elapsed(),
                            ret,
                        })
                    }
                    None => self.blocked = Some((call, written)),
                }
            }
            let until = Instant::from_nanos(u64::try_from(until.as_nanos()).unwrap_or(u64::MAX));
            match self.stack.poll_timeout() {
                Some(t) if t <= until => {
                    if t > self.now {
                        self.now = t;
                    }
                    self.stack.handle_timeout(self.now);
                    self.absorb_events();
                }
                _ => {
                    if until > self.now {
                        self.now = until;
                    }
                    return None;
                }
            }
        }
    }

    fn call(&mut self, call: &Call) -> Option<Ret> {
        let mut written = 0;
        let ret = self.attempt(call, &mut written);
        if ret.is_none() {
            self.blocked = Some((*call, written));
        }
        ret
    }

    fn blocked(&self) -> bool {
        self.blocked.is_some()
    }

    fn transitions(&self) -> Vec<(State, State)> {
        self.transitions.iter().map(|t| (t.from, t.to)).collect()
    }
}
