//! wasm-smith modules through kilnc: it never panics, compiles every valid
//! module, refuses every invalid one, and the loader loads what it made
//! (`kiln_tests::fuzzing::compile_module`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiln_tests::fuzzing::compile_module(data));
