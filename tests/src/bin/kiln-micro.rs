//! kiln's side of the micro-benchmarks of `make bench-compare`; Wasmtime's
//! side is `tests/bench-compare/wasmtime-side`, and the two print the same
//! lines for the same commands:
//!
//! - `load APP.wasm`: compiles the module into a temporary file, then times
//!   `Module::from_file` of it (`load APP.o` times an existing artifact);
//! - `load-verified APP.wasm`: compiles and signs the module, then times
//!   `Module::from_file` and `Module::from_file_verified` of it, alternating
//!   one round of each, and prints both (what checking the signature costs);
//! - `micro DIR`: instantiates `DIR/small.wat` from an `InstancePre` into a
//!   fresh store, and times a typed call and Wasm→host calls of
//!   `DIR/call.wat`.
//!
//! Each line is `name median_ns`, the median over rounds of the mean time of
//! one operation within a round. These are benchmarks, run by
//! `tests/bench-compare/run.sh`; no test depends on their figures.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use kiln_compiler::{compile, CompileOptions};
use kiln_loader::{Caller, Engine, Linker, Module, Store};

const ROUNDS: usize = 21;

/// The median of ROUNDS rounds of ITERS calls of `op`, in ns per call.
fn median_ns(iters: u32, mut op: impl FnMut()) -> f64 {
    let mut per_op: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                op();
            }
            start.elapsed().as_nanos() as f64 / f64::from(iters)
        })
        .collect();
    per_op.sort_by(f64::total_cmp);
    per_op[ROUNDS / 2]
}

fn object_of(path: &Path) -> Result<Vec<u8>> {
    let wasm = wat::parse_file(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(compile(&wasm, &CompileOptions::default())?)
}

fn load(wasm: &Path) -> Result<()> {
    let engine = Engine::default();
    let dir = tempfile::tempdir()?;
    // An artifact given as such is loaded as it is (for profiling the load
    // alone); a module is compiled first.
    let artifact = if wasm.extension().is_some_and(|e| e == "o") {
        wasm.to_path_buf()
    } else {
        let artifact = dir.path().join("app.o");
        std::fs::write(&artifact, object_of(wasm)?)?;
        artifact
    };
    let median = median_ns(1, || {
        let module = kiln_tests::module_from_file(&engine, &artifact).expect("from_file");
        black_box(&module);
    });
    println!("load {median:.0}");
    Ok(())
}

fn load_verified(wasm: &Path) -> Result<()> {
    let engine = Engine::default();
    let dir = tempfile::tempdir()?;
    let signer = kiln_compiler::Signer::from_secret(&[7; 32]);
    let wasm_bytes = std::fs::read(wasm).with_context(|| format!("reading {}", wasm.display()))?;
    let options = CompileOptions { signer: Some(signer.clone()), ..CompileOptions::default() };
    let artifact = dir.path().join("app.o");
    std::fs::write(&artifact, compile(&wasm_bytes, &options)?)?;
    let mut keys = kiln_loader::TrustedKeys::new();
    keys.add_key(&signer.public_key())?;
    let (mut plain, mut verified) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let start = Instant::now();
        black_box(kiln_tests::module_from_file(&engine, &artifact).expect("from_file"));
        plain.push(start.elapsed().as_nanos() as f64);
        let start = Instant::now();
        black_box(Module::from_file_verified(&engine, &artifact, &keys).expect("from_file_verified"));
        verified.push(start.elapsed().as_nanos() as f64);
    }
    for times in [&mut plain, &mut verified] {
        times.sort_by(f64::total_cmp);
    }
    println!("load {:.0}", plain[ROUNDS / 2]);
    println!("load_verified {:.0}", verified[ROUNDS / 2]);
    println!("artifact_bytes {}", std::fs::metadata(&artifact)?.len());
    Ok(())
}

fn micro(dir: &Path) -> Result<()> {
    let engine = Engine::default();
    let mut linker = Linker::<i64>::new(&engine);
    linker.func_wrap("env", "log", |mut caller: Caller<'_, i64>, value: i32| {
        *caller.data_mut() += i64::from(value);
    })?;

    let small = kiln_tests::module_from_bytes(&engine, &object_of(&dir.join("small.wat"))?)?;
    let pre = linker.instantiate_pre(&small)?;
    let median = median_ns(1000, || {
        let mut store = Store::new(&engine, 0i64);
        let instance = pre.instantiate(&mut store).expect("instantiate");
        black_box(instance);
    });
    println!("instantiate {median:.0}");

    let calls = kiln_tests::module_from_bytes(&engine, &object_of(&dir.join("call.wat"))?)?;
    let mut store = Store::new(&engine, 0i64);
    let instance = linker.instantiate(&mut store, &calls)?;
    let add = instance.get_typed_func::<(i32, i32), i32>(&store, "add")?;
    let call_log = instance.get_typed_func::<i32, ()>(&store, "call_log")?;
    let call_log_loop = instance.get_typed_func::<i32, ()>(&store, "call_log_loop1000")?;
    if add.call(&mut store, (1, 2))? != 3 {
        bail!("add(1, 2) is not 3");
    }
    let median = median_ns(100_000, || {
        black_box(add.call(&mut store, black_box((1, 2))).expect("add"));
    });
    println!("call/typed {median:.1}");
    let median = median_ns(100_000, || call_log.call(&mut store, black_box(1)).expect("call_log"));
    println!("call/host_once {median:.1}");
    let median = median_ns(100, || call_log_loop.call(&mut store, black_box(1)).expect("call_log_loop1000"));
    println!("call/host {:.1}", median / 1000.0);
    if *store.data() == 0 {
        bail!("the host function never ran");
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1..).unwrap_or_default() {
        [cmd, path] if cmd == "load" => load(Path::new(path)),
        [cmd, path] if cmd == "load-verified" => load_verified(Path::new(path)),
        [cmd, dir] if cmd == "micro" => micro(Path::new(dir)),
        _ => bail!("usage: kiln-micro load APP.wasm | load-verified APP.wasm | micro MODULES_DIR"),
    }
}
