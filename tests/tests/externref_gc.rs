//! Deferred reference counting for externref: the GC walks the Wasm stack
//! with the stack maps of the object, and every host value is dropped
//! exactly once, at the right time.
//!
//! Every module is compiled from `tests/wat/` to a real object file by
//! `kiln_compiler::compile_file` and loaded with `Module::from_file`.

mod common;
mod externref_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use externref_common::{compiled, id_of, load, reentrant, tracked, Host, Tracked};
use kiln_loader::{Engine, ExternRef, Module, Val, ACTIVATIONS_CHUNK_CAPACITY};

fn module() -> Module {
    load(&Engine::default(), "externref_gc")
}

#[test]
fn reference_live_across_a_collecting_host_call_survives() {
    let mut host = Host::new(&module());
    let r = tracked(41, &host.drops);
    let id_after_gc = host.typed::<Option<ExternRef>, i32>("id_after_gc").unwrap();
    assert_eq!(id_after_gc.call(&mut host.store, Some(r.clone())).unwrap(), 41);
    let hold = host.typed::<Option<ExternRef>, Option<ExternRef>>("hold_across_gc").unwrap();
    let back = hold.call(&mut host.store, Some(r.clone())).unwrap().expect("not null");
    assert!(ExternRef::ptr_eq(&back, &r));
    assert_eq!(back.downcast_ref::<Tracked>().map(|t| t.id), Some(41));
    let dynamic = host.instance.get_func(&host.store, "hold_across_gc").unwrap();
    let mut results = [Val::ExternRef(None)];
    dynamic.call(&mut host.store, &[Val::ExternRef(Some(r.clone()))], &mut results).unwrap();
    assert!(ExternRef::ptr_eq(results[0].externref().expect("not null"), &r), "dynamic calls too");
    drop(results);
    assert!(host.gcs() >= 3, "the host calls collected");
    drop((r, back));
    host.store.gc().unwrap();
    assert_eq!(host.dropped(), 1);
}

#[test]
fn references_passed_through_locals_and_calls_are_all_freed_by_one_gc() {
    let mut host = Host::new(&module());
    let pass = host.typed::<Option<ExternRef>, i32>("pass").unwrap();
    for i in 0..4096 {
        let r = tracked(i, &host.drops);
        assert_eq!(pass.call(&mut host.store, Some(r)).unwrap(), i as i32);
    }
    // The host collects whenever the chunk is full before a call, so the
    // table stays within one chunk; whatever was not freed yet is in it.
    let pending = host.store.activations_len();
    assert!(pending <= ACTIVATIONS_CHUNK_CAPACITY);
    assert!(host.dropped() + pending >= 4096, "a reference was freed without a GC finding it dead");
    host.store.gc().unwrap();
    assert_eq!(host.dropped(), 4096);
    assert_eq!(host.store.activations_len(), 0);
}

#[test]
fn deep_recursion_keeps_every_live_reference_through_a_gc_at_the_bottom() {
    let mut host = Host::new(&module());
    let deep = host.typed::<i32, i32>("deep").unwrap();
    assert_eq!(deep.call(&mut host.store, 1024).unwrap(), 1024, "every level read its reference back");
    assert_eq!(host.made(), 1024);
    assert_eq!(host.drops_at_gcs(), vec![0], "the GC at the bottom freed none");
    assert_eq!(host.dropped(), 0);
    host.store.gc().unwrap();
    assert_eq!(host.dropped(), 1024);
}

#[test]
fn table_and_global_overwrites_free_the_old_value() {
    let mut host = Host::new(&module());
    let table_set = host.typed::<(i32, Option<ExternRef>), ()>("table_set").unwrap();
    let table_get = host.typed::<i32, Option<ExternRef>>("table_get").unwrap();
    let global_set = host.typed::<Option<ExternRef>, ()>("global_set").unwrap();
    let global_get = host.typed::<(), Option<ExternRef>>("global_get").unwrap();

    table_set.call(&mut host.store, (3, Some(tracked(1, &host.drops)))).unwrap();
    global_set.call(&mut host.store, Some(tracked(2, &host.drops))).unwrap();
    host.store.gc().unwrap();
    assert_eq!(host.dropped(), 0, "the table and the global own them");
    assert_eq!(id_of(table_get.call(&mut host.store, 3).unwrap()), Some(1));
    assert_eq!(id_of(global_get.call(&mut host.store, ()).unwrap()), Some(2));
    host.store.gc().unwrap();

    table_set.call(&mut host.store, (3, Some(tracked(3, &host.drops)))).unwrap();
    assert_eq!(host.dropped(), 1, "compiled code freed the old element at once");
    global_set.call(&mut host.store, None).unwrap();
    assert_eq!(host.dropped(), 2, "and the old global value");
    assert_eq!(global_get.call(&mut host.store, ()).unwrap().map(|_| ()), None);

    // Host-side access keeps the same counts.
    let t = host.instance.get_table(&host.store, "t").unwrap();
    let g = host.instance.get_global(&host.store, "g").unwrap();
    t.set(&mut host.store, 4, Val::ExternRef(Some(tracked(4, &host.drops)))).unwrap();
    g.set(&mut host.store, Val::ExternRef(Some(tracked(5, &host.drops)))).unwrap();
    assert_eq!(id_of(table_get.call(&mut host.store, 4).unwrap()), Some(4));
    assert_eq!(id_of(global_get.call(&mut host.store, ()).unwrap()), Some(5));
    assert_eq!(
        t.get(&host.store, 3).and_then(|v| v.externref().cloned()).map(|r| r.downcast_ref::<Tracked>().unwrap().id),
        Some(3)
    );
    host.store.gc().unwrap();
    assert_eq!(host.dropped(), 2);

    // The store owns the instance (the handles own nothing): dropping it
    // frees everything in its tables and globals.
    let Host { store, drops, .. } = host;
    drop(store);
    assert_eq!(drops.load(Ordering::SeqCst), 5);
}

#[test]
fn bulk_table_operations_keep_counts_exact() {
    let mut host = Host::new(&module());
    let fill = host.typed::<(i32, Option<ExternRef>, i32), ()>("fill").unwrap();
    let copy = host.typed::<(i32, i32, i32), ()>("copy").unwrap();
    let grow = host.typed::<(Option<ExternRef>, i32), i32>("grow").unwrap();
    let init = host.typed::<i32, ()>("init").unwrap();
    let drop_elem = host.typed::<(), ()>("drop_elem").unwrap();
    let a = tracked(1, &host.drops);
    let b = tracked(2, &host.drops);
    let counts = |host: &mut Host| {
        host.store.gc().unwrap();
        (a.strong_count(), b.strong_count())
    };

    fill.call(&mut host.store, (0, Some(a.clone()), 6)).unwrap();
    assert_eq!(counts(&mut host), (7, 1));
    fill.call(&mut host.store, (4, Some(b.clone()), 4)).unwrap();
    assert_eq!(counts(&mut host), (5, 5));
    copy.call(&mut host.store, (8, 2, 4)).unwrap(); // [a a a a b b b b a a b b - - - -]
    assert_eq!(counts(&mut host), (7, 7));
    copy.call(&mut host.store, (1, 5, 6)).unwrap(); // overlapping: [a b b b a a b b a a b b - - - -]
    assert_eq!(counts(&mut host), (6, 8));
    assert!(copy.call(&mut host.store, (10, 0, 7)).is_err(), "out of bounds");
    assert_eq!(counts(&mut host), (6, 8), "a trapping copy changes nothing");
    assert_eq!(grow.call(&mut host.store, (Some(b.clone()), 3)).unwrap(), 16);
    assert_eq!(counts(&mut host), (6, 11));
    init.call(&mut host.store, 0).unwrap(); // three nulls over [a b b]
    assert_eq!(counts(&mut host), (5, 9));
    drop_elem.call(&mut host.store, ()).unwrap();
    assert!(init.call(&mut host.store, 0).is_err(), "a dropped segment has no elements to copy");
    fill.call(&mut host.store, (0, None, 19)).unwrap();
    assert_eq!(counts(&mut host), (1, 1));
    drop((a, b));
    assert_eq!(host.dropped(), 2);
}

#[test]
fn the_same_reference_passed_twice_is_neither_leaked_nor_freed_twice() {
    let mut host = Host::new(&module());
    let two = host.typed::<(Option<ExternRef>, Option<ExternRef>), i32>("two").unwrap();
    let r = tracked(21, &host.drops);
    for _ in 0..3 {
        assert_eq!(two.call(&mut host.store, (Some(r.clone()), Some(r.clone()))).unwrap(), 42);
    }
    host.store.gc().unwrap();
    assert_eq!(r.strong_count(), 1, "only the host's own count is left");
    drop(r);
    assert_eq!(host.dropped(), 1);
    host.store.gc().unwrap();
    assert_eq!(host.dropped(), 1);
}

#[test]
fn a_gc_while_references_move_into_a_call_frees_none_of_them() {
    let mut host = Host::new(&module());
    let table_set = host.typed::<(i32, Option<ExternRef>), ()>("table_set").unwrap();
    let read_t0 = host.typed::<i32, ()>("read_t0").unwrap();
    let three = host.typed::<(Option<ExternRef>, Option<ExternRef>, Option<ExternRef>), i32>("three").unwrap();
    let made_three = host.typed::<i32, i32>("made_three").unwrap();
    table_set.call(&mut host.store, (0, Some(tracked(1000, &host.drops)))).unwrap();

    // Fill the chunk exactly, so the arguments are inserted into a full
    // table and the callee's first `table.get` collects.
    host.store.gc().unwrap();
    read_t0.call(&mut host.store, ACTIVATIONS_CHUNK_CAPACITY as i32).unwrap();
    let before = host.store.gc_count();
    let result = three.call(
        &mut host.store,
        (Some(tracked(1, &host.drops)), Some(tracked(2, &host.drops)), Some(tracked(3, &host.drops))),
    );
    assert_eq!(result.unwrap(), 321);
    assert_eq!(host.store.gc_count(), before + 1, "the callee's barrier collected");
    assert_eq!(host.dropped(), 0);

    // The same with three references returned by the host at once, which
    // only the activations table owns while they move into `three`.
    host.store.gc().unwrap();
    assert_eq!(host.dropped(), 3);
    read_t0.call(&mut host.store, ACTIVATIONS_CHUNK_CAPACITY as i32).unwrap();
    let before = host.store.gc_count();
    assert_eq!(made_three.call(&mut host.store, 4).unwrap(), 4 + 50 + 600);
    assert_eq!(host.store.gc_count(), before + 1);
    assert_eq!(host.dropped(), 3, "none of the three was freed by the GC they lived through");
    host.store.gc().unwrap();
    assert_eq!(host.dropped(), 6);
}

/// A host value's destructor may run Wasm that collects, while the GC or
/// the table write that dropped the value is still on the stack.
///
/// This test used to re-enter the very store that dropped the value,
/// through a weak handle to it. The embedding model rules that out by
/// construction: a destructor runs while the call or GC that dropped the
/// value holds the `&mut Store`, and no handle owns or reaches a store by
/// itself, so nothing a destructor holds can get at that store. What a
/// destructor can still do is run Wasm, and force a GC, in another store
/// that it holds (here behind an `Arc<Mutex<_>>`): a store of the same
/// engine and module, entered on the same thread while the first store is
/// suspended in the `drop_ref` builtin or in the middle of a GC
/// sweep. The nested call shares all that is not per store (the thread's
/// recovery points, the code registry, the module's stack maps), so its GC
/// must walk only its own frames and free exactly its own store's dead
/// value, and the first store's frames and table must come through intact,
/// with every count exact in both stores.
#[test]
fn a_destructor_may_reenter_wasm_and_collect_again() {
    let module = module();
    let mut host = Host::new(&module);
    let table_set = host.typed::<(i32, Option<ExternRef>), ()>("table_set").unwrap();
    let table_get = host.typed::<i32, Option<ExternRef>>("table_get").unwrap();
    let overwrite = host.typed::<(i32, Option<ExternRef>), i32>("overwrite_holding").unwrap();
    let id_after_gc = host.typed::<Option<ExternRef>, i32>("id_after_gc").unwrap();
    table_set.call(&mut host.store, (1, Some(tracked(11, &host.drops)))).unwrap();

    let mut other = Host::new(&module);
    let nested = other.typed::<(), i32>("nested").unwrap();
    let pass = other.typed::<Option<ExternRef>, i32>("pass").unwrap();
    other
        .typed::<(i32, Option<ExternRef>), ()>("table_set")
        .unwrap()
        .call(&mut other.store, (1, Some(tracked(11, &other.drops))))
        .unwrap();
    let other = Arc::new(Mutex::new(other));
    let reentries = Arc::new(AtomicUsize::new(0));
    let hook: Arc<dyn Fn() + Send + Sync> = {
        let (other, reentries) = (other.clone(), reentries.clone());
        Arc::new(move || {
            reentries.fetch_add(1, Ordering::SeqCst);
            let mut other = other.lock().unwrap();
            let other = &mut *other;
            // Left to the other store's activations table alone, for its
            // nested GC to free.
            let dropped = other.dropped();
            assert_eq!(pass.call(&mut other.store, Some(tracked(500, &other.drops))).unwrap(), 500);
            assert_eq!(nested.call(&mut other.store, ()).unwrap(), 11, "the nested call sees the table intact");
            assert_eq!(other.dropped(), dropped + 1, "the nested GC freed its own store's dead value");
        })
    };
    let other_gcs = || other.lock().unwrap().gcs();

    // Freed by compiled code (`table.set` dropped the last count).
    table_set.call(&mut host.store, (0, Some(reentrant(90, &host.drops, &hook)))).unwrap();
    host.store.gc().unwrap();
    let gcs = other_gcs();
    assert_eq!(
        overwrite.call(&mut host.store, (0, None)).unwrap(),
        77,
        "the reference held across the nested GC survived"
    );
    assert_eq!(reentries.load(Ordering::SeqCst), 1);
    assert_eq!(other_gcs(), gcs + 1, "the destructor's Wasm collected");
    assert_eq!(host.dropped(), 1);

    // Freed by a GC, whose sweep runs the destructor. The first GC frees
    // 77, which no frame holds any more; the second the victim.
    let keep = tracked(12, &host.drops);
    let victim = reentrant(91, &host.drops, &hook);
    assert_eq!(id_after_gc.call(&mut host.store, Some(victim)).unwrap(), 91);
    assert_eq!(host.dropped(), 2);
    assert_eq!(id_after_gc.call(&mut host.store, Some(keep.clone())).unwrap(), 12);
    assert_eq!(reentries.load(Ordering::SeqCst), 2);
    assert_eq!(host.dropped(), 3);
    host.store.gc().unwrap();
    assert_eq!(host.dropped(), 3, "the host still holds `keep`");
    drop(keep);
    assert_eq!(host.dropped(), 4);

    // And by the host's own GC, whose sweep runs the destructor with no
    // Wasm of this store on the stack.
    let pass_here = host.typed::<Option<ExternRef>, i32>("pass").unwrap();
    assert_eq!(pass_here.call(&mut host.store, Some(reentrant(92, &host.drops, &hook))).unwrap(), 92);
    assert_eq!(host.dropped(), 4, "the activations table still holds it");
    host.store.gc().unwrap();
    assert_eq!(reentries.load(Ordering::SeqCst), 3);
    assert_eq!(host.dropped(), 5);

    // Both tables came through intact, and each store freed exactly its own values.
    assert_eq!(id_of(table_get.call(&mut host.store, 1).unwrap()), Some(11));
    let mut other = other.lock().unwrap();
    assert_eq!((other.gcs(), other.dropped()), (3, 3), "one nested GC and one freed value per destructor run");
    other.store.gc().unwrap();
    assert_eq!(other.dropped(), 3);
    drop(other);
    drop(host);
    assert_eq!(Arc::strong_count(&hook), 1, "every reentrant value is gone");
}

#[test]
fn a_function_with_no_live_references_never_gets_its_neighbours_stack_map() {
    let module = module();
    let code = module.code().clone();
    let index_of = |name: &str| {
        let export = module.exports().iter().find(|e| e.name == name).expect("exported");
        export.index
    };
    let (neighbour, plain) = (index_of("neighbour"), index_of("plain"));
    let text = code.text() as usize;
    let maps: Vec<_> = code.stack_map_table().iter().collect();
    assert!(maps.iter().any(|m| code.func_at(text + m.return_offset as usize - 1) == Some(neighbour)));
    assert!(
        maps.iter().all(|m| code.func_at(text + m.return_offset as usize - 1) != Some(plain)),
        "plain holds no reference at any call"
    );
    for m in maps {
        let pc = text + m.return_offset as usize;
        assert_eq!(code.stack_map_at(pc).map(|f| f.return_offset), Some(m.return_offset));
        assert!(code.stack_map_at(pc + 1).is_none(), "lookups are exact");
        assert!(code.stack_map_at(pc - 1).is_none(), "lookups are exact");
    }

    // At run time: `plain` collects in the stack space `neighbour` just
    // left, where a stale copy of its reference still lies.
    let mut host = Host::new(&module);
    let run = host.typed::<(), i32>("neighbour_then_plain").unwrap();
    assert_eq!(run.call(&mut host.store, ()).unwrap(), 5);
    assert_eq!(host.drops_at_gcs(), vec![0, 1], "plain's GC freed the reference neighbour no longer holds");
}

#[test]
fn a_trap_through_frames_holding_references_leaks_nothing_after_the_next_gc() {
    let mut host = Host::new(&module());
    let trap_deep = host.typed::<i32, i32>("trap_deep").unwrap();
    let error = trap_deep.call(&mut host.store, 20).unwrap_err();
    assert!(error.to_string().contains("unreachable"), "{error}");
    assert_eq!(host.made(), 21);
    host.store.gc().unwrap();
    assert_eq!(host.dropped(), 21);
    let deep = host.typed::<i32, i32>("deep").unwrap();
    assert_eq!(deep.call(&mut host.store, 10).unwrap(), 10, "the store still works");
    host.store.gc().unwrap();
    assert_eq!(host.dropped(), 31);
}

/// Operations of [`stress_random_operations_keep_drop_counts_exact`];
/// `make valgrind` runs that test under valgrind.
const STRESS_OPERATIONS: usize = 1_000_000;

/// A tiny deterministic PRNG (xorshift64*), so every run does the same.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The host's view of what the stress module holds.
struct Model {
    table: Vec<Option<u32>>,
    global: Option<u32>,
    held: Vec<ExternRef>,
    created: u32,
}

impl Model {
    /// A fresh reference, one the host holds, or null.
    fn pick(&mut self, rng: &mut Rng, host: &Host) -> (Option<ExternRef>, Option<u32>) {
        match rng.below(10) {
            0..=3 => {
                self.created += 1;
                (Some(tracked(self.created, &host.drops)), Some(self.created))
            }
            4..=6 if !self.held.is_empty() => {
                let r = self.held[rng.below(self.held.len())].clone();
                let id = r.downcast_ref::<Tracked>().map(|t| t.id);
                (Some(r), id)
            }
            _ => (None, None),
        }
    }

    fn hold(&mut self, rng: &mut Rng, r: ExternRef) {
        if self.held.len() < 16 {
            self.held.push(r);
        } else {
            let i = rng.below(self.held.len());
            self.held[i] = r;
        }
    }

    /// Distinct references that something the host can see still owns.
    fn reachable(&self) -> usize {
        let mut ids: std::collections::HashSet<u32> = self.table.iter().flatten().copied().collect();
        ids.extend(self.global);
        ids.extend(self.held.iter().filter_map(|r| r.downcast_ref::<Tracked>().map(|t| t.id)));
        ids.len()
    }
}

fn id_or_minus_one(id: Option<u32>) -> i32 {
    id.map_or(-1, |id| id as i32)
}

#[test]
fn stress_random_operations_keep_drop_counts_exact() {
    let mut host = Host::new(&load(&Engine::default(), "externref_stress"));
    let set = host.typed::<(i32, Option<ExternRef>), ()>("set").unwrap();
    let get_id = host.typed::<i32, i32>("get_id").unwrap();
    let get = host.typed::<i32, Option<ExternRef>>("get").unwrap();
    let swap = host.typed::<(i32, i32), ()>("swap").unwrap();
    let swap_global = host.typed::<i32, ()>("swap_global").unwrap();
    let set_global = host.typed::<Option<ExternRef>, ()>("set_global").unwrap();
    let global_id = host.typed::<(), i32>("global_id").unwrap();
    let sum = host.typed::<i32, i32>("sum").unwrap();
    let copy_deep = host.typed::<(i32, i32, i32), ()>("copy_deep").unwrap();

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut model = Model { table: vec![None; 64], global: None, held: Vec::new(), created: 0 };
    let gcs_at_start = host.store.gc_count();
    let mut host_gcs = 0;
    for _ in 0..STRESS_OPERATIONS {
        let (a, b) = (rng.below(64), rng.below(64));
        match rng.below(100) {
            0..=19 => {
                let (r, id) = model.pick(&mut rng, &host);
                set.call(&mut host.store, (a as i32, r)).unwrap();
                model.table[a] = id;
            }
            20..=34 => assert_eq!(get_id.call(&mut host.store, a as i32).unwrap(), id_or_minus_one(model.table[a])),
            35..=44 => {
                let r = get.call(&mut host.store, a as i32).unwrap();
                assert_eq!(id_of(r.clone()), model.table[a]);
                if let Some(r) = r {
                    model.hold(&mut rng, r);
                }
            }
            45..=59 => {
                swap.call(&mut host.store, (a as i32, b as i32)).unwrap();
                model.table.swap(a, b);
            }
            60..=69 => {
                swap_global.call(&mut host.store, a as i32).unwrap();
                std::mem::swap(&mut model.global, &mut model.table[a]);
            }
            70..=74 => {
                let (r, id) = model.pick(&mut rng, &host);
                set_global.call(&mut host.store, r).unwrap();
                model.global = id;
            }
            75..=79 => assert_eq!(global_id.call(&mut host.store, ()).unwrap(), id_or_minus_one(model.global)),
            80..=87 => {
                let n = rng.below(65);
                let expected: i32 = model.table[..n].iter().map(|&id| id_or_minus_one(id)).sum();
                assert_eq!(sum.call(&mut host.store, n as i32).unwrap(), expected);
            }
            88..=95 => {
                copy_deep.call(&mut host.store, (a as i32, b as i32, rng.below(8) as i32)).unwrap();
                model.table[b] = model.table[a];
            }
            96..=98 => {
                if !model.held.is_empty() {
                    let i = rng.below(model.held.len());
                    model.held.swap_remove(i);
                }
            }
            _ => {
                // With no Wasm running, a GC leaves exactly what the host
                // can still reach alive.
                host.store.gc().unwrap();
                host_gcs += 1;
                assert_eq!(model.created as usize - host.dropped(), model.reachable());
            }
        }
    }
    let chunk_gcs = host.store.gc_count() - gcs_at_start - host_gcs;
    assert!(chunk_gcs > 100, "only {chunk_gcs} GCs at chunk fills");

    for i in 0..64 {
        set.call(&mut host.store, (i, None)).unwrap();
    }
    set_global.call(&mut host.store, None).unwrap();
    model.held.clear();
    host.store.gc().unwrap();
    assert_eq!(host.dropped(), model.created as usize, "every host value dropped exactly once");
    assert_eq!(host.store.activations_len(), 0);
}

#[test]
fn kiln_inspect_lists_the_stack_maps_of_each_function() {
    let object = compiled("externref_gc");
    let output = std::process::Command::new(common::workspace_binary("kiln"))
        .arg("inspect")
        .arg("--json")
        .arg(&object)
        .output()
        .expect("kiln runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout);
    let module = kiln_tests::module_from_file(&Engine::default(), &object).unwrap();
    let code = module.code();
    for m in code.stack_map_table().iter() {
        let entry = format!("\"return_offset\": {},", m.return_offset);
        assert!(text.contains(&entry), "no {entry} in {text}");
    }
    // Each function lists its own: `plain` has none, `neighbour` one.
    let functions = &text[text.find("\"functions\"").expect("a functions field")..];
    // Keys are sorted: a function's `stack_maps` lie between its `name` and its `type`.
    let function = |name: &str| {
        let at = functions.find(&format!("\"name\": \"{name}\"")).unwrap_or_else(|| panic!("no function {name}"));
        let end = at + functions[at..].find("\"type\"").expect("type field");
        functions[at..end].to_string()
    };
    assert!(function("plain").contains("\"stack_maps\": []"), "{}", function("plain"));
    assert_eq!(function("neighbour").matches("\"frame_size\"").count(), 1, "{}", function("neighbour"));
}
