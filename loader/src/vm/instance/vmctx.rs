//! The VMContext allocation of one instance.
#![allow(unsafe_code)]

use std::alloc::{alloc_zeroed, dealloc, Layout};

use crate::error::Error;

/// A zeroed, 16-byte aligned block of `VMOffsets::size()` bytes. The store
/// owns it, so it outlives every pointer into it (func refs, imported
/// definitions) handed to other instances.
pub(crate) struct VMContextAlloc {
    ptr: *mut u8,
    layout: Layout,
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
        Ok(VMContextAlloc { ptr, layout })
    }

    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Pointer to `offset`, which the caller took from the module's `VMOffsets`.
    pub(crate) fn at<T>(&self, offset: u32) -> *mut T {
        debug_assert!(offset as usize + std::mem::size_of::<T>() <= self.layout.size());
        self.ptr.wrapping_add(offset as usize).cast()
    }

    /// Writes a field at an offset from the module's `VMOffsets`.
    pub(crate) fn write<T>(&self, offset: u32, value: T) {
        assert!(offset as usize + std::mem::size_of::<T>() <= self.layout.size());
        // SAFETY: in bounds (checked); VMOffsets aligns every field for its type.
        unsafe { self.at::<T>(offset).write(value) };
    }
}

impl Drop for VMContextAlloc {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr, self.layout) };
    }
}
