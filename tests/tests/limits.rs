//! Resource limits: `StoreLimits` and custom `ResourceLimiter`s decide the
//! growth of memories and tables, and how many instances, memories and
//! tables a store holds. A refused `memory.grow` is -1 and the guest goes
//! on; a refused instantiation is an error.

mod common;

use kiln_loader::{
    Engine, Instance, Linker, Memory, MemoryType, Module, ResourceLimiter, Store, StoreLimits, TypedFunc,
    WASM_PAGE_SIZE,
};

const PAGE: usize = WASM_PAGE_SIZE as usize;

fn module(engine: &Engine) -> Module {
    let source = std::fs::read(common::tests_path("wat/limits.wat")).expect("limits.wat");
    let object = kiln_compiler::compile(&source, &Default::default()).expect("compiles");
    kiln_tests::module_from_bytes(engine, &object).expect("loads")
}

fn limited<T: ResourceLimiter + 'static>(engine: &Engine, limiter: T) -> Store<T> {
    let mut store = Store::new(engine, limiter);
    store.limiter(|limiter| limiter);
    store
}

fn func(store: &Store<impl ResourceLimiter>, instance: Instance, name: &str) -> TypedFunc<i32, i32> {
    instance.get_typed_func::<i32, i32>(store, name).expect(name)
}

#[test]
fn memory_grow_past_the_limit_returns_minus_one_and_the_guest_goes_on() {
    let engine = Engine::default();
    let mut store = limited(&engine, StoreLimits::builder().memory_size(2 * PAGE).build());
    let instance = Linker::new(&engine).instantiate(&mut store, &module(&engine)).expect("instantiates");
    let grow = func(&store, instance, "grow");
    assert_eq!(grow.call(&mut store, 1).expect("grows"), 1, "1 to 2 pages is allowed");
    assert_eq!(grow.call(&mut store, 1).expect("refused, not a trap"), -1);
    let fall_back = func(&store, instance, "grow_or_fall_back");
    assert_eq!(fall_back.call(&mut store, 1).expect("goes on"), 42);
    let memory = instance.get_memory(&store, "memory").expect("memory");
    assert_eq!(memory.size(&store), 2);
    assert!(memory.grow(&mut store, 1).is_err(), "the host's growth is refused too");
    assert_eq!(grow.call(&mut store, 0).expect("size"), 2, "growing by 0 asks nothing");
}

#[test]
fn table_grow_past_the_limit_returns_minus_one() {
    let engine = Engine::default();
    let mut store = limited(&engine, StoreLimits::builder().table_elements(5).build());
    let instance = Linker::new(&engine).instantiate(&mut store, &module(&engine)).expect("instantiates");
    let grow = func(&store, instance, "table_grow");
    assert_eq!(grow.call(&mut store, 4).expect("grows"), 1);
    assert_eq!(grow.call(&mut store, 1).expect("refused"), -1);
    assert_eq!(instance.get_table(&store, "t").expect("t").size(&store), 5);
}

#[test]
fn instantiation_past_the_counts_or_sizes_is_an_error() {
    let engine = Engine::default();
    let module = module(&engine);
    let linker = Linker::new(&engine);

    let mut store = limited(&engine, StoreLimits::builder().instances(1).build());
    linker.instantiate(&mut store, &module).expect("the first instance");
    let error = linker.instantiate(&mut store, &module).expect_err("a second instance");
    assert!(error.to_string().contains("allows 1 instances"), "{error}");

    for limits in [StoreLimits::builder().memories(0).build(), StoreLimits::builder().tables(0).build()] {
        let mut store = limited(&engine, limits);
        assert!(linker.instantiate(&mut store, &module).is_err());
    }

    let mut store = limited(&engine, StoreLimits::builder().memory_size(PAGE / 2).build());
    let error = linker.instantiate(&mut store, &module).expect_err("the initial page is too large");
    let message = error.to_string();
    assert!(message.contains("refused a memory of 1 page") && !message.contains("1 pages"), "{message}");
    let ty = MemoryType { minimum: 1, maximum: None, shared: false, memory64: false };
    assert!(Memory::new(&mut store, ty).is_err(), "host memories are limited too");
}

#[test]
fn trap_on_grow_failure_makes_a_refusal_an_error() {
    let engine = Engine::default();
    let limits = StoreLimits::builder().memory_size(PAGE).trap_on_grow_failure(true).build();
    let mut store = limited(&engine, limits);
    let instance = Linker::new(&engine).instantiate(&mut store, &module(&engine)).expect("instantiates");
    let error = func(&store, instance, "grow").call(&mut store, 1).expect_err("an error, not -1");
    assert!(error.to_string().contains("exceeds the store's limit"), "{error}");
    assert_eq!(func(&store, instance, "grow").call(&mut store, 0).expect("the store goes on"), 1);
}

/// Records every question; refuses growth past `pages`, and fails on a
/// request for more than 100 pages.
struct Recording {
    pages: usize,
    asked: Vec<(usize, usize)>,
}

impl ResourceLimiter for Recording {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> anyhow::Result<bool> {
        self.asked.push((current, desired));
        if desired > 100 * PAGE {
            anyhow::bail!("no host has {desired} bytes to spare");
        }
        Ok(desired <= self.pages * PAGE)
    }

    fn table_growing(&mut self, _current: usize, _desired: usize, _maximum: Option<usize>) -> anyhow::Result<bool> {
        Ok(true)
    }
}

#[test]
fn a_custom_limiter_sees_every_growth_and_its_errors_end_the_call() {
    let engine = Engine::default();
    let mut store = limited(&engine, Recording { pages: 3, asked: Vec::new() });
    let instance = Linker::new(&engine).instantiate(&mut store, &module(&engine)).expect("instantiates");
    let grow = func(&store, instance, "grow");
    assert_eq!(grow.call(&mut store, 2).expect("grows"), 1);
    assert_eq!(grow.call(&mut store, 1).expect("refused"), -1);
    let error = grow.call(&mut store, 200).expect_err("the limiter's error");
    assert!(error.to_string().contains("no host has"), "{error}");
    assert_eq!(store.data().asked, [(0, PAGE), (PAGE, 3 * PAGE), (3 * PAGE, 4 * PAGE), (3 * PAGE, 203 * PAGE)]);
}

/// A limiter that panics when asked to grow past one page.
struct Panicking;

impl ResourceLimiter for Panicking {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> anyhow::Result<bool> {
        assert!(desired <= PAGE, "the limiter's own bug");
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, _desired: usize, _maximum: Option<usize>) -> anyhow::Result<bool> {
        Ok(true)
    }
}

#[test]
fn a_panicking_limiter_is_an_error_of_the_call_not_an_abort() {
    let engine = Engine::default();
    let mut store = limited(&engine, Panicking);
    let instance = Linker::new(&engine).instantiate(&mut store, &module(&engine)).expect("instantiates");
    let error = func(&store, instance, "grow").call(&mut store, 1).expect_err("the limiter panicked");
    assert!(error.to_string().contains("resource limiter panicked"), "{error}");
    assert_eq!(func(&store, instance, "grow").call(&mut store, 0).expect("the store goes on"), 1);
}
