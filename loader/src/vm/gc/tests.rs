//! Tests of the heap, freeing and the cycle collector on objects built
//! through the raw API.
#![allow(unsafe_code)]

use std::sync::Arc;

use kiln_format::{
    ArrayType, CompositeType, FieldType, HeapType, RefType, StorageType, StructType, TypeShape, ValType,
};

use crate::engine::Engine;
use crate::vm::abi::ValueSlot;
use crate::vm::store::StoreOpaque;
use crate::ExternRef;

fn field(storage: StorageType) -> FieldType {
    FieldType { storage, mutable: true }
}

fn any_ref() -> StorageType {
    StorageType::Val(ValType::Ref(RefType { nullable: true, heap: HeapType::Any }))
}

fn extern_ref() -> StorageType {
    StorageType::Val(ValType::Ref(RefType { nullable: true, heap: HeapType::Extern }))
}

/// Engine ids of: 0 a node `(struct (field (mut anyref)) (field (mut i32)))`,
/// 1 `(array (mut anyref))`, 2 `(array (mut i8))`, 3 `(struct (field externref))`.
fn types(engine: &Engine) -> Vec<u32> {
    let tys = vec![
        CompositeType::Struct(StructType { fields: vec![field(any_ref()), field(StorageType::Val(ValType::I32))] }),
        CompositeType::Array(ArrayType { element: field(any_ref()) }),
        CompositeType::Array(ArrayType { element: field(StorageType::I8) }),
        CompositeType::Struct(StructType { fields: vec![field(extern_ref())] }),
    ];
    let shapes: Vec<TypeShape> = (0..tys.len() as u32)
        .map(|i| TypeShape { rec_group_start: i, rec_group_len: 1, supertype: None, is_final: true })
        .collect();
    engine.intern_module_types(&tys, &shapes).unwrap()
}

fn word(w: usize) -> ValueSlot {
    ValueSlot::from_u128(w as u128)
}

fn new_node(store: &mut StoreOpaque, ty: u32, next: usize, value: i32) -> usize {
    // SAFETY: `next` is null or an object whose count the test holds.
    unsafe { store.gc_new_struct(ty, &[word(next), ValueSlot::from_u128(value as u32 as u128)]) }.unwrap()
}

fn release(store: &mut StoreOpaque, w: usize) {
    // SAFETY: the test owns the count it gives up.
    unsafe { store.gc_release(w) }.unwrap();
}

#[test]
fn allocation_counts_and_frees() {
    let engine = Engine::default();
    let ids = types(&engine);
    let mut store = StoreOpaque::new(&engine);
    let a = new_node(&mut store, ids[0], 0, 7);
    let b = new_node(&mut store, ids[0], a, -1);
    assert!(store.gc_is_object(a) && store.gc_is_object(b));
    assert!(!store.gc_is_object(a + 16) || store.gc_heap.stats().live_objects > 2);
    assert!(!store.gc_is_object(0) && !store.gc_is_object(kiln_format::gc::i31_ref(3) as usize));
    assert_eq!(store.gc_type_id(b).unwrap(), ids[0]);
    assert_eq!(store.gc_get(b, 1).unwrap().to_u128() as u32 as i32, -1);
    let got = store.gc_get(b, 0).unwrap().pointer();
    assert_eq!(got, a);
    release(&mut store, got);
    assert!(store.gc_get(b, 2).is_err(), "no third field");
    let stats = store.gc_heap.stats();
    assert_eq!(stats.live_objects, 2);
    assert_eq!(stats.live_bytes, 64, "two 32-byte slots");
    release(&mut store, a);
    assert_eq!(store.gc_heap.stats().live_objects, 2, "b still holds a");
    release(&mut store, b);
    // `a` was buffered as a candidate when `b` alone held it: the
    // collector frees it.
    assert_eq!(store.gc_heap.stats().live_objects, 1);
    store.full_gc().unwrap();
    let stats = store.gc_heap.stats();
    assert_eq!((stats.live_objects, stats.live_bytes, stats.objects_freed), (0, 0, 2));
}

#[test]
fn arrays_truncate_packed_elements_and_check_bounds() {
    let engine = Engine::default();
    let ids = types(&engine);
    let mut store = StoreOpaque::new(&engine);
    // SAFETY: numeric values.
    let bytes = unsafe { store.gc_new_array_filled(ids[2], 5, ValueSlot::from_u128(0x1ff)) }.unwrap();
    assert_eq!(store.gc_array_len(bytes).unwrap(), 5);
    assert_eq!(store.gc_get(bytes, 4).unwrap().to_u128(), 0xff, "stored truncated");
    assert!(store.gc_get(bytes, 5).is_err());
    // SAFETY: as above.
    unsafe { store.gc_set(bytes, 0, ValueSlot::from_u128(0x1234)) }.unwrap();
    assert_eq!(store.gc_get(bytes, 0).unwrap().to_u128(), 0x34);
    // Big enough for a chunk of its own.
    // SAFETY: as above.
    let big = unsafe { store.gc_new_array_filled(ids[2], 100_000, ValueSlot::from_u128(1)) }.unwrap();
    assert!(store.gc_is_object(big));
    assert_eq!(store.gc_get(big, 99_999).unwrap().to_u128(), 1);
    release(&mut store, big);
    release(&mut store, bytes);
    assert_eq!(store.gc_heap.stats().live_objects, 0);
    // Too large for u32 bytes.
    // SAFETY: as above.
    let err = unsafe { store.gc_new_array_filled(ids[1], u32::MAX, ValueSlot::ZERO) }.unwrap_err();
    assert_eq!(err.trap().and_then(|t| t.code), Some(kiln_format::TrapCode::ALLOCATION_TOO_LARGE), "{err}");
}

#[test]
fn freed_slots_are_reused() {
    let engine = Engine::default();
    let ids = types(&engine);
    let mut store = StoreOpaque::new(&engine);
    let a = new_node(&mut store, ids[0], 0, 0);
    release(&mut store, a);
    let b = new_node(&mut store, ids[0], 0, 0);
    assert_eq!(a, b, "the free list hands the slot out again");
    release(&mut store, b);
}

#[test]
fn a_long_chain_is_freed_in_constant_stack() {
    let engine = Engine::default();
    let ids = types(&engine);
    let mut store = StoreOpaque::new(&engine);
    let mut head = 0;
    for i in 0..1_000_000 {
        let node = new_node(&mut store, ids[0], head, i);
        if head != 0 {
            release(&mut store, head);
        }
        head = node;
    }
    assert_eq!(store.gc_heap.stats().live_objects, 1_000_000);
    // Freed on a thread with a small stack: a recursive free would
    // overflow it a thousand times over.
    let store = std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(64 << 10)
            .spawn_scoped(s, move || {
                release(&mut store, head);
                store.full_gc().unwrap();
                store
            })
            .unwrap()
            .join()
            .unwrap()
    });
    let stats = store.gc_heap.stats();
    assert_eq!(stats.live_objects, 0);
    assert_eq!(stats.objects_freed, 1_000_000);
}

/// A ring of `n` nodes; returns the node whose count the caller holds.
fn ring(store: &mut StoreOpaque, ty: u32, n: usize) -> usize {
    let first = new_node(store, ty, 0, 0);
    let mut last = first;
    for i in 1..n {
        let node = new_node(store, ty, last, i as i32);
        if last != first {
            release(store, last);
        }
        last = node;
    }
    // Close the ring: first -> last.
    // SAFETY: `last` is live (the caller's count of it is held here).
    unsafe { store.gc_set(first, 0, word(last)) }.unwrap();
    release(store, last);
    first
}

#[test]
fn garbage_cycles_are_collected() {
    let engine = Engine::default();
    let ids = types(&engine);
    let mut store = StoreOpaque::new(&engine);
    // Two objects referencing each other.
    let a = new_node(&mut store, ids[0], 0, 1);
    let b = new_node(&mut store, ids[0], a, 2);
    // SAFETY: both are live.
    unsafe { store.gc_set(a, 0, word(b)) }.unwrap();
    release(&mut store, a);
    release(&mut store, b);
    assert_eq!(store.gc_heap.stats().live_objects, 2, "counting alone cannot free a cycle");
    assert!(store.gc_heap.stats().candidates > 0);
    // A ring of a thousand.
    let r = ring(&mut store, ids[0], 1000);
    release(&mut store, r);
    store.full_gc().unwrap();
    let stats = store.gc_heap.stats();
    assert_eq!(stats.live_objects, 0, "{stats:?}");
    assert_eq!(stats.cycles_collected, 1002);
    assert_eq!(stats.candidates, 0);
    assert!(stats.collections >= 1);
}

#[test]
fn a_cycle_held_from_outside_survives() {
    let engine = Engine::default();
    let ids = types(&engine);
    let mut store = StoreOpaque::new(&engine);
    let held = ring(&mut store, ids[0], 10);
    // A candidate inside the ring: take and drop a count of the second node.
    let second = store.gc_get(held, 0).unwrap().pointer();
    release(&mut store, second);
    assert!(store.gc_heap.stats().candidates > 0);
    store.full_gc().unwrap();
    let stats = store.gc_heap.stats();
    assert_eq!(stats.live_objects, 10, "the held count keeps the ring");
    assert_eq!(stats.cycles_collected, 0);
    // Counts were restored: walking the ring reads every node.
    let mut at = store.gc_get(held, 0).unwrap().pointer();
    for _ in 0..9 {
        let next = store.gc_get(at, 0).unwrap().pointer();
        release(&mut store, at);
        at = next;
    }
    assert_eq!(at, held);
    release(&mut store, at);
    // The ring is garbage once the last outside count goes.
    release(&mut store, held);
    store.full_gc().unwrap();
    assert_eq!(store.gc_heap.stats().live_objects, 0);
}

#[test]
fn a_cycle_member_released_while_buffered_is_freed_once() {
    let engine = Engine::default();
    let ids = types(&engine);
    let mut store = StoreOpaque::new(&engine);
    let a = new_node(&mut store, ids[0], 0, 1);
    let b = new_node(&mut store, ids[0], a, 2);
    release(&mut store, a); // a: held by b only; buffered as a candidate
    assert_eq!(store.gc_heap.stats().candidates, 1);
    release(&mut store, b); // frees b, then a (buffered: left for the collector)
    assert_eq!(store.gc_heap.stats().live_objects, 1);
    store.full_gc().unwrap();
    let stats = store.gc_heap.stats();
    assert_eq!((stats.live_objects, stats.objects_freed), (0, 2));
}

#[test]
fn host_values_held_by_objects_are_dropped() {
    let engine = Engine::default();
    let ids = types(&engine);
    let witness = Arc::new(());
    let mut store = StoreOpaque::new(&engine);
    let host = ExternRef::new(witness.clone());
    // SAFETY: the host value is live.
    let s = unsafe { store.gc_new_struct(ids[3], &[word(host.as_raw() as usize)]) }.unwrap();
    drop(host);
    assert_eq!(Arc::strong_count(&witness), 2, "the struct holds it");
    release(&mut store, s);
    assert_eq!(Arc::strong_count(&witness), 1);
    // A garbage cycle holding a host value, left for the store's drop.
    let a = new_node(&mut store, ids[0], 0, 0);
    let host = ExternRef::new(witness.clone());
    // SAFETY: both live.
    let holder = unsafe { store.gc_new_struct(ids[3], &[word(host.as_raw() as usize)]) }.unwrap();
    drop(host);
    // SAFETY: both live.
    unsafe { store.gc_set(a, 0, word(a)) }.unwrap();
    let _ = holder;
    release(&mut store, a);
    drop(store);
    assert_eq!(Arc::strong_count(&witness), 1, "dropping the store frees everything");
}

#[test]
fn an_exception_that_outlives_its_store_gives_its_objects_up_with_the_heap() {
    use crate::vm::exception::{ExceptionObject, VMTag};
    let engine = Engine::default();
    let ids = types(&engine);
    let witness = Arc::new(());
    let mut store = StoreOpaque::new(&engine);
    let host = ExternRef::new(witness.clone());
    // SAFETY: the host value is live.
    let holder = unsafe { store.gc_new_struct(ids[3], &[word(host.as_raw() as usize)]) }.unwrap();
    drop(host);
    let anyref = ValType::Ref(RefType { nullable: true, heap: HeapType::Any });
    let tag = Arc::new(VMTag { ty: kiln_format::FuncType { params: vec![anyref], results: vec![] }, type_id: 0 });
    // SAFETY: the struct is live (the test holds a count).
    let exn = unsafe { ExceptionObject::allocate(tag.clone(), &store, &[word(holder)]) };
    release(&mut store, holder);
    assert_eq!(store.gc_heap.stats().live_objects, 1, "the exception holds the struct");
    let other = StoreOpaque::new(&engine);
    let object = ExceptionObject::of(&exn).unwrap();
    assert!(crate::vm::exception::exception_values(&other, object).is_err(), "another store reads nothing");
    drop(other);
    drop(store);
    assert_eq!(Arc::strong_count(&witness), 1, "the store's teardown freed every object, the exception's too");
    // Its count goes to the closed queue: nothing reads the freed struct.
    drop(exn);
}

#[test]
fn a_dropped_exception_queues_its_counts_for_the_next_gc() {
    use crate::vm::exception::{ExceptionObject, VMTag};
    let engine = Engine::default();
    let ids = types(&engine);
    let mut store = StoreOpaque::new(&engine);
    let a = new_node(&mut store, ids[0], 0, 0);
    let anyref = ValType::Ref(RefType { nullable: true, heap: HeapType::Any });
    let tag = Arc::new(VMTag { ty: kiln_format::FuncType { params: vec![anyref], results: vec![] }, type_id: 0 });
    // SAFETY: the struct is live (the test holds a count).
    let exn = unsafe { ExceptionObject::allocate(tag, &store, &[word(a)]) };
    release(&mut store, a);
    std::thread::spawn(move || drop(exn)).join().unwrap();
    assert_eq!(store.gc_heap.stats().live_objects, 1, "the drop touched no heap state");
    assert!(store.gc_heap.released().has_released());
    // A full GC: the node is a buffered candidate, whose slot the
    // collector gives back.
    store.full_gc().unwrap();
    assert_eq!(store.gc_heap.stats().live_objects, 0, "the GC dropped the queued count");
    assert!(!store.gc_heap.released().has_released());
}

/// A deterministic pseudo-random sequence (a 64-bit LCG).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % bound
    }
}

#[test]
fn the_collector_frees_exactly_the_unreachable_objects_of_random_graphs() {
    let engine = Engine::default();
    let ids = types(&engine);
    for seed in 0..20u64 {
        let mut rng = Lcg(seed);
        let mut store = StoreOpaque::new(&engine);
        let n = 50 + rng.next(200);
        // Arrays of 3 anyref elements, then random edges between them.
        let objects: Vec<usize> =
            // SAFETY: null elements.
            (0..n).map(|_| unsafe { store.gc_new_array_filled(ids[1], 3, ValueSlot::ZERO) }.unwrap()).collect();
        let mut edges = vec![[usize::MAX; 3]; n];
        for (from, slots) in edges.iter_mut().enumerate() {
            for (slot, edge) in slots.iter_mut().enumerate() {
                if rng.next(3) != 0 {
                    let to = rng.next(n);
                    *edge = to;
                    // SAFETY: both objects are live.
                    unsafe { store.gc_set(objects[from], slot as u32, word(objects[to])) }.unwrap();
                }
            }
        }
        let held: Vec<bool> = (0..n).map(|_| rng.next(8) == 0).collect();
        for (i, &object) in objects.iter().enumerate() {
            if !held[i] {
                release(&mut store, object);
            }
        }
        store.full_gc().unwrap();
        // What the held objects reach must be exactly what is left.
        let mut reachable = held.clone();
        let mut stack: Vec<usize> = (0..n).filter(|&i| held[i]).collect();
        while let Some(i) = stack.pop() {
            for &to in &edges[i] {
                if to != usize::MAX && !reachable[to] {
                    reachable[to] = true;
                    stack.push(to);
                }
            }
        }
        let expected = reachable.iter().filter(|&&r| r).count();
        assert_eq!(store.gc_heap.stats().live_objects, expected, "seed {seed}");
        for i in (0..n).filter(|&i| reachable[i]) {
            for (slot, &to) in edges[i].iter().enumerate() {
                let got = store.gc_get(objects[i], slot as u32).unwrap().pointer();
                assert_eq!(got, if to == usize::MAX { 0 } else { objects[to] }, "seed {seed}");
                release(&mut store, got);
            }
        }
        // A second collection changes nothing: the counts were restored.
        store.full_gc().unwrap();
        assert_eq!(store.gc_heap.stats().live_objects, expected, "seed {seed}");
        for (i, &object) in objects.iter().enumerate() {
            if held[i] {
                release(&mut store, object);
            }
        }
        store.full_gc().unwrap();
        assert_eq!(store.gc_heap.stats().live_objects, 0, "seed {seed}");
    }
}
