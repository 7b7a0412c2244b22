//! An off-path attacker (RFC 5961 §1.2): a third party that forges segments into the run's
//! connections, with the connection's sockets and sequence numbers inside and outside the
//! receive window, to see that RFC 5961's mitigations hold and the streams stay intact.
//!
//! This module owns [`Attacker`]: when it strikes and what it forges. It reads the sequence
//! numbers from the wire oracle's views (a real off-path attacker guesses them; the harness
//! stands for one that guessed right, which is when the mitigations matter). What the
//! receivers must do is the wire oracles' to judge (`super::wire`), and a forged octet that
//! reaches an application fails stream integrity.

use std::net::SocketAddrV4;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use synack_core::wire::{Flags, Ipv4Header, Packet, TcpHeader};
use synack_core::{Instant, SeqNum};

/// What the attacker can see of a connection's receiving side: its sockets and what the wire
/// showed of its sequence space.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// The receiver's socket.
    pub to: SocketAddrV4,
    /// Its peer's socket, which the forged segment claims to come from.
    pub from: SocketAddrV4,
    /// The receiver's RCV.NXT and RCV.WND as its last segment showed them.
    pub rcv_nxt: SeqNum,
    /// Its receive window.
    pub rcv_wnd: u32,
    /// The receiver's SND.UNA and SND.NXT.
    pub snd_una: SeqNum,
    /// Its SND.NXT.
    pub snd_nxt: SeqNum,
}

/// The kinds of forged segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forgery {
    /// A RST inside the receive window but not at RCV.NXT: a challenge ACK, no reset
    /// (RFC 5961 §3.2).
    RstInWindow,
    /// A RST outside the receive window: silently dropped (RFC 5961 §3.2).
    RstOutside,
    /// A SYN in a synchronized state: a challenge ACK (RFC 5961 §4.2).
    Syn,
    /// Data at RCV.NXT acknowledging what the receiver never sent: dropped with an ACK
    /// (RFC 9293 §3.10.7.4).
    DataAckAhead,
    /// Data at RCV.NXT acknowledging far behind SND.UNA: dropped with an ACK (RFC 5961 §5.2).
    DataAckBehind,
}

/// The attacker of one run.
#[derive(Debug)]
pub struct Attacker {
    rng: ChaCha8Rng,
    next: Instant,
    every: Duration,
    until: Instant,
}

impl Attacker {
    /// An attacker that strikes about every `every` until `until`, its choices drawn from
    /// `seed`.
    pub fn new(seed: u64, every: Duration, until: Instant) -> Attacker {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(6);
        Attacker {
            next: Instant::ZERO + every,
            rng,
            every,
            until,
        }
    }

    /// When it strikes next, if it still will.
    pub fn next_at(&self) -> Option<Instant> {
        (self.next <= self.until).then_some(self.next)
    }

    /// It strikes at `now`, if due, at one of `targets` (which `pick` orders): the forged
    /// packet, the host index it goes to, and what kind it is.
    pub fn strike(
        &mut self,
        now: Instant,
        targets: &[Target],
    ) -> Option<(Target, Forgery, Vec<u8>)> {
        if now < self.next || self.next > self.until {
            return None;
        }
        let jitter = self.rng.random_range(0..=self.every.as_micros() as u64);
        self.next = now + self.every / 2 + Duration::from_micros(jitter);
        let i = self.rng.random_range(0..targets.len().max(1));
        let kind = [
            Forgery::RstInWindow,
            Forgery::RstOutside,
            Forgery::Syn,
            Forgery::DataAckAhead,
            Forgery::DataAckBehind,
        ][self.rng.random_range(0..5)];
        let r: u32 = self.rng.random();
        let t = *targets.get(i)?;
        let wnd = t.rcv_wnd.max(2);
        let (seq, ack, flags, len) = match kind {
            Forgery::RstInWindow => (t.rcv_nxt + 1 + r % (wnd - 1), SeqNum(0), Flags::RST, 0),
            Forgery::RstOutside => (t.rcv_nxt + wnd + 1 + r % 100_000, SeqNum(0), Flags::RST, 0),
            Forgery::Syn => (t.rcv_nxt + r % wnd, SeqNum(0), Flags::SYN, 0),
            Forgery::DataAckAhead => (
                t.rcv_nxt,
                t.snd_nxt + 1 + r % 100_000,
                Flags::ACK | Flags::PSH,
                1 + (r % 64) as usize,
            ),
            Forgery::DataAckBehind => (
                t.rcv_nxt,
                t.snd_una - (1 << 31) + r % 1000,
                Flags::ACK | Flags::PSH,
                1 + (r % 64) as usize,
            ),
        };
        if kind == Forgery::RstInWindow && t.rcv_wnd < 2 {
            return None;
        }
        let mut tcp = TcpHeader::new(t.from.port(), t.to.port(), seq, ack, flags);
        tcp.window = 8192;
        let payload = vec![0x66; len];
        let bytes = Packet {
            ip: Ipv4Header::new(*t.from.ip(), *t.to.ip()),
            tcp,
            payload: &payload,
        }
        .to_bytes()
        .ok()?;
        Some((t, kind, bytes))
    }
}
