//! RFC 793 §3.4–3.5 figures 7 to 14, played between two endpoints segment by segment.
//!
//! Each test prints its exchange in the figure's notation and compares it, line by line, with
//! the figure. TCP A is on the left, TCP B on the right; `-->` is a segment from A to B, `<--`
//! from B to A; a state is the one its TCP is in after the line.

mod net;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use net::*;
use synack_core::wire::Flags;
use synack_core::{Config, Endpoint, Event, Instant, Profile, SeqNum, SocketId, State};

/// Records lines of a figure: `A-STATE ARROW SEGMENT B-STATE`.
#[derive(Default)]
struct Figure {
    lines: Vec<String>,
}

impl Figure {
    fn line(&mut self, a: State, arrow: &str, segment: &str, b: State) {
        self.lines.push(format!("{a} {arrow} {segment} {b}"));
    }

    fn states(&mut self, a: State, b: State) {
        self.lines.push(format!("{a} {b}"));
    }

    fn note(&mut self, text: &str) {
        self.lines.push(text.to_string());
    }

    fn assert_matches(&self, expected: &[&str]) {
        let got: Vec<&str> = self.lines.iter().map(String::as_str).collect();
        assert_eq!(got, expected, "\ngot:\n  {}\n", self.lines.join("\n  "));
    }
}

/// B's state as a figure shows it: its connection to A if there is one, else its listener.
fn b_state(b: &Endpoint, listener: Option<SocketId>) -> State {
    match conn_to(b, a_sock()) {
        Some(id) => state(b, id),
        None => listener.map_or(State::Closed, |l| state(b, l)),
    }
}

/// An endpoint whose ISNs are `first`, then `second`, then `second` again.
fn endpoint_with_isns(
    addr: std::net::Ipv4Addr,
    first: u32,
    second: u32,
    config: Config,
) -> Endpoint {
    let calls = Rc::new(Cell::new(0u32));
    Endpoint::with_isn(
        config,
        addr,
        Box::new(move |_, _, _| {
            calls.set(calls.get() + 1);
            SeqNum(if calls.get() == 1 { first } else { second })
        }),
    )
}

/// A and B ESTABLISHED with A to send 100 and receive 300 ("send 100, receive 300"), B the
/// other way round; the handshake that got them there is not part of the figure.
fn established(b_config: Config) -> (Endpoint, SocketId, Endpoint, SocketId, Instant) {
    let mut a = endpoint(A, 99, config());
    let mut b = endpoint(B, 299, b_config);
    let t = Instant::ZERO;
    let l = b.listen(B_PORT).unwrap();
    let ca = a.connect(t, b_sock(), Some(A_PORT)).unwrap();
    let syn = one(&mut a, t);
    b.handle_packet(t, &syn);
    let synack = one(&mut b, t);
    a.handle_packet(t, &synack);
    let ack = one(&mut a, t);
    b.handle_packet(t, &ack);
    let cb = b.accept(l).unwrap().expect("established");
    b.close(l).unwrap();
    assert_eq!(
        (state(&a, ca), state(&b, cb)),
        (State::Established, State::Established)
    );
    events(&mut a);
    events(&mut b);
    (a, ca, b, cb, t)
}

#[test]
fn rfc793_figure_7_basic_handshake() {
    let mut fig = Figure::default();
    let t = Instant::ZERO;
    let mut a = endpoint(A, 100, config());
    let mut b = endpoint(B, 300, config());
    let l = b.listen(B_PORT).unwrap();
    fig.states(State::Closed, b_state(&b, Some(l)));

    let ca = a.connect(t, b_sock(), Some(A_PORT)).unwrap();
    let syn = one(&mut a, t);
    b.handle_packet(t, &syn);
    fig.line(state(&a, ca), "-->", &show(&syn), b_state(&b, Some(l)));

    let synack = one(&mut b, t);
    a.handle_packet(t, &synack);
    fig.line(state(&a, ca), "<--", &show(&synack), b_state(&b, Some(l)));

    let ack = one(&mut a, t);
    b.handle_packet(t, &ack);
    fig.line(state(&a, ca), "-->", &show(&ack), b_state(&b, Some(l)));

    a.send(t, ca, b"hello").unwrap();
    let data = one(&mut a, t);
    b.handle_packet(t, &data);
    fig.line(state(&a, ca), "-->", &show(&data), b_state(&b, Some(l)));

    fig.assert_matches(&[
        "CLOSED LISTEN",
        "SYN-SENT --> <SEQ=100><CTL=SYN> SYN-RECEIVED",
        "ESTABLISHED <-- <SEQ=300><ACK=101><CTL=SYN,ACK> SYN-RECEIVED",
        "ESTABLISHED --> <SEQ=101><ACK=301><CTL=ACK> ESTABLISHED",
        // The figure shows no PSH; synack-core pushes every SEND, so its data carries PSH
        // (RFC 9293 §3.9.1).
        "ESTABLISHED --> <SEQ=101><ACK=301><CTL=ACK,PSH><DATA=5> ESTABLISHED",
    ]);
}

#[test]
fn rfc793_figure_8_simultaneous_open() {
    let mut fig = Figure::default();
    let t = Instant::ZERO;
    let mut a = endpoint(A, 100, config());
    let mut b = endpoint(B, 300, config());
    fig.states(State::Closed, State::Closed);

    let ca = a.connect(t, b_sock(), Some(A_PORT)).unwrap();
    let a_syn = one(&mut a, t);
    fig.line(state(&a, ca), "-->", &show(&a_syn), State::Closed);

    let cb = b.connect(t, a_sock(), Some(B_PORT)).unwrap();
    let b_syn = one(&mut b, t);
    a.handle_packet(t, &b_syn);
    fig.line(state(&a, ca), "<--", &show(&b_syn), state(&b, cb));

    b.handle_packet(t, &a_syn);
    fig.note(&format!("{} {}", show(&a_syn), state(&b, cb)));

    let a_synack = one(&mut a, t);
    fig.line(state(&a, ca), "-->", &show(&a_synack), state(&b, cb));

    let b_synack = one(&mut b, t);
    a.handle_packet(t, &b_synack);
    fig.line(state(&a, ca), "<--", &show(&b_synack), state(&b, cb));

    let a_ack = one(&mut a, t);
    b.handle_packet(t, &a_ack);
    fig.line(state(&a, ca), "-->", &show(&a_ack), state(&b, cb));

    fig.assert_matches(&[
        "CLOSED CLOSED",
        "SYN-SENT --> <SEQ=100><CTL=SYN> CLOSED",
        "SYN-RECEIVED <-- <SEQ=300><CTL=SYN> SYN-SENT",
        "<SEQ=100><CTL=SYN> SYN-RECEIVED",
        "SYN-RECEIVED --> <SEQ=100><ACK=301><CTL=SYN,ACK> SYN-RECEIVED",
        "ESTABLISHED <-- <SEQ=300><ACK=101><CTL=SYN,ACK> SYN-RECEIVED",
        "ESTABLISHED --> <SEQ=101><ACK=301><CTL=ACK> ESTABLISHED",
    ]);

    // A's SYN,ACK of line 5, still in flight, reaches B last: B acknowledges its repeated SYN
    // and A takes the ACK without reply.
    b.handle_packet(t, &a_synack);
    let b_ack = one(&mut b, t);
    assert_eq!(show(&b_ack), "<SEQ=301><ACK=101><CTL=ACK>");
    a.handle_packet(t, &b_ack);
    assert!(out(&mut a, t).is_empty());
    assert_eq!(
        (state(&a, ca), state(&b, cb)),
        (State::Established, State::Established)
    );
}

#[test]
fn rfc793_figure_9_recovery_from_old_duplicate_syn() {
    let mut fig = Figure::default();
    let t = Instant::ZERO;
    let mut a = endpoint(A, 100, config());
    let mut b = endpoint_with_isns(B, 300, 400, config());
    let l = b.listen(B_PORT).unwrap();
    fig.states(State::Closed, b_state(&b, Some(l)));

    let ca = a.connect(t, b_sock(), Some(A_PORT)).unwrap();
    let syn = one(&mut a, t);
    fig.line(state(&a, ca), "-->", &show(&syn), b_state(&b, Some(l)));

    let old = forged(a_sock(), b_sock(), 90, 0, Flags::SYN);
    b.handle_packet(t, &old);
    fig.line(
        State::Closed,
        "(duplicate)",
        &show(&old),
        b_state(&b, Some(l)),
    );

    let synack = one(&mut b, t);
    a.handle_packet(t, &synack);
    fig.line(state(&a, ca), "<--", &show(&synack), b_state(&b, Some(l)));

    let rst = one(&mut a, t);
    b.handle_packet(t, &rst);
    fig.line(state(&a, ca), "-->", &show(&rst), b_state(&b, Some(l)));

    b.handle_packet(t, &syn);
    fig.note(&format!("{} {}", show(&syn), b_state(&b, Some(l))));

    let synack = one(&mut b, t);
    a.handle_packet(t, &synack);
    fig.line(state(&a, ca), "<--", &show(&synack), b_state(&b, Some(l)));

    let ack = one(&mut a, t);
    b.handle_packet(t, &ack);
    fig.line(state(&a, ca), "-->", &show(&ack), b_state(&b, Some(l)));

    fig.assert_matches(&[
        "CLOSED LISTEN",
        "SYN-SENT --> <SEQ=100><CTL=SYN> LISTEN",
        "CLOSED (duplicate) <SEQ=90><CTL=SYN> SYN-RECEIVED",
        "SYN-SENT <-- <SEQ=300><ACK=91><CTL=SYN,ACK> SYN-RECEIVED",
        "SYN-SENT --> <SEQ=91><CTL=RST> LISTEN",
        "<SEQ=100><CTL=SYN> SYN-RECEIVED",
        // The figure's line 7 shows A as SYN-SENT, its state before the SYN,ACK arrives; the
        // same moment in Figure 7 (line 3) shows ESTABLISHED, its state after. These lines
        // always show the state after.
        "ESTABLISHED <-- <SEQ=400><ACK=101><CTL=SYN,ACK> SYN-RECEIVED",
        "ESTABLISHED --> <SEQ=101><ACK=401><CTL=ACK> ESTABLISHED",
    ]);
}

fn figure_10(profile: Profile) {
    let mut fig = Figure::default();
    // B's window is small enough that A's new ISN lies outside it, as the figure assumes.
    let b_config = Config {
        profile,
        recv_buffer: 256,
        ..config()
    };
    let (_crashed, _, mut b, cb, t) = established(b_config);
    fig.note("(CRASH) (send 300,receive 100)");
    let mut a = endpoint(
        A,
        400,
        Config {
            profile,
            ..config()
        },
    );
    fig.states(State::Closed, state(&b, cb));

    let ca = a.connect(t, b_sock(), Some(A_PORT)).unwrap();
    let syn = one(&mut a, t);
    b.handle_packet(t, &syn);
    fig.line(state(&a, ca), "-->", &show(&syn), state(&b, cb));

    let ack = one(&mut b, t);
    a.handle_packet(t, &ack);
    fig.line(state(&a, ca), "<--", &show(&ack), state(&b, cb));

    let rst = one(&mut a, t);
    b.handle_packet(t, &rst);
    fig.line(state(&a, ca), "-->", &show(&rst), state(&b, cb));
    assert!(
        events(&mut b).contains(&(cb, Event::Reset)),
        "B's user hears of the reset"
    );

    // A retransmits its SYN when the RTO (1 s) expires.
    let rto = t + Duration::from_secs(1);
    assert_eq!(a.poll_timeout(), Some(rto));
    a.handle_timeout(rto);
    let again = one(&mut a, rto);
    fig.line(state(&a, ca), "-->", &show(&again), state(&b, cb));

    fig.assert_matches(&[
        "(CRASH) (send 300,receive 100)",
        "CLOSED ESTABLISHED",
        "SYN-SENT --> <SEQ=400><CTL=SYN> ESTABLISHED",
        "SYN-SENT <-- <SEQ=300><ACK=100><CTL=ACK> ESTABLISHED",
        "SYN-SENT --> <SEQ=100><CTL=RST> CLOSED",
        "SYN-SENT --> <SEQ=400><CTL=SYN> CLOSED",
    ]);
}

#[test]
fn rfc793_figure_10_half_open_connection_discovery() {
    figure_10(Profile::Rfc9293);
}

#[test]
fn rfc793_figure_10_half_open_connection_discovery_rfc793_profile() {
    figure_10(Profile::Rfc793);
}

#[test]
fn rfc793_figure_11_active_side_causes_half_open_discovery() {
    let mut fig = Figure::default();
    let (_crashed, _, mut b, cb, t) = established(config());
    let mut a = endpoint(A, 400, config());
    fig.note("(CRASH) (send 300,receive 100)");

    b.send(t, cb, b"0123456789").unwrap();
    let data = one(&mut b, t);
    a.handle_packet(t, &data);
    fig.line(State::Closed, "<--", &show(&data), state(&b, cb));

    let rst = one(&mut a, t);
    b.handle_packet(t, &rst);
    fig.line(State::Closed, "-->", &show(&rst), state(&b, cb));

    fig.assert_matches(&[
        "(CRASH) (send 300,receive 100)",
        "CLOSED <-- <SEQ=300><ACK=100><CTL=ACK,PSH><DATA=10> ESTABLISHED",
        "CLOSED --> <SEQ=100><CTL=RST> CLOSED",
    ]);
    assert!(events(&mut b).contains(&(cb, Event::Reset)));
}

#[test]
fn rfc793_figure_12_old_duplicate_syn_initiates_a_reset_on_two_passive_sockets() {
    let mut fig = Figure::default();
    let t = Instant::ZERO;
    let mut a = endpoint(A, 100, config());
    let mut b = endpoint(B, 300, config());
    let la = a.listen(A_PORT).unwrap();
    let lb = b.listen(B_PORT).unwrap();
    fig.states(state(&a, la), b_state(&b, Some(lb)));

    let old = forged(a_sock(), b_sock(), 90, 0, Flags::SYN);
    b.handle_packet(t, &old);
    fig.line(state(&a, la), "...", &show(&old), b_state(&b, Some(lb)));

    let synack = one(&mut b, t);
    a.handle_packet(t, &synack);
    fig.line(state(&a, la), "<--", &show(&synack), b_state(&b, Some(lb)));

    let rst = one(&mut a, t);
    b.handle_packet(t, &rst);
    fig.line(state(&a, la), "-->", &show(&rst), b_state(&b, Some(lb)));

    fig.assert_matches(&[
        "LISTEN LISTEN",
        "LISTEN ... <SEQ=90><CTL=SYN> SYN-RECEIVED",
        "LISTEN <-- <SEQ=300><ACK=91><CTL=SYN,ACK> SYN-RECEIVED",
        "LISTEN --> <SEQ=91><CTL=RST> LISTEN",
    ]);
    assert!(events(&mut b).iter().all(|(_, e)| *e != Event::Incoming));
    assert!(out(&mut b, t).is_empty(), "B has nothing left to send");
}

#[test]
fn rfc793_figure_13_normal_close() {
    let mut fig = Figure::default();
    let (mut a, ca, mut b, cb, t) = established(config());
    fig.states(state(&a, ca), state(&b, cb));

    a.close(ca).unwrap();
    let fin = one(&mut a, t);
    b.handle_packet(t, &fin);
    fig.line(state(&a, ca), "-->", &show(&fin), state(&b, cb));

    let ack = one(&mut b, t);
    a.handle_packet(t, &ack);
    fig.line(state(&a, ca), "<--", &show(&ack), state(&b, cb));

    b.close(cb).unwrap();
    let fin = one(&mut b, t);
    a.handle_packet(t, &fin);
    fig.line(state(&a, ca), "<--", &show(&fin), state(&b, cb));

    let ack = one(&mut a, t);
    b.handle_packet(t, &ack);
    fig.line(state(&a, ca), "-->", &show(&ack), state(&b, cb));

    // 2 MSL with the default MSL of two minutes.
    let two_msl = t + Duration::from_secs(240);
    assert_eq!(a.poll_timeout(), Some(two_msl));
    a.handle_timeout(two_msl);
    fig.states(state(&a, ca), state(&b, cb));

    fig.assert_matches(&[
        "ESTABLISHED ESTABLISHED",
        "FIN-WAIT-1 --> <SEQ=100><ACK=300><CTL=FIN,ACK> CLOSE-WAIT",
        "FIN-WAIT-2 <-- <SEQ=300><ACK=101><CTL=ACK> CLOSE-WAIT",
        "TIME-WAIT <-- <SEQ=300><ACK=101><CTL=FIN,ACK> LAST-ACK",
        "TIME-WAIT --> <SEQ=101><ACK=301><CTL=ACK> CLOSED",
        "CLOSED CLOSED",
    ]);
}

#[test]
fn rfc793_figure_14_simultaneous_close() {
    let mut fig = Figure::default();
    let (mut a, ca, mut b, cb, t) = established(config());
    fig.states(state(&a, ca), state(&b, cb));

    a.close(ca).unwrap();
    b.close(cb).unwrap();
    let a_fin = one(&mut a, t);
    let b_fin = one(&mut b, t);
    fig.line(state(&a, ca), "-->", &show(&a_fin), state(&b, cb));
    a.handle_packet(t, &b_fin);
    fig.line(state(&a, ca), "<--", &show(&b_fin), state(&b, cb));
    b.handle_packet(t, &a_fin);
    fig.line(state(&a, ca), "...", &show(&a_fin), state(&b, cb));

    let a_ack = one(&mut a, t);
    let b_ack = one(&mut b, t);
    fig.line(state(&a, ca), "-->", &show(&a_ack), state(&b, cb));
    a.handle_packet(t, &b_ack);
    fig.line(state(&a, ca), "<--", &show(&b_ack), state(&b, cb));
    b.handle_packet(t, &a_ack);
    fig.line(state(&a, ca), "...", &show(&a_ack), state(&b, cb));

    let two_msl = t + Duration::from_secs(240);
    a.handle_timeout(two_msl);
    b.handle_timeout(two_msl);
    fig.states(state(&a, ca), state(&b, cb));

    fig.assert_matches(&[
        "ESTABLISHED ESTABLISHED",
        "FIN-WAIT-1 --> <SEQ=100><ACK=300><CTL=FIN,ACK> FIN-WAIT-1",
        "CLOSING <-- <SEQ=300><ACK=100><CTL=FIN,ACK> FIN-WAIT-1",
        "CLOSING ... <SEQ=100><ACK=300><CTL=FIN,ACK> CLOSING",
        "CLOSING --> <SEQ=101><ACK=301><CTL=ACK> CLOSING",
        "TIME-WAIT <-- <SEQ=301><ACK=101><CTL=ACK> CLOSING",
        "TIME-WAIT ... <SEQ=101><ACK=301><CTL=ACK> TIME-WAIT",
        "CLOSED CLOSED",
    ]);
}
