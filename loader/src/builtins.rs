//! The builtins table: runtime routines that compiled code calls through
//! `*(vmctx + 8) + 8 * index`, in `BuiltinIndex` order.
//!
//! Each builtin finds its instance through `vmctx + VMOffsets::INSTANCE`.
//! The work happens in a function that returns a `Result`, so that every
//! value with a destructor is gone before a trap unwinds past the builtin.
#![allow(unsafe_code)]

use std::panic::{catch_unwind, AssertUnwindSafe};

use kiln_format::{BuiltinIndex, TrapCode, VMOffsets, NUM_BUILTINS};

use crate::externref::{free_unreferenced, ExternRef, VMExternData};
use crate::instance::InstanceData;
use crate::store::Store;
use crate::traps::{raise_host_error, raise_trap};

#[repr(transparent)]
struct BuiltinsTable([*const u8; NUM_BUILTINS as usize]);

// SAFETY: the table is immutable and holds only function addresses.
unsafe impl Sync for BuiltinsTable {}

static BUILTINS: BuiltinsTable = BuiltinsTable([
    memory_grow as *const u8,
    memory_fill as *const u8,
    memory_copy as *const u8,
    memory_init as *const u8,
    data_drop as *const u8,
    table_grow as *const u8,
    table_fill as *const u8,
    table_copy as *const u8,
    table_init as *const u8,
    elem_drop as *const u8,
    activations_insert_slow as *const u8,
    gc as *const u8,
    drop_externref as *const u8,
]);

/// The address every VMContext stores at `VMOffsets::BUILTINS`.
pub(crate) fn table_ptr() -> *const *const u8 {
    BUILTINS.0.as_ptr()
}

/// The address of a builtin.
pub fn builtin_address(index: BuiltinIndex) -> *const u8 {
    BUILTINS.0[index as usize]
}

/// The instance whose VMContext compiled code passed.
///
/// # Safety
/// `vmctx` must be the VMContext of a live instance.
unsafe fn instance<'a>(vmctx: *mut u8) -> &'a InstanceData {
    // SAFETY: instantiation stored the `InstanceData` pointer there, and the
    // store keeps the instance alive while its code can run.
    unsafe { &*vmctx.add(VMOffsets::INSTANCE as usize).cast::<*const InstanceData>().read() }
}

fn trap_on(result: Result<(), TrapCode>) {
    if let Err(code) = result {
        raise_trap(code);
    }
}

unsafe extern "C" fn memory_grow(vmctx: *mut u8, memory: u32, delta: u32) -> u32 {
    // SAFETY: called by compiled code with its own vmctx.
    let instance = unsafe { instance(vmctx) };
    match instance.memories.get(memory as usize).and_then(|m| m.grow(delta as u64)) {
        Some(old) => old as u32,
        None => u32::MAX,
    }
}

unsafe extern "C" fn memory_fill(vmctx: *mut u8, memory: u32, dst: u32, value: u32, len: u32) {
    // SAFETY: as above.
    let instance = unsafe { instance(vmctx) };
    let result = match instance.memories.get(memory as usize) {
        Some(m) => m.fill(dst as u64, value as u8, len as u64),
        None => Err(TrapCode::MEMORY_OUT_OF_BOUNDS),
    };
    trap_on(result);
}

unsafe extern "C" fn memory_copy(vmctx: *mut u8, dst_memory: u32, dst: u32, src_memory: u32, src: u32, len: u32) {
    // SAFETY: as above.
    let instance = unsafe { instance(vmctx) };
    let result = match (instance.memories.get(dst_memory as usize), instance.memories.get(src_memory as usize)) {
        (Some(d), Some(s)) => d.copy_from(dst as u64, s, src as u64, len as u64),
        _ => Err(TrapCode::MEMORY_OUT_OF_BOUNDS),
    };
    trap_on(result);
}

unsafe extern "C" fn memory_init(vmctx: *mut u8, memory: u32, data: u32, dst: u32, src: u32, len: u32) {
    // SAFETY: as above.
    let result = unsafe { instance(vmctx) }.memory_init(memory, data, dst, src, len);
    trap_on(result);
}

unsafe extern "C" fn data_drop(vmctx: *mut u8, data: u32) {
    // SAFETY: as above.
    unsafe { instance(vmctx) }.drop_data(data);
}

unsafe extern "C" fn table_grow(vmctx: *mut u8, table: u32, delta: u32, init: *mut u8) -> u32 {
    // SAFETY: as above.
    let instance = unsafe { instance(vmctx) };
    instance.tables.get(table as usize).and_then(|t| t.grow(delta, init as usize)).unwrap_or(u32::MAX)
}

unsafe extern "C" fn table_fill(vmctx: *mut u8, table: u32, dst: u32, value: *mut u8, len: u32) {
    // SAFETY: as above.
    let instance = unsafe { instance(vmctx) };
    let result = match instance.tables.get(table as usize) {
        Some(t) => t.fill(dst, value as usize, len),
        None => Err(TrapCode::TABLE_OUT_OF_BOUNDS),
    };
    trap_on(result);
}

unsafe extern "C" fn table_copy(vmctx: *mut u8, dst_table: u32, dst: u32, src_table: u32, src: u32, len: u32) {
    // SAFETY: as above.
    let instance = unsafe { instance(vmctx) };
    let result = match (instance.tables.get(dst_table as usize), instance.tables.get(src_table as usize)) {
        (Some(d), Some(s)) => d.copy_from(dst, s, src, len),
        _ => Err(TrapCode::TABLE_OUT_OF_BOUNDS),
    };
    trap_on(result);
}

unsafe extern "C" fn table_init(vmctx: *mut u8, table: u32, elem: u32, dst: u32, src: u32, len: u32) {
    // SAFETY: as above.
    let result = unsafe { instance(vmctx) }.table_init(table, elem, dst, src, len);
    trap_on(result);
}

unsafe extern "C" fn elem_drop(vmctx: *mut u8, elem: u32) {
    // SAFETY: as above.
    unsafe { instance(vmctx) }.drop_element(elem);
}

/// Runs code that may run host destructors (which may panic) from a
/// builtin: a panic must not unwind through Wasm frames, so it ends the
/// activation as a host error instead.
fn run_destructors(f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        raise_host_error("a host value's destructor panicked".into());
    }
}

unsafe extern "C" fn activations_insert_slow(vmctx: *mut u8, externref: *mut u8) {
    // SAFETY: called by compiled code with its own vmctx.
    let instance = unsafe { instance(vmctx) };
    let Some(store) = Store::from_weak(&instance.store) else {
        return;
    };
    run_destructors(|| {
        store.gc();
    });
    // SAFETY: compiled code took the count that the table now owns; the
    // reference stayed alive through the GC, which collects nothing that a
    // frame's stack map names, and this one is live after the call.
    if let Some(r) = unsafe { ExternRef::from_raw(externref.cast::<VMExternData>()) } {
        store.move_into_activations(r);
    }
}

unsafe extern "C" fn gc(vmctx: *mut u8) {
    // SAFETY: as above.
    let instance = unsafe { instance(vmctx) };
    if let Some(store) = Store::from_weak(&instance.store) {
        run_destructors(|| {
            store.gc();
        });
    }
}

unsafe extern "C" fn drop_externref(_vmctx: *mut u8, externref: *mut u8) {
    // SAFETY: compiled code dropped the last count of a reference it
    // removed from a table or global.
    run_destructors(|| unsafe { free_unreferenced(externref.cast::<VMExternData>()) });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_builtin_index_order() {
        assert_eq!(BuiltinIndex::ALL.len(), NUM_BUILTINS as usize);
        assert_eq!(builtin_address(BuiltinIndex::MemoryGrow), memory_grow as *const u8);
        assert_eq!(builtin_address(BuiltinIndex::TableInit), table_init as *const u8);
        assert_eq!(builtin_address(BuiltinIndex::Gc), gc as *const u8);
        assert!(BUILTINS.0.iter().all(|p| !p.is_null()));
    }
}
