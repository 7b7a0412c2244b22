//! TCP options (RFC 9293 §3.1 and §3.2): parse and emit.
//!
//! This module owns the option list of a TCP header. It knows EOL, NOP, MSS (RFC 9293 §3.7.1),
//! window scale and timestamps (RFC 7323), SACK-permitted and SACK (RFC 2018). Any other kind is
//! kept as [`TcpOption::Unknown`] and skipped by its length, as RFC 9293 §3.1 requires
//! (MUST-6: "A TCP implementation MUST be able to receive a TCP Option in any segment" and
//! MUST-7: it "MUST ignore without error any TCP Option it does not implement, assuming that
//! the option has a length field").
//!
//! End of Option List (kind 0) is not an element of the list: it ends the list, and the bytes
//! after it up to the data offset are padding. Emitting writes the options and fills the rest of
//! the header with zeros, which a receiver reads as EOL followed by padding.

use super::WireError;
use crate::seq::SeqNum;

/// Option kinds (IANA "TCP Option Kind Numbers").
mod kind {
    pub const EOL: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMPS: u8 = 8;
}

/// The most SACK blocks that fit in 40 option bytes (RFC 2018 §3).
pub const MAX_SACK_BLOCKS: usize = 4;

/// One SACK block: the left edge and the right edge (one past the last octet) of a block of
/// data the receiver holds (RFC 2018 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SackBlock {
    /// First sequence number of the block.
    pub left: SeqNum,
    /// Sequence number immediately after the last octet of the block.
    pub right: SeqNum,
}

/// One TCP option.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TcpOption {
    /// No-Operation (kind 1), used to align later options.
    Nop,
    /// Maximum Segment Size (kind 2, length 4), RFC 9293 §3.7.1.
    Mss(u16),
    /// Window scale shift count (kind 3, length 3), RFC 7323 §2.
    WindowScale(u8),
    /// SACK-permitted (kind 4, length 2), RFC 2018 §2.
    SackPermitted,
    /// SACK blocks (kind 5, length 2 + 8n with 1 ≤ n ≤ 4), RFC 2018 §3.
    Sack(Vec<SackBlock>),
    /// Timestamps (kind 8, length 10), RFC 7323 §3.
    Timestamps {
        /// TSval: the sender's timestamp clock.
        tsval: u32,
        /// TSecr: the echoed timestamp.
        tsecr: u32,
    },
    /// Any other kind, with the bytes that followed its length octet.
    Unknown {
        /// The option kind; never 0 or 1, which have no length octet.
        kind: u8,
        /// The option's data (its length octet minus two).
        data: Vec<u8>,
    },
}

impl TcpOption {
    /// The number of bytes this option occupies on the wire.
    #[must_use]
    pub fn wire_len(&self) -> usize {
        match self {
            TcpOption::Nop => 1,
            TcpOption::Mss(_) => 4,
            TcpOption::WindowScale(_) => 3,
            TcpOption::SackPermitted => 2,
            TcpOption::Sack(blocks) => 2 + 8 * blocks.len(),
            TcpOption::Timestamps { .. } => 10,
            TcpOption::Unknown { data, .. } => 2 + data.len(),
        }
    }

    /// The option's kind octet.
    #[must_use]
    pub fn kind(&self) -> u8 {
        match self {
            TcpOption::Nop => kind::NOP,
            TcpOption::Mss(_) => kind::MSS,
            TcpOption::WindowScale(_) => kind::WINDOW_SCALE,
            TcpOption::SackPermitted => kind::SACK_PERMITTED,
            TcpOption::Sack(_) => kind::SACK,
            TcpOption::Timestamps { .. } => kind::TIMESTAMPS,
            TcpOption::Unknown { kind, .. } => *kind,
        }
    }
}

/// Total wire length of a list of options, without padding.
#[must_use]
pub fn options_len(options: &[TcpOption]) -> usize {
    options.iter().map(TcpOption::wire_len).sum()
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Parses the option bytes of a TCP header (everything between the fixed 20 bytes and the data
/// offset). Stops at EOL; rejects an option whose length octet is missing, below 2, runs past
/// the end, or does not fit its kind.
pub fn parse(bytes: &[u8]) -> Result<Vec<TcpOption>, WireError> {
    let mut options = Vec::new();
    let mut at = 0usize;
    while let Some(&k) = bytes.get(at) {
        let bad = WireError::BadOption {
            kind: k,
            offset: at,
        };
        match k {
            kind::EOL => break,
            kind::NOP => {
                options.push(TcpOption::Nop);
                at += 1;
                continue;
            }
            _ => {}
        }
        let len = usize::from(*bytes.get(at + 1).ok_or(bad)?);
        if len < 2 || at + len > bytes.len() {
            return Err(bad);
        }
        let body = &bytes[at + 2..at + len];
        let option = match (k, body.len()) {
            (kind::MSS, 2) => TcpOption::Mss(u16::from_be_bytes([body[0], body[1]])),
            (kind::WINDOW_SCALE, 1) => TcpOption::WindowScale(body[0]),
            (kind::SACK_PERMITTED, 0) => TcpOption::SackPermitted,
            (kind::SACK, n) if n > 0 && n % 8 == 0 && n / 8 <= MAX_SACK_BLOCKS => TcpOption::Sack(
                body.chunks_exact(8)
                    .map(|b| SackBlock {
                        left: SeqNum(be_u32(&b[..4])),
                        right: SeqNum(be_u32(&b[4..])),
                    })
                    .collect(),
            ),
            (kind::TIMESTAMPS, 8) => TcpOption::Timestamps {
                tsval: be_u32(&body[..4]),
                tsecr: be_u32(&body[4..]),
            },
            (kind::MSS | kind::WINDOW_SCALE | kind::SACK_PERMITTED | kind::SACK, _) => {
                return Err(bad)
            }
            (kind::TIMESTAMPS, _) => return Err(bad),
            _ => TcpOption::Unknown {
                kind: k,
                data: body.to_vec(),
            },
        };
        options.push(option);
        at += len;
    }
    Ok(options)
}

/// Appends the wire form of `options` to `out`, without padding. Rejects options that could not
/// be parsed back: a SACK with no block or more than four, and an unknown option whose kind is
/// 0 or 1 or whose length does not fit in one octet.
pub fn emit(options: &[TcpOption], out: &mut Vec<u8>) -> Result<(), WireError> {
    for option in options {
        let start = out.len();
        let bad = WireError::BadOption {
            kind: option.kind(),
            offset: start,
        };
        match option {
            TcpOption::Nop => out.push(kind::NOP),
            TcpOption::Mss(mss) => {
                out.extend_from_slice(&[kind::MSS, 4]);
                out.extend_from_slice(&mss.to_be_bytes());
            }
            TcpOption::WindowScale(shift) => {
                out.extend_from_slice(&[kind::WINDOW_SCALE, 3, *shift])
            }
            TcpOption::SackPermitted => out.extend_from_slice(&[kind::SACK_PERMITTED, 2]),
            TcpOption::Sack(blocks) => {
                if blocks.is_empty() || blocks.len() > MAX_SACK_BLOCKS {
                    return Err(bad);
                }
                out.extend_from_slice(&[kind::SACK, option.wire_len() as u8]);
                for b in blocks {
                    out.extend_from_slice(&b.left.0.to_be_bytes());
                    out.extend_from_slice(&b.right.0.to_be_bytes());
                }
            }
            TcpOption::Timestamps { tsval, tsecr } => {
                out.extend_from_slice(&[kind::TIMESTAMPS, 10]);
                out.extend_from_slice(&tsval.to_be_bytes());
                out.extend_from_slice(&tsecr.to_be_bytes());
            }
            TcpOption::Unknown { kind: k, data } => {
                let len = u8::try_from(option.wire_len()).map_err(|_| bad)?;
                if *k == kind::EOL || *k == kind::NOP || is_known(*k) {
                    return Err(bad);
                }
                out.push(*k);
                out.push(len);
                out.extend_from_slice(data);
            }
        }
    }
    Ok(())
}

/// Kinds that parse into their own variant; an `Unknown` of these kinds would not round-trip.
fn is_known(k: u8) -> bool {
    matches!(
        k,
        kind::MSS | kind::WINDOW_SCALE | kind::SACK_PERMITTED | kind::SACK | kind::TIMESTAMPS
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_linux_syn_option_block() {
        // MSS 1460, SACK-permitted, timestamps, NOP, window scale 7: what Linux puts on a SYN.
        let bytes = [
            2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        assert_eq!(
            parse(&bytes).unwrap(),
            vec![
                TcpOption::Mss(1460),
                TcpOption::SackPermitted,
                TcpOption::Timestamps { tsval: 1, tsecr: 0 },
                TcpOption::Nop,
                TcpOption::WindowScale(7),
            ]
        );
    }

    #[test]
    fn eol_ends_the_list() {
        assert_eq!(
            parse(&[1, 0, 2, 4, 0, 0]).unwrap(),
            vec![TcpOption::Nop],
            "bytes after EOL are padding"
        );
    }

    #[test]
    fn unknown_kinds_are_skipped_by_length() {
        assert_eq!(
            parse(&[30, 4, 0xaa, 0xbb, 1]).unwrap(),
            vec![
                TcpOption::Unknown {
                    kind: 30,
                    data: vec![0xaa, 0xbb]
                },
                TcpOption::Nop
            ]
        );
    }

    #[test]
    fn malformed_lengths_are_rejected() {
        let bad = |kind, offset| Err(WireError::BadOption { kind, offset });
        assert_eq!(parse(&[2]), bad(2, 0), "length octet missing");
        assert_eq!(parse(&[1, 30, 1]), bad(30, 1), "length below 2");
        assert_eq!(parse(&[30, 5, 0, 0]), bad(30, 0), "runs past the end");
        assert_eq!(parse(&[2, 3, 0]), bad(2, 0), "MSS must be 4 long");
        assert_eq!(
            parse(&[3, 4, 0, 0]),
            bad(3, 0),
            "window scale must be 3 long"
        );
        assert_eq!(
            parse(&[4, 3, 0]),
            bad(4, 0),
            "SACK-permitted must be 2 long"
        );
        assert_eq!(parse(&[5, 2]), bad(5, 0), "SACK needs a block");
        assert_eq!(
            parse(&[5, 6, 0, 0, 0, 0]),
            bad(5, 0),
            "SACK blocks are 8 long"
        );
        assert_eq!(
            parse(&[8, 8, 0, 0, 0, 0, 0, 0]),
            bad(8, 0),
            "timestamps are 10 long"
        );
    }

    #[test]
    fn emit_refuses_what_parse_could_not_return() {
        let mut out = Vec::new();
        assert!(emit(&[TcpOption::Sack(vec![])], &mut out).is_err());
        assert!(emit(
            &[TcpOption::Unknown {
                kind: 2,
                data: vec![0, 0]
            }],
            &mut out
        )
        .is_err());
        assert!(emit(
            &[TcpOption::Unknown {
                kind: 1,
                data: vec![]
            }],
            &mut out
        )
        .is_err());
    }
}
