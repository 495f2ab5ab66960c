//! Load and instantiate speed: the figures kiln competes on.
//!
//! The module is the largest of the WebAssembly 2.0 spec suite (the first
//! module of `br_table.wast`), compiled once by kilnc; the benchmarks then
//! time loading its object (header and checksum checks, ELF parsing,
//! relocation, mapping) and instantiating it.
//!
//! Smaller figures isolate the parts: loading a tiny module, instantiating a
//! module with one memory (its reservation dominates), creating and dropping
//! a store, dropping an instance's store and a module, and a cold start
//! (load, instantiate, first call, drop everything) as an embedder sees it.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use kiln_compiler::{compile, CompileOptions};
use kiln_loader::{Engine, Linker, Store};
use wast::{QuoteWat, WastDirective};

fn first_module_of(script: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(script).expect("spec script is readable");
    let buf = wast::parser::ParseBuffer::new(&text).expect("script lexes");
    let wast: wast::Wast = wast::parser::parse(&buf).expect("script parses");
    for directive in wast.directives {
        if let WastDirective::Module(QuoteWat::Wat(mut wat)) = directive {
            return wat.encode().expect("module encodes");
        }
    }
    panic!("no module in {}", script.display());
}

fn suite_script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testsuite/wasm-2.0").join(name)
}

fn bench_load(c: &mut Criterion) {
    let wasm = first_module_of(&suite_script("br_table.wast"));
    let object = compile(&wasm, &CompileOptions::default()).expect("br_table module compiles");
    let engine = Engine::default();
    let linker = Linker::<()>::new(&engine);
    let new_store = || Store::new(&engine, ());

    c.bench_function("compile br_table module", |b| b.iter(|| compile(&wasm, &CompileOptions::default()).unwrap()));
    c.bench_function("load br_table object", |b| b.iter(|| kiln_tests::module_from_bytes(&engine, &object).unwrap()));
    let module = kiln_tests::module_from_bytes(&engine, &object).unwrap();
    c.bench_function("instantiate br_table module", |b| {
        // A fresh store per batch keeps instances from piling up in one store.
        b.iter_batched(
            new_store,
            |mut store| {
                let instance = linker.instantiate(&mut store, &module).unwrap();
                (store, instance)
            },
            criterion::BatchSize::SmallInput,
        )
    });
    c.bench_function("load and instantiate br_table object", |b| {
        b.iter_batched(
            new_store,
            |mut store| {
                let module = kiln_tests::module_from_bytes(&engine, &object).unwrap();
                let instance = linker.instantiate(&mut store, &module).unwrap();
                (store, instance)
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

/// Two functions, no memory: the floor of loading.
const TINY: &str = r#"(module
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#;

/// One memory of one page with a data segment, and a function reading it.
const WITH_MEMORY: &str = r#"(module
  (memory 1)
  (data (i32.const 16) "kiln")
  (func (export "load") (param i32) (result i32) local.get 0 i32.load))"#;

fn object_of(wat_text: &str) -> Vec<u8> {
    let wasm = wat::parse_str(wat_text).expect("bench module parses");
    compile(&wasm, &CompileOptions::default()).expect("bench module compiles")
}

fn bench_parts(c: &mut Criterion) {
    let tiny = object_of(TINY);
    let with_memory = object_of(WITH_MEMORY);
    let br_table = compile(&first_module_of(&suite_script("br_table.wast")), &CompileOptions::default())
        .expect("br_table module compiles");
    let engine = Engine::default();
    let linker = Linker::<()>::new(&engine);
    let new_store = || Store::new(&engine, ());

    c.bench_function("load tiny object", |b| b.iter(|| kiln_tests::module_from_bytes(&engine, &tiny).unwrap()));
    c.bench_function("drop tiny module", |b| {
        b.iter_batched(
            || kiln_tests::module_from_bytes(&engine, &tiny).unwrap(),
            drop,
            criterion::BatchSize::SmallInput,
        )
    });
    c.bench_function("store new and drop", |b| b.iter(|| drop(new_store())));

    let tiny_module = kiln_tests::module_from_bytes(&engine, &tiny).unwrap();
    c.bench_function("instantiate tiny module", |b| {
        b.iter_batched(
            new_store,
            |mut store| {
                let instance = linker.instantiate(&mut store, &tiny_module).unwrap();
                (store, instance)
            },
            criterion::BatchSize::SmallInput,
        )
    });
    let memory_module = kiln_tests::module_from_bytes(&engine, &with_memory).unwrap();
    c.bench_function("instantiate one-memory module", |b| {
        b.iter_batched(
            new_store,
            |mut store| {
                let instance = linker.instantiate(&mut store, &memory_module).unwrap();
                (store, instance)
            },
            criterion::BatchSize::SmallInput,
        )
    });
    c.bench_function("drop one-memory instance and store", |b| {
        b.iter_batched(
            || {
                let mut store = new_store();
                let instance = linker.instantiate(&mut store, &memory_module).unwrap();
                (store, instance)
            },
            drop,
            criterion::BatchSize::SmallInput,
        )
    });

    c.bench_function("cold start tiny", |b| {
        b.iter(|| {
            let mut store = new_store();
            let module = kiln_tests::module_from_bytes(&engine, &tiny).unwrap();
            let instance = linker.instantiate(&mut store, &module).unwrap();
            let add = instance.get_typed_func::<(i32, i32), i32>(&store, "add").unwrap();
            assert_eq!(add.call(&mut store, (2, 3)).unwrap(), 5);
        })
    });
    c.bench_function("cold start one-memory", |b| {
        b.iter(|| {
            let mut store = new_store();
            let module = kiln_tests::module_from_bytes(&engine, &with_memory).unwrap();
            let instance = linker.instantiate(&mut store, &module).unwrap();
            let load = instance.get_typed_func::<i32, i32>(&store, "load").unwrap();
            assert_eq!(load.call(&mut store, 16).unwrap(), i32::from_le_bytes(*b"kiln"));
        })
    });
    c.bench_function("cold start br_table", |b| {
        b.iter(|| {
            let mut store = new_store();
            let module = kiln_tests::module_from_bytes(&engine, &br_table).unwrap();
            let instance = linker.instantiate(&mut store, &module).unwrap();
            let f = instance.get_typed_func::<(), ()>(&store, "type-i32").unwrap();
            f.call(&mut store, ()).unwrap();
        })
    });
}

criterion_group!(benches, bench_load, bench_parts);
criterion_main!(benches);
