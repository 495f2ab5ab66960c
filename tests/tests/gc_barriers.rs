//! The count barriers that kilnc compiles into GC code (SPEC 3.14), seen
//! from the heap: objects that compiled code stops referencing are freed,
//! by counting when they are acyclic and by the cycle collector when a
//! `struct.set` or `array.set` closed a cycle; `i31` words pass through
//! the same barriers without being taken for pointers.

use kiln_compiler::{compile, CompileOptions};
use kiln_loader::{Caller, Engine, Error, Instance, Linker, Store};

const WAT: &str = r#"(module
    (import "host" "gc" (func $gc))
    (type $node (struct (field $v i32) (field $next (mut (ref null $node)))))
    (type $nodes (array (mut (ref null $node))))
    (type $any (struct (field (mut anyref))))
    (global $head (mut (ref null $node)) (ref.null $node))
    (global $keep (mut anyref) (ref.null any))

    ;; A list of n nodes, its head kept in $head; returns the sum of the values.
    (func (export "list") (param $n i32) (result i32)
        (local $sum i32) (local $p (ref null $node))
        (global.set $head (ref.null $node))
        (loop $l
            (global.set $head (struct.new $node (local.get $n) (global.get $head)))
            (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
        (call $gc)
        (local.set $p (global.get $head))
        (block $done
            (loop $walk
                (local.set $p (br_on_null $done (local.get $p)))
                (local.set $sum (i32.add (local.get $sum) (struct.get $node $v (local.get $p))))
                (local.set $p (struct.get $node $next (local.get $p)))
                (br $walk)))
        (local.get $sum))

    ;; n two-node cycles, each kept only by $head while it is built; $head
    ;; keeps the last one.
    (func (export "cycles") (param $n i32)
        (local $a (ref null $node)) (local $b (ref null $node))
        (loop $l
            (local.set $a (struct.new $node (i32.const 1) (ref.null $node)))
            (local.set $b (struct.new $node (i32.const 2) (local.get $a)))
            (struct.set $node $next (local.get $a) (local.get $b))
            (global.set $head (local.get $a))
            (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))

    ;; Arrays of references: set, fill and copy replace elements.
    (func (export "arrays") (result i32)
        (local $xs (ref $nodes))
        (local.set $xs (array.new $nodes (struct.new $node (i32.const 5) (ref.null $node)) (i32.const 8)))
        (array.set $nodes (local.get $xs) (i32.const 0) (struct.new $node (i32.const 7) (ref.null $node)))
        (array.fill $nodes (local.get $xs) (i32.const 4) (struct.new $node (i32.const 9) (ref.null $node)) (i32.const 4))
        (array.copy $nodes $nodes (local.get $xs) (i32.const 1) (local.get $xs) (i32.const 0) (i32.const 2))
        (call $gc)
        (i32.add
            (struct.get $node $v (array.get $nodes (local.get $xs) (i32.const 2)))
            (struct.get $node $v (array.get $nodes (local.get $xs) (i32.const 7)))))

    ;; An i31 stored in, replaced in and read back from anyref storage.
    (func (export "i31s") (param $x i32) (result i32)
        (local $s (ref $any))
        (global.set $keep (ref.i31 (local.get $x)))
        (local.set $s (struct.new $any (global.get $keep)))
        (struct.set $any 0 (local.get $s) (ref.i31 (i32.add (local.get $x) (i32.const 1))))
        (call $gc)
        (i32.add
            (i31.get_u (ref.cast (ref i31) (global.get $keep)))
            (i31.get_u (ref.cast (ref i31) (struct.get $any 0 (local.get $s))))))

    (func (export "clear") (global.set $head (ref.null $node)) (global.set $keep (ref.null any))))"#;

fn instantiate() -> (Store<()>, Instance) {
    let object = compile(WAT.as_bytes(), &CompileOptions::default()).expect("kilnc compiles the module");
    let engine = Engine::default();
    let module = kiln_tests::module_from_bytes(&engine, &object).expect("the artifact loads");
    let mut linker = Linker::<()>::new(&engine);
    linker
        .func_wrap("host", "gc", |mut caller: Caller<'_, ()>| -> Result<(), Error> {
            caller.gc()?;
            Ok(())
        })
        .unwrap();
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module).expect("instantiates");
    (store, instance)
}

/// Drops what the module's globals hold, then collects: nothing may stay.
fn assert_all_freed(store: &mut Store<()>, instance: &Instance) {
    instance.get_typed_func::<(), ()>(&mut *store, "clear").unwrap().call(&mut *store, ()).unwrap();
    store.gc().unwrap();
    let stats = store.gc_heap_stats();
    assert_eq!(stats.live_objects, 0, "{stats:?}");
}

#[test]
fn a_long_list_lives_while_a_global_holds_it_and_is_freed_after() {
    let (mut store, instance) = instantiate();
    let list = instance.get_typed_func::<i32, i32>(&mut store, "list").unwrap();
    // More objects than the activations chunk holds: its slow path runs.
    let n = 20_000;
    assert_eq!(list.call(&mut store, n).unwrap(), n * (n + 1) / 2);
    assert_eq!(store.gc_heap_stats().live_objects, n as usize);
    // A second list replaces the first through the global's barrier.
    assert_eq!(list.call(&mut store, 10).unwrap(), 55);
    store.gc().unwrap();
    assert_eq!(store.gc_heap_stats().live_objects, 10);
    assert_all_freed(&mut store, &instance);
}

#[test]
fn cycles_closed_by_struct_set_are_collected() {
    let (mut store, instance) = instantiate();
    let cycles = instance.get_typed_func::<i32, ()>(&mut store, "cycles").unwrap();
    cycles.call(&mut store, 1000).unwrap();
    store.gc().unwrap();
    let stats = store.gc_heap_stats();
    assert_eq!(stats.live_objects, 2, "only the cycle in the global lives: {stats:?}");
    assert!(stats.cycles_collected >= 1998, "{stats:?}");
    // The GC emptied the activations table, so only the global's count
    // keeps the last cycle from garbage: the compiled `global.set` that
    // drops it must offer it to the collector as a candidate root.
    assert_all_freed(&mut store, &instance);
}

#[test]
fn array_writes_count_old_and_new_elements() {
    let (mut store, instance) = instantiate();
    let arrays = instance.get_typed_func::<(), i32>(&mut store, "arrays").unwrap();
    // xs = [7, 7, 5, 5, 9, 9, 9, 9] after set, fill and copy.
    assert_eq!(arrays.call(&mut store, ()).unwrap(), 5 + 9);
    assert_all_freed(&mut store, &instance);
}

#[test]
fn i31_words_pass_through_the_barriers() {
    let (mut store, instance) = instantiate();
    let i31s = instance.get_typed_func::<i32, i32>(&mut store, "i31s").unwrap();
    assert_eq!(i31s.call(&mut store, 100).unwrap(), 100 + 101);
    assert_eq!(i31s.call(&mut store, -1).unwrap(), 0x7fff_ffff, "-1 and 0 as 31-bit unsigned values");
    assert_all_freed(&mut store, &instance);
}
