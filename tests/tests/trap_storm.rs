//! Trap storms: 100,000 traps of every kind in one process leave resident
//! memory flat and every later call correct, and many threads, each with a
//! store of its own, trap at the same time without disturbing each other.

use kiln_loader::{Engine, Error, Instance, Linker, Module, Store, TrapCode};

const TRAPS_PER_KIND: usize = 100_000;

const MODULE: &str = r#"(module
    (type $v (func))
    (memory 1)
    (table 2 funcref)
    (elem (i32.const 1) $unreachable)
    (func $unreachable (export "unreachable") unreachable)
    (func (export "div_by_zero") (drop (i32.div_s (i32.const 1) (i32.const 0))))
    (func (export "overflow") (drop (i32.div_s (i32.const 0x80000000) (i32.const -1))))
    (func (export "bad_conversion") (drop (i32.trunc_f32_s (f32.const nan))))
    (func (export "memory_out_of_bounds") (drop (i32.load (i32.const 65536))))
    (func (export "table_out_of_bounds") (drop (table.get 0 (i32.const 7))))
    (func (export "undefined_element") (call_indirect (type $v) (i32.const 7)))
    (func (export "null_call") (call_indirect (type $v) (i32.const 0)))
    (func (export "signature_mismatch") (drop (call_indirect (result i32) (i32.const 1))))
    (func $recurse (export "stack_overflow") (call $recurse))
    (func (export "fine") (result i32) (i32.add (i32.load (i32.const 0)) (i32.const 41))))"#;

/// Each export and the trap it must end with.
const KINDS: [(&str, TrapCode); 10] = [
    ("unreachable", TrapCode::UNREACHABLE),
    ("div_by_zero", TrapCode::INTEGER_DIVISION_BY_ZERO),
    ("overflow", TrapCode::INTEGER_OVERFLOW),
    ("bad_conversion", TrapCode::BAD_CONVERSION_TO_INTEGER),
    ("memory_out_of_bounds", TrapCode::MEMORY_OUT_OF_BOUNDS),
    ("table_out_of_bounds", TrapCode::TABLE_OUT_OF_BOUNDS),
    ("undefined_element", TrapCode::UNDEFINED_ELEMENT),
    ("null_call", TrapCode::INDIRECT_CALL_TO_NULL),
    ("signature_mismatch", TrapCode::BAD_SIGNATURE),
    ("stack_overflow", TrapCode::STACK_OVERFLOW),
];

fn module(engine: &Engine) -> Module {
    let object = kiln_compiler::compile(MODULE.as_bytes(), &Default::default()).expect("compiles");
    kiln_tests::module_from_bytes(engine, &object).expect("loads")
}

fn instantiate(engine: &Engine, module: &Module) -> (Store<()>, Instance) {
    let mut store = Store::new(engine, ());
    // Overflowing a small budget keeps each stack overflow quick.
    store.set_max_wasm_stack(64 << 10);
    let instance = Linker::new(engine).instantiate(&mut store, module).expect("instantiates");
    (store, instance)
}

fn trap_code(store: &mut Store<()>, instance: Instance, name: &str) -> Option<TrapCode> {
    let func = instance.get_typed_func::<(), ()>(&*store, name).expect(name);
    match func.call(store, ()) {
        Err(Error::Trap(trap)) => trap.code,
        other => panic!("{name}: expected a trap, got {other:?}"),
    }
}

fn resident_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("reads status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|k| k.parse::<usize>().ok()).expect("a number") * 1024
}

#[test]
fn a_hundred_thousand_traps_of_every_kind_leave_memory_flat() {
    let engine = Engine::default();
    let module = module(&engine);
    let (mut store, instance) = instantiate(&engine, &module);
    let fine = instance.get_typed_func::<(), i32>(&store, "fine").expect("fine");
    let mut warmed_up = 0;
    for round in 0..TRAPS_PER_KIND {
        for (name, code) in KINDS {
            assert_eq!(trap_code(&mut store, instance, name), Some(code), "{name}, round {round}");
        }
        if round == TRAPS_PER_KIND / 10 {
            warmed_up = resident_bytes();
        }
        if round % 10_000 == 0 {
            assert_eq!(fine.call(&mut store, ()).expect("a call after traps works"), 41);
        }
    }
    let end = resident_bytes();
    println!(
        "{} traps: resident {} KiB after a tenth, {} KiB at the end",
        TRAPS_PER_KIND * KINDS.len(),
        warmed_up >> 10,
        end >> 10
    );
    assert!(end <= warmed_up + (4 << 20), "resident memory grew from {warmed_up} to {end} bytes");
}

#[test]
fn threads_with_a_store_each_trap_concurrently() {
    let engine = Engine::default();
    let module = module(&engine);
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let (engine, module) = (&engine, &module);
            scope.spawn(move || {
                let (mut store, instance) = instantiate(engine, module);
                let fine = instance.get_typed_func::<(), i32>(&store, "fine").expect("fine");
                for round in 0..2_000 {
                    // Each thread starts at another kind, so that different
                    // traps are in flight at once.
                    let (name, code) = KINDS[(thread + round) % KINDS.len()];
                    assert_eq!(trap_code(&mut store, instance, name), Some(code), "thread {thread}: {name}");
                    assert_eq!(fine.call(&mut store, ()).expect("works between traps"), 41);
                }
            });
        }
    });
}
