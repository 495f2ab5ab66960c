//! Shared objects linked by `kilnc --emit so` (SPEC.md 1.3).
//!
//! The file is checked completely from its bytes before `dlopen`: a
//! foreign, damaged or incompatible shared object is refused without being
//! opened, and one that would make the dynamic loader run anything (a
//! constructor, a dependency, a relocation of its code) is refused too.
//! After `dlopen`, the mapping found through the root symbol is compared
//! with what was checked, so a file changed in between is refused as well.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use object::elf::{self, FileHeader64, SectionHeader64};
use object::read::elf::{Dyn, FileHeader, ProgramHeader, SectionHeader, SectionTable, Sym};
use object::{LittleEndian, SectionIndex};

use kiln_format::{
    ArtifactHeader, ROOT_SYMBOL, SECTION_DATA, SECTION_HANDLERS, SECTION_IMAGE, SECTION_LINES, SECTION_META,
    SECTION_NAMES, SECTION_STACKMAPS, SECTION_TEXT, SECTION_TRAPS, SECTION_WASM_OFFSETS,
};

use super::artifact::{check_contents, check_digest, check_header, Contents, SectionSizes, TableBytes};
use super::trust::{check_trust, Trust};
use super::LoadError;

type Elf = FileHeader64<LittleEndian>;
const ENDIAN: LittleEndian = LittleEndian;

/// A section of the shared object: its link-time address and its bytes in
/// the file.
#[derive(Clone, Copy)]
struct Placed<'data> {
    addr: u64,
    bytes: &'data [u8],
}

/// A `PT_LOAD` segment, as the file describes it and as `dl_iterate_phdr`
/// reports it once mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    vaddr: u64,
    memsz: u64,
    offset: u64,
    filesz: u64,
    flags: u32,
}

/// A shared object whose every check passed, borrowing the file's bytes.
pub(crate) struct SharedImage<'data> {
    pub header: ArtifactHeader,
    meta: Placed<'data>,
    /// `.text` as linked (relocated), which is what `dlopen` maps.
    text: Placed<'data>,
    traps: Placed<'data>,
    stack_maps: Placed<'data>,
    handlers: Placed<'data>,
    names: Placed<'data>,
    wasm_offsets: Placed<'data>,
    lines: Placed<'data>,
    data: Placed<'data>,
    /// `.kiln.image`, which instantiation maps from the file rather than
    /// from where `dlopen` put it.
    pub image: &'data [u8],
    /// Its offset in the file.
    pub image_offset: u64,
    loads: Vec<Segment>,
    pub contents: Contents,
}

/// `.text` and `.kiln.data` of an opened shared object, valid while its
/// library handle is.
pub(crate) struct SharedCode {
    text: *const u8,
    text_len: usize,
    data: *const u8,
    data_len: usize,
    // Last: dropping it may unmap what the pointers above point into.
    _library: libloading::Library,
}

// SAFETY: the pointers refer to read-only mappings that live as long as the
// library handle owned next to them; nothing is mutated through them.
unsafe impl Send for SharedCode {}
// SAFETY: as above.
unsafe impl Sync for SharedCode {}

impl SharedCode {
    /// Start of `.text`.
    pub fn text(&self) -> *const u8 {
        self.text
    }

    /// Length of `.text` in bytes.
    pub fn text_len(&self) -> usize {
        self.text_len
    }

    /// The bytes of `.kiln.data`.
    pub fn data(&self) -> &[u8] {
        if self.data_len == 0 {
            return &[];
        }
        // SAFETY: `open` compared these bytes with the checked file, so the
        // range is mapped, readable and unchanging (its segment is not
        // writable) while the library stays open, which it does while
        // `self` lives.
        unsafe { std::slice::from_raw_parts(self.data, self.data_len) }
    }
}

impl<'data> SharedImage<'data> {
    /// `.kiln.traps`, in the file's bytes.
    pub fn traps_bytes(&self) -> &'data [u8] {
        self.traps.bytes
    }

    /// `.kiln.stackmaps`, in the file's bytes.
    pub fn stack_map_bytes(&self) -> &'data [u8] {
        self.stack_maps.bytes
    }

    /// `.kiln.names`, in the file's bytes.
    pub fn name_bytes(&self) -> &'data [u8] {
        self.names.bytes
    }

    /// `.kiln.wasm_offsets`, in the file's bytes.
    pub fn wasm_offset_bytes(&self) -> &'data [u8] {
        self.wasm_offsets.bytes
    }

    /// `.kiln.lines`, in the file's bytes.
    pub fn line_bytes(&self) -> &'data [u8] {
        self.lines.bytes
    }
}

/// Whether `bytes` start like an ELF shared object (`ET_DYN`), the one
/// kind of file [`parse_shared`] takes.
pub(crate) fn is_shared_object(bytes: &[u8]) -> bool {
    bytes.len() >= 18 && bytes[0..4] == elf::ELFMAG && u16::from_le_bytes([bytes[16], bytes[17]]) == elf::ET_DYN
}

/// Checks a shared object from its file bytes, in the order SPEC.md 1.3
/// gives, without opening it.
pub(crate) fn parse_shared<'data>(bytes: &'data [u8], trust: Trust) -> Result<SharedImage<'data>, LoadError> {
    if bytes.len() < std::mem::size_of::<Elf>() || bytes[4] != elf::ELFCLASS64 || bytes[5] != elf::ELFDATA2LSB {
        return Err(LoadError::new("not a little-endian ELF64 shared object"));
    }
    let file = Elf::parse(bytes).map_err(LoadError::elf)?;
    let machine = file.e_machine(ENDIAN);
    if machine != elf::EM_X86_64 {
        return Err(LoadError::new(format!("ELF machine {machine}, this loader runs x86-64 (62) code")));
    }
    let sections = file.sections(ENDIAN, bytes).map_err(LoadError::elf)?;
    let find = |name: &'static str| -> Result<Option<(SectionIndex, Placed<'_>)>, LoadError> {
        let Some((index, header)) = sections.section_by_name(ENDIAN, name.as_bytes()) else {
            return Ok(None);
        };
        let contents = header
            .data(ENDIAN, bytes)
            .map_err(|e| LoadError::in_section(name, format!("section contents lie outside the file: {e}")))?;
        if contents.len() as u64 != header.sh_size(ENDIAN) {
            return Err(LoadError::in_section(name, "section has no contents in the file"));
        }
        Ok(Some((index, Placed { addr: header.sh_addr(ENDIAN), bytes: contents })))
    };
    let (_, meta) = find(SECTION_META)?.ok_or_else(|| {
        LoadError::new(format!("no {SECTION_META} section: not a kiln shared object (built with kilnc --emit so)"))
    })?;
    let header = check_header(meta.bytes)?;
    // Every byte, before anything else of the file is looked at: no
    // damaged (or, with keys, unsigned) program header or dynamic section
    // reaches `dlopen`.
    let meta_offset = meta.bytes.as_ptr() as usize - bytes.as_ptr() as usize;
    check_digest(&header, bytes, meta_offset)?;
    check_trust(trust, bytes, meta_offset)?;

    let (text_index, text) =
        find(SECTION_TEXT)?.ok_or_else(|| LoadError::new(format!("no {SECTION_TEXT} section in the shared object")))?;
    let empty = Placed { addr: 0, bytes: &[] };
    let optional = |name| -> Result<Placed<'_>, LoadError> { Ok(find(name)?.map_or(empty, |(_, p)| p)) };
    let traps = optional(SECTION_TRAPS)?;
    let stack_maps = optional(SECTION_STACKMAPS)?;
    let handlers = optional(SECTION_HANDLERS)?;
    let names = optional(SECTION_NAMES)?;
    let wasm_offsets = optional(SECTION_WASM_OFFSETS)?;
    let lines = optional(SECTION_LINES)?;
    let data = optional(SECTION_DATA)?;
    let image = optional(SECTION_IMAGE)?.bytes;
    let image_offset = if image.is_empty() { 0 } else { image.as_ptr() as u64 - bytes.as_ptr() as u64 };

    check_root_symbol(&sections, bytes, meta.addr)?;
    let loads = check_segments(file, &sections, bytes, text_index)?;

    let sizes = SectionSizes { text: text.bytes.len(), data: data.bytes.len(), image: image.len() };
    let tables = TableBytes {
        traps_bytes: traps.bytes,
        stack_map_bytes: stack_maps.bytes,
        handler_bytes: handlers.bytes,
        name_bytes: names.bytes,
        wasm_offset_bytes: wasm_offsets.bytes,
        line_bytes: lines.bytes,
    };
    let contents = check_contents(&header, meta.bytes, sizes, tables)?;
    Ok(SharedImage {
        header,
        meta,
        text,
        traps,
        stack_maps,
        handlers,
        names,
        wasm_offsets,
        lines,
        data,
        image,
        image_offset,
        loads,
        contents,
    })
}

/// The root symbol must be exported and sit at the start of `.kiln.meta`,
/// so that the address `dlsym` gives locates every other section.
fn check_root_symbol<'data>(
    sections: &SectionTable<'data, Elf, &'data [u8]>,
    bytes: &'data [u8],
    meta_addr: u64,
) -> Result<(), LoadError> {
    let dynsym = sections.symbols(ENDIAN, bytes, elf::SHT_DYNSYM).map_err(LoadError::elf)?;
    let root = dynsym
        .iter()
        .find(|s| dynsym.symbol_name(ENDIAN, s).is_ok_and(|n| n == ROOT_SYMBOL.as_bytes()))
        .ok_or_else(|| LoadError::new(format!("no exported {ROOT_SYMBOL}: not a kiln shared object")))?;
    if root.is_undefined(ENDIAN) || root.st_bind() != elf::STB_GLOBAL || root.st_visibility() != elf::STV_DEFAULT {
        return Err(LoadError::new(format!("{ROOT_SYMBOL} is not a defined, global, default-visibility symbol")));
    }
    if root.st_value(ENDIAN) != meta_addr {
        return Err(LoadError::in_section(
            SECTION_META,
            format!("{ROOT_SYMBOL} is at {:#x}, but {SECTION_META} starts at {meta_addr:#x}", root.st_value(ENDIAN)),
        ));
    }
    Ok(())
}

/// Refuses what would make `dlopen` run or patch anything, and checks that
/// every section the loader reads is mapped from the file, read-only, and
/// `.text` executable. Returns the `PT_LOAD` segments, to compare with the
/// mapping after `dlopen`.
fn check_segments<'data>(
    file: &'data Elf,
    sections: &SectionTable<'data, Elf, &'data [u8]>,
    bytes: &'data [u8],
    text_index: SectionIndex,
) -> Result<Vec<Segment>, LoadError> {
    let phdrs = file.program_headers(ENDIAN, bytes).map_err(LoadError::elf)?;
    let mut loads = Vec::new();
    for ph in phdrs {
        match ph.p_type(ENDIAN) {
            elf::PT_LOAD => loads.push(Segment {
                vaddr: ph.p_vaddr(ENDIAN),
                memsz: ph.p_memsz(ENDIAN),
                offset: ph.p_offset(ENDIAN),
                filesz: ph.p_filesz(ENDIAN),
                flags: ph.p_flags(ENDIAN),
            }),
            elf::PT_INTERP | elf::PT_TLS => {
                return Err(LoadError::new("the shared object has an interpreter or thread-local storage"))
            }
            _ => {}
        }
        if let Some(entries) = ph.dynamic(ENDIAN, bytes).map_err(LoadError::elf)? {
            for d in entries {
                let tag = d.d_tag(ENDIAN);
                let refused = match tag {
                    elf::DT_NULL => break,
                    elf::DT_NEEDED => Some("a needed library"),
                    elf::DT_INIT | elf::DT_INIT_ARRAY | elf::DT_PREINIT_ARRAY => Some("a constructor"),
                    elf::DT_FINI | elf::DT_FINI_ARRAY => Some("a destructor"),
                    elf::DT_TEXTREL => Some("relocations of its code"),
                    elf::DT_RELA | elf::DT_REL | elf::DT_JMPREL | elf::DT_RELR => Some("dynamic relocations"),
                    elf::DT_FLAGS if d.d_val(ENDIAN) & u64::from(elf::DF_TEXTREL) != 0 => {
                        Some("relocations of its code")
                    }
                    _ => None,
                };
                if let Some(what) = refused {
                    return Err(LoadError::new(format!(
                        "the shared object has {what} (dynamic tag {tag:#x}); kilnc --emit so never makes one"
                    )));
                }
            }
        }
    }
    for (index, header) in sections.enumerate() {
        let name = sections.section_name(ENDIAN, header).unwrap_or(b"");
        let Some(kiln_name) = [
            SECTION_TEXT,
            SECTION_META,
            SECTION_TRAPS,
            SECTION_STACKMAPS,
            SECTION_HANDLERS,
            SECTION_DATA,
            SECTION_IMAGE,
        ]
        .into_iter()
        .find(|n| n.as_bytes() == name) else {
            continue;
        };
        if header.sh_size(ENDIAN) == 0 {
            continue;
        }
        let executable = index == text_index;
        check_mapped(header, &loads, executable).map_err(|why| LoadError::in_section(kiln_name, why))?;
    }
    Ok(loads)
}

fn check_mapped(header: &SectionHeader64<LittleEndian>, loads: &[Segment], executable: bool) -> Result<(), String> {
    let addr = header.sh_addr(ENDIAN);
    let size = header.sh_size(ENDIAN);
    let offset = header.sh_offset(ENDIAN);
    let end = addr.checked_add(size).ok_or("section address overflows")?;
    let segment = loads
        .iter()
        .find(|s| s.vaddr <= addr && s.vaddr.checked_add(s.filesz).is_some_and(|e| end <= e))
        .ok_or("section is not inside the file part of any PT_LOAD segment")?;
    if offset.checked_sub(segment.offset) != Some(addr - segment.vaddr) {
        return Err("section's file offset does not match its segment's".into());
    }
    let wanted = if executable { elf::PF_R | elf::PF_X } else { elf::PF_R };
    if segment.flags & (elf::PF_R | elf::PF_W | elf::PF_X) != wanted {
        return Err(format!("segment flags {:#x}, expected {wanted:#x}", segment.flags));
    }
    Ok(())
}

/// Opens a checked shared object and locates its sections from the root
/// symbol.
pub(crate) fn open(path: &Path, checked: &File, image: &SharedImage<'_>) -> Result<SharedCode, LoadError> {
    let target = dlopen_path(path, checked);
    // SAFETY: the file was checked to have no constructors, needed
    // libraries, dynamic relocations or interpreter, so opening it runs no
    // code; the comparison below catches a file changed since the check.
    let library = unsafe { libloading::os::unix::Library::open(Some(&target), libc::RTLD_NOW | libc::RTLD_LOCAL) }
        .map_err(|e| LoadError::new(format!("cannot open shared object {}: {e}", path.display())))?;
    let library = libloading::Library::from(library);
    let mut name = ROOT_SYMBOL.as_bytes().to_vec();
    name.push(0);
    // SAFETY: a `Symbol<*const u8>` holds the symbol's address as the
    // pointer value; it is only used as an address, never read through.
    let root = unsafe { library.get::<*const u8>(&name) }
        .map_err(|e| LoadError::new(format!("{ROOT_SYMBOL} not found after opening: {e}")))?;
    let root = *root as usize as u64;
    let bias = root.wrapping_sub(image.meta.addr);
    if !mapping_matches(bias, &image.loads) {
        return Err(LoadError::new(format!(
            "{}: the opened object's segments differ from the checked file (the file changed while it was \
             being loaded, or another file of that name is still open)",
            path.display()
        )));
    }
    let locate = |p: Placed<'_>| bias.wrapping_add(p.addr) as usize as *const u8;
    for (name, placed) in [
        (SECTION_META, image.meta),
        (SECTION_TEXT, image.text),
        (SECTION_TRAPS, image.traps),
        (SECTION_STACKMAPS, image.stack_maps),
        (SECTION_HANDLERS, image.handlers),
        (SECTION_NAMES, image.names),
        (SECTION_WASM_OFFSETS, image.wasm_offsets),
        (SECTION_LINES, image.lines),
        (SECTION_DATA, image.data),
    ] {
        if placed.bytes.is_empty() {
            continue;
        }
        // SAFETY: the segments mapped at `bias` are the checked file's
        // (`mapping_matches`), and `check_segments` found this section
        // inside the file part of a readable one, so the range is mapped
        // and readable while `library` is open.
        let mapped = unsafe { std::slice::from_raw_parts(locate(placed), placed.bytes.len()) };
        if mapped != placed.bytes {
            return Err(LoadError::in_section(name, "the mapped section differs from the checked file"));
        }
    }
    Ok(SharedCode {
        text: locate(image.text),
        text_len: image.text.bytes.len(),
        data: locate(image.data),
        data_len: image.data.bytes.len(),
        _library: library,
    })
}

/// `path` as `dlopen` must be given it. Not `/proc/self/fd/N` of the file
/// that was checked: the dynamic loader matches names before files, so a
/// reused descriptor number would hand back a different, already open
/// object.
/// What to hand `dlopen`: the file whose bytes were checked, through its
/// descriptor, so that a file renamed over `path` since is not the one
/// opened (its signature, if one was checked, stays the one that counts);
/// `path` itself where `/proc` is not mounted.
fn dlopen_path(path: &Path, checked: &File) -> PathBuf {
    let by_descriptor = PathBuf::from(format!("/proc/self/fd/{}", checked.as_raw_fd()));
    if by_descriptor.exists() {
        return by_descriptor;
    }
    // Without a slash, dlopen would search the library path instead.
    if path.as_os_str().as_bytes().contains(&b'/') {
        path.to_path_buf()
    } else {
        Path::new(".").join(path)
    }
}

struct Search<'a> {
    bias: u64,
    expected: &'a [Segment],
    found: Option<bool>,
}

/// Whether an object loaded at `bias` has exactly the `PT_LOAD` segments
/// `expected`.
fn mapping_matches(bias: u64, expected: &[Segment]) -> bool {
    let mut search = Search { bias, expected, found: None };
    // SAFETY: the callback only reads what dl_iterate_phdr hands it, for the
    // duration of the call, and `search` outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(visit), (&mut search as *mut Search<'_>).cast::<c_void>()) };
    search.found == Some(true)
}

unsafe extern "C" fn visit(info: *mut libc::dl_phdr_info, _size: usize, data: *mut c_void) -> libc::c_int {
    // SAFETY: `data` is the `Search` passed by `mapping_matches`, borrowed
    // mutably by nothing else during the call; `info` is valid for the call.
    let (search, info) = unsafe { (&mut *data.cast::<Search<'_>>(), &*info) };
    if info.dlpi_addr != search.bias || info.dlpi_phdr.is_null() {
        return 0;
    }
    // SAFETY: the dynamic loader gives `dlpi_phnum` program headers at
    // `dlpi_phdr`.
    let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
    let mapped = phdrs.iter().filter(|p| p.p_type == libc::PT_LOAD).map(|p| Segment {
        vaddr: p.p_vaddr,
        memsz: p.p_memsz,
        offset: p.p_offset,
        filesz: p.p_filesz,
        flags: p.p_flags,
    });
    search.found = Some(mapped.eq(search.expected.iter().copied()));
    1
}
