//! Programs written in Wasm GC text give the results their algorithms
//! define.

mod common;
mod externref_common;

use kiln_compiler::{compile_file, CompileOptions};
use kiln_loader::{Engine, Linker, Store};

#[test]
fn binary_trees_counts_every_node() {
    let input = common::tests_path("programs/gc/binary_trees.wat");
    let output = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("binary_trees_test.o");
    compile_file(&input, &output, &CompileOptions::default()).unwrap();
    let engine = Engine::default();
    let module = kiln_tests::module_from_file(&engine, &output).unwrap();
    // Node counts of the stretch tree, the long-lived tree and the
    // 2^(n-d+4) trees of each depth d (tests/programs/gc/binary_trees.wat).
    let expected = |n: u32| -> i32 {
        let nodes = |d: u32| (1u64 << (d + 1)) - 1;
        let max = n.max(6);
        let mut sum = nodes(max + 1) + nodes(max);
        for d in (4..=max).step_by(2) {
            sum += (1u64 << (max - d + 4)) * nodes(d);
        }
        sum as u32 as i32
    };
    for n in [4, 6, 10, 12] {
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine).instantiate(&mut store, &module).unwrap();
        let run = instance.get_typed_func::<i32, i32>(&store, "run").unwrap();
        assert_eq!(run.call(&mut store, n).unwrap(), expected(n as u32), "depth {n}");
        store.gc().unwrap();
        assert_eq!(store.gc_heap_stats().live_objects, 0, "every tree is garbage once `run` returns");
    }
    assert_eq!(expected(6), 4398);
}
