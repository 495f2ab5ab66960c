//! The same input and flags give a byte-identical artifact, whatever the
//! number of compile threads.

use kiln_compiler::{compile, CompileOptions, OptLevel};

const SEVERAL: &str = include_str!("modules/several_functions.wat");

fn compile_with(threads: Option<usize>, opt_level: OptLevel) -> Vec<u8> {
    let options = CompileOptions { threads, opt_level, ..Default::default() };
    compile(SEVERAL.as_bytes(), &options).unwrap_or_else(|e| panic!("compile failed: {e}"))
}

#[test]
fn compiling_twice_gives_identical_bytes() {
    assert_eq!(compile_with(None, OptLevel::Speed), compile_with(None, OptLevel::Speed));
}

#[test]
fn thread_count_does_not_change_the_bytes() {
    for opt_level in [OptLevel::None, OptLevel::Speed, OptLevel::SpeedAndSize] {
        let one = compile_with(Some(1), opt_level);
        for threads in [2, 3, 8] {
            assert!(one == compile_with(Some(threads), opt_level), "{threads} threads at {opt_level} differ from 1");
        }
    }
}

#[test]
fn opt_level_changes_the_flags_hash() {
    let header = |bytes: &[u8]| {
        use object::{Object, ObjectSection};
        let file = object::File::parse(bytes).unwrap();
        let meta = file.section_by_name(kiln_format::SECTION_META).unwrap().data().unwrap().to_vec();
        kiln_format::ArtifactHeader::from_bytes(&meta).unwrap()
    };
    let none = header(&compile_with(Some(1), OptLevel::None));
    let speed = header(&compile_with(Some(1), OptLevel::Speed));
    assert_ne!(none.flags_hash, speed.flags_hash);
}

#[test]
fn epoch_checks_are_deterministic_too() {
    let compile_epoch = |threads| {
        let options = CompileOptions { threads, epoch_interruption: true, ..Default::default() };
        compile(SEVERAL.as_bytes(), &options).unwrap_or_else(|e| panic!("compile failed: {e}"))
    };
    let one = compile_epoch(Some(1));
    for threads in [None, Some(2), Some(8)] {
        assert!(one == compile_epoch(threads), "{threads:?} threads differ from 1");
    }
    assert!(one != compile_with(Some(1), OptLevel::Speed), "the checks change the code");
}

#[test]
fn fuel_metering_is_deterministic_too() {
    let compile_fuel = |threads, epoch_interruption| {
        let options = CompileOptions { threads, fuel: true, epoch_interruption, ..Default::default() };
        compile(SEVERAL.as_bytes(), &options).unwrap_or_else(|e| panic!("compile failed: {e}"))
    };
    for epoch_interruption in [false, true] {
        let one = compile_fuel(Some(1), epoch_interruption);
        for threads in [None, Some(2), Some(8)] {
            assert!(one == compile_fuel(threads, epoch_interruption), "{threads:?} threads differ from 1");
        }
        assert!(one != compile_with(Some(1), OptLevel::Speed), "metering changes the code");
    }
    assert!(compile_fuel(Some(1), false) != compile_fuel(Some(1), true), "epoch checks change the code");
}
