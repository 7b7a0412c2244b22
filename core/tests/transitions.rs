//! Every transition of RFC 9293 Figure 5 (RFC 793 Figure 6), each by name, reached through
//! real events, with the segment the diagram says is sent.

mod net;

use std::time::Duration;

use net::*;
use synack_core::{Event, Profile, State};

use State::*;

fn start(target: State) -> Reached {
    reach(target, Profile::Rfc9293)
}

#[test]
fn closed_to_listen_on_passive_open() {
    let mut a = endpoint(A, 100, config());
    let l = a.listen(A_PORT).unwrap();
    assert_eq!(state(&a, l), Listen);
    assert_eq!(transitions(&mut a), vec![(Closed, Listen)]);
    assert!(
        out(&mut a, at_ms(0)).is_empty(),
        "a passive OPEN sends nothing"
    );
}

#[test]
fn closed_to_syn_sent_on_active_open_sends_syn() {
    let mut a = endpoint(A, 100, config());
    let c = a.connect(at_ms(0), b_sock(), Some(A_PORT)).unwrap();
    assert_eq!(transitions(&mut a), vec![(Closed, SynSent)]);
    assert_eq!(shows(&out(&mut a, at_ms(0))), ["<SEQ=100><CTL=SYN>"]);
    assert_eq!(state(&a, c), SynSent);
}

#[test]
fn listen_to_closed_on_close() {
    let mut r = start(Listen);
    r.a.close(r.ca).unwrap();
    assert_eq!(
        transitions(&mut r.a),
        vec![(Closed, Listen), (Listen, Closed)]
    );
    assert_eq!(state(&r.a, r.ca), Closed);
}

#[test]
fn listen_to_syn_received_on_syn_sends_syn_ack() {
    let mut r = start(Listen);
    let t = r.now;
    r.a.drain_log();
    let cb = r.b.connect(t, a_sock(), Some(B_PORT)).unwrap();
    deliver(&mut r.b, &mut r.a, t);
    assert_eq!(transitions(&mut r.a), vec![(Listen, SynReceived)]);
    assert_eq!(
        shows(&out(&mut r.a, t)),
        ["<SEQ=100><ACK=301><CTL=SYN,ACK>"]
    );
    assert_eq!(state(&r.a, r.ca), Listen, "the listener stays in LISTEN");
    assert_eq!(state(&r.b, cb), SynSent);
}

#[test]
fn listen_to_syn_sent_on_send_with_remote_specified() {
    // RFC 793 Figure 6 / RFC 9293 Figure 5: LISTEN --SEND / snd SYN--> SYN-SENT.
    let mut a = endpoint(A, 100, config());
    let l = a.listen_from(A_PORT, Some(b_sock())).unwrap();
    assert_eq!(a.send(at_ms(0), l, b"early").unwrap(), 5);
    assert_eq!(
        transitions(&mut a),
        vec![(Closed, Listen), (Listen, SynSent)]
    );
    assert_eq!(shows(&out(&mut a, at_ms(0))), ["<SEQ=100><CTL=SYN>"]);
    assert_eq!(state(&a, l), SynSent);
}

#[test]
fn syn_sent_to_closed_on_close() {
    let mut r = start(SynSent);
    r.a.drain_log();
    r.a.close(r.ca).unwrap();
    assert_eq!(transitions(&mut r.a), vec![(SynSent, Closed)]);
    assert!(out(&mut r.a, r.now).is_empty());
}

#[test]
fn syn_sent_to_syn_received_on_syn_sends_syn_ack() {
    let mut r = start(SynSent);
    let t = r.now;
    r.a.drain_log();
    r.b.connect(t, a_sock(), Some(B_PORT)).unwrap();
    deliver(&mut r.b, &mut r.a, t);
    assert_eq!(transitions(&mut r.a), vec![(SynSent, SynReceived)]);
    assert_eq!(
        shows(&out(&mut r.a, t)),
        ["<SEQ=100><ACK=301><CTL=SYN,ACK>"]
    );
}

#[test]
fn syn_sent_to_established_on_syn_ack_sends_ack() {
    let mut a = endpoint(A, 100, config());
    let mut b = endpoint(B, 300, config());
    let t = at_ms(0);
    b.listen(B_PORT).unwrap();
    let c = a.connect(t, b_sock(), Some(A_PORT)).unwrap();
    deliver(&mut a, &mut b, t);
    a.drain_log();
    deliver(&mut b, &mut a, t);
    assert_eq!(transitions(&mut a), vec![(SynSent, Established)]);
    assert_eq!(shows(&out(&mut a, t)), ["<SEQ=101><ACK=301><CTL=ACK>"]);
    assert!(events(&mut a).contains(&(c, Event::Connected)));
}

#[test]
fn syn_received_to_listen_on_rst_after_passive_open() {
    let mut r = start(SynReceived);
    let t = r.now;
    r.a.drain_log();
    // A RST at A's RCV.NXT (B's ISS + 1), as B would send on learning the SYN was stale.
    let rst = forged(b_sock(), a_sock(), 301, 0, synack_core::wire::Flags::RST);
    r.a.handle_packet(t, &rst);
    assert_eq!(transitions(&mut r.a), vec![(SynReceived, Listen)]);
    assert!(conn_to(&r.a, b_sock()).is_none(), "the connection is gone");
    let listener = r.a.sockets().next().unwrap();
    assert_eq!(state(&r.a, listener), Listen, "the listener remains");
    assert!(events(&mut r.a).is_empty(), "the user need not be informed");
}

#[test]
fn syn_received_to_established_on_ack_of_syn() {
    let mut r = start(SynReceived);
    let t = r.now;
    r.a.drain_log();
    // Resend A's SYN,ACK (it was not delivered) by its retransmission, and complete.
    let rto = t + Duration::from_secs(1);
    r.a.handle_timeout(rto);
    deliver(&mut r.a, &mut r.b, rto);
    deliver(&mut r.b, &mut r.a, rto);
    assert_eq!(transitions(&mut r.a), vec![(SynReceived, Established)]);
    let listener = r.a.sockets().next().unwrap();
    assert_eq!(r.a.accept(listener).unwrap(), Some(r.ca));
}

#[test]
fn syn_received_to_fin_wait_1_on_close_sends_fin() {
    let mut r = start(SynReceived);
    let t = r.now;
    r.a.drain_log();
    r.a.close(r.ca).unwrap();
    assert_eq!(transitions(&mut r.a), vec![(SynReceived, FinWait1)]);
    assert_eq!(
        shows(&out(&mut r.a, t)),
        ["<SEQ=101><ACK=301><CTL=FIN,ACK>"]
    );
}

#[test]
fn established_to_fin_wait_1_on_close_sends_fin() {
    let mut r = start(Established);
    let t = r.now;
    r.a.drain_log();
    r.a.close(r.ca).unwrap();
    assert_eq!(transitions(&mut r.a), vec![(Established, FinWait1)]);
    assert_eq!(
        shows(&out(&mut r.a, t)),
        ["<SEQ=101><ACK=301><CTL=FIN,ACK>"]
    );
}

#[test]
fn established_to_close_wait_on_fin_sends_ack() {
    let mut r = start(Established);
    let t = r.now;
    r.a.drain_log();
    r.b.close(r.cb.unwrap()).unwrap();
    deliver(&mut r.b, &mut r.a, t);
    assert_eq!(transitions(&mut r.a), vec![(Established, CloseWait)]);
    assert_eq!(shows(&out(&mut r.a, t)), ["<SEQ=101><ACK=302><CTL=ACK>"]);
    assert!(events(&mut r.a).contains(&(r.ca, Event::PeerClosed)));
}

#[test]
fn fin_wait_1_to_fin_wait_2_on_ack_of_fin() {
    let mut r = start(Established);
    let t = r.now;
    r.a.close(r.ca).unwrap();
    deliver(&mut r.a, &mut r.b, t);
    r.a.drain_log();
    deliver(&mut r.b, &mut r.a, t);
    assert_eq!(transitions(&mut r.a), vec![(FinWait1, FinWait2)]);
    assert!(out(&mut r.a, t).is_empty());
}

#[test]
fn fin_wait_1_to_closing_on_fin_sends_ack() {
    let mut r = start(FinWait1);
    let t = r.now;
    r.b.close(r.cb.unwrap()).unwrap();
    deliver(&mut r.b, &mut r.a, t);
    // B's FIN does not acknowledge A's FIN, which B has not received.
    assert_eq!(transitions(&mut r.a), vec![(FinWait1, Closing)]);
    assert_eq!(shows(&out(&mut r.a, t)), ["<SEQ=102><ACK=302><CTL=ACK>"]);
}

#[test]
fn fin_wait_1_to_time_wait_on_fin_that_acknowledges_our_fin() {
    let mut r = start(FinWait1);
    let t = r.now;
    // A's FIN was not delivered; resend it by the RTO so B acknowledges it in its own FIN.
    let rto = t + Duration::from_secs(1);
    r.a.handle_timeout(rto);
    deliver(&mut r.a, &mut r.b, rto);
    let cb = r.cb.unwrap();
    r.b.close(cb).unwrap();
    // B's ACK of A's FIN goes out with B's FIN, in one segment.
    let from_b = out(&mut r.b, rto);
    assert_eq!(shows(&from_b), ["<SEQ=301><ACK=102><CTL=FIN,ACK>"]);
    r.a.drain_log();
    r.a.handle_packet(rto, &from_b[0]);
    assert_eq!(transitions(&mut r.a), vec![(FinWait1, TimeWait)]);
    assert_eq!(shows(&out(&mut r.a, rto)), ["<SEQ=102><ACK=302><CTL=ACK>"]);
}

#[test]
fn fin_wait_2_to_time_wait_on_fin_sends_ack() {
    let mut r = start(FinWait2);
    let t = r.now;
    r.a.drain_log();
    r.b.close(r.cb.unwrap()).unwrap();
    deliver(&mut r.b, &mut r.a, t);
    assert_eq!(transitions(&mut r.a), vec![(FinWait2, TimeWait)]);
    assert_eq!(shows(&out(&mut r.a, t)), ["<SEQ=102><ACK=302><CTL=ACK>"]);
}

#[test]
fn close_wait_to_last_ack_on_close_sends_fin() {
    let mut r = start(CloseWait);
    let t = r.now;
    r.a.close(r.ca).unwrap();
    assert_eq!(transitions(&mut r.a), vec![(CloseWait, LastAck)]);
    assert_eq!(
        shows(&out(&mut r.a, t)),
        ["<SEQ=101><ACK=302><CTL=FIN,ACK>"]
    );
}

#[test]
fn closing_to_time_wait_on_ack_of_fin() {
    let mut r = start(Closing);
    let t = r.now;
    // A's FIN was lost; its retransmission reaches B, whose ACK completes A's close.
    let rto = t + Duration::from_secs(1);
    r.a.handle_timeout(rto);
    deliver(&mut r.a, &mut r.b, rto);
    r.a.drain_log();
    deliver(&mut r.b, &mut r.a, rto);
    assert_eq!(transitions(&mut r.a), vec![(Closing, TimeWait)]);
}

#[test]
fn last_ack_to_closed_on_ack_of_fin() {
    let mut r = start(LastAck);
    let t = r.now;
    let rto = t + Duration::from_secs(1);
    r.a.handle_timeout(rto);
    deliver(&mut r.a, &mut r.b, rto);
    r.a.drain_log();
    deliver(&mut r.b, &mut r.a, rto);
    assert_eq!(transitions(&mut r.a), vec![(LastAck, Closed)]);
    assert!(events(&mut r.a).contains(&(r.ca, Event::Closed)));
}

#[test]
fn time_wait_to_closed_after_two_msl() {
    let mut r = start(TimeWait);
    let t = r.now;
    let two_msl = t + Duration::from_secs(240);
    assert_eq!(r.a.poll_timeout(), Some(two_msl));
    r.a.handle_timeout(two_msl - Duration::from_nanos(1));
    assert_eq!(state(&r.a, r.ca), TimeWait, "not a nanosecond early");
    r.a.handle_timeout(two_msl);
    assert_eq!(transitions(&mut r.a), vec![(TimeWait, Closed)]);
}

#[test]
fn time_wait_restarts_on_a_retransmitted_fin() {
    let mut r = start(TimeWait);
    let later = r.now + Duration::from_secs(100);
    // B never saw A's last ACK and retransmits its FIN.
    let cb = r.cb.unwrap();
    assert_eq!(
        state(&r.b, cb),
        Closed,
        "B got A's ACK in this path; forge the retransmission"
    );
    let fin = {
        let mut fresh = reach(State::FinWait2, Profile::Rfc9293);
        fresh.b.close(fresh.cb.unwrap()).unwrap();
        out(&mut fresh.b, fresh.now).remove(0)
    };
    r.a.handle_packet(later, &fin);
    assert_eq!(
        shows(&out(&mut r.a, later)),
        ["<SEQ=102><ACK=302><CTL=ACK>"]
    );
    assert_eq!(
        r.a.poll_timeout(),
        Some(later + Duration::from_secs(240)),
        "2 MSL restarted"
    );
}

#[test]
fn established_to_closed_on_rst_at_rcv_nxt() {
    let mut r = start(Established);
    let t = r.now;
    r.a.drain_log();
    r.b.abort(r.cb.unwrap()).unwrap();
    assert_eq!(
        shows(&deliver(&mut r.b, &mut r.a, t)),
        ["<SEQ=301><CTL=RST>"]
    );
    assert_eq!(transitions(&mut r.a), vec![(Established, Closed)]);
    assert!(events(&mut r.a).contains(&(r.ca, Event::Reset)));
}

#[test]
fn syn_sent_to_closed_on_rst_is_connection_refused() {
    let mut a = endpoint(A, 100, config());
    let mut b = endpoint(B, 300, config());
    let t = at_ms(0);
    let c = a.connect(t, b_sock(), Some(A_PORT)).unwrap();
    deliver(&mut a, &mut b, t);
    a.drain_log();
    // No listener on B: RFC 9293 §3.10.7.1 answers <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    assert_eq!(
        shows(&deliver(&mut b, &mut a, t)),
        ["<SEQ=0><ACK=101><CTL=RST,ACK>"]
    );
    assert_eq!(transitions(&mut a), vec![(SynSent, Closed)]);
    assert!(events(&mut a).contains(&(c, Event::Refused)));
}
