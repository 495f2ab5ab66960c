//! Memory images: the initial contents of a defined memory laid out as
//! page-aligned bytes of the artifact, so that the loader maps them into a
//! linear memory copy-on-write instead of copying data segments at every
//! instantiation (SPEC.md 2.5).
//!
//! A defined memory gets an image when its segments' result is known at
//! compile time and nobody can see the memory without it:
//! - every active segment that targets it has a constant offset and lies
//!   inside the memory's minimum size, so applying them in order does not
//!   trap and depends on nothing outside the module;
//! - no active element or data segment of the module can trap either (each
//!   has a constant offset inside its table's or memory's declared minimum,
//!   which an import can only exceed). Otherwise a segment after the trap
//!   would show in the image, and a function that an earlier element
//!   segment stored into an imported table could see it.
//!
//! Other memories keep their segments, copied at instantiation.

use kiln_format::{
    ConstExpr, DataMode, DataSegment, ElementMode, MemoryImage, ModuleInfo, IMAGE_PAGE_SIZE, WASM_PAGE_SIZE,
};

/// The bytes of `.kiln.data` and `.kiln.image`.
#[derive(Debug, Default)]
pub(crate) struct DataSections {
    /// Bytes of the segments that are not in an image, concatenated.
    pub data: Vec<u8>,
    /// Memory images, each starting at a multiple of [`IMAGE_PAGE_SIZE`].
    pub image: Vec<u8>,
    /// The name section's function names (function index, name), for
    /// `.kiln.names`.
    pub function_names: Vec<(u32, String)>,
    /// The source lines of the module's DWARF, for `.kiln.lines`.
    pub source_lines: crate::debug_lines::SourceLineTable,
}

/// Images may hold zero pages between data, but not many: an image at most
/// this much larger than twice its memory's segment bytes is kept, a sparser
/// one (data at 0 and at 1 GiB, say) is left to the segments, so that the
/// artifact does not grow by the gap.
const SPARSE_SLACK: u64 = 1 << 20;

/// Moves the segments of every memory that can have an image into it, and
/// rewrites `info.data` and `info.memory_images` to match. `data` holds the
/// segments' bytes as the data section gave them (`DataSegment::data_offset`
/// into it).
pub(crate) fn lay_out(info: &mut ModuleInfo, data: Vec<u8>) -> DataSections {
    let mut sections = DataSections::default();
    let mut imaged = vec![false; info.data.len()];
    let memories =
        if segments_cannot_trap(info) { info.num_imported_memories..info.memories.len() as u32 } else { 0..0 };
    for memory in memories {
        if let Some((image, segments)) = build_image(info, &data, memory) {
            if let Some(image) = image {
                let image_offset = sections.image.len() as u64;
                let len = image.bytes.len() as u64;
                sections.image.extend_from_slice(&image.bytes);
                info.memory_images.push(MemoryImage { memory, memory_offset: image.memory_offset, image_offset, len });
            }
            for s in segments {
                imaged[s] = true;
            }
        }
    }
    for (segment, imaged) in info.data.iter_mut().zip(imaged) {
        let bytes = &data[segment.data_offset as usize..][..segment.len as usize];
        match (imaged, &segment.mode) {
            (true, &DataMode::Active { memory, .. }) => {
                *segment = DataSegment { mode: DataMode::InImage { memory }, data_offset: 0, len: 0 };
            }
            _ => {
                // The segments left were at most the 4 GiB the translator
                // allowed in total, so their offsets fit.
                segment.data_offset = sections.data.len() as u32;
                sections.data.extend_from_slice(bytes);
            }
        }
    }
    sections
}

/// Whether every active segment has a constant offset inside the declared
/// minimum of its table or memory.
fn segments_cannot_trap(info: &ModuleInfo) -> bool {
    let fits = |offset: &ConstExpr, len: u64, size: Option<u64>| match (constant_offset(offset), size) {
        (Some(offset), Some(size)) => offset.checked_add(len).is_some_and(|end| end <= size),
        _ => false,
    };
    let elements = info.elements.iter().all(|segment| match &segment.mode {
        ElementMode::Active { table, offset } => {
            fits(offset, segment.items.len() as u64, info.tables.get(*table as usize).map(|t| t.minimum))
        }
        ElementMode::Passive | ElementMode::Declared => true,
    });
    let data = info.data.iter().all(|segment| match &segment.mode {
        DataMode::Active { memory, offset } => fits(
            offset,
            segment.len as u64,
            info.memories.get(*memory as usize).and_then(|m| m.minimum.checked_mul(WASM_PAGE_SIZE)),
        ),
        DataMode::Passive | DataMode::InImage { .. } => true,
    });
    elements && data
}

/// A segment offset known at compile time, as the unsigned offset it is
/// (an `i32` of a 32-bit memory or table, an `i64` of a 64-bit one).
fn constant_offset(offset: &ConstExpr) -> Option<u64> {
    match *offset {
        ConstExpr::I32(offset) => Some(offset as u32 as u64),
        ConstExpr::I64(offset) => Some(offset as u64),
        _ => None,
    }
}

struct Image {
    memory_offset: u64,
    bytes: Vec<u8>,
}

/// The image of `memory` (`None` if its segments hold only zeros) and the
/// indices of the segments it takes in; `None` if the memory cannot have one.
fn build_image(info: &ModuleInfo, data: &[u8], memory: u32) -> Option<(Option<Image>, Vec<usize>)> {
    let ty = info.memories.get(memory as usize)?;
    if ty.shared {
        return None;
    }
    let size = ty.minimum.checked_mul(WASM_PAGE_SIZE)?;
    let mut segments = Vec::new();
    for (i, segment) in info.data.iter().enumerate() {
        let DataMode::Active { memory: target, ref offset } = segment.mode else { continue };
        if target != memory {
            continue;
        }
        let start = constant_offset(offset)?;
        if start.checked_add(segment.len as u64)? > size {
            return None;
        }
        segments.push((i, start, &data[segment.data_offset as usize..][..segment.len as usize]));
    }
    // The non-zero bytes bound the image: zero bytes need no mapping, as
    // the memory's other pages start zero. Outside the bounds every segment
    // writes zeros over zeros, whatever their order.
    let nonzero = |(_, start, b): &(usize, u64, &[u8])| {
        Some((start + b.iter().position(|&x| x != 0)? as u64, start + b.iter().rposition(|&x| x != 0)? as u64))
    };
    let bounds = segments.iter().filter_map(nonzero).reduce(|(a, b), (c, d)| (a.min(c), b.max(d)));
    let indices = segments.iter().map(|(i, ..)| *i).collect();
    let Some((first, last)) = bounds else {
        // Only zeros, or no segment at all: nothing to map, and nothing
        // for the segments to do at instantiation either.
        return Some((None, indices));
    };
    let memory_offset = first / IMAGE_PAGE_SIZE * IMAGE_PAGE_SIZE;
    let end = (last + 1).next_multiple_of(IMAGE_PAGE_SIZE).min(size);
    let segment_bytes: u64 = segments.iter().map(|(_, _, b)| b.len() as u64).sum();
    if end - memory_offset > 2 * segment_bytes + SPARSE_SLACK {
        return None;
    }
    let mut bytes = vec![0u8; (end - memory_offset) as usize];
    // In segment order, as instantiation would apply them: a later segment
    // overwrites an earlier one where they overlap.
    for (_, start, b) in &segments {
        let from = (*start).max(memory_offset);
        let to = (start + b.len() as u64).min(end);
        if from < to {
            bytes[(from - memory_offset) as usize..(to - memory_offset) as usize]
                .copy_from_slice(&b[(from - start) as usize..(to - start) as usize]);
        }
    }
    Some((Some(Image { memory_offset, bytes }), indices))
}

#[cfg(test)]
mod tests {
    use kiln_format::{DataMode, MemoryImage};

    use crate::environ::{translate_module, ModuleTranslation};

    fn translate(wat: &str) -> ModuleTranslation<'static> {
        let wasm: &'static [u8] = Box::leak(wat::parse_str(wat).unwrap().into_boxed_slice());
        translate_module(wasm, &crate::Features::default()).unwrap()
    }

    #[test]
    fn later_segments_overwrite_earlier_ones_and_zeros_are_not_stored() {
        let t = translate(
            r#"(module (memory 2)
                (data (i32.const 70000) "abcd")
                (data (i32.const 70001) "XY")
                (data (i32.const 100) "\00\00"))"#,
        );
        let image = MemoryImage { memory: 0, memory_offset: 69632, image_offset: 0, len: 4096 };
        assert_eq!(t.info.memory_images, vec![image]);
        assert_eq!(&t.data.image[70000 - 69632..][..4], b"aXYd");
        assert!(t.info.data.iter().all(|s| s.mode == DataMode::InImage { memory: 0 }));
        assert!(t.data.data.is_empty());
    }

    #[test]
    fn no_image_when_a_segment_could_trap_or_depends_on_an_import() {
        for wat in [
            // Out of bounds: instantiation must trap, after the first segment.
            r#"(module (memory 1) (data (i32.const 0) "a") (data (i32.const 65535) "bc"))"#,
            // An element segment that traps comes before the data.
            r#"(module (memory 1) (table 1 funcref) (func) (elem (i32.const 1) 0) (data (i32.const 0) "a"))"#,
            // An offset known only at instantiation.
            r#"(module (import "m" "g" (global i32)) (memory 1) (data (global.get 0) "a"))"#,
            // Far apart: the image would be mostly zeros.
            r#"(module (memory 64) (data (i32.const 0) "a") (data (i32.const 4000000) "b"))"#,
        ] {
            let t = translate(wat);
            assert!(t.info.memory_images.is_empty(), "{wat}");
            assert!(t.info.data.iter().all(|s| matches!(s.mode, DataMode::Active { .. })), "{wat}");
        }
    }

    #[test]
    fn every_defined_memory_gets_its_own_image_and_64_bit_offsets_count() {
        let t = translate(
            r#"(module (import "m" "mem" (memory 1)) (memory 1) (memory i64 2)
                (data (memory 1) (i32.const 10) "one")
                (data (memory 2) (i64.const 70000) "two"))"#,
        );
        let images = &t.info.memory_images;
        assert_eq!(images.len(), 2, "{images:?}");
        assert_eq!((images[0].memory, images[0].memory_offset), (1, 0));
        assert_eq!((images[1].memory, images[1].memory_offset), (2, 69632));
        assert_eq!(&t.data.image[images[0].image_offset as usize + 10..][..3], b"one");
        assert_eq!(&t.data.image[(images[1].image_offset + 70000 - 69632) as usize..][..3], b"two");
        assert_eq!(t.info.data[0].mode, DataMode::InImage { memory: 1 });
        assert_eq!(t.info.data[1].mode, DataMode::InImage { memory: 2 });
    }

    #[test]
    fn imported_memories_keep_their_segments() {
        let t = translate(r#"(module (import "m" "mem" (memory 1)) (data (i32.const 0) "a"))"#);
        assert!(t.info.memory_images.is_empty());
        assert_eq!(t.data.data, b"a");
    }
}
