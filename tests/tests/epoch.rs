//! Epoch interruption: `kilnc --epoch-interruption` code stopped by a
//! deadline that another thread's `Engine::increment_epoch` reaches, the
//! deadline callback, the refusal of deadlines for code without epoch
//! checks, and instrumented code running normally without a deadline.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiln_compiler::CompileOptions;
use kiln_loader::{Engine, Error, Instance, Module, Store, TrapCode, UpdateDeadline};

/// `tests/wat/epoch.wat`, compiled with or without epoch checks.
fn module(engine: &Engine, epoch_interruption: bool) -> Module {
    let path = common::tests_path("wat/epoch.wat");
    let source = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let options = CompileOptions { epoch_interruption, ..CompileOptions::default() };
    let object = kiln_compiler::compile(&source, &options).expect("compiles");
    kiln_tests::module_from_bytes(engine, &object).expect("loads")
}

fn spin<T>(store: &mut Store<T>, instance: Instance) -> Result<(), Error> {
    instance.get_typed_func::<(), ()>(&mut *store, "spin").expect("spin").call(&mut *store, ())
}

fn assert_interrupted(outcome: Result<(), Error>) {
    let error = outcome.expect_err("the deadline stops the loop");
    let trap = error.trap().unwrap_or_else(|| panic!("not a trap: {error}"));
    assert_eq!(trap.code, Some(TrapCode::INTERRUPT), "{error}");
    assert_eq!(trap.message, "interrupted");
}

/// Runs `spin` until a tick from another thread reaches the deadline;
/// returns the time from the tick to the trap returning.
fn interrupt_once(engine: &Engine, module: &Module) -> Duration {
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, module, &[]).expect("instantiates");
    store.set_epoch_deadline(1).expect("instrumented code takes a deadline");
    let ticker = {
        let engine = engine.clone();
        std::thread::spawn(move || {
            // Long enough for the call to be spinning.
            std::thread::sleep(Duration::from_millis(50));
            let ticked = Instant::now();
            engine.increment_epoch();
            ticked
        })
    };
    let outcome = spin(&mut store, instance);
    let returned = Instant::now();
    let ticked = ticker.join().expect("ticker");
    assert_interrupted(outcome);
    returned.saturating_duration_since(ticked)
}

#[test]
fn an_infinite_loop_is_interrupted_within_10ms_of_the_tick() {
    let engine = Engine::default();
    let module = module(&engine, true);
    let mut latencies: Vec<Duration> = (0..5).map(|_| interrupt_once(&engine, &module)).collect();
    latencies.sort();
    eprintln!("tick-to-trap latencies, sorted: {latencies:?}");
    let median = latencies[latencies.len() / 2];
    assert!(median < Duration::from_millis(10), "median latency {median:?} of {latencies:?}");
}

#[test]
fn a_deadline_of_zero_ticks_fires_at_the_first_check() {
    let engine = Engine::default();
    let module = module(&engine, true);
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    store.set_epoch_deadline(0).unwrap();
    assert_interrupted(spin(&mut store, instance));
    // The store stays usable: a later deadline lets normal code run.
    store.set_epoch_deadline(1_000_000).unwrap();
    let sum = instance.get_typed_func::<i32, i32>(&mut store, "sum").unwrap();
    assert_eq!(sum.call(&mut store, 100).unwrap(), 5050);
}

/// Ticks the epoch every millisecond until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: &Engine) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (engine, stop) = (engine.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(1));
                    engine.increment_epoch();
                }
            })
        };
        Ticker { stop, thread: Some(thread) }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("third deadline: enough")]
struct Enough;

#[test]
fn the_deadline_callback_extends_the_deadline_twice_then_fails_the_call() {
    let engine = Engine::default();
    let module = module(&engine, true);
    let mut store = Store::new(&engine, Vec::<u64>::new());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    store.epoch_deadline_callback(|mut ctx| {
        let calls = ctx.data().len();
        ctx.data_mut().push(calls as u64);
        if calls < 2 {
            Ok(UpdateDeadline::Continue(2))
        } else {
            Err(Enough.into())
        }
    });
    store.set_epoch_deadline(1).unwrap();
    let started = engine.current_epoch();
    let ticker = Ticker::start(&engine);
    let error = spin(&mut store, instance).expect_err("the callback's error ends the loop");
    drop(ticker);
    assert!(error.downcast_ref::<Enough>().is_some(), "{error}");
    assert_eq!(store.data(), &[0, 1, 2], "called three times");
    // One tick to the first deadline, then two more for each extension.
    assert!(engine.current_epoch() - started >= 5, "{} ticks", engine.current_epoch() - started);

    // Back to trapping: the next deadline is an `interrupt` trap.
    store.epoch_deadline_trap();
    store.set_epoch_deadline(0).unwrap();
    assert_interrupted(spin(&mut store, instance));
}

#[test]
fn a_deadline_is_refused_for_code_without_epoch_checks() {
    let engine = Engine::default();
    let plain = module(&engine, false);
    let instrumented = module(&engine, true);
    assert!(!plain.code().header().instrumentation.contains(kiln_format::Instrumentation::EPOCH));
    assert!(instrumented.code().header().instrumentation.contains(kiln_format::Instrumentation::EPOCH));

    // Deadline first: instantiating uninstrumented code fails, instrumented code is fine.
    let mut store = Store::new(&engine, ());
    store.set_epoch_deadline(10).unwrap();
    let error = Instance::new(&mut store, &plain, &[]).expect_err("refused");
    assert!(matches!(error, Error::Instantiation(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("compiled without --epoch-interruption"), "{message}");
    assert!(message.contains("`epoch`"), "names the module: {message}");
    Instance::new(&mut store, &instrumented, &[]).expect("instrumented code instantiates");

    // Instance first: the deadline is refused.
    let mut store = Store::new(&engine, ());
    Instance::new(&mut store, &plain, &[]).unwrap();
    let error = store.set_epoch_deadline(10).expect_err("refused");
    assert!(matches!(error, Error::Instrumentation(_)), "{error:?}");
    assert!(error.to_string().contains("compiled without --epoch-interruption"), "{error}");
}

#[test]
fn instrumented_code_without_a_deadline_runs_normally() {
    let engine = Engine::default();
    let instrumented = module(&engine, true);
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &instrumented, &[]).unwrap();
    for _ in 0..3 {
        engine.increment_epoch();
    }
    let _ticker = Ticker::start(&engine);
    let sum = instance.get_typed_func::<i32, i32>(&mut store, "sum").unwrap();
    let fib = instance.get_typed_func::<i32, i32>(&mut store, "fib").unwrap();
    assert_eq!(sum.call(&mut store, 100_000).unwrap(), (1..=100_000i64).sum::<i64>() as i32);
    assert_eq!(fib.call(&mut store, 25).unwrap(), 75025);

    // And uninstrumented code in a store that never sets one.
    let plain = module(&engine, false);
    let instance = Instance::new(&mut store, &plain, &[]).unwrap();
    let fib = instance.get_typed_func::<i32, i32>(&mut store, "fib").unwrap();
    assert_eq!(fib.call(&mut store, 20).unwrap(), 6765);
}
