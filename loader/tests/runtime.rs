//! The runtime end to end: `.wat` files under `tests/wat/` are compiled by
//! the `kilnc` binary (from `$KILNC`, or the workspace's target directory;
//! the tests fail when it has not been built), loaded,
//! linked and run.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use kiln_loader::{
    Error, ExternRef, FuncType, Global, GlobalType, Linker, Memory, MemoryType, Module, RefType, Store, Table,
    TableType, TrapCode, Val, ValType,
};

fn kilnc() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KILNC") {
        return Some(PathBuf::from(path));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?.join("target");
    ["release", "debug"].iter().map(|p| root.join(p).join("kilnc")).find(|p| p.exists())
}

fn compile(name: &str) -> Option<Module> {
    let Some(kilnc) = kilnc() else {
        panic!("kilnc is not built: run `make test`, or `cargo build --release -p kilnc` first");
    };
    let wat = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wat").join(format!("{name}.wat"));
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let unique = NEXT.fetch_add(1, Ordering::Relaxed);
    let out = std::env::temp_dir().join(format!("kiln-runtime-{}-{unique}-{name}.o", std::process::id()));
    let status = Command::new(kilnc).arg(&wat).arg("-o").arg(&out).status().expect("run kilnc");
    assert!(status.success(), "kilnc failed on {}", wat.display());
    let module = Module::from_file(&out).expect("load");
    let _ = std::fs::remove_file(&out);
    Some(module)
}

fn ty(params: &[ValType], results: &[ValType]) -> FuncType {
    FuncType { params: params.to_vec(), results: results.to_vec() }
}

fn trap_code(e: &Error) -> Option<TrapCode> {
    e.trap().and_then(|t| t.code)
}

#[test]
fn calls_traps_and_host_imports() {
    let Some(module) = compile("basics") else { return };
    let store = Store::new();
    let logged = Rc::new(Cell::new(0));
    let mut linker = Linker::new();
    let sink = logged.clone();
    linker
        .func_new(&store, "env", "log", ty(&[ValType::I32], &[]), move |args, _| {
            sink.set(args[0].i32().unwrap());
            Ok(())
        })
        .unwrap();
    let instance = linker.instantiate(&store, &module).unwrap();
    let add = instance.typed_func::<(i32, i32), i32>("add").unwrap();
    assert_eq!(add.call((2, 3)).unwrap(), 5);
    let fac = instance.typed_func::<i64, i64>("fac").unwrap();
    assert_eq!(fac.call(20).unwrap(), 2_432_902_008_176_640_000);
    let div = instance.get_func("div").unwrap();
    let err = div.call(&[Val::I32(1), Val::I32(0)]).unwrap_err();
    assert_eq!(trap_code(&err), Some(TrapCode::INTEGER_DIVISION_BY_ZERO), "{err}");
    instance.typed_func::<i32, ()>("calllog").unwrap().call(77).unwrap();
    assert_eq!(logged.get(), 77);

    let load = instance.typed_func::<i32, i32>("load").unwrap();
    assert_eq!(load.call(16).unwrap(), i32::from(b'h'));
    assert_eq!(trap_code(&load.call(65536).unwrap_err()), Some(TrapCode::MEMORY_OUT_OF_BOUNDS));
    let grow = instance.typed_func::<i32, i32>("grow").unwrap();
    assert_eq!(grow.call(1).unwrap(), 1);
    assert_eq!(grow.call(1).unwrap(), -1, "maximum is 2 pages");
    assert_eq!(load.call(65536).unwrap(), 0);
    assert_eq!(instance.get_memory("mem").unwrap().size_pages(), 2);

    let ind = instance.typed_func::<(i32, i32, i32), i32>("ind").unwrap();
    assert_eq!(ind.call((4, 5, 0)).unwrap(), 9);
    assert_eq!(trap_code(&ind.call((4, 5, 1)).unwrap_err()), Some(TrapCode::BAD_SIGNATURE));
    assert_eq!(trap_code(&ind.call((4, 5, 2)).unwrap_err()), Some(TrapCode::UNDEFINED_ELEMENT));
    let table = instance.get_table("tab").unwrap();
    table.set(1, Val::FuncRef(None)).unwrap();
    assert_eq!(trap_code(&ind.call((4, 5, 1)).unwrap_err()), Some(TrapCode::INDIRECT_CALL_TO_NULL));

    let rec = instance.typed_func::<i32, i32>("rec").unwrap();
    assert_eq!(trap_code(&rec.call(0).unwrap_err()), Some(TrapCode::STACK_OVERFLOW));
    assert_eq!(add.call((1, 1)).unwrap(), 2, "the host survives a stack overflow");
}

#[test]
fn externrefs_keep_exact_counts() {
    let Some(module) = compile("externref") else { return };
    let store = Store::new();
    let instance = Linker::new().instantiate(&store, &module).unwrap();
    let r = ExternRef::new(String::from("hello"));
    let id = instance.typed_func::<Option<ExternRef>, Option<ExternRef>>("id").unwrap();
    let back = id.call(Some(r.clone())).unwrap().unwrap();
    assert!(ExternRef::ptr_eq(&r, &back));
    assert_eq!(back.downcast_ref::<String>().unwrap(), "hello");
    drop(back);
    assert_eq!(r.strong_count(), 2, "the activations table holds it until a GC");
    assert_eq!(count_after_gc(&store, &r), 1, "a GC with no Wasm running releases the activations");

    let store_fn = instance.typed_func::<(i32, Option<ExternRef>), ()>("store").unwrap();
    store_fn.call((1, Some(r.clone()))).unwrap();
    assert_eq!(count_after_gc(&store, &r), 2, "the table owns one count");
    let load = instance.typed_func::<i32, Option<ExternRef>>("load").unwrap();
    let loaded = load.call(1).unwrap().unwrap();
    assert!(ExternRef::ptr_eq(&r, &loaded));
    assert_eq!(count_after_gc(&store, &r), 3);
    drop(loaded);
    assert_eq!(trap_code(&store_fn.call((9, None)).unwrap_err()), Some(TrapCode::TABLE_OUT_OF_BOUNDS));
    assert_eq!(trap_code(&load.call(4).unwrap_err()), Some(TrapCode::TABLE_OUT_OF_BOUNDS));

    let grow = instance.typed_func::<(i32, Option<ExternRef>), i32>("grow").unwrap();
    assert_eq!(grow.call((3, Some(r.clone()))).unwrap(), 4);
    assert_eq!(count_after_gc(&store, &r), 5);
    let fill = instance.typed_func::<(i32, Option<ExternRef>, i32), ()>("fill").unwrap();
    fill.call((0, None, 7)).unwrap();
    assert_eq!(count_after_gc(&store, &r), 1);
    assert_eq!(trap_code(&fill.call((5, None, 3)).unwrap_err()), Some(TrapCode::TABLE_OUT_OF_BOUNDS));

    let set_g = instance.typed_func::<Option<ExternRef>, ()>("set_g").unwrap();
    set_g.call(Some(r.clone())).unwrap();
    assert_eq!(count_after_gc(&store, &r), 2);
    let g = instance.get_global("g").unwrap();
    assert!(ExternRef::ptr_eq(g.get().externref().unwrap(), &r));
    let got = instance.typed_func::<(), Option<ExternRef>>("get_g").unwrap().call(()).unwrap();
    assert!(got.is_some());
    drop(got);
    g.set(Val::ExternRef(None)).unwrap();
    assert_eq!(count_after_gc(&store, &r), 1);
    let is_null = instance.typed_func::<Option<ExternRef>, i32>("is_null").unwrap();
    assert_eq!(is_null.call(None).unwrap(), 1);
    assert_eq!(is_null.call(Some(r.clone())).unwrap(), 0);

    let t = instance.get_table("t").unwrap();
    t.set(0, Val::ExternRef(Some(r.clone()))).unwrap();
    assert_eq!(count_after_gc(&store, &r), 2);
    drop((instance, store, id, store_fn, load, grow, fill, set_g, g, is_null, t));
    assert_eq!(r.strong_count(), 1, "dropping the store releases tables");
}

fn host_linker(store: &Store, failing: bool) -> (Linker, Table, Memory, Global) {
    let mut linker = Linker::new();
    linker
        .func_new(store, "host", "double", ty(&[ValType::I32], &[ValType::I32]), |a, r| {
            r[0] = Val::I32(a[0].i32().unwrap() * 2);
            Ok(())
        })
        .unwrap();
    linker
        .func_new(store, "host", "fail", ty(&[], &[]), move |_, _| {
            if failing {
                panic!("boom");
            }
            Err(Error::Host("refused".into()))
        })
        .unwrap();
    let table =
        Table::new(store, TableType { element: RefType::FuncRef, minimum: 2, maximum: None }, Val::FuncRef(None))
            .unwrap();
    let memory = Memory::new(store, MemoryType { minimum: 1, maximum: None, shared: false }).unwrap();
    let counter = Global::new(store, GlobalType { content: ValType::I32, mutable: true }, Val::I32(10)).unwrap();
    let base = Global::new(store, GlobalType { content: ValType::I32, mutable: false }, Val::I32(1)).unwrap();
    linker.define("host", "table", table.clone()).unwrap();
    linker.define("host", "mem", memory.clone()).unwrap();
    linker.define("host", "counter", counter.clone()).unwrap();
    linker.define("host", "base", base).unwrap();
    (linker, table, memory, counter)
}

#[test]
fn imports_are_shared_with_the_host() {
    let Some(module) = compile("linking") else { return };
    let store = Store::new();
    let (linker, table, memory, counter) = host_linker(&store, false);
    let instance = linker.instantiate(&store, &module).unwrap();
    assert_eq!(instance.typed_func::<i32, i32>("twice").unwrap().call(5).unwrap(), 20);
    let err = instance.get_func("fail").unwrap().call(&[]).unwrap_err();
    assert!(matches!(&err, Error::Host(m) if m.contains("refused")), "{err}");
    instance.typed_func::<(), ()>("bump").unwrap().call(()).unwrap();
    assert_eq!(counter.get().i32(), Some(11));
    assert_eq!(instance.typed_func::<(), i32>("derived").unwrap().call(()).unwrap(), 1);
    let mut byte = [0u8];
    memory.read(8, &mut byte).unwrap();
    assert_eq!(byte[0], 42);
    memory.write(9, &[7]).unwrap();
    assert_eq!(instance.typed_func::<i32, i32>("byte").unwrap().call(9).unwrap(), 7);
    let twice = table.get(1).unwrap();
    assert!(twice.funcref().is_some(), "element segment wrote the imported table");
    assert_eq!(twice.funcref().unwrap().call(&[Val::I32(3)]).unwrap()[0].i32(), Some(12));
    let double = instance.get_func("double").unwrap();
    assert_eq!(double.call(&[Val::I32(4)]).unwrap()[0].i32(), Some(8), "re-exported host function");
    table.set(0, Val::FuncRef(Some(double))).unwrap();
    let call_slot = instance.typed_func::<(i32, i32), i32>("call_slot").unwrap();
    assert_eq!(call_slot.call((0, 21)).unwrap(), 42, "host function through call_indirect");
    assert_eq!(call_slot.call((1, 1)).unwrap(), 4);

    let store2 = Store::new();
    let (linker2, ..) = host_linker(&store2, true);
    let instance2 = linker2.instantiate(&store2, &module).unwrap();
    let err = instance2.get_func("fail").unwrap().call(&[]).unwrap_err();
    assert!(err.to_string().contains("panicked"), "{err}");
}

#[test]
fn import_errors_and_segment_traps() {
    let Some(module) = compile("linking") else { return };
    let store = Store::new();
    let err = Linker::new().instantiate(&store, &module).unwrap_err();
    assert!(matches!(&err, Error::Link(m) if m.contains("unknown import")), "{err}");
    let (mut linker, ..) = host_linker(&store, false);
    linker
        .define(
            "host",
            "counter",
            Global::new(&store, GlobalType { content: ValType::I32, mutable: false }, Val::I32(0)).unwrap(),
        )
        .unwrap();
    let err = linker.instantiate(&store, &module).unwrap_err();
    assert!(matches!(&err, Error::Link(m) if m.contains("incompatible import type")), "{err}");
    let small = Memory::new(&store, MemoryType { minimum: 0, maximum: None, shared: false }).unwrap();
    linker.define("host", "mem", small).unwrap();
    let err = linker.instantiate(&store, &module).unwrap_err();
    assert!(err.to_string().contains("incompatible import type"), "{err}");

    let Some(segments) = compile("segments") else { return };
    let (linker, table, memory, _) = host_linker(&store, false);
    table.grow(2, Val::FuncRef(None)).unwrap();
    let err = linker.instantiate(&store, &segments).unwrap_err();
    assert_eq!(trap_code(&err), Some(TrapCode::MEMORY_OUT_OF_BOUNDS), "{err}");
    assert!(table.get(0).unwrap().funcref().is_some(), "earlier segments stay applied");
    assert!(table.get(2).unwrap().funcref().is_some());
    let mut bytes = [0u8; 2];
    memory.read(0, &mut bytes).unwrap();
    assert_eq!(&bytes, b"ab");
    assert_eq!(table.get(0).unwrap().funcref().unwrap().call(&[]).unwrap()[0].i32(), Some(1));

    let (linker, table, ..) = host_linker(&store, false);
    table.grow(1, Val::FuncRef(None)).unwrap();
    let err = linker.instantiate(&store, &segments).unwrap_err();
    assert_eq!(trap_code(&err), Some(TrapCode::TABLE_OUT_OF_BOUNDS), "{err}");
}

#[test]
fn start_function_runs_at_instantiation() {
    let Some(module) = compile("start") else { return };
    let store = Store::new();
    let seen = Rc::new(Cell::new(0));
    let sink = seen.clone();
    let mut linker = Linker::new();
    linker
        .func_new(&store, "host", "started", ty(&[ValType::I32], &[]), move |a, _| {
            sink.set(a[0].i32().unwrap());
            Ok(())
        })
        .unwrap();
    linker.instantiate(&store, &module).unwrap();
    assert_eq!(seen.get(), 99);
}

#[test]
fn host_functions_reenter_wasm_and_traps_keep_their_code() {
    let Some(module) = compile("reentry") else { return };
    let store = Store::new();
    let slot: Rc<std::cell::RefCell<Option<kiln_loader::Instance>>> = Rc::default();
    let me = slot.clone();
    let mut linker = Linker::new();
    linker
        .func_new(&store, "host", "callback", ty(&[ValType::I32], &[ValType::I32]), move |args, results| {
            let instance = me.borrow().clone().expect("instantiated");
            let n = args[0].i32().unwrap();
            results[0] = match n {
                0 => Val::I32(0),
                -1 => instance.get_func("div").unwrap().call(&[Val::I32(1), Val::I32(0)])?.remove(0),
                n => Val::I32(instance.typed_func::<i32, i32>("down")?.call(n - 1)? + 1),
            };
            Ok(())
        })
        .unwrap();
    let instance = linker.instantiate(&store, &module).unwrap();
    *slot.borrow_mut() = Some(instance.clone());
    let down = instance.typed_func::<i32, i32>("down").unwrap();
    assert_eq!(down.call(50).unwrap(), 50);
    let err = down.call(-1).unwrap_err();
    assert_eq!(trap_code(&err), Some(TrapCode::INTEGER_DIVISION_BY_ZERO), "{err}");
    assert_eq!(down.call(3).unwrap(), 3, "usable after a nested trap");

    let r = ExternRef::new(5u64);
    let second = instance.typed_func::<(Option<ExternRef>, Option<ExternRef>), Option<ExternRef>>("second").unwrap();
    let back = second.call((Some(r.clone()), Some(r.clone()))).unwrap().unwrap();
    assert!(ExternRef::ptr_eq(&back, &r));
    drop(back);
    store.gc();
    assert_eq!(r.strong_count(), 1, "passing one reference twice neither leaks nor double-frees");
    *slot.borrow_mut() = None;
}

#[test]
fn the_wasm_stack_budget_is_configurable() {
    let Some(module) = compile("reentry") else { return };
    let store = Store::new();
    let mut linker = Linker::new();
    linker.func_new(&store, "host", "callback", ty(&[ValType::I32], &[ValType::I32]), |_, _| Ok(())).unwrap();
    let instance = linker.instantiate(&store, &module).unwrap();
    let deep = instance.typed_func::<i32, i32>("deep").unwrap();
    assert_eq!(deep.call(1000).unwrap(), 1000);
    store.set_max_wasm_stack(16 << 10);
    assert_eq!(trap_code(&deep.call(1000).unwrap_err()), Some(TrapCode::STACK_OVERFLOW));
    store.set_max_wasm_stack(kiln_loader::DEFAULT_MAX_WASM_STACK);
    assert_eq!(deep.call(1000).unwrap(), 1000);
}

#[test]
fn small_thread_stacks_overflow_into_a_trap() {
    let handle = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(|| {
            let Some(module) = compile("reentry") else { return };
            let store = Store::new();
            let mut linker = Linker::new();
            linker.func_new(&store, "host", "callback", ty(&[ValType::I32], &[ValType::I32]), |_, _| Ok(())).unwrap();
            let instance = linker.instantiate(&store, &module).unwrap();
            let deep = instance.typed_func::<i32, i32>("deep").unwrap();
            assert_eq!(trap_code(&deep.call(1_000_000).unwrap_err()), Some(TrapCode::STACK_OVERFLOW));
            assert_eq!(deep.call(10).unwrap(), 10);
        })
        .unwrap();
    handle.join().unwrap();
}

/// The count of `r` once a GC has dropped what the activations table held
/// for finished calls.
fn count_after_gc(store: &Store, r: &ExternRef) -> usize {
    store.gc();
    r.strong_count()
}
