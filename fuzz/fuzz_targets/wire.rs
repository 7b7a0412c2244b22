#![no_main]
//! Parses arbitrary bytes as IPv4 + TCP; see `synack::fuzzing::wire`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| synack::fuzzing::wire(data));
