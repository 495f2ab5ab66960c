//! The pooling allocator: slots for memories, tables and VMContexts,
//! reserved once per engine and reused (see [`PoolingAllocationConfig`]).
//!
//! Memory slots are one contiguous reservation, 8 GiB apart: a slot is the
//! reservation of one memory, 32-bit or 64-bit (`MEMORY_RESERVATION`). A free slot
//! keeps its accessible prefix read-write and its last image mapped, so
//! reusing it for a memory of the same size and image costs no system call;
//! a reset (`madvise(MADV_DONTNEED)`) has already given back its dirty
//! pages, which then read as zero, or as the image's file pages.
#![allow(unsafe_code)]

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::sync::{Arc, Mutex, MutexGuard};

use super::memory::{
    map_zero_pages, protect, reserve_address_space, ImageRef, MappedImage, RESERVATION, WASM_PAGE_SIZE,
};
use crate::config::PoolingAllocationConfig;
use crate::error::Error;

/// The pools of one engine.
pub(crate) struct PoolingAllocator {
    pub(crate) memories: Arc<MemoryPool>,
    pub(crate) tables: Arc<TablePool>,
    pub(crate) instances: Arc<InstancePool>,
}

impl PoolingAllocator {
    pub(crate) fn new(config: &PoolingAllocationConfig) -> Result<PoolingAllocator, Error> {
        Ok(PoolingAllocator {
            memories: Arc::new(MemoryPool::new(config)?),
            tables: Arc::new(TablePool {
                max_elements: config.table_elements,
                free: Mutex::new(FreeList::new(config.total_tables)),
            }),
            instances: Arc::new(InstancePool::new(config)?),
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Free slots of one kind, last freed on top, with what each still holds.
/// Slots never taken yet are counted, not listed, so that a pool of 1,000
/// costs nothing until used.
struct FreeList<S> {
    free: Vec<S>,
    never_used: u32,
    total: u32,
}

impl<S> FreeList<S> {
    fn new(total: u32) -> Self {
        FreeList { free: Vec::new(), never_used: total, total }
    }

    /// A free slot: the most recently freed one that `prefer` accepts among
    /// the last few, else the most recently freed, else a fresh one made by
    /// `fresh` from its number; `None` when all are in use.
    fn take(&mut self, prefer: impl Fn(&S) -> bool, fresh: impl FnOnce(u32) -> S) -> Option<S> {
        // A bounded look: the top of the list is what is warm anyway.
        const LOOK: usize = 16;
        let start = self.free.len().saturating_sub(LOOK);
        if let Some(i) = self.free[start..].iter().rposition(prefer) {
            return Some(self.free.remove(start + i));
        }
        if let Some(slot) = self.free.pop() {
            return Some(slot);
        }
        if self.never_used > 0 {
            self.never_used -= 1;
            return Some(fresh(self.total - self.never_used - 1));
        }
        None
    }
}

/// The memory slots of an engine.
pub(crate) struct MemoryPool {
    base: usize,
    total: u32,
    max_pages: u64,
    keep_resident: usize,
    free: Mutex<FreeList<FreeMemorySlot>>,
}

/// A free memory slot and the state it was left in: its first `accessible`
/// bytes read-write and zero, except `image`, which reads as the image.
struct FreeMemorySlot {
    index: u32,
    accessible: usize,
    image: Option<MappedImage>,
}

impl MemoryPool {
    fn new(config: &PoolingAllocationConfig) -> Result<MemoryPool, Error> {
        let total = config.total_memories;
        let len = (total as usize)
            .checked_mul(RESERVATION)
            .ok_or_else(|| Error::Instantiation(format!("{total} memory slots do not fit in the address space")))?;
        let base = if len == 0 {
            0
        } else {
            reserve_address_space(len).map_err(|e| {
                Error::Instantiation(format!(
                    "cannot reserve {total} memory slots ({} GiB of address space): {e}",
                    len >> 30
                ))
            })?
        };
        // Each memory's type caps it further: 4 GiB for a 32-bit one.
        let max_pages = (config.max_memory_size as u64 / WASM_PAGE_SIZE).min(super::memory::MAX_MEMORY64_PAGES);
        Ok(MemoryPool {
            base,
            total,
            max_pages,
            keep_resident: config.linear_memory_keep_resident,
            free: Mutex::new(FreeList::new(total)),
        })
    }

    /// Most pages a memory of this pool may have.
    pub(crate) fn max_pages(&self) -> u64 {
        self.max_pages
    }

    fn slot_base(&self, index: u32) -> usize {
        self.base + index as usize * RESERVATION
    }

    /// A slot for a memory of `initial` bytes with `image` mapped into it.
    pub(crate) fn allocate(self: &Arc<Self>, initial: usize, image: Option<ImageRef<'_>>) -> Result<MemorySlot, Error> {
        if initial as u64 > self.max_pages * WASM_PAGE_SIZE {
            return Err(Error::Instantiation(format!(
                "a memory of {} exceeds the pooling allocator's maximum of {}",
                crate::wording::count(initial as u64 / WASM_PAGE_SIZE, "page"),
                crate::wording::count(self.max_pages, "page")
            )));
        }
        let wanted = image.map(|i| i.mapped());
        let fresh = |index| FreeMemorySlot { index, accessible: 0, image: None };
        let slot = lock(&self.free)
            .take(|s| wanted.is_some() && s.image == wanted && s.accessible == initial, fresh)
            .ok_or_else(|| {
            Error::Instantiation(format!("all {} memory slots of the pooling allocator are in use", self.total))
        })?;
        let base = self.slot_base(slot.index);
        // SAFETY: the slot is ours until released; nothing uses its pages.
        match unsafe { self.prepare(base, &slot, initial, image) } {
            Ok(()) => Ok(MemorySlot { pool: self.clone(), index: slot.index, image: wanted }),
            Err(error) => {
                self.scrub(slot.index);
                Err(error)
            }
        }
    }

    /// Brings a free slot from the state it was left in to `initial`
    /// accessible bytes holding `image`: no system call when both match.
    ///
    /// # Safety
    ///
    /// The caller must own the slot at `base`.
    unsafe fn prepare(
        &self,
        base: usize,
        slot: &FreeMemorySlot,
        initial: usize,
        image: Option<ImageRef<'_>>,
    ) -> Result<(), Error> {
        let refused = |what: &str| {
            Error::Instantiation(format!("cannot {what} a memory slot: {}", std::io::Error::last_os_error()))
        };
        let same_image = slot.image == image.map(|i| i.mapped());
        if let (false, Some(old)) = (same_image, slot.image) {
            // SAFETY: the caller owns the slot, where `old` was mapped.
            if !unsafe { old.unmap(base) } {
                return Err(refused("clear the image of"));
            }
        }
        // SAFETY: both ranges lie inside the caller's slot.
        let resized = unsafe {
            if initial > slot.accessible {
                protect(base + slot.accessible, initial - slot.accessible, libc::PROT_READ | libc::PROT_WRITE)
            } else {
                protect(base + initial, slot.accessible - initial, libc::PROT_NONE)
            }
        };
        if !resized {
            return Err(refused("resize"));
        }
        if let (false, Some(image)) = (same_image, image) {
            // SAFETY: the image lies inside the initial pages (checked at
            // load), accessible now, in the caller's slot.
            unsafe { image.map(base as *mut u8) }?;
        }
        Ok(())
    }

    /// Returns a slot whose state is unknown (a system call failed halfway)
    /// to the pool as never used: all of it inaccessible and zero.
    fn scrub(&self, index: u32) {
        // SAFETY: the slot is owned by the caller and nothing uses it.
        let clean = unsafe { map_zero_pages(self.slot_base(index), RESERVATION, libc::PROT_NONE) };
        if clean {
            lock(&self.free).free.push(FreeMemorySlot { index, accessible: 0, image: None });
        }
        // Else the slot is lost to the pool, which is safe: it stays
        // reserved and is never handed out again.
    }

    /// Resets a slot for the next memory and frees it.
    fn release(&self, index: u32, accessible: usize, image: Option<MappedImage>) {
        let base = self.slot_base(index);
        let keep = self.keep_resident.min(accessible);
        let image_range = image.map(|i| i.range()).unwrap_or(0..0);
        // Zero the resident prefix by hand, except for image pages, which
        // only the kernel can restore to the image.
        let mut ok = true;
        for (start, end) in [(0, image_range.start.min(keep)), (image_range.end.min(keep), keep)] {
            if start < end {
                // SAFETY: the range is accessible, in a slot that nothing
                // uses any more.
                unsafe { std::ptr::write_bytes((base + start) as *mut u8, 0, end - start) };
            }
        }
        // The rest, and the image, back to the kernel: one call when
        // nothing is kept resident.
        let discard = if keep == 0 { [0..accessible, 0..0] } else { [image_range.clone(), keep..accessible] };
        for range in discard {
            if range.start < range.end {
                // SAFETY: as above.
                let rc = unsafe {
                    libc::madvise(
                        (base + range.start) as *mut libc::c_void,
                        range.end - range.start,
                        libc::MADV_DONTNEED,
                    )
                };
                ok &= rc == 0;
            }
        }
        if ok {
            lock(&self.free).free.push(FreeMemorySlot { index, accessible, image });
        } else {
            self.scrub(index);
        }
    }
}

impl Drop for MemoryPool {
    fn drop(&mut self) {
        if self.total > 0 {
            // SAFETY: every slot was released (each holds an `Arc` of the
            // pool), so nothing uses the reservation.
            unsafe { libc::munmap(self.base as *mut libc::c_void, self.total as usize * RESERVATION) };
        }
    }
}

/// A memory slot in use, given back on drop of its memory.
pub(crate) struct MemorySlot {
    pool: Arc<MemoryPool>,
    index: u32,
    image: Option<MappedImage>,
}

impl MemorySlot {
    pub(crate) fn base(&self) -> *mut u8 {
        self.pool.slot_base(self.index) as *mut u8
    }

    /// Resets the slot, whose first `accessible` bytes are read-write, and
    /// frees it.
    pub(crate) fn release(self, accessible: usize) {
        self.pool.release(self.index, accessible, self.image);
    }
}

/// Element buffers of tables, each allocated once with room for the
/// configured most elements and kept when its table is dropped.
pub(crate) struct TablePool {
    max_elements: u32,
    free: Mutex<FreeList<Vec<usize>>>,
}

impl TablePool {
    /// An empty element buffer that holds the pool's most elements without
    /// reallocating.
    pub(crate) fn allocate(&self, minimum: u32) -> Result<Vec<usize>, Error> {
        if minimum > self.max_elements {
            return Err(Error::Instantiation(format!(
                "a table of {minimum} elements exceeds the pooling allocator's maximum of {}",
                self.max_elements
            )));
        }
        let mut free = lock(&self.free);
        let total = free.total;
        let mut buffer = free.take(|_| true, |_| Vec::new()).ok_or_else(|| {
            Error::Instantiation(format!("all {total} table slots of the pooling allocator are in use"))
        })?;
        drop(free);
        if buffer.capacity() < self.max_elements as usize {
            if let Err(e) = buffer.try_reserve_exact(self.max_elements as usize) {
                lock(&self.free).free.push(Vec::new());
                return Err(Error::Instantiation(format!("cannot allocate a table slot: {e}")));
            }
        }
        Ok(buffer)
    }

    /// Most elements a table of this pool may have.
    pub(crate) fn max_elements(&self) -> u32 {
        self.max_elements
    }

    /// Takes back a table's buffer, emptied of its elements.
    pub(crate) fn release(&self, mut buffer: Vec<usize>) {
        buffer.clear();
        lock(&self.free).free.push(buffer);
    }
}

/// VMContext blocks, each allocated once at the configured most size and
/// kept when its instance is dropped.
pub(crate) struct InstancePool {
    layout: Layout,
    /// Addresses of free blocks; 0 for a slot whose block is not allocated
    /// yet.
    free: Mutex<FreeList<usize>>,
}

impl InstancePool {
    fn new(config: &PoolingAllocationConfig) -> Result<InstancePool, Error> {
        let layout = Layout::from_size_align(config.max_core_instance_size.max(16), 16)
            .map_err(|e| Error::Instantiation(format!("bad maximum instance size: {e}")))?;
        Ok(InstancePool { layout, free: Mutex::new(FreeList::new(config.total_core_instances)) })
    }

    /// A block whose first `size` bytes are zero, as a fresh allocation's.
    pub(crate) fn allocate(&self, size: usize) -> Result<*mut u8, Error> {
        if size > self.layout.size() {
            return Err(Error::Instantiation(format!(
                "the module's VMContext of {size} bytes exceeds the pooling allocator's maximum of {} bytes",
                self.layout.size()
            )));
        }
        let mut free = lock(&self.free);
        let total = free.total;
        let block = free.take(|_| true, |_| 0).ok_or_else(|| {
            Error::Instantiation(format!("all {total} instance slots of the pooling allocator are in use"))
        })?;
        drop(free);
        if block == 0 {
            // SAFETY: the layout has a non-zero size.
            let ptr = unsafe { alloc_zeroed(self.layout) };
            if ptr.is_null() {
                lock(&self.free).free.push(0);
                return Err(Error::Instantiation("out of memory allocating a VMContext".into()));
            }
            return Ok(ptr);
        }
        // SAFETY: a free block of the pool, `layout.size() >= size` bytes,
        // which nothing uses.
        unsafe { std::ptr::write_bytes(block as *mut u8, 0, size) };
        Ok(block as *mut u8)
    }

    /// Takes back a block that [`allocate`](Self::allocate) gave out.
    pub(crate) fn release(&self, block: *mut u8) {
        lock(&self.free).free.push(block as usize);
    }
}

impl Drop for InstancePool {
    fn drop(&mut self) {
        for &block in &lock(&self.free).free {
            if block != 0 {
                // SAFETY: allocated in `allocate` with this layout; every
                // block is back (each holds an `Arc` of the pool).
                unsafe { dealloc(block as *mut u8, self.layout) };
            }
        }
    }
}
