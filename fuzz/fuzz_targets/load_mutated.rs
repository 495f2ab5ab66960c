//! A valid artifact damaged by the fuzzer's bytes: the loader refuses or
//! loads, and never crashes (`kiln_tests::fuzzing::load_mutated_artifact`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiln_tests::fuzzing::load_mutated_artifact(data));
