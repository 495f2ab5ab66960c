//! A store's memories: its own, and the shared memories its instances
//! define or import, which it holds a reference to.

use std::sync::Arc;

use super::abi::VMDefinition;
use super::memory::{LinearBytes, MemoryInner};
use super::shared_memory::SharedMemoryInner;

/// One memory of a store's arena.
pub(crate) enum StoreMemory {
    /// Owned by the store, and dropped with it.
    Owned(MemoryInner),
    /// Shared with other stores and threads; the store's reference keeps
    /// it alive while the store's VMContexts point into it.
    Shared(Arc<SharedMemoryInner>),
}

impl StoreMemory {
    /// Where compiled code finds the memory's definition.
    pub(crate) fn definition_ptr(&self) -> *mut VMDefinition {
        match self {
            StoreMemory::Owned(memory) => memory.definition_ptr(),
            StoreMemory::Shared(memory) => memory.definition_ptr(),
        }
    }

    /// Grows by `delta` pages; the old size in pages, or `None` past the
    /// maximum.
    pub(crate) fn grow(&self, delta: u64) -> Option<u64> {
        match self {
            StoreMemory::Owned(memory) => memory.grow(delta),
            StoreMemory::Shared(memory) => memory.grow(delta),
        }
    }

    /// The store's own memory, if it is not shared.
    pub(crate) fn owned(&self) -> Option<&MemoryInner> {
        match self {
            StoreMemory::Owned(memory) => Some(memory),
            StoreMemory::Shared(_) => None,
        }
    }

    /// The store's own memory, writable, if it is not shared.
    pub(crate) fn owned_mut(&mut self) -> Option<&mut MemoryInner> {
        match self {
            StoreMemory::Owned(memory) => Some(memory),
            StoreMemory::Shared(_) => None,
        }
    }

    /// The shared memory, if it is one.
    pub(crate) fn shared(&self) -> Option<&Arc<SharedMemoryInner>> {
        match self {
            StoreMemory::Owned(_) => None,
            StoreMemory::Shared(memory) => Some(memory),
        }
    }
}

impl LinearBytes for StoreMemory {
    fn base(&self) -> *mut u8 {
        match self {
            StoreMemory::Owned(memory) => memory.base(),
            StoreMemory::Shared(memory) => memory.base(),
        }
    }

    fn byte_len(&self) -> u64 {
        match self {
            StoreMemory::Owned(memory) => LinearBytes::byte_len(memory),
            StoreMemory::Shared(memory) => memory.byte_len(),
        }
    }
}
