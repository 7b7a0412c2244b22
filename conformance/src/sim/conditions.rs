//! Conditions that make the wire oracles bite: small receive buffers and slow readers (windows
//! close and stay closed, probes go out, window updates get lost), MSS values small, large and unannounced,
//! old duplicates held back for seconds (the SND.WL1/SND.WL2 rule and stale ACKs), and an
//! off-path attacker (RFC 5961).
//!
//! This module owns [`Conditions`]: what a run's hosts are configured with and how their
//! applications read, beyond the fault models. The swarm fault profile draws them per seed from
//! a stream of their own, so the fault models a seed draws stay what they were; the other
//! profiles run without them. The simulator's fixed scenarios set each one on its own.

use std::fmt;
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use synack_core::Config;

use crate::net::faults::Faults;

/// The conditions of a run. Each host's field is indexed by host (A, B); `None` is the
/// default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Conditions {
    /// The host's receive buffer, in octets (synack-core's `Config::recv_buffer`).
    pub recv_buffer: [Option<usize>; 2],
    /// The MSS the host announces and sends with; 536 is announced by no option at all
    /// (RFC 9293 §3.7.1, SHLD-5), so the peer must assume it (MUST-15).
    pub mss: [Option<u16>; 2],
    /// The host's applications read at most once per this interval: a slow reader.
    pub read_pause: [Option<Duration>; 2],
    /// The host's applications stop reading this long once they have read something: the
    /// window closes and stays closed, so the peer must probe it.
    pub stall: [Option<Duration>; 2],
    /// A duplicate copy is held back in the network up to this long, to arrive as an old
    /// duplicate; duplication is then switched on.
    pub hold: Option<Duration>,
    /// An off-path attacker forges a segment about this often while the faults run
    /// (`super::attacker`), against stacks that declare RFC 5961's mitigations.
    pub attack: Option<Duration>,
}

/// The MSS values drawn: the IPv4 default (no option), a small one, and a jumbo frame's.
const MSS_VALUES: [u16; 3] = [536, 1000, 8960];

impl Conditions {
    /// Each condition switched on with probability 1/4 per host (1/3 for held duplicates),
    /// at a drawn value. Draws the same number of values whatever is switched on.
    pub fn draw(rng: &mut ChaCha8Rng) -> Conditions {
        let mut c = Conditions::default();
        for h in 0..2 {
            let small = rng.random_range(2_048..16_384usize);
            c.recv_buffer[h] = rng.random_bool(0.25).then_some(small);
            let mss = MSS_VALUES[rng.random_range(0..MSS_VALUES.len())];
            c.mss[h] = rng.random_bool(0.25).then_some(mss);
            let pause = Duration::from_millis(rng.random_range(1..20));
            c.read_pause[h] = rng.random_bool(0.25).then_some(pause);
            let stall = Duration::from_millis(rng.random_range(1_000..8_000));
            c.stall[h] = rng.random_bool(0.25).then_some(stall);
        }
        let hold = Duration::from_millis(rng.random_range(500..5_000));
        c.hold = rng.random_bool(1.0 / 3.0).then_some(hold);
        let every = Duration::from_millis(rng.random_range(20..500));
        c.attack = rng.random_bool(0.25).then_some(every);
        c
    }

    /// Host `host`'s configuration under these conditions.
    pub fn configure(&self, host: usize, config: &mut Config) {
        if let Some(b) = self.recv_buffer[host] {
            config.recv_buffer = b;
        }
        if let Some(m) = self.mss[host] {
            config.mss = m;
            config.mss_option = m != synack_core::DEFAULT_MSS;
        }
    }

    /// A link's fault model under these conditions.
    pub fn faults(&self, faults: &mut Faults) {
        if let Some(h) = self.hold {
            faults.hold = h;
            faults.duplicate = faults.duplicate.max(0.05);
        }
    }

    /// Whether any condition is on.
    pub fn any(&self) -> bool {
        *self != Conditions::default()
    }
}

impl fmt::Display for Conditions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (h, name) in ["A", "B"].into_iter().enumerate() {
            if let Some(b) = self.recv_buffer[h] {
                parts.push(format!("{name} receive buffer {b}"));
            }
            match self.mss[h] {
                Some(m) if m == synack_core::DEFAULT_MSS => {
                    parts.push(format!("{name} MSS {m}, announced by no option"))
                }
                Some(m) => parts.push(format!("{name} MSS {m}")),
                None => {}
            }
            if let Some(p) = self.read_pause[h] {
                parts.push(format!("{name} reads every {} ms", p.as_millis()));
            }
            if let Some(p) = self.stall[h] {
                parts.push(format!("{name} stops reading for {} ms", p.as_millis()));
            }
        }
        if let Some(h) = self.hold {
            parts.push(format!("duplicates held up to {} ms", h.as_millis()));
        }
        if let Some(e) = self.attack {
            parts.push(format!(
                "an off-path attacker about every {} ms",
                e.as_millis()
            ));
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}
