//! Section and symbol names of the artifact.

/// Metadata section: [`crate::ArtifactHeader`] followed by the bincode-encoded [`crate::ModuleInfo`].
pub const SECTION_META: &str = ".kiln.meta";
/// Trap table: sorted [`crate::TrapRecord`]s, read in place through [`crate::TrapTable`].
pub const SECTION_TRAPS: &str = ".kiln.traps";
/// Stack maps: sorted [`crate::StackMapRecord`]s, read in place through [`crate::StackMapTable`].
pub const SECTION_STACKMAPS: &str = ".kiln.stackmaps";
/// Exception handler tables: sorted [`crate::HandlerRecord`]s.
pub const SECTION_HANDLERS: &str = ".kiln.handlers";
/// Function names of the name section, read in place through [`crate::FunctionNames`].
pub const SECTION_NAMES: &str = ".kiln.names";
/// The Wasm offset of each machine instruction, read in place through [`crate::WasmOffsets`].
pub const SECTION_WASM_OFFSETS: &str = ".kiln.wasm_offsets";
/// Source lines of Wasm instructions from the module's DWARF, read in place through [`crate::SourceLines`].
pub const SECTION_LINES: &str = ".kiln.lines";
/// Data segment bytes, referenced by offset from [`crate::DataSegment`].
pub const SECTION_DATA: &str = ".kiln.data";
/// Memory images, page-aligned in the file, located by [`crate::MemoryImage`].
pub const SECTION_IMAGE: &str = ".kiln.image";
/// The code section: fully linked (no relocation applies to it), at a file
/// offset that is a multiple of [`TEXT_PAGE_SIZE`], and a multiple of it
/// long, so that the loader maps it from the file as it lies.
pub const SECTION_TEXT: &str = ".text";

/// Alignment of `.text` in the file and of its size (SPEC.md 1.2): the
/// smallest host page, so that the pages holding code hold nothing else.
pub const TEXT_PAGE_SIZE: u64 = 4096;

/// What kilnc pads `.text` with up to [`TEXT_PAGE_SIZE`]: `int3`, which
/// traps if ever executed.
pub const TEXT_PADDING: u8 = 0xcc;

/// Exported root symbol of a shared object built with `kilnc --emit so`:
/// it points at the start of the `.kiln.meta` contents.
pub const ROOT_SYMBOL: &str = "kiln_module_root";

/// Symbol of defined function `func_index` (index in the module's function space).
pub fn function_symbol(func_index: u32) -> String {
    format!("kiln_func_{func_index}")
}

/// Symbol of the host-to-Wasm entry trampoline for type `type_index`.
pub fn entry_trampoline_symbol(type_index: u32) -> String {
    format!("kiln_entry_{type_index}")
}

/// Symbol of the Wasm-to-host trampoline for type `type_index`.
pub fn host_trampoline_symbol(type_index: u32) -> String {
    format!("kiln_host_{type_index}")
}

/// Symbol of the Wasm-to-builtin exit trampoline of builtin `builtin` (its
/// index in the builtins table).
pub fn builtin_trampoline_symbol(builtin: u32) -> String {
    format!("kiln_builtin_{builtin}")
}
