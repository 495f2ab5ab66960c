//! The embedding API as a service uses it: `Store<T>` per request, a shared
//! `Module` and `InstancePre`, host functions with `Caller`, stores moving
//! between threads, and nothing left behind when a store is dropped.

mod common;

use kiln_loader::wasi::WasiCtx;
use kiln_loader::{
    Caller, Engine, Error, Func, FuncType, Instance, InstancePre, Linker, Memory, MemoryType, Module, Store, TrapCode,
    Val, ValType,
};

/// Compiles a `.wat` file of tests/wat with the compiler behind `kilnc`
/// and loads the object as `kiln` does.
fn module(engine: &Engine, name: &str) -> Module {
    let path = common::tests_path(&format!("wat/{name}.wat"));
    let source = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let object = kiln_compiler::compile(&source, &Default::default()).expect("compiles");
    kiln_tests::module_from_bytes(engine, &object).expect("loads")
}

fn assert_send<T: Send>() {}
fn assert_send_sync<T: Send + Sync>() {}

/// Host state of the call tests: what `env.record` was given.
#[derive(Default)]
struct Recorded(Vec<i32>);

fn calls_pre(engine: &Engine) -> InstancePre<Recorded> {
    let mut linker = Linker::<Recorded>::new(engine);
    linker
        .func_wrap("env", "record", |mut caller: Caller<'_, Recorded>, value: i32| {
            caller.data_mut().0.push(value);
            value * 2
        })
        .expect("record");
    linker.instantiate_pre(&module(engine, "embedding_calls")).expect("imports resolve")
}

#[test]
fn stores_are_send_and_modules_are_shared() {
    assert_send::<Store<Recorded>>();
    assert_send::<Store<WasiCtx>>();
    assert_send_sync::<Engine>();
    assert_send_sync::<Module>();
    assert_send_sync::<Linker<Recorded>>();
    assert_send_sync::<InstancePre<Recorded>>();
    assert_send_sync::<Func>();
    assert_send_sync::<Instance>();
    assert_send_sync::<Memory>();
    assert_send_sync::<Error>();
}

#[test]
fn a_store_moves_to_another_thread_mid_life() {
    let engine = Engine::default();
    let pre = calls_pre(&engine);
    let mut store = Store::new(&engine, Recorded::default());
    let instance = pre.instantiate(&mut store).expect("instantiates");
    let call = instance.get_typed_func::<i32, i32>(&store, "call_record").expect("call_record");
    assert_eq!(call.call(&mut store, 5).expect("call"), 10);
    let here = std::thread::current().id();
    let (store, there) = std::thread::spawn(move || {
        // The same instance, its host functions and its state, on another thread.
        assert_eq!(call.call(&mut store, 6).expect("call"), 12);
        let div = instance.get_typed_func::<(i32, i32), i32>(&store, "div").expect("div");
        assert!(div.call(&mut store, (1, 0)).is_err());
        (store, std::thread::current().id())
    })
    .join()
    .expect("thread");
    assert_ne!(here, there);
    assert_eq!(store.data().0, [7, 5, 6], "start, then one call on each thread");
}

#[test]
fn two_threads_run_a_thousand_stores_each_from_one_module() {
    let engine = Engine::default();
    let pre = calls_pre(&engine);
    let threads: Vec<_> = (0..2)
        .map(|thread| {
            let (engine, pre) = (engine.clone(), pre.clone());
            std::thread::spawn(move || {
                for i in 0..1000 {
                    let mut store = Store::new(&engine, Recorded::default());
                    let instance = pre.instantiate(&mut store).expect("instantiates");
                    let div = instance.get_typed_func::<(i32, i32), i32>(&store, "div").expect("div");
                    if (i + thread) % 2 == 0 {
                        let trap = div.call(&mut store, (i, 0)).expect_err("divides by zero");
                        assert_eq!(trap.trap().and_then(|t| t.code), Some(TrapCode::INTEGER_DIVISION_BY_ZERO));
                    } else {
                        assert_eq!(div.call(&mut store, (i * 3, 3)).expect("divides"), i);
                    }
                    // A trap leaves the store usable.
                    assert_eq!(div.call(&mut store, (8, 2)).expect("divides"), 4);
                    assert_eq!(store.data().0, [7]);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("thread");
    }
}

#[test]
fn handles_of_another_store_are_errors() {
    let engine = Engine::default();
    let pre = calls_pre(&engine);
    let mut a = Store::new(&engine, Recorded::default());
    let mut b = Store::new(&engine, Recorded::default());
    let instance = pre.instantiate(&mut a).expect("instantiates");
    let div = instance.get_func(&a, "div").expect("div");
    let mut results = [Val::I32(0)];
    let error = div.call(&mut b, &[Val::I32(1), Val::I32(1)], &mut results).expect_err("foreign function");
    assert!(matches!(error, Error::ForeignHandle("function")), "{error}");
    let typed = div.typed::<(i32, i32), i32>(&a).expect("typed");
    assert!(matches!(typed.call(&mut b, (1, 1)), Err(Error::ForeignHandle(_))));
    let memory = instance.get_memory(&a, "memory").expect("memory");
    let mut byte = [0u8];
    assert!(matches!(memory.read(&b, 0, &mut byte), Err(Error::ForeignHandle("memory"))));
    assert!(instance.get_export(&b, "div").is_none(), "an instance of another store exports nothing");
    // The accessors that cannot fail otherwise panic, never reading another store.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| memory.data(&b).len()));
    assert!(panicked.is_err());
    // A foreign funcref is refused before any table or Wasm sees it.
    let table_type =
        kiln_loader::TableType { element: kiln_loader::RefType::FUNCREF, minimum: 1, maximum: None, table64: false };
    let table = kiln_loader::Table::new(&mut b, table_type, Val::FuncRef(None)).expect("table");
    assert!(matches!(table.set(&mut b, 0, Val::FuncRef(Some(div))), Err(Error::ForeignHandle("function"))));
    let mut linker = Linker::<Recorded>::new(&engine);
    assert!(linker.define(&b, "env", "div", div).is_err(), "defined with the wrong store");
    assert_eq!(memory.data(&a)[..4], [1, 2, 3, 4], "store a is untouched");
}

#[derive(Debug, thiserror::Error)]
#[error("the host refused {0}")]
struct Refused(i32);

#[test]
fn host_errors_keep_their_type_and_panics_become_errors() {
    let engine = Engine::default();
    let mut linker = Linker::<Recorded>::new(&engine);
    linker
        .func_wrap("env", "record", |value: i32| -> Result<i32, Refused> {
            match value {
                7 => Ok(0),
                13 => panic!("unlucky {value}"),
                _ => Err(Refused(value)),
            }
        })
        .expect("record");
    let mut store = Store::new(&engine, Recorded::default());
    let instance = linker.instantiate(&mut store, &module(&engine, "embedding_calls")).expect("instantiates");
    let call = instance.get_typed_func::<i32, i32>(&store, "call_record").expect("call_record");
    let error = call.call(&mut store, 5).expect_err("refused");
    assert_eq!(error.downcast_ref::<Refused>().map(|r| r.0), Some(5), "{error}");
    let error = call.call(&mut store, 13).expect_err("panicked");
    assert!(matches!(&error, Error::Host(_)) && error.to_string().contains("unlucky 13"), "{error}");
    assert_eq!(call.call(&mut store, 7).expect("the store still works"), 0);
}

#[test]
fn a_linker_serves_only_stores_of_its_engine() {
    let (ours, theirs) = (Engine::default(), Engine::default());
    let mut linker = Linker::<()>::new(&ours);
    linker.func_wrap("env", "f", |x: i64, y: i64| x + y).expect("f");
    let mut foreign = Store::new(&theirs, ());
    assert!(linker.get(&mut foreign, "env", "f").is_none(), "type ids of another engine mean other types");
    let mut store = Store::new(&ours, ());
    let f = linker.get(&mut store, "env", "f").and_then(|e| e.into_func()).expect("f");
    assert_eq!(f.typed::<(i64, i64), i64>(&store).expect("typed").call(&mut store, (2, 3)).expect("call"), 5);

    let pre = calls_pre(&ours);
    let mut a = Store::new(&ours, Recorded::default());
    let instance = pre.instantiate(&mut a).expect("instantiates");
    let mut linker = Linker::<Recorded>::new(&ours);
    let b = Store::new(&ours, Recorded::default());
    assert!(matches!(linker.instance(&b, "calls", instance), Err(Error::ForeignHandle("instance"))));
}

#[test]
fn names_are_defined_once_unless_shadowing_is_allowed() {
    let engine = Engine::default();
    let mut linker = Linker::<()>::new(&engine);
    linker.func_wrap("env", "f", || {}).expect("first");
    let error = linker.func_wrap("env", "f", || {}).expect_err("second");
    assert!(error.to_string().contains("defined twice"), "{error}");
    linker.allow_shadowing(true).func_wrap("env", "f", |x: i32| x).expect("shadowed");
}

#[test]
fn instance_pre_checks_host_function_types_once() {
    let engine = Engine::default();
    let mut linker = Linker::<Recorded>::new(&engine);
    linker.func_wrap("env", "record", |value: i64| value).expect("record");
    let error = linker.instantiate_pre(&module(&engine, "embedding_calls")).expect_err("wrong type");
    assert!(error.to_string().contains("incompatible import type"), "{error}");
    let mut linker = Linker::<Recorded>::new(&engine);
    let ty = FuncType { params: vec![ValType::I32], results: vec![ValType::I32] };
    linker
        .func_new("env", "record", ty, |mut caller, args, results| {
            caller.data_mut().0.push(args[0].i32().unwrap_or(-1));
            results[0] = Val::I32(1);
            Ok(())
        })
        .expect("record");
    let pre = linker.instantiate_pre(&module(&engine, "embedding_calls")).expect("resolves");
    for _ in 0..3 {
        let mut store = Store::new(&engine, Recorded::default());
        let instance = pre.instantiate(&mut store).expect("instantiates");
        assert_eq!(instance.get_global(&store, "started").expect("started").get(&store).i32(), Some(1));
        assert_eq!(store.into_data().0, [7]);
    }
}

#[test]
fn host_memory_helpers_check_bounds() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let memory = Memory::new(&mut store, MemoryType { minimum: 1, maximum: Some(2), shared: false, memory64: false })
        .expect("memory");
    memory.write_le(&mut store, 8, 0xdead_beef_u32).expect("write");
    assert_eq!(memory.read_le::<u32>(&store, 8).expect("read"), 0xdead_beef);
    assert_eq!(memory.read_le::<u16>(&store, 10).expect("read"), 0xdead);
    assert!(memory.read_le::<u64>(&store, 65_532).is_err());
    assert!(memory.write_le(&mut store, 65_535, 1u16).is_err());
    assert!(memory.write(&mut store, usize::MAX, &[1]).is_err());
    memory.data_mut(&mut store)[65_535] = 9;
    assert_eq!(memory.grow(&mut store, 1).expect("grow"), 1);
    assert_eq!(memory.data(&store).len(), 2 << 16);
    assert_eq!(memory.data(&store)[65_535], 9);
    assert!(memory.grow(&mut store, 1).is_err(), "past the maximum");
}

#[test]
fn typed_host_functions_are_callable_from_the_host() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, 10i64);
    let add = Func::wrap(&mut store, |mut caller: Caller<'_, i64>, x: i64, y: i64| {
        *caller.data_mut() += 1;
        x + y
    });
    let typed = add.typed::<(i64, i64), i64>(&store).expect("typed");
    assert_eq!(typed.call(&mut store, (2, 3)).expect("call"), 5);
    let mut results = [Val::I64(0)];
    add.call(&mut store, &[Val::I64(4), Val::I64(5)], &mut results).expect("call");
    assert_eq!(results[0].i64(), Some(9));
    assert!(add.typed::<(i32, i32), i32>(&store).is_err());
    assert_eq!(*store.data(), 12);
}

#[test]
fn a_nested_call_from_another_thread_is_refused() {
    let engine = Engine::default();
    let mut linker = Linker::<Recorded>::new(&engine);
    linker
        .func_wrap("env", "record", |mut caller: Caller<'_, Recorded>, value: i32| -> anyhow::Result<i32> {
            if value == 1 {
                let div = caller.get_export("div").and_then(|e| e.into_func()).expect("div");
                let div = div.typed::<(i32, i32), i32>(&caller)?;
                // Wasm suspended on this thread cannot be re-entered from another.
                let outcome = std::thread::scope(|s| s.spawn(|| div.call(&mut caller, (4, 2))).join().expect("thread"));
                assert!(matches!(outcome, Err(Error::WrongThread)), "{outcome:?}");
                return Ok(div.call(&mut caller, (4, 2))?);
            }
            Ok(value)
        })
        .expect("record");
    let mut store = Store::new(&engine, Recorded::default());
    let instance = linker.instantiate(&mut store, &module(&engine, "embedding_calls")).expect("instantiates");
    let call = instance.get_typed_func::<i32, i32>(&store, "call_record").expect("call_record");
    assert_eq!(call.call(&mut store, 1).expect("nested call on the same thread"), 2);
}
