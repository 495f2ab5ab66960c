//! Scopes of the host's GC roots, and roots owned by a handle.

use std::fmt;
use std::sync::Arc;

use crate::error::Error;
use crate::gc_ref::{AnyRef, AnyRepr, I31};
use crate::store::{opaque, AsContext, AsContextMut, StoreContext, StoreContextMut};
use crate::vm::gc_roots::OwnedRoot;

/// A scope of GC roots: every [`AnyRef`](crate::AnyRef),
/// [`StructRef`](crate::StructRef) or [`ArrayRef`](crate::ArrayRef) rooted
/// through the scope (results of calls, field reads, conversions) is
/// released when it ends, dropping the count its root owned; its handles
/// are refused afterwards. Scopes nest, last in, first out. Roots made
/// outside any scope live as long as the store.
///
/// ```ignore
/// let mut scope = RootScope::new(&mut store);
/// func.call(&mut scope, &[], &mut results)?;
/// // ... the results' roots are released here.
/// ```
pub struct RootScope<C: AsContextMut> {
    store: C,
    /// The root table's length when the scope began.
    len: usize,
}

impl<C: AsContextMut> RootScope<C> {
    /// A scope over `store`'s roots, starting now.
    pub fn new(store: C) -> RootScope<C> {
        let len = opaque(&store).roots.len();
        RootScope { store, len }
    }
}

impl<C: AsContextMut> AsContext for RootScope<C> {
    type Data = C::Data;
    fn as_context(&self) -> StoreContext<'_, C::Data> {
        self.store.as_context()
    }
}

impl<C: AsContextMut> AsContextMut for RootScope<C> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, C::Data> {
        self.store.as_context_mut()
    }
}

impl<C: AsContextMut> Drop for RootScope<C> {
    fn drop(&mut self) {
        // A drop cannot report a host destructor's panic; every count
        // drops all the same.
        let _ = opaque(&self.store).roots.release_to(self.len);
    }
}

/// An internal reference rooted for as long as this handle (or a clone)
/// lives, independent of any [`RootScope`]: for host state that keeps a
/// GC reference between calls. Dropping the last handle releases the
/// count when the store next sweeps its owned roots (at a GC, or as new
/// owned roots are made), since a drop cannot reach the store: it may run
/// on any thread, and drops an `Arc`, never a count of the object.
#[derive(Clone)]
pub struct OwnedAnyRef {
    repr: OwnedRepr,
}

#[derive(Clone)]
enum OwnedRepr {
    I31(I31),
    Owned(Arc<OwnedRoot>),
}

impl AnyRef {
    /// An owned root of the same reference.
    pub fn to_owned_rooted(&self, store: impl AsContext) -> Result<OwnedAnyRef, Error> {
        let repr = match self.repr {
            AnyRepr::I31(i) => OwnedRepr::I31(i),
            AnyRepr::Rooted(root) => OwnedRepr::Owned(opaque(&store).roots.own(root)?),
        };
        Ok(OwnedAnyRef { repr })
    }
}

impl OwnedAnyRef {
    /// A handle of the reference rooted in the current scope, to pass to
    /// Wasm or read fields through.
    pub fn to_anyref(&self, store: impl AsContext) -> Result<AnyRef, Error> {
        Ok(match &self.repr {
            OwnedRepr::I31(i) => AnyRef::from_i31(*i),
            OwnedRepr::Owned(owned) => AnyRef::rooted(opaque(&store).roots.root_owned(owned)?),
        })
    }
}

impl fmt::Debug for OwnedAnyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            OwnedRepr::I31(i) => write!(f, "OwnedAnyRef({i:?})"),
            OwnedRepr::Owned(owned) => write!(f, "OwnedAnyRef({owned:?})"),
        }
    }
}
