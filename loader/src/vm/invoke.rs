//! Calls from the host into Wasm: the stack limit, the activation records
//! the GC walks, the store pointer that builtins and host functions use,
//! and the recovery point that turns a trap into an error.
#![allow(unsafe_code)]

use super::abi::{EntryTrampolineFn, VMFuncRef, ValueSlot};
use super::activations::ActivationRecord;
use super::store::StoreOpaque;
use super::traps::catch_traps_with_limits;
use crate::error::Error;

/// Calls the Wasm function `func_ref` of `store` through its entry
/// trampoline, with the arguments in `slots`, where the results land.
///
/// # Safety
/// `func_ref` must be a func ref of a Wasm function owned by `store`, and
/// `slots` must hold a value of each parameter type (references live and
/// owned by `store`'s activations table) with room for every result.
/// `store` must be the opaque part of a `StoreInner<T>` of the `T` its host
/// functions were made for.
#[inline]
pub(crate) unsafe fn invoke_wasm(
    store: &mut StoreOpaque,
    func_ref: &VMFuncRef,
    slots: *mut ValueSlot,
) -> Result<(), Error> {
    if func_ref.host_entry.is_null() {
        return Err(Error::Instantiation("the function has no entry trampoline".into()));
    }
    // SAFETY: every non-null `host_entry` is an entry trampoline of the
    // function's type, with the ABI of `EntryTrampolineFn`.
    let entry: EntryTrampolineFn = unsafe { std::mem::transmute(func_ref.host_entry) };
    // Everything below goes through this pointer, which the store context
    // also hands to builtins and host functions: no `&mut` to the store is
    // used while Wasm runs.
    let store: *mut StoreOpaque = store;
    // SAFETY: `store` is live for the whole call (borrowed by our caller),
    // and the context block it owns is only written by this thread.
    unsafe {
        let context = (*store).context_ptr();
        let saved_limits = (*context).limits;
        let saved_store = (*context).store;
        let depth = (*store).wasm_depth;
        if depth == 0 {
            (*context).limits.stack_limit = super::stack::stack_limit_for((*store).max_wasm_stack);
            (*store).entry_thread = super::stack::thread_token();
        } else if (*store).entry_thread != super::stack::thread_token() {
            // The stack limit, the activation records the GC walks and the
            // trap handler's recovery points all belong to the thread that
            // entered first.
            return Err(Error::WrongThread);
        } else {
            // The enclosing activation is suspended in the host call that got
            // here; its exit record is current and the GC must walk it too.
            (*store).outer_activations.push(ActivationRecord::from_limits(&saved_limits));
        }
        (*store).wasm_depth = depth + 1;
        (*context).store = store.cast();
        let (vmctx, wasm_call) = (func_ref.vmctx, func_ref.wasm_call);
        // The trampoline, callee code and vmctx come from one func ref kept
        // alive by the store, and `slots` has room for every argument and
        // result.
        let mut run = || entry(vmctx, wasm_call, slots);
        // `run` holds nothing with a destructor when a trap unwinds through
        // it, and the context block lives as long as the store.
        let outcome = catch_traps_with_limits(context.cast_const().cast(), &mut run);
        (*store).wasm_depth = depth;
        if depth > 0 {
            (*store).outer_activations.pop();
        }
        // Nested entries and traps leave exit/entry records behind; put back the caller's.
        (*context).limits = saved_limits;
        (*context).store = saved_store;
        match outcome {
            Ok(()) => Ok(()),
            Err(trap) => match (*store).pending_error.take() {
                Some(error) if trap.code.is_none() => Err(error),
                _ => Err(Error::Trap(trap)),
            },
        }
    }
}
