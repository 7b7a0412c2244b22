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
    /// For [`Oracle::Wire`] among them: the wire requirements it breaks. A wire failure is
    /// explained only by a difference that names its requirement.
    pub requirements: &'static [&'static str],
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
    requirements: &[],
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
    requirements: &[],
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
    requirements: &[],
};

/// smoltcp 0.12 drops a whole segment whose ACK is older than SND.UNA, data and all.
pub const SMOLTCP_OLD_ACK_DROPS_SEGMENT: KnownDifference = KnownDifference {
    id: "smoltcp-old-ack-drops-segment",
    stack: "smoltcp",
    summary: "a segment whose SEG.ACK is below SND.UNA (a copy delayed behind later \
              acknowledgments) is dropped whole, data and FIN included, and draws no ACK \
              (tcp::Socket::process, \"duplicate ACK\"): in-order data or a FIN it carries \
              is neither taken nor acknowledged, and out-of-order data is not acknowledged \
              at once",
    rfc: "RFC 9293 §3.10.7.4, fifth check, ESTABLISHED: \"If the ACK is a duplicate \
          (SEG.ACK =< SND.UNA), it can be ignored\" (the ACK field, not the segment: \
          processing goes on to the text and the FIN, which are acknowledged; eighth \
          check: \"send an acknowledgment for the FIN\"); §3.8.6.3 (MUST-40); RFC 5681 \
          §4.2 (an immediate ACK for out-of-order data)",
    explains: &[Oracle::Wire],
    requirements: &["MUST-40", "SHLD-19", "RFC 5681 §4.2", "§3.10.7.4"],
};

/// smoltcp 0.12 leaves a FIN out of SEG.LEN in its acceptability test.
pub const SMOLTCP_FIN_AFTER_OLD_DATA: KnownDifference = KnownDifference {
    id: "smoltcp-fin-after-old-data",
    stack: "smoltcp",
    summary: "a segment whose data it already holds, with the FIN right after that data \
              (at RCV.NXT), as a retransmission that joins data and FIN makes, is taken as \
              wholly old: its acceptability test measures the segment by its data alone \
              (tcp::Socket::process, segment_end = SEG.SEQ + payload length), so it answers \
              with an ACK of RCV.NXT and drops the FIN; the peer retransmits it until the \
              retransmission leaves the old data out",
    rfc: "RFC 9293 §3.4: SEG.LEN counts the SYN and FIN; §3.10.7.4, first check: a segment \
          is acceptable if RCV.NXT =< SEG.SEQ+SEG.LEN-1 < RCV.NXT+RCV.WND, and its part \
          before RCV.NXT is trimmed; eighth check: \"advance RCV.NXT over the FIN, and send \
          an acknowledgment for the FIN\"",
    explains: &[Oracle::Wire],
    requirements: &["§3.10.7.4"],
};

/// smoltcp 0.12 sends its whole window again on a fast retransmit.
pub const SMOLTCP_FAST_RETRANSMIT_GOES_BACK_N: KnownDifference = KnownDifference {
    id: "smoltcp-fast-retransmit-goes-back-n",
    stack: "smoltcp",
    summary: "on the third duplicate ACK smoltcp rewinds SND.NXT to SND.UNA and sends \
              everything outstanding again (dispatch: remote_last_seq = local_seq_no), not \
              the one segment the duplicates point at; each window sent again draws as many \
              duplicate ACKs from a receiver that acknowledges every out-of-order or \
              duplicate segment at once, three of which rewind it again, and with duplicates \
              in the network the segments multiply into a storm that never drains",
    rfc: "RFC 5681 §3.2: on the third duplicate ACK, retransmit \"the lost segment\" and \
          inflate cwnd; further duplicate ACKs send new data if cwnd allows, never the \
          window again; RFC 5681 §4.2 and RFC 9293 §3.10.7.4 ask the receiver for the \
          immediate ACKs that feed it",
    explains: &[Oracle::Liveness],
    requirements: &[],
};

/// smoltcp 0.12 keeps at most four separate ranges of out-of-order data.
pub const SMOLTCP_ASSEMBLER_FULL: KnownDifference = KnownDifference {
    id: "smoltcp-assembler-full",
    stack: "smoltcp",
    summary: "out-of-order data is kept in at most four separate ranges \
              (ASSEMBLER_MAX_SEGMENT_COUNT); a segment that would need a fifth is dropped \
              without an ACK",
    rfc: "RFC 9293 §3.10.7.4 (segments beyond RCV.NXT are held, SHLD-31; an unacceptable or \
          unkept segment still draws an ACK) and RFC 5681 §4.2 (an immediate ACK for \
          out-of-order data)",
    explains: &[Oracle::Wire],
    requirements: &["RFC 5681 §4.2", "MUST-40", "SHLD-19"],
};

/// smoltcp 0.12 waits as long before its second retransmission as before its first.
pub const SMOLTCP_RTO_BACKOFF: KnownDifference = KnownDifference {
    id: "smoltcp-rto-backoff",
    stack: "smoltcp",
    summary: "a retransmission timer that expires is set again for the delay it just ran \
              and only the following one is doubled (Timer::set_for_retransmit), so the \
              second retransmission of a segment comes one RTO after the first, not two; \
              after three it raises its RTT estimate instead",
    rfc: "RFC 6298 (5.5): when the timer expires, \"The host MUST set RTO <- RTO * 2\" \
          before restarting it (5.6); RFC 9293 §3.8.1 and MUST-19 (exponential backoff)",
    explains: &[Oracle::Wire],
    requirements: &["MUST-19", "SHLD-30"],
};

/// smoltcp 0.12 does not restart TIME-WAIT for a retransmitted FIN.
pub const SMOLTCP_TIME_WAIT_NOT_RESTARTED: KnownDifference = KnownDifference {
    id: "smoltcp-time-wait-not-restarted",
    stack: "smoltcp",
    summary: "a FIN that arrives again in TIME-WAIT is neither acknowledged nor restarts the \
              timer: TIME-WAIT ends 2×MSL after it began, not after the last FIN",
    rfc: "RFC 9293 §3.10.7.4, eighth check, TIME-WAIT: \"Remain in the TIME-WAIT state. \
          Restart the 2 MSL time-wait timeout\"; and for a retransmission of the remote FIN, \
          \"Acknowledge it, and restart the 2 MSL timeout\"; MUST-13",
    explains: &[Oracle::Wire],
    requirements: &["MUST-13"],
};

/// smoltcp 0.12 acknowledges every second segment of the sender's MSS, not of its own.
pub const SMOLTCP_ACK_EVERY_PEER_MSS: KnownDifference = KnownDifference {
    id: "smoltcp-ack-every-peer-mss",
    stack: "smoltcp",
    summary: "a delayed ACK is sent at once only when more than the peer's MSS is \
              unacknowledged (immediate_ack_to_transmit uses remote_mss); a peer that announced \
              a larger MSS than smoltcp's own but sends smoltcp-sized segments gets an ACK for \
              fewer than every second full-sized segment",
    rfc: "RFC 9293 §3.8.6.3: an ACK for at least every second full-sized segment or 2*RMSS \
          octets, \"where RMSS is the MSS specified by the TCP endpoint receiving the segments\" \
          (SHLD-19)",
    explains: &[Oracle::Wire],
    requirements: &["SHLD-19"],
};

/// smoltcp 0.12 has no sender silly-window avoidance.
pub const SMOLTCP_NO_SENDER_SWS: KnownDifference = KnownDifference {
    id: "smoltcp-no-sender-sws",
    stack: "smoltcp",
    summary: "smoltcp sends min(usable window, MSS) of what is queued however small that is \
              (only its Nagle algorithm, when on, holds data back while data is in flight), and \
              a segment also ends where its transmit ring buffer wraps (get_allocated), so a \
              short segment leaves while a full one could be sent",
    rfc: "RFC 9293 §3.8.6.2.1: a TCP implementation MUST include a SWS avoidance algorithm in \
          the sender (MUST-38): send when min(D,U) >= Eff.snd.MSS, or all queued data fits, or \
          at least half the largest window can be sent, or the override timeout occurs",
    explains: &[Oracle::Wire],
    requirements: &["MUST-38"],
};

/// smoltcp 0.12 has no receiver silly-window avoidance.
pub const SMOLTCP_NO_RECEIVER_SWS: KnownDifference = KnownDifference {
    id: "smoltcp-no-receiver-sws",
    stack: "smoltcp",
    summary: "every segment smoltcp sends offers its whole free receive buffer as the window, so \
              the right edge moves with every octet its application reads; a window update of \
              its own comes only once the window has doubled (window_to_update)",
    rfc: "RFC 9293 §3.8.6.2.2: a TCP implementation MUST include a SWS avoidance algorithm in \
          the receiver (MUST-39): keep RCV.NXT+RCV.WND fixed until the reduction is at least \
          min(RCV.BUFF/2, Eff.snd.MSS)",
    explains: &[Oracle::Wire],
    requirements: &["MUST-39"],
};

/// smoltcp 0.12 does not probe a zero window.
pub const SMOLTCP_NO_ZERO_WINDOW_PROBE: KnownDifference = KnownDifference {
    id: "smoltcp-no-zero-window-probe",
    stack: "smoltcp",
    summary: "smoltcp has no persist timer: when the peer's window is zero with everything sent \
              acknowledged and data still queued, no timer runs, so a lost window update leaves \
              the connection waiting for the peer for ever",
    rfc: "RFC 9293 §3.8.6.1: probing of zero (offered) windows MUST be supported (MUST-36); if \
          the window shrinks to zero the TCP implementation MUST probe it in the standard way \
          (MUST-35); the first probe SHOULD follow a retransmission timeout (SHLD-29)",
    explains: &[Oracle::Wire, Oracle::Liveness],
    requirements: &["MUST-36"],
};

/// smoltcp 0.12 does not raise its RTO to 3 s after its SYN timed out.
pub const SMOLTCP_NO_SYN_RTO_FALLBACK: KnownDifference = KnownDifference {
    id: "smoltcp-no-syn-rto-fallback",
    stack: "smoltcp",
    summary: "after its SYN or SYN,ACK was retransmitted on a timeout, smoltcp times its first \
              data from its own RTO (700 ms initially), not from 3 s",
    rfc: "RFC 6298 (5.7): if the timer expires awaiting the ACK of a SYN segment and the RTO \
          is less than 3 seconds, the RTO MUST be re-initialized to 3 seconds when data \
          transmission begins",
    explains: &[Oracle::Wire],
    requirements: &["RFC 6298 (5.7)"],
};

/// smoltcp 0.12 drops its backoff with the next ACK of new data.
pub const SMOLTCP_BACKOFF_NOT_KEPT: KnownDifference = KnownDifference {
    id: "smoltcp-backoff-not-kept",
    stack: "smoltcp",
    summary: "after a retransmission timeout, the next ACK of new data sets smoltcp's timer \
              idle and the next segment is timed from its unbacked-off RTO, though that ACK \
              (of retransmitted data) gave no RTT sample",
    rfc: "RFC 9293 §3.8.1: Karn's algorithm MUST be used (MUST-18); RFC 6298 §5: the RTO \
          collapses from its backoff only once a new RTT measurement is obtained, which can \
          only happen when new data has been sent and acknowledged",
    explains: &[Oracle::Wire],
    requirements: &["MUST-18"],
};

/// smoltcp 0.12 panics when it holds data past the right edge it last advertised.
pub const SMOLTCP_WINDOW_UNDERFLOW_PANIC: KnownDifference = KnownDifference {
    id: "smoltcp-window-underflow-panic",
    stack: "smoltcp",
    summary: "smoltcp panics (\"attempt to subtract sequence numbers with underflow\", in \
              last_scaled_window, from window_to_update) when the data in its receive buffer \
              reaches past the right edge of the last window it advertised; the adapter stops \
              the host there, as a crash would",
    rfc: "RFC 9293 §3.8.6 and §3.10.7.4: a receiver keeps what fits its buffer and trims the \
          rest, and is robust against what its peers send (§2.10, the robustness principle)",
    explains: &[
        Oracle::Liveness,
        Oracle::StreamIntegrity,
        Oracle::OrderlyClose,
        Oracle::Wire,
    ],
    // What a host that has stopped owes and never sends.
    requirements: &[
        "MUST-40",
        "SHLD-19",
        "RFC 5681 §4.2",
        "§3.10.7.4",
        "MUST-36",
        "§3.10.7.1",
        "§3.10.7.2",
    ],
};

/// Linux retransmits before its RTO, by RFC 8985's RACK and tail loss probes.
pub const LINUX_RACK_TLP: KnownDifference = KnownDifference {
    id: "linux-rack-tlp",
    stack: "linux",
    summary: "the kernel retransmits on its tail loss probe timer (about 2×SRTT) and its RACK \
              reordering timer, before the RTO and without three duplicate ACKs, and does not \
              double the wait between such probes and the RTO that follows",
    rfc: "RFC 6298 (2.4) and (5.5) time retransmissions by the RTO alone; RFC 8985 (RACK-TLP, \
          experimental) adds the probe timeout and the reordering window, which the kernel \
          uses by default (net.ipv4.tcp_recovery, tcp_early_retrans)",
    explains: &[Oracle::Wire],
    requirements: &["RFC 6298 (2.4)", "MUST-19"],
};

/// Every known difference.
pub const ALL: [&KnownDifference; 17] = [
    &SMOLTCP_RETRANSMISSION_TIMER_STOPPED,
    &SMOLTCP_FIN_ON_SYN_SEQUENCE,
    &SMOLTCP_NO_FULLY_SPECIFIED_PASSIVE_OPEN,
    &SMOLTCP_OLD_ACK_DROPS_SEGMENT,
    &SMOLTCP_FIN_AFTER_OLD_DATA,
    &SMOLTCP_FAST_RETRANSMIT_GOES_BACK_N,
    &SMOLTCP_ASSEMBLER_FULL,
    &SMOLTCP_RTO_BACKOFF,
    &SMOLTCP_TIME_WAIT_NOT_RESTARTED,
    &SMOLTCP_ACK_EVERY_PEER_MSS,
    &SMOLTCP_NO_SENDER_SWS,
    &SMOLTCP_NO_RECEIVER_SWS,
    &SMOLTCP_NO_ZERO_WINDOW_PROBE,
    &SMOLTCP_NO_SYN_RTO_FALLBACK,
    &SMOLTCP_WINDOW_UNDERFLOW_PANIC,
    &SMOLTCP_BACKOFF_NOT_KEPT,
    &LINUX_RACK_TLP,
];

/// The difference, among those seen in a run, that explains its failure.
pub fn explain(
    failure: &Failure,
    seen: &[&'static KnownDifference],
) -> Option<&'static KnownDifference> {
    seen.iter().copied().find(|d| {
        d.explains.contains(&failure.oracle)
            && (failure.oracle != Oracle::Wire
                || failure
                    .requirement
                    .is_some_and(|r| d.requirements.contains(&r)))
    })
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
