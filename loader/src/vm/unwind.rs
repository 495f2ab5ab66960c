//! Throwing an exception (SPEC 3.13): the search for a handler along the
//! frame-pointer chain of the current activation, and the jump to its
//! landing pad.
//!
//! The walk is the one of trap backtraces and of the GC (from the exit
//! record to the entry trampoline's frame). At each return address, the
//! handler record of that exact address (`.kiln.handlers`) names the slot
//! of the frame's VMContext, through whose instance the handlers' tag
//! indices resolve; the first handler whose tag is the exception's (or
//! that catches all) wins. The landing pad runs with the frame's FP, SP at
//! `FP - frame_size` and the exception in the first payload register
//! (`rax`): Wasm functions use the `tail` convention, whose landing pads
//! assume every other register clobbered. With no handler before the
//! entry, the exception ends the activation as the error of the call.
#![allow(unsafe_code)]

use std::sync::Arc;

use kiln_format::{HandlerTag, VMOffsets};

use super::exception::{ExceptionObject, VMTag};
use super::externref::{ExternRef, VMExternData};
use super::instance::InstanceData;
use super::store::StoreOpaque;
use super::traps::raise_host_error;
use crate::code::{lookup_code, LoadedCode};
use crate::error::Error;
use crate::exn::Exn;

/// Where a handler resumes.
#[derive(Clone, Copy, Debug)]
struct Landing {
    pc: usize,
    sp: usize,
    fp: usize,
}

/// Finds the handler of an exception of `tag` in the Wasm frames from the
/// exit record (`exit_pc`, `exit_fp`) up to `entry_fp`.
///
/// # Safety
/// The records must describe the Wasm activation that is live on this
/// thread, whose innermost frame called out last.
unsafe fn find_handler(exit_pc: usize, exit_fp: usize, entry_fp: usize, tag: &Arc<VMTag>) -> Option<Landing> {
    let (mut pc, mut fp) = (exit_pc, exit_fp);
    // Consecutive frames are nearly always in the same module.
    let mut module: Option<Arc<LoadedCode>> = None;
    loop {
        if fp == entry_fp || pc == 0 || fp == 0 || !fp.is_multiple_of(8) || fp > entry_fp {
            return None;
        }
        if module.as_ref().is_none_or(|m| m.text_offset(pc.wrapping_sub(1)).is_none()) {
            module = lookup_code(pc.wrapping_sub(1));
        }
        let code = module.as_deref()?;
        if let Some(record) = code.handlers_at(pc) {
            let sp = fp.wrapping_sub(record.frame_size as usize);
            // SAFETY: the record of this exact return address names the
            // slot, below `fp` in this live frame, where the function keeps
            // its VMContext across the call; that VMContext's instance
            // pointer was written at instantiation and its data outlives
            // every frame of its code.
            let instance = unsafe {
                let vmctx = ((sp + record.vmctx_slot as usize) as *const *const u8).read();
                &*vmctx.add(VMOffsets::INSTANCE as usize).cast::<*const InstanceData>().read()
            };
            for handler in &record.handlers {
                let caught = match handler.tag {
                    HandlerTag::All => true,
                    HandlerTag::Tag(index) => {
                        instance.tag_refs.get(index as usize).is_some_and(|t| Arc::ptr_eq(t, tag))
                    }
                };
                if caught {
                    return Some(Landing { pc: code.text_address(handler.landing_offset), sp, fp });
                }
            }
        }
        // SAFETY: `exit_fp <= fp < entry_fp`, inside the live activation;
        // an x86-64 frame record is the caller's FP and the return address.
        let (caller_fp, return_pc) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
        if caller_fp <= fp {
            return None;
        }
        pc = return_pc;
        fp = caller_fp;
    }
}

/// Throws `exn` from a builtin or host function that Wasm called: resumes
/// at the innermost handler of the current activation, or ends it with
/// [`Error::Exception`].
///
/// # Safety
/// `store` must be the store running Wasm on this thread, which called the
/// caller through an exit trampoline (so the exit record is current), and
/// every frame between the caller and that Wasm frame must hold nothing
/// with a destructor: they are skipped.
pub(crate) unsafe fn throw(store: *mut StoreOpaque, exn: ExternRef) -> ! {
    // SAFETY: per the contract, the store is live and not otherwise borrowed.
    let store = unsafe { &mut *store };
    // SAFETY: the context block lives as long as the store.
    let limits = unsafe { (*store.context_ptr()).limits };
    let landing = ExceptionObject::of(&exn).and_then(|object| {
        // SAFETY: the exit record is current (contract).
        unsafe { find_handler(limits.last_exit_pc, limits.last_exit_fp, limits.entry_fp, object.tag()) }
    });
    let Some(landing) = landing else {
        store.pending_error = Some(Error::Exception(Exn::from_extern_ref(exn)));
        // SAFETY: the exception moved into the store; nothing is left to drop.
        unsafe { raise_host_error("uncaught exception".into()) }
    };
    // The landing pad's frame holds the exception as a Wasm value, which
    // the activations table keeps alive; collect first if it is full, as
    // the host does before it hands references to Wasm.
    if let Err(error) = store.collect_if_full() {
        drop(exn);
        let message = error.to_string();
        store.pending_error = Some(error);
        // SAFETY: as above.
        unsafe { raise_host_error(message.into()) }
    }
    let raw = exn.into_raw();
    store.activations.insert(raw);
    // SAFETY: the landing pad belongs to a live frame of this activation
    // (found by the walk), and nothing of this frame needs dropping.
    unsafe { resume(landing, raw) }
}

/// Jumps to a landing pad with its frame's SP and FP and the exception in
/// the first payload register.
///
/// # Safety
/// `landing` must be a landing pad of a live Wasm frame on this thread's
/// stack, below which every frame may be discarded.
unsafe fn resume(landing: Landing, exn: *mut VMExternData) -> ! {
    // SAFETY: per the contract; the landing pad expects exactly this
    // state (Cranelift's `tail` exception ABI: payload in rax and rdx,
    // every other register clobbered).
    unsafe {
        std::arch::asm!(
            "mov rsp, {sp}",
            "mov rbp, {fp}",
            "jmp {pc}",
            sp = in(reg) landing.sp,
            fp = in(reg) landing.fp,
            pc = in(reg) landing.pc,
            in("rax") exn,
            in("rdx") 0usize,
            options(noreturn),
        )
    }
}
