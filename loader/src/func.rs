//! Functions: Wasm functions of instances and host functions, and the calls
//! between host and Wasm.
#![allow(unsafe_code)]

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::rc::Weak;

use kiln_format::FuncType;

use crate::activations::ActivationRecord;
use crate::error::Error;
use crate::store::{Store, StoreInner};
use crate::traps::{catch_traps_with_limits, raise_host_error};
use crate::values::Val;
use crate::vm::{EntryTrampolineFn, HostCallFn, VMFuncRef, VMRuntimeLimits, ValueSlot};

/// The closure behind a host function.
pub type HostFn = dyn Fn(&[Val], &mut [Val]) -> Result<(), Error>;

/// The callee context of a host function. The first two fields are the ABI
/// (`host_func_context` in kiln-format); the rest is private to the runtime.
#[repr(C)]
pub(crate) struct VMHostFuncContext {
    runtime_limits: *mut VMRuntimeLimits,
    host_call: HostCallFn,
    /// What a funcref to this host function points at. `wasm_call` is a
    /// Wasm-to-host trampoline of its type once some module in the store has one.
    pub(crate) func_ref: VMFuncRef,
    ty: FuncType,
    closure: Box<HostFn>,
    store: Weak<StoreInner>,
}

/// A function: an export of an instance, or a host function.
#[derive(Clone)]
pub struct Func {
    store: Store,
    func_ref: NonNull<VMFuncRef>,
}

impl std::fmt::Debug for Func {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Func({:p})", self.func_ref.as_ptr())
    }
}

impl Func {
    /// A host function of type `ty`.
    pub fn new(
        store: &Store,
        ty: FuncType,
        closure: impl Fn(&[Val], &mut [Val]) -> Result<(), Error> + 'static,
    ) -> Func {
        let type_id = store.intern_type(&ty);
        let mut ctx = Box::new(VMHostFuncContext {
            runtime_limits: store.limits_ptr(),
            host_call: host_call_entry,
            func_ref: VMFuncRef::NULL,
            ty,
            closure: Box::new(closure),
            store: store.downgrade(),
        });
        let ctx_ptr: *mut VMHostFuncContext = &mut *ctx;
        ctx.func_ref = VMFuncRef {
            wasm_call: store.host_trampoline_for(type_id).unwrap_or(std::ptr::null()),
            vmctx: ctx_ptr.cast(),
            type_id,
            _pad: 0,
            host_entry: std::ptr::null(),
        };
        let func_ref = NonNull::from(&ctx.func_ref);
        store.inner.host_funcs.borrow_mut().push(ctx);
        Func { store: store.clone(), func_ref }
    }

    /// A function from a funcref value of `store` (null gives `None`).
    ///
    /// # Safety
    /// `raw` must be null or point at a `VMFuncRef` kept alive by `store`.
    pub(crate) unsafe fn from_raw(store: &Store, raw: *const VMFuncRef) -> Option<Func> {
        NonNull::new(raw.cast_mut()).map(|func_ref| Func { store: store.clone(), func_ref })
    }

    pub(crate) fn raw(&self) -> *const VMFuncRef {
        self.func_ref.as_ptr()
    }

    pub(crate) fn vm_func_ref(&self) -> VMFuncRef {
        // SAFETY: the store keeps the func ref alive.
        unsafe { self.func_ref.as_ptr().read() }
    }

    /// The host function's context, if this is not Wasm code.
    pub(crate) fn host_context(&self) -> Option<&VMHostFuncContext> {
        let vmctx = self.vm_func_ref().vmctx;
        // A VMContext holds the builtins table at +8 where a host context
        // holds its host call, so the word at +8 tells them apart.
        // SAFETY: every func ref of the store has a live vmctx of either kind.
        let word = unsafe { vmctx.add(kiln_format::host_func_context::HOST_CALL as usize).cast::<usize>().read() };
        if word != host_call_entry as *const () as usize {
            return None;
        }
        // SAFETY: checked above; the store keeps the context alive.
        Some(unsafe { &*(vmctx as *const VMHostFuncContext) })
    }

    /// The store it belongs to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Its type.
    pub fn ty(&self) -> FuncType {
        let id = self.vm_func_ref().type_id;
        self.store.type_of_id(id).unwrap_or(FuncType { params: Vec::new(), results: Vec::new() })
    }

    /// Whether both are the same function.
    pub fn ptr_eq(a: &Func, b: &Func) -> bool {
        a.func_ref == b.func_ref
    }

    /// Calls the function.
    pub fn call(&self, params: &[Val]) -> Result<Vec<Val>, Error> {
        self.call_as(&self.ty(), params)
    }

    /// Calls the function, whose type the caller already knows to be `ty`.
    pub(crate) fn call_as(&self, ty: &FuncType, params: &[Val]) -> Result<Vec<Val>, Error> {
        check_values("argument", &ty.params, params, &self.store)?;
        if let Some(host) = self.host_context() {
            return call_host_closure(host, params);
        }
        self.call_wasm(ty, params)
    }

    fn call_wasm(&self, ty: &FuncType, params: &[Val]) -> Result<Vec<Val>, Error> {
        let store = &self.store;
        let func_ref = self.vm_func_ref();
        let host_entry = if func_ref.host_entry.is_null() {
            store.entry_trampoline_for(func_ref.type_id).ok_or_else(|| {
                Error::Instantiation("no module in the store has an entry trampoline for this function's type".into())
            })?
        } else {
            func_ref.host_entry
        };
        let mut slots = vec![ValueSlot::default(); ty.params.len().max(ty.results.len()).max(1)];
        store.collect_if_full();
        for (slot, value) in slots.iter_mut().zip(params) {
            *slot = value.to_slot_for_wasm(store);
        }
        // SAFETY: `host_entry` is an entry trampoline of the function's type.
        let entry: EntryTrampolineFn = unsafe { std::mem::transmute(host_entry) };
        let limits = store.limits_ptr();
        // SAFETY: the store owns the limits; no Wasm runs right now on this thread in the frames below.
        let saved = unsafe { limits.read() };
        let depth = store.inner.wasm_depth.get();
        if depth == 0 {
            // SAFETY: as above.
            unsafe { (*limits).stack_limit = crate::stack::stack_limit_for(store.max_wasm_stack()) };
        } else {
            // The enclosing activation is suspended in the host call that got
            // here; its exit record is current and the GC must walk it too.
            store.push_outer_activation(ActivationRecord::from_limits(&saved));
        }
        store.inner.wasm_depth.set(depth + 1);
        let slots_ptr = slots.as_mut_ptr();
        let mut run = || {
            // SAFETY: the trampoline, callee code and vmctx come from one func
            // ref kept alive by the store, and `slots` has room for every
            // argument and result.
            unsafe { entry(func_ref.vmctx, func_ref.wasm_call, slots_ptr) }
        };
        // SAFETY: `run` has no destructors pending when a trap unwinds through
        // it, and the limits block lives as long as the store.
        let outcome = unsafe { catch_traps_with_limits(limits.cast_const().cast(), &mut run) };
        store.inner.wasm_depth.set(depth);
        if depth > 0 {
            store.pop_outer_activation();
        }
        // Nested entries and traps leave exit/entry records behind; put back the caller's.
        // SAFETY: as above.
        unsafe { limits.write(saved) };
        match outcome {
            Ok(()) => Ok(ty
                .results
                .iter()
                .zip(&slots)
                // SAFETY: the trampoline wrote a value of each result type; references are live
                // (the activations table holds every reference Wasm held until the next GC).
                .map(|(&t, slot)| unsafe { Val::from_slot(*slot, t, store) })
                .collect()),
            Err(trap) => {
                let pending = store.inner.pending_error.borrow_mut().take();
                match pending {
                    Some(error) if trap.code.is_none() => Err(error),
                    _ => Err(Error::Trap(trap)),
                }
            }
        }
    }
}

/// Type-checks values against types.
pub(crate) fn check_values(
    what: &str,
    types: &[kiln_format::ValType],
    values: &[Val],
    store: &Store,
) -> Result<(), Error> {
    if types.len() != values.len() {
        return Err(Error::ty(format!("expected {} {what}s, got {}", types.len(), values.len())));
    }
    for (i, (t, v)) in types.iter().zip(values).enumerate() {
        if v.ty() != *t {
            return Err(Error::ty(format!("{what} {i}: expected {t:?}, got {:?}", v.ty())));
        }
        if let Val::FuncRef(Some(f)) = v {
            if !Store::same(f.store(), store) {
                return Err(Error::ty(format!("{what} {i}: funcref from another store")));
            }
        }
    }
    Ok(())
}

fn call_host_closure(host: &VMHostFuncContext, params: &[Val]) -> Result<Vec<Val>, Error> {
    let mut results: Vec<Val> = host.ty.results.iter().map(|&t| Val::default_for(t)).collect();
    (host.closure)(params, &mut results)?;
    let store = Store::from_weak(&host.store).ok_or_else(|| Error::Host("the store is gone".into()))?;
    check_values("result", &host.ty.results, &results, &store)?;
    Ok(results)
}

/// The `host_call` of every `VMHostFuncContext`, called by Wasm-to-host trampolines.
unsafe extern "C" fn host_call_entry(ctx: *mut u8, slots: *mut ValueSlot) {
    // SAFETY: the trampoline passes the context it was called with and a
    // slot array sized for the function's type.
    let outcome = unsafe { host_call(ctx.cast(), slots) };
    // Everything with a destructor is gone by now, so unwinding past this frame is sound.
    if let Err(error) = outcome {
        raise_host_error(error);
    }
}

unsafe fn host_call(
    ctx: *const VMHostFuncContext,
    slots: *mut ValueSlot,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // SAFETY: see `host_call_entry`; the store keeps the context alive.
    let ctx = unsafe { &*ctx };
    let Some(store) = Store::from_weak(&ctx.store) else {
        return Err("host function called after its store was dropped".into());
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<(), Error> {
        let ty = &ctx.ty;
        let params: Vec<Val> = (0..ty.params.len())
            // SAFETY: Wasm wrote one value of each parameter type; its references are live.
            .map(|i| unsafe { Val::from_slot(slots.add(i).read(), ty.params[i], &store) })
            .collect();
        let results = call_host_closure(ctx, &params)?;
        drop(params);
        // The results are the host's until they move into Wasm below.
        store.collect_if_full();
        for (i, value) in results.iter().enumerate() {
            // SAFETY: the slot array has room for every result.
            unsafe { slots.add(i).write(value.to_slot_for_wasm(&store)) };
        }
        Ok(())
    }));
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => {
            let message = error.to_string();
            *store.inner.pending_error.borrow_mut() = Some(error);
            Err(message.into())
        }
        Err(payload) => {
            let message = format!("host function panicked: {}", panic_message(&*payload));
            *store.inner.pending_error.borrow_mut() = Some(Error::Host(message.clone()));
            Err(message.into())
        }
    }
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
