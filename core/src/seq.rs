//! Sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 §3.4).
//!
//! This module owns the arithmetic on sequence numbers and nothing else. Every operation
//! wraps; none can panic.
//!
//! RFC 9293 §3.4: "It is essential to remember that the actual sequence number space is finite,
//! though very large. This space ranges from 0 to 2^32 - 1. Since the space is finite, all
//! arithmetic dealing with sequence numbers must be performed modulo 2^32."
//!
//! Ordering is defined only between numbers less than half the space apart: `a < b` when the
//! distance from `a` forward to `b` lies in `1..2^31`. Two numbers exactly 2^31 apart are
//! unordered (neither is less than the other), which keeps `lt` antisymmetric everywhere.
//! For that reason `SeqNum` implements neither `PartialOrd` nor `Ord`: the relation is not
//! transitive across the whole space, and a sort by it would be meaningless.

use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// Half the sequence space: the largest distance over which two numbers are ordered is one less.
const HALF: u32 = 1 << 31;

/// A TCP sequence number (or acknowledgment number), compared modulo 2^32.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// The raw 32-bit value.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The distance from `self` forward to `later`, modulo 2^32 (`later - self`).
    ///
    /// This is the number of octets of sequence space from `self` up to (not including) `later`.
    #[must_use]
    pub const fn distance_to(self, later: SeqNum) -> u32 {
        later.0.wrapping_sub(self.0)
    }

    /// `self < other` in sequence space: `other` lies 1..2^31 ahead of `self`.
    #[must_use]
    pub const fn lt(self, other: SeqNum) -> bool {
        let d = self.distance_to(other);
        d != 0 && d < HALF
    }

    /// `self =< other` in sequence space.
    #[must_use]
    pub const fn le(self, other: SeqNum) -> bool {
        self.0 == other.0 || self.lt(other)
    }

    /// `self > other` in sequence space.
    #[must_use]
    pub const fn gt(self, other: SeqNum) -> bool {
        other.lt(self)
    }

    /// `self >= other` in sequence space.
    #[must_use]
    pub const fn ge(self, other: SeqNum) -> bool {
        other.le(self)
    }

    /// `start =< self < end`, the half-open interval used by the acceptability tests of
    /// RFC 9293 §3.10.7.4. An empty interval (`start == end`) contains nothing.
    #[must_use]
    pub const fn in_window(self, start: SeqNum, end: SeqNum) -> bool {
        start.distance_to(self) < start.distance_to(end)
    }

    /// The later of two numbers in sequence space (`self` when they are unordered).
    #[must_use]
    pub const fn max(self, other: SeqNum) -> SeqNum {
        if self.lt(other) {
            other
        } else {
            self
        }
    }

    /// The earlier of two numbers in sequence space (`self` when they are unordered).
    #[must_use]
    pub const fn min(self, other: SeqNum) -> SeqNum {
        if other.lt(self) {
            other
        } else {
            self
        }
    }
}

impl Add<u32> for SeqNum {
    type Output = SeqNum;
    /// Advances by a length, wrapping at 2^32.
    fn add(self, len: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(len))
    }
}

impl AddAssign<u32> for SeqNum {
    fn add_assign(&mut self, len: u32) {
        self.0 = self.0.wrapping_add(len);
    }
}

impl Sub<u32> for SeqNum {
    type Output = SeqNum;
    /// Steps back by a length, wrapping at 2^32.
    fn sub(self, len: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(len))
    }
}

impl Sub<SeqNum> for SeqNum {
    type Output = i64;
    /// The signed distance `self - earlier`, interpreted within half the space:
    /// positive when `self` is after `earlier`, in `-2^31..2^31`.
    fn sub(self, earlier: SeqNum) -> i64 {
        i64::from(self.0.wrapping_sub(earlier.0) as i32)
    }
}

impl From<u32> for SeqNum {
    fn from(v: u32) -> Self {
        SeqNum(v)
    }
}

impl fmt::Debug for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SeqNum({})", self.0)
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wraps_at_two_to_the_32() {
        let top = SeqNum(u32::MAX);
        assert_eq!(top + 1, SeqNum(0));
        assert_eq!(SeqNum(0) - 1, top);
        assert!(top.lt(SeqNum(0)));
        assert!(SeqNum(0).gt(top));
        assert_eq!(top.distance_to(SeqNum(5)), 6);
        assert_eq!(SeqNum(5) - top, 6);
        assert_eq!(top - SeqNum(5), -6);
    }

    #[test]
    fn numbers_half_the_space_apart_are_unordered() {
        let a = SeqNum(7);
        let b = a + HALF;
        assert!(!a.lt(b) && !b.lt(a));
        assert!(!a.le(b) && !b.le(a));
        assert!(a.lt(a + (HALF - 1)));
        assert!((a + (HALF + 1)).lt(a));
    }

    #[test]
    fn window_membership_is_half_open() {
        let s = SeqNum(u32::MAX - 1);
        let e = s + 4;
        assert!(s.in_window(s, e));
        assert!((s + 3).in_window(s, e));
        assert!(!e.in_window(s, e));
        assert!(!(s - 1).in_window(s, e));
        assert!(!s.in_window(s, s), "an empty window holds nothing");
    }

    proptest! {
        #[test]
        fn lt_is_antisymmetric(a: u32, b: u32) {
            let (a, b) = (SeqNum(a), SeqNum(b));
            prop_assert!(!(a.lt(b) && b.lt(a)));
            prop_assert_eq!(a.lt(b), b.gt(a));
            prop_assert_eq!(a.le(b) && b.le(a), a == b);
        }

        #[test]
        fn ordering_is_consistent_within_half_the_space(a: u32, d in 1u32..HALF) {
            let a = SeqNum(a);
            let b = a + d;
            prop_assert!(a.lt(b));
            prop_assert!(!b.lt(a));
            prop_assert_eq!(a.distance_to(b), d);
            prop_assert_eq!(b - a, i64::from(d));
            prop_assert_eq!(a.max(b), b);
            prop_assert_eq!(a.min(b), a);
        }

        #[test]
        fn ordering_is_transitive_inside_a_half_space_window(
            base: u32, x in 0u32..HALF, y in 0u32..HALF, z in 0u32..HALF
        ) {
            // Any three numbers inside one window of less than 2^31 compare as their offsets do.
            let (p, q, r) = (SeqNum(base) + x, SeqNum(base) + y, SeqNum(base) + z);
            prop_assert_eq!(p.lt(q), x < y);
            if p.lt(q) && q.lt(r) {
                prop_assert!(p.lt(r));
            }
        }

        #[test]
        fn add_then_distance_round_trips(a: u32, d: u32) {
            let a = SeqNum(a);
            prop_assert_eq!(a.distance_to(a + d), d);
            prop_assert_eq!((a + d) - d, a);
        }

        #[test]
        fn in_window_matches_offsets(start: u32, len: u32, off: u32) {
            let s = SeqNum(start);
            prop_assert_eq!((s + off).in_window(s, s + len), off < len);
        }
    }
}
