//! Engine configuration: how instances, memories and tables are allocated,
//! and whether profilers are told about loaded code.

use crate::ProfilingStrategy;

/// Settings an [`Engine`](crate::Engine) is made with
/// ([`Engine::new`](crate::Engine::new)).
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub(crate) allocation: InstanceAllocationStrategy,
    pub(crate) profiler: ProfilingStrategy,
}

impl Config {
    /// The default configuration: on-demand allocation.
    pub fn new() -> Config {
        Config::default()
    }

    /// How instances, memories and tables are allocated.
    pub fn allocation_strategy(&mut self, strategy: InstanceAllocationStrategy) -> &mut Config {
        self.allocation = strategy;
        self
    }

    /// How the code of the engine's modules is made visible to profilers:
    /// [`ProfilingStrategy::PerfMap`] writes `/tmp/perf-PID.map` for `perf`.
    pub fn profiler(&mut self, strategy: ProfilingStrategy) -> &mut Config {
        self.profiler = strategy;
        self
    }
}

/// How an engine allocates instances, memories and tables.
#[derive(Clone, Debug, Default)]
pub enum InstanceAllocationStrategy {
    /// Each on demand: a memory reserves its address space when it is made
    /// (dropped reservations are cached a few at a time), a table allocates
    /// its elements, and nothing limits how many there are but the store's
    /// [`ResourceLimiter`](crate::ResourceLimiter).
    #[default]
    OnDemand,
    /// From slots reserved once, when the engine is made; see
    /// [`PoolingAllocationConfig`].
    Pooling(PoolingAllocationConfig),
}

/// The pooling allocator: slots for instances, memories and tables,
/// reserved when the engine is made and reused by every store of the
/// engine, on any thread.
///
/// Instantiating then makes no `mmap` or `mprotect` system call when a
/// free slot already has the right size (and, for a memory with an image,
/// holds that image): dropping a store resets its memory slots with one
/// `madvise` each and keeps them mapped. Slots are reused last-freed first,
/// and a memory slot that last held the same module's image is preferred,
/// so that what is reused is still warm in cache and page tables.
///
/// Every memory slot reserves 8 GiB of address space (4 GiB addressable
/// and a guard for a 32-bit memory, up to 8 GiB less a 32 MiB guard for a
/// 64-bit one), so 1,000 memories take 8 TiB of the 128 TiB of a process;
/// none of it is backed by memory until used. Instantiation fails with an
/// error naming the limit when every slot of a kind is taken.
#[derive(Clone, Debug)]
pub struct PoolingAllocationConfig {
    pub(crate) total_core_instances: u32,
    pub(crate) total_memories: u32,
    pub(crate) total_tables: u32,
    pub(crate) max_core_instance_size: usize,
    pub(crate) max_memory_size: usize,
    pub(crate) table_elements: u32,
    pub(crate) linear_memory_keep_resident: usize,
}

impl Default for PoolingAllocationConfig {
    fn default() -> Self {
        PoolingAllocationConfig {
            total_core_instances: 1000,
            total_memories: 1000,
            total_tables: 1000,
            max_core_instance_size: 1 << 20,
            max_memory_size: 4 << 30,
            table_elements: 20_000,
            linear_memory_keep_resident: 0,
        }
    }
}

impl PoolingAllocationConfig {
    /// The defaults: 1,000 instances, memories and tables; 1 MiB of
    /// VMContext per instance; memories of up to 4 GiB; tables of up to
    /// 20,000 elements; no memory page kept resident.
    pub fn new() -> PoolingAllocationConfig {
        PoolingAllocationConfig::default()
    }

    /// Most instances alive at once, over all stores of the engine.
    pub fn total_core_instances(&mut self, count: u32) -> &mut Self {
        self.total_core_instances = count;
        self
    }

    /// Most defined linear memories alive at once.
    pub fn total_memories(&mut self, count: u32) -> &mut Self {
        self.total_memories = count;
        self
    }

    /// Most defined tables alive at once.
    pub fn total_tables(&mut self, count: u32) -> &mut Self {
        self.total_tables = count;
        self
    }

    /// Largest VMContext of an instance, in bytes; a module that needs more
    /// fails to instantiate.
    pub fn max_core_instance_size(&mut self, bytes: usize) -> &mut Self {
        self.max_core_instance_size = bytes;
        self
    }

    /// Most bytes a memory may have, initially or after growing (rounded
    /// down to whole Wasm pages). A 32-bit memory never exceeds 4 GiB and a
    /// 64-bit one never exceeds `MAX_MEMORY64_PAGES` (8 GiB less its
    /// guard), whatever this says; the default, 4 GiB, keeps 64-bit
    /// memories to 4 GiB as well. A module whose memory starts larger fails
    /// to instantiate; `memory.grow` past it returns -1.
    pub fn max_memory_size(&mut self, bytes: usize) -> &mut Self {
        self.max_memory_size = bytes;
        self
    }

    /// Most elements a table may have, initially or after growing.
    pub fn table_elements(&mut self, elements: u32) -> &mut Self {
        self.table_elements = elements;
        self
    }

    /// Bytes at the start of each memory slot that a reset zeroes with
    /// `memset` instead of giving back to the kernel. They stay resident, so
    /// the next instance touches them without page faults; the rest is
    /// returned with `madvise(MADV_DONTNEED)`. Image pages are always reset
    /// by `madvise`, which restores them to the image.
    pub fn linear_memory_keep_resident(&mut self, bytes: usize) -> &mut Self {
        self.linear_memory_keep_resident = bytes;
        self
    }
}
