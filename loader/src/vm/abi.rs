//! The `#[repr(C)]` runtime structures that compiled code reads and writes.
//!
//! Their layouts are fixed by `kiln_format::VMOffsets` and its offset
//! modules; the tests below check every field offset against them, so the
//! two sides cannot drift apart.
#![allow(unsafe_code)]

use kiln_format::VALUE_SLOT_SIZE;

use super::externref::VMExternData;

/// Per-store block that every VMContext points at from offset 0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct VMRuntimeLimits {
    pub stack_limit: usize,
    pub last_exit_fp: usize,
    pub last_exit_pc: usize,
    pub entry_fp: usize,
}

/// What a funcref points at.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct VMFuncRef {
    pub wasm_call: *const u8,
    pub vmctx: *mut u8,
    pub type_id: u32,
    pub _pad: u32,
    pub host_entry: *const u8,
}

/// Where a `Func` handle's func ref lives: in a VMContext or a host
/// function context of its store. Only ever read after the handle's store
/// id has been checked against the store that owns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FuncRefPtr(std::ptr::NonNull<VMFuncRef>);

// SAFETY: the pointer is only dereferenced through its owning store, which
// the caller holds (see `StoreOpaque::func_ref`).
unsafe impl Send for FuncRefPtr {}
// SAFETY: as above.
unsafe impl Sync for FuncRefPtr {}

impl FuncRefPtr {
    /// The func ref at `raw`, or `None` for null.
    #[inline]
    pub fn new(raw: *const VMFuncRef) -> Option<FuncRefPtr> {
        std::ptr::NonNull::new(raw.cast_mut()).map(FuncRefPtr)
    }

    #[inline]
    pub fn as_ptr(self) -> *const VMFuncRef {
        self.0.as_ptr()
    }
}

impl VMFuncRef {
    pub const NULL: VMFuncRef = VMFuncRef {
        wasm_call: std::ptr::null(),
        vmctx: std::ptr::null_mut(),
        type_id: 0,
        _pad: 0,
        host_entry: std::ptr::null(),
    };
}

/// `VMFunctionImport`: how a module calls one of its imported functions.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct VMFunctionImport {
    pub wasm_call: *const u8,
    pub vmctx: *mut u8,
}

/// `VMTableDefinition` and `VMMemoryDefinition` share this shape.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct VMDefinition {
    pub base: *mut u8,
    pub current_length: u64,
}

impl Default for VMDefinition {
    fn default() -> Self {
        VMDefinition { base: std::ptr::null_mut(), current_length: 0 }
    }
}

/// The bump chunk of the store's activations table: compiled code stores a
/// reference at `next` and bumps it, or calls `activations_insert_slow`
/// when `next == end`.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct VMActivationsTable {
    pub next: *mut *mut VMExternData,
    pub end: *mut *mut VMExternData,
}

/// One 16-byte value slot of the trampolines' argument/result array, and the
/// shape of a `VMGlobalDefinition`.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ValueSlot(pub [u8; VALUE_SLOT_SIZE as usize]);

impl ValueSlot {
    pub const ZERO: ValueSlot = ValueSlot([0; VALUE_SLOT_SIZE as usize]);

    #[inline]
    pub fn from_u128(bits: u128) -> Self {
        ValueSlot(bits.to_le_bytes())
    }

    #[inline]
    pub fn to_u128(self) -> u128 {
        u128::from_le_bytes(self.0)
    }

    /// A pointer-sized value (references) at the start of the slot.
    #[inline]
    pub fn pointer(self) -> usize {
        self.to_u128() as u64 as usize
    }
}

/// The Wasm-to-host call of a `VMHostFuncContext`.
pub(crate) type HostCallFn = unsafe extern "C" fn(*mut u8, *mut ValueSlot);

/// A host-to-Wasm entry trampoline.
pub(crate) type EntryTrampolineFn = unsafe extern "C" fn(*mut u8, *const u8, *mut ValueSlot);

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_format::{definition, func_ref, runtime_limits, VMOffsets};
    use std::mem::{offset_of, size_of};

    #[test]
    fn layouts_match_the_format() {
        assert_eq!(offset_of!(VMRuntimeLimits, stack_limit) as u32, runtime_limits::STACK_LIMIT);
        assert_eq!(offset_of!(VMRuntimeLimits, last_exit_fp) as u32, runtime_limits::LAST_EXIT_FP);
        assert_eq!(offset_of!(VMRuntimeLimits, last_exit_pc) as u32, runtime_limits::LAST_EXIT_PC);
        assert_eq!(offset_of!(VMRuntimeLimits, entry_fp) as u32, runtime_limits::ENTRY_FP);
        assert_eq!(size_of::<VMRuntimeLimits>() as u32, runtime_limits::SIZE);
        assert_eq!(offset_of!(VMFuncRef, wasm_call) as u32, func_ref::WASM_CALL);
        assert_eq!(offset_of!(VMFuncRef, vmctx) as u32, func_ref::VMCTX);
        assert_eq!(offset_of!(VMFuncRef, type_id) as u32, func_ref::TYPE_ID);
        assert_eq!(offset_of!(VMFuncRef, host_entry) as u32, func_ref::HOST_ENTRY);
        assert_eq!(size_of::<VMFuncRef>() as u32, func_ref::SIZE);
        assert_eq!(size_of::<VMFunctionImport>() as u32, VMOffsets::FUNCTION_IMPORT_SIZE);
        assert_eq!(offset_of!(VMDefinition, base) as u32, definition::BASE);
        assert_eq!(offset_of!(VMDefinition, current_length) as u32, definition::CURRENT_LENGTH);
        assert_eq!(size_of::<VMDefinition>() as u32, definition::SIZE);
        assert_eq!(size_of::<ValueSlot>() as u32, VMOffsets::GLOBAL_SIZE);
        assert_eq!(offset_of!(VMActivationsTable, next) as u32, kiln_format::activations::NEXT);
        assert_eq!(offset_of!(VMActivationsTable, end) as u32, kiln_format::activations::END);
    }
}
