//! Embedding-API costs: instantiating a small module (with and without a
//! 64 KiB data segment) from an `InstancePre`, a typed call, a
//! host→Wasm→host round trip through a `func_wrap` host function (once, and
//! 1000 times per call, so that one host call costs a thousandth), and the
//! externref round trip of `externref.rs` (same module, same setup).
//!
//! The modules are inline WAT, compiled to objects by kilnc's code path and
//! loaded with `Module::from_bytes` / `Module::from_file` outside the timed
//! loops. `instantiate/*` use a fresh `Store` per iteration, as a service
//! does per request: the timed body is `Store::new`,
//! `InstancePre::instantiate` and dropping the store.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kiln_compiler::{compile, compile_file, CompileOptions};
use kiln_loader::{Caller, Engine, ExternRef, Instance, Linker, Module, Store, Val};

/// One export `add`, one import `env.log`, one page of memory, a table of
/// 10 funcrefs filled by an active element segment.
fn small_module_text(data64k: bool) -> String {
    let mut wat = String::from(
        "(module\n\
           (import \"env\" \"log\" (func $log (param i32)))\n\
           (memory 1)\n\
           (table 10 funcref)\n\
           (elem (i32.const 0) func $add $log $add $log $add $log $add $log $add $log)\n\
           (func $add (export \"add\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)\n",
    );
    if data64k {
        // 65,536 non-zero bytes (1..=251 repeating) at offset 0: the whole page.
        wat.push_str("  (data (i32.const 0) \"");
        for i in 0..65_536u32 {
            let _ = write!(wat, "\\{:02x}", (i % 251) + 1);
        }
        wat.push_str("\")\n");
    }
    wat.push_str(")\n");
    wat
}

/// The call benchmarks' module: `add`, `call_log` (calls `env.log` once)
/// and `call_log_loop1000` (calls `env.log` 1000 times).
const CALL_MODULE: &str = r#"(module
  (import "env" "log" (func $log (param i32)))
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "call_log") (param i32) (call $log (local.get 0)))
  (func (export "call_log_loop1000") (param $x i32) (local $i i32)
    (loop $more
      (call $log (local.get $x))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 1000))))))"#;

fn object_of(wat_text: &str) -> Vec<u8> {
    let wasm = wat::parse_str(wat_text).expect("bench module parses");
    compile(&wasm, &CompileOptions::default()).expect("bench module compiles")
}

// ---- externref round trip: the module and setup of `externref.rs`, verbatim ----

const PER_FRAME: [u32; 2] = [10, 100];
const TABLE: u32 = 100_000;

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

fn externref_module_text() -> String {
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

/// What the externref module's `gc_timed` does: the number of GCs to run
/// and how long they took.
#[derive(Default)]
struct GcTiming {
    iterations: u64,
    elapsed: Duration,
}

fn externref_setup(engine: &Engine) -> (Store<GcTiming>, Instance) {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("externref_bench.wat");
    let object = dir.path().join("externref_bench.o");
    std::fs::write(&source, externref_module_text()).expect("write the module");
    compile_file(&source, &object, &CompileOptions::default()).expect("kilnc compiles the benchmark module");
    let module = Module::from_file(engine, &object).expect("the artifact loads");

    let mut store = Store::new(engine, GcTiming { iterations: 1, elapsed: Duration::ZERO });
    store.set_max_wasm_stack(4 << 20);
    let mut linker = Linker::new(engine);
    linker
        .func_wrap("host", "gc_timed", |mut caller: Caller<'_, GcTiming>| -> anyhow::Result<()> {
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
    (store, instance)
}

// ---- the benchmarks ----

fn embedding(c: &mut Criterion) {
    let engine = Engine::default();
    let small = Module::from_bytes(&engine, &object_of(&small_module_text(false))).expect("small module loads");
    let data64k = Module::from_bytes(&engine, &object_of(&small_module_text(true))).expect("data64k module loads");
    let mut linker = Linker::<i64>::new(&engine);
    linker
        .func_wrap("env", "log", |mut caller: Caller<'_, i64>, value: i32| {
            *caller.data_mut() += i64::from(value);
        })
        .expect("define env.log");

    let mut group = c.benchmark_group("embedding");

    for (name, module) in [("instantiate/small", &small), ("instantiate/data64k", &data64k)] {
        let pre = linker.instantiate_pre(module).expect("imports resolve");
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut store = Store::new(&engine, 0i64);
                let instance = pre.instantiate(&mut store).unwrap();
                std::hint::black_box(instance);
                drop(store);
            })
        });
    }

    // Call benchmarks: one store and instance, prepared once.
    let call_module = Module::from_bytes(&engine, &object_of(CALL_MODULE)).expect("call module loads");
    let mut store = Store::new(&engine, 0i64);
    let instance = linker.instantiate(&mut store, &call_module).unwrap();
    let add = instance.get_typed_func::<(i32, i32), i32>(&store, "add").unwrap();
    let call_log = instance.get_typed_func::<i32, ()>(&store, "call_log").unwrap();
    let call_log_loop = instance.get_typed_func::<i32, ()>(&store, "call_log_loop1000").unwrap();
    assert_eq!(add.call(&mut store, (1, 2)).unwrap(), 3);

    group.bench_function("call/typed", |b| b.iter(|| add.call(&mut store, std::hint::black_box((1, 2))).unwrap()));
    group.bench_function("call/host", |b| b.iter(|| call_log.call(&mut store, std::hint::black_box(1)).unwrap()));
    group.bench_function("call/host_loop1000", |b| {
        b.iter(|| call_log_loop.call(&mut store, std::hint::black_box(1)).unwrap())
    });
    assert!(*store.data() > 0, "the host function ran");

    // externref round trip, set up exactly as in externref.rs.
    let (mut er_store, er_instance) = externref_setup(&engine);
    let identity =
        er_instance.get_typed_func::<Option<ExternRef>, Option<ExternRef>>(&er_store, "identity").unwrap();
    let r = ExternRef::new(7u32);
    group.throughput(Throughput::Elements(1));
    group.bench_function("externref/round_trip", |b| b.iter(|| identity.call(&mut er_store, Some(r.clone())).unwrap()));
    group.finish();
}

criterion_group!(benches, embedding);
criterion_main!(benches);
