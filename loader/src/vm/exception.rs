//! Tags and exception objects (SPEC 3.13).
//!
//! A tag is a store-level entity like a global; its identity is the
//! allocation of its [`VMTag`], which instances that import it share, so
//! comparing tags is comparing pointers. An exception object is an
//! externref block ([`VMExternData`]) whose host value is an
//! [`ExceptionObject`]: an exnref is counted, kept alive by the
//! activations table and found by the GC exactly like an externref, and
//! dropping its last count drops the counts of the references among its
//! values.
#![allow(unsafe_code)]

use std::sync::Arc;

use kiln_format::{gc, FuncType, ValType};

use super::abi::ValueSlot;
use super::externref::{increment_raw, ExternRef, VMExternData};
use super::gc::heap::HeapRef;
use super::gc::object;
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
    /// The store whose funcrefs the values may hold.
    store: StoreId,
    /// One slot per parameter of the tag's type; each counted reference
    /// among them owns one count.
    values: Box<[ValueSlot]>,
    /// The GC heap of the objects among the values, kept while they are:
    /// the exception may outlive its store. Declared after `values`, so
    /// it goes after the values' counts.
    _heap: Option<HeapRef>,
}

impl ExceptionObject {
    /// Allocates an exception of `tag` whose values are `values`, taking a
    /// count of each counted reference among them.
    ///
    /// # Safety
    /// `values` must hold one value of each parameter type of the tag, its
    /// references live (funcrefs of `store`).
    pub(crate) unsafe fn allocate(tag: Arc<VMTag>, store: StoreId, values: &[ValueSlot]) -> ExternRef {
        let mut heap = None;
        for (slot, ty) in values.iter().zip(&tag.ty.params) {
            if ty.is_counted_ref() {
                let word = slot.pointer();
                // SAFETY: the caller vouches the reference is live.
                unsafe {
                    increment_raw(word as *mut VMExternData);
                    if heap.is_none() && object::is_block(word) && object::kind(word as *mut u8) != gc::KIND_HOST {
                        heap = Some(HeapRef::of_object(word as *mut u8));
                    }
                }
            }
        }
        ExternRef::new(ExceptionObject { tag, store, values: values.into(), _heap: heap })
    }

    /// The exception object of `exn`, if it is one.
    pub(crate) fn of(exn: &ExternRef) -> Option<&ExceptionObject> {
        exn.downcast_ref::<ExceptionObject>()
    }

    /// Its tag.
    pub(crate) fn tag(&self) -> &Arc<VMTag> {
        &self.tag
    }

    /// The store whose funcrefs its values may hold.
    pub(crate) fn store(&self) -> StoreId {
        self.store
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
    /// Moves the counts of the references among its values to `out`
    /// (as words: a value of the any hierarchy may be a GC object), leaving
    /// null in their slots.
    fn take_references(&mut self, out: &mut Vec<usize>) {
        for (slot, ty) in self.values.iter_mut().zip(&self.tag.ty.params) {
            if ty.is_counted_ref() {
                let word = slot.pointer();
                *slot = ValueSlot::default();
                // An i31 is not counted.
                if object::is_block(word) {
                    out.push(word);
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
    /// freeing it drops nothing else.
    fn drop(&mut self) {
        let mut pending = Vec::new();
        self.take_references(&mut pending);
        while let Some(word) = pending.pop() {
            // SAFETY: `allocate` took this count, which the exception owned
            // and, its slot now null, handed over; the block is live.
            if unsafe { object::kind(word as *mut u8) } != gc::KIND_HOST {
                // A GC object frees what only it held iteratively itself.
                // SAFETY: as above.
                unsafe { object::decrement(word) };
                continue;
            }
            // SAFETY: as above; a host block.
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
        return Err(Error::ty(format!("the tag carries {} values, {} were given", tag.ty.params.len(), values.len())));
    }
    let slots = values
        .iter()
        .zip(&tag.ty.params)
        .map(|(value, &ty)| value.to_raw_slot(store, ty))
        .collect::<Result<Vec<_>, Error>>()?;
    // SAFETY: every slot holds a value of its type; the references are
    // borrowed from `values`, alive for the call.
    Ok(unsafe { ExceptionObject::allocate(tag, store.id(), &slots) })
}

/// The values of `object` as host values (new counts of its references).
pub(crate) fn exception_values(store: &StoreOpaque, object: &ExceptionObject) -> Result<Vec<Val>, Error> {
    if object.store() != store.id() && object.types().iter().any(|t| t.is_func_ref()) {
        return Err(Error::foreign_handle("exception"));
    }
    Ok(object
        .values()
        .iter()
        .zip(object.types())
        // SAFETY: the exception owns a count of each reference it holds,
        // and its funcrefs are of `store` (checked above).
        .map(|(&slot, &ty)| unsafe { Val::from_slot(slot, ty, store) })
        .collect())
}
