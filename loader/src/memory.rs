//! Linear memories.
//!
//! Each memory reserves 8 GiB of address space up front (4 GiB addressable
//! plus a 4 GiB guard) with no access rights, so compiled code needs no bounds
//! checks and growing only changes protections: the base never moves.
#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::rc::Rc;

use kiln_format::{MemoryType, TrapCode};

use crate::error::Error;
use crate::store::Store;
use crate::vm::VMDefinition;

/// Size of a Wasm page.
pub const WASM_PAGE_SIZE: u64 = 1 << 16;
/// Most pages a 32-bit memory can have.
pub const MAX_WASM_PAGES: u64 = 1 << 16;
const RESERVATION: usize = 8 << 30;

pub(crate) struct MemoryInner {
    base: *mut u8,
    ty: MemoryType,
    /// The `VMMemoryDefinition` that compiled code reads: inside the defining
    /// VMContext, or `own_definition` for a memory made by the host.
    home: *mut VMDefinition,
    _own_definition: Option<Box<UnsafeCell<VMDefinition>>>,
}

impl MemoryInner {
    /// Reserves and maps a memory; `home` is where its definition lives, or
    /// null to give it its own.
    pub(crate) fn new(ty: MemoryType, home: *mut VMDefinition) -> Result<MemoryInner, Error> {
        if ty.shared {
            return Err(Error::Instantiation("shared memories are not supported".into()));
        }
        let max = ty.maximum.unwrap_or(MAX_WASM_PAGES);
        if ty.minimum > MAX_WASM_PAGES || max > MAX_WASM_PAGES || ty.minimum > max {
            return Err(Error::Instantiation(format!("memory limits out of range: {ty:?}")));
        }
        // SAFETY: a fresh anonymous private mapping that nothing else uses.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                RESERVATION,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Error::Instantiation(format!("cannot reserve memory: {}", std::io::Error::last_os_error())));
        }
        let (home, own) = if home.is_null() {
            let own = Box::new(UnsafeCell::new(VMDefinition::default()));
            (own.get(), Some(own))
        } else {
            (home, None)
        };
        let memory = MemoryInner { base: base.cast(), ty, home, _own_definition: own };
        // SAFETY: `home` is valid for writes for as long as the memory lives.
        unsafe { home.write(VMDefinition { base: memory.base, current_length: 0 }) };
        if memory.grow(ty.minimum).is_none() {
            return Err(Error::Instantiation("cannot map the memory's initial pages".into()));
        }
        Ok(memory)
    }

    pub(crate) fn definition_ptr(&self) -> *mut VMDefinition {
        self.home
    }

    pub(crate) fn base(&self) -> *mut u8 {
        self.base
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

    /// Grows by `delta` pages; the old size in pages, or `None` past the maximum.
    pub(crate) fn grow(&self, delta: u64) -> Option<u64> {
        let old = self.pages();
        let new = old.checked_add(delta)?;
        if new > self.ty.maximum.unwrap_or(MAX_WASM_PAGES).min(MAX_WASM_PAGES) {
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
        // SAFETY: `home` stays valid for the memory's life.
        unsafe { (*self.home).current_length = new * WASM_PAGE_SIZE };
        Some(old)
    }

    /// Checks that `[offset, offset + len)` lies inside the memory.
    pub(crate) fn check_range(&self, offset: u64, len: u64) -> Result<(), TrapCode> {
        match offset.checked_add(len) {
            Some(end) if end <= self.byte_len() => Ok(()),
            _ => Err(TrapCode::MEMORY_OUT_OF_BOUNDS),
        }
    }

    /// Copies bytes in, after checking the whole range.
    pub(crate) fn write(&self, offset: u64, bytes: &[u8]) -> Result<(), TrapCode> {
        self.check_range(offset, bytes.len() as u64)?;
        // SAFETY: the range is mapped read-write; `bytes` cannot alias Wasm memory
        // that Rust code borrows, since nothing hands out references into it.
        unsafe { std::ptr::copy(bytes.as_ptr(), self.base.add(offset as usize), bytes.len()) };
        Ok(())
    }

    pub(crate) fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), TrapCode> {
        self.check_range(offset, out.len() as u64)?;
        // SAFETY: the range is mapped and readable.
        unsafe { std::ptr::copy(self.base.add(offset as usize), out.as_mut_ptr(), out.len()) };
        Ok(())
    }
}

impl Drop for MemoryInner {
    fn drop(&mut self) {
        // SAFETY: the reservation was made by `new` and nothing uses it any more:
        // the store drops memories only when it drops everything.
        unsafe { libc::munmap(self.base.cast(), RESERVATION) };
    }
}

/// A linear memory.
#[derive(Clone)]
pub struct Memory {
    pub(crate) store: Store,
    pub(crate) inner: Rc<MemoryInner>,
}

impl Memory {
    /// A new memory owned by the store.
    pub fn new(store: &Store, ty: MemoryType) -> Result<Memory, Error> {
        let inner = Rc::new(MemoryInner::new(ty, std::ptr::null_mut())?);
        store.inner.memories.borrow_mut().push(inner.clone());
        Ok(Memory { store: store.clone(), inner })
    }

    /// Its type, with the current size as minimum.
    pub fn ty(&self) -> MemoryType {
        self.inner.current_type()
    }

    /// Current size in pages.
    pub fn size_pages(&self) -> u64 {
        self.inner.pages()
    }

    /// Current size in bytes.
    pub fn data_size(&self) -> usize {
        self.inner.byte_len() as usize
    }

    /// Copies bytes out of the memory.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), Error> {
        self.inner.read(offset as u64, out).map_err(Error::trap_code)
    }

    /// Copies bytes into the memory.
    pub fn write(&self, offset: usize, bytes: &[u8]) -> Result<(), Error> {
        self.inner.write(offset as u64, bytes).map_err(Error::trap_code)
    }

    /// Grows by `delta` pages; returns the old size in pages.
    pub fn grow(&self, delta: u64) -> Result<u64, Error> {
        self.inner.grow(delta).ok_or_else(|| Error::Instantiation(format!("cannot grow memory by {delta} pages")))
    }

    /// The store it belongs to.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memory").field("pages", &self.size_pages()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(minimum: u64, maximum: Option<u64>) -> MemoryType {
        MemoryType { minimum, maximum, shared: false }
    }

    #[test]
    fn grow_maps_pages_and_respects_the_maximum() {
        let m = MemoryInner::new(ty(1, Some(3)), std::ptr::null_mut()).unwrap();
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

    #[test]
    fn unbounded_memory_stops_at_4_gib() {
        let m = MemoryInner::new(ty(0, None), std::ptr::null_mut()).unwrap();
        assert_eq!(m.grow(MAX_WASM_PAGES + 1), None);
        assert_eq!(m.grow(0), Some(0));
        assert!(MemoryInner::new(ty(MAX_WASM_PAGES + 1, None), std::ptr::null_mut()).is_err());
    }
}
