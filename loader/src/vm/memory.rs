//! Linear memories: reservations, growth and bulk operations.
//!
//! Each memory reserves 8 GiB of address space up front with no access
//! rights, and growing only changes protections: the base never moves. A
//! 32-bit memory uses 4 GiB of it plus a 4 GiB guard, so compiled code needs
//! no bounds checks; a 64-bit memory may use all but a 32 MiB guard
//! (`MAX_MEMORY64_PAGES`), and compiled code checks its accesses.
//! Reservations of dropped memories are zeroed and pooled for reuse.
#![allow(unsafe_code)]

use std::cell::{Cell, UnsafeCell};
use std::sync::{Arc, Mutex};

use kiln_format::{MemoryImage, MemoryType, TrapCode};

use super::abi::VMDefinition;
use super::pooling::{MemoryPool, MemorySlot};
use crate::code::ImageSource;
use crate::error::Error;

/// Size of a Wasm page.
pub const WASM_PAGE_SIZE: u64 = kiln_format::WASM_PAGE_SIZE;
/// Most pages a 32-bit memory can have.
pub const MAX_WASM_PAGES: u64 = kiln_format::MAX_WASM_PAGES;
/// Most pages a 64-bit memory can have in kiln (8 GiB less its guard).
pub const MAX_MEMORY64_PAGES: u64 = kiln_format::MAX_MEMORY64_PAGES;
pub(crate) const RESERVATION: usize = kiln_format::MEMORY_RESERVATION as usize;

/// Reservations of dropped memories, kept for the next memory to be made.
///
/// Reserving and releasing 8 GiB of address space costs two system calls
/// and setting the initial pages read-write a third; a pooled reservation
/// whose accessible prefix already has the wanted size costs none, and
/// releasing it one (`MADV_DONTNEED`, which the next memory needs anyway to
/// start zeroed). Instantiating a module with a memory and dropping it
/// again takes about half as long.
static POOL: Mutex<Vec<Reservation>> = Mutex::new(Vec::new());
/// Most reservations the pool keeps: 128 GiB of address space, none of it
/// backed by memory.
const POOL_CAPACITY: usize = 16;
/// Largest accessible prefix a pooled reservation may keep. A read-write
/// private mapping counts against the commit limit even when no page of it
/// is resident, so big memories give their reservation back instead.
const POOL_MAX_ACCESSIBLE: usize = 64 << 20;

/// An 8 GiB reservation whose first `accessible` bytes are read-write and
/// zero (not yet touched), the rest inaccessible.
pub(crate) struct Reservation {
    pub(crate) base: usize,
    pub(crate) accessible: usize,
}

impl Reservation {
    /// A pooled reservation if there is one, else a fresh one.
    pub(crate) fn take() -> Result<Reservation, Error> {
        if let Some(r) = POOL.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(r);
        }
        let base = reserve_address_space(RESERVATION)
            .map_err(|e| Error::Instantiation(format!("cannot reserve memory: {e}")))?;
        Ok(Reservation { base, accessible: 0 })
    }

    /// Makes exactly the first `len` bytes accessible; on failure the
    /// reservation is unmapped.
    pub(crate) fn resize(mut self, len: usize) -> Option<Reservation> {
        let rc = match len.cmp(&self.accessible) {
            std::cmp::Ordering::Equal => 0,
            // SAFETY: both ranges lie inside the reservation, which only
            // its owner (`self`) uses.
            std::cmp::Ordering::Greater => unsafe {
                libc::mprotect(
                    (self.base + self.accessible) as *mut libc::c_void,
                    len - self.accessible,
                    libc::PROT_READ | libc::PROT_WRITE,
                )
            },
            // SAFETY: as above.
            std::cmp::Ordering::Less => unsafe {
                libc::mprotect((self.base + len) as *mut libc::c_void, self.accessible - len, libc::PROT_NONE)
            },
        };
        if rc != 0 {
            // A failed mprotect may have changed part of the range; only
            // unmapping all of it (dropping `self`) leaves no doubt.
            return None;
        }
        self.accessible = len;
        Some(self)
    }

    /// Returns the reservation to the pool with its contents discarded, or
    /// unmaps it.
    pub(crate) fn release(self) {
        // Into a full pool, discarding the pages first would be a wasted
        // system call; a race that fills it meanwhile only costs that call.
        if self.accessible > POOL_MAX_ACCESSIBLE
            || POOL.lock().unwrap_or_else(|e| e.into_inner()).len() >= POOL_CAPACITY
        {
            return;
        }
        // SAFETY: the range is the reservation's accessible prefix; its
        // memory is gone and nothing refers into it any more.
        if self.accessible > 0
            && unsafe { libc::madvise(self.base as *mut libc::c_void, self.accessible, libc::MADV_DONTNEED) } != 0
        {
            return;
        }
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL_CAPACITY {
            pool.push(self);
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // SAFETY: the reservation was mapped by `take` and is owned by
        // `self`; a pooled one was moved into the pool instead of dropped.
        unsafe { libc::munmap(self.base as *mut libc::c_void, RESERVATION) };
    }
}

/// A memory image to map into a new memory: which bytes of which file.
#[derive(Clone, Copy)]
pub(crate) struct ImageRef<'a> {
    pub source: &'a ImageSource,
    pub image: &'a MemoryImage,
}

impl ImageRef<'_> {
    /// What a pooled slot remembers of the image it holds.
    pub(crate) fn mapped(&self) -> MappedImage {
        MappedImage {
            source: self.source.id(),
            image_offset: self.image.image_offset,
            memory_offset: self.image.memory_offset as usize,
            len: self.image.len as usize,
        }
    }

    /// Maps the image's file pages over the memory at `base`, private and
    /// read-write: a write copies the page, never changing the file.
    ///
    /// # Safety
    ///
    /// `[base, base + memory_offset + len)` must be part of a memory
    /// reservation that the caller owns, accessible, and not borrowed.
    pub(crate) unsafe fn map(&self, base: *mut u8) -> Result<(), Error> {
        let file_offset = self.source.file_offset(self.image.image_offset);
        let offset = libc::off_t::try_from(file_offset)
            .map_err(|_| Error::Instantiation("memory image offset out of range".into()))?;
        // SAFETY: the range lies inside the caller's reservation (above),
        // which MAP_FIXED replaces and nothing else uses; the descriptor
        // lives as long as `source`.
        let mapped = unsafe {
            libc::mmap(
                base.add(self.image.memory_offset as usize).cast(),
                self.image.len as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_FIXED,
                self.source.raw_fd(),
                offset,
            )
        };
        if mapped == libc::MAP_FAILED {
            return Err(Error::Instantiation(format!(
                "cannot map the memory image: {}",
                std::io::Error::last_os_error()
            )));
        }
        Ok(())
    }
}

/// An image mapped into a memory: enough to recognise it and to unmap it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MappedImage {
    /// [`ImageSource::id`] of the module it came from.
    source: u64,
    image_offset: u64,
    memory_offset: usize,
    len: usize,
}

impl MappedImage {
    /// Replaces the image's pages of the memory at `base` with fresh zero
    /// pages; false if the kernel refused.
    ///
    /// # Safety
    ///
    /// `base` must be the memory the image was mapped into, owned by the
    /// caller and not borrowed.
    pub(crate) unsafe fn unmap(&self, base: usize) -> bool {
        // SAFETY: the range lies inside the caller's reservation, where
        // the image was mapped.
        unsafe { map_zero_pages(base + self.memory_offset, self.len, libc::PROT_READ | libc::PROT_WRITE) }
    }

    /// The part of the memory it covers, as a byte range.
    pub(crate) fn range(&self) -> std::ops::Range<usize> {
        self.memory_offset..self.memory_offset + self.len
    }
}

/// Maps fresh anonymous zero pages with protection `prot` over
/// `[addr, addr + len)`; false if the kernel refused.
///
/// # Safety
///
/// The range must lie inside a memory reservation owned by the caller, with
/// nothing borrowing it.
pub(crate) unsafe fn map_zero_pages(addr: usize, len: usize, prot: libc::c_int) -> bool {
    // SAFETY: the caller owns the range, which MAP_FIXED replaces.
    let mapped = unsafe {
        libc::mmap(
            addr as *mut libc::c_void,
            len,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
            -1,
            0,
        )
    };
    mapped != libc::MAP_FAILED
}

/// Reserves `len` bytes of address space, inaccessible and backed by
/// nothing; the caller owns the range and unmaps it.
pub(crate) fn reserve_address_space(len: usize) -> std::io::Result<usize> {
    // SAFETY: a fresh anonymous private mapping at an address of the
    // kernel's choosing aliases nothing.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    Ok(base as usize)
}

/// Changes the protection of `[addr, addr + len)`; false if the kernel
/// refused.
///
/// # Safety
///
/// The range must lie inside a memory reservation owned by the caller; if
/// access is taken away, nothing may still use it.
pub(crate) unsafe fn protect(addr: usize, len: usize, prot: libc::c_int) -> bool {
    // SAFETY: as the caller promises.
    len == 0 || unsafe { libc::mprotect(addr as *mut libc::c_void, len, prot) } == 0
}

/// Where a memory's address space comes from, and goes back to.
enum Backing {
    /// A reservation of its own (perhaps from the cache of dropped ones),
    /// and the image mapped into it, which must become zero pages again
    /// before the reservation is cached.
    Reservation { image: Option<MappedImage> },
    /// A slot of the engine's pooling allocator.
    Slot(MemorySlot),
}

pub(crate) struct MemoryInner {
    base: *mut u8,
    /// Bytes at `base` that are read-write, kept here because `home` may be
    /// freed before this memory is dropped.
    accessible: Cell<usize>,
    ty: MemoryType,
    /// Most pages it may grow to: its type's maximum, or less in a pool
    /// slot whose configuration says so.
    max_pages: u64,
    /// The `VMMemoryDefinition` that compiled code reads: inside the defining
    /// VMContext, or `own_definition` for a memory made by the host.
    home: *mut VMDefinition,
    _own_definition: Option<Box<UnsafeCell<VMDefinition>>>,
    backing: Backing,
}

impl MemoryInner {
    /// Reserves and maps a memory, from `pool` if given, with `image` as its
    /// initial contents; `home` is where its definition lives, or null to
    /// give it its own.
    pub(crate) fn new(
        ty: MemoryType,
        home: *mut VMDefinition,
        image: Option<ImageRef<'_>>,
        pool: Option<&Arc<MemoryPool>>,
    ) -> Result<MemoryInner, Error> {
        if ty.shared {
            return Err(Error::Instantiation("a shared memory is made by SharedMemoryInner".into()));
        }
        if ty.maximum.is_some_and(|max| max < ty.minimum) || (!ty.memory64 && ty.maximum > Some(MAX_WASM_PAGES)) {
            return Err(Error::Instantiation(format!("memory limits out of range: {ty}")));
        }
        // A 64-bit memory may declare up to 2^48 pages, more than its
        // reservation holds: it grows as far as the reservation allows, and
        // only a minimum beyond it is refused.
        let max = ty.max_pages();
        if ty.minimum > max {
            return Err(Error::Instantiation(format!(
                "a memory of {} pages exceeds the {max} pages that kiln reserves for a {}-bit memory",
                ty.minimum,
                if ty.memory64 { 64 } else { 32 }
            )));
        }
        let initial = (ty.minimum * WASM_PAGE_SIZE) as usize;
        let (base, backing, max_pages) = match pool {
            Some(pool) => {
                let slot = pool.allocate(initial, image)?;
                (slot.base(), Backing::Slot(slot), max.min(pool.max_pages()))
            }
            None => {
                let reservation = Reservation::take()?
                    .resize(initial)
                    .ok_or_else(|| Error::Instantiation("cannot map the memory's initial pages".into()))?;
                if let Some(image) = image {
                    // SAFETY: the image lies inside the initial pages
                    // (checked at load), which the reservation just made
                    // accessible and nothing else uses.
                    unsafe { image.map(reservation.base as *mut u8) }?;
                }
                let base = reservation.base as *mut u8;
                // From here the memory owns the mapping and unmaps or
                // caches it on drop.
                std::mem::forget(reservation);
                (base, Backing::Reservation { image: image.map(|i| i.mapped()) }, max)
            }
        };
        let (home, own) = if home.is_null() {
            let own = Box::new(UnsafeCell::new(VMDefinition::default()));
            (own.get(), Some(own))
        } else {
            (home, None)
        };
        let memory =
            MemoryInner { base, accessible: Cell::new(initial), ty, max_pages, home, _own_definition: own, backing };
        // SAFETY: `home` is valid for writes for as long as the memory lives.
        unsafe { home.write(VMDefinition { base: memory.base, current_length: initial as u64 }) };
        Ok(memory)
    }

    pub(crate) fn definition_ptr(&self) -> *mut VMDefinition {
        self.home
    }

    /// Current size in bytes.
    pub(crate) fn byte_len(&self) -> u64 {
        // SAFETY: `home` stays valid for the memory's life.
        unsafe { (*self.home).current_length }
    }

    pub(crate) fn pages(&self) -> u64 {
        self.byte_len() / WASM_PAGE_SIZE
    }

    /// The type as import matching sees it: the current size as minimum.
    pub(crate) fn current_type(&self) -> MemoryType {
        MemoryType { minimum: self.pages(), ..self.ty }
    }

    /// Most pages it may grow to: its type's maximum, or less where its
    /// reservation or pool slot ends.
    pub(crate) fn max_pages(&self) -> u64 {
        self.max_pages
    }

    /// Grows by `delta` pages; the old size in pages, or `None` past the maximum.
    pub(crate) fn grow(&self, delta: u64) -> Option<u64> {
        let old = self.pages();
        let new = old.checked_add(delta)?;
        if new > self.max_pages {
            return None;
        }
        if delta > 0 {
            let start = old * WASM_PAGE_SIZE;
            // SAFETY: the range lies inside this memory's reservation.
            let rc = unsafe {
                libc::mprotect(
                    self.base.add(start as usize).cast(),
                    (delta * WASM_PAGE_SIZE) as usize,
                    libc::PROT_READ | libc::PROT_WRITE,
                )
            };
            if rc != 0 {
                return None;
            }
        }
        self.accessible.set((new * WASM_PAGE_SIZE) as usize);
        // SAFETY: `home` stays valid for the memory's life.
        unsafe { (*self.home).current_length = new * WASM_PAGE_SIZE };
        Some(old)
    }

    /// The accessible bytes.
    pub(crate) fn data(&self) -> &[u8] {
        // SAFETY: `[base, base + byte_len)` is mapped read-write for as long
        // as the memory lives and only grows. No Wasm code runs while the
        // store is borrowed, and the store hands out `&[u8]` only through
        // `&self`, `&mut [u8]` only through `&mut self` (below).
        unsafe { std::slice::from_raw_parts(self.base, self.byte_len() as usize) }
    }

    /// The accessible bytes, writable.
    pub(crate) fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `data`; `&mut self` makes the borrow unique, since
        // the store owns each memory once and no two memories share pages.
        unsafe { std::slice::from_raw_parts_mut(self.base, self.byte_len() as usize) }
    }
}

impl LinearBytes for MemoryInner {
    fn base(&self) -> *mut u8 {
        self.base
    }

    fn byte_len(&self) -> u64 {
        MemoryInner::byte_len(self)
    }
}

/// The bytes of a linear memory, owned by a store or shared: what
/// instantiation, the bulk-memory builtins and the host's copies work on.
///
/// Every access checks its range against the current length first. On a
/// shared memory, other threads' Wasm may access the same bytes meanwhile;
/// the copies are then as racy as Wasm's own plain accesses, which the
/// threads proposal allows (each byte reads some value written to it).
pub(crate) trait LinearBytes {
    /// The first byte; it never moves.
    fn base(&self) -> *mut u8;

    /// Current size in bytes; the accessible prefix of the reservation.
    fn byte_len(&self) -> u64;

    /// Checks that `[offset, offset + len)` lies inside the memory.
    fn check_range(&self, offset: u64, len: u64) -> Result<(), TrapCode> {
        match offset.checked_add(len) {
            Some(end) if end <= self.byte_len() => Ok(()),
            _ => Err(TrapCode::MEMORY_OUT_OF_BOUNDS),
        }
    }

    /// Copies bytes in, after checking the whole range.
    fn write(&self, offset: u64, bytes: &[u8]) -> Result<(), TrapCode> {
        self.check_range(offset, bytes.len() as u64)?;
        // SAFETY: the range is mapped read-write (it lies below the current
        // length, which never shrinks); `bytes` cannot alias Wasm memory
        // that Rust code borrows, since nothing hands out references into
        // a memory that Wasm or another thread may write meanwhile.
        unsafe { std::ptr::copy(bytes.as_ptr(), self.base().add(offset as usize), bytes.len()) };
        Ok(())
    }

    /// `memory.fill`: sets `len` bytes at `offset` to `value`, after checking the range.
    fn fill(&self, offset: u64, value: u8, len: u64) -> Result<(), TrapCode> {
        self.check_range(offset, len)?;
        // SAFETY: the range is mapped read-write.
        unsafe { std::ptr::write_bytes(self.base().add(offset as usize), value, len as usize) };
        Ok(())
    }

    /// `memory.copy`: copies `len` bytes at `src` of `source` to `dst` of this
    /// memory, after checking both ranges.
    fn copy_from(&self, dst: u64, source: &dyn LinearBytes, src: u64, len: u64) -> Result<(), TrapCode> {
        self.check_range(dst, len)?;
        source.check_range(src, len)?;
        // SAFETY: both ranges are mapped, the destination read-write; `copy`
        // allows them to overlap within one memory.
        unsafe { std::ptr::copy(source.base().add(src as usize), self.base().add(dst as usize), len as usize) };
        Ok(())
    }

    /// Copies bytes out, after checking the whole range.
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), TrapCode> {
        self.check_range(offset, out.len() as u64)?;
        // SAFETY: the range is mapped and readable.
        unsafe { std::ptr::copy(self.base().add(offset as usize), out.as_mut_ptr(), out.len()) };
        Ok(())
    }
}

impl Drop for MemoryInner {
    fn drop(&mut self) {
        // Nothing uses the memory any more: the store drops memories only
        // when it drops everything.
        let (base, accessible) = (self.base as usize, self.accessible.get());
        match std::mem::replace(&mut self.backing, Backing::Reservation { image: None }) {
            Backing::Slot(slot) => slot.release(accessible),
            Backing::Reservation { image } => {
                let reservation = Reservation { base, accessible };
                // SAFETY: the image was mapped into this memory, which
                // nothing uses any more.
                if image.is_some_and(|image| !unsafe { image.unmap(base) }) {
                    // Not zero again: unmap rather than cache it.
                    drop(reservation);
                    return;
                }
                reservation.release();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl MemoryInner {
        fn new_unpooled(ty: MemoryType, home: *mut VMDefinition) -> Result<MemoryInner, Error> {
            MemoryInner::new(ty, home, None, None)
        }
    }

    fn ty(minimum: u64, maximum: Option<u64>) -> MemoryType {
        MemoryType { minimum, maximum, shared: false, memory64: false }
    }

    #[test]
    fn grow_maps_pages_and_respects_the_maximum() {
        let m = MemoryInner::new_unpooled(ty(1, Some(3)), std::ptr::null_mut()).unwrap();
        assert_eq!(m.pages(), 1);
        m.write(WASM_PAGE_SIZE - 4, &[1, 2, 3, 4]).unwrap();
        assert_eq!(m.write(WASM_PAGE_SIZE - 3, &[0; 4]), Err(TrapCode::MEMORY_OUT_OF_BOUNDS));
        assert_eq!(m.grow(2), Some(1));
        assert_eq!(m.grow(1), None);
        assert_eq!(m.grow(0), Some(3));
        let mut out = [0u8; 4];
        m.read(WASM_PAGE_SIZE - 4, &mut out).unwrap();
        assert_eq!(out, [1, 2, 3, 4]);
        m.write(3 * WASM_PAGE_SIZE - 1, &[9]).unwrap();
    }

    /// Whether the byte at `addr` can be read, asked of the kernel (a pipe
    /// write fails with EFAULT) so that an inaccessible page does not fault.
    fn readable(addr: *const u8) -> bool {
        let mut fds = [0; 2];
        // SAFETY: a fresh pipe, written one byte from `addr` and closed.
        unsafe {
            assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
            let n = libc::write(fds[1], addr.cast(), 1);
            libc::close(fds[0]);
            libc::close(fds[1]);
            n == 1
        }
    }

    #[test]
    fn reused_reservations_are_zeroed_and_sized_exactly() {
        // Other tests share the pool, so whichever reservation comes back,
        // every page a memory sees must be zero and none past its end readable.
        for round in 0..2 * POOL_CAPACITY as u64 {
            let pages = 1 + round % 3;
            let m = MemoryInner::new_unpooled(ty(pages, Some(4)), std::ptr::null_mut()).unwrap();
            assert_eq!(m.pages(), pages);
            for page in 0..pages {
                let mut byte = [1u8];
                m.read(page * WASM_PAGE_SIZE + 7, &mut byte).unwrap();
                assert_eq!(byte, [0], "round {round}, page {page}");
                m.write(page * WASM_PAGE_SIZE + 7, &[0xaa]).unwrap();
            }
            assert!(readable(m.base().wrapping_add((pages * WASM_PAGE_SIZE) as usize - 1)));
            assert!(!readable(m.base().wrapping_add((pages * WASM_PAGE_SIZE) as usize)));
            if round % 2 == 0 {
                assert_eq!(m.grow(1), Some(pages));
                m.write((pages + 1) * WASM_PAGE_SIZE - 1, &[0xbb]).unwrap();
            }
        }
    }

    #[test]
    fn unbounded_memory_stops_at_4_gib() {
        let m = MemoryInner::new_unpooled(ty(0, None), std::ptr::null_mut()).unwrap();
        assert_eq!(m.grow(MAX_WASM_PAGES + 1), None);
        assert_eq!(m.grow(0), Some(0));
        assert!(MemoryInner::new_unpooled(ty(MAX_WASM_PAGES + 1, None), std::ptr::null_mut()).is_err());
    }
}
