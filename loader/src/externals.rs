//! `Extern`: anything that can be imported or exported.

use crate::func::Func;
use crate::global::Global;
use crate::memory::Memory;
use crate::shared_memory::SharedMemory;
use crate::table::Table;
use crate::tag::Tag;
use crate::vm::store::StoreId;

/// A function, global, table, memory, shared memory or tag.
#[derive(Clone, Debug)]
pub enum Extern {
    /// A function.
    Func(Func),
    /// A global.
    Global(Global),
    /// A table.
    Table(Table),
    /// A memory.
    Memory(Memory),
    /// A shared memory, which belongs to no store.
    SharedMemory(SharedMemory),
    /// A tag.
    Tag(Tag),
}

impl Extern {
    /// The id of the store it belongs to; `None` for a shared memory.
    pub(crate) fn store_id(&self) -> Option<StoreId> {
        match self {
            Extern::Func(f) => Some(f.store),
            Extern::Global(g) => Some(g.store),
            Extern::Table(t) => Some(t.store),
            Extern::Memory(m) => Some(m.store),
            Extern::Tag(t) => Some(t.store),
            Extern::SharedMemory(_) => None,
        }
    }

    /// What kind of entity it is, as import errors name it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Extern::Func(_) => "function",
            Extern::Global(_) => "global",
            Extern::Table(_) => "table",
            Extern::Memory(_) => "memory",
            Extern::Tag(_) => "tag",
            Extern::SharedMemory(_) => "shared memory",
        }
    }

    /// The function, if it is one.
    pub fn into_func(self) -> Option<Func> {
        if let Extern::Func(f) = self {
            Some(f)
        } else {
            None
        }
    }

    /// The global, if it is one.
    pub fn into_global(self) -> Option<Global> {
        if let Extern::Global(g) = self {
            Some(g)
        } else {
            None
        }
    }

    /// The table, if it is one.
    pub fn into_table(self) -> Option<Table> {
        if let Extern::Table(t) = self {
            Some(t)
        } else {
            None
        }
    }

    /// The memory, if it is one (a shared memory is not).
    pub fn into_memory(self) -> Option<Memory> {
        if let Extern::Memory(m) = self {
            Some(m)
        } else {
            None
        }
    }

    /// The shared memory, if it is one.
    pub fn into_shared_memory(self) -> Option<SharedMemory> {
        if let Extern::SharedMemory(m) = self {
            Some(m)
        } else {
            None
        }
    }

    /// The tag, if it is one.
    pub fn into_tag(self) -> Option<Tag> {
        if let Extern::Tag(t) = self {
            Some(t)
        } else {
            None
        }
    }
}

impl From<Tag> for Extern {
    fn from(t: Tag) -> Extern {
        Extern::Tag(t)
    }
}

impl From<Func> for Extern {
    fn from(f: Func) -> Extern {
        Extern::Func(f)
    }
}

impl From<Global> for Extern {
    fn from(g: Global) -> Extern {
        Extern::Global(g)
    }
}

impl From<Table> for Extern {
    fn from(t: Table) -> Extern {
        Extern::Table(t)
    }
}

impl From<Memory> for Extern {
    fn from(m: Memory) -> Extern {
        Extern::Memory(m)
    }
}

impl From<SharedMemory> for Extern {
    fn from(m: SharedMemory) -> Extern {
        Extern::SharedMemory(m)
    }
}
