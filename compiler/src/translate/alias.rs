//! The alias regions of compiled code: disjoint parts of memory that
//! Cranelift's alias analysis may treat as never overlapping, so that a
//! store to one keeps what is known of the others (a global's value across
//! a store to linear memory, a memory's length across both).
//!
//! Every location a function reaches must be accessed with one region only,
//! whatever the operator: Cranelift relies on a load tagged with region `R`
//! never reading what an access tagged with another region (or with none)
//! wrote. Accesses left without a region (the activations table, reference
//! counts, GC objects, func ref records, the fuel and epoch fields) form one
//! more region of their own, and a store without a region is a fence for
//! every region, so leaving an access out is always sound. Read-only loads
//! need no region: nothing writes what they read.
//!
//! A region's `user_id` names the same memory in every function of a
//! module, so that inlining may merge the regions of caller and callee.

use cranelift_codegen::ir::{self, AliasRegionData};

/// A part of memory that no access tagged with another region reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Region {
    /// The bytes of every linear memory. One region for all of them: two
    /// imported memories may be one memory.
    Heap,
    /// The value of defined global `n` (indexed among the defined ones),
    /// inline in the instance's VMContext.
    DefinedGlobal(u32),
    /// The values of every imported global, and of the defined globals too
    /// many to have a region each: two imports may be one global.
    SharedGlobals,
    /// The `current_length` of every memory, and the `base` and
    /// `current_elements` of every table: what growing changes.
    Definitions,
    /// The elements of every table.
    TableElements,
    /// The stack slot, by index, into which a value that needs a stack map
    /// is spilled across a safepoint.
    StackSlot(u32),
}

/// The bits of a `user_id` that say which kind of region it is.
const KIND_SHIFT: u32 = 28;
/// The bits of a `user_id` below the kind: the index of a global or a slot.
const INDEX_MASK: u32 = (1 << KIND_SHIFT) - 1;

impl Region {
    /// The region of global `index` of the global space, of a module with
    /// `imported` imported globals.
    pub(crate) fn global(index: u32, imported: u32) -> Region {
        match index.checked_sub(imported) {
            Some(defined) if defined <= INDEX_MASK => Region::DefinedGlobal(defined),
            _ => Region::SharedGlobals,
        }
    }

    /// The `user_id`: kind in the top 4 bits, index below. Indices that
    /// do not fit are folded into a region shared with others of their
    /// kind (`global` does so), which is sound: regions may be coarser than
    /// the memory they cover, never finer.
    fn user_id(self) -> u32 {
        let (kind, index) = match self {
            Region::Heap => (0, 0),
            Region::DefinedGlobal(n) => (1, n),
            Region::SharedGlobals => (2, 0),
            Region::Definitions => (3, 0),
            Region::TableElements => (4, 0),
            Region::StackSlot(n) => (5, n),
        };
        (kind << KIND_SHIFT) | (index & INDEX_MASK)
    }

    fn description(self) -> String {
        match self {
            Region::Heap => "linear memory".to_string(),
            Region::DefinedGlobal(n) => format!("defined global {n}"),
            Region::SharedGlobals => "shared globals".to_string(),
            Region::Definitions => "memory and table definitions".to_string(),
            Region::TableElements => "table elements".to_string(),
            Region::StackSlot(n) => format!("stack slot {n}"),
        }
    }
}

/// `region` in `func`'s set of regions, added on first use.
pub(crate) fn alias_region(func: &mut ir::Function, region: Region) -> ir::AliasRegion {
    intern(&mut func.dfg.alias_regions, region)
}

fn intern(regions: &mut ir::AliasRegionSet, region: Region) -> ir::AliasRegion {
    match regions.get(region.user_id()) {
        Some(known) => known,
        None => regions.insert(AliasRegionData { user_id: region.user_id(), description: region.description().into() }),
    }
}

/// The region of a stack-map spill slot, for
/// `FunctionBuilder::make_stack_map_alias_region`: each slot is its own.
pub(crate) fn stack_map_region(
    regions: &mut ir::AliasRegionSet,
    _ty: ir::Type,
    slot: ir::StackSlot,
    _offset: u32,
) -> Option<ir::AliasRegion> {
    Some(intern(regions, Region::StackSlot(slot.as_u32())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_distinct_per_region() {
        let regions = [
            Region::Heap,
            Region::DefinedGlobal(0),
            Region::DefinedGlobal(1),
            Region::SharedGlobals,
            Region::Definitions,
            Region::TableElements,
            Region::StackSlot(0),
            Region::StackSlot(1),
        ];
        for (i, a) in regions.iter().enumerate() {
            for b in &regions[i + 1..] {
                assert_ne!(a.user_id(), b.user_id(), "{a:?} and {b:?}");
            }
        }
    }

    #[test]
    fn globals_past_the_index_bits_share_a_region() {
        assert_eq!(Region::global(3, 2), Region::DefinedGlobal(1));
        assert_eq!(Region::global(1, 2), Region::SharedGlobals);
        assert_eq!(Region::global(INDEX_MASK + 5, 4), Region::SharedGlobals);
        assert_eq!(Region::global(INDEX_MASK + 4, 4), Region::DefinedGlobal(INDEX_MASK));
    }

    #[test]
    fn regions_are_interned_once_per_function() {
        let mut func = ir::Function::new();
        let a = alias_region(&mut func, Region::DefinedGlobal(7));
        let b = alias_region(&mut func, Region::Heap);
        assert_ne!(a, b);
        assert_eq!(alias_region(&mut func, Region::DefinedGlobal(7)), a);
        assert_eq!(func.dfg.alias_regions.len(), 2);
    }
}
