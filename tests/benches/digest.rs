//! What the whole-file digest adds to loading: `file_digest` alone against
//! a whole `Module::from_file`, for a small module and for the largest real
//! program (sqlite, from `make programs`; skipped with a note when it has
//! not been built).

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion};
use kiln_compiler::{compile_file, CompileOptions};
use kiln_format::file_digest;
use kiln_loader::Engine;
use object::{Object, ObjectSection};

fn meta_offset(bytes: &[u8]) -> usize {
    let file = object::File::parse(bytes).expect("parses");
    file.section_by_name(kiln_format::SECTION_META).and_then(|s| s.file_range()).expect(".kiln.meta").0 as usize
}

fn artifacts(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    let small = dir.join("sieve.o");
    compile_file(&root.join("tests/examples/sieve.wat"), &small, &CompileOptions::default()).expect("compiles");
    out.push(("sieve", small));
    let sqlite = root.join("target/programs/wasm/sqlite.wasm");
    if sqlite.exists() {
        let artifact = dir.join("sqlite.o");
        compile_file(&sqlite, &artifact, &CompileOptions::default()).expect("compiles sqlite");
        out.push(("sqlite", artifact));
    } else {
        eprintln!("{} not built (make programs): only the small module is measured", sqlite.display());
    }
    out
}

fn bench_digest(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = Engine::default();
    let mut group = c.benchmark_group("digest");
    for (name, path) in artifacts(dir.path()) {
        let bytes = std::fs::read(&path).expect("reads");
        let meta = meta_offset(&bytes);
        eprintln!("{name}: {} bytes", bytes.len());
        group.bench_function(format!("{name}/file_digest"), |b| b.iter(|| file_digest(&bytes, meta)));
        group.bench_function(format!("{name}/from_file"), |b| {
            b.iter(|| kiln_tests::module_from_file(&engine, &path).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench_digest);
criterion_main!(benches);
