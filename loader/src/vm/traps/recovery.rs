//! Recovery points: `catch_traps`, and raising traps from Rust code called
//! by Wasm.
//!
//! Each `catch_traps` call pushes a [`RecoveryPoint`] (living in its own
//! stack frame) onto a thread-local intrusive list and runs the body under
//! `kiln_setjmp_call`. A trap fills in the innermost point and
//! `siglongjmp`s to it, skipping every frame in between: Wasm frames, which
//! own nothing, and builtin or host frames, whose authors must have dropped
//! everything with a destructor before raising.
#![allow(unsafe_code)]

use std::any::Any;
use std::cell::Cell;
use std::error::Error;
use std::ffi::{c_int, c_void};
use std::mem::MaybeUninit;
use std::panic::{self, AssertUnwindSafe};

use kiln_format::{runtime_limits, TrapCode};

use super::backtrace::{capture, inner_kept, Captured};
use super::trap::{symbolize, ElidedFrames, Trap};
use crate::code::with_code_ranges;

extern "C" {
    fn kiln_setjmp_call(
        jmp_buf_slot: *mut *mut c_void,
        body: extern "C" fn(*mut c_void),
        payload: *mut c_void,
    ) -> c_int;
    fn kiln_longjmp(jmp_buf: *mut c_void) -> !;
}

/// Most machine frames kept in a backtrace. The walk itself has no limit:
/// of a deeper stack (a runaway recursion) the innermost half and the
/// outermost half are kept, and the backtrace says how many frames in
/// between were left out. 8 KiB of each `catch_traps` frame.
pub(crate) const MAX_FRAMES: usize = 1024;

/// How the current activation ended early.
pub(crate) enum Unwind {
    /// Nothing happened (yet).
    None,
    /// A signal in Wasm code.
    Fault { code: Option<TrapCode>, signal: c_int, pc: usize, address: usize },
    /// `raise_trap`.
    Trap(TrapCode),
    /// `raise_host_error`.
    HostError(Box<dyn Error + Send + Sync>),
}

/// One `catch_traps` activation. Only ever accessed through a raw pointer,
/// because the signal handler writes to it behind the compiler's back.
pub(crate) struct RecoveryPoint {
    jmp_buf: *mut c_void,
    prev: *mut RecoveryPoint,
    /// `VMRuntimeLimits` of the store, or null: where a `raise_trap` finds
    /// the last Wasm exit to start its backtrace.
    limits: *const u8,
    /// No Wasm frame of this activation lies at or above this address.
    pub stack_top: usize,
    pub unwind: Unwind,
    pub frames: [MaybeUninit<usize>; MAX_FRAMES],
    pub captured: Captured,
    pub first_is_fault: bool,
}

thread_local! {
    static CURRENT: Cell<*mut RecoveryPoint> = const { Cell::new(std::ptr::null_mut()) };
}

/// The innermost recovery point of this thread, or null. Async-signal-safe:
/// a const-initialised thread-local with no destructor is a plain TLS read,
/// and on a thread that can trap, `catch_traps` has touched it already, so
/// even in a `dlopen`ed library its TLS block exists before a handler reads it.
pub(crate) fn current_recovery_point() -> *mut RecoveryPoint {
    CURRENT.try_with(Cell::get).unwrap_or(std::ptr::null_mut())
}

/// Jumps to `rp`'s `catch_traps`.
///
/// # Safety
///
/// `rp` must be this thread's innermost recovery point, with its `unwind`
/// filled in, and every frame above it must be free of pending destructors.
pub(crate) unsafe fn unwind_to(rp: *mut RecoveryPoint) -> ! {
    // SAFETY: per the contract, the jump buffer belongs to a live
    // `kiln_setjmp_call` frame on this thread.
    unsafe { kiln_longjmp((*rp).jmp_buf) }
}

struct Body<'a> {
    f: &'a mut dyn FnMut(),
    panic: Option<Box<dyn Any + Send>>,
}

extern "C" fn call_body(payload: *mut c_void) {
    // SAFETY: `payload` is the `&mut Body` that `catch_traps_with_limits`
    // passed to `kiln_setjmp_call`, alive for this call.
    let body = unsafe { &mut *payload.cast::<Body<'_>>() };
    // A panic must not unwind through the C frame; it is carried across
    // and resumed on the Rust side.
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| (body.f)())) {
        body.panic = Some(payload);
    }
}

/// Runs `f` (which calls into Wasm through an entry trampoline) so that a
/// trap in it returns `Err` instead of killing the process. Calls nest:
/// Wasm may call the host, which may call Wasm again.
///
/// A panic in `f` (outside Wasm frames) propagates normally.
///
/// # Safety
///
/// When a trap occurs, every frame between this call and the trap is
/// skipped without running destructors: `f` must not hold anything with a
/// destructor across the call that may trap, and host code called from Wasm
/// must follow the rules of [`raise_trap`]. Panics must not unwind through
/// Wasm frames: host functions catch them and use [`raise_host_error`].
pub unsafe fn catch_traps(f: &mut dyn FnMut()) -> Result<(), Box<Trap>> {
    // SAFETY: same contract.
    unsafe { catch_traps_with_limits(std::ptr::null(), f) }
}

/// [`catch_traps`], telling the trap machinery where the store's
/// `VMRuntimeLimits` block is (`runtime_limits` in kiln-format), so that a
/// trap raised by a builtin gets a backtrace starting at the last Wasm exit
/// (`LAST_EXIT_FP` / `LAST_EXIT_PC`). Null gives such traps no backtrace.
///
/// # Safety
///
/// As [`catch_traps`]; `limits`, if not null, must stay valid and
/// readable for the whole call, and its exit record must describe the
/// current Wasm activation whenever a builtin raises a trap.
pub unsafe fn catch_traps_with_limits(limits: *const u8, f: &mut dyn FnMut()) -> Result<(), Box<Trap>> {
    super::init_signal_handlers();
    let mut point = RecoveryPoint {
        jmp_buf: std::ptr::null_mut(),
        prev: current_recovery_point(),
        limits,
        stack_top: 0,
        unwind: Unwind::None,
        frames: [const { MaybeUninit::uninit() }; MAX_FRAMES],
        captured: Captured::default(),
        first_is_fault: false,
    };
    let rp: *mut RecoveryPoint = &mut point;
    let mut body = Body { f, panic: None };
    // SAFETY: `rp` points at `point`, which outlives the call and is only
    // accessed through `rp` from here on. It is published to this thread's
    // list before the body runs and unpublished right after, on both the
    // normal and the longjmp path, since both return from kiln_setjmp_call.
    let trapped = unsafe {
        (*rp).stack_top = rp as usize;
        CURRENT.set(rp);
        let trapped = kiln_setjmp_call(&raw mut (*rp).jmp_buf, call_body, (&raw mut body).cast());
        CURRENT.set((*rp).prev);
        trapped
    };
    if let Some(payload) = body.panic.take() {
        panic::resume_unwind(payload);
    }
    if trapped == 0 {
        return Ok(());
    }
    // SAFETY: the handler or raiser filled in `unwind` and `captured.kept`
    // initialised entries of `frames` before jumping here.
    let (unwind, pcs, captured, first_is_fault) = unsafe {
        let unwind = std::mem::replace(&mut (*rp).unwind, Unwind::None);
        let captured = (*rp).captured;
        let frames = &(*rp).frames;
        let pcs: Vec<usize> = frames[..captured.kept.min(MAX_FRAMES)].iter().map(|pc| pc.assume_init()).collect();
        (unwind, pcs, captured, (*rp).first_is_fault)
    };
    let mut trap = match unwind {
        Unwind::Trap(code) | Unwind::Fault { code: Some(code), .. } => Trap::from_code(code),
        Unwind::Fault { code: None, signal, pc, address } => Trap::from_message(format!(
            "wasm code faulted with no trap recorded: {} at pc {pc:#x}, address {address:#x}",
            signal_name(signal)
        )),
        Unwind::HostError(error) => Trap::from_message(error.to_string()),
        Unwind::None => Trap::from_message("wasm call unwound without a reason"),
    };
    if captured.total > captured.kept {
        // The kept entries are the innermost ones, a gap, then the
        // outermost ones (see `capture`).
        let (inner, outer) = pcs.split_at(inner_kept(MAX_FRAMES).min(pcs.len()));
        trap.backtrace = symbolize(inner, first_is_fault);
        trap.elided = Some(ElidedFrames { after: trap.backtrace.len(), count: captured.total - captured.kept });
        trap.backtrace.extend(symbolize(outer, false));
    } else {
        trap.backtrace = symbolize(&pcs, first_is_fault);
    }
    Err(Box::new(trap))
}

pub(crate) fn signal_name(signal: c_int) -> &'static str {
    match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        _ => "signal",
    }
}

/// Records the Wasm frames of the activation that called the current
/// builtin, from the exit record in the runtime limits.
///
/// # Safety
///
/// `rp` is this thread's innermost recovery point.
unsafe fn capture_from_exit_record(rp: *mut RecoveryPoint) {
    // SAFETY: `rp` is live (contract); `limits` was promised readable for
    // the whole `catch_traps_with_limits` call.
    unsafe {
        (*rp).captured = Captured::default();
        (*rp).first_is_fault = false;
        let limits = (*rp).limits;
        if limits.is_null() {
            return;
        }
        let exit_fp = *(limits.add(runtime_limits::LAST_EXIT_FP as usize) as *const usize);
        let exit_pc = *(limits.add(runtime_limits::LAST_EXIT_PC as usize) as *const usize);
        // A stale record from a deeper, finished call would point below
        // this very frame; ignore it rather than walk dead stack.
        let here = 0u8;
        let lower = &raw const here as usize;
        if exit_pc == 0 || exit_fp <= lower || exit_fp >= (*rp).stack_top {
            return;
        }
        let upper = (*rp).stack_top;
        (*rp).captured =
            with_code_ranges(|ranges| capture(ranges, exit_pc, exit_fp, exit_fp, upper, &mut (*rp).frames));
    }
}

fn innermost_or_panic(what: &str) -> *mut RecoveryPoint {
    let rp = current_recovery_point();
    if rp.is_null() {
        panic!("{what} called outside catch_traps: there is no Wasm activation to unwind");
    }
    rp
}

/// Ends the innermost Wasm activation of this thread with a trap; its
/// `catch_traps` returns `Err` with `code`.
///
/// For builtins (Rust functions called by Wasm). Every frame between the
/// builtin and `catch_traps` is skipped: the caller must have dropped every
/// value with a destructor first (locks, `Vec`s, `Box`es...), or they leak
/// or stay locked.
///
/// # Panics
///
/// When called outside [`catch_traps`], where there is nothing to unwind to.
///
/// # Safety
///
/// Every frame between the caller and the innermost `catch_traps` of the
/// thread is skipped without running destructors: those frames must be
/// Wasm frames and runtime frames that hold nothing with a destructor.
pub(crate) unsafe fn raise_trap(code: TrapCode) -> ! {
    let rp = innermost_or_panic("raise_trap");
    // SAFETY: `rp` is this thread's innermost live recovery point; its
    // `unwind` is `None` (a point unwinds at most once), so overwriting it
    // drops nothing. The caller vouched for the skipped frames.
    unsafe {
        capture_from_exit_record(rp);
        std::ptr::write(&raw mut (*rp).unwind, Unwind::Trap(code));
        unwind_to(rp)
    }
}

/// Ends the innermost Wasm activation because a host function failed (or
/// panicked): `catch_traps` returns a [`Trap`] whose `code` is `None` and
/// whose message is `error`'s. The same rules as [`raise_trap`] apply.
///
/// # Panics
///
/// When called outside [`catch_traps`].
///
/// # Safety
///
/// As [`raise_trap`].
pub(crate) unsafe fn raise_host_error(error: Box<dyn Error + Send + Sync>) -> ! {
    let rp = innermost_or_panic("raise_host_error");
    // SAFETY: as in `raise_trap`; the error is moved into the recovery
    // point, so skipping this frame leaks nothing.
    unsafe {
        capture_from_exit_record(rp);
        std::ptr::write(&raw mut (*rp).unwind, Unwind::HostError(error));
        unwind_to(rp)
    }
}
