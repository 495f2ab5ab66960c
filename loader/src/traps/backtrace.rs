//! Capturing Wasm frames by walking the frame-pointer chain.
//!
//! Runs inside the signal handler, so it only reads memory and writes into a
//! caller-provided fixed buffer. Every read is bounded to the stack between
//! the innermost Wasm frame and the `catch_traps` frame, and the walk stops
//! at the first return address outside registered code (the host frame that
//! called the entry trampoline), so a corrupt chain ends the walk instead of
//! faulting.
#![allow(unsafe_code)]

use std::mem::MaybeUninit;

use crate::code::CodeRanges;

/// Records `pc`, then the return address of every caller whose return
/// address lies in registered code, starting from the frame `fp`. Frame
/// records must lie in `[lower, upper)`, strictly ascending. Returns the
/// number of entries written to `out`.
///
/// # Safety
///
/// `[lower, upper)` must be readable memory (the current thread's live stack).
pub(crate) unsafe fn capture(
    ranges: &CodeRanges<'_>,
    pc: usize,
    mut fp: usize,
    lower: usize,
    upper: usize,
    out: &mut [MaybeUninit<usize>],
) -> usize {
    let mut n = 0;
    if out.is_empty() {
        return 0;
    }
    out[0] = MaybeUninit::new(pc);
    n += 1;
    while n < out.len() {
        let in_bounds = fp >= lower && fp.is_multiple_of(8) && fp.checked_add(16).is_some_and(|end| end <= upper);
        if !in_bounds {
            break;
        }
        // SAFETY: `fp..fp + 16` lies inside `[lower, upper)`, which the
        // caller guarantees is readable; x86-64 frame records are the saved
        // frame pointer at `fp` and the return address at `fp + 8`.
        let (caller_fp, return_pc) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
        if !ranges.contains(return_pc.wrapping_sub(1)) {
            break;
        }
        out[n] = MaybeUninit::new(return_pc);
        n += 1;
        if caller_fp <= fp {
            break;
        }
        fp = caller_fp;
    }
    n
}
