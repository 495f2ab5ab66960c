//! The numbers of a store's GC heap, for embedders and tests.

/// What a store's GC heap holds and has done
/// ([`Store::gc_heap_stats`](crate::Store::gc_heap_stats)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GcHeapStats {
    /// Structs and arrays allocated and not yet freed (including garbage
    /// cycles the collector has not reached yet).
    pub live_objects: usize,
    /// Bytes those objects take, by their slot sizes.
    pub live_bytes: usize,
    /// Bytes of memory the heap holds, free slots included.
    pub reserved_bytes: usize,
    /// Cycle collections run.
    pub collections: u64,
    /// Objects the cycle collector freed (members of garbage cycles and
    /// what only they held).
    pub cycles_collected: u64,
    /// Objects freed, by counting or by the cycle collector.
    pub objects_freed: u64,
    /// Candidate roots in the collector's buffer now.
    pub candidates: usize,
}
