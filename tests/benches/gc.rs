//! GC object costs: the pause of one collection with 10, 1,000 and 100,000
//! live objects in the heap, the cycle collector's time per candidate, and
//! the binary-trees program (`tests/programs/gc/binary_trees.wat`).
//!
//! Modules are compiled to object files by kilnc's code path and loaded as
//! `kiln` loads them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kiln_compiler::{compile_file, CompileOptions};
use kiln_loader::{Caller, Engine, Error, Instance, Linker, Module, Store};

fn compiled(source: &str, name: &str) -> PathBuf {
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join(source);
    let output = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.o"));
    compile_file(&input, &output, &CompileOptions::default()).unwrap_or_else(|e| panic!("kilnc {source}: {e}"));
    output
}

fn instantiate(engine: &Engine, module: &Module) -> (Store<()>, Instance) {
    let mut store = Store::new(engine, ());
    let mut linker = Linker::new(engine);
    linker
        .func_wrap("host", "gc", |mut caller: Caller<'_, ()>| -> Result<(), Error> { caller.gc().map(drop) })
        .unwrap();
    let instance = linker.instantiate(&mut store, module).unwrap();
    (store, instance)
}

fn pauses(c: &mut Criterion) {
    let engine = Engine::default();
    let module = kiln_tests::module_from_file(&engine, compiled("wat/gc_leaks.wat", "gc_leaks_bench")).unwrap();
    let mut group = c.benchmark_group("gc_pause");
    for live in [10u32, 1_000, 100_000] {
        let (mut store, instance) = instantiate(&engine, &module);
        let make_list = instance.get_typed_func::<i32, ()>(&store, "make_list").unwrap();
        make_list.call(&mut store, live as i32).unwrap();
        store.gc().unwrap();
        group.bench_with_input(BenchmarkId::new("live_objects", live), &live, |b, _| b.iter(|| store.gc().unwrap()));
    }
    // The first collection after the list was built also runs the cycle
    // collector over the nodes still buffered as candidates: the longest
    // pause this heap sees.
    for live in [10u32, 1_000, 100_000] {
        group.bench_with_input(BenchmarkId::new("first_after_building", live), &live, |b, &live| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let (mut store, instance) = instantiate(&engine, &module);
                    let make_list = instance.get_typed_func::<i32, ()>(&store, "make_list").unwrap();
                    make_list.call(&mut store, live as i32).unwrap();
                    let start = Instant::now();
                    store.gc().unwrap();
                    total += start.elapsed();
                    assert_eq!(store.gc_heap_stats().live_objects, live as usize);
                }
                total
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("cycle_collection");
    for pairs in [1_000u32, 10_000] {
        // Each garbage pair leaves both of its nodes as candidates.
        group.throughput(Throughput::Elements(2 * u64::from(pairs)));
        group.bench_with_input(BenchmarkId::new("candidates", 2 * pairs), &pairs, |b, &pairs| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let (mut store, instance) = instantiate(&engine, &module);
                    let make_pairs = instance.get_typed_func::<i32, ()>(&store, "make_pairs").unwrap();
                    make_pairs.call(&mut store, pairs as i32).unwrap();
                    // Collections during the run already freed some
                    // pairs: scale this one by what it freed to the
                    // throughput's count, so that the figure is the time
                    // per garbage candidate.
                    let freed_before = store.gc_heap_stats().cycles_collected;
                    let start = Instant::now();
                    store.gc().unwrap();
                    let elapsed = start.elapsed();
                    let freed = (store.gc_heap_stats().cycles_collected - freed_before).max(1);
                    total += elapsed.mul_f64((2 * pairs) as f64 / freed as f64);
                    assert_eq!(store.gc_heap_stats().live_objects, 0);
                }
                total
            })
        });
    }
    group.finish();
}

fn binary_trees(c: &mut Criterion) {
    let engine = Engine::default();
    let module =
        kiln_tests::module_from_file(&engine, compiled("programs/gc/binary_trees.wat", "binary_trees")).unwrap();
    let mut group = c.benchmark_group("binary_trees");
    group.sample_size(10);
    for depth in [14, 18] {
        group.bench_with_input(BenchmarkId::new("depth", depth), &depth, |b, &depth| {
            b.iter(|| {
                let (mut store, instance) = instantiate(&engine, &module);
                let run = instance.get_typed_func::<i32, i32>(&store, "run").unwrap();
                run.call(&mut store, depth).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, pauses, binary_trees);
criterion_main!(benches);
