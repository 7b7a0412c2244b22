//! Known differences: behaviours of a stack under test that depart from the RFCs, written down.
//!
//! This module owns the list of differences the harness has traced to a stack it did not write,
//! each with the RFC sections that decide it, and the rule that turns a failed run into an
//! expected one. A stack's adapter reports a difference when it *sees* it happen (a segment the
//! stack emitted, a state it is in with no timer), not when a run fails; a failed run is
//! expected only if one of its stacks reported a difference that explains the oracle that
//! failed. A run that fails for any other reason stays a failure.

use serde::Serialize;

use crate::failure::{Failure, Oracle};

/// A difference between a stack and the RFCs.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct KnownDifference {
    /// Short name, used in reports.
    pub id: &'static str,
    /// The stack that differs.
    pub stack: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// What the RFCs say, with sections.
    pub rfc: &'static str,
    /// The oracles a run may fail because of it.
    #[serde(skip)]
    pub explains: &'static [Oracle],
}

/// smoltcp 0.12 turns its retransmission timer off on a segment that does not acknowledge
/// everything outstanding, outside ESTABLISHED.
pub const SMOLTCP_RETRANSMISSION_TIMER_STOPPED: KnownDifference = KnownDifference {
    id: "smoltcp-retransmission-timer-stopped",
    stack: "smoltcp",
    summary: "with data or a FIN still unacknowledged, smoltcp has no timer running: a FIN \
              arriving in FIN-WAIT-1 (to CLOSING), any ACK in CLOSING, LAST-ACK or CLOSE-WAIT, \
              and a FIN arriving in ESTABLISHED reset its timer to idle, so a lost FIN or \
              segment is never retransmitted and the connection hangs until the peer sends",
    rfc: "RFC 9293 §3.8.1 (retransmission timeout) and RFC 6298 §5 (R5.1: start the timer \
          when data is sent and it is not running; R5.2: turn it off only when all \
          outstanding data has been acknowledged); RFC 9293 §3.10.7.4 CLOSING and LAST-ACK \
          wait for the ACK of our FIN",
    explains: &[
        Oracle::Liveness,
        Oracle::StreamIntegrity,
        Oracle::OrderlyClose,
    ],
};

/// smoltcp 0.12 gives a FIN the sequence number of its own unacknowledged SYN.
pub const SMOLTCP_FIN_ON_SYN_SEQUENCE: KnownDifference = KnownDifference {
    id: "smoltcp-fin-on-syn-sequence",
    stack: "smoltcp",
    summary: "CLOSE in SYN-RECEIVED (after a simultaneous open) moves smoltcp to FIN-WAIT-1 \
              without its SYN acknowledged; it stops sending the SYN and sends a FIN with \
              SEQ = ISS, the SYN's own number. The peer has ISS+1 as RCV.NXT, drops the FIN \
              as old and acknowledges ISS+1, which smoltcp takes as the ACK of its FIN: \
              smoltcp waits in FIN-WAIT-2 for a FIN the peer waits for it to send",
    rfc: "RFC 9293 §3.4 (the SYN occupies the first sequence number; data and FIN follow \
          it); §3.10.4 CLOSE in SYN-RECEIVED (send the FIN after the SYN, or queue it until \
          ESTABLISHED); §3.8.1 (the SYN is retransmitted until acknowledged)",
    explains: &[
        Oracle::Liveness,
        Oracle::StreamIntegrity,
        Oracle::OrderlyClose,
    ],
};

/// smoltcp has no fully specified passive OPEN and no SEND in LISTEN.
pub const SMOLTCP_NO_FULLY_SPECIFIED_PASSIVE_OPEN: KnownDifference = KnownDifference {
    id: "smoltcp-no-fully-specified-passive-open",
    stack: "smoltcp",
    summary: "smoltcp's listen() takes only a local endpoint: a passive OPEN cannot name its \
              foreign socket, so the workload that turns such a LISTEN active with SEND \
              (passive-send) cannot be expressed",
    rfc: "RFC 9293 §3.10.1 OPEN (a passive OPEN may specify the foreign socket fully) and \
          §3.10.2 SEND in LISTEN (with the foreign socket specified, the connection becomes \
          active: send a SYN, enter SYN-SENT); RFC 793 §3.9 says the same",
    explains: &[Oracle::Liveness],
};

/// Every known difference.
pub const ALL: [&KnownDifference; 3] = [
    &SMOLTCP_RETRANSMISSION_TIMER_STOPPED,
    &SMOLTCP_FIN_ON_SYN_SEQUENCE,
    &SMOLTCP_NO_FULLY_SPECIFIED_PASSIVE_OPEN,
];

/// The difference, among those seen in a run, that explains its failure.
pub fn explain(
    failure: &Failure,
    seen: &[&'static KnownDifference],
) -> Option<&'static KnownDifference> {
    seen.iter()
        .copied()
        .find(|d| d.explains.contains(&failure.oracle))
}

/// The difference named `id`.
pub fn by_id(id: &str) -> Option<&'static KnownDifference> {
    ALL.into_iter().find(|d| d.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(oracle: Oracle) -> Failure {
        Failure {
            requirement: None,
            oracle,
            at_ns: 0,
            connection: None,
            message: String::new(),
        }
    }

    #[test]
    fn a_difference_explains_only_the_oracles_it_names() {
        let seen = [&SMOLTCP_NO_FULLY_SPECIFIED_PASSIVE_OPEN];
        assert_eq!(
            explain(&failure(Oracle::Liveness), &seen).map(|d| d.id),
            Some("smoltcp-no-fully-specified-passive-open")
        );
        assert_eq!(explain(&failure(Oracle::StreamIntegrity), &seen), None);
        assert_eq!(explain(&failure(Oracle::LegalTransitions), &seen), None);
        assert_eq!(explain(&failure(Oracle::Liveness), &[]), None);
    }

    #[test]
    fn ids_are_unique_and_found() {
        for d in ALL {
            assert_eq!(by_id(d.id), Some(d));
        }
    }
}
