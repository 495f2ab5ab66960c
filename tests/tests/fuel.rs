//! Fuel: `kilnc --fuel` code consumes the store's fuel at the documented
//! rate (Wasmtime's cost model, counted by hand for `tests/wat/fuel.wat`),
//! traps with "all fuel consumed" at the first check that finds it used
//! up, and fuel is refused for code without metering.

mod common;

use kiln_compiler::CompileOptions;
use kiln_loader::{Engine, Error, Instance, Module, Store, TrapCode};

/// `tests/wat/fuel.wat`, compiled with or without fuel metering.
fn module(engine: &Engine, fuel: bool) -> Module {
    let path = common::tests_path("wat/fuel.wat");
    let source = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let options = CompileOptions { fuel, ..CompileOptions::default() };
    let object = kiln_compiler::compile(&source, &options).expect("compiles");
    kiln_tests::module_from_bytes(engine, &object).expect("loads")
}

fn metered() -> (Store<()>, Instance) {
    let engine = Engine::default();
    let module = module(&engine, true);
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).expect("instantiates");
    (store, instance)
}

fn count(store: &mut Store<()>, instance: Instance, n: i32) -> Result<(), Error> {
    instance.get_typed_func::<i32, ()>(&mut *store, "count").unwrap().call(&mut *store, n)
}

fn assert_out_of_fuel(outcome: Result<(), Error>) {
    let error = outcome.expect_err("runs out of fuel");
    let trap = error.trap().unwrap_or_else(|| panic!("not a trap: {error}"));
    assert_eq!(trap.code, Some(TrapCode::OUT_OF_FUEL), "{error}");
    assert_eq!(trap.message, "all fuel consumed");
}

#[test]
fn calls_consume_the_documented_fuel() {
    let (mut store, instance) = metered();
    store.set_fuel(1000).unwrap();
    assert_eq!(store.get_fuel().unwrap(), 1000);

    let add = instance.get_typed_func::<(i32, i32), i32>(&mut store, "add").unwrap();
    assert_eq!(add.call(&mut store, (1, 2)).unwrap(), 3);
    assert_eq!(store.get_fuel().unwrap(), 997, "add costs 3");

    let call_add = instance.get_typed_func::<(), i32>(&mut store, "call_add").unwrap();
    assert_eq!(call_add.call(&mut store, ()).unwrap(), 3);
    assert_eq!(store.get_fuel().unwrap(), 991, "call_add costs 6");

    let free = instance.get_typed_func::<(), ()>(&mut store, "free").unwrap();
    free.call(&mut store, ()).unwrap();
    assert_eq!(store.get_fuel().unwrap(), 990, "nop, drop, block and end are free");

    count(&mut store, instance, 10).unwrap();
    assert_eq!(store.get_fuel().unwrap(), 940, "count(10) costs 5 * 10");
}

#[test]
fn fuel_runs_out_at_the_documented_count() {
    let (mut store, instance) = metered();
    // count(10) passes its loop header 10 times, having consumed 0, 5, ...
    // 45: it needs more than 45 fuel, and consumes 50.
    store.set_fuel(46).unwrap();
    count(&mut store, instance, 10).expect("46 is enough");
    assert_eq!(store.get_fuel().unwrap(), 0, "the counter went 4 past the fuel, which reads as none left");

    store.set_fuel(45).unwrap();
    assert_out_of_fuel(count(&mut store, instance, 10));
    assert_eq!(store.get_fuel().unwrap(), 0);

    // 5 fuel: the first header check passes (0 consumed), the second traps.
    store.set_fuel(5).unwrap();
    assert_out_of_fuel(count(&mut store, instance, 2));

    // An infinite loop consumes 1 per iteration until it traps.
    store.set_fuel(1000).unwrap();
    let spin = instance.get_typed_func::<(), ()>(&mut store, "spin").unwrap();
    assert_out_of_fuel(spin.call(&mut store, ()));
    assert_eq!(store.get_fuel().unwrap(), 0);

    // More fuel, and the same instance runs again.
    store.set_fuel(100).unwrap();
    count(&mut store, instance, 3).unwrap();
    assert_eq!(store.get_fuel().unwrap(), 85);
}

#[test]
fn a_store_without_fuel_traps_at_once() {
    let (mut store, instance) = metered();
    assert_eq!(store.get_fuel().unwrap(), 0);
    let add = instance.get_typed_func::<(i32, i32), i32>(&mut store, "add").unwrap();
    let error = add.call(&mut store, (1, 2)).expect_err("no fuel");
    assert_eq!(error.trap().and_then(|trap| trap.code), Some(TrapCode::OUT_OF_FUEL), "{error}");
}

#[test]
fn fuel_past_the_counter_is_kept_in_full() {
    let (mut store, instance) = metered();
    store.set_fuel(u64::MAX).unwrap();
    assert_eq!(store.get_fuel().unwrap(), u64::MAX);
    count(&mut store, instance, 100).unwrap();
    assert_eq!(store.get_fuel().unwrap(), u64::MAX - 500);
}

#[test]
fn fuel_is_refused_for_code_without_metering() {
    let engine = Engine::default();
    let plain = module(&engine, false);
    let metered = module(&engine, true);
    assert!(!plain.code().header().instrumentation.contains(kiln_format::Instrumentation::FUEL));
    assert!(metered.code().header().instrumentation.contains(kiln_format::Instrumentation::FUEL));

    // Fuel first: instantiating unmetered code fails, metered code is fine.
    let mut store = Store::new(&engine, ());
    store.set_fuel(10).unwrap();
    let error = Instance::new(&mut store, &plain, &[]).expect_err("refused");
    assert!(matches!(error, Error::Instantiation(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("the store has fuel"), "{message}");
    assert!(message.contains("compiled without --fuel"), "{message}");
    assert!(message.contains("`fuel`"), "names the module: {message}");
    Instance::new(&mut store, &metered, &[]).expect("metered code instantiates");

    // Instance first: setting and reading fuel are refused.
    let mut store = Store::new(&engine, ());
    Instance::new(&mut store, &plain, &[]).unwrap();
    let error = store.set_fuel(10).expect_err("refused");
    assert!(matches!(error, Error::Instrumentation(_)), "{error:?}");
    assert!(error.to_string().contains("cannot set fuel"), "{error}");
    assert!(error.to_string().contains("compiled without --fuel"), "{error}");
    assert!(store.get_fuel().is_err());
}

#[test]
fn fuel_and_epoch_checks_together() {
    let engine = Engine::default();
    let path = common::tests_path("wat/fuel.wat");
    let source = std::fs::read(&path).unwrap();
    let options = CompileOptions { fuel: true, epoch_interruption: true, ..CompileOptions::default() };
    let module = kiln_tests::module_from_bytes(&engine, &kiln_compiler::compile(&source, &options).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    store.set_fuel(100).unwrap();
    store.set_epoch_deadline(1_000).unwrap();
    count(&mut store, instance, 10).unwrap();
    assert_eq!(store.get_fuel().unwrap(), 50);
    assert_out_of_fuel(count(&mut store, instance, 1000));
}
