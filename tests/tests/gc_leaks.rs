//! Leak freedom of GC objects: deferred reference counting frees acyclic
//! garbage, trial deletion frees cyclic garbage, and neither frees what is
//! still reachable. Each test checks the heap's own count of live objects
//! against what it must be.

mod common;
mod externref_common;

use kiln_loader::{Caller, Engine, Error, Instance, Linker, Module, Store, TypedFunc, WasmParams, WasmResults};
use kiln_tests::differential::SplitMix64;

struct Host {
    store: Store<()>,
    instance: Instance,
}

impl Host {
    fn new() -> Host {
        let engine = Engine::default();
        let module: Module = externref_common::load(&engine, "gc_leaks");
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap("host", "gc", |mut caller: Caller<'_, ()>| -> Result<(), Error> {
                caller.gc()?;
                Ok(())
            })
            .unwrap();
        let instance = linker.instantiate(&mut store, &module).unwrap();
        Host { store, instance }
    }

    fn typed<P: WasmParams, R: WasmResults>(&mut self, name: &str) -> TypedFunc<P, R> {
        self.instance.get_typed_func::<P, R>(&self.store, name).unwrap()
    }

    fn live_after_gc(&mut self) -> usize {
        self.store.gc().unwrap();
        self.store.gc_heap_stats().live_objects
    }
}

#[test]
fn garbage_cycles_and_a_long_ring_are_all_collected() {
    let mut host = Host::new();
    let make_pairs = host.typed::<i32, ()>("make_pairs");
    let make_ring = host.typed::<i32, ()>("make_ring");
    let drop_globals = host.typed::<(), ()>("drop_globals");
    make_pairs.call(&mut host.store, 100_000).unwrap();
    make_ring.call(&mut host.store, 1_000_000).unwrap();
    let before = host.store.gc_heap_stats();
    assert!(before.live_objects >= 1_000_000, "the ring is alive while global 0 holds it: {before:?}");
    drop_globals.call(&mut host.store, ()).unwrap();
    assert_eq!(host.live_after_gc(), 0, "{:?}", host.store.gc_heap_stats());
    let after = host.store.gc_heap_stats();
    assert!(after.cycles_collected > 0, "{after:?}");
    assert_eq!(after.live_bytes, 0, "{after:?}");
}

#[test]
fn a_list_of_a_million_nodes_is_freed_in_constant_stack() {
    // A recursive free would need tens of megabytes of stack here.
    let run = std::thread::Builder::new().stack_size(1 << 20).spawn(|| {
        let mut host = Host::new();
        host.store.set_max_wasm_stack(256 << 10);
        let make_list = host.typed::<i32, ()>("make_list");
        let drop_globals = host.typed::<(), ()>("drop_globals");
        make_list.call(&mut host.store, 1_000_000).unwrap();
        assert!(host.store.gc_heap_stats().live_objects >= 1_000_000);
        host.store.gc().unwrap();
        // The global held the head's only count: dropping it frees the list at once.
        drop_globals.call(&mut host.store, ()).unwrap();
        assert_eq!(host.store.gc_heap_stats().live_objects, 0);
        assert_eq!(host.live_after_gc(), 0);
    });
    run.unwrap().join().expect("freeing the list did not overflow the stack");
}

/// The heap as the host knows it: which node each table slot and global
/// holds, and each node's two fields.
struct Model {
    table: Vec<Option<usize>>,
    globals: [Option<usize>; 2],
    fields: Vec<[Option<usize>; 2]>,
}

impl Model {
    fn reachable(&self) -> usize {
        let mut seen = vec![false; self.fields.len()];
        let mut work: Vec<usize> = self.table.iter().chain(&self.globals).flatten().copied().collect();
        let mut count = 0;
        while let Some(n) = work.pop() {
            if std::mem::replace(&mut seen[n], true) {
                continue;
            }
            count += 1;
            work.extend(self.fields[n].iter().flatten());
        }
        count
    }
}

fn id_or_minus_one(node: Option<usize>) -> i32 {
    node.map_or(-1, |n| n as i32)
}

/// Seeded random operations that allocate, make and break cycles through
/// fields, move references through the table and globals, and hold them
/// in a Wasm frame across a collection; the heap's live count must equal
/// the model's count of reachable nodes at every check.
fn random_operations(operations: u64, check_every: u64) {
    let mut host = Host::new();
    let alloc = host.typed::<(i32, i32), ()>("alloc");
    let clear = host.typed::<i32, ()>("clear");
    let link = host.typed::<(i32, i32, i32), ()>("link");
    let follow = host.typed::<(i32, i32, i32), ()>("follow");
    let global_set = host.typed::<(i32, i32), ()>("global_set");
    let global_get = host.typed::<(i32, i32), ()>("global_get");
    let hold = host.typed::<i32, i32>("hold_across_gc");
    let id = host.typed::<i32, i32>("id");
    let mut rng = SplitMix64::new(0x6b69_6c6e_6763);
    let mut model = Model { table: vec![None; 64], globals: [None; 2], fields: Vec::new() };
    for step in 1..=operations {
        let (a, b) = (rng.below(64) as usize, rng.below(64) as usize);
        let (slot, other) = (a as i32, b as i32);
        let field = rng.below(2) as usize;
        match rng.below(100) {
            0..=24 => {
                let node = model.fields.len();
                model.fields.push([None, None]);
                alloc.call(&mut host.store, (slot, node as i32)).unwrap();
                model.table[a] = Some(node);
            }
            25..=34 => {
                clear.call(&mut host.store, slot).unwrap();
                model.table[a] = None;
            }
            35..=59 => {
                link.call(&mut host.store, (slot, field as i32, other)).unwrap();
                if let Some(n) = model.table[a] {
                    model.fields[n][field] = model.table[b];
                }
            }
            60..=74 => {
                follow.call(&mut host.store, (slot, field as i32, other)).unwrap();
                if let Some(n) = model.table[a] {
                    model.table[b] = model.fields[n][field];
                }
            }
            75..=81 => {
                global_set.call(&mut host.store, (field as i32, slot)).unwrap();
                model.globals[field] = model.table[a];
            }
            82..=88 => {
                global_get.call(&mut host.store, (field as i32, slot)).unwrap();
                model.table[a] = model.globals[field];
            }
            89..=91 => assert_eq!(hold.call(&mut host.store, slot).unwrap(), id_or_minus_one(model.table[a])),
            _ => assert_eq!(id.call(&mut host.store, slot).unwrap(), id_or_minus_one(model.table[a])),
        }
        if step % check_every == 0 {
            assert_eq!(host.live_after_gc(), model.reachable(), "after {step} operations");
        }
    }
    assert_eq!(host.live_after_gc(), model.reachable(), "at the end");
    for slot in 0..64 {
        clear.call(&mut host.store, slot).unwrap();
    }
    host.typed::<(), ()>("drop_globals").call(&mut host.store, ()).unwrap();
    assert_eq!(host.live_after_gc(), 0, "{:?}", host.store.gc_heap_stats());
}

#[test]
fn a_million_random_operations_leave_exactly_the_reachable_objects() {
    random_operations(1_000_000, 100_000);
}

/// The same operations, fewer, for `make valgrind-gc`.
#[test]
fn random_operations_under_valgrind() {
    random_operations(20_000, 5_000);
}

#[test]
fn kiln_inspect_lists_gc_types_and_stack_maps() {
    let object = externref_common::compiled("gc_leaks");
    let run = |json: bool| {
        let mut command = std::process::Command::new(common::workspace_binary("kiln"));
        command.arg("inspect");
        if json {
            command.arg("--json");
        }
        let output = command.arg(&object).output().expect("kiln runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let text = run(false);
    assert!(text.contains("0 (struct (field (mut (ref null 0))) (field (mut (ref null 0))) (field i32))"), "{text}");
    assert!(text.contains("stack map: return"), "{text}");
    let json = run(true);
    assert!(json.contains("\"kind\": \"struct\""), "{json}");
    assert!(json.contains("\"final\": true"), "{json}");
}
