//! Import matching (WebAssembly 2.0, "external types" subtyping).

use kiln_format::{FuncType, GlobalType, Import, ImportKind, MemoryType, TableType};

use crate::error::Error;
use crate::externals::Extern;
use crate::store::Store;

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

/// Whether a table (with its current size as minimum) matches an imported table type.
pub fn table_matches(provided: &TableType, wanted: &TableType) -> bool {
    provided.element == wanted.element
        && limits_match(
            provided.minimum.into(),
            provided.maximum.map(Into::into),
            wanted.minimum.into(),
            wanted.maximum.map(Into::into),
        )
}

/// Whether a memory (with its current size as minimum) matches an imported memory type.
pub fn memory_matches(provided: &MemoryType, wanted: &MemoryType) -> bool {
    provided.shared == wanted.shared && limits_match(provided.minimum, provided.maximum, wanted.minimum, wanted.maximum)
}

/// Whether a global matches an imported global type: same content type and mutability.
pub fn global_matches(provided: &GlobalType, wanted: &GlobalType) -> bool {
    provided == wanted
}

/// Whether a function matches an imported function type: equal types.
pub fn func_matches(provided: &FuncType, wanted: &FuncType) -> bool {
    provided == wanted
}

/// Checks that `item` may satisfy `import` of a module instantiated in
/// `store`. Instantiation makes this check itself, whoever gathered the
/// imports: compiled code trusts an import's type and store completely.
pub(crate) fn check_import_item(
    store: &Store,
    import: &Import,
    item: &Extern,
    types: &[FuncType],
) -> Result<(), Error> {
    if !Store::same(item.store(), store) {
        return Err(Error::Link(format!(
            "incompatible import type: `{}`.`{}` belongs to another store",
            import.module, import.name
        )));
    }
    check_import(item, &import.kind, types).map_err(|why| {
        Error::Link(format!("incompatible import type for `{}`.`{}`: {why}", import.module, import.name))
    })
}

/// Checks `item` against an import; the error says why it does not match.
pub(crate) fn check_import(item: &Extern, kind: &ImportKind, types: &[FuncType]) -> Result<(), String> {
    match (item, kind) {
        (Extern::Func(f), ImportKind::Func(type_index)) => {
            let wanted = types.get(*type_index as usize).ok_or("import names an unknown type")?;
            let provided = f.ty();
            if func_matches(&provided, wanted) {
                Ok(())
            } else {
                Err(format!("expected function {wanted:?}, found {provided:?}"))
            }
        }
        (Extern::Table(t), ImportKind::Table(wanted)) => {
            let provided = t.ty();
            if table_matches(&provided, wanted) {
                Ok(())
            } else {
                Err(format!("expected table {wanted:?}, found {provided:?}"))
            }
        }
        (Extern::Memory(m), ImportKind::Memory(wanted)) => {
            let provided = m.ty();
            if memory_matches(&provided, wanted) {
                Ok(())
            } else {
                Err(format!("expected memory {wanted:?}, found {provided:?}"))
            }
        }
        (Extern::Global(g), ImportKind::Global(wanted)) => {
            let provided = g.ty();
            if global_matches(&provided, wanted) {
                Ok(())
            } else {
                Err(format!("expected global {wanted:?}, found {provided:?}"))
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_format::{RefType, ValType};

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
        let t = |element, minimum, maximum| TableType { element, minimum, maximum };
        assert!(table_matches(&t(RefType::FuncRef, 10, Some(20)), &t(RefType::FuncRef, 10, Some(20))));
        assert!(!table_matches(&t(RefType::ExternRef, 10, None), &t(RefType::FuncRef, 10, None)));
        let m = |minimum, maximum| MemoryType { minimum, maximum, shared: false };
        assert!(memory_matches(&m(2, Some(2)), &m(1, Some(2))));
        assert!(!memory_matches(&m(1, None), &m(1, Some(2))));
        let g = |content, mutable| GlobalType { content, mutable };
        assert!(global_matches(&g(ValType::I32, true), &g(ValType::I32, true)));
        assert!(!global_matches(&g(ValType::I32, false), &g(ValType::I32, true)));
        assert!(!global_matches(&g(ValType::I64, false), &g(ValType::I32, false)));
    }

    #[test]
    fn host_entities_match_by_current_size() {
        use crate::{Global, Memory, Store, Table, Val};
        let store = Store::new();
        let table = Table::new(
            &store,
            TableType { element: RefType::FuncRef, minimum: 1, maximum: Some(5) },
            Val::FuncRef(None),
        )
        .unwrap();
        let wanted = ImportKind::Table(TableType { element: RefType::FuncRef, minimum: 3, maximum: Some(5) });
        assert!(check_import(&table.clone().into(), &wanted, &[]).is_err());
        table.grow(2, Val::FuncRef(None)).unwrap();
        assert!(check_import(&table.into(), &wanted, &[]).is_ok(), "a grown table satisfies a larger minimum");

        let memory = Memory::new(&store, MemoryType { minimum: 0, maximum: None, shared: false }).unwrap();
        let wanted = ImportKind::Memory(MemoryType { minimum: 1, maximum: None, shared: false });
        assert!(check_import(&memory.clone().into(), &wanted, &[]).is_err());
        memory.grow(1).unwrap();
        assert!(check_import(&memory.clone().into(), &wanted, &[]).is_ok());
        let err = check_import(&memory.into(), &ImportKind::Func(0), &[]).unwrap_err();
        assert!(err.contains("expected function, found memory"), "{err}");

        let global = Global::new(&store, GlobalType { content: ValType::I64, mutable: false }, Val::I64(1)).unwrap();
        let wanted = ImportKind::Global(GlobalType { content: ValType::I64, mutable: true });
        assert!(check_import(&global.into(), &wanted, &[]).is_err());
    }
}
