//! Freeing nested exceptions is iterative, never recursive: chains of a
//! million exceptions, each carrying the one before, made by the host and
//! by Wasm, are freed without overflowing the stack, and the externref at
//! the bottom is dropped exactly once. (A test binary of its own: the
//! chains take memory that the resident-memory check of `exceptions`
//! must not see.)

mod common;
mod externref_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use externref_common::tracked;
use kiln_loader::{Engine, Exn, Linker, Module, Store, Tag, TagType, Val, ValType};

fn module(engine: &Engine, wat: &str) -> Module {
    let object = kiln_compiler::compile(wat.as_bytes(), &Default::default()).expect("compiles");
    kiln_tests::module_from_bytes(engine, &object).expect("loads")
}

/// Depth of the chains of nested exceptions below: far deeper than any
/// thread's stack could free recursively.
const CHAIN: usize = 1_000_000;

const NESTING: &str = r#"(module
    (tag $leaf (param externref))
    (tag $wrap (param exnref))
    ;; An exception of $leaf carrying `x`, wrapped `n` times: each round
    ;; throws $wrap carrying the exception so far and catches the new one.
    (func (export "nest") (param $x externref) (param $n i32) (result exnref)
        (local $e exnref)
        (block $h (result externref exnref)
            (try_table (catch_ref $leaf $h) (throw $leaf (local.get $x)))
            unreachable)
        (local.set $e)
        drop
        (loop $again
            (block $h (result exnref exnref)
                (try_table (catch_ref $wrap $h) (throw $wrap (local.get $e)))
                unreachable)
            (local.set $e)
            drop
            (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
        (local.get $e)))"#;

#[test]
fn dropping_a_million_nested_exceptions_made_by_the_host_does_not_recurse() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let drops = Arc::new(AtomicUsize::new(0));
    let leaf = Tag::new(&mut store, &TagType::new([ValType::EXTERNREF]));
    let wrap = Tag::new(&mut store, &TagType::new([ValType::EXNREF]));
    let mut exn = Exn::new(&mut store, &leaf, &[Val::ExternRef(Some(tracked(0, &drops)))]).unwrap();
    for _ in 0..CHAIN {
        exn = Exn::new(&mut store, &wrap, &[Val::ExnRef(Some(exn))]).unwrap();
    }
    let outer = exn.clone();
    drop(exn);
    assert_eq!(drops.load(Ordering::SeqCst), 0, "a clone still holds the chain");
    drop(outer);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the externref at the bottom of the chain is dropped once");
}

#[test]
fn dropping_a_million_nested_exceptions_made_by_wasm_does_not_recurse() {
    let engine = Engine::default();
    let module = module(&engine, NESTING);
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &module).expect("instantiates");
    let nest = instance.get_func(&store, "nest").expect("nest");
    let drops = Arc::new(AtomicUsize::new(0));
    let mut results = [Val::ExnRef(None)];
    let params = [Val::ExternRef(Some(tracked(0, &drops))), Val::I32(CHAIN as i32)];
    nest.call(&mut store, &params, &mut results).expect("nests");
    drop(params);
    let [Val::ExnRef(Some(outer))] = results else { panic!("expected an exception, got {results:?}") };

    // The chain really is that deep: its exceptions unwrap to the leaf.
    let mut depth = 0;
    let mut exn = outer.clone();
    while let [Val::ExnRef(Some(inner))] = exn.values(&store).unwrap().as_slice() {
        exn = inner.clone();
        depth += 1;
    }
    assert_eq!(depth, CHAIN);
    drop(exn);

    // The activations table still holds what the frames held; the host's
    // reference and a GC release the whole chain.
    drop(outer);
    store.gc().expect("collects");
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the externref at the bottom of the chain is dropped once");
}
