#![no_main]
//! See `synack::fuzzing::script`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = synack::fuzzing::script(data);
});
