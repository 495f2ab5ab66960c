//! `Pinned<T>`: a heap value of a store's arena that raw pointers point into.
//!
//! VMContexts, funcrefs and compiled code keep raw pointers to instance
//! data and host-function contexts. Owned through a `Box`, every write
//! through the box would invalidate those pointers under Rust's aliasing
//! model, since a `Box` claims unique access. `Pinned` owns the allocation
//! through a raw pointer instead; every reference it hands out, and every
//! raw pointer into it, derives from that one pointer, so none invalidates
//! another.
#![allow(unsafe_code)]

use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

pub(crate) struct Pinned<T>(NonNull<T>);

impl<T> Pinned<T> {
    pub(crate) fn new(value: T) -> Pinned<T> {
        Pinned(NonNull::from(Box::leak(Box::new(value))))
    }

    /// The value's address, stable for its whole life.
    pub(crate) fn as_ptr(&self) -> *mut T {
        self.0.as_ptr()
    }
}

impl<T> Deref for Pinned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the allocation lives until `drop`, and shared access
        // follows `&self`.
        unsafe { self.0.as_ref() }
    }
}

impl<T> DerefMut for Pinned<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above; unique access follows `&mut self`.
        unsafe { self.0.as_mut() }
    }
}

impl<T> Drop for Pinned<T> {
    fn drop(&mut self) {
        // SAFETY: allocated by `Box::new` in `new`, freed only here.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

// SAFETY: `Pinned<T>` owns its `T` as a `Box<T>` would.
unsafe impl<T: Send> Send for Pinned<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for Pinned<T> {}
