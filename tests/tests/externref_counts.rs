//! Exact drop counts on every path that overwrites an externref table
//! element or global, and host destructors that panic on each of them and
//! in the GC: the call that ran the destructor returns an error (never an
//! abort), every other value is still dropped exactly once, and the store
//! goes on working.
//!
//! The module is `tests/wat/externref_counts.wat`, compiled to a real
//! object file by `kiln_compiler::compile_file` and loaded with
//! `Module::from_file`.

mod common;
mod externref_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use externref_common::{id_of, load, panicking, tracked, Host};
use kiln_loader::{Engine, Error, ExternRef, Global, Table, TypedFunc, Val, ACTIVATIONS_CHUNK_CAPACITY};

/// The drops of one host value (or a few).
fn counter() -> Arc<AtomicUsize> {
    Arc::default()
}

fn count(drops: &Arc<AtomicUsize>) -> usize {
    drops.load(Ordering::SeqCst)
}

/// The error of a call that ran a panicking host destructor.
#[track_caller]
fn assert_destructor_panicked<T: std::fmt::Debug>(result: Result<T, Error>) {
    match result {
        Err(error @ Error::Host(_)) => {
            assert!(error.to_string().contains("destructor panicked"), "{error}")
        }
        other => panic!("expected the destructor's panic as a host error, got {other:?}"),
    }
}

/// A store with one instance of `externref_counts.wat`, and its exports.
struct Counts {
    host: Host,
    table: Table,
    global: Global,
    set: TypedFunc<(i32, Option<ExternRef>), ()>,
    get: TypedFunc<i32, Option<ExternRef>>,
    global_set: TypedFunc<Option<ExternRef>, ()>,
    global_get: TypedFunc<(), Option<ExternRef>>,
    fill: TypedFunc<(i32, Option<ExternRef>, i32), ()>,
    copy: TypedFunc<(i32, i32, i32), ()>,
    init: TypedFunc<(i32, i32, i32), ()>,
    hold: TypedFunc<Option<ExternRef>, ()>,
    read: TypedFunc<(i32, i32), ()>,
    collect: TypedFunc<(), ()>,
}

const TABLE_SIZE: i32 = 8;

impl Counts {
    fn new() -> Counts {
        let host = Host::new(&load(&Engine::default(), "externref_counts"));
        Counts {
            table: host.instance.get_table(&host.store, "t").unwrap(),
            global: host.instance.get_global(&host.store, "g").unwrap(),
            set: host.typed("set").unwrap(),
            get: host.typed("get").unwrap(),
            global_set: host.typed("global_set").unwrap(),
            global_get: host.typed("global_get").unwrap(),
            fill: host.typed("fill").unwrap(),
            copy: host.typed("copy").unwrap(),
            init: host.typed("init").unwrap(),
            hold: host.typed("hold").unwrap(),
            read: host.typed("read").unwrap(),
            collect: host.typed("collect").unwrap(),
            host,
        }
    }

    /// Stores `r` at `t[i]` from Wasm, then collects, so that the table
    /// owns the only count of `r` (the caller gives its own up).
    fn put(&mut self, i: i32, r: ExternRef) {
        self.set.call(&mut self.host.store, (i, Some(r))).unwrap();
        self.gc();
    }

    /// Makes the global own the only count of `r`.
    fn put_global(&mut self, r: ExternRef) {
        self.global_set.call(&mut self.host.store, Some(r)).unwrap();
        self.gc();
    }

    fn gc(&mut self) {
        self.host.store.gc().expect("no destructor panics");
    }

    /// The ids of `t[0..n]`, read back by Wasm and downcast by the host.
    fn ids(&mut self, n: i32) -> Vec<Option<u32>> {
        (0..n).map(|i| id_of(self.get.call(&mut self.host.store, i).unwrap())).collect()
    }

    /// The counts of `t[i]`'s reference (none for null) after a GC with no
    /// Wasm running, but for the one this read takes: for a reference the
    /// host does not hold, the number of elements holding it.
    fn held(&mut self, i: u32) -> usize {
        self.gc();
        let element = self.table.get(&self.host.store, i).expect("in bounds");
        element.externref().map_or(0, |r| r.strong_count() - 1)
    }

    /// Empties the table and the global and collects.
    fn clear(&mut self) {
        self.fill.call(&mut self.host.store, (0, None, TABLE_SIZE)).unwrap();
        self.global_set.call(&mut self.host.store, None).unwrap();
        self.gc();
    }

    /// Checks that the store still works after a failed call: a new value
    /// goes in and out of the table and is dropped once.
    #[track_caller]
    fn assert_still_works(&mut self) {
        let drops = counter();
        self.set.call(&mut self.host.store, (7, Some(tracked(70, &drops)))).unwrap();
        assert_eq!(id_of(self.get.call(&mut self.host.store, 7).unwrap()), Some(70));
        self.set.call(&mut self.host.store, (7, None)).unwrap();
        self.gc();
        assert_eq!(count(&drops), 1, "the store works after the error");
    }
}

// Overlapping copies within one table: each new count is taken before any
// old one is dropped, so a reference that the copy both overwrites and
// moves survives, even when only the table holds it.

#[test]
fn an_overlapping_copy_forward_keeps_both_references() {
    let mut t = Counts::new();
    let (x, y) = (counter(), counter());
    t.put(0, tracked(1, &x));
    t.put(1, tracked(2, &y));
    assert_eq!(t.ids(3), [Some(1), Some(2), None]);
    t.gc();

    // [X, Y, null] -> [X, X, Y]: Y's count at slot 1 is dropped after the
    // copy took the one for slot 2.
    t.copy.call(&mut t.host.store, (1, 0, 2)).unwrap();
    assert_eq!((count(&x), count(&y)), (0, 0), "nothing was freed");
    assert_eq!(t.ids(3), [Some(1), Some(1), Some(2)]);
    assert_eq!((t.held(0), t.held(2)), (2, 1), "X in two elements, Y in one");

    t.clear();
    assert_eq!((count(&x), count(&y)), (1, 1));
    t.assert_still_works();
}

#[test]
fn an_overlapping_copy_backward_frees_only_the_overwritten_reference() {
    let mut t = Counts::new();
    let (x, y) = (counter(), counter());
    t.put(0, tracked(1, &x));
    t.put(1, tracked(2, &y));

    // [X, Y, null] -> [Y, null, null]: X is freed, and Y, overwritten at
    // slot 1 after it was copied to slot 0, survives.
    t.copy.call(&mut t.host.store, (0, 1, 2)).unwrap();
    assert_eq!((count(&x), count(&y)), (1, 0), "exactly X was freed, by the copy itself");
    assert_eq!(t.ids(3), [Some(2), None, None]);
    assert_eq!(t.held(0), 1);

    t.clear();
    assert_eq!((count(&x), count(&y)), (1, 1));
    t.assert_still_works();
}

// A host destructor that panics, on each path that can run it. In each
// case t[0] holds P (whose destructor panics) and t[1] and t[2] hold A and
// B, each owned by the table alone.

struct Panicking {
    t: Counts,
    p: Arc<AtomicUsize>,
    a: Arc<AtomicUsize>,
    b: Arc<AtomicUsize>,
}

fn panicking_first() -> Panicking {
    let mut t = Counts::new();
    let (p, a, b) = (counter(), counter(), counter());
    t.put(0, panicking(1, &p));
    t.put(1, tracked(2, &a));
    t.put(2, tracked(3, &b));
    Panicking { t, p, a, b }
}

impl Panicking {
    fn drops(&self) -> (usize, usize, usize) {
        (count(&self.p), count(&self.a), count(&self.b))
    }

    /// Empties the store, checks that A and B were each dropped once (and P
    /// never again), and that the store still works.
    #[track_caller]
    fn assert_exact_after_clearing(mut self) {
        self.t.clear();
        assert_eq!(self.drops(), (1, 1, 1), "every value dropped exactly once");
        self.t.assert_still_works();
    }
}

#[test]
fn a_panicking_destructor_run_by_an_inline_table_set_is_an_error_of_the_call() {
    let mut s = panicking_first();
    // Compiled code drops P's last count and frees it through `drop_ref`.
    assert_destructor_panicked(s.t.set.call(&mut s.t.host.store, (0, None)));
    assert_eq!(s.drops(), (1, 0, 0));
    assert_eq!(s.t.ids(3), [None, Some(2), Some(3)], "the write happened before the drop");
    s.assert_exact_after_clearing();
}

#[test]
fn a_panicking_destructor_run_by_an_inline_global_set_is_an_error_of_the_call() {
    let mut t = Counts::new();
    let (p, a) = (counter(), counter());
    t.put_global(panicking(1, &p));
    assert_destructor_panicked(t.global_set.call(&mut t.host.store, Some(tracked(2, &a))));
    assert_eq!((count(&p), count(&a)), (1, 0));
    let now = t.global_get.call(&mut t.host.store, ()).unwrap();
    assert_eq!(id_of(now), Some(2), "the write happened before the drop");
    t.clear();
    assert_eq!((count(&p), count(&a)), (1, 1));
    t.assert_still_works();
}

#[test]
fn a_panicking_destructor_run_by_table_fill_is_an_error_of_the_call() {
    let mut s = panicking_first();
    assert_destructor_panicked(s.t.fill.call(&mut s.t.host.store, (0, None, 3)));
    assert_eq!(s.drops(), (1, 1, 1), "the fill dropped every old element once");
    assert_eq!(s.t.ids(3), [None, None, None]);
    s.assert_exact_after_clearing();
}

#[test]
fn two_panicking_destructors_in_one_fill_are_one_error_and_every_value_is_dropped() {
    let mut t = Counts::new();
    let (p, a) = (counter(), counter());
    t.put(0, panicking(1, &p));
    t.put(1, tracked(2, &a));
    t.put(2, panicking(3, &p));
    assert_destructor_panicked(t.fill.call(&mut t.host.store, (0, None, 3)));
    assert_eq!((count(&p), count(&a)), (2, 1));
    t.clear();
    assert_eq!((count(&p), count(&a)), (2, 1));
    t.assert_still_works();
}

#[test]
fn a_panicking_destructor_run_by_table_copy_is_an_error_of_the_call() {
    let mut s = panicking_first();
    // [P, A, B] -> [A, B, B], overlapping: only P is freed.
    assert_destructor_panicked(s.t.copy.call(&mut s.t.host.store, (0, 1, 2)));
    assert_eq!(s.drops(), (1, 0, 0));
    assert_eq!(s.t.ids(3), [Some(2), Some(3), Some(3)]);
    assert_eq!((s.t.held(0), s.t.held(1)), (1, 2), "A once, B twice");
    s.assert_exact_after_clearing();
}

#[test]
fn a_panicking_destructor_run_by_table_init_is_an_error_of_the_call() {
    let mut s = panicking_first();
    // Externref segments hold only nulls and globals' values: one null over P.
    assert_destructor_panicked(s.t.init.call(&mut s.t.host.store, (0, 0, 1)));
    assert_eq!(s.drops(), (1, 0, 0));
    assert_eq!(s.t.ids(3), [None, Some(2), Some(3)]);
    s.assert_exact_after_clearing();
}

#[test]
fn a_panicking_destructor_run_by_the_host_table_set_is_an_error() {
    let mut s = panicking_first();
    let table = s.t.table;
    assert_destructor_panicked(table.set(&mut s.t.host.store, 0, Val::ExternRef(None)));
    assert_eq!(s.drops(), (1, 0, 0));
    assert_eq!(s.t.ids(3), [None, Some(2), Some(3)], "the write happened before the drop");
    s.assert_exact_after_clearing();
}

#[test]
fn a_panicking_destructor_run_by_the_host_global_set_is_an_error() {
    let mut t = Counts::new();
    let (p, a) = (counter(), counter());
    t.put_global(panicking(1, &p));
    let global = t.global;
    assert_destructor_panicked(global.set(&mut t.host.store, Val::ExternRef(Some(tracked(2, &a)))));
    assert_eq!((count(&p), count(&a)), (1, 0));
    assert_eq!(id_of(global.get(&t.host.store).externref().cloned()), Some(2), "the write happened before the drop");
    t.clear();
    assert_eq!((count(&p), count(&a)), (1, 1));
    t.assert_still_works();
}

// The GC: P and A are held by the activations table alone (Wasm was passed
// them and returned), so the next GC drops both.

/// Passes P and A to Wasm, which keeps neither, with `k` (held by the host
/// too) in t[0].
fn held_by_activations_only() -> (Counts, Arc<AtomicUsize>, Arc<AtomicUsize>, ExternRef, Arc<AtomicUsize>) {
    let mut t = Counts::new();
    let (p, a, k_drops) = (counter(), counter(), counter());
    let k = tracked(3, &k_drops);
    t.put(0, k.clone());
    t.hold.call(&mut t.host.store, Some(panicking(1, &p))).unwrap();
    t.hold.call(&mut t.host.store, Some(tracked(2, &a))).unwrap();
    assert_eq!(t.host.store.activations_len(), 2);
    assert_eq!((count(&p), count(&a)), (0, 0));
    (t, p, a, k, k_drops)
}

#[test]
fn a_panicking_destructor_run_by_a_host_gc_is_its_error() {
    let (mut t, p, a, k, k_drops) = held_by_activations_only();
    assert_destructor_panicked(t.host.store.gc());
    assert_eq!((count(&p), count(&a), count(&k_drops)), (1, 1, 0), "the sweep dropped every dead count");
    assert_eq!(t.host.store.activations_len(), 0);
    let stats = t.host.store.gc().expect("the next GC finds nothing to drop");
    assert_eq!(stats.released, 0);
    assert_eq!(t.ids(1), [Some(3)]);
    t.gc();
    assert_eq!(k.strong_count(), 2, "the table's and the host's");
    t.clear();
    drop(k);
    assert_eq!((count(&p), count(&a), count(&k_drops)), (1, 1, 1));
    t.assert_still_works();
}

#[test]
fn a_panicking_destructor_run_by_a_gc_of_a_host_function_is_an_error_of_the_call() {
    let (mut t, p, a, k, k_drops) = held_by_activations_only();
    assert_destructor_panicked(t.collect.call(&mut t.host.store, ()));
    assert_eq!((count(&p), count(&a), count(&k_drops)), (1, 1, 0));
    assert_eq!(t.host.gcs(), 0, "the host function failed at its GC");
    t.collect.call(&mut t.host.store, ()).unwrap();
    assert_eq!(t.host.gcs(), 1);
    assert_eq!(k.strong_count(), 2);
    t.clear();
    drop(k);
    assert_eq!((count(&p), count(&a), count(&k_drops)), (1, 1, 1));
    t.assert_still_works();
}

#[test]
fn a_panicking_destructor_run_by_a_gc_at_a_chunk_fill_is_an_error_of_the_wasm_call() {
    let (mut t, p, a, k, k_drops) = held_by_activations_only();
    // The chunk holds P and A: the reads fill the rest, and the first read
    // that finds it full collects in the barrier's slow path.
    let before = t.host.store.gc_count();
    let reads = ACTIVATIONS_CHUNK_CAPACITY as i32;
    assert_destructor_panicked(t.read.call(&mut t.host.store, (0, reads)));
    assert_eq!(t.host.store.gc_count(), before + 1, "the barrier collected once");
    assert_eq!((count(&p), count(&a), count(&k_drops)), (1, 1, 0));
    // The reference being inserted went into the table before the error.
    assert_eq!(t.host.store.activations_len(), 1);
    assert_eq!(k.strong_count(), 3, "the table's, the host's and the insert's");

    t.read.call(&mut t.host.store, (0, reads)).unwrap();
    t.gc();
    assert_eq!(k.strong_count(), 2, "every read's count was dropped");
    t.clear();
    drop(k);
    assert_eq!((count(&p), count(&a), count(&k_drops)), (1, 1, 1));
    t.assert_still_works();
}

#[test]
fn a_store_dropped_with_panicking_values_drops_each_once_without_aborting() {
    let mut s = panicking_first();
    let q = counter();
    s.t.put_global(panicking(4, &q));
    s.t.hold.call(&mut s.t.host.store, Some(panicking(5, &q))).unwrap();
    let Panicking { t, p, a, b } = s;
    drop(t);
    assert_eq!((count(&p), count(&a), count(&b), count(&q)), (1, 1, 1, 2));
}
