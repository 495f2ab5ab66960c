//! Exceptions across the host boundary and under load: a million throws
//! and catches carrying externrefs leave resident memory flat and drop
//! every reference exactly once; host functions throw exceptions that Wasm
//! catches; an exception crosses a host frame that called back into Wasm;
//! an uncaught exception reaches the host with its tag and values; traps
//! are never caught.

mod common;
mod externref_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use externref_common::tracked;
use kiln_loader::{
    Engine, Error, Exn, ExternRef, Instance, Linker, Module, Store, Tag, TagType, TrapCode, Val, ValType,
};

fn module(engine: &Engine, wat: &str) -> Module {
    let object = kiln_compiler::compile(wat.as_bytes(), &Default::default()).expect("compiles");
    kiln_tests::module_from_bytes(engine, &object).expect("loads")
}

fn resident_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("reads status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|k| k.parse::<usize>().ok()).expect("a number") * 1024
}

const STORM: &str = r#"(module
    (import "host" "fresh" (func $fresh (result externref)))
    (tag $e (param externref i32))
    (func $thrower (param externref) (throw $e (local.get 0) (i32.const 1)))
    (func $rethrower (param externref)
        (block $h (result exnref)
            (try_table (catch_all_ref $h) (call $thrower (local.get 0)))
            unreachable)
        throw_ref)
    ;; Each round throws an exception carrying a fresh externref through
    ;; two frames (once rethrown as an exnref) and catches it.
    (func (export "storm") (param $n i32) (result i32)
        (local $sum i32)
        (loop $again
            (block $h (result externref i32)
                (try_table (catch $e $h) (call $rethrower (call $fresh)))
                unreachable)
            (local.set $sum (i32.add (local.get $sum)))
            drop
            (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
        (local.get $sum)))"#;

#[test]
fn a_million_exceptions_carrying_externrefs_leave_memory_flat_and_drop_each_once() {
    const ROUNDS: i32 = 1_000_000;
    let engine = Engine::default();
    let module = module(&engine, STORM);
    let drops = Arc::new(AtomicUsize::new(0));
    let made = Arc::new(AtomicUsize::new(0));
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let (d, m) = (drops.clone(), made.clone());
    linker
        .func_wrap("host", "fresh", move || -> Option<ExternRef> {
            let id = m.fetch_add(1, Ordering::SeqCst) as u32;
            Some(tracked(id, &d))
        })
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).expect("instantiates");
    let storm = instance.get_typed_func::<i32, i32>(&store, "storm").expect("storm");

    assert_eq!(storm.call(&mut store, ROUNDS / 10).expect("the first tenth"), ROUNDS / 10);
    let after_a_tenth = resident_bytes();
    assert_eq!(storm.call(&mut store, ROUNDS - ROUNDS / 10).expect("the rest"), ROUNDS - ROUNDS / 10);
    let at_the_end = resident_bytes();
    assert!(at_the_end <= after_a_tenth + (4 << 20), "resident memory grew from {after_a_tenth} to {at_the_end} bytes");

    assert_eq!(made.load(Ordering::SeqCst), ROUNDS as usize);
    store.gc().expect("collects");
    assert_eq!(drops.load(Ordering::SeqCst), ROUNDS as usize, "every carried externref is dropped once");
    drop(store);
    assert_eq!(drops.load(Ordering::SeqCst), ROUNDS as usize, "and never twice");
}

const BOUNDARY: &str = r#"(module
    (import "host" "tag" (tag $host (param i32)))
    (import "host" "throw" (func $host_throw (param i32)))
    (import "host" "call_back" (func $call_back (param i32)))
    (tag $e (export "e") (param i32))
    (func (export "catch_host") (param i32) (result i32)
        (block $h (result i32)
            (try_table (catch $host $h) (call $host_throw (local.get 0)))
            (return (i32.const -1)))
        (i32.add (i32.const 1)))
    (func (export "inner") (param i32) (throw $e (local.get 0)))
    ;; Wasm calls the host, which calls "inner", which throws.
    (func (export "through_host") (param i32) (result i32)
        (block $h (result i32)
            (try_table (catch $e $h) (call $call_back (local.get 0)))
            (return (i32.const -1)))
        (i32.mul (i32.const 2)))
    (func (export "uncaught") (param i32) (throw $e (local.get 0)))
    (func (export "trap_not_caught") (result i32)
        (block $h
            (try_table (catch_all $h) unreachable))
        (i32.const 7)))"#;

struct Boundary {
    store: Store<Option<Instance>>,
    instance: Instance,
    host_tag: Tag,
}

fn boundary() -> Boundary {
    let engine = Engine::default();
    let module = module(&engine, BOUNDARY);
    let mut store = Store::new(&engine, None::<Instance>);
    let host_tag = Tag::new(&mut store, &TagType::new([ValType::I32]));
    let mut linker = Linker::new(&engine);
    linker.define(&store, "host", "tag", host_tag).unwrap();
    linker
        .func_wrap("host", "throw", move |mut caller: kiln_loader::Caller<'_, Option<Instance>>, v: i32| {
            let exn = Exn::new(&mut caller, &host_tag, &[Val::I32(v * 10)])?;
            Err::<(), anyhow::Error>(Error::from(exn).into())
        })
        .unwrap();
    linker
        .func_wrap("host", "call_back", |mut caller: kiln_loader::Caller<'_, Option<Instance>>, v: i32| {
            let instance = caller.data().expect("instantiated");
            let inner = instance.get_typed_func::<i32, ()>(&caller, "inner")?;
            // The exception of the nested call is passed on as it is.
            inner.call(&mut caller, v + 1)?;
            Ok::<(), anyhow::Error>(())
        })
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).expect("instantiates");
    *store.data_mut() = Some(instance);
    Boundary { store, instance, host_tag }
}

#[test]
fn a_host_function_throws_and_wasm_catches_by_the_imported_tag() {
    let Boundary { mut store, instance, .. } = boundary();
    let f = instance.get_typed_func::<i32, i32>(&store, "catch_host").unwrap();
    assert_eq!(f.call(&mut store, 4).unwrap(), 41);
    assert_eq!(f.call(&mut store, -3).unwrap(), -29);
}

#[test]
fn an_exception_crosses_a_host_frame_that_called_back_into_wasm() {
    let Boundary { mut store, instance, .. } = boundary();
    let f = instance.get_typed_func::<i32, i32>(&store, "through_host").unwrap();
    assert_eq!(f.call(&mut store, 20).unwrap(), 42);
}

#[test]
fn an_uncaught_exception_reaches_the_host_with_its_tag_and_values() {
    let Boundary { mut store, instance, host_tag } = boundary();
    let f = instance.get_typed_func::<i32, ()>(&store, "uncaught").unwrap();
    let exported = instance.get_export(&store, "e").and_then(|e| e.into_tag()).expect("the exported tag");
    match f.call(&mut store, 42) {
        Err(Error::Exception(exn)) => {
            assert_eq!(exn.tag(&store), Some(exported));
            assert_ne!(exn.tag(&store), Some(host_tag));
            let values = exn.values(&store).unwrap();
            assert_eq!(values.iter().map(|v| v.i32()).collect::<Vec<_>>(), vec![Some(42)]);
        }
        other => panic!("expected an exception, got {other:?}"),
    }
    assert_eq!(exported.ty(&store).params(), [ValType::I32]);
}

#[test]
fn catch_all_does_not_catch_a_trap() {
    let Boundary { mut store, instance, .. } = boundary();
    let f = instance.get_typed_func::<(), i32>(&store, "trap_not_caught").unwrap();
    match f.call(&mut store, ()) {
        Err(Error::Trap(trap)) => assert_eq!(trap.code, Some(TrapCode::UNREACHABLE)),
        other => panic!("expected a trap, got {other:?}"),
    }
    // The store is usable afterwards.
    let g = instance.get_typed_func::<i32, i32>(&store, "catch_host").unwrap();
    assert_eq!(g.call(&mut store, 1).unwrap(), 11);
}

#[test]
fn an_exception_of_the_wrong_arity_is_refused() {
    let Boundary { mut store, host_tag, .. } = boundary();
    assert!(matches!(Exn::new(&mut store, &host_tag, &[]), Err(Error::Type(_))));
    assert!(matches!(Exn::new(&mut store, &host_tag, &[Val::I64(1)]), Err(Error::Type(_))));
}
