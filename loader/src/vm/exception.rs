//! Tags and exception objects (SPEC 3.13).
//!
//! A tag is a store-level entity like a global; its identity is the
//! allocation of its [`VMTag`], which instances that import it share, so
//! comparing tags is comparing pointers. An exception object is an
//! externref block ([`VMExternData`]) whose host value is an
//! [`ExceptionObject`]: an exnref is counted, kept alive by the
//! activations table and found by the GC exactly like an externref, and
//! dropping its last count drops the counts of the references among its
//! values. That may happen on any thread, so the counts of GC objects go
//! to their heap's queue (`gc::released`), and an exception holding
//! funcrefs or GC objects is used only by its own store (SPEC 3.13).
#![allow(unsafe_code)]

use std::sync::Arc;

use kiln_format::{gc, FuncType, ValType};

use super::abi::ValueSlot;
use super::externref::{host_value, increment_raw, ExternRef, VMExternData};
use super::gc::object;
use super::gc::released::HeapRef;
use super::store::{StoreId, StoreOpaque};
use crate::error::Error;
use crate::values::Val;

/// A tag: the type of the values its exceptions carry.
#[derive(Debug)]
pub(crate) struct VMTag {
    /// Its type (parameters only).
    pub ty: FuncType,
    /// The engine's canonical id of that type, which import matching compares.
    pub type_id: u32,
}

/// The host value of an exception's `VMExternData`.
pub(crate) struct ExceptionObject {
    tag: Arc<VMTag>,
    /// The store that made it: the only one whose funcrefs and GC objects
    /// its values may hold.
    store: StoreId,
    /// Whether its values, or those of an exception among them, hold
    /// references usable only in `store` (a funcref, a GC object): it is
    /// then read, thrown and passed to Wasm only there.
    bound: bool,
    /// One slot per parameter of the tag's type; each counted reference
    /// among them owns one count.
    values: Box<[ValueSlot]>,
    /// The slots holding GC objects of `store`'s heap, if any.
    gc: Option<GcValues>,
}

/// The GC objects among an exception's values. The exception may be
/// dropped on any thread, or after its store: it gives their counts to the
/// heap's queue, never to the heap itself, and never reads the objects
/// once it is no longer sure they are live (SPEC 3.14).
struct GcValues {
    heap: HeapRef,
    slots: Box<[u32]>,
}

impl ExceptionObject {
    /// Allocates an exception of `tag` whose values are `values`, taking a
    /// count of each counted reference among them.
    ///
    /// # Safety
    /// `values` must hold one value of each parameter type of the tag, its
    /// references live and usable in `store` (funcrefs and GC objects of
    /// `store`, exceptions bound to it or to none).
    pub(crate) unsafe fn allocate(tag: Arc<VMTag>, store: &StoreOpaque, values: &[ValueSlot]) -> ExternRef {
        let mut bound = false;
        let mut gc_slots = Vec::new();
        for (i, (slot, ty)) in values.iter().zip(&tag.ty.params).enumerate() {
            let word = slot.pointer();
            if ty.is_func_ref() {
                bound |= word != 0;
            }
            if !ty.is_counted_ref() || !object::is_block(word) {
                continue;
            }
            // SAFETY: the caller vouches the reference is live; the kind is
            // read now, while it is, never in the destructor.
            unsafe {
                increment_raw(word as *mut VMExternData);
                if object::kind(word as *mut u8) != gc::KIND_HOST {
                    debug_assert!(store.gc_heap.contains(word), "a GC value of another store's heap");
                    gc_slots.push(i as u32);
                } else if let Some(inner) = ExceptionObject::of_raw(word) {
                    debug_assert!(!inner.bound || inner.store == store.id(), "an exception of another store");
                    bound |= inner.bound;
                }
            }
        }
        bound |= !gc_slots.is_empty();
        let gc =
            (!gc_slots.is_empty()).then(|| GcValues { heap: store.gc_heap.released().clone(), slots: gc_slots.into() });
        ExternRef::new(ExceptionObject { tag, store: store.id(), bound, values: values.into(), gc })
    }

    /// The exception object of `exn`, if it is one.
    pub(crate) fn of(exn: &ExternRef) -> Option<&ExceptionObject> {
        exn.downcast_ref::<ExceptionObject>()
    }

    /// The exception object of a host block, if it is one.
    ///
    /// # Safety
    /// `word` must be a live host block, which outlives the borrow.
    unsafe fn of_raw<'a>(word: usize) -> Option<&'a ExceptionObject> {
        // SAFETY: forwarded from the caller.
        unsafe { host_value(word as *mut VMExternData) }.downcast_ref::<ExceptionObject>()
    }

    /// Its tag.
    pub(crate) fn tag(&self) -> &Arc<VMTag> {
        &self.tag
    }

    /// Checks that `store` may read it, throw it, or hand it to Wasm: its
    /// own store, or any when it holds nothing bound to one.
    pub(crate) fn check_store(&self, store: &StoreOpaque) -> Result<(), Error> {
        if self.bound && self.store != store.id() {
            return Err(Error::foreign_handle("exception"));
        }
        Ok(())
    }

    /// Its values, raw: a reference among them is borrowed from the
    /// exception, which owns its count.
    pub(crate) fn values(&self) -> &[ValueSlot] {
        &self.values
    }

    /// The types of its values.
    pub(crate) fn types(&self) -> &[ValType] {
        &self.tag.ty.params
    }
}

impl ExceptionObject {
    /// Gives up the counts of the references among its values, leaving null
    /// in their slots: those of GC objects to their heap's queue (this may
    /// run on any thread), those of host blocks (values, exceptions) to
    /// `host`, as words.
    fn take_references(&mut self, host: &mut Vec<usize>) {
        if let Some(gc) = &self.gc {
            let values = &mut self.values;
            gc.heap.release(gc.slots.iter().map(|&i| std::mem::take(&mut values[i as usize]).pointer()));
        }
        for (slot, ty) in self.values.iter_mut().zip(&self.tag.ty.params) {
            if ty.is_counted_ref() {
                let word = slot.pointer();
                *slot = ValueSlot::default();
                // An i31 is not counted; the GC objects' slots are null now.
                if object::is_block(word) {
                    host.push(word);
                }
            }
        }
    }
}

impl Drop for ExceptionObject {
    /// Freeing is iterative, never recursive: an exception holding the last
    /// count of another would free it from inside its own drop, one stack
    /// frame per level of nesting, and a chain of a million nested
    /// exceptions would overflow the stack. Instead every exception about
    /// to be freed gives up its references to one work list first, so that
    /// freeing it drops nothing else. It touches no GC heap: this may run
    /// on any thread (see `GcValues`).
    fn drop(&mut self) {
        let mut pending = Vec::new();
        self.take_references(&mut pending);
        while let Some(word) = pending.pop() {
            // SAFETY: `allocate` took this count of a host block, which the
            // exception owned and, its slot now null, handed over.
            let Some(mut reference) = (unsafe { ExternRef::from_raw(word as *mut VMExternData) }) else { continue };
            if let Some(inner) = reference.unique_value_mut::<ExceptionObject>() {
                inner.take_references(&mut pending);
            }
            drop(reference);
        }
    }
}

/// A new exception of `tag` carrying `values`, each checked against the
/// tag's type and, for funcrefs, against `store`.
pub(crate) fn new_exception(store: &StoreOpaque, tag: Arc<VMTag>, values: &[Val]) -> Result<ExternRef, Error> {
    if values.len() != tag.ty.params.len() {
        return Err(Error::ty(format!(
            "the tag carries {}, {} given",
            crate::wording::count_of(tag.ty.params.len(), "value"),
            values.len()
        )));
    }
    let slots = values
        .iter()
        .zip(&tag.ty.params)
        .map(|(value, &ty)| value.to_raw_slot(store, ty))
        .collect::<Result<Vec<_>, Error>>()?;
    // SAFETY: every slot holds a value of its type, checked against
    // `store` (an exnref among them too); the references are borrowed
    // from `values`, alive for the call.
    Ok(unsafe { ExceptionObject::allocate(tag, store, &slots) })
}

/// The values of `object` as host values (new counts of its references,
/// GC objects rooted in `store`): an error when `store` is not the one
/// whose funcrefs or GC objects they hold.
pub(crate) fn exception_values(store: &StoreOpaque, object: &ExceptionObject) -> Result<Vec<Val>, Error> {
    object.check_store(store)?;
    Ok(object
        .values()
        .iter()
        .zip(object.types())
        // SAFETY: the exception owns a count of each reference it holds,
        // and its funcrefs and GC objects are of `store` (checked above),
        // which is alive, so its heap holds them.
        .map(|(&slot, &ty)| unsafe { Val::from_slot(slot, ty, store) })
        .collect())
}
