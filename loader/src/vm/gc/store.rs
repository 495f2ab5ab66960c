//! The store's side of the GC heap: layouts from the engine's types,
//! allocation under the store's resource limiter, and the collections
//! that run with the activations table's GC.
#![allow(unsafe_code)]

use std::sync::Arc;

use kiln_format::{gc, TrapCode};

use super::cycles;
use super::layout::{GcLayout, Shape};
use crate::error::Error;
use crate::limits::DEFAULT_GC_HEAP_LIMIT;
use crate::vm::externref::VMExternData;
use crate::vm::store::{release_counts, DestructorPanicked, LimiterQuery, StoreOpaque};

/// Why an allocation failed.
#[derive(Debug)]
pub(crate) enum AllocError {
    /// A trap of the allocating code: `gc_heap_exhausted` or
    /// `allocation_too_large`.
    Trap(TrapCode),
    /// The limiter, or a host destructor run by the collection the
    /// allocation started, failed.
    Host(Error),
}

impl From<AllocError> for Error {
    fn from(e: AllocError) -> Error {
        match e {
            AllocError::Trap(code) => Error::trap_code(code),
            AllocError::Host(error) => error,
        }
    }
}

impl StoreOpaque {
    /// The layout of engine type `type_id`, or `None` if it is not a
    /// struct or array type.
    pub(crate) fn gc_layout(&self, type_id: u32) -> Option<Arc<GcLayout>> {
        if let Some(layout) = self.gc_heap.layout(type_id) {
            return Some(layout);
        }
        let ty = self.engine.composite_type(type_id)?;
        let layout = Arc::new(GcLayout::of(type_id, &ty)?);
        self.gc_heap.register_layout(layout.clone());
        Some(layout)
    }

    /// The layout of the type that instance `instance` calls `type_index`,
    /// without an `Arc` clone and drop (two atomic operations that were a
    /// tenth of an allocation's cost): the builtins' way to it.
    ///
    /// # Safety
    /// The reference must not outlive the store's GC heap.
    #[inline]
    pub(crate) unsafe fn gc_instance_layout_unbound<'a>(
        &self,
        instance: usize,
        type_index: u32,
    ) -> Option<&'a GcLayout> {
        let &id = self.instances[instance].module.type_ids().get(type_index as usize)?;
        // SAFETY: forwarded.
        if let Some(layout) = unsafe { self.gc_heap.layout_unbound(id) } {
            return Some(layout);
        }
        // Registers it.
        self.gc_layout(id)?;
        // SAFETY: forwarded.
        unsafe { self.gc_heap.layout_unbound(id) }
    }

    /// The layout of the type that instance `instance` calls `type_index`.
    pub(crate) fn gc_instance_layout(&self, instance: usize, type_index: u32) -> Option<Arc<GcLayout>> {
        let &id = self.instances[instance].module.type_ids().get(type_index as usize)?;
        self.gc_layout(id)
    }

    /// Whether the heap may grow by `bytes`: the limiter's answer, or the
    /// default bound for a store without one.
    fn gc_heap_may_grow(&mut self, bytes: usize) -> Result<bool, Error> {
        let current = self.gc_heap.reserved_bytes();
        let desired = current.saturating_add(bytes);
        if self.limiter.is_none() {
            return Ok(desired <= DEFAULT_GC_HEAP_LIMIT);
        }
        self.may_grow(LimiterQuery::GcHeapGrowing { current, desired })
    }

    /// Allocates a zeroed object of type `layout` (an array of `len`
    /// elements), with one count that the caller owns. When the heap
    /// cannot grow it collects first, so every counted reference the
    /// caller is about to store must already hold its own count ("insert
    /// before you collect").
    pub(crate) fn gc_allocate(&mut self, layout: &GcLayout, len: u32) -> Result<*mut u8, AllocError> {
        let size = match &layout.shape {
            Shape::Struct { size, .. } => *size,
            Shape::Array { layout, .. } => layout.size(len).ok_or(AllocError::Trap(TrapCode::ALLOCATION_TOO_LARGE))?,
        };
        if self.gc_heap.wants_collection() || self.activations.chunk_is_full() {
            // The new object goes into the activations table, as the
            // inline insertion of compiled code would: a full chunk is a
            // GC first, or the table (and every object only it holds)
            // would grow without bound. Objects released while buffered
            // wait for the collector, so its buffer bounds them too.
            self.gc().map_err(AllocError::Host)?;
        }
        let mut growth = self.gc_heap.growth_needed(size);
        if growth > 0 && self.gc_heap.released().has_released() {
            // Objects that exceptions released elsewhere may free a slot:
            // drop those counts before the heap grows for garbage.
            self.release_queued().map_err(|e| AllocError::Host(e.into()))?;
            growth = self.gc_heap.growth_needed(size);
        }
        if growth > 0 && !self.gc_heap_may_grow(growth).map_err(AllocError::Host)? {
            // Free what can be freed, then ask again.
            self.full_gc().map_err(AllocError::Host)?;
            let growth = self.gc_heap.growth_needed(size);
            if growth > 0 && !self.gc_heap_may_grow(growth).map_err(AllocError::Host)? {
                return Err(AllocError::Trap(TrapCode::GC_HEAP_EXHAUSTED));
            }
        }
        let object = self.gc_heap.allocate(size, layout).ok_or(AllocError::Trap(TrapCode::GC_HEAP_EXHAUSTED))?;
        if let Shape::Array { .. } = layout.shape {
            // SAFETY: a fresh array, at least the header and length long.
            unsafe { object.add(gc::ARRAY_LENGTH as usize).cast::<u32>().write(len) };
        }
        Ok(object)
    }

    /// Drops, on the store's thread, the counts that exceptions gave up to
    /// the heap's queue (SPEC 3.14 "Counts released elsewhere"), until it
    /// is empty: a count dropped here may free a host value whose
    /// destructor queues more. Every count is dropped even if a host
    /// destructor panics.
    pub(crate) fn release_queued(&mut self) -> Result<(), DestructorPanicked> {
        let mut outcome = Ok(());
        let mut words = Vec::new();
        while self.gc_heap.released().take(&mut words) {
            // Each word is an object of this heap, live while its queued
            // count is (the heap is torn down only after this store).
            let raws = words.drain(..).map(|word| word as *mut VMExternData);
            if release_counts(raws).is_err() {
                outcome = Err(DestructorPanicked);
            }
        }
        outcome
    }

    /// Runs the cycle collector over the heap's candidates. Called after
    /// the activations table's GC, when its counts are precise.
    pub(crate) fn collect_cycles(&mut self) -> Result<cycles::CycleStats, DestructorPanicked> {
        cycles::collect(&self.gc_heap).map_err(|_| DestructorPanicked)
    }
}
