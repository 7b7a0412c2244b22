//! The summary of a segment, parsed once when it leaves its sender.
//!
//! This module owns [`Summary`]: the fields of a packet that the harness reads (addresses,
//! ports, SEQ, ACK, control bits, window, data length and the options, in a compact form), taken
//! from one parse of the sender's bytes with both checksums verified. Fault keys, the trace,
//! coverage, state lookups and the oracles all read it; nothing after the sender parses the
//! packet again (the receiving stack parses it for itself, as any TCP must).

use std::fmt;
use std::net::SocketAddrV4;

use synack_core::wire::{Flags, Packet, TcpOption, WireError};
use synack_core::{SegmentSummary, SeqNum};

/// The options of a segment, as far as the harness reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OptionSummary {
    /// MSS (kind 2), RFC 9293 §3.7.1.
    pub mss: Option<u16>,
    /// Window scale shift (kind 3), RFC 7323 §2.
    pub window_scale: Option<u8>,
    /// SACK-permitted (kind 4), RFC 2018 §2.
    pub sack_permitted: bool,
    /// SACK blocks (kind 5): how many.
    pub sack_blocks: u8,
    /// Timestamps (kind 8): TSval and TSecr.
    pub timestamps: Option<(u32, u32)>,
    /// Options of other kinds.
    pub unknown: u8,
}

impl OptionSummary {
    fn of(options: &[TcpOption]) -> OptionSummary {
        let mut o = OptionSummary::default();
        for opt in options {
            match opt {
                TcpOption::Nop => {}
                TcpOption::Mss(m) => o.mss = Some(*m),
                TcpOption::WindowScale(s) => o.window_scale = Some(*s),
                TcpOption::SackPermitted => o.sack_permitted = true,
                TcpOption::Sack(blocks) => {
                    o.sack_blocks = u8::try_from(blocks.len()).unwrap_or(u8::MAX)
                }
                TcpOption::Timestamps { tsval, tsecr } => o.timestamps = Some((*tsval, *tsecr)),
                _ => o.unknown = o.unknown.saturating_add(1),
            }
        }
        o
    }
}

/// What the harness knows of a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Summary {
    /// Source address and port.
    pub src: SocketAddrV4,
    /// Destination address and port.
    pub dst: SocketAddrV4,
    /// SEG.SEQ.
    pub seq: SeqNum,
    /// SEG.ACK (meaningful with ACK set).
    pub ack: SeqNum,
    /// Control bits.
    pub flags: Flags,
    /// SEG.WND.
    pub window: u16,
    /// Octets of data.
    pub len: u32,
    /// The options.
    pub options: OptionSummary,
    /// Octets of the IPv4 and TCP headers: the packet's first `header_len` octets.
    pub header_len: u16,
}

impl Summary {
    /// Parses a whole IPv4 packet carrying TCP, verifying both checksums.
    pub fn parse(bytes: &[u8]) -> Result<Summary, WireError> {
        let p = Packet::parse(bytes)?;
        Ok(Summary {
            src: SocketAddrV4::new(p.ip.src, p.tcp.src_port),
            dst: SocketAddrV4::new(p.ip.dst, p.tcp.dst_port),
            seq: p.tcp.seq,
            ack: p.tcp.ack,
            flags: p.tcp.flags,
            window: p.tcp.window,
            len: u32::try_from(p.payload.len()).unwrap_or(u32::MAX),
            options: OptionSummary::of(&p.tcp.options),
            header_len: u16::try_from(p.ip.header_len() + p.tcp.header_len()).unwrap_or(u16::MAX),
        })
    }

    /// SEG.LEN: the data, plus one for SYN and one for FIN (RFC 9293 §3.4).
    pub fn seg_len(&self) -> u32 {
        self.len
            .wrapping_add(u32::from(self.flags.contains(Flags::SYN)))
            .wrapping_add(u32::from(self.flags.contains(Flags::FIN)))
    }

    /// SEG.SEQ + SEG.LEN: the sequence number after the segment.
    pub fn end(&self) -> SeqNum {
        self.seq + self.seg_len()
    }

    /// Whether a control bit is set.
    pub fn has(&self, flag: Flags) -> bool {
        self.flags.contains(flag)
    }

    /// The local and remote sockets of the connection, as seen by host `addr`'s side:
    /// `(local, remote)`.
    pub fn sockets_at(&self, addr: std::net::Ipv4Addr) -> (SocketAddrV4, SocketAddrV4) {
        if *self.src.ip() == addr {
            (self.src, self.dst)
        } else {
            (self.dst, self.src)
        }
    }

    /// The core's summary of the same header fields, for its RFC notation.
    pub fn segment(&self) -> SegmentSummary {
        SegmentSummary {
            src: self.src,
            dst: self.dst,
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.window,
            len: self.len,
        }
    }
}

impl fmt::Display for Summary {
    /// RFC 793 figure notation: `<SEQ=100><ACK=301><CTL=SYN,ACK>`, with `<DATA=n>` for data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.segment().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use synack_core::wire::{Ipv4Header, TcpHeader};

    fn packet(flags: Flags, payload: &[u8], options: Vec<TcpOption>) -> Vec<u8> {
        let mut tcp =
            TcpHeader::new(1000, 80, SeqNum(100), SeqNum(300), flags).with_options(options);
        tcp.window = 4096;
        Packet {
            ip: Ipv4Header::new(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)),
            tcp,
            payload,
        }
        .to_bytes()
        .expect("a well-formed packet")
    }

    #[test]
    fn a_syn_with_mss_is_summarised_with_its_length_and_option() {
        let bytes = packet(Flags::SYN, &[], vec![TcpOption::Mss(1460)]);
        let s = Summary::parse(&bytes).expect("parses");
        assert_eq!(s.seg_len(), 1, "the SYN takes one sequence number");
        assert_eq!(s.end(), SeqNum(101));
        assert_eq!(s.options.mss, Some(1460));
        assert_eq!(usize::from(s.header_len), 20 + 24);
        assert_eq!(s.to_string(), "<SEQ=100><CTL=SYN>");
    }

    #[test]
    fn data_with_a_fin_counts_both() {
        let bytes = packet(Flags::ACK | Flags::FIN, b"hello", vec![]);
        let s = Summary::parse(&bytes).expect("parses");
        assert_eq!((s.len, s.seg_len(), s.window), (5, 6, 4096));
        let (local, remote) = s.sockets_at(Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!((local.port(), remote.port()), (80, 1000));
    }

    #[test]
    fn a_corrupted_packet_does_not_summarise() {
        let mut bytes = packet(Flags::ACK, b"x", vec![]);
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(Summary::parse(&bytes).is_err());
    }
}
