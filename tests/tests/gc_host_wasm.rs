//! The host API of GC objects against compiled Wasm: objects Wasm makes
//! are read and written by the host and the other way round, concrete
//! types check through the engine's registry, identity survives the
//! `externref`/`anyref` conversions on both sides, and root scopes
//! release the counts that keep objects alive (SPEC 3.14).

use kiln_compiler::{compile, CompileOptions};
use kiln_loader::{
    AnyRef, Engine, ExternRef, FieldType, Func, Instance, Linker, RootScope, StorageType, Store, StructRef, StructType,
    TypedFunc, Val, ValType, I31,
};

const WAT: &str = r#"(module
    (type $pt (struct (field $x (mut i32)) (field $next (mut (ref null $pt)))))
    (type $p2 (struct (field i32)))
    (type $arr (array (mut i64)))
    (func (export "make") (param i32) (result (ref $pt))
        (struct.new $pt (local.get 0) (ref.null $pt)))
    (func (export "x") (param (ref null $pt)) (result i32)
        (struct.get $pt $x (local.get 0)))
    (func (export "next") (param (ref $pt)) (result (ref null $pt))
        (struct.get $pt $next (local.get 0)))
    (func (export "is_pt") (param anyref) (result i32)
        (ref.test (ref $pt) (local.get 0)))
    (func (export "p2_value") (param anyref) (result i32)
        (struct.get $p2 0 (ref.cast (ref $p2) (local.get 0))))
    (func (export "eq") (param eqref eqref) (result i32)
        (ref.eq (local.get 0) (local.get 1)))
    (func (export "externalize") (param anyref) (result externref)
        (extern.convert_any (local.get 0)))
    (func (export "internalize") (param externref) (result anyref)
        (any.convert_extern (local.get 0)))
    (func (export "array") (param i32) (result (ref $arr))
        (array.new $arr (i64.const 5) (local.get 0)))
    (func (export "i31") (param i32) (result i31ref) (ref.i31 (local.get 0)))
    (global (export "keep") (mut anyref) (ref.null any)))"#;

struct Fixture {
    store: Store<()>,
    instance: Instance,
}

impl Fixture {
    fn new() -> Fixture {
        let object = compile(WAT.as_bytes(), &CompileOptions::default()).expect("kilnc compiles the module");
        let engine = Engine::default();
        let module = kiln_tests::module_from_bytes(&engine, &object).expect("the artifact loads");
        let mut store = Store::new(&engine, ());
        let instance = Linker::<()>::new(&engine).instantiate(&mut store, &module).expect("instantiates");
        Fixture { store, instance }
    }

    fn func(&mut self, name: &str) -> Func {
        self.instance.get_func(&mut self.store, name).unwrap_or_else(|| panic!("no export {name}"))
    }

    /// Calls `name` in `store` (a scope of the fixture's store, say).
    fn call(func: Func, store: &mut RootScope<&mut Store<()>>, args: &[Val]) -> Val {
        let mut results = [Val::I32(0)];
        func.call(store, args, &mut results).unwrap_or_else(|e| panic!("call: {e}"));
        let [result] = results;
        result
    }
}

#[test]
fn the_host_reads_and_writes_the_structs_wasm_makes() {
    let mut f = Fixture::new();
    let (make, x, next, is_pt) = (f.func("make"), f.func("x"), f.func("next"), f.func("is_pt"));
    let mut scope = RootScope::new(&mut f.store);
    let a = Fixture::call(make, &mut scope, &[Val::I32(7)]);
    let a = a.anyref().expect("a struct").as_struct(&scope).unwrap().expect("a struct");
    assert_eq!(a.field(&scope, 0).unwrap().i32(), Some(7));
    assert!(a.field(&scope, 1).unwrap().is_null());
    let ty = a.ty(&scope).unwrap();
    assert_eq!(ty.fields.len(), 2);

    a.set_field(&mut scope, 0, Val::I32(9)).unwrap();
    assert_eq!(Fixture::call(x, &mut scope, &[Val::AnyRef(Some(a.to_anyref()))]).i32(), Some(9));

    // Link a second struct into the first from the host; Wasm sees it.
    let b = Fixture::call(make, &mut scope, &[Val::I32(3)]);
    a.set_field(&mut scope, 1, b.clone()).unwrap();
    let linked = Fixture::call(next, &mut scope, &[Val::AnyRef(Some(a.to_anyref()))]);
    assert!(AnyRef::ref_eq(&scope, linked.anyref().unwrap(), b.anyref().unwrap()).unwrap());

    // The concrete type is checked through the engine's registry: an i31
    // is no `(ref $pt)`, a host-made struct of another type neither.
    let i31 = Val::AnyRef(Some(AnyRef::from_i31(I31::wrapping_u32(1))));
    assert!(x.call(&mut scope, std::slice::from_ref(&i31), &mut [Val::I32(0)]).is_err());
    let other = StructRef::new(&mut scope, &StructType { fields: vec![] }, &[]).unwrap();
    assert!(x.call(&mut scope, &[Val::AnyRef(Some(other.to_anyref()))], &mut [Val::I32(0)]).is_err());
    assert_eq!(Fixture::call(is_pt, &mut scope, &[Val::AnyRef(Some(a.to_anyref()))]).i32(), Some(1));
    assert_eq!(Fixture::call(is_pt, &mut scope, &[i31]).i32(), Some(0));
}

#[test]
fn host_made_structs_are_of_the_modules_equal_type() {
    let mut f = Fixture::new();
    let p2_value = f.func("p2_value");
    let mut scope = RootScope::new(&mut f.store);
    let ty = StructType { fields: vec![FieldType { storage: StorageType::Val(ValType::I32), mutable: false }] };
    let s = StructRef::new(&mut scope, &ty, &[Val::I32(41)]).unwrap();
    // `ref.cast (ref $p2)` accepts it: the type is the module's `$p2`.
    assert_eq!(Fixture::call(p2_value, &mut scope, &[Val::AnyRef(Some(s.to_anyref()))]).i32(), Some(41));
}

#[test]
fn identity_survives_the_conversions_on_both_sides() {
    let mut f = Fixture::new();
    let (make, eq, externalize, internalize, i31) =
        (f.func("make"), f.func("eq"), f.func("externalize"), f.func("internalize"), f.func("i31"));
    let mut scope = RootScope::new(&mut f.store);
    let a = Fixture::call(make, &mut scope, &[Val::I32(1)]);
    let any = *a.anyref().unwrap();
    // Wasm's extern.convert_any, the host's AnyRef::from_extern.
    let external = Fixture::call(externalize, &mut scope, std::slice::from_ref(&a));
    let external = external.externref().expect("non-null").clone();
    assert_eq!(external.downcast_ref::<u32>(), None, "a struct made external has no host value");
    let back = AnyRef::from_extern(&scope, &external).unwrap();
    assert!(AnyRef::ref_eq(&scope, &back, &any).unwrap());
    // The host's ExternRef::from_any, Wasm's any.convert_extern.
    let external = ExternRef::from_any(&scope, &any).unwrap();
    let back = Fixture::call(internalize, &mut scope, &[Val::ExternRef(Some(external))]);
    assert_eq!(Fixture::call(eq, &mut scope, &[back, a]).i32(), Some(1));

    // A host value seen as anyref comes back as the same host value.
    let host = ExternRef::new(5u32);
    let internal = Fixture::call(internalize, &mut scope, &[Val::ExternRef(Some(host.clone()))]);
    let internal = *internal.anyref().unwrap();
    assert!(internal.is_host(&scope).unwrap());
    let external = Fixture::call(externalize, &mut scope, &[Val::AnyRef(Some(internal))]);
    assert!(ExternRef::ptr_eq(external.externref().unwrap(), &host));

    // Typed calls take and give internal references too.
    let typed = f_typed(externalize, &scope);
    let external = typed.call(&mut scope, Some(any)).unwrap().expect("non-null");
    assert!(AnyRef::ref_eq(&scope, &AnyRef::from_extern(&scope, &external).unwrap(), &any).unwrap());

    // i31s from Wasm are inline.
    let v = Fixture::call(i31, &mut scope, &[Val::I32(-3)]);
    assert_eq!(v.anyref().and_then(AnyRef::as_i31).map(I31::get_i32), Some(-3));
}

#[test]
fn root_scopes_and_globals_decide_what_lives() {
    let mut f = Fixture::new();
    let (make, array) = (f.func("make"), f.func("array"));
    let keep = f.instance.get_global(&mut f.store, "keep").unwrap();
    let before = f.store.gc_heap_stats().live_objects;
    {
        let mut scope = RootScope::new(&mut f.store);
        let kept = Fixture::call(make, &mut scope, &[Val::I32(1)]);
        Fixture::call(make, &mut scope, &[Val::I32(2)]);
        let arr = Fixture::call(array, &mut scope, &[Val::I32(4)]);
        let arr = arr.anyref().unwrap().as_array(&scope).unwrap().unwrap();
        assert_eq!(arr.len(&scope).unwrap(), 4);
        assert_eq!(arr.get(&scope, 3).unwrap().i64(), Some(5));
        keep.set(&mut scope, kept).unwrap();
    }
    // The call results' counts in the activations table go at the next GC.
    f.store.gc().unwrap();
    assert_eq!(f.store.gc_heap_stats().live_objects, before + 1, "only the struct the global holds is alive");
    assert_eq!(f.store.gc_roots_len(), 0);
    let mut scope = RootScope::new(&mut f.store);
    let kept = keep.get(&scope);
    let kept = kept.anyref().unwrap().as_struct(&scope).unwrap().unwrap();
    assert_eq!(kept.field(&scope, 0).unwrap().i32(), Some(1));
    keep.set(&mut scope, Val::AnyRef(None)).unwrap();
    drop(scope);
    f.store.gc().unwrap();
    assert_eq!(f.store.gc_heap_stats().live_objects, before);
}

fn f_typed(func: Func, store: &RootScope<&mut Store<()>>) -> TypedFunc<Option<AnyRef>, Option<ExternRef>> {
    func.typed(store).expect("externalize is anyref -> externref")
}

#[test]
fn cycles_the_host_makes_are_collected() {
    let mut f = Fixture::new();
    let make = f.func("make");
    let before = f.store.gc_heap_stats().live_objects;
    {
        let mut scope = RootScope::new(&mut f.store);
        let a = Fixture::call(make, &mut scope, &[Val::I32(1)]);
        let b = Fixture::call(make, &mut scope, &[Val::I32(2)]);
        let (sa, sb) = (a.anyref().unwrap().as_struct(&scope).unwrap().unwrap(), b.anyref().unwrap());
        let sb = sb.as_struct(&scope).unwrap().unwrap();
        sa.set_field(&mut scope, 1, b.clone()).unwrap();
        sb.set_field(&mut scope, 1, a.clone()).unwrap();
    }
    // Only the cycle keeps them: the GC drops the calls' counts, and the
    // cycle collector finds the rest garbage.
    f.store.gc().unwrap();
    f.store.gc().unwrap();
    let stats = f.store.gc_heap_stats();
    assert_eq!(stats.live_objects, before, "{stats:?}");
    assert!(stats.cycles_collected >= 2, "the cycle collector freed them: {stats:?}");
}

#[test]
fn host_functions_take_and_give_internal_references() {
    let object = compile(
        br#"(module
            (type $pt (struct (field i32)))
            (import "host" "pass" (func $pass (param anyref) (result anyref)))
            (func (export "run") (param i32) (result i32)
                (struct.get $pt 0 (ref.cast (ref $pt) (call $pass (struct.new $pt (local.get 0)))))))"#,
        &CompileOptions::default(),
    )
    .expect("kilnc compiles the module");
    let engine = Engine::default();
    let module = kiln_tests::module_from_bytes(&engine, &object).expect("the artifact loads");
    let mut linker = Linker::<()>::new(&engine);
    linker
        .func_wrap(
            "host",
            "pass",
            |caller: kiln_loader::Caller<'_, ()>, v: Option<AnyRef>| -> anyhow::Result<Option<AnyRef>> {
                let s = v.expect("non-null").as_struct(&caller)?.expect("a struct");
                assert_eq!(s.field(&caller, 0)?.i32(), Some(6));
                Ok(Some(s.to_anyref()))
            },
        )
        .unwrap();
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module).expect("instantiates");
    let run = instance.get_typed_func::<i32, i32>(&store, "run").unwrap();
    assert_eq!(run.call(&mut store, 6).unwrap(), 6);
    assert_eq!(store.gc_roots_len(), 0, "the call's roots went with it");
    store.gc().unwrap();
    assert_eq!(store.gc_heap_stats().live_objects, 0);
}
