//! The VMContext allocation of one instance.
#![allow(unsafe_code)]

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::sync::Arc;

use crate::vm::pooling::InstancePool;

use crate::error::Error;

/// A zeroed, 16-byte aligned block of `VMOffsets::size()` bytes. The store
/// owns it, so it outlives every pointer into it (func refs, imported
/// definitions) handed to other instances.
pub(crate) struct VMContextAlloc {
    ptr: *mut u8,
    /// Bytes the module's VMContext uses.
    size: usize,
    /// The block's own layout, or `None` for a block of `pool`.
    layout: Option<Layout>,
    pool: Option<Arc<InstancePool>>,
}

impl VMContextAlloc {
    pub(crate) fn new(size: u32) -> Result<VMContextAlloc, Error> {
        let layout = Layout::from_size_align(size.max(16) as usize, 16)
            .map_err(|e| Error::Instantiation(format!("bad VMContext size {size}: {e}")))?;
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        if ptr.is_null() {
            return Err(Error::Instantiation("out of memory allocating a VMContext".into()));
        }
        Ok(VMContextAlloc { ptr, size: layout.size(), layout: Some(layout), pool: None })
    }

    /// A zeroed block of `size` bytes from the pooling allocator's slots.
    pub(crate) fn from_pool(pool: &Arc<InstancePool>, size: u32) -> Result<VMContextAlloc, Error> {
        let size = (size as usize).max(16);
        let ptr = pool.allocate(size)?;
        Ok(VMContextAlloc { ptr, size, layout: None, pool: Some(pool.clone()) })
    }

    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Pointer to `offset`, which the caller took from the module's `VMOffsets`.
    pub(crate) fn at<T>(&self, offset: u32) -> *mut T {
        debug_assert!(offset as usize + std::mem::size_of::<T>() <= self.size);
        self.ptr.wrapping_add(offset as usize).cast()
    }

    /// Writes a field at an offset from the module's `VMOffsets`.
    pub(crate) fn write<T>(&self, offset: u32, value: T) {
        assert!(offset as usize + std::mem::size_of::<T>() <= self.size);
        // SAFETY: in bounds (checked); VMOffsets aligns every field for its type.
        unsafe { self.at::<T>(offset).write(value) };
    }
}

impl Drop for VMContextAlloc {
    fn drop(&mut self) {
        match (&self.pool, self.layout) {
            (Some(pool), _) => pool.release(self.ptr),
            // SAFETY: allocated in `new` with this layout.
            (None, Some(layout)) => unsafe { dealloc(self.ptr, layout) },
            (None, None) => {}
        }
    }
}
