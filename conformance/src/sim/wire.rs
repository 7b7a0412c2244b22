//! Wire oracles: requirements of RFC 9293 that the segments on the wire show, checked for any
//! stack by a passive observer.
//!
//! This module owns [`WireOracle`]: the views of each connection's two sides that `super::view`
//! rebuilds from the wire alone (the MSS and window scale each SYN announced, the highest
//! octet each side sent, the largest right window edge offered to it, SND.UNA, SND.NXT,
//! RCV.NXT), and the checks each segment meets as it leaves its sender. A violation names the
//! requirement by its RFC 9293 Appendix B label, or by the section that states it.
//!
//! The checks so far:
//! - segment size: no segment carries more data than the MSS its receiver announced, or 536
//!   octets when it announced none (§3.7.1, MUST-15 and MUST-16);
//! - the window: no octet of new data goes past the largest right edge (SEG.ACK + SEG.WND,
//!   scaled as RFC 7323 §2.3 says when both SYNs carried the option) that the receiver
//!   advertised and that reached the sender, but for the one octet of a zero-window probe
//!   (§3.8.6, §3.8.6.1 MUST-36). Taking the largest edge ever advertised is what §3.8.6 allows a
//!   sender whose peer shrank its window (SHLD-14, MUST-34): only octets past every edge the
//!   sender was ever offered are new data sent outside the window.

use std::collections::BTreeMap;

use synack_core::wire::Flags;

use super::view::{self, Side, Views};
use crate::net::Summary;

/// RFC 9293 §3.7.1: "If an MSS Option is not received at connection setup, TCP
/// implementations MUST assume a default send MSS of 536 (576 - 40) for IPv4" (MUST-15).
pub const DEFAULT_SEND_MSS: u16 = 536;

/// A requirement a segment broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The requirement: its Appendix B label, or the section that states it.
    pub requirement: &'static str,
    /// What the segment did.
    pub message: String,
}

/// The passive observer of one run's connections: their views (`super::view`) and the checks.
#[derive(Debug, Default)]
pub struct WireOracle {
    views: Views,
    /// Segments checked against the window, against an announced MSS, and against the default
    /// MSS.
    checked_window: u64,
    checked_mss: u64,
    checked_default_mss: u64,
}

impl WireOracle {
    /// A segment leaves its sender: the checks it must meet, then what it shows of its sender.
    pub fn sent(&mut self, s: &Summary) -> Option<Violation> {
        let (conn, me) = self.views.of(s);
        if s.has(Flags::SYN) {
            view::syn_sent(conn, me, s);
        }
        let (side, peer) = (conn[me], conn[1 - me]);
        view::sent(conn, me, s);
        if s.len == 0 || s.has(Flags::RST) {
            return None;
        }
        let data_start = s.seq + u32::from(s.has(Flags::SYN));
        let end = data_start + s.len;
        let new_data = side.data_end.is_none_or(|e| end.gt(e));
        self.checked_window += u64::from(new_data && side.edge.is_some());
        let window = new_data
            .then_some(side.edge)
            .flatten()
            .and_then(|edge| {
                // §3.8.6.1: a zero-window probe carries "at least one octet of new data"
                // past the edge; one octet is what a probe needs.
                let allowed = if s.len == 1 { edge + 1 } else { edge };
                end.gt(allowed).then(|| Violation {
                    requirement: "§3.8.6",
                    message: format!(
                        "{} sent data up to {} ({} octets at {}), past the right edge {} its peer advertised (SEG.ACK + SEG.WND of the largest window that reached it)",
                        s.src,
                        end.get(),
                        s.len,
                        data_start.get(),
                        edge.get()
                    ),
                })
            });
        if !peer.syn {
            return window;
        }
        mss_check(self, &peer, s).or(window)
    }

    /// A segment reaches its receiver intact. Returns the receiver's side as it was before
    /// (for coverage to classify the segment against).
    pub fn arrived(&mut self, s: &Summary) -> Side {
        let (conn, from) = self.views.of(s);
        let before = conn[1 - from];
        view::arrived(conn, from, s);
        before
    }

    /// How many segments each requirement was checked on.
    pub fn checks(&self) -> BTreeMap<&'static str, u64> {
        [
            ("§3.8.6", self.checked_window),
            ("MUST-16", self.checked_mss),
            ("MUST-15", self.checked_default_mss),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}

/// Segment size: no more data than the MSS the receiver, `peer`, announced, or 536 without
/// one (§3.7.1, MUST-15 and MUST-16).
fn mss_check(o: &mut WireOracle, peer: &Side, s: &Summary) -> Option<Violation> {
    let (mss, requirement) = match peer.mss {
        Some(m) => {
            o.checked_mss += 1;
            (m, "MUST-16")
        }
        None => {
            o.checked_default_mss += 1;
            (DEFAULT_SEND_MSS, "MUST-15")
        }
    };
    if s.len <= u32::from(mss) {
        return None;
    }
    let announced = match peer.mss {
        Some(m) => format!("announced an MSS of {m}"),
        None => format!("announced no MSS, so {DEFAULT_SEND_MSS} (§3.7.1)"),
    };
    Some(Violation {
        requirement,
        message: format!(
            "{} sent {} octets of data in one segment; its peer {} {announced}",
            s.src, s.len, s.dst
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::summary::OptionSummary;
    use std::net::{Ipv4Addr, SocketAddrV4};
    use synack_core::SeqNum;

    const A: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40000);
    const B: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 49293);

    fn seg(src: SocketAddrV4, seq: u32, ack: u32, flags: Flags, window: u16, len: u32) -> Summary {
        Summary {
            src,
            dst: if src == A { B } else { A },
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags,
            window,
            len,
            options: OptionSummary::default(),
            header_len: 40,
        }
    }

    /// A handshake: A (ISS 100) and B (ISS 300) announce `mss_a` and `mss_b`; B offers
    /// `window`.
    fn handshake(o: &mut WireOracle, mss_a: Option<u16>, mss_b: Option<u16>, window: u16) {
        let mut syn = seg(A, 100, 0, Flags::SYN, 65535, 0);
        syn.options.mss = mss_a;
        assert_eq!(o.sent(&syn), None);
        o.arrived(&syn);
        let mut syn_ack = seg(B, 300, 101, Flags::SYN | Flags::ACK, window, 0);
        syn_ack.options.mss = mss_b;
        assert_eq!(o.sent(&syn_ack), None);
        o.arrived(&syn_ack);
    }

    #[test]
    fn data_within_the_announced_mss_passes_and_past_it_fails_must_16() {
        let mut o = WireOracle::default();
        handshake(&mut o, Some(1460), Some(1000), 65535);
        let ok = seg(A, 101, 301, Flags::ACK, 65535, 1000);
        assert_eq!(o.sent(&ok), None);
        let big = seg(A, 1101, 301, Flags::ACK, 65535, 1001);
        assert_eq!(o.sent(&big).map(|v| v.requirement), Some("MUST-16"));
    }

    #[test]
    fn without_an_mss_option_the_peer_is_sent_at_most_536_must_15() {
        let mut o = WireOracle::default();
        handshake(&mut o, Some(1460), None, 65535);
        assert_eq!(o.sent(&seg(A, 101, 301, Flags::ACK, 65535, 536)), None);
        let v = o.sent(&seg(A, 637, 301, Flags::ACK, 65535, 537));
        assert_eq!(v.map(|v| v.requirement), Some("MUST-15"));
    }

    #[test]
    fn new_data_past_the_advertised_edge_fails_but_a_one_octet_probe_does_not() {
        let mut o = WireOracle::default();
        handshake(&mut o, Some(1460), Some(1460), 2000);
        // The edge is 101 + 2000 = 2101.
        assert_eq!(o.sent(&seg(A, 101, 301, Flags::ACK, 65535, 1460)), None);
        assert_eq!(o.sent(&seg(A, 1561, 301, Flags::ACK, 65535, 540)), None);
        // B closes its window: a probe of one octet is allowed, more is not.
        o.arrived(&seg(B, 301, 2101, Flags::ACK, 0, 0));
        assert_eq!(o.sent(&seg(A, 2101, 301, Flags::ACK, 65535, 1)), None);
        let v = o.sent(&seg(A, 2102, 301, Flags::ACK, 65535, 10));
        assert_eq!(v.map(|v| v.requirement), Some("§3.8.6"));
    }

    #[test]
    fn a_shrunk_window_does_not_make_earlier_octets_a_violation() {
        let mut o = WireOracle::default();
        handshake(&mut o, Some(1460), Some(1460), 3000);
        assert_eq!(o.sent(&seg(A, 101, 301, Flags::ACK, 65535, 1460)), None);
        // B shrinks its window to end at 1000 (SHLD-14 says it should not); A retransmits
        // what it sent before (SHLD-16), which is not new data.
        o.arrived(&seg(B, 301, 101, Flags::ACK, 899, 0));
        assert_eq!(o.sent(&seg(A, 101, 301, Flags::ACK, 65535, 1460)), None);
        // New data up to the largest edge it was offered (3101) is still within the window.
        assert_eq!(o.sent(&seg(A, 1561, 301, Flags::ACK, 65535, 1460)), None);
    }

    #[test]
    fn a_scaled_window_counts_its_shift_once_both_syns_carried_the_option() {
        let mut o = WireOracle::default();
        let mut syn = seg(A, 100, 0, Flags::SYN, 65535, 0);
        syn.options.window_scale = Some(0);
        o.sent(&syn);
        o.arrived(&syn);
        let mut syn_ack = seg(B, 300, 101, Flags::SYN | Flags::ACK, 1000, 0);
        syn_ack.options.window_scale = Some(4);
        syn_ack.options.mss = Some(1460);
        o.sent(&syn_ack);
        o.arrived(&syn_ack);
        // The SYN,ACK's window is not scaled: the edge is 1101.
        let v = o.sent(&seg(A, 101, 301, Flags::ACK, 65535, 1001));
        assert_eq!(v.map(|v| v.requirement), Some("§3.8.6"));
        // B's next window of 1000 means 16000 octets.
        o.arrived(&seg(B, 301, 101, Flags::ACK, 1000, 0));
        assert_eq!(o.sent(&seg(A, 1102, 301, Flags::ACK, 65535, 1460)), None);
    }

    #[test]
    fn a_side_that_starts_again_keeps_its_peers_view() {
        // RFC 793 Figure 9: B answers an old SYN, is reset to LISTEN, and answers A's SYN with
        // a SYN,ACK of a new ISS. A's SYN and MSS still stand, so B's data is still held to it.
        let mut o = WireOracle::default();
        handshake(&mut o, Some(1000), Some(1460), 65535);
        let mut again = seg(B, 900, 101, Flags::SYN | Flags::ACK, 65535, 0);
        again.options.mss = Some(1460);
        assert_eq!(o.sent(&again), None);
        o.arrived(&again);
        o.arrived(&seg(A, 101, 901, Flags::ACK, 65535, 0));
        let v = o.sent(&seg(B, 901, 101, Flags::ACK, 65535, 1460));
        assert_eq!(v.map(|v| v.requirement), Some("MUST-16"));
    }

    #[test]
    fn an_ack_of_what_was_never_sent_offers_no_window() {
        let mut o = WireOracle::default();
        handshake(&mut o, Some(1460), Some(1460), 1000);
        // B acknowledges far past A's SND.NXT, with a large window: A must not take it.
        o.arrived(&seg(B, 301, 50_000, Flags::ACK, 65535, 0));
        let v = o.sent(&seg(A, 101, 301, Flags::ACK, 65535, 1460));
        assert_eq!(v.map(|v| v.requirement), Some("§3.8.6"));
    }
}
