//! The engine's registry of function types: every module and host function
//! of an engine names its types by the same dense ids, so that
//! `call_indirect` and import matching compare two `u32`s, and
//! instantiation copies a module's ids instead of hashing its types.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use kiln_format::FuncType;

/// Canonical, engine-wide ids of function types, compared by `call_indirect`
/// and by import matching.
///
/// Each type is stored once, in `types`; the map goes from a type's hash to
/// the ids with that hash. Keying a map by the types themselves cloned
/// every new type twice and hashed it twice, which was half the cost of
/// loading a module.
#[derive(Default)]
pub(crate) struct TypeRegistry {
    /// Hash of a type to the newest id with that hash.
    by_hash: HashMap<u64, u32, BuildHasherDefault<HashIsKey>>,
    /// For each id, the next older id with the same hash, or `NO_TYPE`.
    same_hash: Vec<u32>,
    types: Vec<FuncType>,
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

impl TypeRegistry {
    pub fn intern(&mut self, ty: &FuncType) -> u32 {
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
        self.same_hash.push(self.by_hash.insert(hash, id).unwrap_or(NO_TYPE));
        id
    }

    /// Interns every type of a module at once, growing the tables once
    /// instead of rehashing as they fill.
    pub fn intern_all(&mut self, tys: &[FuncType]) -> Vec<u32> {
        self.by_hash.reserve(tys.len());
        self.same_hash.reserve(tys.len());
        self.types.reserve(tys.len());
        tys.iter().map(|ty| self.intern(ty)).collect()
    }

    pub fn get(&self, id: u32) -> Option<&FuncType> {
        self.types.get(id as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_sharing_a_hash_keep_their_own_ids() {
        use kiln_format::ValType;
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
        let a = FuncType { params: vec![kiln_format::ValType::I32], results: vec![] };
        let b = FuncType { params: vec![], results: vec![] };
        let ia = registry.intern(&a);
        assert_ne!(ia, registry.intern(&b));
        assert_eq!(ia, registry.intern(&a.clone()));
        assert_eq!(registry.get(ia), Some(&a));
    }
}
