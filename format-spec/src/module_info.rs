//! The module info: everything the loader needs to instantiate a module,
//! stored bincode-encoded (standard config) after the header in `.kiln.meta`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{
    CompositeType, FormatError, FuncType, FunctionInlining, HeapType, InlinedFrames, RefType, Result, TypeShape,
    ValType, SECTION_META,
};

/// Limits, element type and index type of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableType {
    /// Element type.
    pub element: RefType,
    /// Initial number of elements.
    pub minimum: u64,
    /// Maximum number of elements.
    pub maximum: Option<u64>,
    /// Whether the table is indexed by `i64` (memory64's table64): its
    /// indices, sizes and segment offsets are `i64`, and its limits may
    /// exceed `u32::MAX`.
    pub table64: bool,
}

/// Limits of a memory, in 64 KiB pages, and its index type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryType {
    /// Initial size in pages.
    pub minimum: u64,
    /// Maximum size in pages.
    pub maximum: Option<u64>,
    /// Whether the memory is shared (threads proposal; refused today).
    pub shared: bool,
    /// Whether the memory is indexed by `i64` (memory64): its addresses,
    /// page counts, sizes and data segment offsets are `i64`, and compiled
    /// code checks its accesses against its current length.
    pub memory64: bool,
}

impl MemoryType {
    /// Most pages a memory of this type can ever have in kiln: its maximum,
    /// or the largest memory of its index type
    /// ([`MAX_WASM_PAGES`](crate::MAX_WASM_PAGES) or
    /// [`MAX_MEMORY64_PAGES`](crate::MAX_MEMORY64_PAGES)), whichever is less.
    pub fn max_pages(&self) -> u64 {
        let limit = if self.memory64 { crate::MAX_MEMORY64_PAGES } else { crate::MAX_WASM_PAGES };
        self.maximum.unwrap_or(limit).min(limit)
    }
}

/// Type and mutability of a global.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalType {
    /// Content type.
    pub content: ValType,
    /// Whether `global.set` may change it.
    pub mutable: bool,
}

impl fmt::Display for TableType {
    /// The text format: `(table 1 10 funcref)`, `(table i64 0 externref)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(table ")?;
        if self.table64 {
            f.write_str("i64 ")?;
        }
        write_limits(f, self.minimum, self.maximum)?;
        write!(f, " {})", self.element)
    }
}

impl fmt::Display for MemoryType {
    /// The text format: `(memory 1 2)`, `(memory i64 1)`, `(memory 1 1 shared)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(memory ")?;
        if self.memory64 {
            f.write_str("i64 ")?;
        }
        write_limits(f, self.minimum, self.maximum)?;
        if self.shared {
            f.write_str(" shared")?;
        }
        f.write_str(")")
    }
}

/// `min` or `min max`, as the text format writes limits.
fn write_limits(f: &mut fmt::Formatter<'_>, minimum: u64, maximum: Option<u64>) -> fmt::Result {
    write!(f, "{minimum}")?;
    match maximum {
        Some(maximum) => write!(f, " {maximum}"),
        None => Ok(()),
    }
}

impl fmt::Display for GlobalType {
    /// The text format: `(global i32)`, `(global (mut i64))`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mutable {
            write!(f, "(global (mut {}))", self.content)
        } else {
            write!(f, "(global {})", self.content)
        }
    }
}

/// A constant expression. One instruction has a variant of its own; a
/// longer one (extended constant expressions: `i32`/`i64` `add`, `sub`
/// and `mul`) that kilnc could not fold to one value, because it reads an
/// imported global, is kept as [`ConstExpr::Ops`] for the loader to run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConstExpr {
    /// `i32.const`.
    I32(i32),
    /// `i64.const`.
    I64(i64),
    /// `f32.const`, as bits.
    F32(u32),
    /// `f64.const`, as bits.
    F64(u64),
    /// `v128.const`, as bits.
    V128(u128),
    /// `ref.null` of a heap type.
    RefNull(HeapType),
    /// `ref.func` of a function index.
    RefFunc(u32),
    /// `global.get` of a global index: an imported global, or an immutable
    /// one defined before.
    GlobalGet(u32),
    /// The instructions of a longer expression, run on a value stack
    /// ([`ConstOp`]); a validated expression leaves exactly one value.
    Ops(Vec<ConstOp>),
}

/// One instruction of a [`ConstExpr::Ops`] expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConstOp {
    /// Pushes an `i32`.
    I32Const(i32),
    /// Pushes an `i64`.
    I64Const(i64),
    /// Pushes the value of a global.
    GlobalGet(u32),
    /// `i32.add`, wrapping.
    I32Add,
    /// `i32.sub`, wrapping.
    I32Sub,
    /// `i32.mul`, wrapping.
    I32Mul,
    /// `i64.add`, wrapping.
    I64Add,
    /// `i64.sub`, wrapping.
    I64Sub,
    /// `i64.mul`, wrapping.
    I64Mul,
    /// Pushes an `f32`, as bits.
    F32Const(u32),
    /// Pushes an `f64`, as bits.
    F64Const(u64),
    /// Pushes a `v128`, as bits.
    V128Const(u128),
    /// Pushes a null reference of a heap type.
    RefNull(HeapType),
    /// Pushes the reference of a function.
    RefFunc(u32),
    /// `ref.i31`: pops an `i32`, pushes an `i31`.
    RefI31,
    /// `struct.new` of a type index: pops the fields (the first pushed
    /// first), pushes a new struct.
    StructNew(u32),
    /// `struct.new_default` of a type index.
    StructNewDefault(u32),
    /// `array.new` of a type index: pops the length (pushed last), then
    /// the value (pushed first), as the instruction does.
    ArrayNew(u32),
    /// `array.new_default` of a type index: pops the length.
    ArrayNewDefault(u32),
    /// `array.new_fixed`: pops `len` elements (the first pushed first).
    ArrayNewFixed {
        /// Type index of the array.
        type_index: u32,
        /// Number of elements.
        len: u32,
    },
    /// `any.convert_extern`: changes no bits (SPEC 3.14).
    AnyConvertExtern,
    /// `extern.convert_any`: changes no bits.
    ExternConvertAny,
}

impl ConstOp {
    /// The result of a binary operator on two integers of its width
    /// (`i32` operands and result in the low 32 bits); `None` for an
    /// operator that is not binary.
    pub fn apply(self, a: u64, b: u64) -> Option<u64> {
        let (a32, b32) = (a as u32, b as u32);
        Some(match self {
            ConstOp::I32Add => u64::from(a32.wrapping_add(b32)),
            ConstOp::I32Sub => u64::from(a32.wrapping_sub(b32)),
            ConstOp::I32Mul => u64::from(a32.wrapping_mul(b32)),
            ConstOp::I64Add => a.wrapping_add(b),
            ConstOp::I64Sub => a.wrapping_sub(b),
            ConstOp::I64Mul => a.wrapping_mul(b),
            _ => return None,
        })
    }
}

/// What an import is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportKind {
    /// A function of the given type index.
    Func(u32),
    /// A table.
    Table(TableType),
    /// A memory.
    Memory(MemoryType),
    /// A global.
    Global(GlobalType),
    /// A tag of the given type index (a function type without results).
    Tag(u32),
}

/// One import.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Import {
    /// Module name.
    pub module: String,
    /// Field name.
    pub name: String,
    /// What is imported.
    pub kind: ImportKind,
}

/// The kind of an exported entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExternKind {
    /// Function.
    Func,
    /// Table.
    Table,
    /// Memory.
    Memory,
    /// Global.
    Global,
    /// Tag.
    Tag,
}

impl fmt::Display for ExternKind {
    /// The text format's keyword: `func`, `table`, `memory`, `global`, `tag`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExternKind::Func => "func",
            ExternKind::Table => "table",
            ExternKind::Memory => "memory",
            ExternKind::Global => "global",
            ExternKind::Tag => "tag",
        })
    }
}

/// One export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    /// Export name.
    pub name: String,
    /// Kind of entity.
    pub kind: ExternKind,
    /// Index in the module's index space of that kind (imports first).
    pub index: u32,
}

/// A defined global.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalDef {
    /// Its type.
    pub ty: GlobalType,
    /// Its initialiser.
    pub init: ConstExpr,
}

/// How an element segment is used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ElementMode {
    /// Copied into `table` at `offset` during instantiation, then dropped.
    Active {
        /// Table index.
        table: u32,
        /// Offset expression (`i64` for a 64-bit table, else `i32`).
        offset: ConstExpr,
    },
    /// Available to `table.init` until `elem.drop`.
    Passive,
    /// Only declares functions for `ref.func`; dropped at instantiation.
    Declared,
}

/// An element segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElementSegment {
    /// Mode.
    pub mode: ElementMode,
    /// Element type.
    pub element: RefType,
    /// Items: `RefFunc`, `RefNull` or `GlobalGet` expressions.
    pub items: Vec<ConstExpr>,
}

/// How a data segment is used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataMode {
    /// Copied into `memory` at `offset` during instantiation, then dropped.
    Active {
        /// Memory index.
        memory: u32,
        /// Offset expression (`i64` for a 64-bit memory, else `i32`).
        offset: ConstExpr,
    },
    /// Available to `memory.init` until `data.drop`.
    Passive,
    /// An active segment whose bytes are already part of `memory`'s image
    /// ([`ModuleInfo::memory_images`]): instantiation copies nothing and
    /// drops it as it drops an active segment. Its `len` is 0 and no bytes
    /// of it are in `.kiln.data`.
    InImage {
        /// Memory index.
        memory: u32,
    },
}

/// A data segment; its bytes are `.kiln.data[data_offset .. data_offset + len]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSegment {
    /// Mode.
    pub mode: DataMode,
    /// Offset of the bytes in `.kiln.data`.
    pub data_offset: u32,
    /// Number of bytes.
    pub len: u32,
}

/// The initial contents of one defined memory: `len` bytes of
/// `.kiln.image` at `image_offset`, which instantiation maps at byte
/// `memory_offset` of the memory. Every field is a multiple of
/// [`IMAGE_PAGE_SIZE`](crate::IMAGE_PAGE_SIZE), `len` is not zero, and the
/// range lies inside the memory's minimum size. Bytes of the memory outside
/// it start zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryImage {
    /// Memory index (in the memory space, so never an imported memory's).
    pub memory: u32,
    /// Where the image starts in the memory.
    pub memory_offset: u64,
    /// Where its bytes start in `.kiln.image`.
    pub image_offset: u64,
    /// Its length.
    pub len: u64,
}

/// A range of `.text`, relative to the section start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRange {
    /// Start offset in `.text`.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

/// A function of the module's function space.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionInfo {
    /// Index of its type in [`ModuleInfo::types`]. (Its name, if the name
    /// section gives one, is in `.kiln.names`.)
    pub type_index: u32,
    /// Its code, for a defined function; `None` for an import. (The
    /// functions inlined into it, if any, are in [`ModuleInfo::inlined`].)
    pub code: Option<CodeRange>,
}

/// The encoding of [`ModuleInfo::functions`]: one byte string holding, per
/// function, its type index, code offset and code length as little-endian
/// `u32`s; an import's offset and length are both `u32::MAX`.
pub mod function_table {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    use super::{CodeRange, FunctionInfo};

    const ENTRY_SIZE: usize = 12;
    const IMPORTED: u32 = u32::MAX;

    /// Writes the table as one byte string.
    pub fn serialize<S: Serializer>(functions: &[FunctionInfo], serializer: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::with_capacity(functions.len() * ENTRY_SIZE);
        for f in functions {
            let (offset, len) = f.code.map_or((IMPORTED, IMPORTED), |c| (c.offset, c.len));
            for word in [f.type_index, offset, len] {
                bytes.extend_from_slice(&word.to_le_bytes());
            }
        }
        serializer.serialize_bytes(&bytes)
    }

    /// Reads the byte string back; its length must be a whole number of
    /// entries.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<FunctionInfo>, D::Error> {
        let bytes: &[u8] = Deserialize::deserialize(deserializer)?;
        if !bytes.len().is_multiple_of(ENTRY_SIZE) {
            return Err(D::Error::custom(format!(
                "function table of {} bytes is no whole number of {ENTRY_SIZE}-byte entries",
                bytes.len()
            )));
        }
        let word = |e: &[u8], i: usize| u32::from_le_bytes([e[4 * i], e[4 * i + 1], e[4 * i + 2], e[4 * i + 3]]);
        Ok(bytes
            .chunks_exact(ENTRY_SIZE)
            .map(|e| {
                let (offset, len) = (word(e, 1), word(e, 2));
                let code = (offset, len) != (IMPORTED, IMPORTED);
                FunctionInfo { type_index: word(e, 0), code: code.then_some(CodeRange { offset, len }) }
            })
            .collect())
    }
}

/// Everything the loader needs to instantiate the module.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleInfo {
    /// Module name from the name section.
    pub name: Option<String>,
    /// The type section.
    pub types: Vec<CompositeType>,
    /// The recursion group and declared supertype of each type.
    pub type_shapes: Vec<TypeShape>,
    /// Imports, in order.
    pub imports: Vec<Import>,
    /// The function space: imports first, then defined functions. Encoded
    /// as one byte string of fixed-size entries ([`function_table`]), which
    /// decodes in a tenth of the time of a sequence of structs.
    #[serde(with = "function_table")]
    pub functions: Vec<FunctionInfo>,
    /// The table space: imports first.
    pub tables: Vec<TableType>,
    /// The initial value of every element of each defined table (after
    /// the imported ones): a constant expression, or `None` for null.
    pub table_inits: Vec<Option<ConstExpr>>,
    /// The memory space: imports first.
    pub memories: Vec<MemoryType>,
    /// Types of the whole global space: imports first.
    pub global_types: Vec<GlobalType>,
    /// Defined globals (after the imported ones).
    pub globals: Vec<GlobalDef>,
    /// Exports, in order.
    pub exports: Vec<Export>,
    /// Start function.
    pub start: Option<u32>,
    /// Element segments.
    pub elements: Vec<ElementSegment>,
    /// Data segments.
    pub data: Vec<DataSegment>,
    /// Initial contents of defined memories, mapped copy-on-write from
    /// `.kiln.image` at instantiation; at most one per memory.
    pub memory_images: Vec<MemoryImage>,
    /// Host-to-Wasm entry trampoline of each type, indexed by type index.
    pub entry_trampolines: Vec<CodeRange>,
    /// Wasm-to-host trampoline of each type, indexed by type index.
    pub host_trampolines: Vec<CodeRange>,
    /// Number of imported functions.
    pub num_imported_funcs: u32,
    /// Number of imported tables.
    pub num_imported_tables: u32,
    /// Number of imported memories.
    pub num_imported_memories: u32,
    /// Number of imported globals.
    pub num_imported_globals: u32,
    /// The tag space: the type index of each tag, imports first.
    pub tags: Vec<u32>,
    /// Number of imported tags.
    pub num_imported_tags: u32,
    /// The inlined frames of each defined function that had callees
    /// inlined (SPEC 2.2.3), sorted by function index: only those, so that
    /// a module compiled without inlining decodes nothing here.
    pub inlined: Vec<FunctionInlining>,
}

fn bincode_config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// The decoding configuration: the standard one with a limit on what a
/// length prefix may claim, so that a damaged length (behind a digest made
/// to match) is an error instead of an allocation of exabytes.
pub fn bounded_decoding() -> bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<{ 1 << 28 }>,
> {
    bincode::config::standard().with_limit::<{ 1 << 28 }>()
}

impl ModuleInfo {
    /// The inlined frames of function `func_index`, if callees were inlined
    /// into it.
    pub fn inlined_frames(&self, func_index: u32) -> Option<&InlinedFrames> {
        let i = self.inlined.binary_search_by_key(&func_index, |f| f.func_index).ok()?;
        Some(&self.inlined[i].frames)
    }

    /// Encodes with bincode (standard configuration).
    pub fn encode(&self) -> Vec<u8> {
        bincode::serde::encode_to_vec(self, bincode_config()).expect("module info is always encodable")
    }

    /// Decodes bytes written by [`ModuleInfo::encode`]; `base` is their offset in `.kiln.meta`.
    pub fn decode(bytes: &[u8], base: usize) -> Result<Self> {
        let (info, used): (ModuleInfo, usize) = bincode::serde::decode_from_slice(bytes, crate::bounded_decoding())
            .map_err(|e| FormatError::new(SECTION_META, base, format!("bad module info: {e}")))?;
        if used != bytes.len() {
            return Err(FormatError::new(SECTION_META, base + used, "trailing bytes after module info"));
        }
        Ok(info)
    }

    /// The type of function `func_index` of the function space, imports first.
    pub fn func_type(&self, func_index: u32) -> Option<&FuncType> {
        self.func_type_at(self.functions.get(func_index as usize)?.type_index)
    }

    /// The function type at `type_index` of the type section, if that is
    /// a function type.
    pub fn func_type_at(&self, type_index: u32) -> Option<&FuncType> {
        self.types.get(type_index as usize)?.as_func()
    }

    /// The [`VMOffsets`](crate::VMOffsets) of an instance of this module.
    pub fn vmoffsets(&self) -> crate::VMOffsets {
        crate::VMOffsets::new(crate::ModuleCounts {
            types: self.types.len() as u32,
            imported_funcs: self.num_imported_funcs,
            imported_tables: self.num_imported_tables,
            imported_memories: self.num_imported_memories,
            imported_globals: self.num_imported_globals,
            defined_tables: self.tables.len() as u32 - self.num_imported_tables,
            defined_memories: self.memories.len() as u32 - self.num_imported_memories,
            defined_globals: self.globals.len() as u32,
            funcs: self.functions.len() as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_types_display_as_the_text_format() {
        let table = TableType { element: RefType::FUNCREF, minimum: 1, maximum: Some(10), table64: false };
        assert_eq!(table.to_string(), "(table 1 10 funcref)");
        let table64 = TableType { element: RefType::EXTERNREF, minimum: 0, maximum: None, table64: true };
        assert_eq!(table64.to_string(), "(table i64 0 externref)");
        let memory = MemoryType { minimum: 1, maximum: None, shared: false, memory64: false };
        assert_eq!(memory.to_string(), "(memory 1)");
        let shared = MemoryType { minimum: 1, maximum: Some(2), shared: true, memory64: true };
        assert_eq!(shared.to_string(), "(memory i64 1 2 shared)");
        assert_eq!(GlobalType { content: ValType::I32, mutable: false }.to_string(), "(global i32)");
        assert_eq!(GlobalType { content: ValType::F64, mutable: true }.to_string(), "(global (mut f64))");
        assert_eq!(ExternKind::Memory.to_string(), "memory");
    }

    #[test]
    fn module_info_round_trip() {
        let info = ModuleInfo {
            name: Some("m".into()),
            types: vec![CompositeType::Func(FuncType {
                params: vec![ValType::I32],
                results: vec![ValType::EXTERNREF],
            })],
            functions: vec![FunctionInfo { type_index: 0, code: Some(CodeRange { offset: 16, len: 32 }) }],
            exports: vec![Export { name: "f".into(), kind: ExternKind::Func, index: 0 }],
            ..Default::default()
        };
        let bytes = info.encode();
        assert_eq!(ModuleInfo::decode(&bytes, 128).unwrap(), info);
        let err = ModuleInfo::decode(&bytes[..bytes.len() - 1], 128).unwrap_err();
        assert_eq!(err.section, SECTION_META);
    }
}
