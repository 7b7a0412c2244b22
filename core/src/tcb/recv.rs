//! The receive side of a connection: in-order data waiting for the user, and out-of-order data
//! held for reassembly (RFC 9293 §3.10.7.4, SHLD-31: "Segments with higher beginning sequence
//! numbers SHOULD be held for later processing").
//!
//! This module owns the bytes. Offsets are 64-bit stream offsets (octets since the peer's SYN),
//! so that they never wrap; the TCB maps sequence numbers onto them. Memory is bounded by the
//! caller, which only inserts data inside the window it advertised, and the window never
//! exceeds the free space.

use std::collections::{BTreeMap, VecDeque};

#[derive(Clone, Debug)]
pub(crate) struct RecvBuffer {
    /// In-order data not yet read by the user.
    ready: VecDeque<u8>,
    /// Stream offset of the next in-order octet (RCV.NXT as an offset).
    next: u64,
    /// Out-of-order data, keyed by stream offset; entries never overlap or touch.
    held: BTreeMap<u64, Vec<u8>>,
    held_bytes: usize,
    capacity: usize,
}

impl RecvBuffer {
    pub(crate) fn new(capacity: usize) -> Self {
        RecvBuffer {
            ready: VecDeque::new(),
            next: 0,
            held: BTreeMap::new(),
            held_bytes: 0,
            capacity,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// In-order octets waiting for the user.
    pub(crate) fn ready_len(&self) -> usize {
        self.ready.len()
    }

    pub(crate) fn held_len(&self) -> usize {
        self.held_bytes
    }

    /// Free space beyond the in-order data: the most the window may offer.
    pub(crate) fn free(&self) -> usize {
        self.capacity.saturating_sub(self.ready.len())
    }

    /// Stores `data` found at stream offset `at` (which is at or after `self.next` and ends
    /// within the window) and moves whatever became contiguous into the in-order queue.
    /// Returns how many octets became in order.
    pub(crate) fn insert(&mut self, at: u64, data: &[u8]) -> usize {
        let end = at + data.len() as u64;
        if end <= self.next || data.is_empty() {
            return 0;
        }
        // Trim what is already in order.
        let (mut at, data) = if at < self.next {
            let skip = (self.next - at) as usize;
            (self.next, &data[skip..])
        } else {
            (at, data)
        };
        // The common case, in order with nothing held: straight into the in-order queue.
        if at == self.next && self.held.is_empty() {
            self.ready.extend(data);
            self.next = end;
            return data.len();
        }
        // Insert the parts not already held, piece by piece between held entries.
        let overlapping: Vec<(u64, u64)> = self
            .held
            .range(..end)
            .rev()
            .take_while(|(&k, v)| k + v.len() as u64 > at)
            .map(|(&k, v)| (k, k + v.len() as u64))
            .collect();
        let mut gaps = Vec::new();
        for (k, kend) in overlapping.into_iter().rev() {
            if k > at {
                gaps.push((at, k.min(end)));
            }
            at = at.max(kend);
        }
        if at < end {
            gaps.push((at, end));
        }
        let base = end - data.len() as u64;
        for (s, e) in gaps {
            let piece = &data[(s - base) as usize..(e - base) as usize];
            self.held_bytes += piece.len();
            self.held.insert(s, piece.to_vec());
        }
        self.drain_contiguous()
    }

    fn drain_contiguous(&mut self) -> usize {
        let mut moved = 0;
        while let Some(entry) = self.held.first_entry() {
            if *entry.key() != self.next {
                break;
            }
            let bytes = entry.remove();
            self.held_bytes -= bytes.len();
            self.next += bytes.len() as u64;
            moved += bytes.len();
            self.ready.extend(bytes);
        }
        moved
    }

    /// Copies up to `buf.len()` in-order octets to the user.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.ready.len());
        let (a, b) = self.ready.as_slices();
        let from_a = n.min(a.len());
        buf[..from_a].copy_from_slice(&a[..from_a]);
        buf[from_a..n].copy_from_slice(&b[..n - from_a]);
        self.ready.drain(..n);
        n
    }

    /// Stream offset of the next in-order octet.
    pub(crate) fn next_offset(&self) -> u64 {
        self.next
    }

    /// Advances past a FIN, which occupies one octet of sequence space and no buffer.
    pub(crate) fn skip_fin(&mut self) {
        self.next += 1;
    }

    /// Discards everything (on reset or abort).
    pub(crate) fn clear(&mut self) {
        self.ready.clear();
        self.held.clear();
        self.held_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_pieces_reassemble_with_overlaps_trimmed() {
        let mut r = RecvBuffer::new(100);
        assert_eq!(r.insert(4, b"efgh"), 0);
        assert_eq!(
            r.insert(2, b"cdef"),
            0,
            "overlap with the held piece is trimmed"
        );
        assert_eq!(r.held_len(), 6);
        assert_eq!(r.insert(0, b"abc"), 8);
        let mut out = [0u8; 16];
        let n = r.read(&mut out);
        assert_eq!(&out[..n], b"abcdefgh");
        assert_eq!(
            r.insert(3, b"defghij"),
            2,
            "already-delivered octets are trimmed"
        );
        let n = r.read(&mut out);
        assert_eq!(&out[..n], b"ij");
        assert_eq!(r.held_len(), 0);
    }

    #[test]
    fn a_piece_spanning_several_held_pieces_fills_only_the_gaps() {
        let mut r = RecvBuffer::new(100);
        r.insert(2, b"c");
        r.insert(5, b"f");
        r.insert(1, b"bXdeYg");
        assert_eq!(r.held_len(), 6);
        r.insert(0, b"a");
        let mut out = [0u8; 16];
        let n = r.read(&mut out);
        assert_eq!(&out[..n], b"abcdefg", "held octets win over later copies");
    }
}
