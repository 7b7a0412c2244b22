//! The TCP header (RFC 9293 §3.1): parse and emit, with the pseudo-header checksum.
//!
//! This module owns the fixed header fields, the control bits and the data offset. Options are
//! delegated to [`super::options`].

use core::fmt;
use core::net::Ipv4Addr;

use super::checksum::Checksum;
use super::options::{self, TcpOption};
use super::WireError;
use crate::seq::SeqNum;

/// Length of the TCP header without options.
pub const MIN_HEADER_LEN: usize = 20;
/// Largest TCP header: the data offset is four bits of 32-bit words.
pub const MAX_HEADER_LEN: usize = 60;
/// Most option bytes a header can carry.
pub const MAX_OPTIONS_LEN: usize = MAX_HEADER_LEN - MIN_HEADER_LEN;

bitflags::bitflags! {
    /// The eight control bits of RFC 9293 §3.1, in wire order from CWR down to FIN.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct Flags: u8 {
        /// Congestion Window Reduced (RFC 3168).
        const CWR = 0x80;
        /// ECN-Echo (RFC 3168).
        const ECE = 0x40;
        /// Urgent pointer field is significant.
        const URG = 0x20;
        /// Acknowledgment field is significant.
        const ACK = 0x10;
        /// Push function.
        const PSH = 0x08;
        /// Reset the connection.
        const RST = 0x04;
        /// Synchronize sequence numbers.
        const SYN = 0x02;
        /// No more data from sender.
        const FIN = 0x01;
    }
}

impl fmt::Display for Flags {
    /// The RFC 793 figure notation of the control bits, e.g. `SYN,ACK`; in the order the RFC's
    /// figures use: SYN, FIN, RST, then ACK, then the rest.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const ORDER: [(Flags, &str); 8] = [
            (Flags::SYN, "SYN"),
            (Flags::FIN, "FIN"),
            (Flags::RST, "RST"),
            (Flags::ACK, "ACK"),
            (Flags::PSH, "PSH"),
            (Flags::URG, "URG"),
            (Flags::ECE, "ECE"),
            (Flags::CWR, "CWR"),
        ];
        let mut first = true;
        for (flag, name) in ORDER {
            if self.contains(flag) {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// A TCP header: every field of RFC 9293 §3.1 except the checksum, which is computed on emit
/// and verified on parse.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TcpHeader {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number: the first data octet, or the ISN when SYN is set.
    pub seq: SeqNum,
    /// Acknowledgment number; significant only when ACK is set.
    pub ack: SeqNum,
    /// Data offset: the header length in 32-bit words, 5 to 15. Must leave room for the
    /// options; any room after them is zero padding (EOL, then zeros).
    pub data_offset: u8,
    /// The four reserved bits between the data offset and CWR; RFC 9293 §3.1 says a sender
    /// sets them to zero. A receiver keeps what arrived so that a packet re-emits unchanged.
    pub reserved: u8,
    /// Control bits.
    pub flags: Flags,
    /// Window.
    pub window: u16,
    /// Urgent pointer.
    pub urgent: u16,
    /// Options, in wire order, without the EOL that ends them.
    pub options: Vec<TcpOption>,
}

impl TcpHeader {
    /// A header with no options; `data_offset` is 5.
    #[must_use]
    pub fn new(src_port: u16, dst_port: u16, seq: SeqNum, ack: SeqNum, flags: Flags) -> Self {
        TcpHeader {
            src_port,
            dst_port,
            seq,
            ack,
            data_offset: 5,
            reserved: 0,
            flags,
            window: 0,
            urgent: 0,
            options: Vec::new(),
        }
    }

    /// Replaces the options and sets the data offset to the smallest that holds them.
    #[must_use]
    pub fn with_options(mut self, options: Vec<TcpOption>) -> Self {
        self.data_offset = min_data_offset(&options);
        self.options = options;
        self
    }
    /// The MSS its MSS option announces, if it carries one (RFC 9293 §3.7.1).
    #[must_use]
    pub fn mss(&self) -> Option<u16> {
        self.options.iter().find_map(|o| match o {
            TcpOption::Mss(m) => Some(*m),
            _ => None,
        })
    }

    /// The shift its window scale option announces, if it carries one (RFC 7323 §2.2).
    #[must_use]
    pub fn window_scale(&self) -> Option<u8> {
        self.options.iter().find_map(|o| match o {
            TcpOption::WindowScale(s) => Some(*s),
            _ => None,
        })
    }

    /// Header length in bytes: `data_offset * 4`.
    #[must_use]
    pub fn header_len(&self) -> usize {
        usize::from(self.data_offset) * 4
    }

    /// Parses a TCP segment (header and data) that arrived from `src` to `dst`, verifying the
    /// checksum over the pseudo-header. Returns the header and the segment's data.
    pub fn parse(segment: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> Result<(Self, &[u8]), WireError> {
        if segment.len() < MIN_HEADER_LEN {
            return Err(WireError::Truncated {
                needed: MIN_HEADER_LEN,
                got: segment.len(),
            });
        }
        let data_offset = segment[12] >> 4;
        let header_len = usize::from(data_offset) * 4;
        if header_len < MIN_HEADER_LEN || header_len > segment.len() {
            return Err(WireError::BadDataOffset {
                data_offset,
                segment_len: segment.len(),
            });
        }
        let tcp_len =
            u16::try_from(segment.len()).map_err(|_| WireError::TooLong { len: segment.len() })?;
        // RFC 9293 §3.1 (MUST-2, MUST-3): the checksum is generated and checked on every segment.
        let found = u16::from_be_bytes([segment[16], segment[17]]);
        let expected = Checksum::new()
            .add_pseudo_header(src, dst, tcp_len)
            .add(&segment[..16])
            .add(&segment[18..])
            .finish();
        if found != expected {
            return Err(WireError::BadTcpChecksum { found, expected });
        }
        let options = options::parse(&segment[MIN_HEADER_LEN..header_len])?;
        let header = TcpHeader {
            src_port: u16::from_be_bytes([segment[0], segment[1]]),
            dst_port: u16::from_be_bytes([segment[2], segment[3]]),
            seq: SeqNum(u32::from_be_bytes([
                segment[4], segment[5], segment[6], segment[7],
            ])),
            ack: SeqNum(u32::from_be_bytes([
                segment[8],
                segment[9],
                segment[10],
                segment[11],
            ])),
            data_offset,
            reserved: segment[12] & 0x0f,
            flags: Flags::from_bits_retain(segment[13]),
            window: u16::from_be_bytes([segment[14], segment[15]]),
            urgent: u16::from_be_bytes([segment[18], segment[19]]),
            options,
        };
        Ok((header, &segment[header_len..]))
    }

    /// Appends the header and `payload` to `out`, with the checksum for a segment from `src`
    /// to `dst`. Fails if the data offset cannot hold the options or the segment is too long.
    pub fn emit(
        &self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), WireError> {
        self.emit_parts(src, dst, &[payload], out)
    }

    /// As [`TcpHeader::emit`], with the data given in parts (the two halves of a ring buffer,
    /// say), which follow the header in order.
    pub fn emit_parts(
        &self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        parts: &[&[u8]],
        out: &mut Vec<u8>,
    ) -> Result<(), WireError> {
        let payload_len: usize = parts.iter().map(|p| p.len()).sum();
        let header_len = self.header_len();
        if !(MIN_HEADER_LEN..=MAX_HEADER_LEN).contains(&header_len)
            || options::options_len(&self.options) > header_len - MIN_HEADER_LEN
        {
            return Err(WireError::BadDataOffset {
                data_offset: self.data_offset,
                segment_len: header_len + payload_len,
            });
        }
        let tcp_len = u16::try_from(header_len + payload_len).map_err(|_| WireError::TooLong {
            len: header_len + payload_len,
        })?;
        let start = out.len();
        out.extend_from_slice(&self.src_port.to_be_bytes());
        out.extend_from_slice(&self.dst_port.to_be_bytes());
        out.extend_from_slice(&self.seq.0.to_be_bytes());
        out.extend_from_slice(&self.ack.0.to_be_bytes());
        out.push((self.data_offset << 4) | (self.reserved & 0x0f));
        out.push(self.flags.bits());
        out.extend_from_slice(&self.window.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.urgent.to_be_bytes());
        if let Err(e) = options::emit(&self.options, out) {
            out.truncate(start);
            return Err(e);
        }
        // RFC 9293 §3.1: "The TCP header padding is used to ensure that the TCP header ends,
        // and data begins, on a 32-bit boundary. The padding is composed of zeros."
        out.resize(start + header_len, 0);
        for part in parts {
            out.extend_from_slice(part);
        }
        let sum = Checksum::new()
            .add_pseudo_header(src, dst, tcp_len)
            .add(&out[start..])
            .finish();
        out[start + 16..start + 18].copy_from_slice(&sum.to_be_bytes());
        Ok(())
    }
}

/// The smallest data offset whose header holds `options` (at least 5). Over-long option lists
/// give a value above 15, which emit rejects.
#[must_use]
pub fn min_data_offset(options: &[TcpOption]) -> u8 {
    let words = (MIN_HEADER_LEN + options::options_len(options)).div_ceil(4);
    u8::try_from(words).unwrap_or(u8::MAX)
}
