//! Loss recovery: lost SYN, SYN,ACK, data and FIN are retransmitted at the RFC 6298 times
//! (RTO 1 s before any sample and at its 1 s minimum after, doubling on each expiry), and a
//! zero window reopens through probes (RFC 9293 §3.8.6.1).

mod net;

use std::time::Duration;

use net::*;
use synack_core::{Config, Event, Instant, State};

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// A pair with B listening and A connecting at time zero; link delay 10 ms each way.
fn pair(fate: Fate, b_config: Config) -> (Pair, synack_core::SocketId, synack_core::SocketId) {
    let a = endpoint(A, 100, config());
    let mut b = endpoint(B, 300, b_config);
    let l = b.listen(B_PORT).unwrap();
    let mut p = Pair::new(a, b).with_fate(fate);
    let ca = p.a.connect(Instant::ZERO, b_sock(), Some(A_PORT)).unwrap();
    (p, ca, l)
}

#[test]
fn lost_syn_is_retransmitted_at_1_3_7_seconds() {
    let (mut p, ca, _) = pair(lose_first("<CTL=SYN>", 3), config());
    assert!(p.run_until(secs(20.0), |p| state(&p.a, ca) == State::Established));
    // RFC 6298 (2.1) RTO = 1 s, then (5.5) doubling: 1, 2, 4.
    assert_eq!(
        sent_at(&p, "<SEQ=100><CTL=SYN>"),
        [secs(0.0), secs(1.0), secs(3.0), secs(7.0)]
    );
}

#[test]
fn lost_syn_ack_is_retransmitted_with_backoff() {
    let (mut p, ca, _) = pair(lose_first("<CTL=SYN,ACK>", 2), config());
    assert!(p.run_until(secs(20.0), |p| state(&p.a, ca) == State::Established));
    // The SYN arrives at 10 ms; B's SYN,ACK goes then, and at +1 s and +3 s.
    assert_eq!(
        sent_at(&p, "<SEQ=300><ACK=101><CTL=SYN,ACK>"),
        [secs(0.01), secs(1.01), secs(3.01)]
    );
}

#[test]
fn lost_data_is_retransmitted_with_backoff() {
    let (mut p, ca, _) = pair(lose_first("<DATA=", 2), config());
    assert!(p.run_until(secs(1.0), |p| state(&p.a, ca) == State::Established));
    let start = p.now;
    p.a.send(start, ca, &[7u8; 500]).unwrap();
    let cb = conn_to(&p.b, a_sock()).unwrap();
    let mut got = Vec::new();
    assert!(p.run_until(secs(20.0), |p| {
        let mut buf = [0u8; 1000];
        let n = p.b.recv(cb, &mut buf).unwrap_or(0);
        got.extend_from_slice(&buf[..n]);
        got.len() == 500
    }));
    let times: Vec<Duration> = sent_at(&p, "<DATA=500>")
        .into_iter()
        .map(|t| t - Duration::from_nanos(start.as_nanos()))
        .collect();
    // After the handshake's 20 ms sample the RTO is at its 1 s minimum (RFC 6298 (2.4)).
    assert_eq!(times, [secs(0.0), secs(1.0), secs(3.0)]);
}

#[test]
fn lost_fin_is_retransmitted_with_backoff() {
    let (mut p, ca, _) = pair(lose_first("CTL=FIN,ACK>", 2), config());
    assert!(p.run_until(secs(1.0), |p| state(&p.a, ca) == State::Established));
    let start = p.now;
    p.a.close(ca).unwrap();
    assert!(p.run_until(secs(20.0), |p| state(&p.a, ca) == State::FinWait2));
    let times: Vec<Duration> = sent_at(&p, "<SEQ=101><ACK=301><CTL=FIN,ACK>")
        .into_iter()
        .map(|t| t - Duration::from_nanos(start.as_nanos()))
        .collect();
    assert_eq!(times, [secs(0.0), secs(1.0), secs(3.0)]);
}

#[test]
fn data_written_after_the_window_closed_is_probed() {
    // B can hold 1000 octets and reads nothing. A fills the window exactly, so everything is
    // acknowledged with a zero window and nothing waits; only then does its application write
    // more. That data must be probed for (RFC 9293 §3.8.6.1, MUST-36), or the connection waits
    // for a window update that B never has a reason to send.
    let small = Config {
        recv_buffer: 1000,
        ..config()
    };
    let (mut p, ca, _) = pair(Box::new(|_, _, _| vec![Duration::ZERO]), small);
    assert!(p.run_until(secs(1.0), |p| state(&p.a, ca) == State::Established));
    assert_eq!(p.a.send(p.now, ca, &[7u8; 1000]).unwrap(), 1000);
    assert!(p.run_until(secs(3.0), |p| {
        let s = p.a.status(ca).unwrap();
        s.snd_wnd == 0 && s.snd_una == s.snd_nxt
    }));
    p.settle(secs(1.0));
    assert_eq!(p.a.send(p.now, ca, &[8u8; 500]).unwrap(), 500);
    assert!(
        p.a.poll_timeout().is_some(),
        "a timer runs for the queued data"
    );
    p.run_until(secs(10.0), |_| false);
    let probes = p
        .trace
        .iter()
        .filter(|(_, to_b, s)| *to_b && s.contains("<DATA=1>"))
        .count();
    assert!(probes >= 1, "A probes the closed window: {:?}", p.trace);
}

#[test]
fn a_zero_window_reopens_through_probes() {
    // B can hold 1000 octets; its application reads nothing until 5 s, and the window update
    // it sends then is lost, so only A's probes can find out that the window opened.
    let small = Config {
        recv_buffer: 1000,
        ..config()
    };
    let (mut p, ca, _) = pair(Box::new(|_, _, _| vec![Duration::ZERO]), small);
    assert!(p.run_until(secs(1.0), |p| state(&p.a, ca) == State::Established));
    let cb = conn_to(&p.b, a_sock()).unwrap();
    let data: Vec<u8> = (0..4000u32).map(|i| (i % 251) as u8).collect();
    let mut written = p.a.send(p.now, ca, &data).unwrap();
    assert!(p.run_until(secs(4.0), |p| p.a.status(ca).unwrap().snd_wnd == 0));
    // Let the zero window stand until 5 s.
    p.run_until(secs(5.0), |_| false);
    let probes_before = p
        .trace
        .iter()
        .filter(|(_, to_b, s)| *to_b && s.contains("<DATA=1>"))
        .count();
    assert!(
        probes_before >= 1,
        "A probes the zero window: {:?}",
        p.trace
    );

    // Lose B's next window update.
    let mut lost_update = false;
    p = p.with_fate(Box::new(move |_, to_b, bytes| {
        if !to_b && !lost_update && show(bytes).contains("<CTL=ACK>") {
            lost_update = true;
            vec![]
        } else {
            vec![Duration::ZERO]
        }
    }));
    let mut got = Vec::new();
    assert!(p.run_until(secs(600.0), |p| {
        if written < data.len() {
            written += p.a.send(p.now, ca, &data[written..]).unwrap();
        }
        let mut buf = [0u8; 4096];
        let n = p.b.recv(cb, &mut buf).unwrap_or(0);
        got.extend_from_slice(&buf[..n]);
        got.len() == data.len()
    }));
    assert_eq!(got, data);
    assert_eq!(
        state(&p.a, ca),
        State::Established,
        "probing never times the connection out"
    );
    assert!(events(&mut p.a).iter().all(|(_, e)| *e != Event::TimedOut));
}

#[test]
fn user_timeout_aborts_a_connection_whose_peer_vanished() {
    let cfg = Config {
        user_timeout: Duration::from_secs(30),
        ..config()
    };
    let a = endpoint(A, 100, cfg);
    let b = endpoint(B, 300, config());
    // Nothing ever arrives: B has no listener and every packet is lost.
    let mut p = Pair::new(a, b).with_fate(Box::new(|_, _, _| vec![]));
    let ca = p.a.connect(Instant::ZERO, b_sock(), Some(A_PORT)).unwrap();
    assert!(p.run_until(secs(100.0), |p| state(&p.a, ca) == State::Closed));
    assert_eq!(p.now, Instant::from_secs(30));
    assert_eq!(
        events(&mut p.a),
        [(ca, Event::TimedOut), (ca, Event::Closed)],
        "connection aborted due to user timeout"
    );
}
