//! Linear memories, as handles.

use kiln_format::MemoryType;

use crate::error::Error;
use crate::store::{opaque, opaque_mut, AsContext, AsContextMut};
use crate::vm::memory::{LinearBytes, MemoryInner};
use crate::vm::store::{StoreId, StoreOpaque};

pub use crate::vm::{MAX_MEMORY64_PAGES, MAX_WASM_PAGES, WASM_PAGE_SIZE};

/// A linear memory of a store. A small `Copy` handle; the store owns the
/// memory.
///
/// Its bytes are reached as slices borrowed from the store: while a slice
/// lives, no Wasm of the store can run, so nothing can change or grow the
/// memory under it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

/// A plain value that a memory holds in little-endian bytes.
pub trait LeBytes: Copy {
    /// Its size in bytes.
    const SIZE: usize;
    /// From `Self::SIZE` little-endian bytes.
    fn from_le(bytes: &[u8]) -> Self;
    /// Writes `Self::SIZE` little-endian bytes.
    fn to_le(self, out: &mut [u8]);
}

macro_rules! le_bytes {
    ($($t:ty),*) => {$(
        impl LeBytes for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn from_le(bytes: &[u8]) -> Self {
                let mut raw = [0; std::mem::size_of::<$t>()];
                raw.copy_from_slice(bytes);
                <$t>::from_le_bytes(raw)
            }
            fn to_le(self, out: &mut [u8]) {
                out.copy_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}

le_bytes!(u8, i8, u16, i16, u32, i32, u64, i64, u128, i128, f32, f64);

impl Memory {
    /// A new memory owned by the store. A shared memory type is an error:
    /// shared memories belong to no store ([`SharedMemory::new`](crate::SharedMemory::new)).
    pub fn new(mut store: impl AsContextMut, ty: MemoryType) -> Result<Memory, Error> {
        if ty.shared {
            return Err(Error::Instantiation("a shared memory is made with SharedMemory::new".into()));
        }
        let store = opaque_mut(&mut store);
        store.check_counts(0, 1, 0)?;
        let index = store.new_memory(ty, std::ptr::null_mut(), None)?;
        Ok(Memory { store: store.id(), index })
    }

    pub(crate) fn inner<'a>(&self, store: &'a StoreOpaque) -> Result<&'a MemoryInner, Error> {
        store.check(self.store, "memory")?;
        // A `Memory` handle is only ever made for a memory of the store's own.
        store.memories[self.index as usize]
            .owned()
            .ok_or_else(|| Error::Instantiation("a shared memory is reached through SharedMemory".into()))
    }

    fn expect_inner<'a>(&self, store: &'a StoreOpaque) -> &'a MemoryInner {
        self.inner(store).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Its type, with the current size as minimum; `memory64` says whether
    /// it is indexed by `i64` (and may exceed 4 GiB, up to
    /// [`MAX_MEMORY64_PAGES`]).
    ///
    /// # Panics
    /// If the memory belongs to another store (so do the other accessors
    /// that cannot fail otherwise).
    pub fn ty(&self, store: impl AsContext) -> MemoryType {
        self.expect_inner(opaque(&store)).current_type()
    }

    /// Current size in pages.
    pub fn size(&self, store: impl AsContext) -> u64 {
        self.expect_inner(opaque(&store)).pages()
    }

    /// Current size in bytes.
    pub fn data_size(&self, store: impl AsContext) -> usize {
        self.expect_inner(opaque(&store)).byte_len() as usize
    }

    /// The memory's bytes.
    pub fn data<'a, T: 'a>(&self, store: impl Into<crate::store::StoreContext<'a, T>>) -> &'a [u8] {
        let store = store.into().0;
        self.expect_inner(&store.opaque).data()
    }

    /// The memory's bytes, writable.
    pub fn data_mut<'a, T: 'a>(&self, store: impl Into<crate::store::StoreContextMut<'a, T>>) -> &'a mut [u8] {
        self.data_and_store_mut(store).0
    }

    /// The memory's bytes and the store's host state, both writable: what a
    /// host function that moves data between the two needs.
    pub fn data_and_store_mut<'a, T: 'a>(
        &self,
        store: impl Into<crate::store::StoreContextMut<'a, T>>,
    ) -> (&'a mut [u8], &'a mut T) {
        let store = store.into().0;
        store.opaque.check(self.store, "memory").unwrap_or_else(|e| panic!("{e}"));
        let memory = store.opaque.memories[self.index as usize].owned_mut();
        (memory.expect("a Memory handle names an unshared memory").data_mut(), &mut store.data)
    }

    /// Copies bytes out of the memory; out of bounds is an error.
    pub fn read(&self, store: impl AsContext, offset: usize, out: &mut [u8]) -> Result<(), Error> {
        self.inner(opaque(&store))?.read(offset as u64, out).map_err(Error::trap_code)
    }

    /// Copies bytes into the memory; out of bounds is an error.
    pub fn write(&self, mut store: impl AsContextMut, offset: usize, bytes: &[u8]) -> Result<(), Error> {
        self.inner(opaque_mut(&mut store))?.write(offset as u64, bytes).map_err(Error::trap_code)
    }

    /// The little-endian value at `offset`; out of bounds is an error.
    pub fn read_le<V: LeBytes>(&self, store: impl AsContext, offset: usize) -> Result<V, Error> {
        let data = self.inner(opaque(&store))?.data();
        let bytes = offset.checked_add(V::SIZE).and_then(|end| data.get(offset..end));
        bytes.map(V::from_le).ok_or_else(|| Error::trap_code(kiln_format::TrapCode::MEMORY_OUT_OF_BOUNDS))
    }

    /// Writes `value` little-endian at `offset`; out of bounds is an error.
    pub fn write_le<V: LeBytes>(&self, mut store: impl AsContextMut, offset: usize, value: V) -> Result<(), Error> {
        let mut bytes = [0u8; 16];
        value.to_le(&mut bytes[..V::SIZE]);
        self.write(&mut store, offset, &bytes[..V::SIZE])
    }

    /// Grows by `delta` pages; returns the old size in pages. Past the
    /// maximum, or refused by the store's resource limiter, it is an error.
    pub fn grow(&self, mut store: impl AsContextMut, delta: u64) -> Result<u64, Error> {
        let store = opaque_mut(&mut store);
        store.check(self.store, "memory")?;
        store.grow_memory(self.index, delta)?.ok_or_else(|| {
            Error::Instantiation(format!("cannot grow memory by {}", crate::wording::count(delta, "page")))
        })
    }
}
