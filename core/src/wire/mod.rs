//! IPv4 + TCP on the wire: parse and emit whole packets.
//!
//! This module owns the byte format. [`Packet::parse`] takes the bytes of one IPv4 datagram
//! and returns its IPv4 header, TCP header and data, or a [`WireError`] that names what is
//! wrong; no input of any length or content makes it panic. [`Packet::emit`] writes the bytes
//! back with valid checksums.
//!
//! Round trips are exact: parsing a packet and emitting it again gives back the same bytes,
//! provided the packet is canonical in the two places where the format allows slack, namely
//! that the option bytes after an EOL are zero, and that the datagram ends at its total length
//! (bytes beyond it, such as link-layer padding, are ignored on parse).

pub mod checksum;
pub mod ipv4;
pub mod options;
pub mod tcp;

use core::fmt;

pub use ipv4::Ipv4Header;
pub use options::{SackBlock, TcpOption};
pub use tcp::{Flags, TcpHeader};

/// Why bytes could not be parsed as an IPv4 datagram carrying TCP, or a packet could not be
/// emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WireError {
    /// Fewer bytes than the header needs.
    Truncated {
        /// Bytes the header needs.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// The IP version is not 4.
    BadVersion(u8),
    /// The IHL is below 5 words, or the IP options do not fill whole words within 40 bytes.
    BadIhl(u8),
    /// The total length is shorter than the IPv4 header or longer than the bytes received.
    BadTotalLength {
        /// The total length field.
        total_len: u16,
        /// The IPv4 header length.
        header_len: usize,
        /// The bytes received.
        packet_len: usize,
    },
    /// The TCP data offset is below 5 words, beyond the segment, or too small for the options.
    BadDataOffset {
        /// The data offset field, in 32-bit words.
        data_offset: u8,
        /// The length of the TCP segment.
        segment_len: usize,
    },
    /// A TCP option has a missing, too small, too large or wrong length for its kind.
    BadOption {
        /// The option kind.
        kind: u8,
        /// Its offset within the option bytes.
        offset: usize,
    },
    /// The IPv4 header checksum does not match.
    BadIpv4Checksum {
        /// The checksum in the packet.
        found: u16,
        /// The checksum of the header as received.
        expected: u16,
    },
    /// The TCP checksum (over the pseudo-header, header and data) does not match.
    BadTcpChecksum {
        /// The checksum in the packet.
        found: u16,
        /// The checksum of the segment as received.
        expected: u16,
    },
    /// The datagram carries another protocol than TCP.
    NotTcp(u8),
    /// The datagram is a fragment (MF set or a non-zero fragment offset).
    Fragment {
        /// The fragment offset, in 8-octet units.
        offset: u16,
        /// The More Fragments flag.
        more_fragments: bool,
    },
    /// A packet to emit would be longer than 65535 bytes.
    TooLong {
        /// Its length.
        len: usize,
    },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated { needed, got } => {
                write!(f, "truncated: header needs {needed} bytes, got {got}")
            }
            WireError::BadVersion(v) => write!(f, "bad IP version {v}, expected 4"),
            WireError::BadIhl(ihl) => write!(f, "bad IHL {ihl}"),
            WireError::BadTotalLength {
                total_len,
                header_len,
                packet_len,
            } => write!(
                f,
                "bad total length {total_len} (header {header_len} bytes, packet {packet_len} bytes)"
            ),
            WireError::BadDataOffset {
                data_offset,
                segment_len,
            } => write!(
                f,
                "bad TCP data offset {data_offset} for a {segment_len}-byte segment"
            ),
            WireError::BadOption { kind, offset } => {
                write!(f, "malformed TCP option of kind {kind} at option byte {offset}")
            }
            WireError::BadIpv4Checksum { found, expected } => write!(
                f,
                "bad IPv4 header checksum {found:#06x}, expected {expected:#06x}"
            ),
            WireError::BadTcpChecksum { found, expected } => {
                write!(f, "bad TCP checksum {found:#06x}, expected {expected:#06x}")
            }
            WireError::NotTcp(p) => write!(f, "not TCP: IP protocol {p}"),
            WireError::Fragment {
                offset,
                more_fragments,
            } => write!(
                f,
                "IP fragment (offset {offset}, more fragments {more_fragments})"
            ),
            WireError::TooLong { len } => write!(f, "packet of {len} bytes exceeds 65535"),
        }
    }
}

impl std::error::Error for WireError {}

/// Appends one IPv4 packet to `out`: `ip` and `tcp` with the data given in parts (the two
/// halves of a ring buffer, say), computing the IPv4 total length, IHL and both checksums. On
/// error, `out` is left as it was.
pub fn emit_parts(
    ip: &Ipv4Header,
    tcp: &TcpHeader,
    parts: &[&[u8]],
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    let start = out.len();
    let segment_len = tcp.header_len() + parts.iter().map(|p| p.len()).sum::<usize>();
    let result = ip
        .emit(segment_len, out)
        .and_then(|()| tcp.emit_parts(ip.src, ip.dst, parts, out));
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// One IPv4 datagram carrying a TCP segment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Packet<'a> {
    /// The IPv4 header.
    pub ip: Ipv4Header,
    /// The TCP header.
    pub tcp: TcpHeader,
    /// The segment's data.
    pub payload: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Parses one IPv4 datagram that carries an unfragmented TCP segment, verifying both
    /// checksums.
    pub fn parse(bytes: &'a [u8]) -> Result<Packet<'a>, WireError> {
        let (ip, segment) = Ipv4Header::parse(bytes)?;
        let (tcp, payload) = TcpHeader::parse(segment, ip.src, ip.dst)?;
        Ok(Packet { ip, tcp, payload })
    }

    /// Appends the packet's bytes to `out`, computing the IPv4 total length, IHL and both
    /// checksums. On error, `out` is left as it was.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        emit_parts(&self.ip, &self.tcp, &[self.payload], out)
    }

    /// The packet's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut out =
            Vec::with_capacity(self.ip.header_len() + self.tcp.header_len() + self.payload.len());
        self.emit(&mut out)?;
        Ok(out)
    }
}
