//! Traps from hand-assembled code: signals in registered code become
//! `Trap`s with the right code and a Wasm backtrace, and the host survives.
//!
//! Traps raised from Rust code called by Wasm (`raise_trap`,
//! `raise_host_error`) are crate-private and tested inside the crate, in
//! `src/vm/traps/tests.rs`.

mod common;

use std::sync::Arc;

use common::*;
use kiln_format::TrapCode;
use kiln_loader::code::LoadedCode;
use kiln_loader::traps::catch_traps;
use kiln_loader::Trap;

fn load(funcs: Vec<Func>) -> Arc<LoadedCode> {
    load_bytes(&TestArtifact::new(funcs).build()).expect("artifact loads")
}

/// Calls function `index` as `extern "C" fn(a, b)` under `catch_traps`.
fn call(code: &LoadedCode, index: u32, a: usize, b: usize) -> Result<(), Box<Trap>> {
    let f: extern "C" fn(usize, usize) = unsafe { std::mem::transmute(code.func_code(index).unwrap()) };
    unsafe { catch_traps(&mut || f(a, b)) }
}

fn frame_names(trap: &Trap) -> Vec<&str> {
    trap.backtrace.iter().map(|f| f.func_name.as_deref().unwrap_or("?")).collect()
}

fn unreachable_pair() -> Vec<Func> {
    vec![
        Func::new("outer", &concat(&[&PROLOGUE, &CALL_REL32, &EPILOGUE])).call(4, "inner"),
        Func::new("inner", &concat(&[&PROLOGUE, &UD2])).trap(4, TrapCode::UNREACHABLE),
    ]
}

#[test]
fn ud2_traps_with_a_backtrace() {
    let code = load(unreachable_pair());
    let trap = call(&code, 0, 0, 0).unwrap_err();
    assert_eq!(trap.code, Some(TrapCode::UNREACHABLE));
    assert_eq!(frame_names(&trap), ["inner", "outer"]);
    assert_eq!(trap.backtrace[0].func_index, 1);
    assert_eq!(trap.backtrace[0].module_name.as_deref(), Some("test"));
    assert_eq!(
        trap.to_string(),
        // Hand-made code has no `.kiln.wasm_offsets`, so no offsets.
        "wasm trap: unreachable\n  0: test!inner\n  1: test!outer"
    );
    // The thread is fine afterwards, and traps again.
    assert!(call(&code, 0, 0, 0).is_err());
}

fn inaccessible_page() -> usize {
    let page = unsafe {
        libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
    };
    assert_ne!(page, libc::MAP_FAILED);
    page as usize
}

#[test]
fn memory_fault_uses_the_trap_record() {
    // mov eax, [rdi]; ret
    let code = load(vec![Func::new("load", &[0x8b, 0x07, 0xc3]).trap(0, TrapCode::MEMORY_OUT_OF_BOUNDS)]);
    let trap = call(&code, 0, inaccessible_page(), 0).unwrap_err();
    assert_eq!(trap.code, Some(TrapCode::MEMORY_OUT_OF_BOUNDS));
    assert_eq!(trap.message, "out of bounds memory access");
    assert_eq!(frame_names(&trap), ["load"]);
}

#[test]
fn fault_without_record_is_reported_not_misnamed() {
    let code = load(vec![Func::new("load", &[0x8b, 0x07, 0xc3])]);
    let trap = call(&code, 0, inaccessible_page(), 0).unwrap_err();
    assert_eq!(trap.code, None);
    assert!(trap.message.contains("no trap recorded: SIGSEGV"), "{}", trap.message);
}

#[test]
fn division_by_zero_raises_sigfpe() {
    // xor ecx, ecx; mov eax, 1; cdq; idiv ecx; ret
    let f = Func::new("div", &[0x31, 0xc9, 0xb8, 1, 0, 0, 0, 0x99, 0xf7, 0xf9, 0xc3])
        .trap(8, TrapCode::INTEGER_DIVISION_BY_ZERO);
    let trap = call(&load(vec![f]), 0, 0, 0).unwrap_err();
    assert_eq!(trap.code, Some(TrapCode::INTEGER_DIVISION_BY_ZERO));
}

#[test]
fn stack_overflow_on_the_guard_page_is_caught() {
    // Endless recursion with no prologue stack check: only the guard page
    // stops it, and the handler runs on the alternate stack.
    let recurse = Func::new("recurse", &concat(&[&PROLOGUE, &CALL_REL32, &EPILOGUE])).call(4, "recurse");
    let code = load(vec![recurse]);
    let thread_code = code.clone();
    let trap = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let first = call(&thread_code, 0, 0, 0).unwrap_err();
            // The same thread can overflow again.
            let second = call(&thread_code, 0, 0, 0).unwrap_err();
            assert_eq!(second.code, Some(TrapCode::STACK_OVERFLOW));
            first
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(trap.code, Some(TrapCode::STACK_OVERFLOW));
    assert!(trap.backtrace.len() > 10 && trap.backtrace.iter().all(|f| f.func_index == 0));
}

thread_local! {
    static INNER: std::cell::RefCell<Option<Result<(), Box<Trap>>>> = const { std::cell::RefCell::new(None) };
    static INNER_CODE: std::cell::RefCell<Option<Arc<LoadedCode>>> = const { std::cell::RefCell::new(None) };
}

extern "C" fn host_calls_wasm_again() {
    let code = INNER_CODE.with(|c| c.borrow().clone()).unwrap();
    let result = call(&code, 0, 0, 0);
    INNER.with(|r| *r.borrow_mut() = Some(result));
}

#[test]
fn nested_activations_unwind_only_the_innermost() {
    let inner = load(unreachable_pair());
    INNER_CODE.with(|c| *c.borrow_mut() = Some(inner));
    let outer = load(calls_out());
    let limits = [0usize; 4];
    call(&outer, 0, host_calls_wasm_again as *const () as usize, limits.as_ptr() as usize)
        .expect("outer call completes");
    let inner_result = INNER.with(|r| r.borrow_mut().take()).unwrap();
    let trap = inner_result.unwrap_err();
    assert_eq!(trap.code, Some(TrapCode::UNREACHABLE));
    assert_eq!(frame_names(&trap), ["inner", "outer"], "the walk stops at the host frame");
}

#[test]
fn panics_in_the_body_propagate() {
    let caught = std::panic::catch_unwind(|| unsafe { catch_traps(&mut || panic!("boom")) });
    assert!(caught.is_err());
    // The recovery point was popped: a trap still lands in a new catch_traps.
    let code = load(unreachable_pair());
    assert!(call(&code, 0, 0, 0).is_err());
}

#[test]
fn traps_on_many_threads_while_modules_come_and_go() {
    let threads: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                for _ in 0..200 {
                    if i % 2 == 0 {
                        let code = load(unreachable_pair());
                        let trap = call(&code, 0, 0, 0).unwrap_err();
                        assert_eq!(frame_names(&trap), ["inner", "outer"]);
                    } else {
                        drop(load(vec![Func::new("f", &[0xc3])]));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

thread_local! {
    static WALKED: std::cell::RefCell<Option<(bool, Vec<usize>)>> = const { std::cell::RefCell::new(None) };
}

/// Called by `calls_out` with its own address and the limits block.
extern "C" fn walk_from_host(_self: usize, limits: *const usize) {
    let (exit_fp, exit_pc, entry_fp) = unsafe { (*limits.add(1), *limits.add(2), *limits.add(3)) };
    let mut pcs = Vec::new();
    let complete = unsafe { kiln_loader::traps::walk_wasm_frames(exit_pc, exit_fp, entry_fp, |f| pcs.push(f.pc)) };
    WALKED.with(|w| *w.borrow_mut() = Some((complete, pcs)));
}

#[test]
fn frame_walk_goes_from_exit_to_entry() {
    let mut funcs = calls_out();
    // A stand-in entry trampoline: records its frame pointer as ENTRY_FP.
    funcs.push(
        Func::new(
            "entry",
            &concat(&[&PROLOGUE, &[0x48, 0x89, 0x6e, 0x18], &CALL_REL32, &EPILOGUE]), // mov [rsi+24], rbp; call outer
        )
        .call(8, "outer"),
    );
    let code = load(funcs);
    let limits = [0usize; 4];
    let entry: extern "C" fn(usize, usize) = unsafe { std::mem::transmute(code.func_code(2).unwrap()) };
    unsafe { catch_traps(&mut || entry(walk_from_host as *const () as usize, limits.as_ptr() as usize)) }.unwrap();
    let (complete, pcs) = WALKED.with(|w| w.borrow_mut().take()).unwrap();
    assert!(complete);
    let funcs: Vec<u32> = pcs.iter().map(|&pc| code.func_at(pc - 1).unwrap()).collect();
    assert_eq!(funcs, [1, 0], "calls_out, then outer; the entry frame itself is not a Wasm frame");
}
