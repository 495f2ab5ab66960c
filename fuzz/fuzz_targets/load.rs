//! Arbitrary bytes as an artifact: the loader refuses or loads, and never
//! crashes (`kiln_tests::fuzzing::load_bytes`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiln_tests::fuzzing::load_bytes(data));
