//! Tail calls (`return_call`, `return_call_indirect`): deep mutual
//! recursion in constant stack, tail calls to the host, the GC's stack
//! walk and backtraces across replaced frames, and epoch and fuel checks
//! in code whose only way to run long is tail calls.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use kiln_compiler::CompileOptions;
use kiln_loader::{Caller, Engine, Error, ExternRef, Instance, Linker, Module, Store, TrapCode};

/// Mutual recursion depth of the constant-stack tests.
const DEPTH: i64 = 10_000_000;

/// A Wasm stack budget far below what `DEPTH` frames would need (a frame
/// takes at least 16 bytes), so that only constant stack can pass.
const SMALL_STACK: usize = 64 << 10;

#[derive(Default)]
struct Host {
    /// Collections run by `host.collect`, and what each released.
    collections: Vec<usize>,
}

/// A host value that counts its drops.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn module(engine: &Engine, options: &CompileOptions) -> Module {
    let path = common::tests_path("wat/tail_calls.wat");
    let source = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let object = kiln_compiler::compile(&source, options).expect("compiles");
    kiln_tests::module_from_bytes(engine, &object).expect("loads")
}

fn instantiate(options: &CompileOptions) -> (Store<Host>, Instance) {
    let engine = Engine::default();
    let module = module(&engine, options);
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap("host", "collect", |mut caller: Caller<'_, Host>, r: Option<ExternRef>| -> Result<_, Error> {
            let stats = caller.gc()?;
            assert!(!stats.skipped, "the stack walk reached the entry frame");
            caller.data_mut().collections.push(stats.released);
            Ok(r)
        })
        .unwrap();
    linker
        .func_wrap("host", "fail", |code: i32| -> Result<i32, Error> {
            Err(Error::Host(anyhow::anyhow!("host failure {code}")))
        })
        .unwrap();
    let mut store = Store::new(&engine, Host::default());
    let instance = linker.instantiate(&mut store, &module).expect("instantiates");
    (store, instance)
}

#[test]
fn ten_million_mutually_recursive_tail_calls_run_in_constant_stack() {
    let (mut store, instance) = instantiate(&CompileOptions::default());
    store.set_max_wasm_stack(SMALL_STACK);
    let even = instance.get_typed_func::<i64, i32>(&mut store, "even").unwrap();
    let odd = instance.get_typed_func::<i64, i32>(&mut store, "odd").unwrap();
    assert_eq!(even.call(&mut store, DEPTH).unwrap(), 1);
    assert_eq!(even.call(&mut store, DEPTH + 1).unwrap(), 0);
    assert_eq!(odd.call(&mut store, DEPTH + 1).unwrap(), 1);
}

#[test]
fn ten_million_indirect_tail_calls_run_in_constant_stack() {
    let (mut store, instance) = instantiate(&CompileOptions::default());
    store.set_max_wasm_stack(SMALL_STACK);
    let even = instance.get_typed_func::<i64, i32>(&mut store, "even_indirect").unwrap();
    assert_eq!(even.call(&mut store, DEPTH).unwrap(), 1);
    assert_eq!(even.call(&mut store, DEPTH - 1).unwrap(), 0);
}

#[test]
fn tail_calls_with_stack_arguments_rotate_them() {
    let (mut store, instance) = instantiate(&CompileOptions::default());
    store.set_max_wasm_stack(SMALL_STACK);
    let sum8 = instance.get_func(&store, "sum8").unwrap();
    let args: Vec<kiln_loader::Val> = std::iter::once(kiln_loader::Val::I64(1_000_001))
        .chain((1..=8).map(|i| kiln_loader::Val::I64(i * 10)))
        .collect();
    let mut results = [kiln_loader::Val::I64(0)];
    sum8.call(&mut store, &args, &mut results).unwrap();
    assert_eq!(results[0].i64(), Some(360));
}

#[test]
fn a_gc_in_a_tail_called_host_function_keeps_and_frees_exactly() {
    let (mut store, instance) = instantiate(&CompileOptions::default());
    let drops = Arc::new(AtomicUsize::new(0));
    for name in ["collect_now", "collect_after", "collect_deep"] {
        let value = ExternRef::new(Counted(drops.clone()));
        let result = match name {
            "collect_now" => instance
                .get_typed_func::<Option<ExternRef>, Option<ExternRef>>(&mut store, name)
                .unwrap()
                .call(&mut store, Some(value.clone())),
            _ => instance
                .get_typed_func::<(i32, Option<ExternRef>), Option<ExternRef>>(&mut store, name)
                .unwrap()
                .call(&mut store, (1000, Some(value.clone()))),
        }
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let result = result.unwrap_or_else(|| panic!("{name} lost the reference"));
        assert!(ExternRef::ptr_eq(&result, &value), "{name}");
        drop((result, value));
        store.gc().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1, "{name}: dropped exactly once, after the call");
        drops.store(0, Ordering::SeqCst);
    }
    assert_eq!(store.data().collections.len(), 3);
}

#[test]
fn errors_and_traps_after_tail_calls_report_the_remaining_frames() {
    let (mut store, instance) = instantiate(&CompileOptions::default());
    let fail = instance.get_typed_func::<i32, i32>(&mut store, "fail_tail").unwrap();
    let error = fail.call(&mut store, 7).unwrap_err();
    assert!(error.to_string().contains("host failure 7"), "{error}");

    let trap = instance.get_typed_func::<i32, i32>(&mut store, "trap_after_tail").unwrap();
    let error = trap.call(&mut store, 1).unwrap_err();
    let trap = error.trap().unwrap_or_else(|| panic!("not a trap: {error}"));
    assert_eq!(trap.code, Some(TrapCode::UNREACHABLE));
    // $trap replaced $trap_tail, which $trap_caller called.
    let names: Vec<Option<&str>> = trap.backtrace.iter().map(|f| f.func_name.as_deref()).collect();
    assert_eq!(names, [Some("trap"), Some("trap_caller")], "{trap:?}");
}

#[test]
fn tail_call_recursion_is_stopped_by_an_epoch_deadline() {
    let options = CompileOptions { epoch_interruption: true, ..Default::default() };
    let (mut store, instance) = instantiate(&options);
    store.set_epoch_deadline(1).unwrap();
    let engine = store.engine().clone();
    let ticker = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(20));
        engine.increment_epoch();
    });
    let ping = instance.get_typed_func::<i64, i64>(&mut store, "ping").unwrap();
    let error = ping.call(&mut store, 0).unwrap_err();
    ticker.join().unwrap();
    assert_eq!(error.trap().and_then(|t| t.code), Some(TrapCode::INTERRUPT), "{error}");
}

#[test]
fn tail_call_recursion_runs_out_of_fuel() {
    let options = CompileOptions { fuel: true, ..Default::default() };
    let (mut store, instance) = instantiate(&options);
    store.set_fuel(100_000).unwrap();
    let ping = instance.get_typed_func::<i64, i64>(&mut store, "ping").unwrap();
    let error = ping.call(&mut store, 0).unwrap_err();
    assert_eq!(error.trap().and_then(|t| t.code), Some(TrapCode::OUT_OF_FUEL), "{error}");
    assert_eq!(store.get_fuel().unwrap(), 0);
}
