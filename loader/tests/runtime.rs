//! The runtime end to end: `.wat` files under `tests/wat/` are compiled by
//! the `kilnc` binary (from `$KILNC`, or the workspace's target directory;
//! the tests fail when it has not been built), loaded,
//! linked and run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use kiln_loader::{
    Caller, Engine, Error, ExternRef, Func, FuncType, Global, GlobalType, Linker, Memory, MemoryType, Module, RefType,
    Store, Table, TableType, TrapCode, Val, ValType,
};

fn kilnc() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KILNC") {
        return Some(PathBuf::from(path));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?.join("target");
    ["release", "debug"].iter().map(|p| root.join(p).join("kilnc")).find(|p| p.exists())
}

fn compile(engine: &Engine, name: &str) -> Option<Module> {
    let Some(kilnc) = kilnc() else {
        panic!("kilnc is not built: run `make test`, or `cargo build --release -p kilnc` first");
    };
    let wat = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wat").join(format!("{name}.wat"));
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let unique = NEXT.fetch_add(1, Ordering::Relaxed);
    let out = std::env::temp_dir().join(format!("kiln-runtime-{}-{unique}-{name}.o", std::process::id()));
    let status = Command::new(kilnc).arg(&wat).arg("-o").arg(&out).status().expect("run kilnc");
    assert!(status.success(), "kilnc failed on {}", wat.display());
    // SAFETY: the artifact was just compiled by the workspace's kilnc from
    // the test's own module.
    #[allow(unsafe_code)]
    let module = unsafe { Module::from_file(engine, &out) }.expect("load");
    let _ = std::fs::remove_file(&out);
    Some(module)
}

fn ty(params: &[ValType], results: &[ValType]) -> FuncType {
    FuncType { params: params.to_vec(), results: results.to_vec() }
}

fn trap_code(e: &Error) -> Option<TrapCode> {
    e.trap().and_then(|t| t.code)
}

/// Calls `func` with untyped values, returning its results.
fn call<T>(store: &mut Store<T>, func: Func, params: &[Val]) -> Result<Vec<Val>, Error> {
    let mut results: Vec<Val> = func.ty(&*store).results.iter().map(|&t| Val::default_for(t)).collect();
    func.call(store, params, &mut results)?;
    Ok(results)
}

#[test]
fn calls_traps_and_host_imports() {
    let engine = Engine::default();
    let Some(module) = compile(&engine, "basics") else { return };
    // The store's data is what the host function logged last.
    let mut store = Store::new(&engine, 0i32);
    let mut linker = Linker::new(&engine);
    linker
        .func_new("env", "log", ty(&[ValType::I32], &[]), |mut caller: Caller<'_, i32>, args, _| {
            *caller.data_mut() = args[0].i32().unwrap();
            Ok(())
        })
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let add = instance.get_typed_func::<(i32, i32), i32>(&store, "add").unwrap();
    assert_eq!(add.call(&mut store, (2, 3)).unwrap(), 5);
    let fac = instance.get_typed_func::<i64, i64>(&store, "fac").unwrap();
    assert_eq!(fac.call(&mut store, 20).unwrap(), 2_432_902_008_176_640_000);
    let div = instance.get_func(&store, "div").unwrap();
    let err = call(&mut store, div, &[Val::I32(1), Val::I32(0)]).unwrap_err();
    assert_eq!(trap_code(&err), Some(TrapCode::INTEGER_DIVISION_BY_ZERO), "{err}");
    instance.get_typed_func::<i32, ()>(&store, "calllog").unwrap().call(&mut store, 77).unwrap();
    assert_eq!(*store.data(), 77);

    let load = instance.get_typed_func::<i32, i32>(&store, "load").unwrap();
    assert_eq!(load.call(&mut store, 16).unwrap(), i32::from(b'h'));
    assert_eq!(trap_code(&load.call(&mut store, 65536).unwrap_err()), Some(TrapCode::MEMORY_OUT_OF_BOUNDS));
    let grow = instance.get_typed_func::<i32, i32>(&store, "grow").unwrap();
    assert_eq!(grow.call(&mut store, 1).unwrap(), 1);
    assert_eq!(grow.call(&mut store, 1).unwrap(), -1, "maximum is 2 pages");
    assert_eq!(load.call(&mut store, 65536).unwrap(), 0);
    assert_eq!(instance.get_memory(&store, "mem").unwrap().size(&store), 2);

    let ind = instance.get_typed_func::<(i32, i32, i32), i32>(&store, "ind").unwrap();
    assert_eq!(ind.call(&mut store, (4, 5, 0)).unwrap(), 9);
    assert_eq!(trap_code(&ind.call(&mut store, (4, 5, 1)).unwrap_err()), Some(TrapCode::BAD_SIGNATURE));
    assert_eq!(trap_code(&ind.call(&mut store, (4, 5, 2)).unwrap_err()), Some(TrapCode::UNDEFINED_ELEMENT));
    let table = instance.get_table(&store, "tab").unwrap();
    table.set(&mut store, 1, Val::FuncRef(None)).unwrap();
    assert_eq!(trap_code(&ind.call(&mut store, (4, 5, 1)).unwrap_err()), Some(TrapCode::INDIRECT_CALL_TO_NULL));

    let rec = instance.get_typed_func::<i32, i32>(&store, "rec").unwrap();
    assert_eq!(trap_code(&rec.call(&mut store, 0).unwrap_err()), Some(TrapCode::STACK_OVERFLOW));
    assert_eq!(add.call(&mut store, (1, 1)).unwrap(), 2, "the host survives a stack overflow");
}

#[test]
fn externrefs_keep_exact_counts() {
    let engine = Engine::default();
    let Some(module) = compile(&engine, "externref") else { return };
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &module).unwrap();
    let r = ExternRef::new(String::from("hello"));
    let id = instance.get_typed_func::<Option<ExternRef>, Option<ExternRef>>(&store, "id").unwrap();
    let back = id.call(&mut store, Some(r.clone())).unwrap().unwrap();
    assert!(ExternRef::ptr_eq(&r, &back));
    assert_eq!(back.downcast_ref::<String>().unwrap(), "hello");
    drop(back);
    assert_eq!(r.strong_count(), 2, "the activations table holds it until a GC");
    assert_eq!(count_after_gc(&mut store, &r), 1, "a GC with no Wasm running releases the activations");

    let store_fn = instance.get_typed_func::<(i32, Option<ExternRef>), ()>(&store, "store").unwrap();
    store_fn.call(&mut store, (1, Some(r.clone()))).unwrap();
    assert_eq!(count_after_gc(&mut store, &r), 2, "the table owns one count");
    let load = instance.get_typed_func::<i32, Option<ExternRef>>(&store, "load").unwrap();
    let loaded = load.call(&mut store, 1).unwrap().unwrap();
    assert!(ExternRef::ptr_eq(&r, &loaded));
    assert_eq!(count_after_gc(&mut store, &r), 3);
    drop(loaded);
    assert_eq!(trap_code(&store_fn.call(&mut store, (9, None)).unwrap_err()), Some(TrapCode::TABLE_OUT_OF_BOUNDS));
    assert_eq!(trap_code(&load.call(&mut store, 4).unwrap_err()), Some(TrapCode::TABLE_OUT_OF_BOUNDS));

    let grow = instance.get_typed_func::<(i32, Option<ExternRef>), i32>(&store, "grow").unwrap();
    assert_eq!(grow.call(&mut store, (3, Some(r.clone()))).unwrap(), 4);
    assert_eq!(count_after_gc(&mut store, &r), 5);
    let fill = instance.get_typed_func::<(i32, Option<ExternRef>, i32), ()>(&store, "fill").unwrap();
    fill.call(&mut store, (0, None, 7)).unwrap();
    assert_eq!(count_after_gc(&mut store, &r), 1);
    assert_eq!(trap_code(&fill.call(&mut store, (5, None, 3)).unwrap_err()), Some(TrapCode::TABLE_OUT_OF_BOUNDS));

    let set_g = instance.get_typed_func::<Option<ExternRef>, ()>(&store, "set_g").unwrap();
    set_g.call(&mut store, Some(r.clone())).unwrap();
    assert_eq!(count_after_gc(&mut store, &r), 2);
    let g = instance.get_global(&store, "g").unwrap();
    assert!(ExternRef::ptr_eq(g.get(&store).externref().unwrap(), &r));
    let got = instance.get_typed_func::<(), Option<ExternRef>>(&store, "get_g").unwrap().call(&mut store, ()).unwrap();
    assert!(got.is_some());
    drop(got);
    g.set(&mut store, Val::ExternRef(None)).unwrap();
    assert_eq!(count_after_gc(&mut store, &r), 1);
    let is_null = instance.get_typed_func::<Option<ExternRef>, i32>(&store, "is_null").unwrap();
    assert_eq!(is_null.call(&mut store, None).unwrap(), 1);
    assert_eq!(is_null.call(&mut store, Some(r.clone())).unwrap(), 0);

    let t = instance.get_table(&store, "t").unwrap();
    t.set(&mut store, 0, Val::ExternRef(Some(r.clone()))).unwrap();
    assert_eq!(count_after_gc(&mut store, &r), 2);
    drop(store);
    assert_eq!(r.strong_count(), 1, "dropping the store releases tables");
}

/// A linker for `linking.wat`, with a table, memory and globals of `store`.
fn host_linker(store: &mut Store<()>, failing: bool) -> (Linker<()>, Table, Memory, Global) {
    let mut linker = Linker::new(store.engine());
    linker
        .func_new("host", "double", ty(&[ValType::I32], &[ValType::I32]), |_, a, r| {
            r[0] = Val::I32(a[0].i32().unwrap() * 2);
            Ok(())
        })
        .unwrap();
    linker
        .func_new("host", "fail", ty(&[], &[]), move |_, _, _| {
            if failing {
                panic!("boom");
            }
            Err(anyhow::anyhow!("refused"))
        })
        .unwrap();
    let table = Table::new(
        &mut *store,
        TableType { element: RefType::FUNCREF, minimum: 2, maximum: None, table64: false },
        Val::FuncRef(None),
    )
    .unwrap();
    let memory =
        Memory::new(&mut *store, MemoryType { minimum: 1, maximum: None, shared: false, memory64: false }).unwrap();
    let counter = Global::new(&mut *store, GlobalType { content: ValType::I32, mutable: true }, Val::I32(10)).unwrap();
    let base = Global::new(&mut *store, GlobalType { content: ValType::I32, mutable: false }, Val::I32(1)).unwrap();
    linker.define(&*store, "host", "table", table).unwrap();
    linker.define(&*store, "host", "mem", memory).unwrap();
    linker.define(&*store, "host", "counter", counter).unwrap();
    linker.define(&*store, "host", "base", base).unwrap();
    (linker, table, memory, counter)
}

#[test]
fn imports_are_shared_with_the_host() {
    let engine = Engine::default();
    let Some(module) = compile(&engine, "linking") else { return };
    let mut store = Store::new(&engine, ());
    let (linker, table, memory, counter) = host_linker(&mut store, false);
    let instance = linker.instantiate(&mut store, &module).unwrap();
    assert_eq!(instance.get_typed_func::<i32, i32>(&store, "twice").unwrap().call(&mut store, 5).unwrap(), 20);
    let fail = instance.get_func(&store, "fail").unwrap();
    let err = call(&mut store, fail, &[]).unwrap_err();
    assert!(matches!(&err, Error::Host(m) if m.to_string().contains("refused")), "{err}");
    instance.get_typed_func::<(), ()>(&store, "bump").unwrap().call(&mut store, ()).unwrap();
    assert_eq!(counter.get(&store).i32(), Some(11));
    assert_eq!(instance.get_typed_func::<(), i32>(&store, "derived").unwrap().call(&mut store, ()).unwrap(), 1);
    let mut byte = [0u8];
    memory.read(&store, 8, &mut byte).unwrap();
    assert_eq!(byte[0], 42);
    memory.write(&mut store, 9, &[7]).unwrap();
    assert_eq!(instance.get_typed_func::<i32, i32>(&store, "byte").unwrap().call(&mut store, 9).unwrap(), 7);
    let twice = table.get(&store, 1).unwrap();
    assert!(twice.funcref().is_some(), "element segment wrote the imported table");
    let twice = *twice.funcref().unwrap();
    assert_eq!(call(&mut store, twice, &[Val::I32(3)]).unwrap()[0].i32(), Some(12));
    let double = instance.get_func(&store, "double").unwrap();
    assert_eq!(call(&mut store, double, &[Val::I32(4)]).unwrap()[0].i32(), Some(8), "re-exported host function");
    table.set(&mut store, 0, Val::FuncRef(Some(double))).unwrap();
    let call_slot = instance.get_typed_func::<(i32, i32), i32>(&store, "call_slot").unwrap();
    assert_eq!(call_slot.call(&mut store, (0, 21)).unwrap(), 42, "host function through call_indirect");
    assert_eq!(call_slot.call(&mut store, (1, 1)).unwrap(), 4);

    let mut store2 = Store::new(&engine, ());
    let (linker2, ..) = host_linker(&mut store2, true);
    let instance2 = linker2.instantiate(&mut store2, &module).unwrap();
    let fail = instance2.get_func(&store2, "fail").unwrap();
    let err = call(&mut store2, fail, &[]).unwrap_err();
    assert!(err.to_string().contains("panicked"), "{err}");
}

#[test]
fn import_errors_and_segment_traps() {
    let engine = Engine::default();
    let Some(module) = compile(&engine, "linking") else { return };
    let mut store = Store::new(&engine, ());
    let err = Linker::new(&engine).instantiate(&mut store, &module).unwrap_err();
    assert!(matches!(&err, Error::Link(m) if m.contains("unknown import")), "{err}");
    let (mut linker, ..) = host_linker(&mut store, false);
    linker.allow_shadowing(true);
    let immutable_counter =
        Global::new(&mut store, GlobalType { content: ValType::I32, mutable: false }, Val::I32(0)).unwrap();
    linker.define(&store, "host", "counter", immutable_counter).unwrap();
    let err = linker.instantiate(&mut store, &module).unwrap_err();
    assert!(matches!(&err, Error::Link(m) if m.contains("incompatible import type")), "{err}");
    let small =
        Memory::new(&mut store, MemoryType { minimum: 0, maximum: None, shared: false, memory64: false }).unwrap();
    linker.define(&store, "host", "mem", small).unwrap();
    let err = linker.instantiate(&mut store, &module).unwrap_err();
    assert!(err.to_string().contains("incompatible import type"), "{err}");

    let Some(segments) = compile(&engine, "segments") else { return };
    let (linker, table, memory, _) = host_linker(&mut store, false);
    table.grow(&mut store, 2, Val::FuncRef(None)).unwrap();
    let err = linker.instantiate(&mut store, &segments).unwrap_err();
    assert_eq!(trap_code(&err), Some(TrapCode::MEMORY_OUT_OF_BOUNDS), "{err}");
    assert!(table.get(&store, 0).unwrap().funcref().is_some(), "earlier segments stay applied");
    assert!(table.get(&store, 2).unwrap().funcref().is_some());
    let mut bytes = [0u8; 2];
    memory.read(&store, 0, &mut bytes).unwrap();
    assert_eq!(&bytes, b"ab");
    let first = *table.get(&store, 0).unwrap().funcref().unwrap();
    assert_eq!(call(&mut store, first, &[]).unwrap()[0].i32(), Some(1));

    let (linker, table, ..) = host_linker(&mut store, false);
    table.grow(&mut store, 1, Val::FuncRef(None)).unwrap();
    let err = linker.instantiate(&mut store, &segments).unwrap_err();
    assert_eq!(trap_code(&err), Some(TrapCode::TABLE_OUT_OF_BOUNDS), "{err}");
}

#[test]
fn start_function_runs_at_instantiation() {
    let engine = Engine::default();
    let Some(module) = compile(&engine, "start") else { return };
    // The store's data is what the start function reported.
    let mut store = Store::new(&engine, 0i32);
    let mut linker = Linker::new(&engine);
    linker
        .func_new("host", "started", ty(&[ValType::I32], &[]), |mut caller: Caller<'_, i32>, a, _| {
            *caller.data_mut() = a[0].i32().unwrap();
            Ok(())
        })
        .unwrap();
    linker.instantiate(&mut store, &module).unwrap();
    assert_eq!(*store.data(), 99);
}

#[test]
fn host_functions_reenter_wasm_and_traps_keep_their_code() {
    let engine = Engine::default();
    let Some(module) = compile(&engine, "reentry") else { return };
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker
        .func_new(
            "host",
            "callback",
            ty(&[ValType::I32], &[ValType::I32]),
            |mut caller: Caller<'_, ()>, args, results| {
                let instance = caller.instance().expect("imported by an instance");
                let n = args[0].i32().unwrap();
                results[0] = match n {
                    0 => Val::I32(0),
                    -1 => {
                        let div = instance.get_func(&caller, "div").unwrap();
                        let mut quotient = [Val::I32(0)];
                        div.call(&mut caller, &[Val::I32(1), Val::I32(0)], &mut quotient)?;
                        quotient[0].clone()
                    }
                    n => Val::I32(instance.get_typed_func::<i32, i32>(&caller, "down")?.call(&mut caller, n - 1)? + 1),
                };
                Ok(())
            },
        )
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let down = instance.get_typed_func::<i32, i32>(&store, "down").unwrap();
    assert_eq!(down.call(&mut store, 50).unwrap(), 50);
    let err = down.call(&mut store, -1).unwrap_err();
    assert_eq!(trap_code(&err), Some(TrapCode::INTEGER_DIVISION_BY_ZERO), "{err}");
    assert_eq!(down.call(&mut store, 3).unwrap(), 3, "usable after a nested trap");

    let r = ExternRef::new(5u64);
    let second =
        instance.get_typed_func::<(Option<ExternRef>, Option<ExternRef>), Option<ExternRef>>(&store, "second").unwrap();
    let back = second.call(&mut store, (Some(r.clone()), Some(r.clone()))).unwrap().unwrap();
    assert!(ExternRef::ptr_eq(&back, &r));
    drop(back);
    store.gc().unwrap();
    assert_eq!(r.strong_count(), 1, "passing one reference twice neither leaks nor double-frees");
}

/// A store with an instance of `reentry.wat` whose callback does nothing.
fn reentry_instance(engine: &Engine) -> Option<(Store<()>, kiln_loader::Instance)> {
    let module = compile(engine, "reentry")?;
    let mut store = Store::new(engine, ());
    let mut linker = Linker::new(engine);
    linker.func_new("host", "callback", ty(&[ValType::I32], &[ValType::I32]), |_, _, _| Ok(())).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    Some((store, instance))
}

#[test]
fn the_wasm_stack_budget_is_configurable() {
    let engine = Engine::default();
    let Some((mut store, instance)) = reentry_instance(&engine) else { return };
    let deep = instance.get_typed_func::<i32, i32>(&store, "deep").unwrap();
    assert_eq!(deep.call(&mut store, 1000).unwrap(), 1000);
    store.set_max_wasm_stack(16 << 10);
    assert_eq!(trap_code(&deep.call(&mut store, 1000).unwrap_err()), Some(TrapCode::STACK_OVERFLOW));
    store.set_max_wasm_stack(kiln_loader::DEFAULT_MAX_WASM_STACK);
    assert_eq!(deep.call(&mut store, 1000).unwrap(), 1000);
}

#[test]
fn small_thread_stacks_overflow_into_a_trap() {
    let handle = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(|| {
            let engine = Engine::default();
            let Some((mut store, instance)) = reentry_instance(&engine) else { return };
            let deep = instance.get_typed_func::<i32, i32>(&store, "deep").unwrap();
            assert_eq!(trap_code(&deep.call(&mut store, 1_000_000).unwrap_err()), Some(TrapCode::STACK_OVERFLOW));
            assert_eq!(deep.call(&mut store, 10).unwrap(), 10);
        })
        .unwrap();
    handle.join().unwrap();
}

/// The count of `r` once a GC has dropped what the activations table held
/// for finished calls.
fn count_after_gc(store: &mut Store<()>, r: &ExternRef) -> usize {
    store.gc().unwrap();
    r.strong_count()
}
