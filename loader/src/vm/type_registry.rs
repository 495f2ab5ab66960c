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

use kiln_format::{FuncType, HeapType, RefType, TypeShape, ValType};

/// Canonical, engine-wide ids of function types, compared by `call_indirect`
/// and by import matching.
#[derive(Default)]
pub(crate) struct TypeRegistry {
    /// Hash of a plain type to the newest id with that hash.
    by_hash: HashMap<u64, u32, BuildHasherDefault<HashIsKey>>,
    /// For each id, the next older plain id with the same hash, or `NO_TYPE`.
    same_hash: Vec<u32>,
    /// Each type, concrete references as engine ids.
    types: Vec<FuncType>,
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

/// A concrete reference in a group's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum CanonIndex {
    /// The type at this position of the same group.
    InGroup(u32),
    /// A type of an earlier group, by engine id.
    Engine(u32),
}

/// A value type in a group's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum CanonValType {
    /// A type without a concrete reference.
    Plain(ValType),
    /// A reference to a concrete type.
    Concrete { nullable: bool, index: CanonIndex },
}

/// One type of a group's key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct CanonSubType {
    params: Vec<CanonValType>,
    results: Vec<CanonValType>,
    supertype: Option<CanonIndex>,
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
        if !mentions_concrete(ty) {
            return self.intern_plain(ty);
        }
        let canon = |t: &ValType| canon_val(*t, CanonIndex::Engine);
        let key = vec![CanonSubType {
            params: ty.params.iter().map(canon).collect(),
            results: ty.results.iter().map(canon).collect(),
            supertype: None,
            is_final: true,
        }];
        self.intern_group(key, |_| ty.clone(), &[None])
    }

    /// Interns every type of a module, given the shape of each (its group
    /// and supertype), checking that the shapes and references are
    /// consistent: a group covers consecutive types, a supertype comes
    /// before its subtype, a reference names a type of an earlier group or
    /// of its own.
    pub fn intern_module(&mut self, tys: &[FuncType], shapes: &[TypeShape]) -> Result<Vec<u32>, BadTypes> {
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
                    Some(position) if (i as usize) < end => CanonIndex::InGroup(position as u32),
                    _ => CanonIndex::Engine(ids[i as usize]),
                };
                let key: Vec<CanonSubType> = group
                    .iter()
                    .zip(&shapes[start..end])
                    .map(|(ty, shape)| CanonSubType {
                        params: ty.params.iter().map(|&t| canon_val(t, index)).collect(),
                        results: ty.results.iter().map(|&t| canon_val(t, index)).collect(),
                        supertype: shape.supertype.map(index),
                        is_final: shape.is_final,
                    })
                    .collect();
                let supers: Vec<Option<CanonIndex>> = key.iter().map(|t| t.supertype).collect();
                // Placeholders until the group's ids are known.
                let placeholder = |_| FuncType { params: Vec::new(), results: Vec::new() };
                let first = self.intern_group(key, placeholder, &supers);
                // The ids of the group are known now: write the types out
                // with every reference as an engine id.
                let engine_index = |i: u32| match index(i) {
                    CanonIndex::InGroup(position) => first + position,
                    CanonIndex::Engine(id) => id,
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
    fn intern_plain(&mut self, ty: &FuncType) -> u32 {
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
    fn intern_group(
        &mut self,
        key: Vec<CanonSubType>,
        make: impl Fn(usize) -> FuncType,
        supertypes: &[Option<CanonIndex>],
    ) -> u32 {
        if let Some(&first) = self.groups.get(&key) {
            return first;
        }
        let first = self.types.len() as u32;
        for (position, supertype) in supertypes.iter().enumerate() {
            self.types.push(make(position));
            self.supertypes.push(supertype.map(|s| match s {
                CanonIndex::InGroup(p) => first + p,
                CanonIndex::Engine(id) => id,
            }));
            // Never found by the plain path's hash lookup.
            self.same_hash.push(NO_TYPE);
        }
        self.groups.insert(key, first);
        first
    }

    /// The type with id `id`, concrete references as engine ids.
    pub fn get(&self, id: u32) -> Option<&FuncType> {
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

fn concrete_indices(ty: &FuncType) -> impl Iterator<Item = u32> + '_ {
    ty.params.iter().chain(&ty.results).filter_map(|t| match t {
        ValType::Ref(RefType { heap: HeapType::Concrete(index), .. }) => Some(*index),
        _ => None,
    })
}

fn mentions_concrete(ty: &FuncType) -> bool {
    concrete_indices(ty).next().is_some()
}

fn canon_val(ty: ValType, index: impl Fn(u32) -> CanonIndex) -> CanonValType {
    match ty {
        ValType::Ref(RefType { nullable, heap: HeapType::Concrete(i) }) => {
            CanonValType::Concrete { nullable, index: index(i) }
        }
        plain => CanonValType::Plain(plain),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alone(index: u32) -> TypeShape {
        TypeShape { rec_group_start: index, rec_group_len: 1, supertype: None, is_final: true }
    }

    fn concrete(index: u32) -> ValType {
        ValType::Ref(RefType { nullable: false, heap: HeapType::Concrete(index) })
    }

    #[test]
    fn types_sharing_a_hash_keep_their_own_ids() {
        let mut registry = TypeRegistry::default();
        let tys: Vec<FuncType> = [vec![], vec![ValType::I32], vec![ValType::I64], vec![ValType::I32, ValType::I32]]
            .into_iter()
            .map(|params| FuncType { params, results: vec![] })
            .collect();
        // The first three are chained under the last one's hash, as if
        // their hashes collided with it.
        let hash = registry.hasher.hash_one(&tys[3]);
        for (id, ty) in tys[..3].iter().enumerate() {
            registry.types.push(ty.clone());
            registry.supertypes.push(None);
            registry.same_hash.push(registry.by_hash.insert(hash, id as u32).unwrap_or(NO_TYPE));
        }
        assert_eq!(registry.intern(&tys[3]), 3, "no type of the chain equals it");
        assert_eq!(registry.same_hash[3], 2, "it heads the chain");
        assert_eq!(registry.intern(&tys[3]), 3);
        assert_eq!(registry.intern(&tys[3].clone()), 3);
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
        assert_eq!(registry.intern_module(&[b.clone(), a.clone()], &[alone(0), alone(1)]).unwrap()[1], ia);
    }

    #[test]
    fn recursive_groups_are_equal_up_to_renaming() {
        let mut registry = TypeRegistry::default();
        // (rec (type $t0 (func (param (ref $t1)))) (type $t1 (func (param (ref $t0)))))
        let pair = |base: u32| {
            vec![
                FuncType { params: vec![concrete(base + 1)], results: vec![] },
                FuncType { params: vec![concrete(base)], results: vec![] },
            ]
        };
        let group = |base: u32| {
            [0, 1].map(|_| TypeShape { rec_group_start: base, rec_group_len: 2, supertype: None, is_final: true })
        };
        let first = registry.intern_module(&pair(0), &group(0)).unwrap();
        // The same group after an unrelated type, in another module.
        let mut tys = vec![FuncType { params: vec![ValType::F32], results: vec![] }];
        tys.extend(pair(1));
        let mut shapes = vec![alone(0)];
        shapes.extend(group(1));
        let second = registry.intern_module(&tys, &shapes).unwrap();
        assert_eq!(&second[1..], &first[..]);
        assert_eq!(registry.get(first[0]).unwrap().params, vec![concrete(first[1])], "references are engine ids");
        // The same types in two groups of one are different types.
        let single = |i: u32| TypeShape { rec_group_start: i, rec_group_len: 1, supertype: None, is_final: true };
        let recursive = FuncType { params: vec![concrete(0)], results: vec![] };
        let third = registry.intern_module(std::slice::from_ref(&recursive), &[single(0)]).unwrap();
        assert!(!first.contains(&third[0]));
        assert_eq!(registry.intern_module(&[recursive], &[single(0)]).unwrap(), third);
    }

    #[test]
    fn declared_supertypes_make_subtypes() {
        let mut registry = TypeRegistry::default();
        let ty = FuncType { params: vec![], results: vec![] };
        let open = TypeShape { rec_group_start: 0, rec_group_len: 1, supertype: None, is_final: false };
        let sub = TypeShape { rec_group_start: 1, rec_group_len: 1, supertype: Some(0), is_final: true };
        let ids = registry.intern_module(&[ty.clone(), ty.clone()], &[open, sub]).unwrap();
        assert_ne!(ids[0], ids[1]);
        assert!(registry.is_subtype(ids[1], ids[0]));
        assert!(!registry.is_subtype(ids[0], ids[1]));
        let plain = registry.intern(&ty);
        assert!(!registry.is_subtype(plain, ids[0]), "a final type without supertype is another type");
    }

    #[test]
    fn inconsistent_shapes_are_refused() {
        let mut registry = TypeRegistry::default();
        let ty = FuncType { params: vec![concrete(1)], results: vec![] };
        let err = registry.intern_module(&[ty.clone(), ty.clone()], &[alone(0), alone(1)]).unwrap_err();
        assert!(err.0.contains("later group"), "{}", err.0);
        let bad_group = TypeShape { rec_group_start: 0, rec_group_len: 3, supertype: None, is_final: true };
        assert!(registry.intern_module(std::slice::from_ref(&ty), &[bad_group]).is_err());
        assert!(registry.intern_module(&[ty], &[]).is_err());
    }
}
