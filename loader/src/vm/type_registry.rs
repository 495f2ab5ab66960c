//! The engine's registry of function types: every module and host function
//! of an engine names its types by the same dense ids, so that
//! `call_indirect` and import matching compare two `u32`s, and
//! instantiation copies a module's ids instead of hashing its types.
//!
//! Types are equal when their recursion groups are equal up to renaming
//! (iso-recursive equivalence, WebAssembly 3.0): a group is interned as a
//! whole, keyed by its types with each concrete reference written either
//! as a position inside the group or as the engine id of a type outside.
//! The types the registry hands out name every concrete type by its
//! engine id.
//!
//! Nearly every type is alone in its group, final, without a supertype
//! and without concrete references (all of WebAssembly 2.0's are). Those
//! take a fast path keyed by the type itself, hashed once; keying a map by
//! the types themselves cloned every new type twice and hashed it twice,
//! which was half the cost of loading a module.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use kiln_format::{CompositeType, FuncType, StorageType, TypeShape, ValType};

/// Canonical, engine-wide ids of the types of the type section (functions,
/// structs, arrays), compared by `call_indirect`, casts and import
/// matching.
#[derive(Default)]
pub(crate) struct TypeRegistry {
    /// Hash of a plain type to the newest id with that hash.
    by_hash: HashMap<u64, u32, BuildHasherDefault<HashIsKey>>,
    /// For each id, the next older plain id with the same hash, or `NO_TYPE`.
    same_hash: Vec<u32>,
    /// Each type, concrete references as engine ids.
    types: Vec<CompositeType>,
    /// Each type's declared supertype.
    supertypes: Vec<Option<u32>>,
    /// The id of the first type of every group that is not plain, by key.
    groups: HashMap<Vec<CanonSubType>, u32>,
    hasher: RandomState,
}

const NO_TYPE: u32 = u32::MAX;

/// The hasher of keys that are hashes already.
#[derive(Default)]
struct HashIsKey(u64);

impl Hasher for HashIsKey {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Marks a position inside the group in a key's concrete references;
/// engine ids stay below it.
const IN_GROUP: u32 = 1 << 31;

/// One type of a group's key: the type with each concrete reference
/// written as `IN_GROUP | position` for a type of the same group, or as
/// the engine id of a type outside.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct CanonSubType {
    ty: CompositeType,
    supertype: Option<u32>,
    is_final: bool,
}

/// Why a module's types cannot be interned: its artifact is damaged.
#[derive(Debug)]
pub(crate) struct BadTypes(pub String);

impl TypeRegistry {
    /// The id of a type alone in its group, final and without supertype,
    /// whose concrete references (if any) are engine ids: a host
    /// function's type.
    pub fn intern(&mut self, ty: &FuncType) -> u32 {
        self.intern_composite(&CompositeType::Func(ty.clone()))
    }

    /// The id of a function, struct or array type alone in its group,
    /// final and without supertype, whose concrete references (if any)
    /// are engine ids: the type of a host function or of an object the
    /// host allocates. Equal to the id of the same type so defined in a
    /// module.
    pub fn intern_composite(&mut self, ty: &CompositeType) -> u32 {
        let ty = ty.clone();
        if !mentions_concrete(&ty) {
            return self.intern_plain(&ty);
        }
        let key = vec![CanonSubType { ty: ty.clone(), supertype: None, is_final: true }];
        self.intern_group(key, |_| ty.clone())
    }

    /// Interns every type of a module, given the shape of each (its group
    /// and supertype), checking that the shapes and references are
    /// consistent: a group covers consecutive types, a supertype comes
    /// before its subtype, a reference names a type of an earlier group or
    /// of its own.
    pub fn intern_module(&mut self, tys: &[CompositeType], shapes: &[TypeShape]) -> Result<Vec<u32>, BadTypes> {
        if shapes.len() != tys.len() {
            return Err(BadTypes(format!("{} types but {} type shapes", tys.len(), shapes.len())));
        }
        self.by_hash.reserve(tys.len());
        self.same_hash.reserve(tys.len());
        self.types.reserve(tys.len());
        self.supertypes.reserve(tys.len());
        let mut ids: Vec<u32> = Vec::with_capacity(tys.len());
        let mut start = 0usize;
        while start < tys.len() {
            let shape = shapes[start];
            let len = shape.rec_group_len as usize;
            let end = start.checked_add(len).filter(|&end| len > 0 && end <= tys.len());
            let Some(end) = end else {
                return Err(BadTypes(format!("type {start} opens a recursion group of {len} types")));
            };
            for (i, shape) in shapes[start..end].iter().enumerate() {
                let at = start + i;
                if shape.rec_group_start as usize != start || shape.rec_group_len as usize != len {
                    return Err(BadTypes(format!("type {at} is outside the recursion group it names")));
                }
                if shape.supertype.is_some_and(|s| s as usize >= at) {
                    return Err(BadTypes(format!("type {at} declares a later supertype")));
                }
                if let Some(bad) = concrete_indices(&tys[at]).find(|&index| index as usize >= end) {
                    return Err(BadTypes(format!("type {at} refers to type {bad} of a later group")));
                }
            }
            let group = &tys[start..end];
            let plain = len == 1 && shape.is_final && shape.supertype.is_none() && !mentions_concrete(&group[0]);
            if plain {
                ids.push(self.intern_plain(&group[0]));
            } else {
                let index = |i: u32| match (i as usize).checked_sub(start) {
                    Some(position) if (i as usize) < end => IN_GROUP | position as u32,
                    _ => ids[i as usize],
                };
                let key: Vec<CanonSubType> = group
                    .iter()
                    .zip(&shapes[start..end])
                    .map(|(ty, shape)| CanonSubType {
                        ty: ty.map_concrete(index),
                        supertype: shape.supertype.map(index),
                        is_final: shape.is_final,
                    })
                    .collect();
                // Placeholders until the group's ids are known.
                let placeholder = |_| CompositeType::Func(FuncType { params: Vec::new(), results: Vec::new() });
                let first = self.intern_group(key, placeholder);
                // The ids of the group are known now: write the types out
                // with every reference as an engine id.
                let engine_index = |i: u32| match index(i) {
                    canon if canon & IN_GROUP != 0 => first + (canon & !IN_GROUP),
                    id => id,
                };
                for (position, ty) in group.iter().enumerate() {
                    self.types[first as usize + position] = ty.map_concrete(engine_index);
                }
                ids.extend((0..len as u32).map(|position| first + position));
            }
            start = end;
        }
        Ok(ids)
    }

    /// The id of a plain type (see the module docs).
    fn intern_plain(&mut self, ty: &CompositeType) -> u32 {
        let hash = self.hasher.hash_one(ty);
        let mut candidate = self.by_hash.get(&hash).copied().unwrap_or(NO_TYPE);
        while let (Some(known), Some(&next)) =
            (self.types.get(candidate as usize), self.same_hash.get(candidate as usize))
        {
            if known == ty {
                return candidate;
            }
            candidate = next;
        }
        let id = self.types.len() as u32;
        self.types.push(ty.clone());
        self.supertypes.push(None);
        self.same_hash.push(self.by_hash.insert(hash, id).unwrap_or(NO_TYPE));
        id
    }

    /// The id of the first type of a group, adding its types (made by
    /// `make`, each by its position) when the group is new.
    fn intern_group(&mut self, key: Vec<CanonSubType>, make: impl Fn(usize) -> CompositeType) -> u32 {
        if let Some(&first) = self.groups.get(&key) {
            return first;
        }
        let first = self.types.len() as u32;
        for (position, sub) in key.iter().enumerate() {
            self.types.push(make(position));
            self.supertypes.push(sub.supertype.map(|s| if s & IN_GROUP != 0 { first + (s & !IN_GROUP) } else { s }));
            // Never found by the plain path's hash lookup.
            self.same_hash.push(NO_TYPE);
        }
        self.groups.insert(key, first);
        first
    }

    /// The function type with id `id`, concrete references as engine ids.
    pub fn get(&self, id: u32) -> Option<&FuncType> {
        self.types.get(id as usize)?.as_func()
    }

    /// The type with id `id`, concrete references as engine ids.
    pub fn get_composite(&self, id: u32) -> Option<&CompositeType> {
        self.types.get(id as usize)
    }

    /// Whether type `sub` is `sup` or declares it, directly or through
    /// its supertypes.
    pub fn is_subtype(&self, sub: u32, sup: u32) -> bool {
        let mut at = Some(sub);
        while let Some(id) = at {
            if id == sup {
                return true;
            }
            at = self.supertypes.get(id as usize).copied().flatten();
        }
        false
    }
}

fn concrete_indices(ty: &CompositeType) -> Box<dyn Iterator<Item = u32> + '_> {
    let index = |t: &ValType| t.as_ref().and_then(|r| r.heap.concrete_index());
    let field = move |f: &kiln_format::FieldType| match f.storage {
        StorageType::Val(t) => index(&t),
        _ => None,
    };
    match ty {
        CompositeType::Func(f) => Box::new(f.params.iter().chain(&f.results).filter_map(index)),
        CompositeType::Struct(s) => Box::new(s.fields.iter().filter_map(field)),
        CompositeType::Array(a) => Box::new(field(&a.element).into_iter()),
    }
}

fn mentions_concrete(ty: &CompositeType) -> bool {
    concrete_indices(ty).next().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_format::{HeapType, RefType};

    fn alone(index: u32) -> TypeShape {
        TypeShape { rec_group_start: index, rec_group_len: 1, supertype: None, is_final: true }
    }

    fn concrete(index: u32) -> ValType {
        ValType::Ref(RefType { nullable: false, heap: HeapType::ConcreteFunc(index) })
    }

    #[test]
    fn types_sharing_a_hash_keep_their_own_ids() {
        let mut registry = TypeRegistry::default();
        let tys: Vec<CompositeType> =
            [vec![], vec![ValType::I32], vec![ValType::I64], vec![ValType::I32, ValType::I32]]
                .into_iter()
                .map(|params| CompositeType::Func(FuncType { params, results: vec![] }))
                .collect();
        let func = |t: &CompositeType| t.as_func().unwrap().clone();
        // The first three are chained under the last one's hash, as if
        // their hashes collided with it.
        let hash = registry.hasher.hash_one(&tys[3]);
        for (id, ty) in tys[..3].iter().enumerate() {
            registry.types.push(ty.clone());
            registry.supertypes.push(None);
            registry.same_hash.push(registry.by_hash.insert(hash, id as u32).unwrap_or(NO_TYPE));
        }
        assert_eq!(registry.intern(&func(&tys[3])), 3, "no type of the chain equals it");
        assert_eq!(registry.same_hash[3], 2, "it heads the chain");
        assert_eq!(registry.intern(&func(&tys[3])), 3);
        assert_eq!(registry.types.len(), 4);
    }

    #[test]
    fn type_ids_are_canonical() {
        let mut registry = TypeRegistry::default();
        let a = FuncType { params: vec![ValType::I32], results: vec![] };
        let b = FuncType { params: vec![], results: vec![] };
        let ia = registry.intern(&a);
        assert_ne!(ia, registry.intern(&b));
        assert_eq!(ia, registry.intern(&a.clone()));
        assert_eq!(registry.get(ia), Some(&a));
        let module = [CompositeType::Func(b.clone()), CompositeType::Func(a.clone())];
        assert_eq!(registry.intern_module(&module, &[alone(0), alone(1)]).unwrap()[1], ia);
    }

    #[test]
    fn recursive_groups_are_equal_up_to_renaming() {
        let mut registry = TypeRegistry::default();
        // (rec (type $t0 (func (param (ref $t1)))) (type $t1 (func (param (ref $t0)))))
        let pair = |base: u32| {
            vec![
                CompositeType::Func(FuncType { params: vec![concrete(base + 1)], results: vec![] }),
                CompositeType::Func(FuncType { params: vec![concrete(base)], results: vec![] }),
            ]
        };
        let group = |base: u32| {
            [0, 1].map(|_| TypeShape { rec_group_start: base, rec_group_len: 2, supertype: None, is_final: true })
        };
        let first = registry.intern_module(&pair(0), &group(0)).unwrap();
        // The same group after an unrelated type, in another module.
        let mut tys = vec![CompositeType::Func(FuncType { params: vec![ValType::F32], results: vec![] })];
        tys.extend(pair(1));
        let mut shapes = vec![alone(0)];
        shapes.extend(group(1));
        let second = registry.intern_module(&tys, &shapes).unwrap();
        assert_eq!(&second[1..], &first[..]);
        assert_eq!(registry.get(first[0]).unwrap().params, vec![concrete(first[1])], "references are engine ids");
        // The same types in two groups of one are different types.
        let single = |i: u32| TypeShape { rec_group_start: i, rec_group_len: 1, supertype: None, is_final: true };
        let recursive = CompositeType::Func(FuncType { params: vec![concrete(0)], results: vec![] });
        let third = registry.intern_module(std::slice::from_ref(&recursive), &[single(0)]).unwrap();
        assert!(!first.contains(&third[0]));
        assert_eq!(registry.intern_module(&[recursive], &[single(0)]).unwrap(), third);
    }

    #[test]
    fn declared_supertypes_make_subtypes() {
        let mut registry = TypeRegistry::default();
        let func = FuncType { params: vec![], results: vec![] };
        let ty = CompositeType::Func(func.clone());
        let open = TypeShape { rec_group_start: 0, rec_group_len: 1, supertype: None, is_final: false };
        let sub = TypeShape { rec_group_start: 1, rec_group_len: 1, supertype: Some(0), is_final: true };
        let ids = registry.intern_module(&[ty.clone(), ty.clone()], &[open, sub]).unwrap();
        assert_ne!(ids[0], ids[1]);
        assert!(registry.is_subtype(ids[1], ids[0]));
        assert!(!registry.is_subtype(ids[0], ids[1]));
        let plain = registry.intern(&func);
        assert!(!registry.is_subtype(plain, ids[0]), "a final type without supertype is another type");
    }

    #[test]
    fn inconsistent_shapes_are_refused() {
        let mut registry = TypeRegistry::default();
        let ty = CompositeType::Func(FuncType { params: vec![concrete(1)], results: vec![] });
        let err = registry.intern_module(&[ty.clone(), ty.clone()], &[alone(0), alone(1)]).unwrap_err();
        assert!(err.0.contains("later group"), "{}", err.0);
        let bad_group = TypeShape { rec_group_start: 0, rec_group_len: 3, supertype: None, is_final: true };
        assert!(registry.intern_module(std::slice::from_ref(&ty), &[bad_group]).is_err());
        assert!(registry.intern_module(&[ty], &[]).is_err());
    }
}
