//! The deliberate differences between synack-core and the reference tables: each cell where
//! synack-core does otherwise on purpose, with the reason and the sections of both RFCs.
//! Anything else that differs fails the comparison. The few that are only in how the harness
//! names what the user is told apply to every stack (`vocabulary`).

use synack_core::{Profile, State};

use super::Event;

/// One deliberate difference.
#[derive(Clone, Debug)]
pub struct Deviation {
    /// Profiles it applies to.
    pub profiles: &'static [Profile],
    /// Row.
    pub state: State,
    /// Column.
    pub event: Event,
    /// What synack-core does, as a cell outcome (`next | sends | user`).
    pub generated: &'static str,
    /// Why, with RFC 793 and RFC 9293 citations.
    pub reason: &'static str,
    /// It is in how the harness names what a user is told (`synack_core::Event`), which
    /// every stack's adapter shares, rather than in what synack-core does on the wire.
    pub vocabulary: bool,
}

const BOTH: &[Profile] = &[Profile::Rfc9293, Profile::Rfc793];
const RFC793: &[Profile] = &[Profile::Rfc793];

/// Every deliberate difference of synack-core.
pub const SYNACK_CORE: &[Deviation] = &[
    Deviation {
        profiles: BOTH,
        state: State::SynSent,
        event: Event::RstAckAcceptable,
        generated: "CLOSED | - | error: connection refused",
        reason: "The user is told \"connection refused\", the name sockets APIs give a RST that \
                 answers a SYN; RFC 793 §3.9 and RFC 9293 §3.10.7.3 word the same signal \
                 \"connection reset\". The state and the segments are as the RFCs say.",
        vocabulary: true,
    },
    Deviation {
        profiles: RFC793,
        state: State::SynReceived,
        event: Event::SynInWindow,
        generated: "CLOSED | <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> | -",
        reason: "A connection still in SYN-RECEIVED after a passive OPEN has not been accepted, \
                 so no user is there to receive RFC 793 §3.9's \"connection reset\" signal; the \
                 reset and the state are as RFC 793 says (RFC 9293 §3.10.7.4 returns to LISTEN).",
        vocabulary: false,
    },
    Deviation {
        profiles: RFC793,
        state: State::SynReceived,
        event: Event::SynAckAcceptable,
        generated: "CLOSED | <SEQ=SEG.ACK><CTL=RST> | -",
        reason: "As for the SYN in the window: no accepted user to signal (RFC 793 §3.9 fourth; \
                 RFC 9293 §3.10.7.4 fourth).",
        vocabulary: false,
    },
    Deviation {
        profiles: RFC793,
        state: State::SynReceived,
        event: Event::SynAckUnacceptable,
        generated: "CLOSED | <SEQ=SEG.ACK><CTL=RST> | -",
        reason: "As for the SYN in the window: no accepted user to signal (RFC 793 §3.9 fourth; \
                 RFC 9293 §3.10.7.4 fourth).",
        vocabulary: false,
    },
    Deviation {
        profiles: BOTH,
        state: State::CloseWait,
        event: Event::FinInSequence,
        generated: "CLOSE-WAIT | <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> | -",
        reason: "A FIN after the peer's FIN is acknowledged, but the user, told \"connection \
                 closing\" at the first FIN, is not told again (RFC 793 §3.9 and RFC 9293 \
                 §3.10.7.4 eighth signal on every FIN).",
        vocabulary: true,
    },
    Deviation {
        profiles: BOTH,
        state: State::LastAck,
        event: Event::FinInSequence,
        generated: "LAST-ACK | <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> | -",
        reason: "A FIN after the peer's FIN is acknowledged, but the user is not told twice \
                 (RFC 793 §3.9 and RFC 9293 §3.10.7.4 eighth).",
        vocabulary: true,
    },
    Deviation {
        profiles: BOTH,
        state: State::TimeWait,
        event: Event::FinInSequence,
        generated: "TIME-WAIT | <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> | -",
        reason: "A FIN after the peer's FIN is acknowledged and restarts 2 MSL, but the user is \
                 not told twice (RFC 793 §3.9 and RFC 9293 §3.10.7.4 eighth).",
        vocabulary: true,
    },
];

/// The deviations that apply to any stack under `profile`: those of the harness's vocabulary.
pub fn vocabulary(profile: Profile) -> Vec<Deviation> {
    for_profile(profile)
        .into_iter()
        .filter(|d| d.vocabulary)
        .collect()
}

/// The deviations of synack-core that apply to `profile`.
pub fn for_profile(profile: Profile) -> Vec<Deviation> {
    SYNACK_CORE
        .iter()
        .filter(|d| d.profiles.contains(&profile))
        .cloned()
        .collect()
}

/// The deviations a comparison of `stack`'s table allows: synack-core's deliberate ones are
/// its own; another stack shares only those of the harness's vocabulary for what the user is
/// told, and its other differences are findings about it.
pub fn for_stack(profile: Profile, stack: &crate::stacks::StackEntry) -> Vec<Deviation> {
    if stack.ours {
        for_profile(profile)
    } else {
        vocabulary(profile)
    }
}
