//! Builtin functions: runtime routines that compiled code calls through the
//! builtins table that the VMContext points at (never by symbol).
//!
//! Every builtin uses the host's native C calling convention and takes the
//! calling instance's VMContext first. A builtin that must trap does not
//! return: it unwinds to the host-to-Wasm entry itself.

use std::fmt;

/// The kind of a builtin parameter or result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltinType {
    /// A pointer-sized value (VMContext, references).
    Pointer,
    /// A 32-bit integer.
    I32,
    /// A 64-bit integer: addresses, lengths, sizes and deltas of memories
    /// and tables, whatever their index type (compiled code zero-extends
    /// those of 32-bit ones).
    I64,
}

macro_rules! builtins {
    ($($name:ident = $idx:literal, $ident:literal, ($($param:ident),*) -> ($($ret:ident),*), $doc:literal;)*) => {
        /// Index of a builtin in the builtins table.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum BuiltinIndex {
            $(
                #[doc = $doc]
                $name = $idx,
            )*
        }

        impl BuiltinIndex {
            /// Every builtin, in table order.
            pub const ALL: &'static [BuiltinIndex] = &[$(BuiltinIndex::$name),*];

            /// Its name.
            pub fn name(self) -> &'static str {
                match self { $(BuiltinIndex::$name => $ident,)* }
            }

            /// Parameter types, the VMContext first.
            pub fn params(self) -> &'static [BuiltinType] {
                match self { $(BuiltinIndex::$name => &[BuiltinType::Pointer, $(BuiltinType::$param),*],)* }
            }

            /// Result types.
            pub fn results(self) -> &'static [BuiltinType] {
                match self { $(BuiltinIndex::$name => &[$(BuiltinType::$ret),*],)* }
            }
        }
    };
}

builtins! {
    MemoryGrow = 0, "memory_grow", (I32, I64) -> (I64),
        "`(vmctx, memory, delta_pages) -> old_pages`, or -1 (all ones) when the memory cannot grow.";
    MemoryFill = 1, "memory_fill", (I32, I64, I32, I64) -> (),
        "`(vmctx, memory, dst, value, len)`.";
    MemoryCopy = 2, "memory_copy", (I32, I64, I32, I64, I64) -> (),
        "`(vmctx, dst_memory, dst, src_memory, src, len)`.";
    MemoryInit = 3, "memory_init", (I32, I32, I64, I32, I32) -> (),
        "`(vmctx, memory, data_index, dst, src, len)`.";
    DataDrop = 4, "data_drop", (I32) -> (),
        "`(vmctx, data_index)`.";
    TableGrow = 5, "table_grow", (I32, I64, Pointer) -> (I64),
        "`(vmctx, table, delta, init) -> old_size`, or -1 (all ones) when the table cannot grow.";
    TableFill = 6, "table_fill", (I32, I64, Pointer, I64) -> (),
        "`(vmctx, table, dst, reference, len)`.";
    TableCopy = 7, "table_copy", (I32, I64, I32, I64, I64) -> (),
        "`(vmctx, dst_table, dst, src_table, src, len)`.";
    TableInit = 8, "table_init", (I32, I32, I64, I32, I32) -> (),
        "`(vmctx, table, elem_index, dst, src, len)`.";
    ElemDrop = 9, "elem_drop", (I32) -> (),
        "`(vmctx, elem_index)`.";
    ActivationsInsertSlow = 10, "activations_insert_slow", (Pointer) -> (),
        "`(vmctx, externref)`: the activations chunk is full; run a GC, then insert.";
    Gc = 11, "gc", () -> (),
        "`(vmctx)`: run an externref GC now.";
    DropRef = 12, "drop_ref", (Pointer) -> (),
        "`(vmctx, reference)`: compiled code dropped the last count of a counted reference (a host value, an exception or a GC object); free it, and iteratively whatever only it held (a host destructor may re-enter).";
    EpochDeadline = 13, "epoch_deadline", () -> (),
        "`(vmctx)`: an epoch check found the epoch at or past the store's deadline; trap with `interrupt`, or run the store's deadline callback, which may set a later deadline and return.";
    OutOfFuel = 14, "out_of_fuel", () -> (),
        "`(vmctx)`: a fuel check found the fuel counter at or above zero; refill it from the store's reserve and return, or trap with `out_of_fuel`.";
    MemoryAtomicNotify = 15, "memory_atomic_notify", (I32, I64, I32) -> (I32),
        "`(vmctx, memory, address, count) -> woken`: wakes at most `count` threads waiting at `address` (in bytes from the memory's base, 4-byte aligned and in bounds, checked by compiled code); 0 on an unshared memory.";
    MemoryAtomicWait32 = 16, "memory_atomic_wait32", (I32, I64, I32, I64) -> (I32),
        "`(vmctx, memory, address, expected, timeout_ns) -> 0 ok, 1 not-equal, 2 timed-out`: waits at `address` while the 32-bit word there equals `expected`, for at most `timeout_ns` nanoseconds (forever if negative); traps with `expected_shared_memory` on an unshared memory.";
    MemoryAtomicWait64 = 17, "memory_atomic_wait64", (I32, I64, I64, I64) -> (I32),
        "`(vmctx, memory, address, expected, timeout_ns) -> 0 ok, 1 not-equal, 2 timed-out`: `memory_atomic_wait32` of the 64-bit word at `address` (8-byte aligned).";
    Throw = 18, "throw", (I32, Pointer) -> (),
        "`(vmctx, tag, values)`: allocate an exception of tag index `tag` whose values are the value slots at `values`, and throw it; never returns.";
    ThrowRef = 19, "throw_ref", (Pointer) -> (),
        "`(vmctx, exnref)`: throw the exception again (not null: compiled code traps on null first); never returns.";
    ExnValues = 20, "exn_values", (Pointer, Pointer) -> (),
        "`(vmctx, exnref, out)`: write the exception's values to the value slots at `out`, each counted reference moved into the activations table.";
    GcPossibleRoot = 21, "gc_possible_root", (Pointer) -> (),
        "`(vmctx, object)`: compiled code took a GC object's count to a non-zero value and found neither `FLAG_BUFFERED` nor `FLAG_ACYCLIC` set; buffer it as a candidate root of a cycle (may run the cycle collector).";
    StructNew = 22, "struct_new", (I32, Pointer) -> (Pointer),
        "`(vmctx, type_index, values) -> struct`: allocate a struct of the module's type `type_index`, its fields from the value slots at `values` (default values when `values` is null). The new object is in the activations table. Counts the field references before it may collect; traps when the GC heap is exhausted.";
    ArrayNew = 23, "array_new", (I32, I32, Pointer) -> (Pointer),
        "`(vmctx, type_index, len, value) -> array`: allocate an array of `len` elements, each the value slot at `value` (the default when `value` is null); as `struct_new`.";
    ArrayNewFixed = 24, "array_new_fixed", (I32, I32, Pointer) -> (Pointer),
        "`(vmctx, type_index, len, values) -> array`: allocate an array whose elements are the `len` value slots at `values`; as `struct_new`.";
    ArrayNewData = 25, "array_new_data", (I32, I32, I32, I32) -> (Pointer),
        "`(vmctx, type_index, data_index, offset, len) -> array`: allocate an array of `len` numeric elements read from the data segment at byte `offset`; traps `memory_out_of_bounds` past the segment.";
    ArrayNewElem = 26, "array_new_elem", (I32, I32, I32, I32) -> (Pointer),
        "`(vmctx, type_index, elem_index, offset, len) -> array`: allocate an array of `len` references from the element segment; traps `table_out_of_bounds` past the segment.";
    ArrayFill = 27, "array_fill", (Pointer, I32, Pointer, I32) -> (),
        "`(vmctx, array, offset, value, len)`: set `len` elements from `offset` to the value slot at `value`; traps on null or out of bounds.";
    ArrayCopy = 28, "array_copy", (Pointer, I32, Pointer, I32, I32) -> (),
        "`(vmctx, dst, dst_offset, src, src_offset, len)`: copy elements (overlap allowed), counting references; traps on null or out of bounds.";
    ArrayInitData = 29, "array_init_data", (Pointer, I32, I32, I32, I32) -> (),
        "`(vmctx, array, dst_offset, data_index, src_offset, len)`: copy numeric elements from a data segment; traps on null or out of bounds.";
    ArrayInitElem = 30, "array_init_elem", (Pointer, I32, I32, I32, I32) -> (),
        "`(vmctx, array, dst_offset, elem_index, src_offset, len)`: copy references from an element segment, counting them; traps on null or out of bounds.";
    IsSubtype = 31, "is_subtype", (I32, I32) -> (I32),
        "`(vmctx, actual_type_id, expected_type_id) -> 0 or 1`: whether the engine type `actual` is `expected` or declares it as a supertype, directly or not (the slow path of casts to a type that is not final).";
}

/// Number of builtins (entries in the builtins table).
pub const NUM_BUILTINS: u32 = BuiltinIndex::ALL.len() as u32;

impl fmt::Display for BuiltinIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_indices_are_dense() {
        for (i, b) in BuiltinIndex::ALL.iter().enumerate() {
            assert_eq!(*b as usize, i);
            assert_eq!(b.params()[0], BuiltinType::Pointer);
        }
    }
}
