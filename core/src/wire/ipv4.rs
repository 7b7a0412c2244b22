//! The IPv4 header (RFC 791 §3.1), as far as a TCP endpoint needs it.
//!
//! This module owns the IPv4 header: version, IHL with options (kept as raw bytes), total
//! length, identification, flags, TTL, protocol and header checksum. It accepts only unfragmented
//! datagrams that carry TCP; reassembly is not a TCP endpoint's job here.

use core::net::Ipv4Addr;

use super::checksum::{Checksum, PROTOCOL_TCP};
use super::WireError;

/// Length of the IPv4 header without options.
pub const MIN_HEADER_LEN: usize = 20;
/// Largest IPv4 header: IHL is four bits of 32-bit words.
pub const MAX_HEADER_LEN: usize = 60;

/// The fields of an IPv4 header that are not derived from the rest of the packet.
///
/// IHL, total length, protocol (always 6, TCP) and the header checksum are computed on emit and
/// checked on parse.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4Header {
    /// The second octet: DSCP (6 bits) and ECN (2 bits).
    pub dscp_ecn: u8,
    /// Identification.
    pub identification: u16,
    /// The reserved flag bit (bit 0 of the flags); RFC 791 says it must be zero, but a receiver
    /// keeps whatever arrived so that a packet re-emits unchanged.
    pub reserved_flag: bool,
    /// Don't Fragment.
    pub dont_fragment: bool,
    /// Time to live.
    pub ttl: u8,
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// IP options, raw; their length is a multiple of 4 and at most 40.
    pub options: Vec<u8>,
}

impl Ipv4Header {
    /// A header with no options, DF set and TTL 64: what a TCP endpoint sends.
    #[must_use]
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr) -> Ipv4Header {
        Ipv4Header {
            dscp_ecn: 0,
            identification: 0,
            reserved_flag: false,
            dont_fragment: true,
            ttl: 64,
            src,
            dst,
            options: Vec::new(),
        }
    }

    /// Header length in bytes, including options.
    #[must_use]
    pub fn header_len(&self) -> usize {
        MIN_HEADER_LEN + self.options.len()
    }

    /// Parses an IPv4 header. Returns the header and the bytes it carries (the TCP segment),
    /// which end at the total length; bytes past it (link-layer padding) are ignored.
    pub fn parse(packet: &[u8]) -> Result<(Ipv4Header, &[u8]), WireError> {
        if packet.len() < MIN_HEADER_LEN {
            return Err(WireError::Truncated {
                needed: MIN_HEADER_LEN,
                got: packet.len(),
            });
        }
        let version = packet[0] >> 4;
        if version != 4 {
            return Err(WireError::BadVersion(version));
        }
        let ihl = packet[0] & 0x0f;
        let header_len = usize::from(ihl) * 4;
        if header_len < MIN_HEADER_LEN {
            return Err(WireError::BadIhl(ihl));
        }
        if packet.len() < header_len {
            return Err(WireError::Truncated {
                needed: header_len,
                got: packet.len(),
            });
        }
        let header = &packet[..header_len];
        let expected = {
            let mut c = Checksum::new();
            c.add(&header[..10]).add(&header[12..]);
            c.finish()
        };
        let found = u16::from_be_bytes([header[10], header[11]]);
        if found != expected {
            return Err(WireError::BadIpv4Checksum { found, expected });
        }
        let total_len = u16::from_be_bytes([header[2], header[3]]);
        if usize::from(total_len) < header_len || usize::from(total_len) > packet.len() {
            return Err(WireError::BadTotalLength {
                total_len,
                header_len,
                packet_len: packet.len(),
            });
        }
        let flags_frag = u16::from_be_bytes([header[6], header[7]]);
        let more_fragments = flags_frag & 0x2000 != 0;
        let fragment_offset = flags_frag & 0x1fff;
        if more_fragments || fragment_offset != 0 {
            return Err(WireError::Fragment {
                offset: fragment_offset,
                more_fragments,
            });
        }
        if header[9] != PROTOCOL_TCP {
            return Err(WireError::NotTcp(header[9]));
        }
        let ip = Ipv4Header {
            dscp_ecn: header[1],
            identification: u16::from_be_bytes([header[4], header[5]]),
            reserved_flag: flags_frag & 0x8000 != 0,
            dont_fragment: flags_frag & 0x4000 != 0,
            ttl: header[8],
            src: Ipv4Addr::new(header[12], header[13], header[14], header[15]),
            dst: Ipv4Addr::new(header[16], header[17], header[18], header[19]),
            options: header[MIN_HEADER_LEN..].to_vec(),
        };
        Ok((ip, &packet[header_len..usize::from(total_len)]))
    }

    /// Appends this header to `out` for a datagram carrying `payload_len` bytes of TCP.
    pub fn emit(&self, payload_len: usize, out: &mut Vec<u8>) -> Result<(), WireError> {
        let header_len = self.header_len();
        if self.options.len() % 4 != 0 || header_len > MAX_HEADER_LEN {
            return Err(WireError::BadIhl(
                u8::try_from(header_len.div_ceil(4)).unwrap_or(u8::MAX),
            ));
        }
        let total = header_len + payload_len;
        let total_len = u16::try_from(total).map_err(|_| WireError::TooLong { len: total })?;
        let start = out.len();
        let mut flags = 0u16;
        if self.reserved_flag {
            flags |= 0x8000;
        }
        if self.dont_fragment {
            flags |= 0x4000;
        }
        out.push(0x40 | (header_len / 4) as u8);
        out.push(self.dscp_ecn);
        out.extend_from_slice(&total_len.to_be_bytes());
        out.extend_from_slice(&self.identification.to_be_bytes());
        out.extend_from_slice(&flags.to_be_bytes());
        out.push(self.ttl);
        out.push(PROTOCOL_TCP);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.src.octets());
        out.extend_from_slice(&self.dst.octets());
        out.extend_from_slice(&self.options);
        let sum = Checksum::new().add(&out[start..]).finish();
        out[start + 10..start + 12].copy_from_slice(&sum.to_be_bytes());
        Ok(())
    }
}
