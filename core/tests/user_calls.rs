//! The user calls of RFC 9293 §3.10.1–3.10.6 in every state: each call's result, the state it
//! leads to and what it sends, as one table checked against the RFC's text.

mod net;

use net::*;
use synack_core::{Profile, State, UserError};

/// What one call did: its result, the state after, and the segments it caused.
fn outcome<T: std::fmt::Debug>(result: Result<T, UserError>, r: &mut Reached) -> String {
    let result = match result {
        Ok(_) => "ok".to_string(),
        Err(e) => format!("\"{e}\""),
    };
    let sent = shows(&out(&mut r.a, r.now)).join("");
    let after = state(&r.a, r.ca);
    if sent.is_empty() {
        format!("{result} -> {after}")
    } else {
        format!("{result} -> {after} {sent}")
    }
}

fn row(s: State, call: &str) -> String {
    let mut r = reach(s, Profile::Rfc9293);
    let (ca, now) = (r.ca, r.now);
    let cell = match call {
        "OPEN" => {
            let result = if s == State::Listen {
                r.a.listen(A_PORT).map(|_| ())
            } else {
                r.a.connect(now, b_sock(), Some(A_PORT)).map(|_| ())
            };
            // A fresh OPEN from CLOSED makes a new socket; show what it sent.
            outcome(result, &mut r)
        }
        "SEND" => {
            let result = r.a.send(now, ca, b"x");
            outcome(result, &mut r)
        }
        "RECEIVE" => {
            let result = r.a.recv(ca, &mut [0u8; 16]);
            outcome(result, &mut r)
        }
        "CLOSE" => {
            let result = r.a.close(ca);
            outcome(result, &mut r)
        }
        "ABORT" => {
            let result = r.a.abort(ca);
            outcome(result, &mut r)
        }
        "STATUS" => {
            let result = r.a.status(ca).map(|st| st.state);
            match result {
                Ok(st) => format!("state = {st}"),
                Err(e) => format!("\"{e}\""),
            }
        }
        _ => unreachable!(),
    };
    format!("{s} {call}: {cell}")
}

#[test]
fn every_user_call_in_every_state() {
    let calls = ["OPEN", "SEND", "RECEIVE", "CLOSE", "ABORT", "STATUS"];
    let got: Vec<String> = State::ALL
        .iter()
        .flat_map(|&s| calls.iter().map(move |c| row(s, c)))
        .collect();
    // RFC 9293 §3.10.1 to §3.10.6, state by state. A holds ISS 100 and has received up to 301
    // (and 302 past B's FIN); CLOSED is a connection A aborted.
    let expected = [
        // CLOSED: the TCB does not exist; OPEN makes a new connection.
        "CLOSED OPEN: ok -> CLOSED <SEQ=100><CTL=SYN>",
        "CLOSED SEND: \"connection does not exist\" -> CLOSED",
        "CLOSED RECEIVE: \"connection does not exist\" -> CLOSED",
        "CLOSED CLOSE: \"connection does not exist\" -> CLOSED",
        "CLOSED ABORT: \"connection does not exist\" -> CLOSED",
        "CLOSED STATUS: \"connection does not exist\"",
        "LISTEN OPEN: \"connection already exists\" -> LISTEN",
        "LISTEN SEND: \"remote socket unspecified\" -> LISTEN",
        "LISTEN RECEIVE: ok -> LISTEN",
        "LISTEN CLOSE: ok -> CLOSED",
        "LISTEN ABORT: ok -> CLOSED",
        "LISTEN STATUS: state = LISTEN",
        "SYN-SENT OPEN: \"connection already exists\" -> SYN-SENT",
        "SYN-SENT SEND: ok -> SYN-SENT",
        "SYN-SENT RECEIVE: ok -> SYN-SENT",
        "SYN-SENT CLOSE: ok -> CLOSED",
        "SYN-SENT ABORT: ok -> CLOSED",
        "SYN-SENT STATUS: state = SYN-SENT",
        "SYN-RECEIVED OPEN: \"connection already exists\" -> SYN-RECEIVED",
        "SYN-RECEIVED SEND: ok -> SYN-RECEIVED",
        "SYN-RECEIVED RECEIVE: ok -> SYN-RECEIVED",
        "SYN-RECEIVED CLOSE: ok -> FIN-WAIT-1 <SEQ=101><ACK=301><CTL=FIN,ACK>",
        "SYN-RECEIVED ABORT: ok -> CLOSED <SEQ=101><CTL=RST>",
        "SYN-RECEIVED STATUS: state = SYN-RECEIVED",
        "ESTABLISHED OPEN: \"connection already exists\" -> ESTABLISHED",
        "ESTABLISHED SEND: ok -> ESTABLISHED <SEQ=101><ACK=301><CTL=ACK,PSH><DATA=1>",
        "ESTABLISHED RECEIVE: ok -> ESTABLISHED",
        "ESTABLISHED CLOSE: ok -> FIN-WAIT-1 <SEQ=101><ACK=301><CTL=FIN,ACK>",
        "ESTABLISHED ABORT: ok -> CLOSED <SEQ=101><CTL=RST>",
        "ESTABLISHED STATUS: state = ESTABLISHED",
        "FIN-WAIT-1 OPEN: \"connection already exists\" -> FIN-WAIT-1",
        "FIN-WAIT-1 SEND: \"connection closing\" -> FIN-WAIT-1",
        "FIN-WAIT-1 RECEIVE: ok -> FIN-WAIT-1",
        "FIN-WAIT-1 CLOSE: \"connection closing\" -> FIN-WAIT-1",
        "FIN-WAIT-1 ABORT: ok -> CLOSED <SEQ=102><CTL=RST>",
        "FIN-WAIT-1 STATUS: state = FIN-WAIT-1",
        "FIN-WAIT-2 OPEN: \"connection already exists\" -> FIN-WAIT-2",
        "FIN-WAIT-2 SEND: \"connection closing\" -> FIN-WAIT-2",
        "FIN-WAIT-2 RECEIVE: ok -> FIN-WAIT-2",
        "FIN-WAIT-2 CLOSE: \"connection closing\" -> FIN-WAIT-2",
        "FIN-WAIT-2 ABORT: ok -> CLOSED <SEQ=102><CTL=RST>",
        "FIN-WAIT-2 STATUS: state = FIN-WAIT-2",
        "CLOSE-WAIT OPEN: \"connection already exists\" -> CLOSE-WAIT",
        "CLOSE-WAIT SEND: ok -> CLOSE-WAIT <SEQ=101><ACK=302><CTL=ACK,PSH><DATA=1>",
        "CLOSE-WAIT RECEIVE: \"connection closing\" -> CLOSE-WAIT",
        "CLOSE-WAIT CLOSE: ok -> LAST-ACK <SEQ=101><ACK=302><CTL=FIN,ACK>",
        "CLOSE-WAIT ABORT: ok -> CLOSED <SEQ=101><CTL=RST>",
        "CLOSE-WAIT STATUS: state = CLOSE-WAIT",
        "CLOSING OPEN: \"connection already exists\" -> CLOSING",
        "CLOSING SEND: \"connection closing\" -> CLOSING",
        "CLOSING RECEIVE: \"connection closing\" -> CLOSING",
        "CLOSING CLOSE: \"connection closing\" -> CLOSING",
        "CLOSING ABORT: ok -> CLOSED",
        "CLOSING STATUS: state = CLOSING",
        "LAST-ACK OPEN: \"connection already exists\" -> LAST-ACK",
        "LAST-ACK SEND: \"connection closing\" -> LAST-ACK",
        "LAST-ACK RECEIVE: \"connection closing\" -> LAST-ACK",
        "LAST-ACK CLOSE: \"connection closing\" -> LAST-ACK",
        "LAST-ACK ABORT: ok -> CLOSED",
        "LAST-ACK STATUS: state = LAST-ACK",
        "TIME-WAIT OPEN: \"connection already exists\" -> TIME-WAIT",
        "TIME-WAIT SEND: \"connection closing\" -> TIME-WAIT",
        "TIME-WAIT RECEIVE: \"connection closing\" -> TIME-WAIT",
        "TIME-WAIT CLOSE: \"connection closing\" -> TIME-WAIT",
        "TIME-WAIT ABORT: ok -> CLOSED",
        "TIME-WAIT STATUS: state = TIME-WAIT",
    ];
    let got: Vec<&str> = got.iter().map(String::as_str).collect();
    for (g, e) in got.iter().zip(expected.iter()) {
        assert_eq!(g, e);
    }
    assert_eq!(got.len(), expected.len());
}
