//! Host functions: their store-independent closures, the per-store contexts
//! that Wasm calls them through, and the two ways in (from Wasm through a
//! Wasm-to-host trampoline, and straight from the host).
#![allow(unsafe_code)]

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use kiln_format::FuncType;

use super::abi::{HostCallFn, VMFuncRef, VMRuntimeLimits, ValueSlot};
use super::pinned::Pinned;
use super::store::{StoreInner, VMStoreContext};
use super::traps::raise_host_error;
use crate::caller::Caller;
use crate::error::Error;
use crate::instance::Instance;

/// The closure of a host function: it reads its parameters from the value
/// slots and writes its results to the same slots.
pub(crate) type HostClosure<T> = dyn Fn(Caller<'_, T>, &mut [ValueSlot]) -> anyhow::Result<()> + Send + Sync;

/// A host function of host state `T`, shared by every store it is used in.
pub(crate) struct HostFunc<T> {
    /// Slots of the argument/result array: the larger of the counts.
    slot_count: usize,
    closure: Box<HostClosure<T>>,
}

/// Calls a host function from the host; used by `Func::call` and typed calls.
type CallFromHostFn = unsafe fn(*const VMHostFuncContext, *mut ValueSlot) -> Result<(), Error>;

/// A [`HostFunc`] with its state type erased, as instantiation and the store
/// keep it: the closure and its two entry points, monomorphized for `T`.
#[derive(Clone)]
pub(crate) struct HostFuncRef {
    pub(crate) type_id: u32,
    /// Keeps the `HostFunc<T>` that `raw` points at alive.
    _owner: Arc<dyn Any + Send + Sync>,
    raw: *const (),
    host_call: HostCallFn,
    call_from_host: CallFromHostFn,
}

// SAFETY: `raw` points into `owner`, which is `Send + Sync`.
unsafe impl Send for HostFuncRef {}
// SAFETY: as above.
unsafe impl Sync for HostFuncRef {}

impl<T: 'static> HostFunc<T> {
    pub(crate) fn new(ty: &FuncType, closure: Box<HostClosure<T>>) -> HostFunc<T> {
        let slot_count = ty.params.len().max(ty.results.len());
        HostFunc { slot_count, closure }
    }

    /// Erases `T`; `type_id` is the engine's id of the function's type.
    pub(crate) fn into_ref(self: Arc<Self>, type_id: u32) -> HostFuncRef {
        let raw = Arc::as_ptr(&self).cast::<()>();
        HostFuncRef { type_id, _owner: self, raw, host_call: host_call_entry::<T>, call_from_host: call_host::<T> }
    }
}

/// The callee context of a host function in one store. The first two
/// fields are the ABI (`host_func_context` in kiln-format); the rest is
/// private to the runtime.
#[repr(C)]
pub(crate) struct VMHostFuncContext {
    runtime_limits: *mut VMRuntimeLimits,
    host_call: HostCallFn,
    /// What a funcref to this host function points at. `wasm_call` is a
    /// Wasm-to-host trampoline of its type once some module in the store has one.
    pub(crate) func_ref: VMFuncRef,
    func: HostFuncRef,
    /// The instance that imported this context, which its `Caller` sees.
    caller: Option<Instance>,
}

impl VMHostFuncContext {
    /// A context for `func` in the store whose context block is `store_context`.
    pub(crate) fn new(
        store_context: *mut VMStoreContext,
        func: HostFuncRef,
        wasm_call: *const u8,
        caller: Option<Instance>,
    ) -> Pinned<VMHostFuncContext> {
        let type_id = func.type_id;
        let ctx = Pinned::new(VMHostFuncContext {
            runtime_limits: store_context.cast(),
            host_call: func.host_call,
            func_ref: VMFuncRef::NULL,
            func,
            caller,
        });
        let ctx_ptr = ctx.as_ptr();
        let func_ref = VMFuncRef { wasm_call, vmctx: ctx_ptr.cast(), type_id, _pad: 0, host_entry: std::ptr::null() };
        // SAFETY: the context was just allocated and nothing else refers to
        // it yet; its func ref points back at it through the same pointer.
        unsafe { std::ptr::addr_of_mut!((*ctx_ptr).func_ref).write(func_ref) };
        ctx
    }

    /// A copy of this context for an instance that imports it.
    pub(crate) fn for_caller(&self, wasm_call: *const u8, caller: Instance) -> Pinned<VMHostFuncContext> {
        VMHostFuncContext::new(self.runtime_limits.cast(), self.func.clone(), wasm_call, Some(caller))
    }

    /// Calls the function from the host with arguments (and room for the
    /// results) in `slots`.
    ///
    /// # Safety
    /// `slots` must hold a value of each parameter type, with room for every
    /// result, and the store's context must point at the live store of
    /// state `T` that owns this context, borrowed by nothing else.
    pub(crate) unsafe fn call_from_host(&self, slots: *mut ValueSlot) -> Result<(), Error> {
        // SAFETY: forwarded from the caller.
        unsafe { (self.func.call_from_host)(self, slots) }
    }
}

/// Runs the closure of the host function behind `ctx`.
///
/// # Safety
/// As [`VMHostFuncContext::call_from_host`], with `ctx` a context whose
/// function has host state `T`.
unsafe fn call_host<T: 'static>(ctx: *const VMHostFuncContext, slots: *mut ValueSlot) -> Result<(), Error> {
    // SAFETY: the store keeps the context alive while its code can run.
    let ctx = unsafe { &*ctx };
    // SAFETY: `raw` points at the `HostFunc<T>` that `owner` keeps alive.
    let func = unsafe { &*ctx.func.raw.cast::<HostFunc<T>>() };
    // SAFETY: the innermost entry into Wasm (or the host call that got
    // here) set `store` from its `&mut Store<T>`, which it does not use
    // again until this call returns.
    let store = unsafe { &mut *(*ctx.runtime_limits.cast::<VMStoreContext>()).store.cast::<StoreInner<T>>() };
    let slots: &mut [ValueSlot] = if func.slot_count == 0 {
        &mut []
    } else {
        // SAFETY: the trampoline passes an array sized for the type.
        unsafe { std::slice::from_raw_parts_mut(slots, func.slot_count) }
    };
    // The roots made while the function runs (its arguments' among them)
    // are released when it returns: its results are in the slots by then,
    // their counts in the activations table.
    let roots = store.opaque.roots.len();
    let caller = Caller::new(store, ctx.caller);
    let outcome = run_host_code("host function", || (func.closure)(caller, slots));
    // SAFETY: as above; the closure's borrow of the store has ended.
    let store = unsafe { &*(*ctx.runtime_limits.cast::<VMStoreContext>()).store.cast::<StoreInner<T>>() };
    let released = store.opaque.roots.release_to(roots);
    outcome?;
    Ok(released?)
}

/// Runs embedder code called from the runtime (a host function, a
/// resource limiter, a deadline callback): its error, or its panic, becomes
/// an `Error`, so that no panic unwinds into Wasm or out of a builtin
/// (which would abort).
pub(crate) fn run_host_code<R>(what: &str, f: impl FnOnce() -> anyhow::Result<R>) -> Result<R, Error> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(Error::from_host(error)),
        Err(payload) => {
            let message = format!("{what} panicked: {}", panic_message(&*payload));
            // The payload's own destructor may panic too; it is dropped
            // under a guard of its own.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            Err(Error::Host(anyhow::anyhow!(message)))
        }
    }
}

/// The `host_call` of every `VMHostFuncContext`, called by Wasm-to-host trampolines.
unsafe extern "C" fn host_call_entry<T: 'static>(ctx: *mut u8, slots: *mut ValueSlot) {
    let ctx = ctx.cast::<VMHostFuncContext>();
    // SAFETY: the trampoline passes the context it was called with and a
    // slot array sized for the function's type.
    let Err(error) = (unsafe { call_host::<T>(ctx, slots) }) else { return };
    // SAFETY: as in `call_host`; the closure's borrow of the store has ended.
    let store = unsafe { (*(*ctx).runtime_limits.cast::<VMStoreContext>()).store.cast::<StoreInner<T>>() };
    let error = match error {
        // SAFETY: the store is live; this frame holds no borrow of it.
        Error::Exception(exn) => match exn.check_store(unsafe { &(*store).opaque }) {
            // A Wasm exception: the caller's handlers may catch it.
            // SAFETY: the host trampoline recorded the exit, and this frame
            // holds nothing else with a destructor.
            Ok(()) => unsafe { super::unwind::throw(&raw mut (*store).opaque, exn.into_extern_ref()) },
            // One holding another store's references is refused, not thrown.
            Err(foreign) => foreign,
        },
        error => error,
    };
    let message = error.to_string();
    // SAFETY: as above.
    unsafe { (*store).opaque.pending_error = Some(error) };
    // SAFETY: everything with a destructor in this frame is gone (the error
    // moved into the store), and the Wasm frames below own nothing.
    unsafe { raise_host_error(message.into()) }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "<non-string payload>"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_format::host_func_context;
    use std::mem::offset_of;

    #[test]
    fn layout_matches_the_format() {
        assert_eq!(offset_of!(VMHostFuncContext, runtime_limits) as u32, host_func_context::RUNTIME_LIMITS);
        assert_eq!(offset_of!(VMHostFuncContext, host_call) as u32, host_func_context::HOST_CALL);
        assert_eq!(offset_of!(VMStoreContext, limits), 0, "the limits open the store context");
    }
}
