//! Resource limits: what a store may allocate, decided by its host state.

/// Decides, for one store, how far its memories and tables may grow and how
/// many instances, memories and tables it may hold. Install one with
/// [`Store::limiter`](crate::Store::limiter); [`StoreLimits`] is a ready one.
///
/// Growth is asked before anything is mapped or allocated, including the
/// initial size of every memory and table an instantiation creates. A
/// refused `memory.grow` or `table.grow` returns -1 to the guest, as the
/// specification says, and the guest goes on; a refused instantiation is an
/// error. An `Err` from a method ends the Wasm call (or the instantiation)
/// with that error.
pub trait ResourceLimiter: Send {
    /// Whether a memory may grow from `current` to `desired` bytes;
    /// `maximum` is its declared maximum, if any.
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> anyhow::Result<bool>;

    /// Whether a table may grow from `current` to `desired` elements.
    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> anyhow::Result<bool>;

    /// Whether the store's GC heap (its structs and arrays) may grow from
    /// `current` to `desired` bytes. A refusal makes the allocation trap
    /// with `gc_heap_exhausted` after a collection could not make room.
    fn gc_heap_growing(&mut self, _current: usize, desired: usize) -> anyhow::Result<bool> {
        Ok(desired <= DEFAULT_GC_HEAP_LIMIT)
    }

    /// Most instances the store may hold.
    fn instances(&self) -> usize {
        DEFAULT_INSTANCE_LIMIT
    }

    /// Most tables the store may hold.
    fn tables(&self) -> usize {
        DEFAULT_TABLE_LIMIT
    }

    /// Most memories the store may hold.
    fn memories(&self) -> usize {
        DEFAULT_MEMORY_LIMIT
    }
}

/// The default of [`ResourceLimiter::instances`].
pub const DEFAULT_INSTANCE_LIMIT: usize = 10_000;
/// The default of [`ResourceLimiter::tables`].
pub const DEFAULT_TABLE_LIMIT: usize = 10_000;
/// The default of [`ResourceLimiter::memories`].
pub const DEFAULT_MEMORY_LIMIT: usize = 10_000;
/// The default bound of a store's GC heap, in bytes (also the bound of a
/// store without a limiter): 1 GiB.
pub const DEFAULT_GC_HEAP_LIMIT: usize = 1 << 30;

/// Fixed limits, built with [`StoreLimitsBuilder`].
#[derive(Clone, Debug)]
pub struct StoreLimits {
    memory_size: Option<usize>,
    table_elements: Option<usize>,
    gc_heap_size: usize,
    instances: usize,
    tables: usize,
    memories: usize,
    trap_on_grow_failure: bool,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            memory_size: None,
            table_elements: None,
            gc_heap_size: DEFAULT_GC_HEAP_LIMIT,
            instances: DEFAULT_INSTANCE_LIMIT,
            tables: DEFAULT_TABLE_LIMIT,
            memories: DEFAULT_MEMORY_LIMIT,
            trap_on_grow_failure: false,
        }
    }
}

impl StoreLimits {
    /// A builder, starting with no limit on sizes and the default counts.
    pub fn builder() -> StoreLimitsBuilder {
        StoreLimitsBuilder(StoreLimits::default())
    }

    fn allow(&self, desired: usize, limit: Option<usize>, what: &str) -> anyhow::Result<bool> {
        let allowed = limit.is_none_or(|limit| desired <= limit);
        if !allowed && self.trap_on_grow_failure {
            anyhow::bail!("growing a {what} to {desired} exceeds the store's limit of {}", limit.unwrap_or(0));
        }
        Ok(allowed)
    }
}

impl ResourceLimiter for StoreLimits {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> anyhow::Result<bool> {
        self.allow(desired, self.memory_size, "memory (bytes)")
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> anyhow::Result<bool> {
        self.allow(desired, self.table_elements, "table (elements)")
    }

    fn gc_heap_growing(&mut self, _current: usize, desired: usize) -> anyhow::Result<bool> {
        // A refused allocation traps whatever `trap_on_grow_failure` says.
        Ok(desired <= self.gc_heap_size)
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.tables
    }

    fn memories(&self) -> usize {
        self.memories
    }
}

/// Builds [`StoreLimits`].
#[derive(Clone, Debug)]
pub struct StoreLimitsBuilder(StoreLimits);

impl StoreLimitsBuilder {
    /// Most bytes any one memory may have.
    pub fn memory_size(mut self, bytes: usize) -> Self {
        self.0.memory_size = Some(bytes);
        self
    }

    /// Most elements any one table may have.
    pub fn table_elements(mut self, elements: usize) -> Self {
        self.0.table_elements = Some(elements);
        self
    }

    /// Most bytes the store's GC heap may hold.
    pub fn gc_heap_size(mut self, bytes: usize) -> Self {
        self.0.gc_heap_size = bytes;
        self
    }

    /// Most instances the store may hold.
    pub fn instances(mut self, count: usize) -> Self {
        self.0.instances = count;
        self
    }

    /// Most tables the store may hold.
    pub fn tables(mut self, count: usize) -> Self {
        self.0.tables = count;
        self
    }

    /// Most memories the store may hold.
    pub fn memories(mut self, count: usize) -> Self {
        self.0.memories = count;
        self
    }

    /// Makes a refused growth an error of the call (a trap for the guest)
    /// instead of -1.
    pub fn trap_on_grow_failure(mut self, trap: bool) -> Self {
        self.0.trap_on_grow_failure = trap;
        self
    }

    /// The limits.
    pub fn build(self) -> StoreLimits {
        self.0
    }
}
