//! Instantiation with copy-on-write memory images, on-demand and pooled.
//!
//! `instantiate/{default,pooling}/<size>`: `Store::new`,
//! `InstancePre::instantiate`, a first call that reads the memory, and
//! dropping the store, for modules whose one memory (16 MiB, the same for
//! every size so that only the data differs) has 0, 64 KiB, 1 MiB or
//! 16 MiB of non-zero data at offset 0. Store creation is part of the
//! cost, as a service pays it per request; so is the drop, which for the
//! pooling engine is where the memory slot is reset (`madvise`).
//!
//! `instantiate_throughput/{default,pooling}/<n>threads`: the same cycle for
//! the 64 KiB module, run by 1 and 2 threads at once on one engine, timed
//! as wall time per instantiation (so lower is more instantiations per
//! second). A fixed run of [`THROUGHPUT_RUN_PER_THREAD`] cycles per thread
//! also prints instantiations per second to stderr.
//!
//! Each module is compiled by kilnc's code path and written to a file in a
//! temporary directory, then loaded with `Module::from_file`, so that its
//! image pages are mapped from that file, as `kiln` runs an artifact.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use kiln_compiler::{compile, CompileOptions};
use kiln_loader::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, PoolingAllocationConfig, Store, WASM_PAGE_SIZE,
};

/// The data sizes measured, with their names in benchmark ids.
const DATA_SIZES: [(&str, usize); 4] = [("0", 0), ("64KiB", 64 << 10), ("1MiB", 1 << 20), ("16MiB", 16 << 20)];

/// Every module's memory: room for the largest data size.
const MEMORY_BYTES: usize = 16 << 20;

/// Thread counts of the throughput benchmarks.
const THREADS: [usize; 2] = [1, 2];

/// Cycles per thread of the run whose instantiations per second are
/// printed.
const THROUGHPUT_RUN_PER_THREAD: u64 = 20_000;

/// A module with one memory of [`MEMORY_BYTES`], `data_bytes` of data at
/// offset 0 (the letters a to z, repeating), and `run`, which returns the
/// memory's first four bytes.
fn module_text(data_bytes: usize) -> String {
    let pages = MEMORY_BYTES / WASM_PAGE_SIZE as usize;
    let mut wat = format!("(module\n  (memory {pages})\n");
    if data_bytes > 0 {
        wat.push_str("  (data (i32.const 0) \"");
        wat.extend((b'a'..=b'z').cycle().take(data_bytes).map(char::from));
        wat.push_str("\")\n");
    }
    wat.push_str("  (func (export \"run\") (result i32) i32.const 0 i32.load))\n");
    wat
}

/// What `run` returns for a module with `data_bytes` of data.
fn expected_result(data_bytes: usize) -> i32 {
    if data_bytes == 0 {
        0
    } else {
        i32::from_le_bytes(*b"abcd")
    }
}

/// Compiles the module with `data_bytes` of data into `dir`, returning the
/// artifact's path.
fn write_artifact(dir: &Path, name: &str, data_bytes: usize) -> PathBuf {
    let wasm = wat::parse_str(module_text(data_bytes)).expect("bench module parses");
    let object = compile(&wasm, &CompileOptions::default()).expect("bench module compiles");
    let path = dir.join(format!("data_{name}.o"));
    std::fs::write(&path, object).expect("write the artifact");
    path
}

/// A pooling engine with a few slots: every memory slot reserves 8 GiB of
/// address space, and at most one instance per thread is alive at once.
fn pooling_engine() -> Engine {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_memories(16).total_tables(16).total_core_instances(16).max_memory_size(MEMORY_BYTES);
    let mut config = Config::new();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).expect("the pool reserves its slots")
}

fn engines() -> [(&'static str, Engine); 2] {
    [("default", Engine::default()), ("pooling", pooling_engine())]
}

fn prepare(engine: &Engine, artifact: &Path) -> InstancePre<()> {
    let module = kiln_tests::module_from_file(engine, artifact).expect("the artifact loads");
    Linker::new(engine).instantiate_pre(&module).expect("the module imports nothing")
}

/// One cycle as a service runs it per request: a new store, an instance,
/// one call, and the store dropped with everything in it.
fn instantiate_call_drop(engine: &Engine, pre: &InstancePre<()>) -> i32 {
    let mut store = Store::new(engine, ());
    let instance = pre.instantiate(&mut store).unwrap();
    let run = instance.get_typed_func::<(), i32>(&store, "run").unwrap();
    let result = run.call(&mut store, ()).unwrap();
    drop(store);
    result
}

/// Checks that an instance's memory maps its image from `artifact` (whose
/// code is copied, not mapped): a fallback to copying the data would make
/// these benchmarks measure something else.
fn assert_image_maps_file(engine: &Engine, pre: &InstancePre<()>, artifact: &Path) {
    let mut store = Store::new(engine, ());
    let _instance = pre.instantiate(&mut store).unwrap();
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps is readable");
    let artifact = artifact.to_str().expect("the temp dir's path is UTF-8");
    assert!(maps.lines().any(|line| line.ends_with(artifact)), "{artifact} is mapped into the memory");
}

/// Runs `per_thread` cycles on each of `threads` threads at once and
/// returns the wall time from the first start to the last finish.
fn run_on_threads(engine: &Engine, pre: &InstancePre<()>, threads: usize, per_thread: u64, expected: i32) -> Duration {
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..per_thread {
                    assert_eq!(instantiate_call_drop(engine, pre), expected);
                }
            });
        }
    });
    start.elapsed()
}

/// The artifacts, in a directory that lives as long as the benchmarks.
struct Artifacts {
    _dir: tempfile::TempDir,
    paths: Vec<PathBuf>,
}

fn artifacts() -> Artifacts {
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = DATA_SIZES.iter().map(|&(name, bytes)| write_artifact(dir.path(), name, bytes)).collect();
    Artifacts { _dir: dir, paths }
}

fn instantiate(c: &mut Criterion) {
    let artifacts = artifacts();
    let mut group = c.benchmark_group("instantiate");
    group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for (engine_name, engine) in engines() {
        for (&(size_name, data_bytes), artifact) in DATA_SIZES.iter().zip(&artifacts.paths) {
            let pre = prepare(&engine, artifact);
            let expected = expected_result(data_bytes);
            assert_eq!(instantiate_call_drop(&engine, &pre), expected, "run reads the data");
            if data_bytes > 0 {
                assert_image_maps_file(&engine, &pre, artifact);
            }
            group.bench_function(BenchmarkId::new(engine_name, size_name), |b| {
                b.iter(|| instantiate_call_drop(&engine, &pre))
            });
        }
    }
    group.finish();
}

fn throughput(c: &mut Criterion) {
    let artifacts = artifacts();
    let (_, data_bytes) = DATA_SIZES[1];
    let artifact = &artifacts.paths[1];
    let expected = expected_result(data_bytes);

    let mut group = c.benchmark_group("instantiate_throughput");
    // Every sample the same number of cycles, split evenly over the
    // threads, so that each thread runs thousands of cycles per spawn.
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(1));
    for (engine_name, engine) in engines() {
        let pre = prepare(&engine, artifact);
        for threads in THREADS {
            let per_thread = THROUGHPUT_RUN_PER_THREAD;
            let elapsed = run_on_threads(&engine, &pre, threads, per_thread, expected);
            let cycles = per_thread * threads as u64;
            eprintln!(
                "instantiate_throughput/{engine_name}/{threads}threads: {:.0} instantiations/s \
                 ({cycles} in {elapsed:.2?})",
                cycles as f64 / elapsed.as_secs_f64()
            );
            group.bench_function(BenchmarkId::new(engine_name, format!("{threads}threads")), |b| {
                b.iter_custom(|iterations| {
                    let per_thread = iterations.div_ceil(threads as u64);
                    let elapsed = run_on_threads(&engine, &pre, threads, per_thread, expected);
                    // Scaled back to `iterations` when they did not split evenly.
                    elapsed.mul_f64(iterations as f64 / (per_thread * threads as u64) as f64)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, instantiate, throughput);
criterion_main!(benches);
