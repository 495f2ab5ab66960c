//! Signal handlers for SIGSEGV, SIGBUS, SIGILL and SIGFPE, and the
//! per-thread alternate signal stack they run on.
//!
//! A signal whose PC lies in registered Wasm code, on a thread inside
//! `catch_traps`, is a Wasm trap: the handler records the trap and the Wasm
//! frames, then jumps to the innermost recovery point. Any other signal goes
//! to the handler that was installed before ours.
#![allow(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::ffi::{c_int, c_void};
use std::sync::{Once, OnceLock};

use kiln_format::TrapCode;

use super::backtrace::capture;
use super::recovery::{current_recovery_point, unwind_to, Unwind};
use crate::code::with_code_ranges;

const SIGNALS: [c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

/// The dispositions found before ours, in `SIGNALS` order.
static PREVIOUS: OnceLock<[libc::sigaction; 4]> = OnceLock::new();
static INSTALL: Once = Once::new();

/// Size of the alternate signal stack kiln gives threads that have none
/// (or a smaller one, like the few KiB Rust's runtime installs).
const ALT_STACK_SIZE: usize = 64 * 1024;

/// A fault at most this far from the stack pointer, in Wasm code without a
/// trap record, is taken for a guard-page hit: a stack overflow.
const STACK_FAULT_WINDOW: usize = 64 * 1024;

/// Installs the trap handlers (once per process) and makes sure the calling
/// thread has an alternate signal stack (once per thread), so that even a
/// stack overflow that hits the guard page can be handled. Idempotent and
/// cheap after the first call; `catch_traps` calls it on every entry.
#[inline]
pub fn init_signal_handlers() {
    INSTALL.call_once(install_handlers);
    ensure_alt_stack();
}

fn install_handlers() {
    let mut previous = [empty_sigaction(); 4];
    for (slot, &signal) in previous.iter_mut().zip(&SIGNALS) {
        // SAFETY: querying the current disposition writes only `slot`.
        unsafe {
            libc::sigaction(signal, std::ptr::null(), slot);
        }
    }
    // Saved before installing, so that the handler can always chain.
    let _ = PREVIOUS.set(previous);
    for &signal in &SIGNALS {
        let mut action = empty_sigaction();
        action.sa_sigaction = handle_signal as *const () as usize;
        // SA_NODEFER: the handler leaves by siglongjmp without restoring a
        // mask, so the signal must not be blocked while it runs.
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
        // SAFETY: `action` is fully initialised; `handle_signal` has the
        // SA_SIGINFO signature.
        unsafe {
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

fn empty_sigaction() -> libc::sigaction {
    // SAFETY: sigaction is a plain C struct for which all-zero is valid
    // (SIG_DFL, empty mask, no flags).
    unsafe { std::mem::zeroed() }
}

struct Registers {
    pc: usize,
    fp: usize,
    sp: usize,
}

/// # Safety
///
/// `context` is the `ucontext_t` the kernel passed to an SA_SIGINFO handler.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
unsafe fn registers(context: *mut c_void) -> Option<Registers> {
    if context.is_null() {
        return None;
    }
    // SAFETY: per the contract.
    let gregs = unsafe { &(*context.cast::<libc::ucontext_t>()).uc_mcontext.gregs };
    Some(Registers {
        pc: gregs[libc::REG_RIP as usize] as usize,
        fp: gregs[libc::REG_RBP as usize] as usize,
        sp: gregs[libc::REG_RSP as usize] as usize,
    })
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
unsafe fn registers(_context: *mut c_void) -> Option<Registers> {
    None
}

unsafe extern "C" fn handle_signal(signal: c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo and ucontext.
    unsafe {
        if let Some(rp) = claim_wasm_trap(signal, info, context) {
            unwind_to(rp);
        }
        chain(signal, info, context);
    }
}

/// Decides whether the signal is a Wasm trap of this thread. If so, fills
/// in the innermost recovery point and returns it; the caller jumps to it
/// after the registry read section has ended.
///
/// Async-signal-safe: TLS reads, atomics, binary searches, stack reads.
unsafe fn claim_wasm_trap(
    signal: c_int,
    info: *mut libc::siginfo_t,
    context: *mut c_void,
) -> Option<*mut super::recovery::RecoveryPoint> {
    let rp = current_recovery_point();
    if rp.is_null() {
        return None;
    }
    // SAFETY: `context` comes from the kernel.
    let regs = unsafe { registers(context)? };
    if info.is_null() {
        return None;
    }
    // SAFETY: `info` comes from the kernel.
    let (sent, address) = unsafe { ((*info).si_code <= 0, (*info).si_addr() as usize) };
    // A signal sent with kill/tgkill/sigqueue (si_code <= 0) is no fault of
    // the Wasm code that happened to be running; it is the previous
    // handler's business. Only kernel-generated faults fill si_addr.
    if sent {
        return None;
    }
    with_code_ranges(|ranges| {
        let code = ranges.code_at(regs.pc)?;
        let trap = code.trap_at(regs.pc).or_else(|| {
            let is_memory_fault = signal == libc::SIGSEGV || signal == libc::SIGBUS;
            let near_stack = address.abs_diff(regs.sp) < STACK_FAULT_WINDOW;
            (is_memory_fault && near_stack).then_some(TrapCode::STACK_OVERFLOW)
        });
        // SAFETY: `rp` is this thread's innermost live recovery point: it is
        // unpublished before its frame ends. The walk reads only
        // `[sp, stack_top)`, the live stack between the faulting frame and
        // `catch_traps`.
        unsafe {
            let upper = (*rp).stack_top;
            (*rp).captured = capture(ranges, regs.pc, regs.fp, regs.sp, upper, &mut (*rp).frames);
            (*rp).first_is_fault = true;
            std::ptr::write(&raw mut (*rp).unwind, Unwind::Fault { code: trap, signal, pc: regs.pc, address });
        }
        Some(rp)
    })
}

/// Hands the signal to the disposition that was there before ours.
///
/// # Safety
///
/// Called from the signal handler with its arguments.
unsafe fn chain(signal: c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    let Some(index) = SIGNALS.iter().position(|&s| s == signal) else { return };
    let previous = PREVIOUS.get().map(|p| p[index]).unwrap_or_else(empty_sigaction);
    let handler = previous.sa_sigaction;
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // Restore the default action and let it happen: a synchronous fault
        // re-executes the instruction and the default action kills the
        // process with the right signal; a sent signal is raised again.
        // (Ignoring a fault signal would loop forever, so SIG_IGN is
        // treated as SIG_DFL.)
        let default = empty_sigaction();
        // SAFETY: restoring SIG_DFL and re-raising are async-signal-safe.
        unsafe {
            libc::sigaction(signal, &default, std::ptr::null_mut());
            let sent = !info.is_null() && (*info).si_code <= 0;
            if sent {
                libc::raise(signal);
            }
        }
        return;
    }
    if previous.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: SA_SIGINFO means the stored address is a three-argument
        // handler; we pass on the kernel's own arguments.
        unsafe {
            let f: extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void) = std::mem::transmute(handler);
            f(signal, info, context);
        }
    } else {
        // SAFETY: without SA_SIGINFO the stored address is a one-argument handler.
        unsafe {
            let f: extern "C" fn(c_int) = std::mem::transmute(handler);
            f(signal);
        }
    }
}

/// An alternate signal stack mapped by kiln for one thread, with a guard
/// page below it.
struct AltStack {
    mapping: *mut c_void,
    mapping_len: usize,
    stack: *mut c_void,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        // SAFETY: stop using the stack (only if it is still the installed
        // one), then unmap the mapping we created.
        unsafe {
            let mut current: libc::stack_t = std::mem::zeroed();
            if libc::sigaltstack(std::ptr::null(), &mut current) == 0 && current.ss_sp == self.stack {
                let disable = libc::stack_t { ss_sp: std::ptr::null_mut(), ss_flags: libc::SS_DISABLE, ss_size: 0 };
                libc::sigaltstack(&disable, std::ptr::null_mut());
            }
            libc::munmap(self.mapping, self.mapping_len);
        }
    }
}

thread_local! {
    static ALT_STACK_READY: Cell<bool> = const { Cell::new(false) };
    static ALT_STACK: RefCell<Option<AltStack>> = const { RefCell::new(None) };
}

#[inline]
fn ensure_alt_stack() {
    if ALT_STACK_READY.try_with(Cell::get).unwrap_or(true) {
        return;
    }
    // SAFETY: `stack_t` is plain data, for which all zeroes is a valid value.
    let mut current: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: sigaltstack only reads/writes the given structs.
    let rc = unsafe { libc::sigaltstack(std::ptr::null(), &mut current) };
    let usable = rc == 0 && current.ss_flags & libc::SS_DISABLE == 0 && current.ss_size >= ALT_STACK_SIZE;
    if !usable {
        if let Some(stack) = map_alt_stack() {
            let _ = ALT_STACK.try_with(|slot| *slot.borrow_mut() = Some(stack));
        }
    }
    let _ = ALT_STACK_READY.try_with(|ready| ready.set(true));
}

fn map_alt_stack() -> Option<AltStack> {
    // SAFETY: sysconf has no preconditions.
    let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        n if n > 0 => n as usize,
        _ => 4096,
    };
    let mapping_len = ALT_STACK_SIZE + page;
    // SAFETY: a fresh anonymous mapping aliases nothing; the lowest page
    // stays PROT_NONE as a guard, the rest becomes the stack and is handed
    // to the kernel with sigaltstack.
    unsafe {
        let mapping = libc::mmap(
            std::ptr::null_mut(),
            mapping_len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if mapping == libc::MAP_FAILED {
            return None;
        }
        let stack = mapping.cast::<u8>().add(page).cast::<c_void>();
        let stack_ok = libc::mprotect(stack, ALT_STACK_SIZE, libc::PROT_READ | libc::PROT_WRITE) == 0;
        let new = libc::stack_t { ss_sp: stack, ss_flags: 0, ss_size: ALT_STACK_SIZE };
        if !stack_ok || libc::sigaltstack(&new, std::ptr::null_mut()) != 0 {
            libc::munmap(mapping, mapping_len);
            return None;
        }
        Some(AltStack { mapping, mapping_len, stack })
    }
}
