//! Instances as the runtime sees them: a module's VMContext and the store
//! indices of its memories, tables and globals.
//!
//! Instantiation allocates and fills the VMContext, runs the element and
//! data segments and the start function. It does no work proportional to the
//! size of the code: functions are reached through their code offsets.

mod const_expr;
mod init;
mod segments;
mod vmctx;

use kiln_format::VMOffsets;

pub(crate) use init::{check_counts, instantiate, ImportItem};
pub(crate) use vmctx::VMContextAlloc;

use crate::module::Module;

/// What builtins reach through `vmctx + VMOffsets::INSTANCE`.
pub(crate) struct InstanceData {
    /// Its index in the store's instances.
    pub(crate) index: usize,
    pub(crate) module: Module,
    pub(crate) vmctx: VMContextAlloc,
    pub(crate) offsets: VMOffsets,
    /// Store indices of the whole memory space, imports first; likewise
    /// tables and globals.
    pub(crate) memories: Vec<u32>,
    pub(crate) tables: Vec<u32>,
    pub(crate) globals: Vec<u32>,
    /// Store indices of the tag space, imports first, and the tags
    /// themselves, which the unwinder compares exceptions' tags with.
    pub(crate) tags: Vec<u32>,
    pub(crate) tag_refs: Vec<std::sync::Arc<crate::vm::exception::VMTag>>,
    pub(crate) dropped_elements: Vec<bool>,
    /// The items of each element segment whose items allocate GC objects,
    /// evaluated once at instantiation (each counted reference owning one
    /// count) so that every `table.init` or `array.new_elem` sees the same
    /// objects; `None` for a segment evaluated when it is used.
    pub(crate) element_values: Vec<Option<Box<[usize]>>>,
    pub(crate) dropped_data: Vec<bool>,
}

impl InstanceData {
    pub(crate) fn vmctx_ptr(&self) -> *mut u8 {
        self.vmctx.ptr()
    }

    /// The address of function `index`'s func ref, if it exists.
    pub(crate) fn func_ref(&self, index: u32) -> Option<*const crate::vm::VMFuncRef> {
        (index < self.offsets.counts().funcs)
            .then(|| self.vmctx_ptr().wrapping_add(self.offsets.func_ref(index) as usize).cast_const().cast())
    }
}
