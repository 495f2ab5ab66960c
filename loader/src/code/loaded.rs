//! Loaded, relocated, executable code of one artifact.

use std::fmt;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use kiln_format::{ArtifactHeader, CodeRange, HandlerRecord, ModuleInfo, StackMapRecord, TrapCode, TrapRecord};

use super::artifact::{parse_artifact, FunctionRange};
use super::file::MappedFile;
use super::image::ImageSource;
use super::memory::{CodeMemory, WritableCode};
use super::registry;
use super::reloc::apply_relocations;
use super::shared::{self, SharedCode};
use super::LoadError;

/// The code and metadata of one artifact, mapped and ready to run.
///
/// Immutable after loading and shared as `Arc<LoadedCode>`. While it lives,
/// its address range is in the global code registry, which is how the trap
/// handler and the GC's stack walk find it from a PC.
pub struct LoadedCode {
    storage: Storage,
    header: ArtifactHeader,
    info: ModuleInfo,
    traps: Vec<TrapRecord>,
    stack_maps: Vec<StackMapRecord>,
    handlers: Vec<HandlerRecord>,
    functions: Vec<FunctionRange>,
    /// Where instantiation maps memory images from; `None` without images.
    image: Option<ImageSource>,
}

/// Where the code and data live.
enum Storage {
    /// A relocatable object: code copied into our own mapping, data copied
    /// out of the file bytes.
    Private { memory: CodeMemory, data: Box<[u8]> },
    /// A shared object: both stay where `dlopen` mapped them.
    Shared(SharedCode),
}

/// Loads an artifact from its bytes: validates it completely, then maps
/// its code, applies relocations and registers it.
///
/// A shared object is refused: `dlopen` needs a file, see [`load_file`].
pub fn load_bytes(bytes: &[u8]) -> Result<Arc<LoadedCode>, LoadError> {
    load_object(bytes, None)
}

/// Loads a relocatable object; its memory images come from `file` if the
/// bytes are that file's contents, else from an anonymous copy.
fn load_object(bytes: &[u8], file: Option<&File>) -> Result<Arc<LoadedCode>, LoadError> {
    if shared::is_shared_object(bytes) {
        return Err(LoadError::new("a shared object (kilnc --emit so) can only be loaded from a file"));
    }
    let mut realigned = None;
    let bytes = aligned(bytes, &mut realigned);
    let artifact = parse_artifact(bytes)?;
    let image = match file {
        Some(file) => ImageSource::from_file(file, artifact.image_offset, artifact.image)?,
        None => ImageSource::from_bytes(artifact.image)?,
    };
    let mut writable = WritableCode::new(artifact.text)?;
    let base = writable.base();
    apply_relocations(writable.bytes_mut(), base, &artifact.relocations);
    let memory = writable.into_executable()?;
    let code = Arc::new(LoadedCode {
        storage: Storage::Private { memory, data: artifact.data.into() },
        header: artifact.header,
        info: artifact.info,
        traps: artifact.traps,
        stack_maps: artifact.stack_maps,
        handlers: artifact.handlers,
        functions: artifact.functions,
        image,
    });
    Ok(registry::register(code))
}

/// Loads an artifact from a file: a relocatable object as [`load_bytes`]
/// does, or a shared object (`ET_DYN`, `kilnc --emit so`), which is checked
/// from the file's bytes, then opened with `dlopen` (SPEC.md 1.3).
pub fn load_file(path: &Path) -> Result<Arc<LoadedCode>, LoadError> {
    // The images are mapped from this very file, whose bytes are the ones
    // checked (not another file that took its name in between).
    let mapped = MappedFile::open(path)?;
    let (bytes, file) = (mapped.bytes(), mapped.file());
    if !shared::is_shared_object(bytes) {
        return load_object(bytes, Some(file));
    }
    let image = shared::parse_shared(bytes)?;
    let code = shared::open(path, &image)?;
    let image_source = ImageSource::from_file(file, image.image_offset, image.image)?;
    let contents = image.contents;
    let code = Arc::new(LoadedCode {
        storage: Storage::Shared(code),
        header: image.header,
        info: contents.info,
        traps: contents.traps,
        stack_maps: contents.stack_maps,
        handlers: contents.handlers,
        functions: contents.functions,
        image: image_source,
    });
    // Opening one file twice maps it once; both loads then share one
    // `LoadedCode`, which the registry hands back.
    Ok(registry::register(code))
}

/// `bytes`, or a copy of them in `storage` if they are misaligned: the ELF
/// reader needs 8-byte aligned headers, and a slice taken out of a larger
/// buffer may not be.
fn aligned<'a>(bytes: &'a [u8], storage: &'a mut Option<AlignedCopy>) -> &'a [u8] {
    if bytes.as_ptr().align_offset(8) == 0 {
        bytes
    } else {
        storage.insert(AlignedCopy::new(bytes)).bytes()
    }
}

struct AlignedCopy {
    buffer: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedCopy {
    fn new(bytes: &[u8]) -> Self {
        let mut buffer = vec![0u8; bytes.len() + 8];
        let start = buffer.as_ptr().align_offset(8).min(8);
        buffer[start..start + bytes.len()].copy_from_slice(bytes);
        AlignedCopy { buffer, start, len: bytes.len() }
    }

    fn bytes(&self) -> &[u8] {
        &self.buffer[self.start..self.start + self.len]
    }
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
            Storage::Private { data, .. } => data,
            Storage::Shared(shared) => shared.data(),
        }
    }

    /// Where memory images are mapped from, if the module has any
    /// (`ModuleInfo::memory_images`).
    pub(crate) fn image_source(&self) -> Option<&ImageSource> {
        self.image.as_ref()
    }

    /// Start of the relocated `.text`.
    pub fn text(&self) -> *const u8 {
        match &self.storage {
            Storage::Private { memory, .. } => memory.base(),
            Storage::Shared(shared) => shared.text(),
        }
    }

    /// Length of `.text` in bytes.
    pub fn text_len(&self) -> usize {
        match &self.storage {
            Storage::Private { memory, .. } => memory.len(),
            Storage::Shared(shared) => shared.text_len(),
        }
    }

    /// Whether the code was loaded from a shared object.
    pub fn is_shared_object(&self) -> bool {
        matches!(self.storage, Storage::Shared(_))
    }

    /// Length of the address range registered for this code: every address
    /// in it belongs to this module.
    pub(crate) fn mapped_len(&self) -> usize {
        match &self.storage {
            Storage::Private { memory, .. } => memory.mapped_len(),
            // One past the end too, for a call that ends `.text`: the
            // linker puts no other module's code there.
            Storage::Shared(shared) => shared.text_len() + 1,
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
        let offset = self.text_offset(pc)?;
        let i = self.traps.partition_point(|r| r.text_offset < offset);
        self.traps.get(i).filter(|r| r.text_offset == offset).map(|r| r.code)
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
            let inlined = self.info.functions.get(f.func_index as usize).map(|info| info.inlined.frames_at(within));
            inlined.into_iter().flatten().chain(std::iter::once(f.func_index))
        })
    }

    /// The stack map of the call whose return address is exactly
    /// `return_pc`. Never a neighbour's: a function with no live externrefs
    /// at a call has no map there.
    pub fn stack_map_at(&self, return_pc: usize) -> Option<&StackMapRecord> {
        let offset = self.text_offset(return_pc).or_else(|| {
            // A call that ends the text returns to one past its end.
            (return_pc.checked_sub(self.text() as usize)? == self.text_len()).then_some(self.text_len() as u32)
        })?;
        let i = self.stack_maps.binary_search_by_key(&offset, |r| r.return_offset).ok()?;
        self.stack_maps.get(i)
    }

    /// Every stack map, sorted by return offset.
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

    /// Every stack map.
    pub fn stack_maps(&self) -> &[StackMapRecord] {
        &self.stack_maps
    }

    /// Every trap record, sorted by offset.
    pub fn trap_records(&self) -> &[TrapRecord] {
        &self.traps
    }

    /// The module's name from its name section.
    pub fn module_name(&self) -> Option<&str> {
        self.info.name.as_deref()
    }

    /// The name of function `func_index` from the name section.
    pub fn func_name(&self, func_index: u32) -> Option<&str> {
        self.info.functions.get(func_index as usize)?.name.as_deref()
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
            .field("traps", &self.traps.len())
            .field("stack_maps", &self.stack_maps.len())
            .finish_non_exhaustive()
    }
}
