//! `table.init` / `memory.init` and the drops of segments, shared by
//! instantiation and the builtins.

use kiln_format::{ConstExpr, TrapCode};

use super::const_expr::ConstEnv;
use crate::vm::memory::LinearBytes;
use crate::vm::store::StoreOpaque;
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
        let items: &[ConstExpr] = match data.module.info().elements.get(elem as usize) {
            Some(segment) if !data.dropped_elements.get(elem as usize).copied().unwrap_or(true) => &segment.items,
            _ => &[],
        };
        check_range(src, len, items.len() as u32)?;
        check_range(dst, len, table.size())?;
        let env = self.const_env(instance);
        let values: Vec<usize> = items[src as usize..(src + len) as usize]
            .iter()
            // Items were validated with the module; a bad one reads as null rather than crashing.
            .map(|item| env.eval(item).map(|slot| slot.pointer()).unwrap_or(0))
            .collect();
        table.init(dst, &values)
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

    pub(crate) fn drop_element(&mut self, instance: usize, elem: u32) {
        if let Some(d) = self.instances[instance].dropped_elements.get_mut(elem as usize) {
            *d = true;
        }
    }

    pub(crate) fn drop_data(&mut self, instance: usize, segment: u32) {
        if let Some(d) = self.instances[instance].dropped_data.get_mut(segment as usize) {
            *d = true;
        }
    }
}
