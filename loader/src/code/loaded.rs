//! Loaded, executable code of one artifact.

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

#[cfg(feature = "verify")]
use kiln_format::signature::TrustedKeys;
use kiln_format::{
    ArtifactHeader, CodeRange, ExternKind, FunctionNames, HandlerRecord, ModuleInfo, SourceLines, StackMap,
    StackMapTable, TrapCode, TrapTable, WasmOffsets, NO_WASM_OFFSET,
};

use super::artifact::{parse_artifact, range_in, Artifact, FunctionRange, TableRanges};
use super::elf::check_magic;
use super::image::ImageSource;
use super::mapping::ArtifactMapping;
use super::registry;
use super::shared::{self, SharedCode};
use super::trust::Trust;
use super::LoadError;

/// The code and metadata of one artifact, mapped and ready to run.
///
/// Immutable after loading and shared as `Arc<LoadedCode>`. While it lives,
/// its address range is in the global code registry, which is how the trap
/// handler and the GC's stack walk find it from a PC.
///
/// Loading decodes only the module info: the code runs where the artifact
/// is mapped, and the trap table and stack maps are searched where they lie
/// in the mapping.
pub struct LoadedCode {
    storage: Storage,
    header: ArtifactHeader,
    info: ModuleInfo,
    tables: TableRanges,
    handlers: Vec<HandlerRecord>,
    functions: Vec<FunctionRange>,
    /// Where instantiation maps memory images from; `None` without images.
    image: Option<ImageSource>,
}

/// Where the code and data live.
enum Storage {
    /// A relocatable object, mapped whole; `text` and `data` are ranges of
    /// the mapping, `.text` made read + execute in place.
    Object { mapping: ArtifactMapping, text: Range<usize>, data: Range<usize> },
    /// A shared object: code and data stay where `dlopen` mapped them; the
    /// tables are read from the file's own mapping.
    Shared { code: SharedCode, file: ArtifactMapping },
}

impl Storage {
    /// The bytes [`TableRanges`] index.
    fn table_bytes(&self) -> &[u8] {
        match self {
            Storage::Object { mapping, .. } => mapping.bytes(),
            Storage::Shared { file, .. } => file.bytes(),
        }
    }
}

/// Loads an artifact from its bytes: validates it completely in an
/// anonymous copy, whose `.text` is then made executable, and registers it.
///
/// A shared object is refused: `dlopen` needs a file, see [`load_file`].
///
/// # Safety
///
/// The artifact's code runs as native code of this process. Its checks
/// (the digest, the layout and bounds of every table) catch damage, not
/// forgery: the caller vouches that `bytes` are an artifact kilnc made, from
/// a source it trusts. [`load_bytes_verified`] checks a signature instead.
#[allow(unsafe_code)]
pub unsafe fn load_bytes(bytes: &[u8]) -> Result<Arc<LoadedCode>, LoadError> {
    load_bytes_trusting(bytes, Trust::Caller)
}

/// Loads an artifact from its bytes, as [`load_bytes`] does, once it is
/// found signed by one of `keys` (SPEC.md 2.1.1).
#[cfg(feature = "verify")]
pub fn load_bytes_verified(bytes: &[u8], keys: &TrustedKeys) -> Result<Arc<LoadedCode>, LoadError> {
    load_bytes_trusting(bytes, Trust::SignedBy(keys))
}

fn load_bytes_trusting(bytes: &[u8], trust: Trust) -> Result<Arc<LoadedCode>, LoadError> {
    if shared::is_shared_object(bytes) {
        return Err(LoadError::new("a shared object (kilnc --emit so) can only be loaded from a file"));
    }
    check_magic(bytes)?;
    load_object(ArtifactMapping::copy_of(bytes)?, trust)
}

/// Loads an artifact from static bytes of the program (an artifact
/// embedded in it): if the bytes start on a page, as `include_artifact!`
/// places them, validates it where it lies, makes the pages of its `.text`
/// read + execute in place and runs the code from them; otherwise from an
/// anonymous copy, as [`load_bytes`] does. Loading the same bytes again
/// gives the same [`LoadedCode`] while one is alive (the registry hands it
/// back).
///
/// The bytes are never unmapped, and their `.text` pages stay executable
/// after the module is gone.
pub(crate) fn load_static(bytes: &'static [u8]) -> Result<Arc<LoadedCode>, LoadError> {
    if shared::is_shared_object(bytes) {
        return Err(LoadError::new("a shared object (kilnc --emit so) can only be loaded from a file"));
    }
    check_magic(bytes)?;
    load_object(ArtifactMapping::of_static(bytes)?, Trust::Caller)
}

/// Loads a relocatable object from its mapping. Its memory images come from
/// the mapped file, if it is one, else from an anonymous copy.
fn load_object(mapping: ArtifactMapping, trust: Trust) -> Result<Arc<LoadedCode>, LoadError> {
    let Artifact { header, info, text, data, image, image_offset, tables, handlers, functions } =
        parse_artifact(mapping.bytes(), trust)?;
    let image = match mapping.file() {
        Some(file) => ImageSource::from_file(file, image_offset, image)?,
        None => ImageSource::from_bytes(image)?,
    };
    let mapping = match mapping.make_executable(text.clone()) {
        Ok(()) => mapping,
        // A file system mounted `noexec` refuses executable mappings of its
        // files, and static bytes whose `.text` is not whole pages of memory
        // cannot be made executable without their neighbours; the code then
        // runs from a copy (same bytes, same offsets).
        Err(_) if !mapping.is_copy() => {
            let copy = ArtifactMapping::copy_of(mapping.bytes())?;
            copy.make_executable(text.clone())?;
            copy
        }
        Err(e) => return Err(e),
    };
    let code = Arc::new(LoadedCode {
        storage: Storage::Object { mapping, text, data },
        header,
        info,
        tables,
        handlers,
        functions,
        image,
    });
    registry::register(code)
}

/// Loads an artifact from a file: a relocatable object as [`load_bytes`]
/// does but mapped from the file itself, or a shared object (`ET_DYN`,
/// `kilnc --emit so`), which is checked from the file's bytes, then opened
/// with `dlopen` (SPEC.md 1.3).
///
/// # Safety
///
/// As for [`load_bytes`]: the caller vouches for the artifact, and also
/// that nobody it does not trust can write the file while it is loaded (the
/// code runs from the file's pages). [`load_file_verified`] checks a
/// signature instead.
#[allow(unsafe_code)]
pub unsafe fn load_file(path: &Path) -> Result<Arc<LoadedCode>, LoadError> {
    load_file_trusting(path, Trust::Caller)
}

/// Loads an artifact file, as [`load_file`] does, once it is found signed by
/// one of `keys` (SPEC.md 2.1.1): the signature is checked on the mapped
/// bytes before any of them is made executable or handed to `dlopen`.
#[cfg(feature = "verify")]
pub fn load_file_verified(path: &Path, keys: &TrustedKeys) -> Result<Arc<LoadedCode>, LoadError> {
    load_file_trusting(path, Trust::SignedBy(keys))
}

fn load_file_trusting(path: &Path, trust: Trust) -> Result<Arc<LoadedCode>, LoadError> {
    // The code runs from, and the images are mapped from, this very file,
    // whose bytes are the ones checked (not another file that took its name
    // in between).
    let mapped = ArtifactMapping::open(path)?;
    if let Some(format) = super::wasm_source::sniff(mapped.bytes()) {
        return Err(super::wasm_source::refusal(format, Some(path)));
    }
    if !shared::is_shared_object(mapped.bytes()) {
        return load_object(mapped, trust);
    }
    let bytes = mapped.bytes();
    let image = shared::parse_shared(bytes, trust)?;
    let file = mapped.file().ok_or_else(|| LoadError::new("a shared object is mapped from no file"))?;
    let code = shared::open(path, file, &image)?;
    let image_source = ImageSource::from_file(file, image.image_offset, image.image)?;
    let tables = TableRanges {
        traps: range_in(bytes, image.traps_bytes()),
        stack_maps: range_in(bytes, image.stack_map_bytes()),
        names: range_in(bytes, image.name_bytes()),
        wasm_offsets: range_in(bytes, image.wasm_offset_bytes()),
        lines: range_in(bytes, image.line_bytes()),
    };
    let (header, contents) = (image.header, image.contents);
    let code = Arc::new(LoadedCode {
        storage: Storage::Shared { code, file: mapped },
        header,
        info: contents.info,
        tables,
        handlers: contents.handlers,
        functions: contents.functions,
        image: image_source,
    });
    // Opening one file twice maps it once; both loads then share one
    // `LoadedCode`, which the registry hands back.
    registry::register(code)
}

impl LoadedCode {
    /// The artifact header.
    pub fn header(&self) -> &ArtifactHeader {
        &self.header
    }

    /// The module info.
    pub fn info(&self) -> &ModuleInfo {
        &self.info
    }

    /// The bytes of `.kiln.data`; every data segment's range was checked
    /// to lie inside them.
    pub fn data(&self) -> &[u8] {
        match &self.storage {
            Storage::Object { mapping, data, .. } => &mapping.bytes()[data.clone()],
            Storage::Shared { code, .. } => code.data(),
        }
    }

    /// Where memory images are mapped from, if the module has any
    /// (`ModuleInfo::memory_images`).
    pub(crate) fn image_source(&self) -> Option<&ImageSource> {
        self.image.as_ref()
    }

    /// Start of `.text`, where it runs.
    pub fn text(&self) -> *const u8 {
        match &self.storage {
            Storage::Object { mapping, text, .. } => mapping.bytes()[text.clone()].as_ptr(),
            Storage::Shared { code, .. } => code.text(),
        }
    }

    /// Length of `.text` in bytes.
    pub fn text_len(&self) -> usize {
        match &self.storage {
            Storage::Object { text, .. } => text.len(),
            Storage::Shared { code, .. } => code.text_len(),
        }
    }

    /// Whether the code was loaded from a shared object.
    pub fn is_shared_object(&self) -> bool {
        matches!(self.storage, Storage::Shared { .. })
    }

    /// Whether the code runs where the artifact's own bytes lie: the pages
    /// of its file, of the shared object, or of the static bytes given to
    /// `Module::from_static`; `false` when it runs from a copy the loader
    /// made (`Module::from_bytes`, a file on a `noexec` file system, static
    /// bytes whose `.text` is not page-aligned in memory).
    pub fn runs_in_place(&self) -> bool {
        match &self.storage {
            Storage::Object { mapping, .. } => !mapping.is_copy(),
            Storage::Shared { .. } => true,
        }
    }

    /// Length of the address range registered for this code: every address
    /// in it belongs to this module.
    pub(crate) fn mapped_len(&self) -> usize {
        match &self.storage {
            // Whole pages, so one past the end (the return address of a
            // call that ends `.text`) lies in no other module's code
            // either: the padding ends it with `int3`.
            Storage::Object { text, .. } => text.len(),
            // One past the end too, for a call that ends `.text`: the
            // linker puts no other module's code there.
            Storage::Shared { code, .. } => code.text_len() + 1,
        }
    }

    /// Offset in `.text` of `pc`, if `pc` lies in this module's code.
    pub fn text_offset(&self, pc: usize) -> Option<u32> {
        let offset = pc.checked_sub(self.text() as usize)?;
        if offset < self.text_len() {
            u32::try_from(offset).ok()
        } else {
            None
        }
    }

    fn address(&self, range: CodeRange) -> Option<*const u8> {
        // Ranges were checked against .text at load; an empty one marks a
        // trampoline the compiler did not need to emit.
        if range.len == 0 {
            return None;
        }
        Some(self.text().wrapping_add(range.offset as usize))
    }

    /// Entry of defined function `func_index` (an index in the module's
    /// function space, imports first); `None` for imports.
    pub fn func_code(&self, func_index: u32) -> Option<*const u8> {
        self.address(self.info.functions.get(func_index as usize)?.code?)
    }

    /// The host-to-Wasm entry trampoline for type `type_index`.
    pub fn entry_trampoline(&self, type_index: u32) -> Option<*const u8> {
        self.address(*self.info.entry_trampolines.get(type_index as usize)?)
    }

    /// The Wasm-to-host trampoline for type `type_index`.
    pub fn host_trampoline(&self, type_index: u32) -> Option<*const u8> {
        self.address(*self.info.host_trampolines.get(type_index as usize)?)
    }

    /// The trap code of the instruction at exactly `pc`.
    pub fn trap_at(&self, pc: usize) -> Option<TrapCode> {
        self.trap_table().lookup(self.text_offset(pc)?)
    }

    /// The defined function whose body contains `pc`.
    pub fn func_at(&self, pc: usize) -> Option<u32> {
        self.function_containing(pc).map(|(f, _)| f.func_index)
    }

    /// The defined function whose body contains `pc`, and the offset of
    /// `pc` in it.
    fn function_containing(&self, pc: usize) -> Option<(&FunctionRange, u32)> {
        let offset = self.text_offset(pc)?;
        let i = self.functions.partition_point(|f| f.start <= offset);
        let f = self.functions.get(i.checked_sub(1)?)?;
        (offset < f.end).then_some((f, offset - f.start))
    }

    /// The Wasm frames at `pc`, innermost first: the functions inlined
    /// there (SPEC 2.2.3), then the defined function whose body contains
    /// `pc`. Empty when `pc` is in no defined function.
    pub fn frames_at(&self, pc: usize) -> impl Iterator<Item = u32> + '_ {
        self.function_containing(pc).into_iter().flat_map(move |(f, within)| {
            let inlined = self.info.inlined_frames(f.func_index).map(|frames| frames.frames_at(within));
            inlined.into_iter().flatten().chain(std::iter::once(f.func_index))
        })
    }

    /// [`frames_at`](Self::frames_at), each frame with the module offset
    /// of its Wasm instruction where it is known: the innermost frame's
    /// from `.kiln.wasm_offsets` (SPEC 2.9), each caller of an inlined
    /// frame at the offset of the call its inline site replaced.
    pub fn wasm_frames_at(&self, pc: usize) -> impl Iterator<Item = (u32, Option<u32>)> + '_ {
        let innermost = self.wasm_offset_at(pc);
        self.function_containing(pc).into_iter().flat_map(move |(f, within)| {
            let sites = self.info.inlined_frames(f.func_index).map(|frames| frames.sites_at(within));
            let callees = sites.into_iter().flatten().map(|site| (site.callee, site.call_offset));
            let own = std::iter::once((f.func_index, NO_WASM_OFFSET));
            // Each frame's offset is the one its callee's site records;
            // the innermost frame's is the table's.
            let mut offset = innermost;
            callees.chain(own).map(move |(func_index, call_offset)| {
                let at = offset;
                offset = (call_offset != NO_WASM_OFFSET).then_some(call_offset);
                (func_index, at)
            })
        })
    }

    /// The stack map of the call whose return address is exactly
    /// `return_pc`. Never a neighbour's: a function with no live externrefs
    /// at a call has no map there.
    pub fn stack_map_at(&self, return_pc: usize) -> Option<StackMap<'_>> {
        let offset = self.text_offset(return_pc).or_else(|| {
            // A call that ends the text returns to one past its end.
            (return_pc.checked_sub(self.text() as usize)? == self.text_len()).then_some(self.text_len() as u32)
        })?;
        self.stack_map_table().lookup(offset)
    }

    /// The exception handlers of the call whose return address is exactly
    /// `return_pc`, if it has any.
    pub fn handlers_at(&self, return_pc: usize) -> Option<&HandlerRecord> {
        let offset = self.text_offset(return_pc).or_else(|| {
            (return_pc.checked_sub(self.text() as usize)? == self.text_len()).then_some(self.text_len() as u32)
        })?;
        let i = self.handlers.binary_search_by_key(&offset, |r| r.return_offset).ok()?;
        self.handlers.get(i)
    }

    /// The address of `.text` offset `offset` (checked to lie in `.text`
    /// when loading).
    pub(crate) fn text_address(&self, offset: u32) -> usize {
        self.text() as usize + offset as usize
    }

    /// Every stack map, where it lies in the artifact.
    pub fn stack_map_table(&self) -> StackMapTable<'_> {
        // Its size was checked when loading, so this never falls back.
        StackMapTable::parse(&self.storage.table_bytes()[self.tables.stack_maps.clone()]).unwrap_or_default()
    }

    /// Every trap record, sorted by offset, where they lie in the artifact.
    pub fn trap_table(&self) -> TrapTable<'_> {
        // Its size was checked when loading, so this never falls back.
        TrapTable::parse(&self.storage.table_bytes()[self.tables.traps.clone()]).unwrap_or_default()
    }

    /// The module's name from its name section.
    pub fn module_name(&self) -> Option<&str> {
        self.info.name.as_deref()
    }

    /// The name of function `func_index` as reports show it: the name
    /// section's, else the name of the first export of the function (as
    /// Wasmtime names frames), else none.
    pub fn func_name(&self, func_index: u32) -> Option<&str> {
        self.function_names().get(func_index).or_else(|| {
            let export = self.info.exports.iter().find(|e| e.kind == ExternKind::Func && e.index == func_index)?;
            Some(&*export.name)
        })
    }

    /// The Wasm offsets of the code (SPEC 2.9), where they lie in the
    /// artifact.
    pub fn wasm_offsets(&self) -> WasmOffsets<'_> {
        // Its size was checked when loading, so this never falls back.
        WasmOffsets::parse(&self.storage.table_bytes()[self.tables.wasm_offsets.clone()]).unwrap_or_default()
    }

    /// The source lines of the module's DWARF (SPEC 2.10), where they lie
    /// in the artifact.
    pub fn source_lines(&self) -> SourceLines<'_> {
        // Its size was checked when loading, so this never falls back.
        SourceLines::parse(&self.storage.table_bytes()[self.tables.lines.clone()]).unwrap_or_default()
    }

    /// The module offset of the Wasm instruction that the machine
    /// instruction at `pc` was compiled from.
    pub fn wasm_offset_at(&self, pc: usize) -> Option<u32> {
        self.wasm_offsets().lookup(self.text_offset(pc)?)
    }

    /// The function names of the name section, where they lie in the
    /// artifact.
    pub fn function_names(&self) -> FunctionNames<'_> {
        // Its size was checked when loading, so this never falls back.
        FunctionNames::parse(&self.storage.table_bytes()[self.tables.names.clone()]).unwrap_or_default()
    }
}

impl Drop for LoadedCode {
    fn drop(&mut self) {
        // Before the fields (and the mapping) go: see the registry docs.
        registry::unregister(self.text() as usize, self);
    }
}

impl fmt::Debug for LoadedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedCode")
            .field("name", &self.info.name)
            .field("text", &self.text())
            .field("text_len", &self.text_len())
            .field("functions", &self.functions.len())
            .field("traps", &self.trap_table().len())
            .field("stack_maps", &self.stack_map_table().len())
            .finish_non_exhaustive()
    }
}
