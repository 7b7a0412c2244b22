//! What the wire has shown of each side of each connection: the variables a passive observer
//! rebuilds from the segments alone, as they leave their sender and as they arrive, never from
//! a stack's internals.
//!
//! This module owns [`Views`], updated once per segment sent and once per segment arriving.
//! Coverage classifies each arriving segment against its receiver's side (`coverage`); the wire
//! oracles check each leaving segment against its sender's side and its peer's (`wire`).

use std::net::SocketAddrV4;

use synack_core::wire::Flags;
use synack_core::SeqNum;

use crate::net::Summary;

/// One side of a connection, as the wire shows it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Side {
    /// Its ISN, from its SYN.
    pub iss: Option<SeqNum>,
    /// It has sent its SYN.
    pub syn: bool,
    /// The MSS its SYN announced (`None`, with `syn`, when the SYN carried none).
    pub mss: Option<u16>,
    /// The window scale shift its SYN announced (RFC 7323 §2.2).
    pub wscale: Option<u8>,
    /// SND.UNA: the first of its sequence numbers not yet acknowledged by an ACK that reached
    /// it.
    pub snd_una: Option<SeqNum>,
    /// SND.NXT: one past the last sequence number it sent (SYN and FIN count).
    pub snd_nxt: Option<SeqNum>,
    /// RCV.NXT: the ACK of the latest segment it sent.
    pub rcv_nxt: Option<SeqNum>,
    /// RCV.WND: the window of the latest segment it sent.
    pub rcv_wnd: u32,
    /// One past the highest data octet it has sent.
    pub data_end: Option<SeqNum>,
    /// The largest right edge (SEG.ACK + SEG.WND, scaled) its peer offered in segments that
    /// reached it.
    pub edge: Option<SeqNum>,
    /// The right edge SND.WL2 + SND.WND of the window it took last, by the rule of §3.10.7.4
    /// (§3.8.6.2.1's usable window runs up to this edge).
    pub wnd_edge: Option<SeqNum>,
    /// SND.WL1: the SEQ of the segment its window came from.
    pub wl1: SeqNum,
    /// SND.WL2: the ACK of the segment its window came from.
    pub wl2: SeqNum,
    /// Max(SND.WND): the largest window, scaled, its peer offered in segments that reached it.
    pub max_wnd: u32,
    /// The sequence number of the FIN it sent, if it sent one.
    pub fin: Option<SeqNum>,
}

/// A connection's key: its two sockets, the lower first.
type Key = (SocketAddrV4, SocketAddrV4);

/// The sides of every connection of a run, each with what a user of the views keeps beside it
/// (`J`: the wire oracles keep their judgments of each side there).
#[derive(Debug)]
pub struct Views<J> {
    /// A run has few connections and most segments belong to the one before, so a list
    /// searched from the last one used serves better than a map.
    conns: Vec<(Key, [Side; 2], [J; 2])>,
    last: usize,
}

impl<J> Default for Views<J> {
    fn default() -> Self {
        Views {
            conns: Vec::new(),
            last: 0,
        }
    }
}

/// The connection between `a` and `b`, and which side of it `a` is.
pub fn key(a: SocketAddrV4, b: SocketAddrV4) -> (Key, usize) {
    if a <= b {
        ((a, b), 0)
    } else {
        ((b, a), 1)
    }
}

impl<J: Default> Views<J> {
    /// The two sides of `s`'s connection, what is kept beside them, and which of them is
    /// `s`'s sender.
    pub fn of(&mut self, s: &Summary) -> (&mut [Side; 2], &mut [J; 2], usize) {
        let (k, from) = key(s.src, s.dst);
        let i = self.find(k);
        let (_, sides, kept) = &mut self.conns[i];
        (sides, kept, from)
    }

    /// The connection between `a` and `b`, if the wire has shown it, and which side `a` is.
    pub fn between(
        &mut self,
        a: SocketAddrV4,
        b: SocketAddrV4,
    ) -> Option<(&mut [Side; 2], &mut [J; 2], usize)> {
        let (k, me) = key(a, b);
        let i = self.conns.iter().position(|(c, _, _)| *c == k)?;
        let (_, sides, kept) = &mut self.conns[i];
        Some((sides, kept, me))
    }

    /// Every connection: its sockets (the lower first), sides and what is kept beside them.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &[Side; 2], &[J; 2])> {
        self.conns.iter().map(|(k, s, j)| (k, s, j))
    }

    fn find(&mut self, k: Key) -> usize {
        if self.conns.get(self.last).is_none_or(|(c, _, _)| *c != k) {
            self.last = match self.conns.iter().position(|(c, _, _)| *c == k) {
                Some(i) => i,
                None => {
                    self.conns.push((k, Default::default(), Default::default()));
                    self.conns.len() - 1
                }
            };
        }
        self.last
    }
}

/// `s`, a SYN, leaves side `me`: what it announces. A SYN with another ISS begins a new
/// incarnation of this side: its view starts afresh, and so does what its peer knew of its
/// sequence space (RCV.NXT) and was offered by it (the right edge). The peer's own SYN and
/// sequence numbers stand: in RFC 793 Figure 9 only the side that returned to LISTEN starts
/// again.
pub fn syn_sent(conn: &mut [Side; 2], me: usize, s: &Summary) {
    if conn[me].iss != Some(s.seq) {
        conn[me] = Side::default();
        conn[1 - me].rcv_nxt = None;
        conn[1 - me].edge = None;
        conn[1 - me].wnd_edge = None;
        conn[1 - me].max_wnd = 0;
    }
    let side = &mut conn[me];
    side.iss = Some(s.seq);
    side.syn = true;
    side.mss = s.options.mss;
    side.wscale = s.options.window_scale;
}

/// `s` left side `me` (after its SYN, if any, was taken by [`syn_sent`]).
pub fn sent(conn: &mut [Side; 2], me: usize, s: &Summary) {
    if s.has(Flags::RST) {
        return;
    }
    let v = &mut conn[me];
    let end = s.end();
    if v.snd_nxt.is_none_or(|n| n.lt(end)) {
        v.snd_nxt = Some(end);
    }
    if v.snd_una.is_none() {
        v.snd_una = Some(s.seq);
    }
    if s.has(Flags::ACK) {
        v.rcv_nxt = Some(s.ack);
    }
    v.rcv_wnd = u32::from(s.window);
    if s.len > 0 {
        let data_end = s.seq + u32::from(s.has(Flags::SYN)) + s.len;
        v.data_end = Some(v.data_end.map_or(data_end, |e| e.max(data_end)));
    }
    if s.has(Flags::FIN) {
        v.fin = Some(end - 1);
    }
}

/// `s` reached its receiver, side `1 - from`, intact: the acknowledgment it carries and the
/// window it offers.
pub fn arrived(conn: &mut [Side; 2], from: usize, s: &Summary) {
    if !s.has(Flags::ACK) || s.has(Flags::RST) {
        return;
    }
    let sender_scale = conn[from].wscale;
    if !acceptable(&conn[1 - from], s) {
        return;
    }
    let v = &mut conn[1 - from];
    let ack = s.ack;
    // §3.10.7.4: only an ACK with SND.UNA =< SEG.ACK =< SND.NXT moves SND.UNA or updates the
    // window; any other is a duplicate, or acknowledges what was never sent.
    if !(v.snd_una.is_none_or(|u| u.le(ack)) && v.snd_nxt.is_some_and(|n| ack.le(n))) {
        return;
    }
    v.snd_una = Some(ack);
    // RFC 7323 §2.2: the window field of a SYN is never scaled; the others are, by the
    // sender's shift, once both SYNs carried the option.
    let shift = match (sender_scale, v.wscale) {
        (Some(shift), Some(_)) if !s.has(Flags::SYN) => u32::from(shift.min(14)),
        _ => 0,
    };
    let wnd = u32::from(s.window) << shift;
    let edge = ack + wnd;
    v.edge = Some(v.edge.map_or(edge, |e| e.max(edge)));
    // §3.10.7.4 "Fifth": "If SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK),
    // set SND.WND <- SEG.WND, set SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK."
    if v.wnd_edge.is_none() || v.wl1.lt(s.seq) || (v.wl1 == s.seq && v.wl2.le(ack)) {
        (v.wnd_edge, v.wl1, v.wl2) = (Some(edge), s.seq, ack);
    }
    v.max_wnd = v.max_wnd.max(wnd);
}

/// §3.10.7.4, first check: whether `s` may be acceptable to `receiver` by its sequence
/// number. A synchronized receiver drops an unacceptable segment after acknowledging it, and
/// never reads its ACK field. The wire shows a RCV.NXT (the receiver's latest ACK) that may lag
/// the receiver's own, and a window it may have opened since, so only what lies wholly before
/// that RCV.NXT is surely unacceptable: data all of which was acknowledged, or a segment
/// without data from before it (a delayed copy of an older ACK). Before the receiver has
/// acknowledged anything, every segment is taken.
pub fn acceptable(receiver: &Side, s: &Summary) -> bool {
    let Some(rcv_nxt) = receiver.rcv_nxt else {
        return true;
    };
    if s.has(Flags::SYN) {
        return true;
    }
    match s.seg_len() {
        0 => rcv_nxt.le(s.seq),
        len => rcv_nxt.lt(s.seq + len),
    }
}
