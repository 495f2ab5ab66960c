//! `table.init` / `memory.init` and the drops of segments, shared by
//! instantiation and the builtins.

use kiln_format::{ConstExpr, TrapCode};

use super::const_expr::ConstEnv;
use super::InstanceData;
use crate::table::check_range;

impl InstanceData {
    pub(crate) fn const_env(&self) -> ConstEnv<'_> {
        ConstEnv { globals: &self.globals, vmctx: self.vmctx, offsets: &self.offsets }
    }

    /// `table.init`: copies `len` items of element segment `elem` from `src`
    /// to `dst` of `table`, after checking both ranges. A dropped segment is empty.
    pub(crate) fn table_init(&self, table: u32, elem: u32, dst: u32, src: u32, len: u32) -> Result<(), TrapCode> {
        let table = self.tables.get(table as usize).ok_or(TrapCode::TABLE_OUT_OF_BOUNDS)?;
        let items: &[ConstExpr] = match self.module.info().elements.get(elem as usize) {
            Some(segment) if !self.element_dropped(elem) => &segment.items,
            _ => &[],
        };
        check_range(src, len, items.len() as u32)?;
        check_range(dst, len, table.size())?;
        let env = self.const_env();
        for (i, item) in items[src as usize..(src + len) as usize].iter().enumerate() {
            // Items were validated with the module; a bad one reads as null rather than crashing.
            let raw = env.eval(item).map(|slot| slot.pointer()).unwrap_or(0);
            table.set(dst + i as u32, raw)?;
        }
        Ok(())
    }

    /// `memory.init`: copies `len` bytes of data segment `data` from `src` to
    /// `dst` of `memory`, after checking both ranges. A dropped segment is empty.
    pub(crate) fn memory_init(&self, memory: u32, data: u32, dst: u32, src: u32, len: u32) -> Result<(), TrapCode> {
        let memory = self.memories.get(memory as usize).ok_or(TrapCode::MEMORY_OUT_OF_BOUNDS)?;
        let bytes = match self.module.info().data.get(data as usize) {
            Some(segment) if !self.data_dropped(data) => {
                let start = segment.data_offset as usize;
                self.module.code().data().get(start..start + segment.len as usize).unwrap_or(&[])
            }
            _ => &[],
        };
        let end = (src as u64) + (len as u64);
        if end > bytes.len() as u64 {
            return Err(TrapCode::MEMORY_OUT_OF_BOUNDS);
        }
        memory.write(dst as u64, &bytes[src as usize..end as usize])
    }

    pub(crate) fn element_dropped(&self, elem: u32) -> bool {
        self.dropped_elements.get(elem as usize).is_none_or(|d| d.get())
    }

    pub(crate) fn data_dropped(&self, data: u32) -> bool {
        self.dropped_data.get(data as usize).is_none_or(|d| d.get())
    }

    pub(crate) fn drop_element(&self, elem: u32) {
        if let Some(d) = self.dropped_elements.get(elem as usize) {
            d.set(true);
        }
    }

    pub(crate) fn drop_data(&self, data: u32) {
        if let Some(d) = self.dropped_data.get(data as usize) {
            d.set(true);
        }
    }
}
