//! 64-bit memories past 4 GiB: growth, accesses at their last bytes (on
//! both kinds of bounds check), and where growth stops, with the default
//! allocator and with the pooling allocator.

use kiln_loader::{
    Config, Engine, Error, Instance, InstanceAllocationStrategy, Linker, PoolingAllocationConfig, Store, TrapCode,
    MAX_MEMORY64_PAGES, WASM_PAGE_SIZE,
};

/// A 64-bit memory of one page without a maximum, with accessors: `load`
/// and `store` have a small offset (checked by comparing the address with
/// the length, faulting in the guard past it), `load_mid` and `load_far`
/// offsets of 1 GiB (folded into the access) and 4 GiB (added to the
/// address), both past the guard and checked by their end.
const MEMORY64: &str = r#"(module
    (memory (export "memory") i64 1)
    (func (export "grow") (param i64) (result i64) local.get 0 memory.grow)
    (func (export "size") (result i64) memory.size)
    (func (export "store") (param i64 i64) local.get 0 local.get 1 i64.store)
    (func (export "load") (param i64) (result i64) local.get 0 i64.load)
    (func (export "load8") (param i64) (result i32) local.get 0 i32.load8_u)
    (func (export "load_mid") (param i64) (result i64) local.get 0 i64.load offset=0x4000_0000)
    (func (export "load_far") (param i64) (result i64) local.get 0 i64.load offset=0x1_0000_0000))"#;

const ONE_GIB: u64 = 1 << 30;

const FOUR_GIB: u64 = 1 << 32;

fn instantiate(engine: &Engine, wat: &str) -> Result<(Store<()>, Instance), Error> {
    let object = kiln_compiler::compile(wat.as_bytes(), &Default::default()).expect("compiles");
    let module = kiln_tests::module_from_bytes(engine, &object).expect("loads");
    let mut store = Store::new(engine, ());
    let instance = Linker::new(engine).instantiate(&mut store, &module)?;
    Ok((store, instance))
}

fn grow(store: &mut Store<()>, instance: Instance, pages: u64) -> i64 {
    let grow = instance.get_typed_func::<i64, i64>(&*store, "grow").expect("grow");
    grow.call(&mut *store, pages as i64).expect("memory.grow does not trap")
}

fn load(store: &mut Store<()>, instance: Instance, name: &str, address: u64) -> Result<i64, Error> {
    instance.get_typed_func::<i64, i64>(&*store, name).expect(name).call(&mut *store, address as i64)
}

fn assert_out_of_bounds<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) {
    let error = result.expect_err(what);
    assert_eq!(error.trap().and_then(|t| t.code), Some(TrapCode::MEMORY_OUT_OF_BOUNDS), "{what}: {error}");
}

#[test]
fn a_64_bit_memory_grows_past_4_gib_and_its_last_page_reads_back() {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(&engine, MEMORY64).expect("instantiates");
    let memory = instance.get_memory(&store, "memory").expect("memory");
    assert!(memory.ty(&store).memory64);

    let pages = FOUR_GIB / WASM_PAGE_SIZE + 1;
    assert_eq!(grow(&mut store, instance, pages - 1), 1);
    let size = instance.get_typed_func::<(), i64>(&store, "size").expect("size");
    assert_eq!(size.call(&mut store, ()).expect("size"), pages as i64);
    let length = pages * WASM_PAGE_SIZE;
    assert_eq!(memory.data_size(&store) as u64, length);

    // The last 8 bytes, past 4 GiB, written by Wasm and read back by Wasm
    // (both checks) and by the host.
    let last = length - 8;
    let store_fn = instance.get_typed_func::<(i64, i64), ()>(&store, "store").expect("store");
    store_fn.call(&mut store, (last as i64, 0x1122_3344_5566_7788)).expect("stores at the end");
    assert_eq!(load(&mut store, instance, "load", last).unwrap(), 0x1122_3344_5566_7788);
    assert_eq!(load(&mut store, instance, "load_mid", last - ONE_GIB).unwrap(), 0x1122_3344_5566_7788);
    assert_eq!(load(&mut store, instance, "load_far", last - FOUR_GIB).unwrap(), 0x1122_3344_5566_7788);
    assert_eq!(memory.read_le::<u64>(&store, last as usize).unwrap(), 0x1122_3344_5566_7788);
    // A byte the host writes in the first page above 4 GiB reaches Wasm.
    memory.write(&mut store, FOUR_GIB as usize, &[0xab]).expect("host writes above 4 GiB");
    let load8 = instance.get_typed_func::<i64, i32>(&store, "load8").expect("load8");
    assert_eq!(load8.call(&mut store, FOUR_GIB as i64).unwrap(), 0xab);

    // One byte too far, either way, and addresses that a 32-bit view of
    // them would have wrapped into bounds.
    assert_out_of_bounds(load(&mut store, instance, "load", last + 1), "load straddling the end");
    assert_out_of_bounds(load(&mut store, instance, "load", length), "load at the end");
    assert_out_of_bounds(load(&mut store, instance, "load_mid", last - ONE_GIB + 1), "mid load straddling the end");
    assert_out_of_bounds(load(&mut store, instance, "load_far", last - FOUR_GIB + 1), "far load straddling the end");
    assert_out_of_bounds(load(&mut store, instance, "load", length + FOUR_GIB), "load 4 GiB past the end");
    assert_out_of_bounds(load(&mut store, instance, "load", u64::MAX), "load at -1");
    assert_out_of_bounds(load(&mut store, instance, "load_far", u64::MAX - 8), "far load whose end overflows");
}

#[test]
fn growth_stops_where_the_reservation_ends_whatever_the_maximum() {
    let engine = Engine::default();
    let wat = MEMORY64.replace("i64 1)", "i64 0 0x1_0000_0000_0000)");
    let (mut store, instance) = instantiate(&engine, &wat).expect("a maximum past the reservation is allowed");
    assert_eq!(grow(&mut store, instance, MAX_MEMORY64_PAGES + 1), -1);
    assert_eq!(grow(&mut store, instance, MAX_MEMORY64_PAGES), 0);
    assert_eq!(grow(&mut store, instance, 1), -1);
    // The memory now ends where the guard begins: the guard alone stops
    // an access that starts at the end.
    let length = MAX_MEMORY64_PAGES * WASM_PAGE_SIZE;
    let load8 = instance.get_typed_func::<i64, i32>(&store, "load8").expect("load8");
    assert_eq!(load8.call(&mut store, length as i64 - 1).unwrap(), 0);
    assert_out_of_bounds(load8.call(&mut store, length as i64), "load8 at the end of the reservation");
    assert_out_of_bounds(load(&mut store, instance, "load", length - 4), "load straddling the guard");

    // A minimum past the reservation cannot be met.
    let too_big = format!(r#"(module (memory i64 {}))"#, MAX_MEMORY64_PAGES + 1);
    let error = instantiate(&engine, &too_big).map(|_| ()).expect_err("a minimum past the reservation is refused");
    assert!(error.to_string().contains("exceeds"), "{error}");
}

fn pooling_engine(max_memory_size: Option<usize>) -> Engine {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_memories(1).total_tables(1).total_core_instances(1);
    if let Some(bytes) = max_memory_size {
        pool.max_memory_size(bytes);
    }
    let mut config = Config::new();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).expect("reserves the pool")
}

#[test]
fn pooled_64_bit_memories_grow_to_the_configured_size() {
    // The default of 4 GiB holds 64-bit memories too.
    let engine = pooling_engine(None);
    let (mut store, instance) = instantiate(&engine, MEMORY64).expect("instantiates");
    assert_eq!(grow(&mut store, instance, FOUR_GIB / WASM_PAGE_SIZE), -1);
    assert_eq!(grow(&mut store, instance, FOUR_GIB / WASM_PAGE_SIZE - 1), 1);
    drop(store);

    // A larger size lets them past 4 GiB, up to the slot's end.
    let engine = pooling_engine(Some(6 << 30));
    let (mut store, instance) = instantiate(&engine, MEMORY64).expect("instantiates");
    let pages = (5 << 30) / WASM_PAGE_SIZE;
    assert_eq!(grow(&mut store, instance, pages - 1), 1);
    let last = pages * WASM_PAGE_SIZE - 8;
    let store_fn = instance.get_typed_func::<(i64, i64), ()>(&store, "store").expect("store");
    store_fn.call(&mut store, (last as i64, -2)).expect("stores at the end");
    assert_eq!(load(&mut store, instance, "load", last).unwrap(), -2);
    assert_eq!(grow(&mut store, instance, (1 << 30) / WASM_PAGE_SIZE + 1), -1, "past the configured size");
    drop(store);

    // The slot was reset: a new instance starts with zeros.
    let (mut store, instance) = instantiate(&engine, MEMORY64).expect("instantiates again");
    assert_eq!(grow(&mut store, instance, pages - 1), 1);
    assert_eq!(load(&mut store, instance, "load", last).unwrap(), 0);

    let engine = pooling_engine(Some(usize::MAX));
    let (mut store, instance) = instantiate(&engine, MEMORY64).expect("instantiates");
    assert_eq!(grow(&mut store, instance, MAX_MEMORY64_PAGES), -1, "a slot holds no more than a reservation");
    assert_eq!(grow(&mut store, instance, MAX_MEMORY64_PAGES - 1), 1);
}
