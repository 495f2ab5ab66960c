//! Scopes of the host's GC roots.

use crate::store::{opaque, AsContext, AsContextMut, StoreContext, StoreContextMut};

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
