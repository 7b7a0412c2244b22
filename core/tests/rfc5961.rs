//! The RFC 5961 cases: challenge ACKs under the RFC 9293 profile, and RFC 793's behaviour for
//! the same segments under the RFC 793 profile. A is ESTABLISHED with RCV.NXT = 301 and
//! SND.NXT = 101; the segments come "from B" but are forged, as a blind attacker would.

mod net;

use net::*;
use synack_core::wire::Flags;
use synack_core::{Config, DropReason, Event, Observation, Profile, State};

fn established(profile: Profile) -> Reached {
    reach(State::Established, profile)
}

fn dropped(r: &mut Reached) -> Vec<DropReason> {
    r.a.drain_log()
        .into_iter()
        .filter_map(|o| match o {
            Observation::Drop { reason, .. } => Some(reason),
            _ => None,
        })
        .collect()
}

#[test]
fn in_window_rst_gets_a_challenge_ack_under_rfc9293() {
    let mut r = established(Profile::Rfc9293);
    let t = r.now;
    r.a.handle_packet(t, &forged(b_sock(), a_sock(), 301 + 100, 0, Flags::RST));
    assert_eq!(state(&r.a, r.ca), State::Established);
    assert_eq!(shows(&out(&mut r.a, t)), ["<SEQ=101><ACK=301><CTL=ACK>"]);
    assert_eq!(dropped(&mut r), [DropReason::RstChallenged]);
}

#[test]
fn in_window_rst_resets_under_rfc793() {
    let mut r = established(Profile::Rfc793);
    let t = r.now;
    r.a.handle_packet(t, &forged(b_sock(), a_sock(), 301 + 100, 0, Flags::RST));
    assert_eq!(state(&r.a, r.ca), State::Closed);
    assert!(events(&mut r.a).contains(&(r.ca, Event::Reset)));
    assert!(out(&mut r.a, t).is_empty(), "a RST is never answered");
}

#[test]
fn rst_exactly_at_rcv_nxt_resets_under_both_profiles() {
    for profile in [Profile::Rfc9293, Profile::Rfc793] {
        let mut r = established(profile);
        let t = r.now;
        r.a.handle_packet(t, &forged(b_sock(), a_sock(), 301, 0, Flags::RST));
        assert_eq!(state(&r.a, r.ca), State::Closed, "{profile:?}");
        assert!(
            events(&mut r.a).contains(&(r.ca, Event::Reset)),
            "{profile:?}"
        );
        assert!(out(&mut r.a, t).is_empty(), "{profile:?}");
    }
}

#[test]
fn out_of_window_rst_is_dropped_under_both_profiles() {
    for profile in [Profile::Rfc9293, Profile::Rfc793] {
        let mut r = established(profile);
        let t = r.now;
        let window = r.a.status(r.ca).unwrap().rcv_wnd;
        for seq in [300, 301 + window, 301u32.wrapping_sub(70_000)] {
            r.a.handle_packet(t, &forged(b_sock(), a_sock(), seq, 0, Flags::RST));
        }
        assert_eq!(state(&r.a, r.ca), State::Established, "{profile:?}");
        assert!(out(&mut r.a, t).is_empty(), "{profile:?}: silently dropped");
        assert_eq!(
            dropped(&mut r),
            vec![DropReason::RstOutOfWindow; 3],
            "{profile:?}"
        );
    }
}

#[test]
fn syn_in_established_gets_a_challenge_ack_under_rfc9293() {
    let mut r = established(Profile::Rfc9293);
    let t = r.now;
    // In the window and outside it alike: "irrespective of the sequence number".
    r.a.handle_packet(t, &forged(b_sock(), a_sock(), 301 + 10, 0, Flags::SYN));
    assert_eq!(shows(&out(&mut r.a, t)), ["<SEQ=101><ACK=301><CTL=ACK>"]);
    r.a.handle_packet(t, &forged(b_sock(), a_sock(), 5, 0, Flags::SYN));
    assert_eq!(shows(&out(&mut r.a, t)), ["<SEQ=101><ACK=301><CTL=ACK>"]);
    assert_eq!(state(&r.a, r.ca), State::Established);
}

#[test]
fn syn_in_window_resets_under_rfc793() {
    let mut r = established(Profile::Rfc793);
    let t = r.now;
    r.a.handle_packet(t, &forged(b_sock(), a_sock(), 301 + 10, 0, Flags::SYN));
    assert_eq!(state(&r.a, r.ca), State::Closed);
    assert!(events(&mut r.a).contains(&(r.ca, Event::Reset)));
    // RFC 793 §3.4 Reset Generation: no ACK on the SYN, so <SEQ=0><ACK=SEG.SEQ+SEG.LEN>.
    assert_eq!(shows(&out(&mut r.a, t)), ["<SEQ=0><ACK=312><CTL=RST,ACK>"]);
}

#[test]
fn syn_outside_the_window_is_acknowledged_under_rfc793() {
    let mut r = established(Profile::Rfc793);
    let t = r.now;
    r.a.handle_packet(t, &forged(b_sock(), a_sock(), 5, 0, Flags::SYN));
    assert_eq!(state(&r.a, r.ca), State::Established);
    assert_eq!(shows(&out(&mut r.a, t)), ["<SEQ=101><ACK=301><CTL=ACK>"]);
}

#[test]
fn challenge_acks_are_rate_limited_per_connection() {
    let mut r = established(Profile::Rfc9293);
    let limit = Config::default().challenge_ack_limit as usize;
    let t = r.now;
    for i in 0..limit + 5 {
        r.a.handle_packet(
            t,
            &forged(b_sock(), a_sock(), 400 + i as u32, 0, Flags::RST),
        );
        let acks = out(&mut r.a, t);
        assert_eq!(acks.len(), usize::from(i < limit), "challenge ACK {i}");
    }
    // A second later the allowance is back.
    let later = t + std::time::Duration::from_secs(1);
    r.a.handle_packet(later, &forged(b_sock(), a_sock(), 450, 0, Flags::RST));
    assert_eq!(out(&mut r.a, later).len(), 1);
    assert!(dropped(&mut r).contains(&DropReason::ChallengeAckLimited));
}

#[test]
fn ack_below_snd_una_minus_max_snd_wnd_is_discarded_with_an_ack_under_rfc9293() {
    let mut r = established(Profile::Rfc9293);
    let t = r.now;
    let max_wnd = r.a.status(r.ca).unwrap().snd_wnd;
    // Data on an ACK far in the past: RFC 5961 §5 blind data injection.
    let bad_ack = 101u32.wrapping_sub(max_wnd).wrapping_sub(1);
    r.a.handle_packet(t, &forged(b_sock(), a_sock(), 301, bad_ack, Flags::ACK));
    assert_eq!(shows(&out(&mut r.a, t)), ["<SEQ=101><ACK=301><CTL=ACK>"]);
    assert_eq!(dropped(&mut r), [DropReason::UnacceptableAck]);
}
