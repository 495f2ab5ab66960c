//! Shared memories (threads proposal), as handles that belong to no store.

use std::cell::UnsafeCell;
use std::sync::Arc;
use std::time::Duration;

use kiln_format::MemoryType;

use crate::engine::Engine;
use crate::error::Error;
use crate::vm::memory::LinearBytes;
use crate::vm::shared_memory::{Expected, SharedMemoryInner, WaitError};
use crate::vm::WaitOutcome;

/// A shared linear memory: one memory that instances of several stores, on
/// several threads, use at once. `Clone` gives another handle to the same
/// memory, which lives as long as some handle, store or instance uses it.
///
/// It is made by [`SharedMemory::new`] (and defined for modules to import
/// with [`Linker::define`](crate::Linker::define)), or by a module that
/// defines a shared memory, whose export [`Instance::get_shared_memory`](crate::Instance::get_shared_memory)
/// returns. Its bytes are never lent out as `&[u8]`: another thread may
/// write them at any time, so the host copies them in and out instead.
#[derive(Clone)]
pub struct SharedMemory {
    pub(crate) inner: Arc<SharedMemoryInner>,
    pub(crate) engine: Engine,
}

impl std::fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedMemory").field("ty", &self.ty()).finish()
    }
}

/// How [`SharedMemory::atomic_wait32`] and [`SharedMemory::atomic_wait64`]
/// ended.
pub type WaitResult = WaitOutcome;

impl SharedMemory {
    /// A new shared memory of type `ty`, which must be shared and have a
    /// maximum; its initial pages are zero.
    pub fn new(engine: &Engine, ty: MemoryType) -> Result<SharedMemory, Error> {
        Ok(SharedMemory { inner: Arc::new(SharedMemoryInner::new(ty)?), engine: engine.clone() })
    }

    /// The engine it was made for: modules of that engine may import it.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Its type, with the current size as minimum.
    pub fn ty(&self) -> MemoryType {
        self.inner.current_type()
    }

    /// Current size in pages.
    pub fn size(&self) -> u64 {
        self.inner.pages()
    }

    /// Current size in bytes. Another thread may grow it meanwhile, never
    /// shrink it.
    pub fn data_size(&self) -> usize {
        self.inner.byte_len() as usize
    }

    /// The memory's bytes, as cells: another thread may change any of them
    /// at any time. The slice covers the size at the time of the call.
    pub fn data(&self) -> &[UnsafeCell<u8>] {
        self.inner.cells()
    }

    /// Grows by `delta` pages; returns the old size in pages. Past the
    /// maximum it is an error. No store's resource limiter is asked: the
    /// memory belongs to none.
    pub fn grow(&self, delta: u64) -> Result<u64, Error> {
        self.inner.grow(delta).ok_or_else(|| {
            Error::Instantiation(format!("cannot grow shared memory by {}", crate::wording::count(delta, "page")))
        })
    }

    /// Copies bytes out of the memory; out of bounds is an error.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), Error> {
        self.inner.read(offset as u64, out).map_err(Error::trap_code)
    }

    /// Copies bytes into the memory; out of bounds is an error.
    pub fn write(&self, offset: usize, bytes: &[u8]) -> Result<(), Error> {
        self.inner.write(offset as u64, bytes).map_err(Error::trap_code)
    }

    /// `memory.atomic.notify` from the host: wakes at most `count` threads
    /// waiting at byte `address` (4-byte aligned, in bounds); the number woken.
    pub fn atomic_notify(&self, address: u64, count: u32) -> Result<u32, Error> {
        self.inner.notify(address, count).map_err(Error::trap_code)
    }

    /// `memory.atomic.wait32` from the host: blocks while the 32-bit word
    /// at `address` is `expected`, until notified or `timeout` (never if
    /// `None`). Nothing else interrupts it.
    pub fn atomic_wait32(&self, address: u64, expected: u32, timeout: Option<Duration>) -> Result<WaitResult, Error> {
        self.wait(address, Expected::U32(expected), timeout)
    }

    /// `memory.atomic.wait64` from the host, of the 64-bit word at `address`.
    pub fn atomic_wait64(&self, address: u64, expected: u64, timeout: Option<Duration>) -> Result<WaitResult, Error> {
        self.wait(address, Expected::U64(expected), timeout)
    }

    fn wait(&self, address: u64, expected: Expected, timeout: Option<Duration>) -> Result<WaitResult, Error> {
        match self.inner.wait::<std::convert::Infallible>(address, expected, timeout, None) {
            Ok(outcome) => Ok(outcome),
            Err(WaitError::Trap(code)) => Err(Error::trap_code(code)),
            Err(WaitError::Interrupted(never)) => match never {},
        }
    }

    /// Whether two handles name the same memory.
    pub fn same(&self, other: &SharedMemory) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}
