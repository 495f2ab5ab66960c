//! The GC heap under compiled code: garbage cycles that Wasm makes are
//! collected, long lists are freed without recursion, objects that only
//! Wasm frames hold survive collections started from the candidate
//! buffer, the heap's limit traps, and dropping a store frees everything
//! (SPEC 3.14).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use kiln_compiler::{compile, CompileOptions};
use kiln_loader::{Engine, ExternRef, Instance, Linker, Store, StoreLimits, TrapCode, ACTIVATIONS_CHUNK_CAPACITY};

const WAT: &str = r#"(module
    (type $node (struct (field $next (mut (ref null $node))) (field $value i32)))
    (type $bytes (array (mut i8)))
    (type $longs (array (mut i64)))
    (type $holder (struct (field (mut (ref null $holder))) (field externref)))
    (global $list (mut (ref null $node)) (ref.null $node))

    ;; n garbage cycles of two nodes.
    (func (export "cycles") (param $n i32)
        (local $a (ref null $node)) (local $b (ref null $node))
        (loop $again
            (local.set $a (struct.new $node (ref.null $node) (i32.const 1)))
            (local.set $b (struct.new $node (local.get $a) (i32.const 2)))
            (struct.set $node $next (local.get $a) (local.get $b))
            (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))

    ;; n nodes dropped as soon as they are made.
    (func (export "garbage") (param $n i32)
        (loop $again
            (drop (struct.new $node (ref.null $node) (local.get $n)))
            (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))

    ;; A list of n nodes in a global.
    (func (export "build") (param $n i32)
        (loop $again
            (global.set $list (struct.new $node (global.get $list) (local.get $n)))
            (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
    (func (export "clear") (global.set $list (ref.null $node)))

    ;; Holds a node in a local only while n candidates are buffered by
    ;; compiled code (a field overwritten while something else still holds
    ;; its old value), then reads it.
    (func (export "held") (param $n i32) (result i32)
        (local $kept (ref null $node)) (local $a (ref null $node)) (local $b (ref null $node))
        (local.set $kept (struct.new $node (ref.null $node) (i32.const 4242)))
        (loop $again
            (local.set $a (struct.new $node (ref.null $node) (i32.const 7)))
            (local.set $b (struct.new $node (local.get $a) (i32.const 8)))
            (struct.set $node $next (local.get $a) (local.get $b))
            (struct.set $node $next (local.get $a) (ref.null $node))
            (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
        (struct.get $node $value (local.get $kept)))

    (func (export "big") (param $len i32)
        (drop (array.new_default $bytes (local.get $len))))
    (func (export "huge")
        (drop (array.new_default $longs (i32.const 0x2000_0000))))

    ;; A garbage cycle holding a host value.
    (func (export "hold") (param $e externref)
        (local $h (ref null $holder))
        (local.set $h (struct.new $holder (ref.null $holder) (local.get $e)))
        (struct.set $holder 0 (local.get $h) (local.get $h)))
)"#;

fn setup<T: 'static>(store: &mut Store<T>) -> Instance {
    let object = compile(WAT.as_bytes(), &CompileOptions::default()).expect("kilnc compiles the module");
    let module = kiln_tests::module_from_bytes(store.engine(), &object).expect("the artifact loads");
    let linker = Linker::<T>::new(store.engine());
    linker.instantiate(&mut *store, &module).expect("instantiates")
}

#[test]
fn garbage_cycles_made_by_wasm_are_collected() {
    let mut store = Store::new(&Engine::default(), ());
    let instance = setup(&mut store);
    let cycles = instance.get_typed_func::<i32, ()>(&mut store, "cycles").unwrap();
    cycles.call(&mut store, 10_000).unwrap();
    store.gc().unwrap();
    let stats = store.gc_heap_stats();
    assert_eq!(stats.live_objects, 0, "{stats:?}");
    assert!(stats.cycles_collected >= 20_000, "{stats:?}");
    assert_eq!(stats.objects_freed, 20_000, "{stats:?}");
    assert_eq!(stats.candidates, 0);
}

#[test]
fn allocations_from_the_builtins_keep_the_activations_table_bounded() {
    let mut store = Store::new(&Engine::default(), ());
    let instance = setup(&mut store);
    let garbage = instance.get_typed_func::<i32, ()>(&mut store, "garbage").unwrap();
    garbage.call(&mut store, 200_000).unwrap();
    // Each new object went into the activations table; a full chunk was a
    // GC before the next allocation, so garbage never piled up.
    assert!(store.activations_len() <= ACTIVATIONS_CHUNK_CAPACITY + 1, "{}", store.activations_len());
    let stats = store.gc_heap_stats();
    assert!(stats.live_objects <= ACTIVATIONS_CHUNK_CAPACITY + 1, "{stats:?}");
    assert_eq!(stats.reserved_bytes, 64 << 10, "one chunk served every allocation: {stats:?}");
}

#[test]
fn a_million_long_list_is_freed_without_recursion() {
    let mut store = Store::new(&Engine::default(), ());
    let instance = setup(&mut store);
    let build = instance.get_typed_func::<i32, ()>(&mut store, "build").unwrap();
    let clear = instance.get_typed_func::<(), ()>(&mut store, "clear").unwrap();
    build.call(&mut store, 1_000_000).unwrap();
    store.gc().unwrap();
    assert_eq!(store.gc_heap_stats().live_objects, 1_000_000);
    // The global's drop frees the list from `drop_ref`, on the Wasm stack.
    clear.call(&mut store, ()).unwrap();
    store.gc().unwrap();
    let stats = store.gc_heap_stats();
    assert_eq!(stats.live_objects, 0, "{stats:?}");
    assert_eq!(stats.live_bytes, 0);
}

#[test]
fn objects_held_only_by_frames_survive_collections_from_the_candidate_buffer() {
    let mut store = Store::new(&Engine::default(), ());
    let instance = setup(&mut store);
    let held = instance.get_typed_func::<i32, i32>(&mut store, "held").unwrap();
    // Far past the candidate threshold: the collector runs from
    // `gc_possible_root` while the frame holds `$kept`.
    assert_eq!(held.call(&mut store, 50_000).unwrap(), 4242);
    let stats = store.gc_heap_stats();
    assert!(stats.collections >= 2, "{stats:?}");
    store.gc().unwrap();
    assert_eq!(store.gc_heap_stats().live_objects, 0);
}

#[test]
fn the_heap_limit_traps() {
    let limits = StoreLimits::builder().gc_heap_size(1 << 20).build();
    let mut store = Store::new(&Engine::default(), limits);
    store.limiter(|limits| limits);
    let instance = setup(&mut store);
    let big = instance.get_typed_func::<i32, ()>(&mut store, "big").unwrap();
    big.call(&mut store, 100_000).expect("fits under the limit");
    let err = big.call(&mut store, 2_000_000).unwrap_err();
    assert_eq!(err.trap().and_then(|t| t.code), Some(TrapCode::GC_HEAP_EXHAUSTED), "{err}");
    // What is freed makes room again.
    big.call(&mut store, 500_000).expect("fits again");
    let huge = instance.get_typed_func::<(), ()>(&mut store, "huge").unwrap();
    let err = huge.call(&mut store, ()).unwrap_err();
    assert_eq!(err.trap().and_then(|t| t.code), Some(TrapCode::ALLOCATION_TOO_LARGE), "{err}");
}

/// A host value that counts its drops.
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn host_values_in_garbage_cycles_are_dropped_by_the_collector_or_the_store() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut store = Store::new(&Engine::default(), ());
    let instance = setup(&mut store);
    let hold = instance.get_typed_func::<Option<ExternRef>, ()>(&mut store, "hold").unwrap();
    hold.call(&mut store, Some(ExternRef::new(Tracked(drops.clone())))).unwrap();
    store.gc().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the collector freed the cycle and dropped the value");
    hold.call(&mut store, Some(ExternRef::new(Tracked(drops.clone())))).unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop(store);
    assert_eq!(drops.load(Ordering::SeqCst), 2, "dropping the store frees everything");
}
