//! Initial sequence numbers (RFC 9293 §3.4.1).
//!
//! This module owns the ISN generator interface and its default, the keyed function of RFC 6528.
//! It draws no randomness of its own: the key is given by the caller (the simulator derives it
//! from the run's seed).

use core::hash::Hasher;
use core::net::SocketAddrV4;

use siphasher::sip::SipHasher24;

use crate::seq::SeqNum;
use crate::time::Instant;

/// Chooses the ISN of a new connection.
pub trait IsnGenerator {
    /// The ISN for a connection between `local` and `remote`, at `now`.
    fn isn(&mut self, now: Instant, local: SocketAddrV4, remote: SocketAddrV4) -> SeqNum;
}

impl<F: FnMut(Instant, SocketAddrV4, SocketAddrV4) -> SeqNum> IsnGenerator for F {
    fn isn(&mut self, now: Instant, local: SocketAddrV4, remote: SocketAddrV4) -> SeqNum {
        self(now, local, remote)
    }
}

/// RFC 6528 §3: `ISN = M + F(localip, localport, remoteip, remoteport, secretkey)`, where M is
/// "a 4 microsecond timer" (read here from virtual time) and F a keyed hash: SipHash-2-4, which
/// the RFC's "F() MUST NOT be computable from the outside" is met by as long as the key is secret.
#[derive(Clone, Debug)]
pub struct Rfc6528 {
    key: [u8; 16],
}

impl Rfc6528 {
    /// A generator with the given secret key.
    #[must_use]
    pub const fn new(key: [u8; 16]) -> Rfc6528 {
        Rfc6528 { key }
    }
}

impl IsnGenerator for Rfc6528 {
    fn isn(&mut self, now: Instant, local: SocketAddrV4, remote: SocketAddrV4) -> SeqNum {
        let mut h = SipHasher24::new_with_key(&self.key);
        h.write(&local.ip().octets());
        h.write(&local.port().to_be_bytes());
        h.write(&remote.ip().octets());
        h.write(&remote.port().to_be_bytes());
        let f = h.finish() as u32;
        // RFC 6528 §3: M "is a 4 microsecond timer"; it wraps every 4.77 hours.
        let m = (now.as_nanos() / 4_000) as u32;
        SeqNum(m.wrapping_add(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    fn addr(last: u8, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, last), port)
    }

    #[test]
    fn isn_advances_with_the_4us_clock_and_depends_on_the_tuple_and_key() {
        let mut g = Rfc6528::new([7; 16]);
        let a = g.isn(Instant::ZERO, addr(1, 1000), addr(2, 80));
        let b = g.isn(Instant::from_micros(400), addr(1, 1000), addr(2, 80));
        assert_eq!(a.distance_to(b), 100, "M ticks every 4 µs");
        let other_port = g.isn(Instant::ZERO, addr(1, 1001), addr(2, 80));
        assert_ne!(a, other_port);
        let other_key = Rfc6528::new([8; 16]).isn(Instant::ZERO, addr(1, 1000), addr(2, 80));
        assert_ne!(a, other_key);
    }
}
