//! Wire oracles: requirements of RFC 9293 that the segments on the wire show, checked for any
//! stack by a passive observer.
//!
//! This module owns [`WireOracle`]: for each direction of each connection, what the wire has
//! shown of its sender — the MSS and window scale its SYN announced, the highest octet it has
//! sent, and the largest right window edge its peer advertised that reached it — rebuilt from
//! the segments alone (as they leave their sender, and as they arrive), never from a stack's
//! internals; and the checks each segment meets as it leaves its sender. A violation names the
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
use std::net::SocketAddrV4;

use synack_core::wire::Flags;
use synack_core::SeqNum;

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

/// What the wire has shown of one side of a connection, as the sender of one direction.
#[derive(Clone, Copy, Debug, Default)]
struct Side {
    /// Its ISN, from its SYN.
    iss: Option<SeqNum>,
    /// The MSS its SYN announced; `None` with `syn` set when the SYN carried none.
    mss: Option<u16>,
    /// Its SYN has been seen.
    syn: bool,
    /// The window scale shift its SYN announced (RFC 7323 §2.2).
    wscale: Option<u8>,
    /// One past the highest data octet it has sent.
    sent_end: Option<SeqNum>,
    /// The largest right edge its peer advertised in segments that reached it.
    edge: Option<SeqNum>,
}

/// The passive observer of one run's connections.
#[derive(Debug, Default)]
pub struct WireOracle {
    /// By (sender, receiver).
    sides: BTreeMap<(SocketAddrV4, SocketAddrV4), Side>,
    /// Checks made, by requirement, for the report.
    checks: BTreeMap<&'static str, u64>,
}

impl WireOracle {
    /// A segment leaves its sender: the checks it must meet.
    pub fn sent(&mut self, s: &Summary) -> Option<Violation> {
        if s.has(Flags::SYN) {
            let iss = s.seq;
            let known = self.sides.get(&(s.src, s.dst)).and_then(|d| d.iss);
            if known.is_some_and(|i| i != iss) {
                // A new incarnation of the connection: start its views afresh.
                self.sides.remove(&(s.src, s.dst));
                self.sides.remove(&(s.dst, s.src));
            }
            let side = self.sides.entry((s.src, s.dst)).or_default();
            side.iss = Some(iss);
            side.syn = true;
            side.mss = s.options.mss;
            side.wscale = s.options.window_scale;
        }
        if s.len == 0 || s.has(Flags::RST) {
            return None;
        }
        let peer = self.sides.get(&(s.dst, s.src)).copied().unwrap_or_default();
        let side = self.sides.entry((s.src, s.dst)).or_default();
        let data_start = s.seq + u32::from(s.has(Flags::SYN));
        let end = data_start + s.len;
        let new_data = side.sent_end.is_none_or(|e| end.gt(e));
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
        side.sent_end = Some(side.sent_end.map_or(end, |e| e.max(end)));
        *self.checks.entry("§3.8.6").or_insert(0) += u64::from(new_data && side.edge.is_some());
        if !peer.syn {
            return window;
        }
        let (mss, requirement) = match peer.mss {
            Some(m) => (m, "MUST-16"),
            None => (DEFAULT_SEND_MSS, "MUST-15"),
        };
        *self.checks.entry(requirement).or_insert(0) += 1;
        if s.len > u32::from(mss) {
            let announced = match peer.mss {
                Some(m) => format!("announced an MSS of {m}"),
                None => format!("announced no MSS, so {DEFAULT_SEND_MSS} (§3.7.1)"),
            };
            return Some(Violation {
                requirement,
                message: format!(
                    "{} sent {} octets of data in one segment; its peer {} {announced}",
                    s.src, s.len, s.dst
                ),
            });
        }
        window
    }

    /// A segment reaches its receiver intact: the window it advertises is the receiver's view
    /// of its peer's right edge from now on, if it is the largest yet.
    pub fn arrived(&mut self, s: &Summary) {
        if !s.has(Flags::ACK) || s.has(Flags::RST) {
            return;
        }
        let sender = self.sides.get(&(s.src, s.dst)).copied().unwrap_or_default();
        let receiver = self.sides.entry((s.dst, s.src)).or_default();
        // RFC 7323 §2.2: the window field of a SYN is never scaled; the others are, by the
        // sender's shift, once both SYNs carried the option.
        let shift = match (sender.wscale, receiver.wscale) {
            (Some(shift), Some(_)) if !s.has(Flags::SYN) => u32::from(shift.min(14)),
            _ => 0,
        };
        let edge = s.ack + (u32::from(s.window) << shift);
        receiver.edge = Some(receiver.edge.map_or(edge, |e| e.max(edge)));
    }

    /// How many segments each requirement was checked on.
    pub fn checks(&self) -> &BTreeMap<&'static str, u64> {
        &self.checks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::summary::OptionSummary;
    use std::net::Ipv4Addr;

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
}
