//! Traps raised from Rust code called by Wasm: `raise_trap` and
//! `raise_host_error` are crate-private, so their tests live here. The
//! Wasm is hand-assembled with the integration tests' artifact builder.
#![allow(unsafe_code)]

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::sync::Arc;

use common::*;
use kiln_format::{runtime_limits, TrapCode};

use super::{catch_traps, catch_traps_with_limits, raise_host_error, raise_trap, Trap};
use crate::code::LoadedCode;

fn load(funcs: Vec<Func>) -> Arc<LoadedCode> {
    load_bytes(&TestArtifact::new(funcs).build()).expect("artifact loads")
}

fn frame_names(trap: &Trap) -> Vec<&str> {
    trap.backtrace.iter().map(|f| f.func_name.as_deref().unwrap_or("?")).collect()
}

/// A builtin: called by the hand-assembled `calls_out`, like compiled code
/// calls a builtin.
extern "C" fn trap_from_builtin() {
    // SAFETY: only `calls_out` calls this, inside `catch_traps_with_limits`;
    // the frames in between are hand-assembled ones that own nothing.
    unsafe { raise_trap(TrapCode::INTEGER_OVERFLOW) }
}

/// A failing host function, called like `trap_from_builtin`.
extern "C" fn fail_from_host() {
    // SAFETY: as in `trap_from_builtin`, inside `catch_traps`; the error
    // moves into the recovery point.
    unsafe { raise_host_error("the host said no".into()) }
}

#[test]
fn builtin_trap_unwinds_with_backtrace_from_exit_record() {
    assert_eq!(runtime_limits::LAST_EXIT_FP, 8);
    assert_eq!(runtime_limits::LAST_EXIT_PC, 16);
    let code = load(calls_out());
    // SAFETY: `outer` is `extern "C" fn(usize, usize)` by construction.
    let f: extern "C" fn(usize, usize) = unsafe { std::mem::transmute(code.func_code(0).unwrap()) };
    let limits = [0usize; 4];
    // SAFETY: the body holds nothing with a destructor across the call, and
    // `limits` outlives it, with the exit record that `calls_out` writes.
    let trap = unsafe {
        catch_traps_with_limits(limits.as_ptr().cast(), &mut || {
            f(trap_from_builtin as *const () as usize, limits.as_ptr() as usize)
        })
    }
    .unwrap_err();
    assert_eq!(trap.code, Some(TrapCode::INTEGER_OVERFLOW));
    assert_eq!(frame_names(&trap), ["calls_out", "outer"]);

    // SAFETY: as above, with no limits block.
    let trap =
        unsafe { catch_traps(&mut || f(fail_from_host as *const () as usize, limits.as_ptr() as usize)) }.unwrap_err();
    assert_eq!(trap.code, None);
    assert_eq!(trap.to_string(), "the host said no");
    assert!(trap.backtrace.is_empty(), "no limits block, no backtrace");
}

#[test]
fn raise_trap_outside_catch_traps_panics() {
    // SAFETY: with no `catch_traps` on the thread there is nothing to jump
    // to: `raise_trap` panics before skipping any frame.
    let std_thread = std::thread::spawn(|| unsafe { raise_trap(TrapCode::UNREACHABLE) });
    assert!(std_thread.join().is_err());
}
