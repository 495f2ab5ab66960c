//! Host functions called from the deepest Wasm frame have stack to run:
//! Wasm stops `HOST_STACK_RESERVE` short of the thread's stack end whatever
//! the store's budget, so a host function needing 100 KiB of stack, called
//! at every level of a recursion that runs Wasm out of stack, never
//! overflows the thread (which would abort the process); the recursion
//! ends in a `stack_overflow` trap instead.

use kiln_loader::{Caller, Engine, Error, Linker, Store, TrapCode, HOST_STACK_RESERVE};

const _: () = assert!(HOST_STACK_RESERVE >= 128 << 10, "the documented reserve");

/// What the host function puts on its stack.
const HOST_FRAME: usize = 100 << 10;

const RECURSION: &str = r#"(module
    (import "host" "probe" (func $probe (param i32) (result i32)))
    (func $deep (export "deep") (param i32) (result i32)
        (drop (call $probe (local.get 0)))
        (call $deep (i32.add (local.get 0) (i32.const 1)))))"#;

/// Runs the recursion on a thread of `thread_stack` bytes with Wasm budget
/// `max_wasm_stack`; the trap code it ends with, and how deep it went.
fn recurse(thread_stack: usize, max_wasm_stack: usize) -> (Option<TrapCode>, i32) {
    let object = kiln_compiler::compile(RECURSION.as_bytes(), &Default::default()).expect("compiles");
    std::thread::Builder::new()
        .stack_size(thread_stack)
        .spawn(move || {
            let engine = Engine::default();
            let module = kiln_tests::module_from_bytes(&engine, &object).expect("loads");
            let mut linker = Linker::new(&engine);
            linker
                .func_wrap("host", "probe", |mut caller: Caller<'_, i32>, depth: i32| {
                    let frame = [depth as u8; HOST_FRAME];
                    let frame = std::hint::black_box(frame);
                    *caller.data_mut() = depth;
                    frame[HOST_FRAME - 1] as i32
                })
                .expect("defines probe");
            let mut store = Store::new(&engine, 0);
            store.set_max_wasm_stack(max_wasm_stack);
            let instance = linker.instantiate(&mut store, &module).expect("instantiates");
            let deep = instance.get_typed_func::<i32, i32>(&store, "deep").expect("deep");
            let code = match deep.call(&mut store, 0) {
                Err(Error::Trap(trap)) => trap.code,
                Err(other) => panic!("not a trap: {other}"),
                Ok(_) => None,
            };
            (code, *store.data())
        })
        .expect("spawns")
        .join()
        .expect("the thread ran to the end")
}

#[test]
fn a_host_function_called_at_the_deepest_frame_has_stack_to_run() {
    for thread_stack in [256 << 10, 1 << 20] {
        // The default budget (1 MiB) reaches the end of both threads'
        // stacks; a larger one changes nothing.
        for budget in [kiln_loader::DEFAULT_MAX_WASM_STACK, 64 << 20] {
            let (code, depth) = recurse(thread_stack, budget);
            assert_eq!(code, Some(TrapCode::STACK_OVERFLOW), "thread of {thread_stack} bytes, budget {budget}");
            assert!(depth > 0, "thread of {thread_stack} bytes: the host ran at depth {depth}");
            println!("thread of {} KiB, budget {} KiB: trapped at depth {depth}", thread_stack >> 10, budget >> 10);
        }
    }
}
