//! Signals that are not Wasm traps reach the handler installed before
//! kiln's. Its own process: the previous handler must be in place before
//! kiln installs its handlers.

mod common;

use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use kiln_format::TrapCode;

use kiln_loader::traps::{catch_traps, init_signal_handlers};

static FIXED: AtomicUsize = AtomicUsize::new(0);

/// A host's own SIGSEGV handler: makes the faulting page readable and
/// writable, then retries the access.
extern "C" fn host_handler(_signal: i32, info: *mut libc::siginfo_t, _context: *mut c_void) {
    unsafe {
        let page = ((*info).si_addr() as usize) & !4095;
        libc::mprotect(page as *mut c_void, 4096, libc::PROT_READ | libc::PROT_WRITE);
    }
    FIXED.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn foreign_segfaults_go_to_the_previous_handler() {
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = host_handler as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGSEGV, &action, std::ptr::null_mut()), 0);
    }
    init_signal_handlers();
    init_signal_handlers();

    let new_page = || unsafe {
        let p = libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
        assert_ne!(p, libc::MAP_FAILED);
        p.cast::<u8>()
    };

    // Outside any Wasm call.
    let page = new_page();
    unsafe { std::ptr::write_volatile(page, 7) };
    assert_eq!(unsafe { std::ptr::read_volatile(page) }, 7);
    assert_eq!(FIXED.load(Ordering::SeqCst), 1);

    // Inside catch_traps, but in host code: still not ours.
    let page = new_page();
    let result = unsafe { catch_traps(&mut || std::ptr::write_volatile(page, 9)) };
    assert!(result.is_ok());
    assert_eq!(unsafe { std::ptr::read_volatile(page) }, 9);
    assert_eq!(FIXED.load(Ordering::SeqCst), 2);

    // Wasm faults are still kiln's.
    let code = load_bytes(
        &TestArtifact::new(vec![Func::new("f", &concat(&[&PROLOGUE, &UD2])).trap(4, TrapCode::UNREACHABLE)]).build(),
    )
    .unwrap();
    let f: extern "C" fn() = unsafe { std::mem::transmute(code.func_code(0).unwrap()) };
    let trap = unsafe { catch_traps(&mut || f()) }.unwrap_err();
    assert_eq!(trap.code, Some(TrapCode::UNREACHABLE));
    assert_eq!(FIXED.load(Ordering::SeqCst), 2);
}
