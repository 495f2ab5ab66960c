//! `table.init` / `memory.init` and the drops of segments, shared by
//! instantiation and the builtins.
#![allow(unsafe_code)]

use kiln_format::{ConstExpr, TrapCode};

use super::const_expr::ConstEnv;
use crate::error::Error;
use crate::vm::memory::LinearBytes;
use crate::vm::store::{release_counts, DestructorPanicked, StoreOpaque};
use crate::vm::table::{check_range, ReleasedRefs};

impl StoreOpaque {
    /// What constant expressions of instance `instance` see.
    pub(crate) fn const_env(&self, instance: usize) -> ConstEnv<'_> {
        let data = &self.instances[instance];
        ConstEnv {
            globals: &self.globals,
            global_indices: &data.globals,
            vmctx: data.vmctx_ptr(),
            offsets: &data.offsets,
        }
    }

    /// `table.init`: copies `len` items of element segment `elem` from `src`
    /// to `dst` of `table`, after checking both ranges. A dropped segment is
    /// empty. The old elements' counts come back to the caller.
    pub(crate) fn table_init(
        &self,
        instance: usize,
        table: u32,
        elem: u32,
        dst: u32,
        src: u32,
        len: u32,
    ) -> Result<ReleasedRefs, TrapCode> {
        let data = &self.instances[instance];
        let table = data
            .tables
            .get(table as usize)
            .and_then(|&t| self.tables.get(t as usize))
            .ok_or(TrapCode::TABLE_OUT_OF_BOUNDS)?;
        let items = self.element_words(instance, elem);
        check_range(src, len, items.len() as u32)?;
        check_range(dst, len, table.size())?;
        table.init(dst, &items[src as usize..(src + len) as usize])
    }

    /// The items of element segment `elem` of `instance` as reference
    /// words, borrowed (the segment, a function or a global keeps each
    /// alive); empty once dropped.
    pub(crate) fn element_words(&self, instance: usize, elem: u32) -> Vec<usize> {
        let data = &self.instances[instance];
        if data.dropped_elements.get(elem as usize).copied().unwrap_or(true) {
            return Vec::new();
        }
        if let Some(Some(values)) = data.element_values.get(elem as usize) {
            return values.to_vec();
        }
        let items: &[ConstExpr] = data.module.info().elements.get(elem as usize).map_or(&[], |s| &s.items);
        let env = self.const_env(instance);
        items
            .iter()
            // Items were validated with the module; a bad one reads as null rather than crashing.
            .map(|item| env.eval(item).map(|slot| slot.pointer()).unwrap_or(0))
            .collect()
    }

    /// Evaluates the items of element segment `elem` once, keeping a
    /// count of each counted reference (the objects allocated among them
    /// must be the same for every use of the segment).
    pub(crate) fn evaluate_element_segment(&mut self, instance: usize, elem: u32) -> Result<(), Error> {
        let module = self.instances[instance].module.clone();
        let Some(segment) = module.info().elements.get(elem as usize) else { return Ok(()) };
        let counted = segment.element.is_counted_ref();
        let mut values = Vec::with_capacity(segment.items.len());
        for item in &segment.items {
            match self.eval_const(instance, item) {
                Ok(value) => {
                    let word = value.slot.pointer();
                    if counted && !value.owned {
                        // SAFETY: a global keeps the reference alive; the
                        // segment takes a count of its own.
                        unsafe { crate::vm::gc::object::increment(word) };
                    }
                    values.push(word);
                }
                Err(e) => {
                    if counted {
                        release_counts(values.into_iter().map(|w| w as *mut _))?;
                    }
                    return Err(e);
                }
            }
        }
        if let Some(slot) = self.instances[instance].element_values.get_mut(elem as usize) {
            *slot = Some(values.into_boxed_slice());
        }
        Ok(())
    }

    /// Counts held by the evaluated items of a segment, to be released.
    fn take_element_counts(&mut self, instance: usize, elem: u32) -> Vec<usize> {
        let data = &mut self.instances[instance];
        let counted = data.module.info().elements.get(elem as usize).is_some_and(|s| s.element.is_counted_ref());
        match data.element_values.get_mut(elem as usize).and_then(Option::take) {
            Some(values) if counted => values.into_vec(),
            _ => Vec::new(),
        }
    }

    /// Counts held by the evaluated element segments of every instance;
    /// the store releases them when it is dropped.
    pub(crate) fn take_all_element_counts(&mut self) -> Vec<usize> {
        let mut counts = Vec::new();
        for instance in 0..self.instances.len() {
            for elem in 0..self.instances[instance].element_values.len() {
                counts.extend(self.take_element_counts(instance, elem as u32));
            }
        }
        counts
    }

    /// `memory.init`: copies `len` bytes of data segment `data` from `src` to
    /// `dst` of `memory`, after checking both ranges. A dropped segment is empty.
    pub(crate) fn memory_init(
        &self,
        instance: usize,
        memory: u32,
        segment: u32,
        dst: u64,
        src: u32,
        len: u32,
    ) -> Result<(), TrapCode> {
        let data = &self.instances[instance];
        let memory = data
            .memories
            .get(memory as usize)
            .and_then(|&m| self.memories.get(m as usize))
            .ok_or(TrapCode::MEMORY_OUT_OF_BOUNDS)?;
        let bytes = match data.module.info().data.get(segment as usize) {
            Some(s) if !data.dropped_data.get(segment as usize).copied().unwrap_or(true) => {
                let start = s.data_offset as usize;
                data.module.code().data().get(start..start + s.len as usize).unwrap_or(&[])
            }
            _ => &[],
        };
        let end = (src as u64) + (len as u64);
        if end > bytes.len() as u64 {
            return Err(TrapCode::MEMORY_OUT_OF_BOUNDS);
        }
        memory.write(dst, &bytes[src as usize..end as usize])
    }

    /// `elem.drop`: the segment is empty from here on, and the counts of
    /// its evaluated items go.
    pub(crate) fn drop_element(&mut self, instance: usize, elem: u32) -> Result<(), DestructorPanicked> {
        if let Some(d) = self.instances[instance].dropped_elements.get_mut(elem as usize) {
            *d = true;
        }
        let counts = self.take_element_counts(instance, elem);
        release_counts(counts.into_iter().map(|w| w as *mut _))
    }

    pub(crate) fn drop_data(&mut self, instance: usize, segment: u32) {
        if let Some(d) = self.instances[instance].dropped_data.get_mut(segment as usize) {
            *d = true;
        }
    }
}
