//! The retransmission timeout of RFC 6298.
//!
//! This module owns SRTT, RTTVAR, the RTO with its bounds and exponential backoff, and the one
//! segment being timed (Karn's algorithm). It knows nothing of segments beyond a sequence number.

use core::time::Duration;

use crate::seq::SeqNum;
use crate::time::Instant;

/// RFC 6298 §2: "the clock granularity of G seconds". Virtual time is exact; a granularity of
/// 1 ms keeps RTO above SRTT when RTTVAR falls to zero.
const G: Duration = Duration::from_millis(1);

/// RTT estimation and the current RTO.
#[derive(Clone, Debug)]
pub(crate) struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    /// The RTO before backoff.
    base: Duration,
    /// Consecutive expirations, for the exponential backoff.
    backoffs: u32,
    min: Duration,
    max: Duration,
    /// The segment being timed: its end sequence number and when it was first sent.
    timing: Option<(SeqNum, Instant)>,
}

impl RttEstimator {
    pub(crate) fn new(initial: Duration, min: Duration, max: Duration) -> Self {
        let max = max.max(min);
        RttEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            // RFC 6298 (2.1): "Until a round-trip time (RTT) measurement has been made ... the
            // sender SHOULD set RTO <- 1 second".
            base: initial.clamp(min, max),
            backoffs: 0,
            min,
            max,
            timing: None,
        }
    }

    /// The current RTO, with backoff: RFC 6298 (5.5) "set RTO <- RTO * 2 ('back off the
    /// timer')", bounded by the maximum of (2.5).
    pub(crate) fn rto(&self) -> Duration {
        let factor = 1u32.checked_shl(self.backoffs.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    pub(crate) fn has_sample(&self) -> bool {
        self.srtt.is_some()
    }

    #[cfg(test)]
    pub(crate) fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// Starts timing the segment that ends at `end`, unless one is already being timed.
    pub(crate) fn start_timing(&mut self, end: SeqNum, now: Instant) {
        if self.timing.is_none() {
            self.timing = Some((end, now));
        }
    }

    /// Karn's algorithm, RFC 6298 §3: "RTT samples MUST NOT be made using segments that were
    /// retransmitted". A retransmission abandons the current measurement.
    pub(crate) fn on_retransmit(&mut self) {
        self.timing = None;
    }

    /// The timer expired: RFC 6298 (5.5), back off.
    pub(crate) fn on_timeout(&mut self) {
        self.backoffs = self.backoffs.saturating_add(1);
    }

    /// RFC 6298 (5.7): "If the timer expires awaiting the ACK of a SYN segment and the TCP
    /// implementation is using an RTO less than 3 seconds, the RTO MUST be re-initialized to
    /// 3 seconds when data transmission begins (i.e., after the three-way handshake completes)."
    pub(crate) fn after_syn_retransmitted(&mut self) {
        if !self.has_sample() {
            self.backoffs = 0;
            self.base = self.base.max(Duration::from_secs(3)).min(self.max);
        }
    }

    /// SND.UNA advanced to `ack` at `now`: take a sample if the timed segment is covered. Only
    /// a sample ends the backoff: Karn's algorithm (RFC 9293 §3.8.1, MUST-18) keeps the
    /// backed-off RTO for the segments that follow a retransmission until a segment sent once
    /// is acknowledged, as RFC 6298 §5 says: "once a new RTT measurement is obtained (which can
    /// only happen when new data has been sent and acknowledged), the computations outlined in
    /// Section 2 are performed, including the computation of RTO, which may result in
    /// "collapsing" RTO back down after it has been subjected to exponential backoff".
    pub(crate) fn on_ack(&mut self, ack: SeqNum, now: Instant) {
        if let Some((end, sent)) = self.timing {
            if end.le(ack) {
                self.timing = None;
                self.sample(now.saturating_since(sent));
                self.backoffs = 0;
            }
        }
    }

    /// RFC 6298 (2.2) and (2.3).
    fn sample(&mut self, r: Duration) {
        match self.srtt {
            None => {
                // (2.2): SRTT <- R, RTTVAR <- R/2.
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                // (2.3): RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|, beta = 1/4;
                //        SRTT <- (1 - alpha) * SRTT + alpha * R', alpha = 1/8.
                let delta = srtt.abs_diff(r);
                self.rttvar = self.rttvar * 3 / 4 + delta / 4;
                self.srtt = Some(srtt * 7 / 8 + r / 8);
            }
        }
        // (2.2)/(2.3): RTO <- SRTT + max(G, K*RTTVAR), K = 4; (2.4) and (2.5) bound it.
        let srtt = self.srtt.unwrap_or(r);
        self.base = (srtt + G.max(self.rttvar * 4)).clamp(self.min, self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est() -> RttEstimator {
        RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_millis(200),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn first_sample_sets_srtt_and_rttvar() {
        let mut e = est();
        e.start_timing(SeqNum(100), Instant::ZERO);
        e.on_ack(SeqNum(100), Instant::from_millis(100));
        assert_eq!(e.srtt(), Some(Duration::from_millis(100)));
        // RTO = 100 + 4 * 50 = 300 ms.
        assert_eq!(e.rto(), Duration::from_millis(300));
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let mut e = est();
        for expected in [2, 4, 8, 16, 32, 60, 60] {
            e.on_timeout();
            assert_eq!(e.rto(), Duration::from_secs(expected));
        }
        e.on_ack(SeqNum(1), Instant::ZERO);
        assert_eq!(
            e.rto(),
            Duration::from_secs(60),
            "an ACK with no RTT sample keeps the backoff (Karn)"
        );
        e.start_timing(SeqNum(2), Instant::ZERO);
        e.on_ack(SeqNum(2), Instant::from_millis(100));
        // RTO = 100 + 4 * 50 = 300 ms, with no backoff left.
        assert_eq!(
            e.rto(),
            Duration::from_millis(300),
            "an RTT sample ends the backoff"
        );
    }

    #[test]
    fn karn_discards_samples_of_retransmitted_segments() {
        let mut e = est();
        e.start_timing(SeqNum(100), Instant::ZERO);
        e.on_retransmit();
        e.on_ack(SeqNum(100), Instant::from_secs(5));
        assert_eq!(e.srtt(), None);
    }
}
