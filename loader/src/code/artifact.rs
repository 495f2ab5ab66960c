//! Validating an artifact before anything is mapped: compatibility, the
//! checksum, the module info and every offset that later code trusts.

use kiln_format::header_offsets as at;
use std::ops::Range;

use kiln_format::{
    file_digest, ArtifactHeader, CodeRange, FunctionNames, HandlerRecord, HandlerTag, MemoryImage, ModuleInfo,
    SourceLines, StackMapTable, TrapTable, WasmOffsets, FORMAT_VERSION, HEADER_SIZE, IMAGE_PAGE_SIZE, MAGIC,
    SECTION_DATA, SECTION_HANDLERS, SECTION_IMAGE, SECTION_LINES, SECTION_META, SECTION_NAMES, SECTION_STACKMAPS,
    SECTION_TEXT, SECTION_TRAPS, SECTION_WASM_OFFSETS, TEXT_PAGE_SIZE, WASM_PAGE_SIZE,
};

use super::elf::ElfObject;
use super::trust::{check_trust, Trust};
use super::{host_cpu_features, host_target, LoadError};

/// A validated artifact; its ranges are byte offsets in the bytes parsed.
pub(crate) struct Artifact<'data> {
    pub header: ArtifactHeader,
    pub info: ModuleInfo,
    /// `.text`: whole pages, starting on a page.
    pub text: Range<usize>,
    pub data: Range<usize>,
    /// `.kiln.image`, and its offset in the bytes parsed.
    pub image: &'data [u8],
    pub image_offset: u64,
    pub tables: TableRanges,
    pub handlers: Vec<HandlerRecord>,
    /// Bodies of the defined functions, sorted by start offset.
    pub functions: Vec<FunctionRange>,
}

/// Where the tables that the loader reads in place (SPEC.md 2.3, 2.4) lie
/// in an artifact's bytes.
#[derive(Clone, Debug, Default)]
pub(crate) struct TableRanges {
    pub traps: Range<usize>,
    pub stack_maps: Range<usize>,
    pub names: Range<usize>,
    pub wasm_offsets: Range<usize>,
    pub lines: Range<usize>,
}

/// Where `part`, a slice of `bytes`, lies in them.
pub(crate) fn range_in(bytes: &[u8], part: &[u8]) -> Range<usize> {
    if part.is_empty() {
        return 0..0;
    }
    let start = part.as_ptr() as usize - bytes.as_ptr() as usize;
    start..start + part.len()
}

/// Where a defined function's body lies in `.text`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FunctionRange {
    pub start: u32,
    pub end: u32,
    pub func_index: u32,
}

/// Parses and checks everything, in the order SPEC.md 2.1 gives, so that
/// the most telling refusal is the one reported (an artifact of another
/// format version also fails its checksum, but the version is what the user
/// needs to hear).
pub(crate) fn parse_artifact<'data>(bytes: &'data [u8], trust: Trust) -> Result<Artifact<'data>, LoadError> {
    let object = ElfObject::parse(bytes)?;
    let meta = object
        .section(SECTION_META)?
        .ok_or_else(|| LoadError::new(format!("no {SECTION_META} section: not a kiln artifact")))?
        .bytes;
    let header = check_header(meta)?;

    let text_section =
        object.section(SECTION_TEXT)?.ok_or_else(|| LoadError::new(format!("no {SECTION_TEXT} section: no code")))?;
    let section_bytes = |name| -> Result<&[u8], LoadError> { Ok(object.section(name)?.map_or(&[][..], |s| s.bytes)) };
    let traps_bytes = section_bytes(SECTION_TRAPS)?;
    let stack_map_bytes = section_bytes(SECTION_STACKMAPS)?;
    let handler_bytes = section_bytes(SECTION_HANDLERS)?;
    let name_bytes = section_bytes(SECTION_NAMES)?;
    let wasm_offset_bytes = section_bytes(SECTION_WASM_OFFSETS)?;
    let line_bytes = section_bytes(SECTION_LINES)?;
    let data = section_bytes(SECTION_DATA)?;
    let image = section_bytes(SECTION_IMAGE)?;
    let image_offset = if image.is_empty() { 0 } else { image.as_ptr() as u64 - bytes.as_ptr() as u64 };
    let meta_offset = meta.as_ptr() as usize - bytes.as_ptr() as usize;
    check_digest(&header, bytes, meta_offset)?;
    check_trust(trust, bytes, meta_offset)?;

    let text_offset = object.file_offset(text_section);
    let text_len = text_section.bytes.len();
    check_text_placement(text_offset, text_len)?;
    object.refuse_relocations()?;

    let sizes = SectionSizes { text: text_len, data: data.len(), image: image.len() };
    let Contents { info, handlers, functions } = check_contents(
        &header,
        meta,
        sizes,
        TableBytes { traps_bytes, stack_map_bytes, handler_bytes, name_bytes, wasm_offset_bytes, line_bytes },
    )?;
    let tables = TableRanges {
        traps: range_in(bytes, traps_bytes),
        stack_maps: range_in(bytes, stack_map_bytes),
        names: range_in(bytes, name_bytes),
        wasm_offsets: range_in(bytes, wasm_offset_bytes),
        lines: range_in(bytes, line_bytes),
    };
    Ok(Artifact {
        header,
        info,
        text: text_offset..text_offset + text_len,
        data: range_in(bytes, data),
        image,
        image_offset,
        tables,
        handlers,
        functions,
    })
}

/// `.text` must be whole pages at a page-aligned file offset (SPEC.md 1.2),
/// so that the loader makes exactly its pages executable where they lie.
fn check_text_placement(offset: usize, len: usize) -> Result<(), LoadError> {
    let page = TEXT_PAGE_SIZE as usize;
    if len == 0 {
        return Err(LoadError::in_section(
            SECTION_TEXT,
            "the section is empty: an artifact has at least its trampolines",
        ));
    }
    if !offset.is_multiple_of(page) || !len.is_multiple_of(page) {
        return Err(LoadError::in_section(
            SECTION_TEXT,
            format!(
                "{len:#x} bytes at file offset {offset:#x}: .text must be whole {page}-byte pages at a page-aligned \
                 offset (SPEC.md 1.2); compile it again with this release's kilnc"
            ),
        ));
    }
    Ok(())
}

/// Compares the digest of the whole `file`, whose `.kiln.meta` starts at
/// `meta_offset`, with the one its header records.
pub(crate) fn check_digest(header: &ArtifactHeader, file: &[u8], meta_offset: usize) -> Result<(), LoadError> {
    let actual = file_digest(file, meta_offset)
        .ok_or_else(|| LoadError::in_section(SECTION_META, "the header lies outside the file"))?;
    if actual != header.digest {
        return Err(LoadError::at(
            SECTION_META,
            at::DIGEST_OFFSET as u64,
            format!(
                "digest mismatch: the header records {:#018x}, the file gives {actual:#018x}; the artifact is damaged",
                header.digest
            ),
        ));
    }
    Ok(())
}

/// What [`check_contents`] decoded.
pub(crate) struct Contents {
    pub info: ModuleInfo,
    pub handlers: Vec<HandlerRecord>,
    /// Bodies of the defined functions, sorted by start offset.
    pub functions: Vec<FunctionRange>,
}

/// The sections of tables, as found in the artifact (empty if absent).
#[derive(Clone, Copy)]
pub(crate) struct TableBytes<'a> {
    pub traps_bytes: &'a [u8],
    pub stack_map_bytes: &'a [u8],
    pub handler_bytes: &'a [u8],
    pub name_bytes: &'a [u8],
    pub wasm_offset_bytes: &'a [u8],
    pub line_bytes: &'a [u8],
}

/// Lengths of the sections that module-info offsets point into.
#[derive(Clone, Copy)]
pub(crate) struct SectionSizes {
    pub text: usize,
    pub data: usize,
    pub image: usize,
}

/// The checks after the checksum, shared by relocatable and shared objects:
/// the module info length, then every record and offset.
pub(crate) fn check_contents(
    header: &ArtifactHeader,
    meta: &[u8],
    sizes: SectionSizes,
    tables: TableBytes<'_>,
) -> Result<Contents, LoadError> {
    let TableBytes { traps_bytes, stack_map_bytes, handler_bytes, name_bytes, wasm_offset_bytes, line_bytes } = tables;
    let text_len = sizes.text;
    let info_bytes = &meta[HEADER_SIZE..];
    if header.info_len != info_bytes.len() as u64 {
        return Err(LoadError::at(
            SECTION_META,
            at::INFO_LEN_OFFSET as u64,
            format!("module info length {} in the header, but {} bytes follow it", header.info_len, info_bytes.len()),
        ));
    }
    let info = ModuleInfo::decode(info_bytes, HEADER_SIZE)?;
    let functions = check_module_info(&info, text_len, sizes.data)?;
    check_memory_images(&info, sizes.image)?;

    // Read in place: their sizes are all there is to check now; each
    // lookup checks the record it reads (see `TrapTable`, `StackMapTable`).
    TrapTable::parse(traps_bytes)?;
    StackMapTable::parse(stack_map_bytes)?;
    FunctionNames::parse(name_bytes)?;
    WasmOffsets::parse(wasm_offset_bytes)?;
    SourceLines::parse(line_bytes)?;

    let handlers = HandlerRecord::decode_all(handler_bytes)?;
    check_handlers(&handlers, &functions, info.tags.len())?;

    Ok(Contents { info, handlers, functions })
}

/// Every handler record's call and landing pads lie in one defined
/// function, and every tag it names exists: the unwinder jumps to the
/// landing pads and indexes the frame's tags without looking again.
fn check_handlers(handlers: &[HandlerRecord], functions: &[FunctionRange], tags: usize) -> Result<(), LoadError> {
    for record in handlers {
        let at = record.return_offset;
        let refuse = |why: String| {
            Err(LoadError::in_section(SECTION_HANDLERS, format!("handler record for .text+{at:#x}: {why}")))
        };
        // The return address may be the function's end (a call that never returns).
        let Some(function) = functions.iter().find(|f| f.start < at && at <= f.end) else {
            return refuse("the call is in no defined function".into());
        };
        for handler in &record.handlers {
            if !(function.start..function.end).contains(&handler.landing_offset) {
                return refuse(format!(
                    "landing pad .text+{:#x} is outside function {}",
                    handler.landing_offset, function.func_index
                ));
            }
            if let HandlerTag::Tag(tag) = handler.tag {
                if tag as usize >= tags {
                    return refuse(format!("tag {tag} does not exist ({})", crate::wording::count_of(tags, "tag")));
                }
            }
        }
    }
    Ok(())
}

/// Decodes the header and refuses artifacts this host cannot run.
pub(crate) fn check_header(meta: &[u8]) -> Result<ArtifactHeader, LoadError> {
    // The version is looked at before the rest of the header, whose layout
    // another version may change.
    let field = |offset: usize, width: usize| meta.get(offset..offset + width);
    let version = field(at::FORMAT_VERSION_OFFSET, at::FORMAT_VERSION_WIDTH).and_then(|b| b.try_into().ok());
    if let (Some(magic), Some(version)) = (field(at::MAGIC_OFFSET, at::MAGIC_WIDTH), version) {
        let version = u32::from_le_bytes(version);
        if magic == MAGIC && version != FORMAT_VERSION {
            return Err(LoadError::at(
                SECTION_META,
                at::FORMAT_VERSION_OFFSET as u64,
                format!("format version {version}, this loader reads {FORMAT_VERSION}"),
            ));
        }
    }
    let header = ArtifactHeader::from_bytes(meta)?;
    if header.target() != host_target() {
        return Err(LoadError::at(
            SECTION_META,
            at::TARGET_OFFSET as u64,
            format!("artifact is for target {}, this host is {}", header.target(), host_target()),
        ));
    }
    let unknown = header.instrumentation.unknown();
    if !unknown.is_empty() {
        return Err(LoadError::at(
            SECTION_META,
            at::INSTRUMENTATION_OFFSET as u64,
            format!("artifact has instrumentation this loader does not know: {unknown}"),
        ));
    }
    let missing = header.cpu_features.missing_from(host_cpu_features());
    if !missing.is_empty() {
        return Err(LoadError::at(
            SECTION_META,
            at::CPU_FEATURES_OFFSET as u64,
            format!("artifact needs CPU features this host lacks: {}", missing.names().join(", ")),
        ));
    }
    if !header.relaxed_simd.is_known() {
        return Err(LoadError::at(
            SECTION_META,
            at::RELAXED_SIMD_OFFSET as u64,
            format!("artifact has relaxed-SIMD semantics this loader does not know: {}", header.relaxed_simd),
        ));
    }
    Ok(header)
}

fn check_range(range: CodeRange, text_len: usize, what: impl FnOnce() -> String) -> Result<(), LoadError> {
    let end = range.offset as u64 + range.len as u64;
    if end > text_len as u64 {
        return Err(LoadError::in_section(
            SECTION_META,
            format!("{} at .text+{:#x}..{end:#x} lies outside .text ({text_len:#x} bytes)", what(), range.offset),
        ));
    }
    Ok(())
}

/// Checks every memory image against `.kiln.image` and its memory: page
/// multiples, inside the section, inside the memory's minimum size, one per
/// defined, unshared memory.
fn check_memory_images(info: &ModuleInfo, image_len: usize) -> Result<(), LoadError> {
    let mut seen = vec![false; info.memories.len()];
    for (i, image) in info.memory_images.iter().enumerate() {
        let refuse = |why: String| Err(LoadError::in_section(SECTION_META, format!("memory image {i}: {why}")));
        let MemoryImage { memory, memory_offset, image_offset, len } = *image;
        if [memory_offset, image_offset, len].iter().any(|v| !v.is_multiple_of(IMAGE_PAGE_SIZE)) || len == 0 {
            return refuse(format!("offsets and length must be non-zero multiples of {IMAGE_PAGE_SIZE}"));
        }
        let Some(ty) = info.memories.get(memory as usize) else {
            return refuse(format!("memory {memory} does not exist"));
        };
        if memory < info.num_imported_memories || std::mem::replace(&mut seen[memory as usize], true) {
            return refuse(format!("memory {memory} is imported or has two images"));
        }
        // A shared memory is made once and seen by other threads at once;
        // its segments are copied at instantiation instead (SPEC 2.5).
        if ty.shared {
            return refuse(format!("memory {memory} is shared"));
        }
        if image_offset.checked_add(len).is_none_or(|end| end > image_len as u64) {
            return refuse(format!(
                "{SECTION_IMAGE}+{image_offset:#x} ({len} bytes) lies outside {SECTION_IMAGE} ({image_len} bytes)"
            ));
        }
        let size = ty.minimum.saturating_mul(WASM_PAGE_SIZE);
        if memory_offset.checked_add(len).is_none_or(|end| end > size) {
            return refuse(format!("{len} bytes at {memory_offset:#x} exceed the memory's {size} initial bytes"));
        }
    }
    Ok(())
}

/// Every table of inlined frames names a defined function, once and in
/// order, and is well formed for that function's code.
fn check_inlined_frames(info: &ModuleInfo) -> Result<(), LoadError> {
    let mut previous = None;
    for inlining in &info.inlined {
        let i = inlining.func_index;
        let refuse =
            |why: String| Err(LoadError::in_section(SECTION_META, format!("inlined frames of function {i}: {why}")));
        if previous.is_some_and(|p| p >= i) {
            return refuse("the tables are not sorted by function index".into());
        }
        previous = Some(i);
        let Some(code) = info.functions.get(i as usize).and_then(|f| f.code) else {
            return refuse("no such defined function".into());
        };
        if let Err(why) = inlining.frames.check(code.len, info.functions.len()) {
            return refuse(why);
        }
    }
    Ok(())
}

/// Checks the offsets the loader and runtime trust without looking again:
/// code ranges, type indices of functions and data-segment ranges.
fn check_module_info(info: &ModuleInfo, text_len: usize, data_len: usize) -> Result<Vec<FunctionRange>, LoadError> {
    let mut functions = Vec::new();
    for (i, f) in info.functions.iter().enumerate() {
        if f.type_index as usize >= info.types.len() {
            return Err(LoadError::in_section(
                SECTION_META,
                format!("function {i} has type index {}, but there are {} types", f.type_index, info.types.len()),
            ));
        }
        if let Some(code) = f.code {
            check_range(code, text_len, || format!("function {i}"))?;
            functions.push(FunctionRange { start: code.offset, end: code.offset + code.len, func_index: i as u32 });
        }
    }
    check_inlined_frames(info)?;
    functions.sort_by_key(|f| f.start);
    if let Some(w) = functions.windows(2).find(|w| w[0].end > w[1].start) {
        return Err(LoadError::in_section(
            SECTION_META,
            format!("the code of functions {} and {} overlaps", w[0].func_index, w[1].func_index),
        ));
    }
    for (i, &type_index) in info.tags.iter().enumerate() {
        match info.func_type_at(type_index) {
            Some(ty) if ty.results.is_empty() => {}
            _ => {
                return Err(LoadError::in_section(
                    SECTION_META,
                    format!("tag {i} has type index {type_index}, which is no function type without results"),
                ))
            }
        }
    }
    for (t, range) in info.entry_trampolines.iter().enumerate() {
        check_range(*range, text_len, || format!("entry trampoline of type {t}"))?;
    }
    for (t, range) in info.host_trampolines.iter().enumerate() {
        check_range(*range, text_len, || format!("host trampoline of type {t}"))?;
    }
    for (i, segment) in info.data.iter().enumerate() {
        if segment.data_offset as u64 + segment.len as u64 > data_len as u64 {
            return Err(LoadError::in_section(
                SECTION_META,
                format!(
                    "data segment {i} at {SECTION_DATA}+{:#x} ({} bytes) lies outside {SECTION_DATA} ({data_len} bytes)",
                    segment.data_offset, segment.len
                ),
            ));
        }
    }
    Ok(functions)
}
