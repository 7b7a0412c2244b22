//! A byte stream of any content, written in chunks of any size, crosses a link that reorders,
//! duplicates and (for a while) loses segments in any pattern, and arrives intact, in both
//! directions at once; then both sides close and reach CLOSED.

mod net;

use std::time::Duration;

use net::*;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use synack_core::{Config, Instant, State};

/// What the link does to one packet.
#[derive(Clone, Copy, Debug)]
struct Treatment {
    /// Extra delay, in milliseconds: packets overtake each other.
    delay_ms: u8,
    /// A second copy, with its own extra delay (which may arrive first).
    duplicate: Option<u8>,
    lost: bool,
}

fn treatment() -> impl Strategy<Value = Treatment> {
    (
        0u8..60,
        proptest::option::weighted(0.2, 0u8..60),
        proptest::bool::weighted(0.05),
    )
        .prop_map(|(delay_ms, duplicate, lost)| Treatment {
            delay_ms,
            duplicate,
            lost,
        })
}

/// Where two streams part, for a failure message that a long stream would otherwise drown.
fn difference(got: &[u8], want: &[u8]) -> String {
    let at = got.iter().zip(want).position(|(g, w)| g != w);
    format!(
        "got {} of {} octets, first difference at {at:?}",
        got.len(),
        want.len()
    )
}

fn ms(v: u8) -> Duration {
    Duration::from_millis(u64::from(v))
}

proptest! {
    #![proptest_config(ProptestConfig {
        // More with PROPTEST_CASES=N, for a longer hunt.
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(96),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/stream_integrity.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn streams_arrive_intact_through_reordering_duplication_and_loss(
        a_data in vec(any::<u8>(), 0..30_000),
        b_data in vec(any::<u8>(), 0..10_000),
        a_chunks in vec(1usize..5000, 1..20),
        read_chunks in vec(1usize..3000, 1..20),
        link in vec(treatment(), 1..200),
        buffers in (500usize..70_000, 500usize..70_000),
    ) {
        let cfg = Config { recv_buffer: buffers.0, send_buffer: buffers.1, ..config() };
        let a = endpoint(A, 0xffff_f000, cfg.clone());
        let mut b = endpoint(B, 7, cfg);
        let l = b.listen(B_PORT).unwrap();
        // The pattern repeats for delays and duplicates; losses apply on its first pass only
        // (then the network heals), since a repeating loss pattern in step with the protocol's
        // own rounds can cut one direction off for good, which no TCP survives.
        let fate: Fate = Box::new(move |n, _, _| {
            let t = link[(n as usize) % link.len()];
            if t.lost && (n as usize) < link.len() {
                return vec![];
            }
            let mut copies = vec![ms(t.delay_ms)];
            copies.extend(t.duplicate.map(ms));
            copies
        });
        let mut p = Pair::new(a, b).with_fate(fate);
        let ca = p.a.connect(Instant::ZERO, b_sock(), Some(A_PORT)).unwrap();
        let mut cb = None;
        let (mut a_sent, mut b_sent, mut k) = (0usize, 0usize, 0usize);
        let (mut at_b, mut at_a) = (Vec::new(), Vec::new());
        let (mut a_closed, mut b_closed) = (false, false);
        let mut b_eof = false;
        let done = p.run_until(Duration::from_secs(900), |p| {
            k += 1;
            if cb.is_none() {
                cb = p.b.accept(l).unwrap();
            }
            // A writes in its chunk sizes, then closes, and reads until B's FIN. B reads and
            // writes all, and closes once it has read to A's FIN ("read until EOF, then
            // close"). Reads take what is ready, in the reader's chunk sizes.
            if a_sent < a_data.len() {
                let end = (a_sent + a_chunks[k % a_chunks.len()]).min(a_data.len());
                a_sent += p.a.send(p.now, ca, &a_data[a_sent..end]).unwrap_or(0);
            } else if !a_closed && state(&p.a, ca) == State::Established {
                // CLOSE in SYN-SENT would delete the connection (RFC 9293 §3.10.4), so the
                // application closes once it is connected.
                a_closed = p.a.close(ca).is_ok();
            }
            let mut buf = vec![0u8; read_chunks[k % read_chunks.len()]];
            while let Ok(n @ 1..) = p.a.recv(ca, &mut buf) {
                at_a.extend_from_slice(&buf[..n]);
            }
            if let Some(cb) = cb {
                if b_sent < b_data.len() {
                    b_sent += p.b.send(p.now, cb, &b_data[b_sent..]).unwrap_or(0);
                }
                loop {
                    match p.b.recv(cb, &mut buf) {
                        Ok(0) => break,
                        Ok(n) => at_b.extend_from_slice(&buf[..n]),
                        Err(_) => {
                            b_eof = true;
                            break;
                        }
                    }
                }
                if b_eof && b_sent == b_data.len() && !b_closed && p.b.close(cb).is_ok() {
                    b_closed = true;
                }
            }
            a_closed && b_closed && state(&p.a, ca) == State::Closed
                && cb.is_some_and(|cb| state(&p.b, cb) == State::Closed)
        });
        // SYNACK_DEBUG=1 prints the end of a failing case's exchange, for whoever debugs it.
        if std::env::var_os("SYNACK_DEBUG").is_some() && (at_b != a_data || !done) {
            for line in p.trace.iter().rev().take(40).rev() {
                eprintln!("{line:?}");
            }
            eprintln!("A {:?}", p.a.status(ca));
            eprintln!("B {:?}", cb.map(|cb| p.b.status(cb)));
            eprintln!("A events {:?}", events(&mut p.a));
            for o in p.a.drain_log().iter().rev().take(12).rev() {
                eprintln!("A log {o:?}");
            }
        }
        prop_assert!(at_b == a_data, "A to B: {}", difference(&at_b, &a_data));
        prop_assert!(at_a == b_data, "B to A: {}", difference(&at_a, &b_data));
        prop_assert!(done, "both reach CLOSED; A is {}, at {}", state(&p.a, ca), p.now);
    }
}
