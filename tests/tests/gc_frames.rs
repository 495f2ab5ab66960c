//! References of the any hierarchy live in Wasm frames across a GC: the
//! stack maps name the slots of every counted reference, `i31` words among
//! them, and the GC's stack walk must take an `i31` for what it is (no
//! pointer) while it keeps the host values it finds alive (SPEC 3.8, 3.14).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use kiln_compiler::{compile, CompileOptions};
use kiln_loader::{Caller, Engine, Error, ExternRef, Linker, Store};

/// A host value that counts its drops.
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

const WAT: &str = r#"(module
    (import "host" "gc" (func $gc))
    (func (export "run") (param $x i32) (param $e externref) (result i32)
        (local $a anyref) (local $b eqref) (local $c anyref)
        (local.set $a (ref.i31 (local.get $x)))
        (local.set $b (ref.i31 (i32.add (local.get $x) (i32.const 1))))
        (local.set $c (any.convert_extern (local.get $e)))
        (local.set $e (ref.null extern))
        (call $gc)
        (call $gc)
        (i32.add
            (i31.get_u (ref.cast (ref i31) (local.get $a)))
            (i31.get_u (ref.cast (ref i31) (local.get $b))))
        (i32.add (ref.is_null (extern.convert_any (local.get $c))))))"#;

#[test]
fn i31_words_and_converted_host_values_survive_gcs_in_frames() {
    let object = compile(WAT.as_bytes(), &CompileOptions::default()).expect("kilnc compiles the module");
    let engine = Engine::default();
    let module = kiln_tests::module_from_bytes(&engine, &object).expect("the artifact loads");
    let mut linker = Linker::<()>::new(&engine);
    linker
        .func_wrap("host", "gc", |mut caller: Caller<'_, ()>| -> Result<(), Error> {
            caller.gc()?;
            Ok(())
        })
        .unwrap();
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module).expect("instantiates");
    let run = instance.get_typed_func::<(i32, Option<ExternRef>), i32>(&mut store, "run").unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let value = ExternRef::new(Tracked(drops.clone()));
    let result = run.call(&mut store, (20, Some(value))).expect("runs");
    assert_eq!(result, 20 + 21, "the i31s kept their values and the host value stayed alive");
    assert_eq!(drops.load(Ordering::SeqCst), 0, "nothing dropped while the frame held it");
    store.gc().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1, "dropped once no frame holds it");
}
