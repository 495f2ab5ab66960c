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

use crate::code::{with_code_ranges, CodeRanges};

/// What [`capture`] found: how many return addresses it kept in its
/// buffer, and how many frames the walk went through in all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Captured {
    /// Entries written: the innermost [`inner_kept`] frames, then the
    /// outermost ones, in order.
    pub kept: usize,
    /// Frames walked; `total - kept` were left out between the two parts.
    pub total: usize,
}

/// How many of a full buffer's entries hold the innermost frames; the rest
/// hold the outermost, so that a runaway recursion still shows both where
/// it trapped and the export that started it.
pub(crate) fn inner_kept(buffer_len: usize) -> usize {
    buffer_len / 2
}

/// Records `pc`, then the return address of every caller whose return
/// address lies in registered code, starting from the frame `fp`. Frame
/// records must lie in `[lower, upper)`, strictly ascending. The walk has
/// no depth limit; when it finds more frames than `out` holds, `out` keeps
/// the innermost [`inner_kept`] and the outermost of the rest, and the
/// count of those left out is `total - kept`. Allocates nothing: it runs in
/// the signal handler.
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
) -> Captured {
    if out.is_empty() {
        return Captured::default();
    }
    let inner = inner_kept(out.len());
    let ring = out.len() - inner;
    let mut total = 0;
    let mut record = |return_pc: usize| {
        // Past the buffer, the outer part is a ring of the latest frames.
        let slot = if total < out.len() { total } else { inner + (total - inner) % ring };
        out[slot] = MaybeUninit::new(return_pc);
        total += 1;
    };
    record(pc);
    loop {
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
        record(return_pc);
        if caller_fp <= fp {
            break;
        }
        fp = caller_fp;
    }
    if total > out.len() {
        // The oldest entry of the ring is the one the next frame would
        // have overwritten: bring it to the front of the outer part.
        out[inner..].rotate_left((total - inner) % ring);
    }
    Captured { kept: total.min(out.len()), total }
}

/// One Wasm frame found by [`walk_wasm_frames`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WasmFrame {
    /// Return address into the frame's function (for the innermost frame,
    /// the exit PC): the key of its stack map.
    pub pc: usize,
    /// The frame's frame pointer; the SP at the call is `fp - frame_size`
    /// of the stack map.
    pub fp: usize,
}

/// Walks the Wasm frames of one activation, innermost first, from the exit
/// record (`LAST_EXIT_PC`, `LAST_EXIT_FP`) up to the entry trampoline's
/// frame (`ENTRY_FP`), calling `visit` on each. Returns whether the walk
/// reached `entry_fp`; a GC must not sweep when it did not (the chain was
/// broken, or the records were stale), since it may have missed live frames.
///
/// `visit` runs outside any registry read section, so it may lock, allocate
/// and drop modules.
///
/// # Safety
///
/// `exit_fp..entry_fp + 16` must be readable: the records must describe a
/// Wasm activation that is live on the current thread.
pub unsafe fn walk_wasm_frames(
    exit_pc: usize,
    exit_fp: usize,
    entry_fp: usize,
    mut visit: impl FnMut(WasmFrame),
) -> bool {
    let (mut pc, mut fp) = (exit_pc, exit_fp);
    loop {
        if fp == entry_fp {
            return true;
        }
        let plausible = fp != 0 && fp.is_multiple_of(8) && fp < entry_fp;
        if !plausible || !with_code_ranges(|ranges| ranges.contains(pc.wrapping_sub(1))) {
            return false;
        }
        visit(WasmFrame { pc, fp });
        // SAFETY: `exit_fp <= fp < entry_fp` (frames only move up the
        // stack, checked below), inside the range the caller vouched for.
        let (caller_fp, return_pc) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
        if caller_fp <= fp {
            return false;
        }
        pc = return_pc;
        fp = caller_fp;
    }
}
