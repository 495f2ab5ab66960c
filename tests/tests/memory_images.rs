//! Copy-on-write memory images: a memory's constant data segments are
//! mapped from the artifact (`.kiln.image`), not copied. Instances share
//! the file's pages until they write, never see each other's writes, and
//! never change the file; an instance's resident memory grows only by the
//! pages it touches.

use std::path::{Path, PathBuf};

use kiln_compiler::{compile_file, CompileOptions, Emit};
use kiln_loader::{
    Config, Engine, Instance, InstanceAllocationStrategy, Linker, Module, PoolingAllocationConfig, Store,
};

const MIB: usize = 1 << 20;
const DATA_LEN: usize = 16 * MIB;
const PAGE: usize = 4096;

/// A module with a 16 MiB data segment of non-zero bytes (byte `i` is
/// `i % 251 + 1`) at offset 0 of a 17 MiB memory, with `peek` and `poke`.
fn big_data_wat() -> String {
    let mut data = String::with_capacity(DATA_LEN * 3);
    for i in 0..DATA_LEN {
        data.push_str(&format!("\\{:02x}", (i % 251 + 1) as u8));
    }
    format!(
        r#"(module
            (memory (export "memory") 272)
            (func (export "peek") (param i32) (result i32) local.get 0 i32.load8_u)
            (func (export "poke") (param i32 i32) local.get 0 local.get 1 i32.store8)
            (data (i32.const 0) "{data}"))"#
    )
}

fn expected_byte(i: usize) -> u8 {
    (i % 251 + 1) as u8
}

fn compile(dir: &Path, name: &str, emit: Emit) -> PathBuf {
    let wat = dir.join("big.wat");
    if !wat.exists() {
        std::fs::write(&wat, big_data_wat()).expect("writes the module");
    }
    let out = dir.join(name);
    compile_file(&wat, &out, &CompileOptions { emit, ..CompileOptions::default() }).expect("compiles");
    out
}

/// Resident and anonymous (copied-on-write or zero-filled) bytes of this
/// process's mappings within `[start, start + len)`, from /proc/self/smaps.
fn resident_in(start: usize, len: usize) -> (usize, usize) {
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("reads smaps");
    let (mut rss, mut anon, mut inside) = (0, 0, false);
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((lo, hi)) = first.split_once('-').filter(|_| !line.ends_with(" kB")) {
            if let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16)) {
                inside = lo < start + len && hi > start;
                continue;
            }
        }
        let kib = |field: &str| -> Option<usize> {
            line.strip_prefix(field)?.trim().strip_suffix(" kB")?.trim().parse::<usize>().ok().map(|k| k * 1024)
        };
        if inside {
            rss += kib("Rss:").unwrap_or(0);
            anon += kib("Anonymous:").unwrap_or(0);
        }
    }
    (rss, anon)
}

struct Instantiated {
    store: Store<()>,
    instance: Instance,
}

impl Instantiated {
    fn new(engine: &Engine, module: &Module) -> Instantiated {
        let mut store = Store::new(engine, ());
        let instance = Linker::new(engine).instantiate(&mut store, module).expect("instantiates");
        Instantiated { store, instance }
    }

    fn peek(&mut self, at: usize) -> u8 {
        let peek = self.instance.get_typed_func::<i32, i32>(&self.store, "peek").expect("peek");
        peek.call(&mut self.store, at as i32).expect("peeks") as u8
    }

    fn poke(&mut self, at: usize, value: u8) {
        let poke = self.instance.get_typed_func::<(i32, i32), ()>(&self.store, "poke").expect("poke");
        poke.call(&mut self.store, (at as i32, value as i32)).expect("pokes");
    }

    fn memory_base(&self) -> usize {
        let memory = self.instance.get_memory(&self.store, "memory").expect("memory");
        memory.data(&self.store).as_ptr() as usize
    }
}

/// Two instances of one module write to their memories: each sees its own
/// writes and the image elsewhere, the file keeps its bytes, and resident
/// memory grows by about the pages touched, not by the 16 MiB of data.
fn two_instances_share_the_image(engine: &Engine, artifact: &Path) {
    let before = std::fs::read(artifact).expect("reads the artifact");
    let module = kiln_tests::module_from_file(engine, artifact).expect("loads");
    let mut a = Instantiated::new(engine, &module);
    let mut b = Instantiated::new(engine, &module);
    let base = a.memory_base();
    let (rss_start, anon_start) = resident_in(base, DATA_LEN);
    assert!(rss_start < MIB, "a fresh instance has {rss_start} bytes of its image resident");

    // Ten pages written in `a`, at 1 MiB strides; `b` reads the same places.
    let touched: Vec<usize> = (0..10).map(|i| i * MIB + 123).collect();
    for &at in &touched {
        assert_eq!(a.peek(at), expected_byte(at));
        a.poke(at, 0);
    }
    for &at in &touched {
        assert_eq!(a.peek(at), 0, "a sees its own write at {at}");
        assert_eq!(b.peek(at), expected_byte(at), "b does not see a's write at {at}");
    }
    b.poke(touched[0], 7);
    assert_eq!(a.peek(touched[0]), 0);
    assert_eq!(b.peek(touched[0]), 7);
    assert_eq!(a.peek(DATA_LEN - 1), expected_byte(DATA_LEN - 1), "the last byte of the image");
    assert_eq!(a.peek(DATA_LEN), 0, "past the image the memory is zero");

    let (rss, anon) = resident_in(base, DATA_LEN);
    println!("memory of instance a: {rss_start} bytes resident at first, {rss} after 10 writes ({anon} anonymous)");
    // Private memory (anonymous: the copies made on write) grows by the
    // pages written. Rss also counts the file's page-cache pages, shared
    // with every other mapping of the file, that the kernel maps around
    // each read fault (fault-around, 64 KiB or a large folio); copying the
    // data would have made all 16 MiB resident and private.
    let slack = 16 * PAGE;
    assert!(anon - anon_start <= touched.len() * PAGE + slack, "{anon} anonymous bytes after touching 10 pages");
    assert!(rss - rss_start <= 4 * MIB, "{rss} resident bytes after touching 10 pages");

    drop((a, b));
    assert_eq!(std::fs::read(artifact).expect("reads the artifact"), before, "the artifact file is unchanged");
}

#[test]
fn instances_of_a_relocatable_object_map_its_image_copy_on_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let artifact = compile(dir.path(), "big.o", Emit::Object);
    two_instances_share_the_image(&Engine::default(), &artifact);
}

#[test]
fn instances_of_a_shared_object_map_its_image_copy_on_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let artifact = compile(dir.path(), "big.so", Emit::SharedObject);
    two_instances_share_the_image(&Engine::default(), &artifact);
}

#[test]
fn pooled_instances_map_the_image_copy_on_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let artifact = compile(dir.path(), "big.o", Emit::Object);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_memories(4).total_tables(4).total_core_instances(4);
    let mut config = Config::new();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    two_instances_share_the_image(&Engine::new(&config).expect("engine"), &artifact);
}

#[test]
fn a_module_loaded_from_bytes_shares_one_anonymous_image() {
    let dir = tempfile::tempdir().expect("temp dir");
    let artifact = compile(dir.path(), "big.o", Emit::Object);
    let engine = Engine::default();
    let module = kiln_tests::module_from_bytes(&engine, &std::fs::read(&artifact).expect("reads")).expect("loads");
    let mut a = Instantiated::new(&engine, &module);
    let mut b = Instantiated::new(&engine, &module);
    a.poke(5 * MIB, 0);
    assert_eq!(a.peek(5 * MIB), 0);
    assert_eq!(b.peek(5 * MIB), expected_byte(5 * MIB));
    let (rss, _) = resident_in(b.memory_base(), DATA_LEN);
    assert!(rss < MIB, "{rss} bytes of b's memory resident after one read");
}

#[test]
fn a_dropped_memory_reserved_again_starts_from_the_image_or_from_zero() {
    // The reservation of a dropped memory is cached and reused: the next
    // memory must see its own image, or zeros, never the last one's bytes.
    let engine = Engine::default();
    let with_data = kiln_compiler::compile(
        br#"(module (memory (export "memory") 1) (data (i32.const 100) "image")
            (func (export "poke") (param i32 i32) local.get 0 local.get 1 i32.store8))"#,
        &CompileOptions::default(),
    )
    .expect("compiles");
    let plain = kiln_compiler::compile(br#"(module (memory (export "memory") 1))"#, &CompileOptions::default())
        .expect("compiles");
    let with_data = kiln_tests::module_from_bytes(&engine, &with_data).expect("loads");
    let plain = kiln_tests::module_from_bytes(&engine, &plain).expect("loads");
    for round in 0..20 {
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine).instantiate(&mut store, &with_data).expect("instantiates");
        let memory = instance.get_memory(&store, "memory").expect("memory");
        assert_eq!(&memory.data(&store)[100..105], b"image", "round {round}");
        let poke = instance.get_typed_func::<(i32, i32), ()>(&store, "poke").expect("poke");
        poke.call(&mut store, (101, b'X' as i32)).expect("pokes");
        poke.call(&mut store, (60_000, 1)).expect("pokes");
        drop(store);

        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine).instantiate(&mut store, &plain).expect("instantiates");
        let memory = instance.get_memory(&store, "memory").expect("memory");
        assert!(memory.data(&store).iter().all(|&b| b == 0), "round {round}: a fresh memory is zero");
    }
}

#[test]
fn every_memory_of_a_module_maps_its_own_image_32_or_64_bit() {
    let wat = br#"(module
        (memory (export "a") 1) (memory (export "b") i64 2) (memory (export "c") 1)
        (data (memory 0) (i32.const 10) "first")
        (data (memory 1) (i64.const 70000) "second")
        (data (memory 2) (i32.const 10) "third")
        (func (export "poke_b") (param i64 i32) local.get 0 local.get 1 i32.store8 1))"#;
    let object = kiln_compiler::compile(wat, &CompileOptions::default()).expect("compiles");
    let mut pool = PoolingAllocationConfig::new();
    pool.total_memories(6).total_tables(2).total_core_instances(2);
    let mut config = Config::new();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    for engine in [Engine::default(), Engine::new(&config).expect("engine")] {
        let module = kiln_tests::module_from_bytes(&engine, &object).expect("loads");
        let images: Vec<u32> = module.info().memory_images.iter().map(|image| image.memory).collect();
        assert_eq!(images, [0, 1, 2], "each memory has an image");
        for round in 0..2 {
            let mut store = Store::new(&engine, ());
            let instance = Linker::new(&engine).instantiate(&mut store, &module).expect("instantiates");
            let memory = |name| instance.get_memory(&store, name).expect(name);
            let (a, b, c) = (memory("a"), memory("b"), memory("c"));
            assert_eq!(&a.data(&store)[10..15], b"first", "round {round}");
            assert_eq!(&b.data(&store)[70000..70006], b"second", "round {round}");
            assert_eq!(&c.data(&store)[10..15], b"third", "round {round}");
            assert!(b.ty(&store).memory64 && !a.ty(&store).memory64);
            let poke = instance.get_typed_func::<(i64, i32), ()>(&store, "poke_b").expect("poke_b");
            poke.call(&mut store, (70000, i32::from(b'S'))).expect("pokes");
            assert_eq!(&b.data(&store)[70000..70006], b"Second", "round {round}");
            assert_eq!(&a.data(&store)[10..15], b"first", "the other memories are untouched");
        }
    }
}
