//! No packet and no sequence of calls makes an endpoint panic, and its invariants hold after
//! every step: SND.UNA =< SND.NXT, buffers within their bounds, the next timeout never in the
//! past, every segment it sends well formed.

mod net;

use std::time::Duration;

use net::*;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use synack_core::wire::{Flags, Ipv4Header, Packet, TcpHeader, TcpOption};
use synack_core::{Profile, SeqNum, State};

#[derive(Clone, Debug)]
enum Op {
    /// A segment from B, with numbers relative to A's own variables.
    Segment {
        seq_off: i32,
        ack_off: i32,
        flags: u8,
        window: u16,
        len: u16,
        mss: Option<u16>,
    },
    /// Raw bytes.
    Bytes(Vec<u8>),
    Send(u16),
    Recv(u16),
    Close,
    Abort,
    Advance(u32),
}

fn op() -> impl Strategy<Value = Op> {
    let near = prop_oneof![4 => -3000i32..3000, 1 => any::<i32>()];
    prop_oneof![
        6 => (near.clone(), near, any::<u8>(), any::<u16>(), prop_oneof![3 => Just(0u16), 1 => 0u16..3000], proptest::option::of(any::<u16>()))
            .prop_map(|(seq_off, ack_off, flags, window, len, mss)| Op::Segment { seq_off, ack_off, flags, window, len, mss }),
        1 => vec(any::<u8>(), 0..80).prop_map(Op::Bytes),
        2 => (0u16..5000).prop_map(Op::Send),
        2 => (0u16..5000).prop_map(Op::Recv),
        1 => Just(Op::Close),
        1 => Just(Op::Abort),
        2 => (0u32..5_000_000).prop_map(Op::Advance),
    ]
}

fn start_state() -> impl Strategy<Value = (State, Profile)> {
    (
        proptest::sample::select(State::ALL.to_vec()),
        prop_oneof![Just(Profile::Rfc9293), Just(Profile::Rfc793)],
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/robustness.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_input_breaks_an_endpoint((target, profile) in start_state(), ops in vec(op(), 1..60)) {
        let mut r = reach(target, profile);
        let mut now = r.now;
        let cfg = r.a.config().clone();
        for op in ops {
            let st = r.a.status(r.ca).ok();
            match op {
                Op::Segment { seq_off, ack_off, flags, window, len, mss } => {
                    let rcv_nxt = st.map_or(SeqNum(0), |s| s.rcv_nxt);
                    let snd_nxt = st.map_or(SeqNum(0), |s| s.snd_nxt);
                    let mut tcp = TcpHeader::new(
                        B_PORT,
                        A_PORT,
                        SeqNum(rcv_nxt.get().wrapping_add(seq_off as u32)),
                        SeqNum(snd_nxt.get().wrapping_add(ack_off as u32)),
                        Flags::from_bits_retain(flags),
                    )
                    .with_options(mss.map(|m| vec![TcpOption::Mss(m)]).unwrap_or_default());
                    tcp.window = window;
                    let payload = vec![0x5a; usize::from(len)];
                    let bytes = Packet { ip: Ipv4Header::new(B, A), tcp, payload: &payload }
                        .to_bytes()
                        .expect("emittable");
                    r.a.handle_packet(now, &bytes);
                }
                Op::Bytes(b) => r.a.handle_packet(now, &b),
                Op::Send(n) => { let _ = r.a.send(now, r.ca, &vec![1; usize::from(n)]); }
                Op::Recv(n) => { let _ = r.a.recv(r.ca, &mut vec![0; usize::from(n)]); }
                Op::Close => { let _ = r.a.close(r.ca); }
                Op::Abort => { let _ = r.a.abort(r.ca); }
                Op::Advance(us) => {
                    now += Duration::from_micros(u64::from(us));
                    r.a.handle_timeout(now);
                    if let Some(t) = r.a.poll_timeout() {
                        prop_assert!(t > now, "a timeout in the past after handle_timeout: {t} at {now}");
                    }
                }
            }
            while let Some(p) = r.a.poll_transmit(now) {
                let parsed = Packet::parse(&p);
                prop_assert!(parsed.is_ok(), "A sent a malformed packet: {:?}", parsed.err());
            }
            events(&mut r.a);
            r.a.drain_log();
            if let Ok(s) = r.a.status(r.ca) {
                if s.state != State::Listen {
                    prop_assert!(s.snd_una.le(s.snd_nxt), "SND.UNA {} > SND.NXT {}", s.snd_una, s.snd_nxt);
                    prop_assert!(s.send_queued <= cfg.send_buffer);
                    prop_assert!(s.recv_queued + s.recv_out_of_order <= cfg.recv_buffer);
                }
            }
        }
    }
}
