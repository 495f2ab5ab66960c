//! The builtins table: runtime routines that compiled code calls through
//! `*(vmctx + 8) + 8 * index`, in `BuiltinIndex` order.
//!
//! Each builtin finds its store through the store context at `vmctx + 0`
//! and its instance through `vmctx + VMOffsets::INSTANCE`. The work happens
//! in a function that returns a `Result`, so that every value with a
//! destructor is gone before a trap unwinds past the builtin. Host
//! destructors run only under the guard of `release_counts`, so a panic
//! becomes an error of the call and never unwinds through Wasm frames.
#![allow(unsafe_code)]

use std::panic::AssertUnwindSafe;

use kiln_format::{BuiltinIndex, TrapCode, VMOffsets, NUM_BUILTINS};

use super::abi::ValueSlot;
use super::epoch::{deadline_reached, Interrupt};
use super::exception::ExceptionObject;
use super::externref::{free_unreferenced, ExternRef, VMExternData};
use super::gc::builtins as gc;
use super::instance::InstanceData;
use super::memory::LinearBytes;
use super::parking::Interruption;
use super::shared_memory::{Expected, WaitError};
use super::store::{DestructorPanicked, StoreOpaque, VMStoreContext};
use super::store_memory::StoreMemory;
use super::table::ReleasedRefs;
use super::traps::{raise_host_error, raise_trap};
use super::unwind;
use crate::error::Error;

#[repr(transparent)]
struct BuiltinsTable([*const u8; NUM_BUILTINS as usize]);

// SAFETY: the table is immutable and holds only function addresses.
unsafe impl Sync for BuiltinsTable {}

/// The routine of each builtin. The match is exhaustive, and the table is
/// built from it by index, so the order is the format's by construction.
const fn builtin_fn(index: BuiltinIndex) -> *const u8 {
    match index {
        BuiltinIndex::MemoryGrow => memory_grow as *const u8,
        BuiltinIndex::MemoryFill => memory_fill as *const u8,
        BuiltinIndex::MemoryCopy => memory_copy as *const u8,
        BuiltinIndex::MemoryInit => memory_init as *const u8,
        BuiltinIndex::DataDrop => data_drop as *const u8,
        BuiltinIndex::TableGrow => table_grow as *const u8,
        BuiltinIndex::TableFill => table_fill as *const u8,
        BuiltinIndex::TableCopy => table_copy as *const u8,
        BuiltinIndex::TableInit => table_init as *const u8,
        BuiltinIndex::ElemDrop => elem_drop as *const u8,
        BuiltinIndex::ActivationsInsertSlow => activations_insert_slow as *const u8,
        BuiltinIndex::Gc => gc as *const u8,
        BuiltinIndex::DropRef => drop_ref as *const u8,
        BuiltinIndex::EpochDeadline => epoch_deadline as *const u8,
        BuiltinIndex::OutOfFuel => out_of_fuel as *const u8,
        BuiltinIndex::MemoryAtomicNotify => memory_atomic_notify as *const u8,
        BuiltinIndex::MemoryAtomicWait32 => memory_atomic_wait32 as *const u8,
        BuiltinIndex::MemoryAtomicWait64 => memory_atomic_wait64 as *const u8,
        BuiltinIndex::Throw => throw as *const u8,
        BuiltinIndex::ThrowRef => throw_ref as *const u8,
        BuiltinIndex::ExnValues => exn_values as *const u8,
        BuiltinIndex::GcPossibleRoot => gc::gc_possible_root as *const u8,
        BuiltinIndex::StructNew => gc::struct_new as *const u8,
        BuiltinIndex::ArrayNew => gc::array_new as *const u8,
        BuiltinIndex::ArrayNewFixed => gc::array_new_fixed as *const u8,
        BuiltinIndex::ArrayNewData => gc::array_new_data as *const u8,
        BuiltinIndex::ArrayNewElem => gc::array_new_elem as *const u8,
        BuiltinIndex::ArrayFill => gc::array_fill as *const u8,
        BuiltinIndex::ArrayCopy => gc::array_copy as *const u8,
        BuiltinIndex::ArrayInitData => gc::array_init_data as *const u8,
        BuiltinIndex::ArrayInitElem => gc::array_init_elem as *const u8,
        BuiltinIndex::IsSubtype => gc::is_subtype as *const u8,
    }
}

static BUILTINS: BuiltinsTable = {
    let mut table = [std::ptr::null::<u8>(); NUM_BUILTINS as usize];
    let mut i = 0;
    while i < BuiltinIndex::ALL.len() {
        let index = BuiltinIndex::ALL[i];
        table[index as usize] = builtin_fn(index);
        i += 1;
    }
    BuiltinsTable(table)
};

/// The address every VMContext stores at `VMOffsets::BUILTINS`.
pub(crate) fn table_ptr() -> *const *const u8 {
    BUILTINS.0.as_ptr()
}

/// The store and instance index of the VMContext that compiled code passed.
///
/// # Safety
/// `vmctx` must be the VMContext of a live instance whose store is running
/// Wasm on this thread (so its store context points at it).
pub(crate) unsafe fn store_and_instance<'a>(vmctx: *mut u8) -> (&'a mut StoreOpaque, usize) {
    // SAFETY: instantiation stored the store context at offset 0 and the
    // `InstanceData` pointer at `INSTANCE`; the store keeps both alive while
    // its code runs, and the entry into Wasm set the store pointer from the
    // `&mut` it holds and does not use until Wasm returns.
    unsafe {
        let context = vmctx.cast::<*mut VMStoreContext>().read();
        let instance = &*vmctx.add(VMOffsets::INSTANCE as usize).cast::<*const InstanceData>().read();
        let index = instance.index;
        (&mut *(*context).store.cast::<StoreOpaque>(), index)
    }
}

/// Ends the activation with `code` on failure.
pub(crate) fn trap_on(result: Result<(), TrapCode>) {
    if let Err(code) = result {
        // SAFETY: builtins call this last, with nothing left to drop.
        unsafe { raise_trap(code) };
    }
}

/// Ends the activation with `error`, which the call into Wasm returns.
pub(crate) fn raise_error(store: &mut StoreOpaque, error: Error) -> ! {
    let message = error.to_string();
    store.pending_error = Some(error);
    // SAFETY: the error moved into the store; nothing else is left to drop.
    unsafe { raise_host_error(message.into()) }
}

/// Ends the activation because a host destructor panicked.
pub(crate) fn raise_destructor_panic(store: &mut StoreOpaque, panicked: DestructorPanicked) -> ! {
    raise_error(store, panicked.into())
}

/// Drops the old counts of a table write under the destructor guard, then
/// ends the activation if the write trapped or a destructor panicked.
fn finish_table_write(store: &mut StoreOpaque, result: Result<ReleasedRefs, TrapCode>) {
    match result.map(ReleasedRefs::release) {
        Ok(Ok(())) => {}
        Ok(Err(panicked)) => raise_destructor_panic(store, panicked),
        Err(code) => trap_on(Err(code)),
    }
}

unsafe extern "C" fn memory_grow(vmctx: *mut u8, memory: u32, delta: u64) -> u64 {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, instance) = unsafe { store_and_instance(vmctx) };
    let Some(&memory) = store.instances[instance].memories.get(memory as usize) else { return u64::MAX };
    match store.grow_memory(memory, delta) {
        Ok(Some(old)) => old,
        Ok(None) => u64::MAX,
        Err(error) => raise_error(store, error),
    }
}

unsafe extern "C" fn memory_fill(vmctx: *mut u8, memory: u32, dst: u64, value: u32, len: u64) {
    // SAFETY: as above.
    let (store, instance) = unsafe { store_and_instance(vmctx) };
    let result = match store.instances[instance].memories.get(memory as usize) {
        Some(&m) => store.memories[m as usize].fill(dst, value as u8, len),
        None => Err(TrapCode::MEMORY_OUT_OF_BOUNDS),
    };
    trap_on(result);
}

unsafe extern "C" fn memory_copy(vmctx: *mut u8, dst_memory: u32, dst: u64, src_memory: u32, src: u64, len: u64) {
    // SAFETY: as above.
    let (store, instance) = unsafe { store_and_instance(vmctx) };
    let memories = &store.instances[instance].memories;
    let result = match (memories.get(dst_memory as usize), memories.get(src_memory as usize)) {
        (Some(&d), Some(&s)) => store.memories[d as usize].copy_from(dst, &store.memories[s as usize], src, len),
        _ => Err(TrapCode::MEMORY_OUT_OF_BOUNDS),
    };
    trap_on(result);
}

unsafe extern "C" fn memory_init(vmctx: *mut u8, memory: u32, data: u32, dst: u64, src: u32, len: u32) {
    // SAFETY: as above.
    let (store, instance) = unsafe { store_and_instance(vmctx) };
    trap_on(store.memory_init(instance, memory, data, dst, src, len));
}

unsafe extern "C" fn data_drop(vmctx: *mut u8, data: u32) {
    // SAFETY: as above.
    let (store, instance) = unsafe { store_and_instance(vmctx) };
    store.drop_data(instance, data);
}

/// A table index or length from compiled code (an `i64`, zero-extended for
/// a 32-bit table) as the `u32` that tables use. No table exceeds
/// `MAX_TABLE_ELEMENTS`, so a larger value is out of bounds whatever the
/// operation.
fn table_operand(value: u64) -> Result<u32, TrapCode> {
    u32::try_from(value).map_err(|_| TrapCode::TABLE_OUT_OF_BOUNDS)
}

unsafe extern "C" fn table_grow(vmctx: *mut u8, table: u32, delta: u64, init: *mut u8) -> u64 {
    // SAFETY: as above.
    let (store, instance) = unsafe { store_and_instance(vmctx) };
    let Some(&table) = store.instances[instance].tables.get(table as usize) else { return u64::MAX };
    // No table reaches 2^32 elements, so no larger delta can succeed.
    let Ok(delta) = u32::try_from(delta) else { return u64::MAX };
    match store.grow_table(table, delta, init as usize) {
        Ok(grown) => grown.map_or(u64::MAX, u64::from),
        Err(error) => raise_error(store, error),
    }
}

unsafe extern "C" fn table_fill(vmctx: *mut u8, table: u32, dst: u64, value: *mut u8, len: u64) {
    // SAFETY: as above.
    let (store, instance) = unsafe { store_and_instance(vmctx) };
    let result = match store.instances[instance].tables.get(table as usize) {
        Some(&t) => table_operand(dst)
            .and_then(|dst| Ok((dst, table_operand(len)?)))
            .and_then(|(dst, len)| store.tables[t as usize].fill(dst, value as usize, len)),
        None => Err(TrapCode::TABLE_OUT_OF_BOUNDS),
    };
    finish_table_write(store, result);
}

unsafe extern "C" fn table_copy(vmctx: *mut u8, dst_table: u32, dst: u64, src_table: u32, src: u64, len: u64) {
    // SAFETY: as above.
    let (store, instance) = unsafe { store_and_instance(vmctx) };
    let tables = &store.instances[instance].tables;
    let result = match (tables.get(dst_table as usize), tables.get(src_table as usize)) {
        (Some(&d), Some(&s)) => (|| {
            let (dst, src, len) = (table_operand(dst)?, table_operand(src)?, table_operand(len)?);
            store.tables[d as usize].copy_from(dst, &store.tables[s as usize], src, len)
        })(),
        _ => Err(TrapCode::TABLE_OUT_OF_BOUNDS),
    };
    finish_table_write(store, result);
}

unsafe extern "C" fn table_init(vmctx: *mut u8, table: u32, elem: u32, dst: u64, src: u32, len: u32) {
    // SAFETY: as above.
    let (store, instance) = unsafe { store_and_instance(vmctx) };
    let result = table_operand(dst).and_then(|dst| store.table_init(instance, table, elem, dst, src, len));
    finish_table_write(store, result);
}

unsafe extern "C" fn elem_drop(vmctx: *mut u8, elem: u32) {
    // SAFETY: as above.
    let (store, instance) = unsafe { store_and_instance(vmctx) };
    if let Err(panicked) = store.drop_element(instance, elem) {
        raise_destructor_panic(store, panicked);
    }
}

/// Runs a GC from compiled code; a destructor's panic ends the activation.
fn collect(store: &mut StoreOpaque) {
    if let Err(error) = store.gc() {
        raise_error(store, error);
    }
}

unsafe extern "C" fn activations_insert_slow(vmctx: *mut u8, externref: *mut u8) {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, _) = unsafe { store_and_instance(vmctx) };
    // Compiled code took the count that the table is to own; the reference
    // stays alive through the GC, which releases nothing that a frame's
    // stack map names, and this one is live after the call. Should the GC
    // fail, the count goes into the table first, so nothing leaks.
    let gc = store.gc();
    // The count is ours to hand over; the word may be a host block or a GC
    // object, never null or an i31 (compiled code inserts neither).
    if super::gc::object::is_block(externref as usize) {
        store.activations.insert(externref.cast::<VMExternData>());
    }
    if let Err(error) = gc {
        raise_error(store, error);
    }
}

unsafe extern "C" fn gc(vmctx: *mut u8) {
    // SAFETY: as above.
    let (store, _) = unsafe { store_and_instance(vmctx) };
    collect(store);
}

unsafe extern "C" fn drop_ref(vmctx: *mut u8, externref: *mut u8) {
    let raw = externref.cast::<VMExternData>();
    // The panic's payload is dropped at the end of this statement: the raise
    // below skips this frame, so it must hold nothing with a destructor.
    // SAFETY: compiled code dropped the last count of a reference it removed
    // from a table, global or GC field, so nothing else can reach it; the
    // free dispatches on the block's kind (a GC object is freed with what
    // only it held, iteratively).
    let panicked = std::panic::catch_unwind(AssertUnwindSafe(|| unsafe { free_unreferenced(raw) })).is_err();
    if panicked {
        // SAFETY: as above.
        let (store, _) = unsafe { store_and_instance(vmctx) };
        raise_destructor_panic(store, DestructorPanicked);
    }
}

unsafe extern "C" fn epoch_deadline(vmctx: *mut u8) {
    // SAFETY: called by compiled code with its own vmctx, whose store
    // context points at the store running it.
    let store = unsafe { (*vmctx.cast::<*mut VMStoreContext>().read()).store };
    // SAFETY: the entry into Wasm set `store` from its `&mut`, unused until
    // Wasm returns.
    match unsafe { deadline_reached(store) } {
        Ok(()) => {}
        Err(Interrupt::Trap) => trap_on(Err(TrapCode::INTERRUPT)),
        // SAFETY: as above; the callback's borrow of the store has ended.
        Err(Interrupt::Error(error)) => raise_error(unsafe { &mut *store.cast::<StoreOpaque>() }, error),
    }
}

unsafe extern "C" fn out_of_fuel(vmctx: *mut u8) {
    // SAFETY: called by compiled code with its own vmctx, whose store
    // context points at the store running it, which nothing else borrows
    // until Wasm returns.
    let store = unsafe { &mut *(*vmctx.cast::<*mut VMStoreContext>().read()).store.cast::<StoreOpaque>() };
    if !store.refuel() {
        trap_on(Err(TrapCode::OUT_OF_FUEL));
    }
}

unsafe extern "C" fn memory_atomic_notify(vmctx: *mut u8, memory: u32, address: u64, count: u32) -> u32 {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, instance) = unsafe { store_and_instance(vmctx) };
    let result = match store.instances[instance].memories.get(memory as usize).map(|&m| &store.memories[m as usize]) {
        Some(StoreMemory::Shared(memory)) => memory.notify(address, count),
        // No thread can wait on an unshared memory: there is no one to wake.
        Some(memory @ StoreMemory::Owned(_)) => memory.check_range(address, 4).map(|()| 0),
        None => Err(TrapCode::MEMORY_OUT_OF_BOUNDS),
    };
    match result {
        Ok(woken) => woken,
        // SAFETY: nothing with a destructor is left in this frame.
        Err(code) => unsafe { raise_trap(code) },
    }
}

unsafe extern "C" fn memory_atomic_wait32(
    vmctx: *mut u8,
    memory: u32,
    address: u64,
    expected: u32,
    timeout: i64,
) -> u32 {
    // SAFETY: called by compiled code with its own vmctx.
    unsafe { memory_atomic_wait(vmctx, memory, address, Expected::U32(expected), timeout) }
}

unsafe extern "C" fn memory_atomic_wait64(
    vmctx: *mut u8,
    memory: u32,
    address: u64,
    expected: u64,
    timeout: i64,
) -> u32 {
    // SAFETY: called by compiled code with its own vmctx.
    unsafe { memory_atomic_wait(vmctx, memory, address, Expected::U64(expected), timeout) }
}

/// How often a thread waiting in a store with an epoch deadline looks at
/// the epoch: a wait is interrupted at most this long after the epoch
/// passes the deadline (SPEC 3.4).
const WAIT_EPOCH_POLL: std::time::Duration = std::time::Duration::from_millis(5);

/// The wait builtins' work; the result of the wait, or it ends the
/// activation with a trap or the deadline callback's error.
///
/// # Safety
/// As for any builtin: `vmctx` is the calling code's own.
unsafe fn memory_atomic_wait(vmctx: *mut u8, memory: u32, address: u64, expected: Expected, timeout: i64) -> u32 {
    // SAFETY: per the contract.
    let (store, instance) = unsafe { store_and_instance(vmctx) };
    let shared = match store.instances[instance].memories.get(memory as usize).map(|&m| &store.memories[m as usize]) {
        Some(StoreMemory::Shared(memory)) => memory.clone(),
        Some(memory @ StoreMemory::Owned(_)) => {
            let bytes = match expected {
                Expected::U32(_) => 4,
                Expected::U64(_) => 8,
            };
            let code = memory.check_range(address, bytes).err().unwrap_or(TrapCode::EXPECTED_SHARED_MEMORY);
            // SAFETY: nothing with a destructor is left in this frame.
            unsafe { raise_trap(code) }
        }
        // SAFETY: as above.
        None => unsafe { raise_trap(TrapCode::MEMORY_OUT_OF_BOUNDS) },
    };
    // A negative timeout waits forever.
    let timeout = u64::try_from(timeout).ok().map(std::time::Duration::from_nanos);
    let store: *mut StoreOpaque = store;
    // SAFETY: the store is this thread's, running this Wasm.
    let has_deadline = unsafe { (*store).epoch_deadline() } != u64::MAX;
    // The deadline check runs while the waiter is queued but between two
    // sleeps, when this frame holds no borrow of the store.
    // SAFETY: the store pointer is the running store's, as for the
    // `epoch_deadline` builtin.
    let mut check = || unsafe { deadline_reached(store.cast()) };
    let interruption = has_deadline.then_some(Interruption { every: WAIT_EPOCH_POLL, check: &mut check });
    let outcome = shared.wait(address, expected, timeout, interruption);
    drop(shared);
    match outcome {
        Ok(outcome) => outcome.code(),
        // SAFETY: nothing with a destructor is left in this frame.
        Err(WaitError::Trap(code)) => unsafe { raise_trap(code) },
        Err(WaitError::Interrupted(Interrupt::Trap)) => unsafe { raise_trap(TrapCode::INTERRUPT) },
        // SAFETY: the callback's borrow of the store has ended.
        Err(WaitError::Interrupted(Interrupt::Error(error))) => raise_error(unsafe { &mut *store }, error),
    }
}

unsafe extern "C" fn throw(vmctx: *mut u8, tag: u32, values: *const ValueSlot) {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, instance) = unsafe { store_and_instance(vmctx) };
    let Some(tag) = store.instances[instance].tag_refs.get(tag as usize).cloned() else {
        return trap_on(Err(TrapCode::UNREACHABLE));
    };
    let n = tag.ty.params.len();
    let values: &[ValueSlot] = if n == 0 {
        &[]
    } else {
        // SAFETY: compiled code passes one value slot per parameter of the
        // tag's type, holding live values of those types.
        unsafe { std::slice::from_raw_parts(values, n) }
    };
    // SAFETY: as above; Wasm of this store holds only references usable
    // in it.
    let exn = unsafe { ExceptionObject::allocate(tag, store, values) };
    // SAFETY: this frame holds nothing else with a destructor, and the
    // exit trampoline recorded the exit.
    unsafe { unwind::throw(store, exn) }
}

unsafe extern "C" fn throw_ref(vmctx: *mut u8, exn: *mut u8) {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, _) = unsafe { store_and_instance(vmctx) };
    // SAFETY: compiled code passes a live, non-null exnref, which a
    // frame's value or the activations table keeps alive; the throw takes
    // a count of its own.
    let Some(exn) = (unsafe { ExternRef::clone_from_raw(exn.cast::<VMExternData>()) }) else {
        return trap_on(Err(TrapCode::NULL_REFERENCE));
    };
    // SAFETY: as in `throw`.
    unsafe { unwind::throw(store, exn) }
}

unsafe extern "C" fn exn_values(vmctx: *mut u8, exn: *mut u8, out: *mut ValueSlot) {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, _) = unsafe { store_and_instance(vmctx) };
    // SAFETY: a landing pad passes the live exception it received, and a
    // slot array sized for its tag's values.
    unsafe {
        let raw = exn.cast::<VMExternData>();
        let Some(exn) = ExternRef::clone_from_raw(raw) else { return };
        let Some(object) = ExceptionObject::of(&exn) else { return };
        for (i, (&slot, &ty)) in object.values().iter().zip(object.types()).enumerate() {
            out.add(i).write(slot);
            if ty.is_counted_ref() {
                // The frame holds the value from here on: the table keeps a
                // count of its own, as for `table.get`. Inserting from a
                // builtin never collects. The value may be a GC object.
                let word = slot.pointer();
                if super::gc::object::is_block(word) {
                    store.clone_into_activations(word as u64);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_builtin_index_order() {
        assert_eq!(BuiltinIndex::ALL.len(), NUM_BUILTINS as usize);
        for &index in BuiltinIndex::ALL {
            assert_eq!(BUILTINS.0[index as usize], builtin_fn(index), "{index}");
        }
        assert!(BUILTINS.0.iter().all(|p| !p.is_null()));
    }
}
