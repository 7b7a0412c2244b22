//! Configuration of an endpoint: the profile, timers and buffer sizes.
//!
//! This module owns the knobs and their defaults, each with the RFC text that sets it. It holds
//! no behaviour.

use core::time::Duration;

/// Which specification the event processing follows where RFC 793 and RFC 9293 differ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Profile {
    /// RFC 9293, with the RFC 5961 mitigations: challenge ACKs for an in-window RST and for any
    /// SYN in a synchronized state, ACK acceptability against MAX.SND.WND, a per-connection
    /// challenge-ACK rate limit, and the strict `SND.UNA < SEG.ACK` check in SYN-SENT.
    #[default]
    Rfc9293,
    /// RFC 793 §3.9 as written, with only the corrections of plain errors in its text that RFC
    /// 1122 §4.2.2.20 and RFC 9293 made (listed in `tcb::RFC793_CORRECTIONS`). An in-window RST
    /// resets the connection, and an in-window SYN resets it too.
    Rfc793,
}

impl Profile {
    /// The profile's name as the command line spells it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Profile::Rfc9293 => "rfc9293",
            Profile::Rfc793 => "rfc793",
        }
    }
}

/// Settings of an [`crate::Endpoint`]. Every connection of the endpoint uses them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Which RFC the event processing follows.
    pub profile: Profile,
    /// Maximum segment lifetime. RFC 9293 §3.4.2: "this specification arbitrarily defines MSL
    /// to be 2 minutes". TIME-WAIT lasts 2×MSL (§3.10.7.4).
    pub msl: Duration,
    /// The RTO before any RTT sample. RFC 6298 (2.1): "set RTO <- 1 second".
    pub rto_initial: Duration,
    /// Lower bound of the RTO. RFC 6298 (2.4): "RTO SHOULD be rounded up to 1 second".
    pub rto_min: Duration,
    /// Upper bound of the RTO. RFC 6298 (2.5): "A maximum value MAY be placed on RTO provided it
    /// is at least 60 seconds."
    pub rto_max: Duration,
    /// The MSS we announce on our SYN and the largest segment we send (RFC 9293 §3.7.1). The
    /// default suits a 1500-byte MTU: 1500 - 20 (IPv4) - 20 (TCP).
    pub mss: u16,
    /// Whether our SYN carries the MSS option. RFC 9293 §3.7.1: a TCP SHOULD send it unless
    /// its MSS is the default of 536 (SHLD-5) and MAY always send it (MAY-3); without it, the
    /// peer assumes 536 (MUST-15). Turn it off only with an `mss` of 536 or less.
    pub mss_option: bool,
    /// Bytes the send buffer holds: queued plus unacknowledged data.
    pub send_buffer: usize,
    /// Bytes the receive buffer holds: in-order data not yet read plus out-of-order data. The
    /// window is advertised from its free space, at most 65535 (no window scaling).
    pub recv_buffer: usize,
    /// A connection is aborted with "connection aborted due to user timeout" (RFC 9293 §3.10.8)
    /// when data, SYN or FIN stays unacknowledged this long without progress.
    pub user_timeout: Duration,
    /// Connections a listener holds that the user has not yet accepted, whether still in
    /// SYN-RECEIVED or already established. A SYN beyond it is dropped (and counted).
    pub backlog: usize,
    /// RFC 5961 §7: the most challenge ACKs a connection sends per second. Applies to the
    /// RFC 9293 profile only.
    pub challenge_ack_limit: u32,
    /// Record an [`crate::Observation`] log that [`crate::Endpoint::drain_log`] returns.
    pub record_log: bool,
    /// `Some(base)`: every ISN is `base` plus RFC 6528's clock M (the 4 µs timer), without its
    /// keyed hash F, so ISNs sit where a test puts them: just below 2^32, say, so that the
    /// sequence numbers wrap inside a transfer. Still clock-driven (RFC 9293 §3.4.1, MUST-8),
    /// but guessable: `None`, RFC 6528's M + F, is the choice outside tests.
    pub isn_base: Option<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            profile: Profile::default(),
            msl: Duration::from_secs(120),
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_secs(1),
            rto_max: Duration::from_secs(60),
            mss: 1460,
            mss_option: true,
            send_buffer: 64 * 1024,
            recv_buffer: 64 * 1024,
            user_timeout: Duration::from_secs(300),
            backlog: 128,
            challenge_ack_limit: 10,
            record_log: false,
            isn_base: None,
        }
    }
}
