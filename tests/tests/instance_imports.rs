//! `Instance::new` checks every import itself: compiled code trusts the
//! types of what it imports, so a wrong-typed item handed straight to
//! `Instance::new` (bypassing the linker) must be refused, never linked.

use kiln_compiler::{compile, CompileOptions};
use kiln_loader::{
    Engine, Error, Extern, Func, FuncType, Global, GlobalType, Instance, Module, RefType, Store, Table, TableType, Val,
    ValType,
};

fn module(engine: &Engine, wat: &str) -> Module {
    let object = compile(wat.as_bytes(), &CompileOptions::default()).expect("test module compiles");
    kiln_tests::module_from_bytes(engine, &object).expect("test module loads")
}

fn expect_link_error(result: Result<Instance, Error>, what: &str) {
    match result {
        Err(Error::Link(message)) => assert!(message.contains("incompatible import type"), "{what}: {message}"),
        Err(other) => panic!("{what}: expected a link error, got {other}"),
        Ok(_) => panic!("{what}: a wrong-typed import was accepted"),
    }
}

#[test]
fn wrong_global_type_is_refused() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = module(
        &engine,
        r#"(module (import "m" "g" (global externref)) (func (export "f") (result externref) global.get 0))"#,
    );
    let global = Global::new(&mut store, GlobalType { content: ValType::I32, mutable: false }, Val::I32(7)).unwrap();
    expect_link_error(
        Instance::new(&mut store, &module, &[Extern::from(global)]),
        "i32 global for an externref import",
    );

    let right =
        Global::new(&mut store, GlobalType { content: ValType::EXTERNREF, mutable: false }, Val::ExternRef(None))
            .unwrap();
    Instance::new(&mut store, &module, &[Extern::from(right)]).expect("the matching global links");
}

#[test]
fn wrong_table_element_type_is_refused() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = module(&engine, r#"(module (import "m" "t" (table 1 funcref)))"#);
    let table = Table::new(
        &mut store,
        TableType { element: RefType::EXTERNREF, minimum: 1, maximum: None, table64: false },
        Val::ExternRef(None),
    )
    .unwrap();
    expect_link_error(
        Instance::new(&mut store, &module, &[Extern::from(table)]),
        "externref table for a funcref import",
    );
}

#[test]
fn function_of_another_store_is_refused() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let mut other = Store::new(&engine, ());
    let module = module(&engine, r#"(module (import "m" "f" (func (param i32))))"#);
    let ty = FuncType { params: vec![ValType::I32], results: vec![] };
    let foreign = Func::new(&mut other, ty.clone(), |_, _, _| Ok(()));
    expect_link_error(Instance::new(&mut store, &module, &[Extern::from(foreign)]), "function from another store");

    let own = Func::new(&mut store, ty, |_, _, _| Ok(()));
    Instance::new(&mut store, &module, &[Extern::from(own)]).expect("a function of the same store links");
}
