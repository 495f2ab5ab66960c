//! Exceptions that carry GC objects (SPEC 3.13, 3.14): they escape a call
//! with their struct; dropped on another thread while the store allocates
//! and collects, they give their counts to the heap's queue, which the
//! store drains at its GCs (`Store::gc`, `Caller::gc`); another store can neither read them, nor throw
//! them, nor pass them to its Wasm; and one that outlives its store is
//! dropped harmlessly.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use kiln_loader::{Caller, Engine, Error, Exn, Instance, Linker, RootScope, Store, Tag, TagType, Val, ValType};

const WAT: &str = r#"(module
    (import "host" "held" (func $held))
    (import "host" "drop_held_and_collect" (func $drop_held_and_collect))
    (type $box (struct (field i32)))
    (type $node (struct (field $next (mut (ref null $node))) (field $value i32)))
    (tag $boxed (param (ref null $box)))
    (tag $plain (param i32))

    (func (export "throw_box") (param $v i32)
        (throw $boxed (struct.new $box (local.get $v))))
    (func (export "throw_plain") (param $v i32)
        (throw $plain (local.get $v)))

    ;; The field of the box that an exception of $boxed carries, as a
    ;; handler of this module catches it.
    (func (export "unbox") (param $x exnref) (result i32)
        (block $h (result (ref null $box))
            (try_table (catch $boxed $h) (throw_ref (local.get $x)))
            unreachable)
        (struct.get $box 0))

    ;; 1 if what the host function throws is caught here, 0 if it returns.
    (func (export "catch_held") (result i32)
        (block $h
            (try_table (catch_all $h) (call $held))
            (return (i32.const 0)))
        (i32.const 1))

    ;; The host drops the exception it held and runs a GC inside this call.
    (func (export "collect_inside") (call $drop_held_and_collect))

    ;; n garbage cycles of two nodes.
    (func (export "churn") (param $n i32)
        (local $a (ref null $node)) (local $b (ref null $node))
        (loop $again
            (local.set $a (struct.new $node (ref.null $node) (i32.const 1)))
            (local.set $b (struct.new $node (local.get $a) (i32.const 2)))
            (struct.set $node $next (local.get $a) (local.get $b))
            (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
)"#;

/// A store's host state: the exception its `held` import throws.
type Held = Option<Exn>;

fn setup(engine: &Engine) -> (Store<Held>, Instance) {
    let object = kiln_compiler::compile(WAT.as_bytes(), &Default::default()).expect("kilnc compiles the module");
    let module = kiln_tests::module_from_bytes(engine, &object).expect("the artifact loads");
    let mut store = Store::new(engine, None);
    let mut linker = Linker::new(engine);
    linker
        .func_wrap("host", "held", |mut caller: Caller<'_, Held>| match caller.data_mut().take() {
            Some(exn) => Err::<(), anyhow::Error>(Error::from(exn).into()),
            None => Ok(()),
        })
        .unwrap();
    linker
        .func_wrap("host", "drop_held_and_collect", |mut caller: Caller<'_, Held>| {
            drop(caller.data_mut().take());
            caller.gc()?;
            Ok::<(), anyhow::Error>(())
        })
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).expect("instantiates");
    (store, instance)
}

/// The exception `name(v)` throws out of the call.
fn thrown(store: &mut Store<Held>, instance: Instance, name: &str, v: i32) -> Exn {
    let f = instance.get_func(&mut *store, name).expect("exported");
    match f.call(&mut *store, &[Val::I32(v)], &mut []) {
        Err(Error::Exception(exn)) => exn,
        other => panic!("{name}({v}) should throw, got {other:?}"),
    }
}

/// The `i32` in the box an exception carries, read by the host.
fn boxed_value(store: &mut Store<Held>, exn: &Exn) -> Result<i32, Error> {
    let scope = RootScope::new(store);
    let values = exn.values(&scope)?;
    let any = values[0].anyref().expect("a box");
    let s = any.as_struct(&scope)?.expect("a struct");
    Ok(s.field(&scope, 0)?.i32().expect("an i32 field"))
}

/// `unbox(exn)` in the store's Wasm.
fn unbox(store: &mut Store<Held>, instance: Instance, exn: &Exn) -> Result<i32, Error> {
    let f = instance.get_func(&mut *store, "unbox").expect("exported");
    let mut results = [Val::I32(0)];
    f.call(&mut *store, &[Val::ExnRef(Some(exn.clone()))], &mut results)?;
    Ok(results[0].i32().expect("an i32"))
}

fn live_objects(store: &Store<Held>) -> usize {
    store.gc_heap_stats().live_objects
}

#[test]
fn an_exception_carrying_a_struct_escapes_a_call_and_frees_it_at_the_next_gc() {
    let engine = Engine::default();
    let (mut store, instance) = setup(&engine);
    let exn = thrown(&mut store, instance, "throw_box", 7);
    store.gc().unwrap();
    assert_eq!(live_objects(&store), 1, "the exception holds its box");
    assert_eq!(boxed_value(&mut store, &exn).unwrap(), 7);
    assert_eq!(unbox(&mut store, instance, &exn).unwrap(), 7, "Wasm of its store catches it again");
    drop(exn);
    store.gc().unwrap();
    assert_eq!(live_objects(&store), 0, "the box went with the exception");
}

#[test]
fn a_gc_from_a_host_function_drops_what_a_dropped_exception_held() {
    let engine = Engine::default();
    let (mut store, instance) = setup(&engine);
    let exn = thrown(&mut store, instance, "throw_box", 3);
    assert_eq!(live_objects(&store), 1);
    *store.data_mut() = Some(exn);
    let collect_inside = instance.get_typed_func::<(), ()>(&store, "collect_inside").unwrap();
    collect_inside.call(&mut store, ()).unwrap();
    assert_eq!(live_objects(&store), 0, "Caller::gc dropped the queued count");
}

#[test]
fn exceptions_dropped_on_another_thread_while_the_store_allocates_and_collects() {
    const EXCEPTIONS: i32 = 2000;
    let engine = Engine::default();
    let (mut store, instance) = setup(&engine);
    let churn = instance.get_typed_func::<i32, ()>(&store, "churn").unwrap();
    for round in 0..3 {
        let exns: Vec<Exn> = (0..EXCEPTIONS).map(|i| thrown(&mut store, instance, "throw_box", i)).collect();
        store.gc().unwrap();
        assert_eq!(live_objects(&store), EXCEPTIONS as usize, "round {round}: one box per exception");
        let done = Arc::new(AtomicBool::new(false));
        let dropper = {
            let done = done.clone();
            std::thread::spawn(move || {
                for exn in exns {
                    drop(exn);
                    std::thread::yield_now();
                }
                done.store(true, Ordering::Release);
            })
        };
        let mut collections = 0;
        while !done.load(Ordering::Acquire) || collections == 0 {
            churn.call(&mut store, 200).unwrap();
            store.gc().unwrap();
            collections += 1;
        }
        dropper.join().expect("the dropping thread ends");
        store.gc().unwrap();
        assert_eq!(live_objects(&store), 0, "round {round}: every box and cycle freed");
    }
}

#[test]
fn another_store_cannot_read_throw_or_pass_an_exception_holding_gc_values() {
    let engine = Engine::default();
    let (mut a, a_instance) = setup(&engine);
    let (mut b, b_instance) = setup(&engine);
    let exn = thrown(&mut a, a_instance, "throw_box", 5);
    assert!(matches!(exn.values(&b), Err(Error::ForeignHandle(_))), "reading is refused");
    assert!(matches!(unbox(&mut b, b_instance, &exn), Err(Error::ForeignHandle(_))), "passing it to Wasm is refused");
    // Nor may a new exception of the other store carry it.
    let exn_tag = Tag::new(&mut b, &TagType::new([ValType::EXNREF]));
    assert!(matches!(Exn::new(&mut b, &exn_tag, &[Val::ExnRef(Some(exn.clone()))]), Err(Error::ForeignHandle(_))));
    // A host function of the other store that throws it fails instead.
    *b.data_mut() = Some(exn.clone());
    let catch_held = b_instance.get_typed_func::<(), i32>(&b, "catch_held").unwrap();
    assert!(matches!(catch_held.call(&mut b, ()), Err(Error::ForeignHandle(_))), "throwing it is refused");
    // An exception that carries it is bound to its store as well.
    let a_exn_tag = Tag::new(&mut a, &TagType::new([ValType::EXNREF]));
    let outer = Exn::new(&mut a, &a_exn_tag, &[Val::ExnRef(Some(exn.clone()))]).unwrap();
    assert!(matches!(outer.values(&b), Err(Error::ForeignHandle(_))));
    assert!(outer.values(&a).is_ok());
    // Its own store still reads it, and Wasm there still catches it.
    assert_eq!(boxed_value(&mut a, &exn).unwrap(), 5);
    assert_eq!(unbox(&mut a, a_instance, &exn).unwrap(), 5);
    // An exception with nothing bound to its store crosses stores.
    let plain = thrown(&mut a, a_instance, "throw_plain", 9);
    assert_eq!(plain.values(&b).unwrap()[0].i32(), Some(9));
    *b.data_mut() = Some(plain);
    assert_eq!(catch_held.call(&mut b, ()).unwrap(), 1, "Wasm of the other store catches it");
    drop((exn, outer));
    a.gc().unwrap();
    b.gc().unwrap();
    assert_eq!(live_objects(&a), 0);
    assert_eq!(live_objects(&b), 0, "the other store never rooted the box");
}

#[test]
fn an_exception_carrying_gc_values_outlives_its_store() {
    let engine = Engine::default();
    let (mut a, a_instance) = setup(&engine);
    let (b, _) = setup(&engine);
    let exns: Vec<Exn> = (0..100).map(|i| thrown(&mut a, a_instance, "throw_box", i)).collect();
    let kept = exns[0].clone();
    drop(a);
    // No store can read its values any more.
    assert!(matches!(kept.values(&b), Err(Error::ForeignHandle(_))));
    assert!(format!("{kept:?}").contains("Exn"));
    // Dropped on this thread and on another, after the store.
    drop(kept);
    std::thread::spawn(move || drop(exns)).join().expect("dropping them on another thread is harmless");
    drop(b);
}
