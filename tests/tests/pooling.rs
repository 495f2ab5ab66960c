//! The pooling allocator: memory, table and instance slots reserved once
//! per engine, limits that name themselves when reached, and slots that a
//! reset leaves exactly as a fresh allocation would (a reused memory slot
//! never shows the last instance's bytes, whatever module it ran).

use kiln_loader::{
    Config, Engine, Error, Instance, InstanceAllocationStrategy, Linker, Module, PoolingAllocationConfig, Store,
    WASM_PAGE_SIZE,
};

const PAGE: usize = WASM_PAGE_SIZE as usize;

fn pooling_engine(configure: impl FnOnce(&mut PoolingAllocationConfig)) -> Engine {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_memories(4).total_tables(4).total_core_instances(8);
    configure(&mut pool);
    let mut config = Config::new();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).expect("reserves the pool")
}

fn module(engine: &Engine, wat: &str) -> Module {
    let object = kiln_compiler::compile(wat.as_bytes(), &Default::default()).expect("compiles");
    kiln_tests::module_from_bytes(engine, &object).expect("loads")
}

/// A memory of 2 pages with "secret" at 1000 in its image, and functions
/// to read, write and grow it.
const WITH_IMAGE: &str = r#"(module
    (memory (export "memory") 2)
    (table (export "table") 1 funcref)
    (data (i32.const 1000) "secret")
    (func (export "poke") (param i32 i32) local.get 0 local.get 1 i32.store8)
    (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
    (func (export "grow_table") (param i32) (result i32) ref.null func local.get 0 table.grow 0))"#;

/// Another module with a memory of the same size and no data.
const WITHOUT_IMAGE: &str = r#"(module (memory (export "memory") 2))"#;

fn instantiate(engine: &Engine, module: &Module) -> (Store<()>, Instance) {
    let mut store = Store::new(engine, ());
    let instance = Linker::new(engine).instantiate(&mut store, module).expect("instantiates");
    (store, instance)
}

fn memory_bytes(store: &Store<()>, instance: Instance) -> Vec<u8> {
    instance.get_memory(store, "memory").expect("memory").data(store).to_vec()
}

fn dirty(store: &mut Store<()>, instance: Instance) {
    let poke = instance.get_typed_func::<(i32, i32), ()>(&*store, "poke").expect("poke");
    for at in [0, 1001, 70_000, 2 * PAGE as i32 - 1] {
        poke.call(&mut *store, (at, 0x5a)).expect("pokes");
    }
}

#[test]
fn a_reused_slot_starts_as_a_fresh_one_for_the_same_or_another_module() {
    for keep_resident in [0, PAGE, 3 * PAGE] {
        let engine = pooling_engine(|pool| {
            pool.total_memories(1).linear_memory_keep_resident(keep_resident);
        });
        let with_image = module(&engine, WITH_IMAGE);
        let without_image = module(&engine, WITHOUT_IMAGE);
        let mut fresh_with_image = vec![0u8; 2 * PAGE];
        fresh_with_image[1000..1006].copy_from_slice(b"secret");
        // One slot only: every instance below reuses it.
        for round in 0..4 {
            let (mut store, instance) = instantiate(&engine, &with_image);
            assert!(memory_bytes(&store, instance) == fresh_with_image, "keep {keep_resident}, round {round}");
            dirty(&mut store, instance);
            let grow = instance.get_typed_func::<i32, i32>(&store, "grow").expect("grow");
            assert_eq!(grow.call(&mut store, round % 2).expect("grows"), 2);
            drop(store);

            let (mut store, instance) = instantiate(&engine, &without_image);
            let bytes = memory_bytes(&store, instance);
            assert_eq!(bytes.len(), 2 * PAGE, "keep {keep_resident}, round {round}: the slot shrank back");
            assert!(bytes.iter().all(|&b| b == 0), "keep {keep_resident}, round {round}: no byte of the last instance");
            let memory = instance.get_memory(&store, "memory").expect("memory");
            memory.data_mut(&mut store)[..10].fill(9);
        }
    }
}

#[test]
fn running_out_of_slots_is_an_error_naming_the_limit_and_dropping_frees_them() {
    let engine = pooling_engine(|pool| {
        pool.total_memories(2);
    });
    let module = module(&engine, WITH_IMAGE);
    let first = instantiate(&engine, &module);
    let second = instantiate(&engine, &module);
    let mut store = Store::new(&engine, ());
    let error = Linker::new(&engine).instantiate(&mut store, &module).expect_err("no slot left");
    assert!(matches!(error, Error::Instantiation(_)), "{error:?}");
    assert!(error.to_string().contains("all 2 memory slots"), "{error}");
    drop(first);
    let (store, instance) = instantiate(&engine, &module);
    assert_eq!(&memory_bytes(&store, instance)[1000..1006], b"secret");
    drop(second);
}

#[test]
fn instance_and_table_slots_are_limited_too() {
    let engine = pooling_engine(|pool| {
        pool.total_core_instances(1);
    });
    let module = module(&engine, r#"(module (func (export "f")))"#);
    let (_store, _instance) = instantiate(&engine, &module);
    let mut store = Store::new(&engine, ());
    let error = Linker::new(&engine).instantiate(&mut store, &module).expect_err("no instance slot left");
    assert!(error.to_string().contains("all 1 instance slots"), "{error}");

    let engine = pooling_engine(|pool| {
        pool.total_tables(1);
    });
    let module = self::module(&engine, r#"(module (table 1 funcref))"#);
    let (_store, _instance) = instantiate(&engine, &module);
    let mut store = Store::new(&engine, ());
    let error = Linker::new(&engine).instantiate(&mut store, &module).expect_err("no table slot left");
    assert!(error.to_string().contains("all 1 table slots"), "{error}");
}

#[test]
fn growth_stops_at_the_configured_maxima() {
    let engine = pooling_engine(|pool| {
        pool.max_memory_size(3 * PAGE).table_elements(4);
    });
    let module = module(&engine, WITH_IMAGE);
    let (mut store, instance) = instantiate(&engine, &module);
    let grow = instance.get_typed_func::<i32, i32>(&store, "grow").expect("grow");
    assert_eq!(grow.call(&mut store, 1).expect("grows"), 2);
    assert_eq!(grow.call(&mut store, 1).expect("refused, not a trap"), -1);
    let grow_table = instance.get_typed_func::<i32, i32>(&store, "grow_table").expect("grow_table");
    assert_eq!(grow_table.call(&mut store, 3).expect("grows"), 1);
    assert_eq!(grow_table.call(&mut store, 1).expect("refused, not a trap"), -1);

    let big = self::module(&engine, r#"(module (memory 4))"#);
    let mut store = Store::new(&engine, ());
    let error = Linker::new(&engine).instantiate(&mut store, &big).expect_err("too big for a slot");
    assert!(error.to_string().contains("exceeds the pooling allocator's maximum of 3 pages"), "{error}");
    let wide = self::module(&engine, r#"(module (table 5 funcref))"#);
    let error = Linker::new(&engine).instantiate(&mut store, &wide).expect_err("too wide for a slot");
    assert!(error.to_string().contains("maximum of 4"), "{error}");
}

#[test]
fn slots_serve_stores_on_several_threads() {
    let engine = pooling_engine(|pool| {
        pool.total_memories(3).total_core_instances(3);
    });
    let module = module(&engine, WITH_IMAGE);
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                for _ in 0..200 {
                    let (mut store, instance) = instantiate(&engine, &module);
                    assert_eq!(&memory_bytes(&store, instance)[1000..1006], b"secret");
                    assert_eq!(memory_bytes(&store, instance)[0], 0);
                    dirty(&mut store, instance);
                }
            });
        }
    });
}

#[test]
fn host_made_memories_and_tables_use_the_pool() {
    let engine = pooling_engine(|pool| {
        pool.total_memories(1);
    });
    let mut store = Store::new(&engine, ());
    let ty = kiln_loader::MemoryType { minimum: 1, maximum: None, shared: false, memory64: false };
    let memory = kiln_loader::Memory::new(&mut store, ty).expect("a slot");
    memory.data_mut(&mut store)[0] = 1;
    assert!(kiln_loader::Memory::new(&mut store, ty).is_err(), "the one slot is taken");
    drop(store);
    let mut store = Store::new(&engine, ());
    let memory = kiln_loader::Memory::new(&mut store, ty).expect("the slot is free again");
    assert_eq!(memory.data(&store)[0], 0);
}
