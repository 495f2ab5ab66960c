//! The host API of the any hierarchy: `AnyRef`, `I31`, root scopes and
//! the conversions between `externref` and `anyref`, through host
//! functions, globals and tables of a store (SPEC 3.14).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use kiln_loader::{
    AnyRef, ArrayRef, ArrayType, Engine, Error, Exn, ExternRef, FieldType, Func, FuncType, Global, GlobalType,
    HeapType, RefType, RootScope, StorageType, Store, StructRef, StructType, Table, TableType, Tag, TagType, Val,
    ValType, I31,
};

const ANYREF: ValType = ValType::Ref(RefType { nullable: true, heap: HeapType::Any });
const EQREF: ValType = ValType::Ref(RefType { nullable: true, heap: HeapType::Eq });
const I31REF: ValType = ValType::Ref(RefType { nullable: false, heap: HeapType::I31 });

/// A host value that counts its drops.
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn store() -> Store<()> {
    Store::new(&Engine::default(), ())
}

#[test]
fn i31_keeps_31_bits_either_way() {
    assert_eq!(I31::new_u32(0x7fff_ffff).map(I31::get_u32), Some(0x7fff_ffff));
    assert_eq!(I31::new_u32(0x8000_0000), None);
    assert_eq!(I31::new_i32(-1).map(I31::get_i32), Some(-1));
    assert_eq!(I31::new_i32(-1).map(I31::get_u32), Some(0x7fff_ffff));
    assert_eq!(I31::new_i32(-0x4000_0000).map(I31::get_i32), Some(-0x4000_0000));
    assert_eq!(I31::new_i32(0x4000_0000), None);
    assert_eq!(I31::wrapping_u32(0xffff_fffe).get_i32(), -2);
}

#[test]
fn i31_round_trips_through_a_host_function_and_a_global() {
    let mut store = store();
    // (i31ref) -> anyref: the argument comes back as it went in.
    let ty = FuncType { params: vec![I31REF], results: vec![ANYREF] };
    let identity = Func::new(&mut store, ty, |_, args, results| {
        results[0] = args[0].clone();
        Ok(())
    });
    let mut results = [Val::AnyRef(None)];
    let value = AnyRef::from_i31(I31::wrapping_i32(-7));
    identity.call(&mut store, &[Val::AnyRef(Some(value))], &mut results).unwrap();
    let back = results[0].anyref().expect("a non-null result");
    assert_eq!(back.as_i31().map(I31::get_i32), Some(-7));
    assert!(AnyRef::ref_eq(&store, back, &value).unwrap());
    assert_eq!(store.gc_roots_len(), 0, "an i31 needs no root");

    // Null is no i31ref.
    let err = identity.call(&mut store, &[Val::AnyRef(None)], &mut results).unwrap_err();
    assert!(err.to_string().contains("expected"), "{err}");

    let global = Global::new(&mut store, GlobalType { content: EQREF, mutable: true }, Val::AnyRef(None)).unwrap();
    global.set(&mut store, Val::AnyRef(Some(AnyRef::from_i31(I31::wrapping_u32(99))))).unwrap();
    let got = global.get(&store);
    assert_eq!(got.anyref().and_then(AnyRef::as_i31).map(I31::get_u32), Some(99));
    assert_eq!(got.ty(), ANYREF);
}

#[test]
fn extern_and_any_round_trips_keep_identity() {
    let mut store = store();
    let host = ExternRef::new(42u32);
    // any.convert_extern of a host value, then extern.convert_any: the
    // same host value.
    let any = AnyRef::from_extern(&store, &host).unwrap();
    assert!(any.is_host(&store).unwrap());
    assert!(!any.is_struct(&store).unwrap() && !any.is_i31());
    let again = ExternRef::from_any(&store, &any).unwrap();
    assert!(ExternRef::ptr_eq(&host, &again));
    assert_eq!(again.downcast_ref::<u32>(), Some(&42));

    // An i31 made external is no host value, and comes back as itself.
    let i31 = AnyRef::from_i31(I31::wrapping_u32(5));
    let external = ExternRef::from_any(&store, &i31).unwrap();
    assert_eq!(external.downcast_ref::<u32>(), None);
    assert_eq!(external.strong_count(), 0, "an internal reference's count is its root's");
    let internal = AnyRef::from_extern(&store, &external).unwrap();
    assert!(AnyRef::ref_eq(&store, &internal, &i31).unwrap());

    // Through a host function typed externref -> externref, the internal
    // reference stays internal.
    let ty = FuncType { params: vec![ValType::EXTERNREF], results: vec![ValType::EXTERNREF] };
    let identity = Func::new(&mut store, ty, |_, args, results| {
        results[0] = args[0].clone();
        Ok(())
    });
    let mut results = [Val::ExternRef(None)];
    identity.call(&mut store, &[Val::ExternRef(Some(external))], &mut results).unwrap();
    let back = results[0].externref().expect("a non-null result");
    assert_eq!(back.downcast_ref::<u32>(), None);
    let back = AnyRef::from_extern(&store, back).unwrap();
    assert_eq!(back.as_i31().map(I31::get_u32), Some(5));
}

#[test]
fn root_scopes_release_their_counts() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut store = store();
    let host = ExternRef::new(Tracked(drops.clone()));
    {
        let mut scope = RootScope::new(&mut store);
        let any = AnyRef::from_extern(&scope, &host).unwrap();
        assert_eq!(host.strong_count(), 2, "the root owns a count");
        {
            let inner = RootScope::new(&mut scope);
            let _twice = AnyRef::from_extern(&inner, &host).unwrap();
            assert_eq!(host.strong_count(), 3);
        }
        assert_eq!(host.strong_count(), 2, "the inner scope released its root");
        assert!(any.is_host(&scope).unwrap(), "the outer root is still there");
        drop(scope);
        assert_eq!(host.strong_count(), 1, "the outer scope released its root");
        // The handle is refused once its root is gone, never read.
        let err = any.is_host(&store).unwrap_err();
        assert!(err.to_string().contains("released"), "{err}");
        assert!(ExternRef::from_any(&store, &any).is_err());
    }
    assert_eq!(store.gc_roots_len(), 0);
    drop(host);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "freed once, at the last count");
}

#[test]
fn host_calls_release_the_roots_of_their_arguments() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut store = store();
    let seen = Arc::new(Mutex::new(None));
    let ty = FuncType { params: vec![ANYREF], results: vec![] };
    let seen_in_call = seen.clone();
    let check = Func::new(&mut store, ty, move |caller, args, _| {
        // The argument is rooted while the call runs.
        let any = *args[0].anyref().expect("non-null");
        assert!(any.is_host(&caller).unwrap());
        *seen_in_call.lock().unwrap() = Some(any);
        Ok(())
    });
    let any = {
        let host = ExternRef::new(Tracked(drops.clone()));
        AnyRef::from_extern(&store, &host).unwrap()
    };
    assert_eq!(store.gc_roots_len(), 1);
    check.call(&mut store, &[Val::AnyRef(Some(any))], &mut []).unwrap();
    assert_eq!(store.gc_roots_len(), 1, "the argument's root went with the call");
    let argument = seen.lock().unwrap().expect("the function ran");
    assert!(argument.is_host(&store).is_err(), "a handle of the argument is refused after the call");
    assert!(any.is_host(&store).unwrap(), "the caller's own root is untouched");
    // The host value is alive through its root (and the activations
    // table's count of the argument) until both let go.
    store.gc().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(store);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the store released the last root");
}

#[test]
fn handles_of_another_store_are_refused() {
    let engine = Engine::default();
    let mut a = Store::new(&engine, ());
    let mut b = Store::new(&engine, ());
    let host = ExternRef::new(1u32);
    let any = AnyRef::from_extern(&a, &host).unwrap();
    assert!(matches!(any.is_host(&b), Err(Error::ForeignHandle(_))));
    assert!(ExternRef::from_any(&b, &any).is_err());
    let ty = TableType {
        element: RefType { nullable: true, heap: HeapType::Any },
        minimum: 1,
        maximum: None,
        table64: false,
    };
    let table = Table::new(&mut b, ty, Val::AnyRef(None)).unwrap();
    assert!(table.set(&mut b, 0, Val::AnyRef(Some(any))).is_err());
    let global = Global::new(&mut a, GlobalType { content: ANYREF, mutable: true }, Val::AnyRef(Some(any))).unwrap();
    assert!(global.get(&a).anyref().is_some());
    let ty = FuncType { params: vec![ANYREF], results: vec![] };
    let f = Func::new(&mut b, ty, |_, _, _| Ok(()));
    assert!(f.call(&mut b, &[Val::AnyRef(Some(any))], &mut []).is_err());
}

#[test]
fn tables_own_counts_of_host_values_seen_as_any() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut store = store();
    let ty = TableType {
        element: RefType { nullable: true, heap: HeapType::Any },
        minimum: 2,
        maximum: None,
        table64: false,
    };
    let table = Table::new(&mut store, ty, Val::AnyRef(None)).unwrap();
    {
        let mut scope = RootScope::new(&mut store);
        let host = ExternRef::new(Tracked(drops.clone()));
        let any = AnyRef::from_extern(&scope, &host).unwrap();
        table.set(&mut scope, 0, Val::AnyRef(Some(any))).unwrap();
        table.set(&mut scope, 1, Val::AnyRef(Some(AnyRef::from_i31(I31::wrapping_u32(3))))).unwrap();
        assert_eq!(host.strong_count(), 3, "the ExternRef, the root and the table");
    }
    assert_eq!(drops.load(Ordering::SeqCst), 0, "the table keeps it");
    {
        let scope = RootScope::new(&mut store);
        let got = table.get(&scope, 0).unwrap();
        let any = got.anyref().unwrap();
        let host = ExternRef::from_any(&scope, any).unwrap();
        assert!(host.downcast_ref::<Tracked>().is_some());
        let i31 = table.get(&scope, 1).unwrap();
        assert_eq!(i31.anyref().and_then(AnyRef::as_i31).map(I31::get_u32), Some(3));
    }
    let mut scope = RootScope::new(&mut store);
    table.set(&mut scope, 0, Val::AnyRef(None)).unwrap();
    drop(scope);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn owned_roots_outlive_scopes_and_release_after_their_handles() {
    let mut store = store();
    let host = ExternRef::new(7u32);
    let owned = {
        let scope = RootScope::new(&mut store);
        let any = AnyRef::from_extern(&scope, &host).unwrap();
        any.to_owned_rooted(&scope).unwrap()
    };
    assert_eq!(host.strong_count(), 2, "the scope's root is gone, the owned root holds a count");
    {
        let scope = RootScope::new(&mut store);
        let any = owned.to_anyref(&scope).unwrap();
        assert_eq!(ExternRef::from_any(&scope, &any).unwrap().downcast_ref::<u32>(), Some(&7));
    }
    let clone = owned.clone();
    drop(owned);
    store.gc().unwrap();
    assert_eq!(host.strong_count(), 2, "a clone keeps the root");
    drop(clone);
    assert_eq!(store.gc_owned_roots_len(), 1, "released at the next sweep");
    store.gc().unwrap();
    assert_eq!(store.gc_owned_roots_len(), 0);
    assert_eq!(host.strong_count(), 1);

    // An i31 needs no root; a handle of another store is refused.
    let i31 = AnyRef::from_i31(I31::wrapping_u32(9)).to_owned_rooted(&store).unwrap();
    assert_eq!(i31.to_anyref(&store).unwrap().as_i31().map(I31::get_u32), Some(9));
    let owned = AnyRef::from_extern(&store, &host).unwrap().to_owned_rooted(&store).unwrap();
    let other = Store::new(store.engine(), ());
    assert!(matches!(owned.to_anyref(&other), Err(Error::ForeignHandle(_))));
}

fn field(storage: StorageType, mutable: bool) -> FieldType {
    FieldType { storage, mutable }
}

#[test]
fn structs_allocated_by_the_host_read_and_write_their_fields() {
    let mut store = store();
    let ty = StructType {
        fields: vec![
            field(StorageType::I8, true),
            field(StorageType::Val(ValType::I64), false),
            field(StorageType::Val(ANYREF), true),
            field(StorageType::Val(ValType::F32), true),
        ],
    };
    let host = ExternRef::new(11u32);
    let hosted = AnyRef::from_extern(&store, &host).unwrap();
    let values = [Val::I32(-1), Val::I64(1 << 40), Val::AnyRef(Some(hosted)), Val::F32(1.5f32.to_bits())];
    let s = StructRef::new(&mut store, &ty, &values).unwrap();
    assert_eq!(s.ty(&store).unwrap(), ty);
    assert_eq!(s.field(&store, 0).unwrap().i32(), Some(0xff), "a packed field reads zero-extended");
    assert_eq!(s.field(&store, 1).unwrap().i64(), Some(1 << 40));
    assert_eq!(s.field(&store, 3).unwrap().f32(), Some(1.5));
    let r = s.field(&store, 2).unwrap();
    assert!(AnyRef::ref_eq(&store, r.anyref().unwrap(), &hosted).unwrap());
    assert_eq!(host.strong_count(), 4, "the ExternRef, two roots and the field");

    s.set_field(&mut store, 0, Val::I32(0x1234)).unwrap();
    assert_eq!(s.field(&store, 0).unwrap().i32(), Some(0x34), "stored truncated");
    assert!(s.set_field(&mut store, 1, Val::I64(0)).unwrap_err().to_string().contains("immutable"));
    assert!(s.set_field(&mut store, 3, Val::I32(0)).is_err(), "wrong type");
    assert!(s.field(&store, 4).is_err(), "no such field");
    s.set_field(&mut store, 2, Val::AnyRef(None)).unwrap();
    assert_eq!(host.strong_count(), 3, "the field's count went with the old value");

    // The struct seen as anyref.
    let any = s.to_anyref();
    assert!(any.is_struct(&store).unwrap() && !any.is_array(&store).unwrap() && !any.is_host(&store).unwrap());
    assert_eq!(any.as_struct(&store).unwrap(), Some(s));
    assert_eq!(any.as_array(&store).unwrap(), None);
    let external = ExternRef::from_any(&store, &any).unwrap();
    assert_eq!(external.downcast_ref::<u32>(), None, "a struct made external has no host value");
    let back = AnyRef::from_extern(&store, &external).unwrap();
    assert!(AnyRef::ref_eq(&store, &back, &any).unwrap());
}

#[test]
fn arrays_allocated_by_the_host_check_their_bounds() {
    let mut store = store();
    let ty = ArrayType { element: field(StorageType::I16, true) };
    let a = ArrayRef::new(&mut store, &ty, &Val::I32(-2), 3).unwrap();
    assert_eq!(a.len(&store).unwrap(), 3);
    assert_eq!(a.get(&store, 2).unwrap().i32(), Some(0xfffe));
    a.set(&mut store, 1, Val::I32(7)).unwrap();
    assert_eq!(a.get(&store, 1).unwrap().i32(), Some(7));
    assert!(a.get(&store, 3).unwrap_err().to_string().contains("out of bounds"));
    assert!(a.set(&mut store, 3, Val::I32(0)).is_err());

    let refs = ArrayType {
        element: field(StorageType::Val(ValType::Ref(RefType { nullable: true, heap: HeapType::I31 })), false),
    };
    let i31 = |v| Val::AnyRef(Some(AnyRef::from_i31(I31::wrapping_u32(v))));
    let b = ArrayRef::new_fixed(&mut store, &refs, &[i31(1), i31(2)]).unwrap();
    assert_eq!(b.get(&store, 1).unwrap().anyref().and_then(AnyRef::as_i31).map(I31::get_u32), Some(2));
    assert!(b.set(&mut store, 0, i31(3)).unwrap_err().to_string().contains("immutable"));
    // A struct is no i31.
    let s = StructRef::new(&mut store, &StructType { fields: vec![] }, &[]).unwrap();
    assert!(ArrayRef::new_fixed(&mut store, &refs, &[Val::AnyRef(Some(s.to_anyref()))]).is_err());
    assert!(b.to_anyref().is_array(&store).unwrap());
}

#[test]
fn objects_die_with_their_last_root() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut store = store();
    let ty = StructType { fields: vec![field(StorageType::Val(ValType::EXTERNREF), false)] };
    {
        let mut scope = RootScope::new(&mut store);
        let host = ExternRef::new(Tracked(drops.clone()));
        StructRef::new(&mut scope, &ty, &[Val::ExternRef(Some(host))]).unwrap();
    }
    assert_eq!(drops.load(Ordering::SeqCst), 1, "freeing the struct dropped its field's count");
}

#[test]
fn handles_outliving_their_store_are_harmless() {
    let engine = Engine::default();
    let mut a = Store::new(&engine, ());
    let s = StructRef::new(&mut a, &StructType { fields: vec![] }, &[]).unwrap();
    let external = ExternRef::from_any(&a, &s.to_anyref()).unwrap();
    let owned = s.to_anyref().to_owned_rooted(&a).unwrap();
    // Another store refuses them.
    let mut b = Store::new(&engine, ());
    let ty = StructType { fields: vec![field(StorageType::Val(ANYREF), true)] };
    assert!(matches!(StructRef::new(&mut b, &ty, &[Val::AnyRef(Some(s.to_anyref()))]), Err(Error::ForeignHandle(_))));
    assert!(s.field(&b, 0).is_err());
    drop(a);
    // The store freed the struct; its handles are refused, and dropping
    // them touches nothing.
    assert!(AnyRef::from_extern(&b, &external).is_err());
    assert!(owned.to_anyref(&b).is_err());
    drop((external, owned));
}

#[test]
fn exceptions_carry_internal_references() {
    let mut store = store();
    let tag = Tag::new(&mut store, &TagType::new([ANYREF, EQREF]));
    let i31 = AnyRef::from_i31(I31::wrapping_u32(8));
    let exn = {
        let mut scope = RootScope::new(&mut store);
        let ty = StructType { fields: vec![field(StorageType::I8, false)] };
        let s = StructRef::new(&mut scope, &ty, &[Val::I32(3)]).unwrap();
        Exn::new(&mut scope, &tag, &[Val::AnyRef(Some(s.to_anyref())), Val::AnyRef(Some(i31))]).unwrap()
    };
    assert_eq!(store.gc_heap_stats().live_objects, 1, "the exception holds the struct");
    // A host value seen as anyref is no eqref.
    let host = AnyRef::from_extern(&store, &ExternRef::new(1u32)).unwrap();
    assert!(Exn::new(&mut store, &tag, &[Val::AnyRef(None), Val::AnyRef(Some(host))]).is_err());
    {
        let scope = RootScope::new(&mut store);
        let values = exn.values(&scope).unwrap();
        let back = values[0].anyref().unwrap().as_struct(&scope).unwrap().unwrap();
        assert_eq!(back.field(&scope, 0).unwrap().i32(), Some(3));
        assert_eq!(values[1].anyref().and_then(AnyRef::as_i31).map(I31::get_u32), Some(8));
    }
    drop(exn);
    // An exception may be dropped on any thread, so it queues its counts
    // for the store, which drops them at its next GC.
    store.gc().unwrap();
    assert_eq!(store.gc_heap_stats().live_objects, 0, "freed after the exception");
}
