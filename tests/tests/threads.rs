//! Threads: stores on several threads instantiating modules that import one
//! `SharedMemory` (`tests/wat/threads.wat`). Atomic increments from two
//! threads add up exactly, a wait/notify ping-pong moves in strict turns,
//! waits time out, notify counts the waiters it woke, an epoch deadline
//! interrupts a wait, growth is seen by every thread, and a module's own
//! shared memory is exported as a `SharedMemory`. The threads proposal's
//! scripts and `tests/wat/threads_bounds.wast` pass with no failure.

mod common;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use kiln_compiler::CompileOptions;
use kiln_loader::{
    Engine, Error, Extern, Instance, Linker, MemoryType, Module, SharedMemory, Store, TrapCode, TypedFunc, WaitResult,
    WasmParams, WasmResults,
};
use kiln_tests::{run_scripts_isolated, IsolateOptions, RunOptions};

fn compile(engine: &Engine, source: &[u8], options: &CompileOptions) -> Module {
    let object = kiln_compiler::compile(source, options).expect("compiles");
    kiln_tests::module_from_bytes(engine, &object).expect("loads")
}

/// `tests/wat/threads.wat`.
fn threads_module(engine: &Engine, options: &CompileOptions) -> Module {
    let path = common::tests_path("wat/threads.wat");
    let source = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    compile(engine, &source, options)
}

fn shared_memory(engine: &Engine) -> SharedMemory {
    SharedMemory::new(engine, MemoryType { minimum: 1, maximum: Some(4), shared: true, memory64: false })
        .expect("shared memory")
}

/// An instance of `module` in a store of its own, importing `memory` as
/// `env.memory`.
fn instantiate(module: &Module, memory: &SharedMemory) -> (Store<()>, Instance) {
    let mut store = Store::new(module.engine(), ());
    let mut linker = Linker::new(module.engine());
    linker.define(&store, "env", "memory", memory.clone()).expect("defines the memory");
    let instance = linker.instantiate(&mut store, module).expect("instantiates");
    (store, instance)
}

fn func<P: WasmParams, R: WasmResults>(store: &mut Store<()>, instance: Instance, name: &str) -> TypedFunc<P, R> {
    instance.get_typed_func::<P, R>(&mut *store, name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Runs `body` on a new thread with a store of its own.
fn on_thread<R: Send + 'static>(
    module: &Module,
    memory: &SharedMemory,
    body: impl FnOnce(&mut Store<()>, Instance) -> R + Send + 'static,
) -> thread::JoinHandle<R> {
    let (module, memory) = (module.clone(), memory.clone());
    thread::spawn(move || {
        let (mut store, instance) = instantiate(&module, &memory);
        body(&mut store, instance)
    })
}

fn read_u32(memory: &SharedMemory, address: usize) -> u32 {
    let mut bytes = [0u8; 4];
    memory.read(address, &mut bytes).expect("in bounds");
    u32::from_le_bytes(bytes)
}

const WAIT_OK: i32 = 0;
const WAIT_NOT_EQUAL: i32 = 1;
const WAIT_TIMED_OUT: i32 = 2;

#[test]
fn atomic_increments_from_two_threads_add_up_exactly() {
    const N: i32 = 200_000;
    let engine = Engine::default();
    let module = threads_module(&engine, &CompileOptions::default());
    let memory = shared_memory(&engine);
    let workers: Vec<_> = (0..2)
        .map(|_| {
            on_thread(&module, &memory, |store, instance| {
                func::<i32, ()>(store, instance, "increment").call(&mut *store, N).expect("increments");
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker");
    }
    assert_eq!(read_u32(&memory, 0), 2 * N as u32);
    // The same word, read by Wasm in yet another store.
    let (mut store, instance) = instantiate(&module, &memory);
    assert_eq!(func::<i32, i32>(&mut store, instance, "load").call(&mut store, 0).unwrap(), 2 * N);
}

#[test]
fn wait_and_notify_ping_pong_moves_in_turns() {
    const ROUNDS: i32 = 2000;
    let engine = Engine::default();
    let module = threads_module(&engine, &CompileOptions::default());
    let memory = shared_memory(&engine);
    let players: Vec<_> = (0..2)
        .map(|me| {
            on_thread(&module, &memory, move |store, instance| {
                func::<(i32, i32), ()>(store, instance, "play").call(&mut *store, (me, ROUNDS)).expect("plays");
            })
        })
        .collect();
    for player in players {
        player.join().expect("player");
    }
    assert_eq!(read_u32(&memory, 12), 2 * ROUNDS as u32, "every move was logged");
    let log: Vec<u32> = (0..2 * ROUNDS as usize).map(|i| read_u32(&memory, 16 + 4 * i)).collect();
    let expected: Vec<u32> = (0..ROUNDS as u32).flat_map(|k| [k, 1000 + k]).collect();
    assert_eq!(log, expected);
    assert_eq!(read_u32(&memory, 8), 0, "the turn is back with player 0");
}

#[test]
fn waits_time_out_or_see_another_value() {
    let engine = Engine::default();
    let module = threads_module(&engine, &CompileOptions::default());
    let memory = shared_memory(&engine);
    let (mut store, instance) = instantiate(&module, &memory);
    let wait32 = func::<(i32, i32, i64), i32>(&mut store, instance, "wait32");
    let wait64 = func::<(i32, i64, i64), i32>(&mut store, instance, "wait64");

    let start = Instant::now();
    assert_eq!(wait32.call(&mut store, (64, 0, 30_000_000)).unwrap(), WAIT_TIMED_OUT);
    assert!(start.elapsed() >= Duration::from_millis(30), "{:?}", start.elapsed());
    let start = Instant::now();
    assert_eq!(wait64.call(&mut store, (64, 0, 20_000_000)).unwrap(), WAIT_TIMED_OUT);
    assert!(start.elapsed() >= Duration::from_millis(20), "{:?}", start.elapsed());
    assert_eq!(wait32.call(&mut store, (64, 0, 0)).unwrap(), WAIT_TIMED_OUT);

    memory.write(64, &7u64.to_le_bytes()).unwrap();
    assert_eq!(wait32.call(&mut store, (64, 0, -1)).unwrap(), WAIT_NOT_EQUAL);
    assert_eq!(wait64.call(&mut store, (64, 7 << 32, -1)).unwrap(), WAIT_NOT_EQUAL);

    // The host waits on the same queues.
    assert_eq!(memory.atomic_wait32(64, 7, Some(Duration::from_millis(5))).unwrap(), WaitResult::TimedOut);
    assert_eq!(memory.atomic_wait64(64, 8, None).unwrap(), WaitResult::NotEqual);

    let trap_of = |outcome: Result<i32, Error>| outcome.expect_err("traps").trap().and_then(|t| t.code);
    assert_eq!(trap_of(wait32.call(&mut store, (66, 0, 0))), Some(TrapCode::UNALIGNED_ATOMIC));
    assert_eq!(trap_of(wait64.call(&mut store, (68, 0, 0))), Some(TrapCode::UNALIGNED_ATOMIC));
    assert_eq!(trap_of(wait32.call(&mut store, (65536, 0, 0))), Some(TrapCode::MEMORY_OUT_OF_BOUNDS));
    assert!(memory.atomic_wait32(2, 0, None).is_err(), "misaligned");
}

#[test]
fn notify_counts_the_waiters_it_woke() {
    const WAITERS: usize = 3;
    let engine = Engine::default();
    let module = threads_module(&engine, &CompileOptions::default());
    let memory = shared_memory(&engine);
    let (mut store, instance) = instantiate(&module, &memory);
    let notify = func::<(i32, i32), i32>(&mut store, instance, "notify");
    assert_eq!(notify.call(&mut store, (32776, 10)).unwrap(), 0, "no one waits yet");

    let waiters: Vec<_> = (0..WAITERS)
        .map(|_| {
            on_thread(&module, &memory, |store, instance| {
                func::<(), i32>(store, instance, "wait_in_room").call(&mut *store, ()).expect("waits")
            })
        })
        .collect();
    while read_u32(&memory, 32768) < WAITERS as u32 {
        thread::yield_now();
    }
    // A waiter that has announced itself may not be queued yet: notify
    // until every one is woken. Each notify wakes at most `count`, and the
    // counts it returns add up to the waiters that woke.
    let mut woken_by_notify = 0;
    let mut tries = 0;
    while woken_by_notify < WAITERS as i32 {
        let count = if woken_by_notify == 0 { 1 } else { 2 };
        let woken = notify.call(&mut store, (32776, count)).unwrap();
        assert!((0..=count).contains(&woken), "{woken} woken by a notify of {count}");
        woken_by_notify += woken;
        tries += 1;
        assert!(tries < 100_000, "the waiters never queued");
        if woken == 0 {
            thread::sleep(Duration::from_micros(100));
        }
    }
    let results: Vec<i32> = waiters.into_iter().map(|w| w.join().expect("waiter")).collect();
    assert_eq!(results, vec![WAIT_OK; WAITERS]);
    assert_eq!(woken_by_notify, WAITERS as i32);
    assert_eq!(read_u32(&memory, 32772), WAITERS as u32, "every waiter counted its wake-up");
    assert_eq!(notify.call(&mut store, (32776, 10)).unwrap(), 0, "the queue is empty again");
    assert_eq!(memory.atomic_notify(32776, 1).unwrap(), 0);
}

#[test]
fn the_host_wakes_a_waiting_thread() {
    let engine = Engine::default();
    let module = threads_module(&engine, &CompileOptions::default());
    let memory = shared_memory(&engine);
    let waiter = on_thread(&module, &memory, |store, instance| {
        func::<(), i32>(store, instance, "wait_in_room").call(&mut *store, ()).expect("waits")
    });
    while read_u32(&memory, 32768) < 1 {
        thread::yield_now();
    }
    let mut woken = 0;
    while woken == 0 {
        woken = memory.atomic_notify(32776, u32::MAX).unwrap();
        thread::yield_now();
    }
    assert_eq!(woken, 1);
    assert_eq!(waiter.join().unwrap(), WAIT_OK);
}

#[test]
fn an_epoch_deadline_interrupts_a_wait() {
    let engine = Engine::default();
    let options = CompileOptions { epoch_interruption: true, ..CompileOptions::default() };
    let module = threads_module(&engine, &options);
    let memory = shared_memory(&engine);
    let (mut store, instance) = instantiate(&module, &memory);
    store.set_epoch_deadline(1).expect("instrumented code takes a deadline");
    let ticker = {
        let engine = engine.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            engine.increment_epoch();
        })
    };
    let wait32 = func::<(i32, i32, i64), i32>(&mut store, instance, "wait32");
    let error = wait32.call(&mut store, (64, 0, -1)).expect_err("the deadline ends the wait");
    ticker.join().unwrap();
    assert_eq!(error.trap().and_then(|t| t.code), Some(TrapCode::INTERRUPT), "{error}");
    assert_eq!(memory.atomic_notify(64, 1).unwrap(), 0, "the interrupted waiter left the queue");
}

#[test]
fn growth_is_seen_by_every_thread() {
    let engine = Engine::default();
    let module = threads_module(&engine, &CompileOptions::default());
    let memory = shared_memory(&engine);
    let grower = on_thread(&module, &memory, |store, instance| {
        let grow = func::<i32, i32>(store, instance, "grow");
        (grow.call(&mut *store, 2).unwrap(), grow.call(&mut *store, 2).unwrap())
    });
    assert_eq!(grower.join().unwrap(), (1, -1), "grown to 3 pages, then past the maximum of 4");
    let reader = on_thread(&module, &memory, |store, instance| {
        let size = func::<(), i32>(store, instance, "size").call(&mut *store, ()).unwrap();
        let last = func::<i32, i32>(store, instance, "load").call(&mut *store, 3 * 65536 - 4).unwrap();
        (size, last)
    });
    assert_eq!(reader.join().unwrap(), (3, 0));
    assert_eq!(memory.size(), 3);
    assert_eq!(memory.grow(1).unwrap(), 3);
    assert!(memory.grow(1).is_err());
    assert_eq!(memory.data_size(), 4 * 65536);
}

#[test]
fn a_defined_shared_memory_is_exported_as_a_shared_memory() {
    let engine = Engine::default();
    let definer = compile(
        &engine,
        br#"(module
              (memory (export "memory") 1 2 shared)
              (data (i32.const 8) "\2a")
              (func (export "add") (param i32) (result i32)
                (i32.atomic.rmw.add (i32.const 8) (local.get 0))))"#,
        &CompileOptions::default(),
    );
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &definer, &[]).expect("instantiates");
    assert!(instance.get_memory(&store, "memory").is_none(), "not a store's own memory");
    let memory = instance.get_shared_memory(&store, "memory").expect("a shared memory");
    assert!(matches!(instance.get_export(&store, "memory"), Some(Extern::SharedMemory(_))));
    assert_eq!(read_u32(&memory, 8), 42, "the data segment was applied");
    assert!(memory.same(&instance.get_shared_memory(&store, "memory").unwrap()));

    // Another store on another thread imports it, and so keeps it alive.
    let module = threads_module(&engine, &CompileOptions::default());
    let memory = Arc::new(memory);
    let other = {
        let (module, memory) = (module.clone(), memory.clone());
        thread::spawn(move || {
            let importer_memory = SharedMemory::clone(&memory);
            let (mut store, instance) = instantiate(&module, &importer_memory);
            func::<i32, ()>(&mut store, instance, "increment").call(&mut store, 8).unwrap();
            let load = func::<i32, i32>(&mut store, instance, "load");
            load.call(&mut store, 0).unwrap()
        })
    };
    assert_eq!(other.join().unwrap(), 8);
    let add = func::<i32, i32>(&mut store, instance, "add");
    assert_eq!(add.call(&mut store, 1).unwrap(), 42);
    drop(store);
    assert_eq!(read_u32(&memory, 8), 43, "the memory outlives the store that defined it");
}

#[test]
fn shared_and_unshared_memories_do_not_satisfy_each_other() {
    let engine = Engine::default();
    let module = threads_module(&engine, &CompileOptions::default());
    let unshared_importer = compile(&engine, br#"(module (import "env" "memory" (memory 1 4)))"#, &Default::default());
    let memory = shared_memory(&engine);
    let mut store = Store::new(&engine, ());
    let error = Instance::new(&mut store, &unshared_importer, &[memory.clone().into()]).expect_err("refused");
    assert!(error.to_string().contains("incompatible import type"), "{error}");
    let unshared = kiln_loader::Memory::new(
        &mut store,
        MemoryType { minimum: 1, maximum: Some(4), shared: false, memory64: false },
    )
    .expect("memory");
    let error = Instance::new(&mut store, &module, &[unshared.into()]).expect_err("refused");
    assert!(error.to_string().contains("incompatible import type"), "{error}");
    let too_big =
        SharedMemory::new(&engine, MemoryType { minimum: 1, maximum: Some(8), shared: true, memory64: false }).unwrap();
    assert!(Instance::new(&mut store, &module, &[too_big.into()]).is_err(), "a larger maximum does not match");
    assert!(
        SharedMemory::new(&engine, MemoryType { minimum: 1, maximum: None, shared: true, memory64: false }).is_err()
    );
    assert!(kiln_loader::Memory::new(
        &mut store,
        MemoryType { minimum: 1, maximum: Some(1), shared: true, memory64: false }
    )
    .is_err());
}

#[test]
fn a_wait_on_an_unshared_memory_traps() {
    let engine = Engine::default();
    let module = compile(
        &engine,
        br#"(module
              (memory 1 1)
              (func (export "wait") (result i32)
                (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const 0)))
              (func (export "notify") (result i32)
                (memory.atomic.notify (i32.const 0) (i32.const 1))))"#,
        &CompileOptions::default(),
    );
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).expect("instantiates");
    let error = func::<(), i32>(&mut store, instance, "wait").call(&mut store, ()).expect_err("traps");
    let trap = error.trap().expect("a trap");
    assert_eq!(trap.code, Some(TrapCode::EXPECTED_SHARED_MEMORY));
    assert_eq!(trap.message, "expected shared memory");
    assert_eq!(func::<(), i32>(&mut store, instance, "notify").call(&mut store, ()).unwrap(), 0);
}

#[test]
fn threads_scripts_pass() {
    let dir = common::workspace_root().join("tests/testsuite/proposals/threads");
    let mut scripts: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wast"))
        .collect();
    scripts.sort();
    assert_eq!(scripts.len(), 4, "the threads proposal has 4 scripts in {}", dir.display());
    scripts.push(common::tests_path("wat/threads_bounds.wast"));
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_kiln-wast"));
    for pooling in [false, true] {
        let options =
            IsolateOptions { run: RunOptions { pooling, ..Default::default() }, timeout: Duration::from_secs(300) };
        let reports = run_scripts_isolated(&exe, &scripts, &options, 2);
        for report in &reports {
            assert!(report.passed > 0, "{}: no directive ran", report.summary());
            assert_eq!(report.failed(), 0, "{} (pooling: {pooling}): {:?}", report.summary(), report.failures);
        }
    }
}
