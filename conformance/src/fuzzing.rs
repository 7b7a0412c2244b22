//! Fuzz target bodies.
//!
//! Each function takes the raw input of one fuzz iteration and panics if, and only if, it finds
//! a bug. The wrappers in `fuzz/fuzz_targets/` call them under libFuzzer; the stable test
//! `tests/corpus_replay.rs` calls them on every file under `corpus/<target>/`.

use synack_core::wire::Packet;

/// `wire`: parse arbitrary bytes as IPv4 + TCP. When they parse, emitting must succeed, the
/// emitted bytes must parse to the same fields, and emitting those fields again must give the
/// same bytes (emission is a function of the fields alone).
pub fn wire(data: &[u8]) {
    let Ok(packet) = Packet::parse(data) else {
        return;
    };
    let bytes = match packet.to_bytes() {
        Ok(bytes) => bytes,
        Err(e) => panic!("a parsed packet failed to emit: {e}\n{packet:#?}"),
    };
    let again = match Packet::parse(&bytes) {
        Ok(again) => again,
        Err(e) => panic!("an emitted packet failed to parse: {e}\n{packet:#?}"),
    };
    assert_eq!(packet, again, "fields changed across emit and parse");
    assert_eq!(
        again.to_bytes().ok().as_deref(),
        Some(bytes.as_slice()),
        "emission is not a function of the fields"
    );
}
