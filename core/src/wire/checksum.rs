//! The Internet checksum (RFC 1071) and the TCP pseudo-header of RFC 9293 §3.1.
//!
//! This module owns the one's-complement arithmetic shared by the IPv4 header checksum and the
//! TCP checksum. It never allocates.

use core::net::Ipv4Addr;

/// IP protocol number of TCP.
pub const PROTOCOL_TCP: u8 = 6;

/// A running one's-complement sum of 16-bit big-endian words.
#[derive(Clone, Copy, Debug, Default)]
pub struct Checksum {
    sum: u64,
    /// An odd byte carried over from the previous `add`, as the high byte of a word.
    odd: Option<u8>,
}

impl Checksum {
    /// An empty sum.
    #[must_use]
    pub const fn new() -> Checksum {
        Checksum { sum: 0, odd: None }
    }

    /// Adds bytes; a trailing odd byte is paired with the first byte of the next call, so the
    /// result is the same however a message is split.
    pub fn add(&mut self, mut bytes: &[u8]) -> &mut Checksum {
        if let Some(hi) = self.odd.take() {
            match bytes.split_first() {
                Some((&lo, rest)) => {
                    self.sum += u64::from(u16::from_be_bytes([hi, lo]));
                    bytes = rest;
                }
                None => {
                    self.odd = Some(hi);
                    return self;
                }
            }
        }
        // RFC 1071 §2: the sum may be formed over wider words in a wider accumulator, folded
        // at the end (C, "parallel summation"), and in either byte order (B, "byte order
        // independence"): the little-endian sum of 32-bit words, folded to 16 bits, is the
        // big-endian 16-bit sum with its octets swapped (2^16 ≡ 1 and 256 × 256 ≡ 1 modulo
        // 2^16 - 1). The words are independent, so the compiler sums several at once.
        // Eight octets are read at once and their two 32-bit halves added, which the compiler
        // turns into wide vector additions; each adds less than 2^33, so a u64 cannot
        // overflow on any segment.
        let mut octs = bytes.chunks_exact(8);
        let mut wide: u64 = (&mut octs)
            .map(|o| {
                let x = u64::from_le_bytes([o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]]);
                (x & 0xffff_ffff) + (x >> 32)
            })
            .sum();
        let mut quads = octs.remainder().chunks_exact(4);
        for q in &mut quads {
            wide += u64::from(u32::from_le_bytes([q[0], q[1], q[2], q[3]]));
        }
        let mut folded = (wide & 0xffff_ffff) + (wide >> 32);
        while folded > 0xffff {
            folded = (folded & 0xffff) + (folded >> 16);
        }
        self.sum += u64::from((folded as u16).swap_bytes());
        let mut words = quads.remainder().chunks_exact(2);
        for w in &mut words {
            self.sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
        }
        if let [last] = words.remainder() {
            self.odd = Some(*last);
        }
        self
    }

    /// Adds one 16-bit word.
    pub fn add_u16(&mut self, word: u16) -> &mut Checksum {
        self.add(&word.to_be_bytes())
    }

    /// RFC 9293 §3.1: the 96-bit pseudo-header "conceptually prefixed to the TCP header":
    /// source address, destination address, zero, PTCL, TCP length.
    pub fn add_pseudo_header(&mut self, src: Ipv4Addr, dst: Ipv4Addr, tcp_len: u16) -> &mut Self {
        self.add(&src.octets())
            .add(&dst.octets())
            .add(&[0, PROTOCOL_TCP])
            .add_u16(tcp_len)
    }

    /// The one's complement of the one's-complement sum: the value placed in a checksum field.
    /// A message whose checksum field holds this value sums to `0xffff`, and `finish` of it is 0.
    #[must_use]
    pub fn finish(&self) -> u16 {
        let mut sum = self.sum;
        if let Some(hi) = self.odd {
            // RFC 9293 §3.1: an odd final octet "is padded on the right with zeros".
            sum += u64::from(u16::from_be_bytes([hi, 0]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_worked_example() {
        // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2; the checksum is its complement.
        let mut c = Checksum::new();
        c.add(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
        assert_eq!(c.finish(), !0xddf2);
    }

    #[test]
    fn the_wide_sum_is_the_sum_of_16_bit_words_at_every_length() {
        let data: Vec<u8> = (0u32..300)
            .map(|i| (i.wrapping_mul(151) >> 2) as u8 ^ 0xa5)
            .collect();
        for len in 0..=data.len() {
            let mut naive: u64 = data[..len]
                .chunks(2)
                .map(|w| u64::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
                .sum();
            while naive > 0xffff {
                naive = (naive & 0xffff) + (naive >> 16);
            }
            let mut c = Checksum::new();
            c.add(&data[..len]);
            assert_eq!(c.finish(), !(naive as u16), "length {len}");
        }
    }

    #[test]
    fn split_points_do_not_change_the_sum() {
        let data: Vec<u8> = (0u8..=200).collect();
        let mut whole = Checksum::new();
        whole.add(&data);
        for cut in [0, 1, 2, 3, 99, 100, 200, 201] {
            let mut parts = Checksum::new();
            parts.add(&data[..cut]).add(&data[cut..]);
            assert_eq!(parts.finish(), whole.finish(), "cut at {cut}");
        }
    }
}
