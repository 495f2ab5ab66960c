//! The VMContext layout, computed from a module's counts.
//!
//! A VMContext is one contiguous, 16-byte aligned block per instance:
//!
//! | region | entry size | contents |
//! |---|---|---|
//! | header | 32 | runtime limits ptr, builtins table ptr, activations table ptr, instance ptr |
//! | type ids | 4 per type | store-wide canonical id of each type index (padded to 8) |
//! | imported functions | 16 | `VMFunctionImport { wasm_call, vmctx }` |
//! | imported tables | 8 | `*mut VMTableDefinition` |
//! | imported memories | 8 | `*mut VMMemoryDefinition` |
//! | imported globals | 8 | `*mut VMGlobalDefinition` |
//! | defined tables | 16 | `VMTableDefinition { base, current_elements }` |
//! | defined memories | 16 | `VMMemoryDefinition { base, current_length }` |
//! | defined globals | 16 | `VMGlobalDefinition`: the value, as in a value slot (aligned 16) |
//! | func refs | 32 | `VMFuncRef` of every function of the function space |

/// Counts that determine a VMContext layout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ModuleCounts {
    /// Entries in the type section.
    pub types: u32,
    /// Imported functions.
    pub imported_funcs: u32,
    /// Imported tables.
    pub imported_tables: u32,
    /// Imported memories.
    pub imported_memories: u32,
    /// Imported globals.
    pub imported_globals: u32,
    /// Defined tables.
    pub defined_tables: u32,
    /// Defined memories.
    pub defined_memories: u32,
    /// Defined globals.
    pub defined_globals: u32,
    /// All functions, imported and defined.
    pub funcs: u32,
}

/// Offsets inside `VMRuntimeLimits`, the per-store block that every VMContext
/// and every `VMHostFuncContext` points at from offset 0.
pub mod runtime_limits {
    /// `usize`: lowest stack address Wasm code may use; checked in every prologue.
    pub const STACK_LIMIT: u32 = 0;
    /// `usize`: frame pointer of the last Wasm frame when Wasm last called out.
    pub const LAST_EXIT_FP: u32 = 8;
    /// `usize`: return address into Wasm of that exit call.
    pub const LAST_EXIT_PC: u32 = 16;
    /// `usize`: frame pointer of the innermost host-to-Wasm entry trampoline.
    pub const ENTRY_FP: u32 = 24;
    /// Size of the block.
    pub const SIZE: u32 = 32;
}

/// Offsets inside the store context block: the `VMRuntimeLimits` (at 0,
/// [`runtime_limits`]) followed by the epoch fields that epoch checks read and the fuel
/// counter of fuel checks,
/// then fields private to the runtime. A host-to-Wasm entry saves and
/// restores the limits but never these, so a deadline set while Wasm runs
/// (by the deadline callback, or a host function) stays set.
pub mod store_context {
    /// `u64`: the store's epoch deadline; an epoch check calls the
    /// `epoch_deadline` builtin when the engine's epoch is at or past it.
    /// `u64::MAX` (no deadline) never fires.
    pub const EPOCH_DEADLINE: u32 = super::runtime_limits::SIZE;
    /// `*const u64`: the engine's epoch counter, incremented by any thread
    /// (an atomic; compiled code reads it with a plain aligned load).
    pub const EPOCH_COUNTER: u32 = super::runtime_limits::SIZE + 8;
    /// `i64`: the fuel counter that fuel checks read and write: the fuel
    /// consumed minus the fuel injected, so that `-counter` units remain
    /// and a counter at or above zero means the injected fuel is used up.
    /// Compiled code adds the cost of the code it runs and calls the
    /// `out_of_fuel` builtin when a check finds the counter `>= 0`.
    pub const FUEL_CONSUMED: u32 = super::runtime_limits::SIZE + 16;
    /// Size of the part of the block that compiled code reads.
    pub const ABI_SIZE: u32 = super::runtime_limits::SIZE + 24;
}

/// Offsets inside `VMActivationsTable` (the bump chunk of externrefs held by Wasm frames).
pub mod activations {
    /// `*mut *mut VMExternData`: next free entry of the chunk.
    pub const NEXT: u32 = 0;
    /// `*mut *mut VMExternData`: one past the last entry of the chunk.
    pub const END: u32 = 8;
    /// Entries of the bump chunk: how many `table.get`/`global.get` results
    /// of externrefs compiled code inserts between two GCs. Compiled code
    /// compares `next` with `END` and never counts entries itself, so this
    /// is the runtime's choice of GC frequency against the chunk's memory
    /// (8 bytes an entry); it is written here so that the runtime, its tests
    /// and SPEC.md name one number.
    pub const CHUNK_CAPACITY: usize = 1024;
}

/// Offsets inside `VMExternData`, the heap block behind an externref.
pub mod extern_data {
    /// `AtomicUsize` reference count.
    pub const REF_COUNT: u32 = 0;
}

/// Layout of a `VMFuncRef`: what a funcref points at.
pub mod func_ref {
    /// Code pointer with the Wasm ABI `(vmctx, params...) -> results`.
    pub const WASM_CALL: u32 = 0;
    /// The callee VMContext (or `VMHostFuncContext` of a host function).
    pub const VMCTX: u32 = 8;
    /// `u32` canonical type id, compared by `call_indirect`.
    pub const TYPE_ID: u32 = 16;
    /// Host-to-Wasm entry trampoline of its type, or null for a host function.
    pub const HOST_ENTRY: u32 = 24;
    /// Size of a `VMFuncRef`.
    pub const SIZE: u32 = 32;
}

/// Layout of a `VMHostFuncContext`, the callee context of a host function.
pub mod host_func_context {
    /// `*mut VMRuntimeLimits`, at the same offset as in a VMContext.
    pub const RUNTIME_LIMITS: u32 = 0;
    /// `extern "C" fn(*mut VMHostFuncContext, *mut [u8; 16])`: called by the
    /// Wasm-to-host trampoline with the arguments in value slots; it writes
    /// the results to the same slots.
    pub const HOST_CALL: u32 = 8;
}

/// Layout of a `VMTableDefinition` and a `VMMemoryDefinition`.
pub mod definition {
    /// Base pointer (table elements are 8-byte references).
    pub const BASE: u32 = 0;
    /// `u64`: current number of table elements, or memory length in bytes.
    pub const CURRENT_LENGTH: u32 = 8;
    /// Size of a definition.
    pub const SIZE: u32 = 16;
}

/// The slot of a defined shared memory (threads proposal) among the
/// defined memories. A shared memory is owned by no instance: its
/// `VMMemoryDefinition` lives in the memory itself, where every instance on
/// every thread that uses it reads the same `current_length`, so the slot
/// holds a pointer to it, as an imported memory's does.
pub mod shared_memory_slot {
    /// `*mut VMMemoryDefinition` of the shared memory; the rest of the
    /// 16-byte slot is zero.
    pub const DEFINITION: u32 = 0;
}

/// The VMContext offsets of one module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VMOffsets {
    counts: ModuleCounts,
    type_ids: u32,
    imported_functions: u32,
    imported_tables: u32,
    imported_memories: u32,
    imported_globals: u32,
    defined_tables: u32,
    defined_memories: u32,
    defined_globals: u32,
    func_refs: u32,
    size: u32,
}

const fn align(n: u32, to: u32) -> u32 {
    (n + to - 1) & !(to - 1)
}

impl VMOffsets {
    /// `*mut VMRuntimeLimits`.
    pub const RUNTIME_LIMITS: u32 = 0;
    /// `*const [*const u8; NUM_BUILTINS]`.
    pub const BUILTINS: u32 = 8;
    /// `*mut VMActivationsTable`.
    pub const ACTIVATIONS: u32 = 16;
    /// Opaque pointer to the runtime's instance.
    pub const INSTANCE: u32 = 24;
    /// Size of a `VMFunctionImport`.
    pub const FUNCTION_IMPORT_SIZE: u32 = 16;
    /// Size of a `VMGlobalDefinition`.
    pub const GLOBAL_SIZE: u32 = 16;

    /// Computes the layout.
    pub fn new(counts: ModuleCounts) -> Self {
        let type_ids = 32;
        let imported_functions = align(type_ids + 4 * counts.types, 8);
        let imported_tables = imported_functions + Self::FUNCTION_IMPORT_SIZE * counts.imported_funcs;
        let imported_memories = imported_tables + 8 * counts.imported_tables;
        let imported_globals = imported_memories + 8 * counts.imported_memories;
        let defined_tables = imported_globals + 8 * counts.imported_globals;
        let defined_memories = defined_tables + definition::SIZE * counts.defined_tables;
        let defined_globals = align(defined_memories + definition::SIZE * counts.defined_memories, 16);
        let func_refs = defined_globals + Self::GLOBAL_SIZE * counts.defined_globals;
        let size = align(func_refs + func_ref::SIZE * counts.funcs, 16);
        VMOffsets {
            counts,
            type_ids,
            imported_functions,
            imported_tables,
            imported_memories,
            imported_globals,
            defined_tables,
            defined_memories,
            defined_globals,
            func_refs,
            size,
        }
    }

    /// The counts this layout was computed from.
    pub fn counts(&self) -> ModuleCounts {
        self.counts
    }

    /// Total size of the VMContext in bytes.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// `u32` canonical type id of type `index`.
    pub fn type_id(&self, index: u32) -> u32 {
        assert!(index < self.counts.types);
        self.type_ids + 4 * index
    }

    /// `VMFunctionImport` of imported function `index`.
    pub fn imported_function(&self, index: u32) -> u32 {
        assert!(index < self.counts.imported_funcs);
        self.imported_functions + Self::FUNCTION_IMPORT_SIZE * index
    }

    /// Code pointer of imported function `index`.
    pub fn imported_function_call(&self, index: u32) -> u32 {
        self.imported_function(index)
    }

    /// Callee VMContext of imported function `index`.
    pub fn imported_function_vmctx(&self, index: u32) -> u32 {
        self.imported_function(index) + 8
    }

    /// `*mut VMTableDefinition` of imported table `index`.
    pub fn imported_table(&self, index: u32) -> u32 {
        assert!(index < self.counts.imported_tables);
        self.imported_tables + 8 * index
    }

    /// `*mut VMMemoryDefinition` of imported memory `index`.
    pub fn imported_memory(&self, index: u32) -> u32 {
        assert!(index < self.counts.imported_memories);
        self.imported_memories + 8 * index
    }

    /// `*mut VMGlobalDefinition` of imported global `index`.
    pub fn imported_global(&self, index: u32) -> u32 {
        assert!(index < self.counts.imported_globals);
        self.imported_globals + 8 * index
    }

    /// `VMTableDefinition` of defined table `index` (counting defined tables only).
    pub fn defined_table(&self, index: u32) -> u32 {
        assert!(index < self.counts.defined_tables);
        self.defined_tables + definition::SIZE * index
    }

    /// `VMMemoryDefinition` of defined memory `index` (counting defined memories only).
    pub fn defined_memory(&self, index: u32) -> u32 {
        assert!(index < self.counts.defined_memories);
        self.defined_memories + definition::SIZE * index
    }

    /// `VMGlobalDefinition` of defined global `index` (counting defined globals only).
    pub fn defined_global(&self, index: u32) -> u32 {
        assert!(index < self.counts.defined_globals);
        self.defined_globals + Self::GLOBAL_SIZE * index
    }

    /// `VMFuncRef` of function `index` (in the whole function space).
    pub fn func_ref(&self, index: u32) -> u32 {
        assert!(index < self.counts.funcs);
        self.func_refs + func_ref::SIZE * index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_do_not_overlap_and_are_aligned() {
        let o = VMOffsets::new(ModuleCounts {
            types: 3,
            imported_funcs: 2,
            imported_tables: 1,
            imported_memories: 1,
            imported_globals: 2,
            defined_tables: 2,
            defined_memories: 1,
            defined_globals: 3,
            funcs: 5,
        });
        assert_eq!(o.type_id(0), 32);
        assert!(o.imported_function(0) >= o.type_id(2) + 4);
        assert_eq!(o.imported_function(0) % 8, 0);
        assert_eq!(o.defined_global(0) % 16, 0);
        assert!(o.func_ref(0) >= o.defined_global(2) + 16);
        assert!(o.size() >= o.func_ref(4) + func_ref::SIZE);
        assert_eq!(o.size() % 16, 0);
    }
}
