//! Many connections on one endpoint (4-tuple demultiplexing, the listener backlog, ephemeral
//! ports) and the half-close (one side closes, the other keeps sending, then closes).

mod net;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use net::*;
use synack_core::{Config, Endpoint, Event, Instant, SocketId, State};

#[test]
fn half_close_the_passive_side_keeps_sending_until_it_closes() {
    let a = endpoint(A, 100, config());
    let mut b = endpoint(B, 300, config());
    let l = b.listen(B_PORT).unwrap();
    let mut p = Pair::new(a, b);
    let ca = p.a.connect(Instant::ZERO, b_sock(), Some(A_PORT)).unwrap();
    let mut accepted = None;
    assert!(p.run_until(Duration::from_secs(1), |p| {
        accepted = accepted.or(p.b.accept(l).unwrap());
        accepted.is_some()
    }));
    let cb = accepted.expect("accepted");
    assert_eq!(state(&p.a, ca), State::Established);

    // 1. A closes its direction.
    p.a.close(ca).unwrap();
    assert!(p.run_until(Duration::from_secs(1), |p| state(&p.a, ca)
        == State::FinWait2));
    assert_eq!(state(&p.b, cb), State::CloseWait);
    assert!(events(&mut p.b).contains(&(cb, Event::PeerClosed)));

    // 2. B keeps sending; A receives it all in FIN-WAIT-2.
    let reply: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let mut sent = 0;
    let mut got = Vec::new();
    assert!(p.run_until(Duration::from_secs(10), |p| {
        if sent < reply.len() {
            sent += p.b.send(p.now, cb, &reply[sent..]).unwrap();
        }
        let mut buf = [0u8; 4096];
        let n = p.a.recv(ca, &mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
        got.len() == reply.len()
    }));
    assert_eq!(got, reply);
    assert_eq!(
        state(&p.a, ca),
        State::FinWait2,
        "A received everything in FIN-WAIT-2"
    );
    assert_eq!(
        p.a.send(p.now, ca, b"x"),
        Err(synack_core::UserError::ConnectionClosing)
    );

    // 3. B closes.
    p.b.close(cb).unwrap();
    assert!(p.run_until(Duration::from_secs(1), |p| state(&p.b, cb) == State::Closed));
    assert_eq!(state(&p.a, ca), State::TimeWait);
    assert_eq!(
        p.a.recv(ca, &mut [0u8; 8]),
        Err(synack_core::UserError::ConnectionClosing)
    );

    // 4. Both end CLOSED, A after TIME-WAIT (2 MSL).
    let time_wait_began = p.now;
    assert!(p.run_until(Duration::from_secs(300), |p| state(&p.a, ca)
        == State::Closed));
    assert!(p.now.saturating_since(time_wait_began) >= Duration::from_secs(239));
    assert_eq!(p.a.sockets().count(), 0);
    assert_eq!(p.b.sockets().count(), 1, "only B's listener remains");
}

/// Client endpoints on distinct addresses, all talking to one server listener.
#[test]
fn a_hundred_concurrent_connections_through_one_listener() {
    const N: usize = 120;
    let mut server = Endpoint::new(
        Config {
            backlog: N,
            ..Config::default()
        },
        B,
        [1; 16],
    );
    let l = server.listen(B_PORT).unwrap();
    // Six client hosts with twenty connections each, from ephemeral ports: the 4-tuples differ
    // in address, in port, or both.
    let mut clients: Vec<Endpoint> = (0..6)
        .map(|i| {
            Endpoint::new(
                Config::default(),
                Ipv4Addr::new(10, 0, 1, i + 1),
                [i + 2; 16],
            )
        })
        .collect();
    let mut conns: Vec<(usize, SocketId)> = Vec::new();
    let now = Instant::ZERO;
    for k in 0..N {
        let c = k % clients.len();
        let id = clients[c].connect(now, b_sock(), None).unwrap();
        conns.push((c, id));
    }
    // Pump until quiet: clients to server, server to clients by destination address.
    let pump = |clients: &mut Vec<Endpoint>, server: &mut Endpoint, now: Instant| loop {
        let mut moved = false;
        for c in clients.iter_mut() {
            for p in out(c, now) {
                server.handle_packet(now, &p);
                moved = true;
            }
        }
        for p in out(server, now) {
            let dst = synack_core::wire::Packet::parse(&p).unwrap().ip.dst;
            let c = clients.iter_mut().find(|c| c.addr() == dst).unwrap();
            c.handle_packet(now, &p);
            moved = true;
        }
        if !moved {
            break;
        }
    };
    pump(&mut clients, &mut server, now);
    let mut accepted = Vec::new();
    while let Some(id) = server.accept(l).unwrap() {
        accepted.push(id);
    }
    assert_eq!(accepted.len(), N);
    // Each client writes its own message; the server echoes it back reversed.
    for (k, (c, id)) in conns.iter().enumerate() {
        let msg = format!("hello from connection {k}");
        clients[*c].send(now, *id, msg.as_bytes()).unwrap();
    }
    pump(&mut clients, &mut server, now);
    let mut by_remote = BTreeMap::new();
    for &id in &accepted {
        let mut buf = [0u8; 64];
        let n = server.recv(id, &mut buf).unwrap();
        let msg = String::from_utf8(buf[..n].to_vec()).unwrap();
        let remote = server.status(id).unwrap().remote;
        let reply: String = msg.chars().rev().collect();
        server.send(now, id, reply.as_bytes()).unwrap();
        by_remote.insert(remote, msg);
    }
    assert_eq!(by_remote.len(), N, "every connection has its own 4-tuple");
    pump(&mut clients, &mut server, now);
    for (k, (c, id)) in conns.iter().enumerate() {
        let mut buf = [0u8; 64];
        let n = clients[*c].recv(*id, &mut buf).unwrap();
        let expected: String = format!("hello from connection {k}").chars().rev().collect();
        assert_eq!(
            &buf[..n],
            expected.as_bytes(),
            "connection {k} got its own reply"
        );
        let local = clients[*c].status(*id).unwrap().local;
        assert_eq!(by_remote[&local], format!("hello from connection {k}"));
    }
}

#[test]
fn a_full_backlog_drops_further_syns_until_the_user_accepts() {
    let mut server = endpoint(
        B,
        300,
        Config {
            backlog: 3,
            ..config()
        },
    );
    let l = server.listen(B_PORT).unwrap();
    let mut client = endpoint(A, 100, config());
    let now = Instant::ZERO;
    let ids: Vec<SocketId> = (0..5)
        .map(|i| client.connect(now, b_sock(), Some(2000 + i)).unwrap())
        .collect();
    deliver(&mut client, &mut server, now);
    assert_eq!(
        out(&mut server, now).len(),
        3,
        "three SYN,ACKs, two SYNs dropped"
    );
    assert_eq!(server.stats().dropped, 2);
    // The client retransmits its two SYNs; while the backlog is full they are dropped again.
    let rto = now + Duration::from_secs(1);
    client.handle_timeout(rto);
    let retransmitted = out(&mut client, rto);
    assert_eq!(
        retransmitted.len(),
        5,
        "all five SYNs are retransmitted (three SYN,ACKs were lost)"
    );
    for p in &retransmitted {
        server.handle_packet(rto, p);
    }
    // The three embryonic connections answer with ACKs for the duplicate SYNs.
    out(&mut server, rto);
    assert_eq!(server.stats().dropped, 7);
    assert!(ids.iter().all(|id| state(&client, *id) == State::SynSent));
    assert_eq!(server.accept(l).unwrap(), None, "nothing established yet");
}

#[test]
fn ephemeral_ports_are_distinct_and_deterministic() {
    let mut a = endpoint(A, 100, config());
    let ports: Vec<u16> = (0..50)
        .map(|_| {
            let id = a.connect(Instant::ZERO, b_sock(), None).unwrap();
            a.status(id).unwrap().local.port()
        })
        .collect();
    let expected: Vec<u16> = (49152..49202).collect();
    assert_eq!(ports, expected);
    // A port in use by a listener is skipped.
    let mut b = endpoint(A, 100, config());
    b.listen(49152).unwrap();
    let id = b.connect(Instant::ZERO, b_sock(), None).unwrap();
    assert_eq!(b.status(id).unwrap().local.port(), 49153);
}

#[test]
fn segments_for_other_addresses_or_ports_are_not_taken_by_a_connection() {
    let mut r = reach(State::Established, synack_core::Profile::Rfc9293);
    let t = r.now;
    let rcv_nxt = r.a.status(r.ca).unwrap().rcv_nxt;
    // Right sequence numbers, wrong remote port: the CLOSED-port rule answers it with a RST,
    // and the real connection is untouched.
    let stray = forged(
        SocketAddrV4::new(B, B_PORT + 1),
        a_sock(),
        rcv_nxt.get(),
        101,
        synack_core::wire::Flags::ACK,
    );
    r.a.handle_packet(t, &stray);
    assert_eq!(shows(&out(&mut r.a, t)), ["<SEQ=101><CTL=RST>"]);
    assert_eq!(state(&r.a, r.ca), State::Established);
    assert_eq!(r.a.status(r.ca).unwrap().rcv_nxt, rcv_nxt);
}
