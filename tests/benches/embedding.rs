//! Embedding-API costs: instantiating a small module (with and without a
//! 64 KiB data segment) from an `InstancePre`, a typed call, a
//! host→Wasm→host round trip through a `func_wrap` host function (once, and
//! 1000 times per call, so that one host call costs a thousandth). The
//! externref round trip is `externref/round_trip` of `externref.rs`.
//!
//! The modules are inline WAT, compiled to objects by kilnc's code path and
//! loaded with `Module::from_bytes` / `Module::from_file` outside the timed
//! loops. `instantiate/*` use a fresh `Store` per iteration, as a service
//! does per request: the timed body is `Store::new`,
//! `InstancePre::instantiate` and dropping the store.

use std::fmt::Write as _;

use criterion::{criterion_group, criterion_main, Criterion};
use kiln_compiler::{compile, CompileOptions};
use kiln_loader::{Caller, Engine, Linker, Store};

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

// ---- the benchmarks ----

fn embedding(c: &mut Criterion) {
    let engine = Engine::default();
    let small =
        kiln_tests::module_from_bytes(&engine, &object_of(&small_module_text(false))).expect("small module loads");
    let data64k =
        kiln_tests::module_from_bytes(&engine, &object_of(&small_module_text(true))).expect("data64k module loads");
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
    let call_module = kiln_tests::module_from_bytes(&engine, &object_of(CALL_MODULE)).expect("call module loads");
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

    group.finish();
}

criterion_group!(benches, embedding);
criterion_main!(benches);
