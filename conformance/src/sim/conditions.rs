//! Conditions that make the wire oracles bite: small receive buffers and slow readers (windows
//! close and stay closed, probes go out, window updates get lost), MSS values small, large and
//! unannounced, old duplicates held back for seconds (the SND.WL1/SND.WL2 rule and stale ACKs),
//! an off-path attacker (RFC 5961), and ISNs just below 2^32, so that sequence numbers wrap.
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
    /// The host's ISNs start this far below 2^32 (plus RFC 6528's 4 µs clock), so that its
    /// sequence numbers wrap inside a transfer (synack-core's `Config::isn_base`; a stack that
    /// chooses its own ISNs keeps them).
    pub isn_below_wrap: [Option<u32>; 2],
}

/// A fixed scenario for one condition: the condition on its own, with the wire checks it is
/// there to exercise. `--conditions NAME` runs a sweep or replay under it; the default suite
/// runs each in a bulk transfer on a perfect network.
#[derive(Clone, Copy, Debug)]
pub struct Fixed {
    /// Its name on the command line.
    pub name: &'static str,
    /// The conditions.
    pub conditions: Conditions,
    /// The fault profile its scenario runs under: none, but for the held duplicates, which
    /// the network makes only while its faults run.
    pub faults: crate::net::faults::Profile,
    /// Wire requirements a bulk transfer under it checks at least once.
    pub checks: &'static [&'static str],
}

/// Every condition's fixed scenario.
pub fn fixed() -> [Fixed; 8] {
    let stall = Some(Duration::from_secs(3));
    let none = Conditions::default();
    [
        Fixed {
            name: "small-buffers",
            conditions: Conditions {
                recv_buffer: [Some(4096); 2],
                ..none
            },
            faults: crate::net::faults::Profile::None,
            checks: &["§3.8.6", "MUST-40", "MUST-39"],
        },
        Fixed {
            name: "mss-536",
            conditions: Conditions {
                mss: [Some(536); 2],
                ..none
            },
            faults: crate::net::faults::Profile::None,
            checks: &["MUST-15"],
        },
        Fixed {
            name: "mss-8960",
            conditions: Conditions {
                mss: [Some(8960); 2],
                ..none
            },
            faults: crate::net::faults::Profile::None,
            checks: &["MUST-16"],
        },
        Fixed {
            name: "isn-wrap",
            conditions: Conditions {
                isn_below_wrap: [Some(50_000); 2],
                ..none
            },
            faults: crate::net::faults::Profile::None,
            checks: &["§3.8.6", "MUST-16", "MUST-40", "MUST-39", "§3.6"],
        },
        Fixed {
            name: "stalled-reader",
            conditions: Conditions {
                recv_buffer: [Some(4096); 2],
                stall: [stall; 2],
                ..none
            },
            // (Its probes' repeats, SHLD-29 and SHLD-30, are exercised by the swarm's loss.)
            faults: crate::net::faults::Profile::None,
            checks: &["§3.8.6", "MUST-36", "MUST-37", "MUST-38"],
        },
        Fixed {
            name: "slow-readers",
            conditions: Conditions {
                read_pause: [Some(Duration::from_millis(5)); 2],
                ..none
            },
            faults: crate::net::faults::Profile::None,
            checks: &["SHLD-14"],
        },
        Fixed {
            name: "held-duplicates",
            conditions: Conditions {
                hold: Some(Duration::from_secs(2)),
                ..none
            },
            faults: crate::net::faults::Profile::Lossy,
            checks: &["§3.8.6", "SHLD-14", "MUST-40"],
        },
        Fixed {
            name: "attacker",
            conditions: Conditions {
                stall: [stall; 2],
                attack: Some(Duration::from_millis(50)),
                ..none
            },
            faults: crate::net::faults::Profile::None,
            checks: &["RFC 5961 §3.2", "RFC 5961 §4.2", "RFC 5961 §5.2"],
        },
    ]
}

/// The fixed scenario named `name`; the error lists the names.
pub fn by_name(name: &str) -> Result<Fixed, String> {
    fixed().into_iter().find(|f| f.name == name).ok_or_else(|| {
        let names: Vec<_> = fixed().iter().map(|f| f.name).collect();
        format!(
            "unknown conditions {name:?}: expected one of {}",
            names.join(", ")
        )
    })
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
        // Drawn last, so that the draws before are what they were before it existed.
        for h in 0..2 {
            let below = rng.random_range(1..400_000u32);
            c.isn_below_wrap[h] = rng.random_bool(0.25).then_some(below);
        }
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
        if let Some(below) = self.isn_below_wrap[host] {
            config.isn_base = Some(0u32.wrapping_sub(below));
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
            if let Some(below) = self.isn_below_wrap[h] {
                parts.push(format!("{name} ISNs from 2^32 - {below}"));
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
