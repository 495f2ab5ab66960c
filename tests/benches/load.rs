//! Load and instantiate speed: the figures kiln competes on.
//!
//! The module is the largest of the WebAssembly 2.0 spec suite (the first
//! module of `br_table.wast`), compiled once by kilnc; the benchmarks then
//! time loading its object (header and checksum checks, ELF parsing,
//! relocation, mapping) and instantiating it.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use kiln_compiler::{compile, CompileOptions};
use kiln_loader::{Linker, Module, Store};
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
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testsuite/wasm-2.0").join(name)
}

fn bench_load(c: &mut Criterion) {
    let wasm = first_module_of(&suite_script("br_table.wast"));
    let object = compile(&wasm, &CompileOptions::default()).expect("br_table module compiles");
    let linker = Linker::new();

    c.bench_function("compile br_table module", |b| b.iter(|| compile(&wasm, &CompileOptions::default()).unwrap()));
    c.bench_function("load br_table object", |b| b.iter(|| Module::from_bytes(&object).unwrap()));
    let module = Module::from_bytes(&object).unwrap();
    c.bench_function("instantiate br_table module", |b| {
        // A fresh store per batch keeps instances from piling up in one store.
        b.iter_batched(
            Store::new,
            |store| linker.instantiate(&store, &module).unwrap(),
            criterion::BatchSize::SmallInput,
        )
    });
    c.bench_function("load and instantiate br_table object", |b| {
        b.iter_batched(
            Store::new,
            |store| {
                let module = Module::from_bytes(&object).unwrap();
                linker.instantiate(&store, &module).unwrap()
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench_load);
criterion_main!(benches);
