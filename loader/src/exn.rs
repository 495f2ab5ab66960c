//! Exceptions as the host sees them: thrown by Wasm out of a call, or made
//! by the host to throw into Wasm from a host function.

use std::fmt;

use crate::error::Error;
use crate::store::{opaque, opaque_mut, AsContext, AsContextMut};
use crate::tag::Tag;
use crate::values::Val;
use crate::vm::exception::ExceptionObject;
use crate::vm::ExternRef;

/// An exception object: a tag and the values it carries. Cloning shares
/// the object (it is what an `exnref` refers to).
///
/// A call into Wasm that throws an exception no Wasm handler catches
/// returns [`Error::Exception`] with it. A host function throws one into
/// Wasm by returning that error (`Err(Error::from(exn).into())`), where
/// `try_table` and `try` catch it by its tag like any other. Traps are
/// never exceptions and no handler catches them.
#[derive(Clone)]
pub struct Exn {
    object: ExternRef,
}

impl Exn {
    /// A new exception of `tag`, carrying `values` (one of each type of
    /// the tag's, in order).
    pub fn new(mut store: impl AsContextMut, tag: &Tag, values: &[Val]) -> Result<Exn, Error> {
        let store = opaque_mut(&mut store);
        let tag = tag.inner(store)?.clone();
        let object = crate::vm::exception::new_exception(store, tag, values)?;
        Ok(Exn { object })
    }

    pub(crate) fn from_extern_ref(object: ExternRef) -> Exn {
        Exn { object }
    }

    pub(crate) fn into_extern_ref(self) -> ExternRef {
        self.object
    }

    pub(crate) fn as_extern_ref(&self) -> &ExternRef {
        &self.object
    }

    /// Checks that `store` may read, throw or pass it (see
    /// [`Exn::values`]).
    pub(crate) fn check_store(&self, store: &crate::vm::store::StoreOpaque) -> Result<(), Error> {
        self.object().check_store(store)
    }

    fn object(&self) -> &ExceptionObject {
        ExceptionObject::of(&self.object).expect("an Exn holds an exception object")
    }

    /// Its tag, as a handle of `store`; `None` when the tag is not one of
    /// the store's (the exception came from another store).
    pub fn tag(&self, store: impl AsContext) -> Option<Tag> {
        let store = opaque(&store);
        store.tag_handle(self.object().tag())
    }

    /// The values it carries (GC references rooted in `store`). Fails with
    /// [`Error::ForeignHandle`] when `store` is not the exception's own and
    /// its values, or those of an exception among them, include function
    /// references or GC objects: those belong to their store alone. Such
    /// an exception cannot be thrown or passed into another store's Wasm
    /// either.
    pub fn values(&self, store: impl AsContext) -> Result<Vec<Val>, Error> {
        crate::vm::exception::exception_values(opaque(&store), self.object())
    }

    /// Whether both are the same exception object.
    pub fn ptr_eq(a: &Exn, b: &Exn) -> bool {
        ExternRef::ptr_eq(&a.object, &b.object)
    }
}

impl fmt::Debug for Exn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exn").field("types", &self.object().types()).finish()
    }
}

impl From<Exn> for Error {
    fn from(exn: Exn) -> Error {
        Error::Exception(exn)
    }
}
