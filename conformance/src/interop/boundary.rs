//! The TUN boundary: where packets cross between the kernel and synack-core, in real time,
//! through the network (`crate::net`), which applies the fault model and writes the pcap; and
//! the playing of one scenario across it.

use std::net::{SocketAddrV4, TcpListener};
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant as WallClock};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use synack_core::wire::{Flags, Packet, WireError};
use synack_core::{Config, Endpoint, Instant};

use super::scenarios::{kernel_side, scripts, CoreSide, Scenario};
use super::{Options, CORE, KERNEL, SCENARIO_LIMIT, TUN_NAME};
use crate::net::faults::{self, Faults};
use crate::net::{Decider, Network, Summary};
use crate::trace::{Trace, TraceOptions};

/// The TUN boundary: the device, the clock, and the network (`crate::net`) that applies the
/// fault model and writes the pcap. Host 0 of the network is synack-core, host 1 the kernel.
struct Boundary<'a> {
    tun: &'a tun::Device,
    start: WallClock,
    net: Network,
    lost: u64,
    duplicated: u64,
    /// Segments of synack-core carrying an option it should not send.
    bad_options: Vec<String>,
    /// What the kernel offered on its SYNs.
    kernel_offers: Vec<&'static str>,
    /// Receive buffer for the device.
    rx: Vec<u8>,
}

/// The network's host number of synack-core; the kernel is the other.
const CORE_HOST: usize = 0;

impl Boundary<'_> {
    fn now(&self) -> Instant {
        Instant::from_nanos(u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    /// A packet leaves its sender: the network records it and decides its fate; whatever is
    /// due now crosses at once.
    fn route(&mut self, ep: &mut Endpoint, to_kernel: bool, bytes: Vec<u8>) -> Result<(), String> {
        let now = self.now();
        let from = if to_kernel { CORE_HOST } else { 1 - CORE_HOST };
        let sent = self.net.send(now, from, bytes, [None, None]);
        self.inspect(to_kernel, &sent.summary);
        self.lost += u64::from(sent.decision.lost.is_some());
        self.duplicated += u64::from(sent.decision.copies.len() > 1);
        self.deliver_due(ep)
    }

    /// Hands every copy that is due to its receiver: the device for the kernel, the endpoint
    /// for synack-core.
    fn deliver_due(&mut self, ep: &mut Endpoint) -> Result<(), String> {
        let now = self.now();
        while let Some(a) = self.net.pop_due(now) {
            if a.to == CORE_HOST {
                ep.handle_packet(now, &a.bytes);
            } else {
                self.tun
                    .send(&a.bytes)
                    .map_err(|e| format!("write to {TUN_NAME}: {e}"))?;
            }
            self.net.arrived(now, a, [None, None]);
        }
        Ok(())
    }

    /// synack-core sends no option but MSS, and that only on a SYN (it declines window
    /// scaling, timestamps and SACK: RFC 7323 §1.3, §2.2, §3.2; RFC 2018 §2). Reads the
    /// summary the network made when the packet left its sender.
    fn inspect(&mut self, to_kernel: bool, summary: &Result<Summary, WireError>) {
        let Ok(s) = summary else {
            return;
        };
        let syn = s.flags.contains(Flags::SYN);
        let o = &s.options;
        let mut seen = Vec::new();
        if o.window_scale.is_some() {
            seen.push("window scaling");
        }
        if o.timestamps.is_some() {
            seen.push("timestamps");
        }
        if o.sack_permitted {
            seen.push("SACK-permitted");
        }
        if o.sack_blocks > 0 {
            seen.push("SACK blocks");
        }
        if to_kernel {
            if o.mss.is_some() && !syn {
                seen.push("MSS");
            }
            if o.unknown > 0 {
                seen.push("an option of unknown kind");
            }
            for name in seen {
                self.bad_options
                    .push(format!("synack-core sent {name} (SYN: {syn})"));
            }
        } else if syn {
            for name in seen {
                if !self.kernel_offers.contains(&name) {
                    self.kernel_offers.push(name);
                }
            }
        } else {
            // Declined on our SYN or SYN,ACK, so the kernel must not use it (RFC 7323 §3.2: no
            // TSopt unless both SYNs had one; RFC 2018 §3: SACK only to a SACK-permitted
            // peer).
            for name in seen {
                self.bad_options.push(format!(
                    "the kernel sent {name} after synack-core declined it"
                ));
            }
        }
    }

    /// One turn: held packets that are due, timers, synack-core's output, then wait up to
    /// `max_wait` for a packet from the kernel.
    fn turn(&mut self, ep: &mut Endpoint, max_wait: Duration) -> Result<(), String> {
        self.deliver_due(ep)?;
        if ep.poll_timeout().is_some_and(|t| t <= self.now()) {
            ep.handle_timeout(self.now());
        }
        loop {
            let mut p = self.net.buffer();
            if !ep.poll_transmit_into(self.now(), &mut p) {
                self.net.recycle(p);
                break;
            }
            self.route(ep, true, p)?;
        }
        let now = self.now();
        let mut wait = max_wait;
        if let Some(t) = ep.poll_timeout() {
            wait = wait.min(t.saturating_since(now));
        }
        if let Some(t) = self.net.next_arrival() {
            wait = wait.min(t.saturating_since(now));
        }
        match self.tun.recv_timeout(&mut self.rx, wait) {
            Ok(n) => {
                let bytes = &self.rx[..n];
                // Only what is addressed to synack-core crosses, and an IPv4 packet that does
                // not parse (synack-core must drop and count it); the kernel's other chatter
                // (IPv6 router solicitations, say) is not ours.
                let ours = match Packet::parse(bytes) {
                    Ok(p) => p.ip.dst == CORE,
                    Err(_) => bytes.first().is_some_and(|v| v >> 4 == 4),
                };
                if ours {
                    let mut packet = self.net.buffer();
                    packet.extend_from_slice(bytes);
                    self.route(ep, false, packet)?;
                }
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(format!("read from {TUN_NAME}: {e}")),
        }
    }
}

/// What one scenario did.
#[derive(Debug)]
pub struct Outcome {
    /// Packets that crossed the device, both ways.
    pub packets: u64,
    /// Packets the fault model dropped.
    pub lost: u64,
    /// Packets it duplicated.
    pub duplicated: u64,
    /// Wall-clock seconds the scenario took.
    pub secs: f64,
    /// The pcap of both directions.
    pub pcap: PathBuf,
    /// What the kernel offered on its SYNs (synack-core declined it all).
    pub offers: Vec<&'static str>,
}

fn config() -> Config {
    Config {
        // Real time: TIME-WAIT of 2 × 250 ms, and Linux's 200 ms RTO floor rather than RFC
        // 6298's 1 s (2.4 says SHOULD), so that loss costs seconds, not minutes.
        msl: Duration::from_millis(250),
        rto_min: Duration::from_millis(200),
        ..Config::default()
    }
}

pub(super) fn play(
    tun: &tun::Device,
    opts: &Options,
    index: usize,
    s: &Scenario,
) -> Result<Outcome, String> {
    let port = 5000 + index as u16 + 20 * u16::from(opts.faults != faults::Profile::None);
    let slug: String = s
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let pcap = opts.pcap_dir.join(format!(
        "interop-{}-{:02}-{slug}.pcap",
        opts.faults.name(),
        index
    ));
    let trace = Trace::new(&TraceOptions {
        pcap: Some(pcap.clone()),
        ..TraceOptions::default()
    })?;
    let (models, decider) = if opts.faults == faults::Profile::None {
        // No faults: every packet crosses at once.
        let now = Faults {
            delay: Duration::ZERO,
            ..Faults::none()
        };
        (
            [now.clone(), now],
            Decider::Numbered {
                decisions: Default::default(),
                until: Instant::ZERO,
            },
        )
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
        rng.set_stream(index as u64);
        let mut model_rng = ChaCha8Rng::seed_from_u64(opts.seed);
        // The whole scenario is the fault phase.
        let models = opts.faults.models(&mut model_rng, SCENARIO_LIMIT);
        let heal = Instant::ZERO + SCENARIO_LIMIT;
        (
            models,
            Decider::Draw {
                rng: Box::new(rng),
                heal,
            },
        )
    };
    let mut b = Boundary {
        tun,
        start: WallClock::now(),
        net: Network::new(models, decider, false, trace),
        lost: 0,
        duplicated: 0,
        bad_options: Vec::new(),
        kernel_offers: Vec::new(),
        rx: vec![0; 65_536],
    };
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&opts.seed.to_le_bytes());
    key[8] = index as u8;
    let mut ep = Endpoint::new(config(), CORE, key);
    let (core_script, kernel_script) = scripts(s);
    let mut core = CoreSide {
        script: core_script,
        step: 0,
        listener: None,
        sock: None,
        written: 0,
        read: 0,
        peer_total: s.kernel_sends,
        buf: vec![0; 16 * 1024],
        reset: false,
        done: false,
    };
    let kernel: JoinHandle<Result<(), String>>;
    if s.core_is_client {
        let l = TcpListener::bind(SocketAddrV4::new(KERNEL, port))
            .map_err(|e| format!("kernel listen on {KERNEL}:{port}: {e}"))?;
        let script = kernel_script;
        let total = s.core_sends;
        kernel = std::thread::spawn(move || kernel_side(port, Some(l), script, total));
        let id = ep
            .connect(
                b.now(),
                SocketAddrV4::new(KERNEL, port),
                Some(40_000 + port),
            )
            .map_err(|e| format!("core connect: {e}"))?;
        core.sock = Some(id);
    } else {
        core.listener = Some(ep.listen(port).map_err(|e| format!("core listen: {e}"))?);
        let script = kernel_script;
        let total = s.core_sends;
        kernel = std::thread::spawn(move || kernel_side(port, None, script, total));
    }
    let deadline = WallClock::now() + SCENARIO_LIMIT;
    let mut kernel_result: Option<Result<(), String>> = None;
    let mut kernel = Some(kernel);
    loop {
        b.turn(&mut ep, Duration::from_millis(5))?;
        while let Some((id, e)) = ep.poll_event() {
            core.on_event(&mut ep, id, e);
        }
        core.step(&mut ep, b.now())?;
        if kernel.as_ref().is_some_and(JoinHandle::is_finished) {
            if let Some(h) = kernel.take() {
                kernel_result = Some(
                    h.join()
                        .unwrap_or_else(|_| Err("the kernel side panicked".into())),
                );
            }
        }
        if let Some(Err(e)) = &kernel_result {
            return Err(e.clone());
        }
        // Done when both scripts are, and synack-core holds no socket (TIME-WAIT over).
        if core.done && kernel_result.is_some() && ep.sockets().next().is_none() {
            break;
        }
        if WallClock::now() > deadline {
            let state = core
                .sock
                .and_then(|id| ep.status(id).ok())
                .map_or("no connection".to_string(), |s| s.state.to_string());
            return Err(format!(
                "not finished after {}s: synack-core at step {} of {:?} ({state}), kernel {}",
                SCENARIO_LIMIT.as_secs(),
                core.step,
                core.script,
                if kernel_result.is_some() {
                    "done"
                } else {
                    "not done"
                }
            ));
        }
    }
    if !b.bad_options.is_empty() {
        return Err(b.bad_options.join("; "));
    }
    let secs = b.start.elapsed().as_secs_f64();
    let (lost, duplicated, offers) = (b.lost, b.duplicated, b.kernel_offers.clone());
    let record = b.net.finish();
    let packets = record.packets;
    if let Some(e) = record.trace.pcap_error {
        return Err(format!("pcap: {e}"));
    }
    Ok(Outcome {
        packets,
        lost,
        duplicated,
        secs,
        pcap,
        offers,
    })
}
