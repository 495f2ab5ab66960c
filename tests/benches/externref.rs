//! externref costs: a host→Wasm→host round trip, `table.get`/`table.set`
//! churn (barriers, chunk inserts and the GCs at chunk fills included), and
//! the pause of one GC with 10, 1,000 and 100,000 references live on the
//! Wasm stack.
//!
//! The module is generated, compiled to an object file by kilnc's code path
//! and loaded as `kiln` loads it.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kiln_compiler::{compile_file, CompileOptions};
use kiln_loader::{Caller, Engine, Error, ExternRef, Linker, Store, Val};

/// References each frame of `$hold_K` keeps live across its recursive call.
const PER_FRAME: [u32; 2] = [10, 100];
/// Table size: every live reference is a distinct host value.
const TABLE: u32 = 100_000;

/// `$hold_K(depth, base)`: reads `K` references from `t[base..base + K]`
/// into locals, recurses with `base + K` (or, at the bottom, calls
/// `host.gc_timed`), then uses every local, so all of them are live at the
/// call.
fn hold_function(k: u32) -> String {
    let mut f = format!("  (func $hold_{k} (export \"hold_{k}\") (param $d i32) (param $base i32) (result i32)\n");
    let _ = writeln!(f, "    (local $sum i32)");
    for i in 0..k {
        let _ = writeln!(f, "    (local $r{i} externref)");
    }
    for i in 0..k {
        let _ = writeln!(f, "    (local.set $r{i} (table.get $t (i32.add (local.get $base) (i32.const {i}))))");
    }
    let _ = writeln!(
        f,
        "    (if (local.get $d) (then (local.set $sum (call $hold_{k} (i32.sub (local.get $d) (i32.const 1)) \
         (i32.add (local.get $base) (i32.const {k}))))) (else (call $gc_timed)))"
    );
    for i in 0..k {
        let _ = writeln!(f, "    (local.set $sum (i32.add (local.get $sum) (ref.is_null (local.get $r{i}))))");
    }
    f.push_str("    (local.get $sum))\n");
    f
}

fn module_text() -> String {
    let mut wat = String::from("(module\n  (import \"host\" \"gc_timed\" (func $gc_timed))\n");
    let _ = writeln!(wat, "  (table $t (export \"t\") {TABLE} externref)");
    wat.push_str(
        "  (func (export \"identity\") (param externref) (result externref) (local.get 0))\n\
         ;; `n` times: t[(i + 1) & 1023] = t[i & 1023]\n\
         (func (export \"churn\") (param $n i32) (local $i i32)\n\
           (loop $more\n\
             (table.set $t (i32.and (i32.add (local.get $i) (i32.const 1)) (i32.const 1023))\n\
               (table.get $t (i32.and (local.get $i) (i32.const 1023))))\n\
             (local.set $i (i32.add (local.get $i) (i32.const 1)))\n\
             (br_if $more (i32.lt_u (local.get $i) (local.get $n)))))\n",
    );
    for k in PER_FRAME {
        wat.push_str(&hold_function(k));
    }
    wat.push_str(")\n");
    wat
}

/// The store's host state: the GCs the next `host.gc_timed` runs, and the
/// time they took.
struct GcTimer {
    iterations: u64,
    elapsed: Duration,
}

struct Bench {
    store: Store<GcTimer>,
    instance: kiln_loader::Instance,
}

fn setup() -> Bench {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("externref_bench.wat");
    let object = dir.path().join("externref_bench.o");
    std::fs::write(&source, module_text()).expect("write the module");
    compile_file(&source, &object, &CompileOptions::default()).expect("kilnc compiles the benchmark module");
    let engine = Engine::default();
    let module = kiln_tests::module_from_file(&engine, &object).expect("the artifact loads");

    let mut store = Store::new(&engine, GcTimer { iterations: 1, elapsed: Duration::ZERO });
    store.set_max_wasm_stack(4 << 20);
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap("host", "gc_timed", |mut caller: Caller<'_, GcTimer>| -> Result<(), Error> {
            let start = Instant::now();
            for _ in 0..caller.data().iterations {
                caller.gc()?;
            }
            caller.data_mut().elapsed = start.elapsed();
            Ok(())
        })
        .expect("define gc_timed");
    let instance = linker.instantiate(&mut store, &module).expect("instantiate");
    let table = instance.get_table(&store, "t").expect("exported table");
    for i in 0..TABLE {
        table.set(&mut store, i, Val::ExternRef(Some(ExternRef::new(i)))).expect("in bounds");
    }
    Bench { store, instance }
}

fn externref(c: &mut Criterion) {
    let mut bench = setup();
    let identity =
        bench.instance.get_typed_func::<Option<ExternRef>, Option<ExternRef>>(&bench.store, "identity").unwrap();
    let churn = bench.instance.get_typed_func::<i32, ()>(&bench.store, "churn").unwrap();
    let r = ExternRef::new(7u32);

    let mut group = c.benchmark_group("externref");
    group.throughput(Throughput::Elements(1));
    group.bench_function("round_trip", |b| b.iter(|| identity.call(&mut bench.store, Some(r.clone())).unwrap()));
    const CHURN: u32 = 100_000;
    group.throughput(Throughput::Elements(u64::from(CHURN)));
    group.bench_function("table_get_set_churn", |b| b.iter(|| churn.call(&mut bench.store, CHURN as i32).unwrap()));
    group.finish();

    let mut group = c.benchmark_group("externref_gc_pause");
    for (live, k, depth) in [(10u32, 10u32, 0i32), (1_000, 100, 9), (100_000, 100, 999)] {
        let hold = bench.instance.get_typed_func::<(i32, i32), i32>(&bench.store, &format!("hold_{k}")).unwrap();
        group.bench_with_input(BenchmarkId::from_parameter(live), &live, |b, _| {
            b.iter_custom(|iterations| {
                bench.store.data_mut().iterations = iterations;
                assert_eq!(hold.call(&mut bench.store, (depth, 0)).unwrap(), 0, "no live reference was null");
                bench.store.data().elapsed
            })
        });
        bench.store.gc().expect("no destructor panics");
    }
    group.finish();
}

criterion_group!(benches, externref);
criterion_main!(benches);
