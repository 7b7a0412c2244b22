//! Scripts against the Linux kernel: `synack script --stack linux`.
//!
//! This module owns [`LinuxHost`], the script runner's target for the kernel. Inside the
//! network namespace, the kernel is 10.77.0.1 on the TUN device and the script is 10.77.0.2
//! behind it: the script's inbound packets are written to the device, and what the kernel
//! sends to 10.77.0.2 is read from it, on the wall clock, as packetdrill does. The script's
//! system calls are made on real sockets (`socket2`), held non-blocking; a call on a socket the
//! script left blocking that would block is tried again every millisecond until it returns,
//! so the script goes on meanwhile, as packetdrill's system-call thread lets it.
//!
//! Each script gets its own port on the far side, so that what one script leaves in the
//! kernel (a connection in TIME-WAIT, an orphan in FIN-WAIT-2) never meets the next; at its
//! end, its sockets are closed.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::net::{Ipv4Addr, Shutdown, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant as WallInstant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use synack_core::wire::Packet;

use super::boundary::Port;
use super::{CORE, KERNEL};
use crate::script::calls::{
    Call, Ret, Shut, SockOpt, EBADF, EINPROGRESS, EINVAL, O_NONBLOCK, O_RDWR,
};
use crate::script::run::{Happened, Target};
use crate::script::{self, syntax, Options, Outcome};
use crate::Error;

/// How often a blocked call is tried again.
const RETRY: Duration = Duration::from_millis(1);

/// The first of the far side's ports: two per script, one to connect from, one to be connected to.
const FIRST_PORT: u16 = 20_000;

struct LiveFd {
    socket: Socket,
    /// What the script set with `fcntl(F_SETFL)`; the socket itself is always non-blocking.
    nonblocking: bool,
}

/// The Linux kernel as a script's target.
pub struct LinuxHost<'a> {
    port: &'a Port,
    start: WallInstant,
    fds: BTreeMap<i64, LiveFd>,
    blocked: Option<(Call, usize)>,
    /// The script's ports: it connects from the first, the kernel connects to the second.
    ports: (u16, u16),
}

fn errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(EINVAL)
}

impl<'a> LinuxHost<'a> {
    fn new(port: &'a Port, ports: (u16, u16)) -> LinuxHost<'a> {
        // Whatever the device held from before belongs to no one now.
        port.wait(Duration::ZERO);
        while port.take().is_some() {
            port.wait(Duration::ZERO);
        }
        LinuxHost {
            port,
            start: WallInstant::now(),
            fds: BTreeMap::new(),
            blocked: None,
            ports,
        }
    }

    /// Makes `call` on the kernel's sockets: its result, or `None` if it would block.
    /// `written` counts what a blocked write has already handed over.
    fn attempt(&mut self, call: &Call, written: &mut usize) -> Option<Ret> {
        if let Call::Socket = call {
            return Some(
                Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
                    .and_then(|s| s.set_nonblocking(true).map(|()| s))
                    .map(|s| {
                        let fd = i64::from(s.as_raw_fd());
                        self.fds.insert(
                            fd,
                            LiveFd {
                                socket: s,
                                nonblocking: false,
                            },
                        );
                        fd
                    })
                    .map_err(|e| errno(&e)),
            );
        }
        let n = call.fd()?;
        let Some(fd) = self.fds.get_mut(&n) else {
            return Some(Err(EBADF));
        };
        let nb = fd.nonblocking;
        let blocks = |e: &std::io::Error| {
            if e.kind() == std::io::ErrorKind::WouldBlock && !nb {
                None
            } else {
                Some(Err(errno(e)))
            }
        };
        let s = &fd.socket;
        match *call {
            Call::Socket => None,
            Call::Bind { port, .. } => Some(
                s.bind(&SockAddr::from(SocketAddrV4::new(KERNEL, port)))
                    .map(|()| 0)
                    .map_err(|e| errno(&e)),
            ),
            Call::Listen { backlog, .. } => Some(
                s.listen(i32::try_from(backlog).unwrap_or(128))
                    .map(|()| 0)
                    .map_err(|e| errno(&e)),
            ),
            Call::Accept { .. } => match s.accept() {
                Ok((conn, _)) => {
                    if let Err(e) = conn.set_nonblocking(true) {
                        return Some(Err(errno(&e)));
                    }
                    let new = i64::from(conn.as_raw_fd());
                    self.fds.insert(
                        new,
                        LiveFd {
                            socket: conn,
                            nonblocking: false,
                        },
                    );
                    Some(Ok(new))
                }
                Err(e) => blocks(&e),
            },
            Call::Connect { .. } => {
                let first = *written == 0;
                *written = 1;
                if first {
                    let to = SockAddr::from(SocketAddrV4::new(CORE, self.ports.1));
                    match s.connect(&to) {
                        Ok(()) => return Some(Ok(0)),
                        Err(e) if e.raw_os_error() == Some(EINPROGRESS) => {
                            if nb {
                                return Some(Err(EINPROGRESS));
                            }
                        }
                        Err(e) => return Some(Err(errno(&e))),
                    }
                }
                // A blocking connect in progress: done once connected or failed.
                match s.take_error() {
                    Ok(Some(e)) => Some(Err(errno(&e))),
                    Err(e) => Some(Err(errno(&e))),
                    Ok(None) => s.peer_addr().ok().map(|_| Ok(0)),
                }
            }
            Call::Write { len, .. } => {
                let data = vec![0u8; len - *written];
                match s.send(&data) {
                    Ok(k) => {
                        *written += k;
                        if *written == len || nb {
                            Some(Ok(*written as i64))
                        } else {
                            None
                        }
                    }
                    Err(e) if *written > 0 && e.kind() == std::io::ErrorKind::WouldBlock => {
                        if nb {
                            Some(Ok(*written as i64))
                        } else {
                            None
                        }
                    }
                    Err(e) => blocks(&e),
                }
            }
            Call::Read { len, .. } => {
                let mut buf = vec![0u8; len];
                match (&fd.socket).read(&mut buf) {
                    Ok(k) => Some(Ok(k as i64)),
                    Err(e) => blocks(&e),
                }
            }
            Call::Close { .. } => {
                self.fds.remove(&n);
                Some(Ok(0))
            }
            Call::Shutdown { how, .. } => Some(
                s.shutdown(match how {
                    Shut::Read => Shutdown::Read,
                    Shut::Write => Shutdown::Write,
                    Shut::Both => Shutdown::Both,
                })
                .map(|()| 0)
                .map_err(|e| errno(&e)),
            ),
            Call::SetOption { opt, value, .. } => Some(
                match opt {
                    SockOpt::ReuseAddr => s.set_reuse_address(value != 0),
                    SockOpt::NoDelay => s.set_tcp_nodelay(value != 0),
                }
                .map(|()| 0)
                .map_err(|e| errno(&e)),
            ),
            Call::GetError { .. } => Some(match s.take_error() {
                Ok(None) => Ok(0),
                Ok(Some(e)) => Ok(i64::from(errno(&e))),
                Err(e) => Err(errno(&e)),
            }),
            Call::SetNonBlocking { on, .. } => {
                fd.nonblocking = on;
                Some(Ok(0))
            }
            Call::GetFlags { .. } => Some(Ok(O_RDWR | if nb { O_NONBLOCK } else { 0 })),
        }
    }

    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

impl Drop for LinuxHost<'_> {
    /// The script is over: its connections are aborted (a RST, to its own ports), so that
    /// the kernel keeps nothing of them.
    fn drop(&mut self) {
        for fd in self.fds.values() {
            let _ = fd.socket.set_linger(Some(Duration::ZERO));
        }
    }
}

impl Target for LinuxHost<'_> {
    fn addresses(&self) -> (Ipv4Addr, Ipv4Addr) {
        (KERNEL, CORE)
    }

    fn script_ports(&self) -> (u16, u16) {
        self.ports
    }

    fn now(&self) -> Duration {
        self.elapsed()
    }

    fn inject(&mut self, packet: &[u8]) {
        self.port.send(packet);
    }

    fn wait(&mut self, until: Duration) -> Option<Happened> {
        loop {
            if let Some(p) = self.port.take() {
                // Only this script's: what earlier scripts left in the kernel goes to their
                // ports.
                let ours = Packet::parse(&p).map_or(true, |p| {
                    p.tcp.dst_port == self.ports.0 || p.tcp.dst_port == self.ports.1
                });
                if ours {
                    return Some(Happened::Packet {
                        at: self.elapsed(),
                        bytes: p,
                    });
                }
                continue;
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
            let now = self.elapsed();
            if now >= until || self.port.error().is_some() {
                return None;
            }
            let mut wait = until - now;
            if self.blocked.is_some() {
                wait = wait.min(RETRY);
            }
            self.port.wait(wait);
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
}

/// Plays every script at `paths` on the kernel, one after another, each from its own port.
/// Inside the namespace only.
pub fn play_all(paths: &[PathBuf], opts: Options) -> Result<Vec<Outcome>, Error> {
    let port = super::device()?;
    let mut outcomes = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let source = std::fs::read_to_string(path).map_err(|e| Error::file(path, e))?;
        let played = match syntax::parse(&source) {
            Ok(s) => {
                let k = u16::try_from(i % 10_000).unwrap_or(0);
                let mut host = LinuxHost::new(&port, (FIRST_PORT + 2 * k, FIRST_PORT + 2 * k + 1));
                let played = script::run::play(&mut host, &s, &source, opts);
                if let Some(e) = port.error() {
                    return Err(Error::cannot_run(e));
                }
                played
            }
            Err(e) => script::malformed(e),
        };
        outcomes.push(Outcome {
            path: path.clone(),
            played,
            known: None,
        });
    }
    Ok(outcomes)
}
