//! v128 end to end: compiled by kilnc, loaded by the loader, and crossing
//! every boundary of the embedding API (`tests/wat/simd.wat`), plus
//! `kiln run --invoke` with v128 arguments and results.

mod common;

use std::process::Command;

use kiln_compiler::{compile, CompileOptions};
use kiln_loader::{Caller, Engine, Error, FuncType, Global, GlobalType, Linker, Store, Val, ValType};

/// `i32x4` lanes, lane 0 first, as a v128.
fn i32x4(lanes: [i32; 4]) -> u128 {
    lanes.iter().enumerate().fold(0, |v, (i, &lane)| v | u128::from(lane as u32) << (32 * i))
}

fn i64x2(lanes: [i64; 2]) -> u128 {
    u128::from(lanes[0] as u64) | u128::from(lanes[1] as u64) << 64
}

fn i16x8(lanes: [i16; 8]) -> u128 {
    lanes.iter().enumerate().fold(0, |v, (i, &lane)| v | u128::from(lane as u16) << (16 * i))
}

fn swap_halves(v: u128) -> u128 {
    v.rotate_left(64)
}

/// What the host functions saw, for the assertions: the store's data.
#[derive(Default)]
struct HostLog {
    mix_calls: u32,
}

struct Fixture {
    store: Store<HostLog>,
    instance: kiln_loader::Instance,
    total: Global,
}

fn instantiate() -> Fixture {
    let source = std::fs::read(common::tests_path("wat/simd.wat")).expect("simd.wat");
    let artifact = compile(&source, &CompileOptions::default()).unwrap_or_else(|e| panic!("compile failed: {e}"));
    let engine = Engine::default();
    let module = kiln_tests::module_from_bytes(&engine, &artifact).expect("the artifact loads");
    let mut store = Store::new(&engine, HostLog::default());
    let mut linker = Linker::new(&engine);
    let v128_to_v128 = FuncType { params: vec![ValType::V128], results: vec![ValType::V128] };
    linker
        .func_new("host", "swap_halves", v128_to_v128, |_: Caller<'_, HostLog>, params, results| {
            let [Val::V128(v)] = params else { anyhow::bail!("swap_halves got {params:?}") };
            results[0] = Val::V128(swap_halves(*v));
            Ok(())
        })
        .unwrap();
    let mix_ty = FuncType {
        params: vec![ValType::I32, ValType::V128, ValType::F64, ValType::V128],
        results: vec![ValType::V128, ValType::I64],
    };
    linker
        .func_new("host", "mix", mix_ty, |mut caller: Caller<'_, HostLog>, params, results| {
            caller.data_mut().mix_calls += 1;
            let [Val::I32(n), Val::V128(a), Val::F64(x), Val::V128(b)] = params else {
                anyhow::bail!("mix got {params:?}");
            };
            results[0] = Val::V128(a ^ b);
            results[1] = Val::I64(i64::from(*n) + f64::from_bits(*x) as i64);
            Ok(())
        })
        .unwrap();
    let base =
        Global::new(&mut store, GlobalType { content: ValType::V128, mutable: false }, Val::V128(i64x2([100, -100])))
            .unwrap();
    let total = Global::new(&mut store, GlobalType { content: ValType::V128, mutable: true }, Val::V128(0)).unwrap();
    linker.define(&store, "host", "base", base).unwrap();
    linker.define(&store, "host", "total", total).unwrap();
    let instance = linker.instantiate(&mut store, &module).expect("instantiate");
    Fixture { store, instance, total }
}

fn call(fixture: &mut Fixture, name: &str, args: &[Val]) -> Vec<Val> {
    let func = fixture.instance.get_func(&fixture.store, name).unwrap_or_else(|| panic!("no export {name}"));
    let mut results = vec![Val::I32(0); func.ty(&fixture.store).results.len()];
    func.call(&mut fixture.store, args, &mut results).unwrap_or_else(|e| panic!("{name}: {e}"));
    results
}

fn v128(val: &Val) -> u128 {
    match val {
        Val::V128(v) => *v,
        other => panic!("expected a v128, got {other:?}"),
    }
}

#[test]
fn v128_arguments_and_results_cross_the_dynamic_api() {
    let mut f = instantiate();
    let sum = call(&mut f, "add", &[Val::V128(i32x4([1, 2, 3, i32::MAX])), Val::V128(i32x4([10, 20, -30, 1]))]);
    assert_eq!(sum.len(), 1);
    assert_eq!(v128(&sum[0]), i32x4([11, 22, -27, i32::MIN]));

    let add = f.instance.get_func(&f.store, "add").unwrap();
    let ty = add.ty(&f.store);
    assert_eq!(ty.params, vec![ValType::V128, ValType::V128]);
    let wrong = add.call(&mut f.store, &[Val::I32(1), Val::V128(0)], &mut [Val::V128(0)]);
    assert!(wrong.is_err(), "an i32 was accepted for a v128 parameter");
}

#[test]
fn typed_calls_use_u128() {
    let mut f = instantiate();
    let add = f.instance.get_typed_func::<(u128, u128), u128>(&f.store, "add").unwrap();
    assert_eq!(add.call(&mut f.store, (i32x4([1, 1, 1, 1]), i32x4([-1, 0, 1, 2]))).unwrap(), i32x4([0, 1, 2, 3]));
    assert!(f.instance.get_typed_func::<(u64, u64), u128>(&f.store, "add").is_err());
}

#[test]
fn several_vector_results_come_back_in_order() {
    let mut f = instantiate();
    let mut bytes = [0u8; 16];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37) ^ 0x80;
    }
    let input = u128::from_le_bytes(bytes);
    let results = call(&mut f, "split", &[Val::V128(input)]);
    assert_eq!(results.len(), 4);
    let low: [i16; 8] = std::array::from_fn(|i| i16::from(bytes[i] as i8));
    let high: [i16; 8] = std::array::from_fn(|i| i16::from(bytes[i + 8] as i8));
    assert_eq!(v128(&results[0]), i16x8(low));
    assert_eq!(v128(&results[1]), i16x8(high));
    let bitmask = bytes.iter().enumerate().fold(0i32, |m, (i, b)| m | (i32::from(b >> 7) << i));
    assert!(matches!(results[2], Val::I32(m) if m == bitmask), "{:?}", results[2]);
    assert_eq!(v128(&results[3]), input);
}

#[test]
fn host_functions_take_and_return_v128() {
    let mut f = instantiate();
    let input = 0x0011_2233_4455_6677_8899_aabb_ccdd_eeffu128;
    assert_eq!(v128(&call(&mut f, "through_host", &[Val::V128(input)])[0]), swap_halves(input));

    let a = i32x4([1, 2, 3, 4]);
    let b = i32x4([-1, -1, 0, 0]);
    let results = call(&mut f, "through_mix", &[Val::I32(5), Val::V128(a), Val::F64(2.5f64.to_bits()), Val::V128(b)]);
    assert_eq!(v128(&results[0]), a ^ b);
    assert!(matches!(results[1], Val::I64(7)), "{:?}", results[1]);
    assert_eq!(f.store.data().mix_calls, 1);
}

#[test]
fn imported_and_exported_v128_globals() {
    let mut f = instantiate();
    assert_eq!(v128(&call(&mut f, "accumulate", &[Val::V128(i32x4([1, 2, 3, 4]))])[0]), i32x4([1, 2, 3, 4]));
    assert_eq!(v128(&call(&mut f, "accumulate", &[Val::V128(i32x4([10, 10, 10, -10]))])[0]), i32x4([11, 12, 13, -6]));
    // The host sees the import's new value, and its writes reach Wasm.
    assert_eq!(v128(&f.total.get(&f.store)), i32x4([11, 12, 13, -6]));
    f.total.set(&mut f.store, Val::V128(i32x4([0, 0, 0, 100]))).unwrap();
    assert_eq!(v128(&call(&mut f, "accumulate", &[Val::V128(i32x4([1, 0, 0, 0]))])[0]), i32x4([1, 0, 0, 100]));
    assert!(f.total.set(&mut f.store, Val::I64(1)).is_err(), "an i64 was stored in a v128 global");

    let last = f.instance.get_global(&f.store, "last").expect("exported global `last`");
    assert_eq!(last.ty(&f.store), GlobalType { content: ValType::V128, mutable: true });
    assert_eq!(v128(&last.get(&f.store)), i32x4([1, 0, 0, 0]));
    let ones = f.instance.get_global(&f.store, "ones").expect("exported global `ones`");
    assert_eq!(v128(&ones.get(&f.store)), u128::from_le_bytes([1; 16]));
    assert!(ones.set(&mut f.store, Val::V128(0)).is_err(), "an immutable global was set");

    assert_eq!(v128(&call(&mut f, "plus_base", &[Val::V128(i64x2([1, 1]))])[0]), i64x2([101, -99]));
}

#[test]
fn unaligned_vector_memory_accesses() {
    let mut f = instantiate();
    let value = 0x0f0e_0d0c_0b0a_0908_0706_0504_0302_0100u128;
    let results = call(&mut f, "store_then_load", &[Val::I32(1), Val::V128(value)]);
    assert_eq!(v128(&results[0]), value);
    // Bytes 8..16 of the vector, read as a scalar.
    assert!(matches!(results[1], Val::I64(v) if v == 0x0f0e_0d0c_0b0a_0908), "{:?}", results[1]);
    let memory = f.instance.get_memory(&f.store, "memory").expect("exported memory");
    let mut bytes = [0u8; 16];
    memory.read(&f.store, 4, &mut bytes).unwrap();
    assert_eq!(u128::from_le_bytes(bytes), value);

    // The last 16 bytes of the page are fine; one further traps.
    call(&mut f, "store_then_load", &[Val::I32(65536 - 19), Val::V128(value)]);
    let func = f.instance.get_func(&f.store, "store_then_load").unwrap();
    let mut results = [Val::V128(0), Val::I64(0)];
    match func.call(&mut f.store, &[Val::I32(65536 - 18), Val::V128(!value)], &mut results) {
        Err(Error::Trap(trap)) => assert_eq!(trap.code, Some(kiln_loader::TrapCode::MEMORY_OUT_OF_BOUNDS)),
        other => panic!("expected an out-of-bounds trap, got {other:?}"),
    }
    // The store that straddled the end of memory wrote none of its bytes.
    memory.read(&f.store, 65536 - 16, &mut bytes).unwrap();
    assert_eq!(u128::from_le_bytes(bytes), value);
}

fn kiln_run(object: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(common::workspace_binary("kiln"))
        .arg("run")
        .arg(object)
        .arg("--invoke")
        .args(args)
        .output()
        .expect("kiln runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

#[test]
fn kiln_run_reads_and_prints_v128() {
    let dir = tempfile::tempdir().expect("temp dir");
    let object = dir.path().join("simd_cli.o");
    let status = Command::new(common::workspace_binary("kilnc"))
        .arg(common::tests_path("wat/simd_cli.wat"))
        .arg("-o")
        .arg(&object)
        .status()
        .expect("kilnc runs");
    assert!(status.success());

    let (ok, stdout, stderr) = kiln_run(&object, &["add", "i32x4:1,2,3,-1", "0x00000001000000010000000100000001"]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout, "0x00000000000000040000000300000002\n");

    let (ok, stdout, stderr) = kiln_run(&object, &["scale", "f64x2:1.5,-2", "2"]);
    assert!(ok, "{stderr}");
    let expected = u128::from(3.0f64.to_bits()) | u128::from((-4.0f64).to_bits()) << 64;
    assert_eq!(stdout, format!("{expected:#034x}\n7\n"));

    let (ok, _, stderr) = kiln_run(&object, &["add", "i32x4:1,2,3", "0x0"]);
    assert!(!ok);
    assert!(stderr.contains("error:") && stderr.contains("4 lanes"), "{stderr}");

    let help = Command::new(common::workspace_binary("kiln")).args(["run", "--help"]).output().expect("kiln runs");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("v128") && help.contains("i32x4:1,2,3,-4"), "{help}");
}
