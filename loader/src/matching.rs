//! Import matching ("external types" subtyping). Types here name
//! concrete types by engine id ([`Module::engine_type`]).

use kiln_format::{GlobalType, Import, ImportKind, MemoryType, TableType};

use crate::error::Error;
use crate::externals::Extern;
use crate::module::Module;
use crate::vm::store::StoreOpaque;

/// Whether limits `{min, max}` of a provided entity match the import's.
/// The provided minimum must be at least the wanted one; a wanted maximum
/// requires a provided maximum no larger than it.
pub fn limits_match(provided_min: u64, provided_max: Option<u64>, wanted_min: u64, wanted_max: Option<u64>) -> bool {
    provided_min >= wanted_min
        && match (provided_max, wanted_max) {
            (_, None) => true,
            (Some(p), Some(w)) => p <= w,
            (None, Some(_)) => false,
        }
}

/// Whether a table (with its current size as minimum) matches an imported
/// table type: same element and index type, matching limits.
pub fn table_matches(provided: &TableType, wanted: &TableType) -> bool {
    provided.element == wanted.element
        && provided.table64 == wanted.table64
        && limits_match(provided.minimum, provided.maximum, wanted.minimum, wanted.maximum)
}

/// Whether a memory (with its current size as minimum) matches an imported
/// memory type: same sharing and index type, matching limits.
pub fn memory_matches(provided: &MemoryType, wanted: &MemoryType) -> bool {
    provided.shared == wanted.shared
        && provided.memory64 == wanted.memory64
        && limits_match(provided.minimum, provided.maximum, wanted.minimum, wanted.maximum)
}

/// Whether a global matches an imported global type: the same
/// mutability, and for an immutable global a content type that is a
/// subtype of the wanted one (a mutable global's must be equal, since Wasm
/// both reads and writes it). `is_subtype` relates concrete types.
pub fn global_matches(provided: &GlobalType, wanted: &GlobalType, is_subtype: impl Fn(u32, u32) -> bool) -> bool {
    provided.mutable == wanted.mutable
        && if wanted.mutable {
            provided.content == wanted.content
        } else {
            provided.content.is_subtype_of(wanted.content, is_subtype)
        }
}

/// Checks that `item` may satisfy `import` of `module`, instantiated in
/// `store`. Instantiation makes this check itself, whoever gathered the
/// imports: compiled code trusts an import's type and store completely.
pub(crate) fn check_import_item(
    store: &StoreOpaque,
    import: &Import,
    item: &Extern,
    module: &Module,
) -> Result<(), Error> {
    if item.store_id().is_some_and(|id| store.check(id, item.kind_name()).is_err()) {
        return Err(Error::Link(format!(
            "incompatible import type: `{}`.`{}` belongs to another store",
            import.module, import.name
        )));
    }
    check_import(store, item, &import.kind, module).map_err(|why| {
        Error::Link(format!("incompatible import type for `{}`.`{}`: {why}", import.module, import.name))
    })
}

/// Checks `item` (of `store`) against an import; the error says why it
/// does not match.
pub(crate) fn check_import(
    store: &StoreOpaque,
    item: &Extern,
    kind: &ImportKind,
    module: &Module,
) -> Result<(), String> {
    match (item, kind) {
        (Extern::Func(f), ImportKind::Func(type_index)) => {
            let wanted = module.type_ids().get(*type_index as usize).ok_or("import names an unknown type")?;
            let provided = store.func_ref(f).map_err(|e| e.to_string())?.type_id;
            if store.engine.is_subtype(provided, *wanted) {
                Ok(())
            } else {
                let name = |id| store.engine.func_type(id).map_or_else(|| "?".to_string(), |t| t.to_string());
                Err(format!("expected func of type `{}`, found func of type `{}`", name(*wanted), name(provided)))
            }
        }
        (Extern::Table(t), ImportKind::Table(wanted)) => {
            let wanted = &TableType { element: module.engine_ref_type(wanted.element), ..*wanted };
            let provided = t.inner(store).map_err(|e| e.to_string())?.current_type();
            if table_matches(&provided, wanted) {
                Ok(())
            } else {
                Err(format!("expected `{wanted}`, found `{provided}`"))
            }
        }
        (Extern::Memory(m), ImportKind::Memory(wanted)) => {
            let provided = m.inner(store).map_err(|e| e.to_string())?.current_type();
            if memory_matches(&provided, wanted) {
                Ok(())
            } else {
                Err(format!("expected `{wanted}`, found `{provided}`"))
            }
        }
        (Extern::SharedMemory(m), ImportKind::Memory(wanted)) => {
            let provided = m.ty();
            if memory_matches(&provided, wanted) {
                Ok(())
            } else {
                Err(format!("expected `{wanted}`, found `{provided}`"))
            }
        }
        (Extern::Global(g), ImportKind::Global(wanted)) => {
            let wanted = &GlobalType { content: module.engine_type(wanted.content), ..*wanted };
            let provided = g.inner(store).map_err(|e| e.to_string())?.ty();
            if global_matches(&provided, wanted, |a, b| store.engine.is_subtype(a, b)) {
                Ok(())
            } else {
                Err(format!("expected `{wanted}`, found `{provided}`"))
            }
        }
        (Extern::Tag(t), ImportKind::Tag(type_index)) => {
            let wanted = module.type_ids().get(*type_index as usize).ok_or("import names an unknown type")?;
            let provided = t.inner(store).map_err(|e| e.to_string())?.type_id;
            if provided == *wanted {
                Ok(())
            } else {
                let name = |id| store.engine.func_type(id).map_or_else(|| "?".to_string(), |t| t.to_string());
                Err(format!("expected tag of type `{}`, found tag of type `{}`", name(*wanted), name(provided)))
            }
        }
        (item, kind) => Err(format!("expected {}, found {}", kind_name(kind), item.kind_name())),
    }
}

fn kind_name(kind: &ImportKind) -> &'static str {
    match kind {
        ImportKind::Func(_) => "function",
        ImportKind::Table(_) => "table",
        ImportKind::Memory(_) => "memory",
        ImportKind::Global(_) => "global",
        ImportKind::Tag(_) => "tag",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_format::{RefType, ValType};

    fn same(a: u32, b: u32) -> bool {
        a == b
    }

    #[test]
    fn immutable_globals_are_covariant() {
        let non_null = ValType::Ref(RefType { nullable: false, heap: kiln_format::HeapType::Func });
        let g = |content, mutable| GlobalType { content, mutable };
        assert!(global_matches(&g(non_null, false), &g(ValType::FUNCREF, false), same));
        assert!(!global_matches(&g(ValType::FUNCREF, false), &g(non_null, false), same));
        assert!(!global_matches(&g(non_null, true), &g(ValType::FUNCREF, true), same), "mutable ones are invariant");
    }

    #[test]
    fn limits_follow_subtyping() {
        assert!(limits_match(2, None, 1, None));
        assert!(!limits_match(1, None, 2, None));
        assert!(limits_match(1, Some(2), 1, Some(3)));
        assert!(!limits_match(1, Some(4), 1, Some(3)));
        assert!(!limits_match(1, None, 1, Some(3)), "a wanted maximum needs a provided one");
        assert!(limits_match(1, Some(3), 0, None));
    }

    #[test]
    fn tables_memories_and_globals() {
        let t = |element, minimum, maximum| TableType { element, minimum, maximum, table64: false };
        assert!(table_matches(&t(RefType::FUNCREF, 10, Some(20)), &t(RefType::FUNCREF, 10, Some(20))));
        assert!(!table_matches(&t(RefType::EXTERNREF, 10, None), &t(RefType::FUNCREF, 10, None)));
        let m = |minimum, maximum| MemoryType { minimum, maximum, shared: false, memory64: false };
        assert!(memory_matches(&m(2, Some(2)), &m(1, Some(2))));
        assert!(!memory_matches(&m(1, None), &m(1, Some(2))));
        let m64 = MemoryType { memory64: true, ..m(1, None) };
        assert!(!memory_matches(&m64, &m(1, None)), "the index types differ");
        assert!(!memory_matches(&m(1, None), &m64));
        assert!(memory_matches(&m64, &m64));
        let t64 = TableType { table64: true, ..t(RefType::FUNCREF, 1, None) };
        assert!(!table_matches(&t64, &t(RefType::FUNCREF, 1, None)), "the index types differ");
        assert!(table_matches(&t64, &t64));
        let g = |content, mutable| GlobalType { content, mutable };
        assert!(global_matches(&g(ValType::I32, true), &g(ValType::I32, true), same));
        assert!(!global_matches(&g(ValType::I32, false), &g(ValType::I32, true), same));
        assert!(!global_matches(&g(ValType::I64, false), &g(ValType::I32, false), same));
    }

    #[test]
    fn host_entities_match_by_current_size() {
        use crate::{Engine, Global, Memory, Store, Table, Val};
        let mut store = Store::new(&Engine::default(), ());
        let table = Table::new(
            &mut store,
            TableType { element: RefType::FUNCREF, minimum: 1, maximum: Some(5), table64: false },
            Val::FuncRef(None),
        )
        .unwrap();
        let wanted = TableType { element: RefType::FUNCREF, minimum: 3, maximum: Some(5), table64: false };
        assert!(!table_matches(&table.ty(&store), &wanted));
        table.grow(&mut store, 2, Val::FuncRef(None)).unwrap();
        assert!(table_matches(&table.ty(&store), &wanted), "a grown table satisfies a larger minimum");

        let memory =
            Memory::new(&mut store, MemoryType { minimum: 0, maximum: None, shared: false, memory64: false }).unwrap();
        let wanted = MemoryType { minimum: 1, maximum: None, shared: false, memory64: false };
        assert!(!memory_matches(&memory.ty(&store), &wanted));
        memory.grow(&mut store, 1).unwrap();
        assert!(memory_matches(&memory.ty(&store), &wanted));

        let global =
            Global::new(&mut store, GlobalType { content: ValType::I64, mutable: false }, Val::I64(1)).unwrap();
        assert!(!global_matches(&global.ty(&store), &GlobalType { content: ValType::I64, mutable: true }, same));
    }
}
