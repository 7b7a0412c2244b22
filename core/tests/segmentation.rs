//! Segment sizes and windows: the MSS option (RFC 9293 §3.7.1), the receive window advertised
//! from free space, receiver-side silly-window avoidance (RFC 9293 §3.8.6.2.2, RFC 1122
//! §4.2.3.3), and out-of-order data held within the window only.

mod net;

use net::*;
use std::time::Duration;
use synack_core::wire::{Flags, Ipv4Header, Packet, TcpHeader, TcpOption};
use synack_core::{Config, Endpoint, Instant, SeqNum, SocketId, State};

fn data_lengths(packets: &[Vec<u8>]) -> Vec<usize> {
    packets
        .iter()
        .filter_map(|p| Packet::parse(p).ok())
        .map(|p| p.payload.len())
        .filter(|n| *n > 0)
        .collect()
}

/// A connected to a hand-driven peer at B: the SYN,ACK is built by the test, so it can carry
/// any MSS option, or none.
fn connect_to_forged_peer(peer_mss: Option<u16>, peer_window: u16) -> (Endpoint, SocketId) {
    let mut a = endpoint(A, 100, config());
    let t = Instant::ZERO;
    let ca = a.connect(t, b_sock(), Some(A_PORT)).unwrap();
    let syn = one(&mut a, t);
    let parsed = Packet::parse(&syn).unwrap();
    assert_eq!(
        parsed.tcp.options,
        vec![TcpOption::Mss(1460)],
        "our SYN announces our MSS"
    );
    let options = peer_mss
        .map(|m| vec![TcpOption::Mss(m)])
        .unwrap_or_default();
    let mut tcp = TcpHeader::new(
        B_PORT,
        A_PORT,
        SeqNum(300),
        SeqNum(101),
        Flags::SYN | Flags::ACK,
    )
    .with_options(options);
    tcp.window = peer_window;
    let synack = Packet {
        ip: Ipv4Header::new(B, A),
        tcp,
        payload: &[],
    }
    .to_bytes()
    .unwrap();
    a.handle_packet(t, &synack);
    assert_eq!(state(&a, ca), State::Established);
    out(&mut a, t);
    (a, ca)
}

#[test]
fn without_an_mss_option_segments_are_at_most_536_octets() {
    let (mut a, ca) = connect_to_forged_peer(None, 60_000);
    a.send(Instant::ZERO, ca, &[0; 3000]).unwrap();
    assert_eq!(
        data_lengths(&out(&mut a, Instant::ZERO)),
        [536, 536, 536, 536, 536, 320]
    );
    assert_eq!(a.status(ca).unwrap().snd_mss, 536);
}

#[test]
fn the_peers_mss_option_is_honoured() {
    let (mut a, ca) = connect_to_forged_peer(Some(100), 60_000);
    a.send(Instant::ZERO, ca, &[0; 250]).unwrap();
    assert_eq!(data_lengths(&out(&mut a, Instant::ZERO)), [100, 100, 50]);
}

#[test]
fn a_larger_peer_mss_is_capped_by_our_own() {
    let (mut a, ca) = connect_to_forged_peer(Some(9000), 60_000);
    a.send(Instant::ZERO, ca, &[0; 3000]).unwrap();
    assert_eq!(data_lengths(&out(&mut a, Instant::ZERO)), [1460, 1460, 80]);
}

#[test]
fn the_send_window_limits_what_is_in_flight() {
    let (mut a, ca) = connect_to_forged_peer(Some(1000), 2000);
    a.send(Instant::ZERO, ca, &[0; 6000]).unwrap();
    assert_eq!(data_lengths(&out(&mut a, Instant::ZERO)), [1000, 1000]);
}

/// RFC 9293 §3.8.6.2.1 (MUST-38): with more queued than the window takes, the 500 octets left
/// in a 2500-octet window are under one MSS and under half the largest window: they wait for
/// the override timeout, not a moment less.
#[test]
fn a_silly_remainder_of_the_window_waits_for_the_override_timeout() {
    let (mut a, ca) = connect_to_forged_peer(Some(1000), 2500);
    a.send(Instant::ZERO, ca, &[0; 6000]).unwrap();
    assert_eq!(data_lengths(&out(&mut a, Instant::ZERO)), [1000, 1000]);
    let at = Instant::ZERO + Duration::from_millis(200);
    assert_eq!(a.poll_timeout(), Some(at));
    a.handle_timeout(at - Duration::from_millis(1));
    assert!(data_lengths(&out(&mut a, at)).is_empty());
    a.handle_timeout(at);
    assert_eq!(data_lengths(&out(&mut a, at)), [500]);
}

/// What the window allows goes at once when it is all that is queued (rule (2)), or at least
/// half the largest window the peer offered (rule (3)).
#[test]
fn a_short_segment_goes_at_once_when_it_ends_the_queue_or_fills_half_the_window() {
    let (mut a, ca) = connect_to_forged_peer(Some(1000), 2500);
    a.send(Instant::ZERO, ca, &[0; 2300]).unwrap();
    assert_eq!(data_lengths(&out(&mut a, Instant::ZERO)), [1000, 1000, 300]);
    let (mut a, ca) = connect_to_forged_peer(Some(1460), 1000);
    a.send(Instant::ZERO, ca, &[0; 6000]).unwrap();
    assert_eq!(data_lengths(&out(&mut a, Instant::ZERO)), [1000]);
}

/// B with a 4000-octet receive buffer, ESTABLISHED with A; returns the pair and B's socket.
fn small_receiver() -> (Endpoint, SocketId, Endpoint, SocketId) {
    let mut a = endpoint(A, 100, config());
    let mut b = endpoint(
        B,
        300,
        Config {
            recv_buffer: 4000,
            ..config()
        },
    );
    let t = Instant::ZERO;
    let l = b.listen(B_PORT).unwrap();
    let ca = a.connect(t, b_sock(), Some(A_PORT)).unwrap();
    deliver(&mut a, &mut b, t);
    deliver(&mut b, &mut a, t);
    deliver(&mut a, &mut b, t);
    let cb = b.accept(l).unwrap().unwrap();
    (a, ca, b, cb)
}

fn window_of(packet: &[u8]) -> u16 {
    Packet::parse(packet).unwrap().tcp.window
}

#[test]
fn the_window_is_advertised_from_free_space_and_opens_without_silly_increments() {
    let (mut a, ca, mut b, cb) = small_receiver();
    let t = Instant::ZERO;
    assert_eq!(b.status(cb).unwrap().rcv_wnd, 4000);
    // Fill B's buffer: its ACKs close the window.
    a.send(t, ca, &[1; 4000]).unwrap();
    deliver(&mut a, &mut b, t);
    let acks = out(&mut b, t);
    assert_eq!(window_of(acks.last().unwrap()), 0);
    // Reading 100 octets frees too little to move the right edge: min(4000/2, MSS 1460) is the
    // least it may move, so B stays silent.
    assert_eq!(b.recv(cb, &mut [0; 100]).unwrap(), 100);
    assert!(out(&mut b, t).is_empty(), "no window update for 100 octets");
    // Reading up to 1460 freed octets moves it: a window update announces 1460.
    assert_eq!(b.recv(cb, &mut [0; 1360]).unwrap(), 1360);
    let update = one(&mut b, t);
    assert_eq!(show(&update), "<SEQ=301><ACK=4101><CTL=ACK>");
    assert_eq!(window_of(&update), 1460);
}

#[test]
fn out_of_order_data_is_held_only_inside_the_window() {
    let (_, _, mut b, cb) = small_receiver();
    let t = Instant::ZERO;
    let segment = |seq: u32, len: usize| {
        let mut tcp = TcpHeader::new(A_PORT, B_PORT, SeqNum(seq), SeqNum(301), Flags::ACK);
        tcp.window = 8000;
        let payload = vec![seq as u8; len];
        Packet {
            ip: Ipv4Header::new(A, B),
            tcp,
            payload: &payload,
        }
        .to_bytes()
        .unwrap()
    };
    // RCV.NXT is 101 and the window 4000: [101, 4101).
    b.handle_packet(t, &segment(1101, 1000));
    b.handle_packet(t, &segment(3601, 1000)); // 500 octets past the right edge are cut
    b.handle_packet(t, &segment(4101, 100)); // wholly outside: refused
    let st = b.status(cb).unwrap();
    assert_eq!(st.recv_out_of_order, 1000 + 500);
    assert_eq!(st.rcv_nxt, SeqNum(101));
    // The ACKs repeat RCV.NXT: the sender learns what is missing.
    assert!(shows(&out(&mut b, t))
        .iter()
        .all(|s| s == "<SEQ=301><ACK=101><CTL=ACK>"));
    // Filling the gap delivers everything held, in order, with the overlap trimmed.
    b.handle_packet(t, &segment(101, 1500));
    let st = b.status(cb).unwrap();
    assert_eq!(st.rcv_nxt, SeqNum(2101));
    assert_eq!(st.recv_queued, 2000);
    assert_eq!(st.recv_out_of_order, 500);
}
