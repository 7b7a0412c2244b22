//! The interop scenarios and the two sides that play them: the kernel's, with `std::net` on a
//! thread of its own, and synack-core's, the same script driven by its events through
//! `TcpStack`.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use synack_core::{Event, Instant, SocketId, State, UserError};

use super::{CORE, SCENARIO_LIMIT};
use crate::sim::workload::{fill_pattern, first_mismatch};
use crate::stacks::TcpStack;

/// Who does what at the end of a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ending {
    /// Both sides send their data and read the other's; `core_first` closes first, then the
    /// other reads the FIN and closes.
    Close { core_first: bool },
    /// The half-close: one side sends a request and closes at once, then reads
    /// the response to the end; the other reads the request to the FIN, then sends a response
    /// after it and closes.
    HalfClose { core_closes: bool },
    /// After the exchange, one side aborts; the other must see the reset.
    Abort { core_aborts: bool },
}

/// One interop scenario.
#[derive(Clone, Debug)]
pub(super) struct Scenario {
    pub(super) name: String,
    /// synack-core opens the connection (else the kernel does).
    pub(super) core_is_client: bool,
    /// Octets synack-core sends.
    pub(super) core_sends: u64,
    /// Octets the kernel sends.
    pub(super) kernel_sends: u64,
    pub(super) ending: Ending,
}

pub(super) fn scenarios(bulk: u64) -> Vec<Scenario> {
    let s = |name: &str, core_is_client, core_sends, kernel_sends, ending| Scenario {
        name: name.to_string(),
        core_is_client,
        core_sends,
        kernel_sends,
        ending,
    };
    use Ending::*;
    vec![
        s(
            "handshake, kernel client",
            false,
            0,
            0,
            Close { core_first: false },
        ),
        s(
            "handshake, kernel server",
            true,
            0,
            0,
            Close { core_first: true },
        ),
        s(
            "bulk core to kernel",
            true,
            bulk,
            0,
            Close { core_first: true },
        ),
        s(
            "bulk kernel to core",
            false,
            0,
            bulk,
            Close { core_first: false },
        ),
        s(
            "half-close by core",
            true,
            100,
            100_000,
            HalfClose { core_closes: true },
        ),
        s(
            "half-close by kernel",
            false,
            100_000,
            100,
            HalfClose { core_closes: false },
        ),
        s(
            "close, core first",
            true,
            5000,
            5000,
            Close { core_first: true },
        ),
        s(
            "close, kernel first",
            true,
            5000,
            5000,
            Close { core_first: false },
        ),
        // The aborter sends nothing: a RST discards what its peer has not yet read (RFC 9293
        // §3.10.7.4, "RST bit is set"), so only the aborter's reading is certain to finish.
        s("abort by core", true, 0, 3000, Abort { core_aborts: true }),
        s(
            "abort by kernel",
            false,
            3000,
            0,
            Abort { core_aborts: false },
        ),
    ]
}

/// A step of one side's script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    Write(u64),
    Read(u64),
    /// Read until the peer's FIN; the total read must then be the peer's whole stream.
    ReadToEof,
    Close,
    Abort,
    ExpectReset,
}

/// The scripts of (synack-core, kernel).
pub(super) fn scripts(s: &Scenario) -> (Vec<Step>, Vec<Step>) {
    use Step::*;
    let (c, k) = (s.core_sends, s.kernel_sends);
    match s.ending {
        Ending::Close { core_first } => {
            let first = |mine, theirs| vec![Write(mine), Read(theirs), Close, ReadToEof];
            let second = |mine, theirs| vec![Write(mine), Read(theirs), ReadToEof, Close];
            if core_first {
                (first(c, k), second(k, c))
            } else {
                (second(c, k), first(k, c))
            }
        }
        Ending::HalfClose { core_closes } => {
            let closer = |mine| vec![Write(mine), Close, ReadToEof];
            let other = |mine| vec![ReadToEof, Write(mine), Close];
            if core_closes {
                (closer(c), other(k))
            } else {
                (other(c), closer(k))
            }
        }
        Ending::Abort { core_aborts } => {
            let aborter = |mine, theirs| vec![Write(mine), Read(theirs), Abort];
            let other = |mine, theirs| vec![Write(mine), Read(theirs), ExpectReset];
            if core_aborts {
                (aborter(c, k), other(k, c))
            } else {
                (other(c, k), aborter(k, c))
            }
        }
    }
}

/// Pattern keys of the two directions.
pub(super) const CORE_KEY: u64 = 0x5eed_c0de;
const KERNEL_KEY: u64 = 0x5eed_7e57;

/// The kernel's side: std::net, blocking, on its own thread.
pub(super) fn kernel_side(
    port: u16,
    listener: Option<TcpListener>,
    script: Vec<Step>,
    peer_total: u64,
    written_count: &AtomicU64,
) -> Result<(), String> {
    let mut stream = match listener {
        Some(l) => l.accept().map_err(|e| format!("kernel accept: {e}"))?.0,
        None => {
            let to = SocketAddr::V4(SocketAddrV4::new(CORE, port));
            TcpStream::connect_timeout(&to, Duration::from_secs(60))
                .map_err(|e| format!("kernel connect to {to}: {e}"))?
        }
    };
    stream
        .set_read_timeout(Some(SCENARIO_LIMIT))
        .map_err(|e| e.to_string())?;
    let (mut written, mut read) = (0u64, 0u64);
    let mut buf = vec![0u8; 64 * 1024];
    for step in script {
        match step {
            Step::Write(n) => {
                while written < n {
                    let len = (n - written).min(buf.len() as u64) as usize;
                    fill_pattern(KERNEL_KEY, written, &mut buf[..len]);
                    stream
                        .write_all(&buf[..len])
                        .map_err(|e| format!("kernel write at {written}: {e}"))?;
                    written += len as u64;
                    written_count.store(written, Ordering::Relaxed);
                }
            }
            Step::Read(n) => {
                while read < n {
                    let want = (n - read).min(buf.len() as u64) as usize;
                    let got = stream
                        .read(&mut buf[..want])
                        .map_err(|e| format!("kernel read at {read} of {n}: {e}"))?;
                    if got == 0 {
                        return Err(format!("kernel read: end of stream at {read} of {n}"));
                    }
                    check(KERNEL_READS, read, &buf[..got])?;
                    read += got as u64;
                }
            }
            Step::ReadToEof => loop {
                let got = stream
                    .read(&mut buf)
                    .map_err(|e| format!("kernel read at {read}: {e}"))?;
                if got == 0 {
                    if read != peer_total {
                        return Err(format!("kernel read {read} octets of {peer_total}"));
                    }
                    break;
                }
                check(KERNEL_READS, read, &buf[..got])?;
                read += got as u64;
            },
            Step::Close => stream
                .shutdown(Shutdown::Write)
                .map_err(|e| format!("kernel shutdown: {e}"))?,
            Step::Abort => {
                socket2::SockRef::from(&stream)
                    .set_linger(Some(Duration::ZERO))
                    .map_err(|e| format!("kernel SO_LINGER: {e}"))?;
                drop(stream);
                return Ok(());
            }
            Step::ExpectReset => {
                return match stream.read(&mut buf) {
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
                    Err(e) => Err(format!("kernel expected a reset, got: {e}")),
                    Ok(n) => Err(format!("kernel expected a reset, read {n} octets")),
                };
            }
        }
    }
    Ok(())
}

/// Which stream a side reads: the kernel reads synack-core's pattern and vice versa.
const KERNEL_READS: u64 = CORE_KEY;
const CORE_READS: u64 = KERNEL_KEY;

pub(super) fn check(key: u64, offset: u64, data: &[u8]) -> Result<(), String> {
    match first_mismatch(key, offset, data) {
        Some(i) => Err(format!(
            "octet {} differs from what the peer wrote",
            offset + i as u64
        )),
        None => Ok(()),
    }
}

/// synack-core's side: the same script, driven by events.
pub(super) struct CoreSide {
    pub(super) script: Vec<Step>,
    pub(super) step: usize,
    pub(super) listener: Option<SocketId>,
    pub(super) sock: Option<SocketId>,
    pub(super) written: u64,
    pub(super) read: u64,
    pub(super) peer_total: u64,
    pub(super) reset: bool,
    /// Scratch space for SEND and RECEIVE.
    pub(super) buf: Vec<u8>,
    pub(super) done: bool,
}

impl CoreSide {
    pub(super) fn on_event(&mut self, ep: &mut dyn TcpStack, id: SocketId, e: Event) {
        match e {
            Event::Incoming if Some(id) == self.listener => {
                if let Ok(Some(c)) = ep.accept(id) {
                    self.sock = Some(c);
                    let _ = ep.close(id);
                    self.listener = None;
                }
            }
            Event::Reset if Some(id) == self.sock => self.reset = true,
            _ => {}
        }
    }

    /// Makes what progress it can; errors end the scenario.
    pub(super) fn step(&mut self, ep: &mut dyn TcpStack, now: Instant) -> Result<(), String> {
        let Some(id) = self.sock else {
            return Ok(());
        };
        if !self.connected(ep, id) {
            return Ok(());
        }
        let buf = &mut self.buf;
        while let Some(step) = self.script.get(self.step).copied() {
            match step {
                Step::Write(n) => {
                    while self.written < n {
                        let len = (n - self.written).min(buf.len() as u64) as usize;
                        fill_pattern(CORE_KEY, self.written, &mut buf[..len]);
                        let took = ep
                            .send(now, id, &buf[..len])
                            .map_err(|e| format!("core send at {}: {e}", self.written))?;
                        if took == 0 {
                            return Ok(());
                        }
                        self.written += took as u64;
                    }
                }
                Step::Read(n) => {
                    while self.read < n {
                        let want = (n - self.read).min(buf.len() as u64) as usize;
                        match ep.recv(id, &mut buf[..want]) {
                            Ok(0) => return Ok(()),
                            Ok(got) => {
                                check(CORE_READS, self.read, &buf[..got])?;
                                self.read += got as u64;
                            }
                            Err(e) => {
                                return Err(format!("core recv at {} of {n}: {e}", self.read))
                            }
                        }
                    }
                }
                Step::ReadToEof => loop {
                    match ep.recv(id, buf) {
                        Ok(0) => return Ok(()),
                        Ok(got) => {
                            check(CORE_READS, self.read, &buf[..got])?;
                            self.read += got as u64;
                        }
                        Err(UserError::ConnectionClosing) => {
                            if self.read != self.peer_total {
                                return Err(format!(
                                    "core read {} octets of {}",
                                    self.read, self.peer_total
                                ));
                            }
                            break;
                        }
                        Err(e) => return Err(format!("core recv at {}: {e}", self.read)),
                    }
                },
                Step::Close => ep.close(id).map_err(|e| format!("core close: {e}"))?,
                Step::Abort => ep.abort(id).map_err(|e| format!("core abort: {e}"))?,
                Step::ExpectReset => {
                    if !self.reset {
                        return Ok(());
                    }
                }
            }
            self.step += 1;
        }
        self.done = true;
        Ok(())
    }

    pub(super) fn connected(&self, ep: &dyn TcpStack, id: SocketId) -> bool {
        match ep.status(id) {
            Ok(s) => s != State::SynSent && s != State::SynReceived,
            Err(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_ends_with_both_scripts_accounting_for_the_peers_stream() {
        for s in scenarios(1 << 20) {
            let (core, kernel) = scripts(&s);
            let reads = |script: &[Step], peer_total: u64| {
                script.contains(&Step::ReadToEof) || script.contains(&Step::Read(peer_total))
            };
            assert!(reads(&core, s.kernel_sends), "{}: {core:?}", s.name);
            assert!(reads(&kernel, s.core_sends), "{}: {kernel:?}", s.name);
            let ends = |script: &[Step]| {
                script
                    .iter()
                    .any(|st| matches!(st, Step::Close | Step::Abort | Step::ExpectReset))
            };
            assert!(ends(&core) && ends(&kernel), "{}", s.name);
        }
    }

    #[test]
    fn the_roles_are_played_both_ways() {
        let all = scenarios(1 << 20);
        for prefix in ["handshake", "bulk", "half-close", "close", "abort"] {
            let of: Vec<_> = all.iter().filter(|s| s.name.starts_with(prefix)).collect();
            assert_eq!(of.len(), 2, "{prefix}");
            assert_ne!(
                (of[0].core_is_client, of[0].ending),
                (of[1].core_is_client, of[1].ending),
                "{prefix}"
            );
        }
    }

    #[test]
    fn a_wrong_octet_is_caught() {
        let mut data = vec![0u8; 100];
        fill_pattern(CORE_KEY, 1000, &mut data);
        assert!(check(CORE_KEY, 1000, &data).is_ok());
        assert!(check(CORE_KEY, 1001, &data).is_err());
        data[57] ^= 1;
        assert_eq!(
            check(CORE_KEY, 1000, &data),
            Err("octet 1057 differs from what the peer wrote".into())
        );
    }
}
