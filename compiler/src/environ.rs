//! Walks a Wasm module once: validates every section, builds the
//! [`ModuleInfo`] the loader needs, concatenates data segments and collects
//! the function bodies for parallel translation.

use kiln_format::{
    ArrayType, CompositeType, ConstExpr, ConstOp, DataMode, DataSegment, ElementMode, ElementSegment, Export,
    ExternKind, FieldType, FuncType, FunctionInfo, GlobalDef, GlobalType, Import, ImportKind, MemoryType, ModuleInfo,
    RefType, StorageType, StructType, TableType, TypeShape, ValType,
};
use wasmparser::{
    CompositeInnerType, DataKind, ElementItems, ElementKind, ExternalKind, FuncToValidate, FunctionBody, KnownCustom,
    Name, Operator, Parser, Payload, TableInit, TypeRef, ValidPayload, Validator, ValidatorResources,
};

use crate::memory_image::DataSections;
use crate::translate::TypeKind;
use crate::{CompileError, Features, Result};

/// One defined function, ready for translation.
pub(crate) struct FunctionBodyData<'data> {
    /// Index in the function space (imports first).
    pub func_index: u32,
    /// The body.
    pub body: FunctionBody<'data>,
    /// What validates the body alongside its translation.
    pub validator: FuncToValidate<ValidatorResources>,
}

/// The result of walking a module.
pub(crate) struct ModuleTranslation<'data> {
    /// Everything but code ranges (filled in once code is laid out).
    pub info: ModuleInfo,
    /// Contents of `.kiln.data` and `.kiln.image`.
    pub data: DataSections,
    /// Defined function bodies, in function-index order.
    pub bodies: Vec<FunctionBodyData<'data>>,
}

fn offset_of(pos: u64) -> usize {
    usize::try_from(pos).unwrap_or(usize::MAX)
}

fn val_type(ty: wasmparser::ValType, kinds: &[TypeKind], offset: u64) -> Result<ValType> {
    crate::translate::val_type(ty, kinds, offset_of(offset))
}

fn ref_type(ty: wasmparser::RefType, kinds: &[TypeKind], offset: u64) -> Result<RefType> {
    crate::translate::ref_type(ty, kinds, offset_of(offset))
}

fn heap_type(ty: wasmparser::HeapType, kinds: &[TypeKind], offset: u64) -> Result<kiln_format::HeapType> {
    crate::translate::heap_type(ty, kinds, offset_of(offset))
}

fn field_type(ty: wasmparser::FieldType, kinds: &[TypeKind], offset: u64) -> Result<FieldType> {
    let storage = match ty.element_type {
        wasmparser::StorageType::I8 => StorageType::I8,
        wasmparser::StorageType::I16 => StorageType::I16,
        wasmparser::StorageType::Val(t) => StorageType::Val(val_type(t, kinds, offset)?),
    };
    Ok(FieldType { storage, mutable: ty.mutable })
}

fn composite_type(ty: &CompositeInnerType, kinds: &[TypeKind], offset: u64) -> Result<CompositeType> {
    Ok(match ty {
        CompositeInnerType::Func(ft) => {
            let params = ft.params().iter().map(|&t| val_type(t, kinds, offset)).collect::<Result<_>>()?;
            let results = ft.results().iter().map(|&t| val_type(t, kinds, offset)).collect::<Result<_>>()?;
            CompositeType::Func(FuncType { params, results })
        }
        CompositeInnerType::Struct(st) => CompositeType::Struct(StructType {
            fields: st.fields.iter().map(|&f| field_type(f, kinds, offset)).collect::<Result<_>>()?,
        }),
        CompositeInnerType::Array(at) => CompositeType::Array(ArrayType { element: field_type(at.0, kinds, offset)? }),
        CompositeInnerType::Cont(_) => {
            return Err(CompileError::unsupported("continuation types are not supported", offset_of(offset)))
        }
    })
}

fn table_type(ty: wasmparser::TableType, kinds: &[TypeKind], offset: u64) -> Result<TableType> {
    if ty.shared {
        return Err(CompileError::unsupported("shared tables are not supported", offset_of(offset)));
    }
    Ok(TableType {
        element: ref_type(ty.element_type, kinds, offset)?,
        minimum: ty.initial,
        maximum: ty.maximum,
        table64: ty.table64,
    })
}

fn memory_type(ty: wasmparser::MemoryType, offset: u64) -> Result<MemoryType> {
    if ty.page_size_log2.is_some() {
        return Err(CompileError::unsupported("only memories with 64 KiB pages are supported", offset_of(offset)));
    }
    if ty.shared && ty.memory64 {
        return Err(CompileError::unsupported("shared 64-bit memories are not supported", offset_of(offset)));
    }
    Ok(MemoryType { minimum: ty.initial, maximum: ty.maximum, shared: ty.shared, memory64: ty.memory64 })
}

fn global_type(ty: wasmparser::GlobalType, kinds: &[TypeKind], offset: u64) -> Result<GlobalType> {
    Ok(GlobalType { content: val_type(ty.content_type, kinds, offset)?, mutable: ty.mutable })
}

/// A constant expression: one instruction as it is, a longer one of
/// integer instructions folded to one value when every global it reads is
/// a defined one with a known value, anything else kept as instructions
/// for the loader (the GC allocations among them).
fn const_expr(expr: &wasmparser::ConstExpr<'_>, info: &ModuleInfo, kinds: &[TypeKind]) -> Result<ConstExpr> {
    let mut reader = expr.get_operators_reader();
    let mut ops = Vec::new();
    loop {
        let offset = reader.original_position();
        let op = match reader.read()? {
            Operator::End => break,
            Operator::F32Const { value } => ConstOp::F32Const(value.bits()),
            Operator::F64Const { value } => ConstOp::F64Const(value.bits()),
            Operator::V128Const { value } => ConstOp::V128Const(u128::from_le_bytes(*value.bytes())),
            Operator::RefNull { hty } => ConstOp::RefNull(heap_type(hty, kinds, offset)?),
            Operator::RefFunc { function_index } => ConstOp::RefFunc(function_index),
            Operator::I32Const { value } => ConstOp::I32Const(value),
            Operator::I64Const { value } => ConstOp::I64Const(value),
            Operator::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
            Operator::I32Add => ConstOp::I32Add,
            Operator::I32Sub => ConstOp::I32Sub,
            Operator::I32Mul => ConstOp::I32Mul,
            Operator::I64Add => ConstOp::I64Add,
            Operator::I64Sub => ConstOp::I64Sub,
            Operator::I64Mul => ConstOp::I64Mul,
            Operator::RefI31 => ConstOp::RefI31,
            Operator::StructNew { struct_type_index } => ConstOp::StructNew(struct_type_index),
            Operator::StructNewDefault { struct_type_index } => ConstOp::StructNewDefault(struct_type_index),
            Operator::ArrayNew { array_type_index } => ConstOp::ArrayNew(array_type_index),
            Operator::ArrayNewDefault { array_type_index } => ConstOp::ArrayNewDefault(array_type_index),
            Operator::ArrayNewFixed { array_type_index, array_size } => {
                ConstOp::ArrayNewFixed { type_index: array_type_index, len: array_size }
            }
            Operator::AnyConvertExtern => ConstOp::AnyConvertExtern,
            Operator::ExternConvertAny => ConstOp::ExternConvertAny,
            _ => {
                return Err(CompileError::unsupported(
                    "this instruction is not supported in constant expressions",
                    offset_of(offset),
                ))
            }
        };
        ops.push(op);
    }
    Ok(match ops.as_slice() {
        [ConstOp::F32Const(bits)] => ConstExpr::F32(*bits),
        [ConstOp::F64Const(bits)] => ConstExpr::F64(*bits),
        [ConstOp::V128Const(bits)] => ConstExpr::V128(*bits),
        [ConstOp::RefNull(heap)] => ConstExpr::RefNull(*heap),
        [ConstOp::RefFunc(index)] => ConstExpr::RefFunc(*index),
        _ if ops.iter().all(is_integer_op) => fold_const_ops(ops, info),
        _ => ConstExpr::Ops(ops),
    })
}

/// Whether `op` is one of the integer instructions that kilnc folds.
fn is_integer_op(op: &ConstOp) -> bool {
    matches!(
        op,
        ConstOp::I32Const(_)
            | ConstOp::I64Const(_)
            | ConstOp::GlobalGet(_)
            | ConstOp::I32Add
            | ConstOp::I32Sub
            | ConstOp::I32Mul
            | ConstOp::I64Add
            | ConstOp::I64Sub
            | ConstOp::I64Mul
    )
}

/// Folds integer instructions to one value when every global they read
/// is defined in the module with a constant initialiser.
fn fold_const_ops(ops: Vec<ConstOp>, info: &ModuleInfo) -> ConstExpr {
    let known_global = |index: u32| -> Option<(u64, bool)> {
        let defined = index.checked_sub(info.num_imported_globals)?;
        match info.globals.get(defined as usize)?.init {
            ConstExpr::I32(v) => Some((u64::from(v as u32), false)),
            ConstExpr::I64(v) => Some((v as u64, true)),
            _ => None,
        }
    };
    let mut stack: Vec<Option<(u64, bool)>> = Vec::with_capacity(ops.len());
    for i in 0..ops.len() {
        let value = match ops[i] {
            ConstOp::I32Const(v) => Some((u64::from(v as u32), false)),
            ConstOp::I64Const(v) => Some((v as u64, true)),
            ConstOp::GlobalGet(index) => known_global(index),
            binary => {
                let (Some(b), Some(a)) = (stack.pop(), stack.pop()) else { return ConstExpr::Ops(ops) };
                let wide = matches!(binary, ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul);
                a.zip(b).and_then(|(a, b)| binary.apply(a.0, b.0)).map(|v| (v, wide))
            }
        };
        stack.push(value);
    }
    match stack.as_slice() {
        [Some((value, false))] => ConstExpr::I32(*value as u32 as i32),
        [Some((value, true))] => ConstExpr::I64(*value as i64),
        [None] if ops.len() == 1 => match ops[0] {
            ConstOp::GlobalGet(index) => ConstExpr::GlobalGet(index),
            _ => ConstExpr::Ops(ops),
        },
        _ => ConstExpr::Ops(ops),
    }
}

/// Reads an unsigned LEB128 of at most `max_bytes` bytes; `None` when the
/// bytes end first.
fn read_leb(bytes: &[u8], pos: &mut usize, max_bytes: usize) -> Option<std::result::Result<u64, usize>> {
    let start = *pos;
    let mut value = 0u64;
    for i in 0..max_bytes {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some(Ok(value));
        }
    }
    Some(Err(start))
}

/// The limits of a 32-bit memory are u32 LEB128s (at most 5 bytes), those
/// of a 64-bit memory (flag bit 2) u64 LEB128s (at most 10 bytes);
/// wasmparser reads both as u64s and accepts longer encodings of the
/// former. Anything this check does not understand is left to the
/// validator.
fn check_memory_limits_encoding(section: &[u8], base: u64) -> Result<()> {
    let malformed =
        |at: usize| CompileError::invalid("integer representation too long", offset_of(base).saturating_add(at));
    let mut pos = 0;
    let Some(Ok(count)) = read_leb(section, &mut pos, 5) else { return Ok(()) };
    for _ in 0..count {
        let Some(&flags) = section.get(pos) else { return Ok(()) };
        pos += 1;
        // Bit 0: a maximum follows; bit 1: shared; bit 2: 64-bit.
        if flags > 0b111 {
            return Ok(());
        }
        let max_bytes = if flags & 0b100 != 0 { 10 } else { 5 };
        for _ in 0..=(flags & 1) {
            match read_leb(section, &mut pos, max_bytes) {
                Some(Ok(_)) => {}
                Some(Err(at)) => return Err(malformed(at)),
                None => return Ok(()),
            }
        }
    }
    Ok(())
}

/// Walks and validates `wasm`, a binary module.
pub(crate) fn translate_module<'a>(wasm: &'a [u8], features: &Features) -> Result<ModuleTranslation<'a>> {
    let mut validator = Validator::new_with_features(features.validator_features());
    let mut info = ModuleInfo::default();
    let mut kinds: Vec<TypeKind> = Vec::new();
    let mut data = Vec::new();
    let mut bodies = Vec::new();
    let mut function_names: Vec<(u32, String)> = Vec::new();
    let mut debug = crate::debug_lines::DebugSections::default();

    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload?;
        let valid = validator.payload(&payload)?;
        match payload {
            Payload::TypeSection(reader) => {
                for group in reader.into_iter_with_offsets() {
                    let (offset, group) = group?;
                    let rec_group_start = info.types.len() as u32;
                    let subtypes: Vec<_> = group.into_types().collect();
                    let rec_group_len = subtypes.len() as u32;
                    // The types of a group may name each other: know all their kinds first.
                    kinds.extend(subtypes.iter().map(|sub| TypeKind::of_inner(&sub.composite_type.inner)));
                    for sub in subtypes {
                        if sub.composite_type.shared || sub.composite_type.descriptor_idx.is_some() {
                            return Err(CompileError::unsupported(
                                "shared and descriptor types are not supported",
                                offset_of(offset),
                            ));
                        }
                        info.types.push(composite_type(&sub.composite_type.inner, &kinds, offset)?);
                        let supertype = sub.supertype_idxs.first().and_then(|index| index.as_module_index());
                        info.type_shapes.push(TypeShape {
                            rec_group_start,
                            rec_group_len,
                            supertype,
                            is_final: sub.is_final,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports_with_offsets() {
                    let (offset, import) = import?;
                    let kind = match import.ty {
                        TypeRef::Func(type_index) | TypeRef::FuncExact(type_index) => {
                            info.functions.push(FunctionInfo { type_index, code: None });
                            info.num_imported_funcs += 1;
                            ImportKind::Func(type_index)
                        }
                        TypeRef::Table(t) => {
                            let t = table_type(t, &kinds, offset)?;
                            info.tables.push(t);
                            info.num_imported_tables += 1;
                            ImportKind::Table(t)
                        }
                        TypeRef::Memory(m) => {
                            let m = memory_type(m, offset)?;
                            info.memories.push(m);
                            info.num_imported_memories += 1;
                            ImportKind::Memory(m)
                        }
                        TypeRef::Global(g) => {
                            let g = global_type(g, &kinds, offset)?;
                            info.global_types.push(g);
                            info.num_imported_globals += 1;
                            ImportKind::Global(g)
                        }
                        TypeRef::Tag(tag) => {
                            info.tags.push(tag.func_type_idx);
                            info.num_imported_tags += 1;
                            ImportKind::Tag(tag.func_type_idx)
                        }
                    };
                    info.imports.push(Import {
                        module: import.module.to_string(),
                        name: import.name.to_string(),
                        kind,
                    });
                }
            }
            Payload::FunctionSection(reader) => {
                for type_index in reader {
                    info.functions.push(FunctionInfo { type_index: type_index?, code: None });
                }
            }
            Payload::TableSection(reader) => {
                for table in reader.into_iter_with_offsets() {
                    let (offset, table) = table?;
                    let init = match &table.init {
                        TableInit::RefNull => None,
                        TableInit::Expr(expr) => Some(const_expr(expr, &info, &kinds)?),
                    };
                    info.tables.push(table_type(table.ty, &kinds, offset)?);
                    info.table_inits.push(init);
                }
            }
            Payload::MemorySection(reader) => {
                let range = reader.range();
                if let Some(bytes) = wasm.get(offset_of(range.start)..offset_of(range.end)) {
                    check_memory_limits_encoding(bytes, range.start)?;
                }
                for memory in reader.into_iter_with_offsets() {
                    let (offset, memory) = memory?;
                    info.memories.push(memory_type(memory, offset)?);
                }
            }
            Payload::GlobalSection(reader) => {
                for global in reader.into_iter_with_offsets() {
                    let (offset, global) = global?;
                    let ty = global_type(global.ty, &kinds, offset)?;
                    info.global_types.push(ty);
                    info.globals.push(GlobalDef { ty, init: const_expr(&global.init_expr, &info, &kinds)? });
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    let kind = match export.kind {
                        ExternalKind::Func | ExternalKind::FuncExact => ExternKind::Func,
                        ExternalKind::Table => ExternKind::Table,
                        ExternalKind::Memory => ExternKind::Memory,
                        ExternalKind::Global => ExternKind::Global,
                        ExternalKind::Tag => ExternKind::Tag,
                    };
                    info.exports.push(Export { name: export.name.to_string(), kind, index: export.index });
                }
            }
            Payload::TagSection(reader) => {
                for tag in reader {
                    info.tags.push(tag?.func_type_idx);
                }
            }
            Payload::StartSection { func, .. } => info.start = Some(func),
            Payload::ElementSection(reader) => {
                for element in reader.into_iter_with_offsets() {
                    let (offset, element) = element?;
                    let mode = match &element.kind {
                        ElementKind::Passive => ElementMode::Passive,
                        ElementKind::Declared => ElementMode::Declared,
                        ElementKind::Active { table_index, offset_expr } => ElementMode::Active {
                            table: table_index.unwrap_or(0),
                            offset: const_expr(offset_expr, &info, &kinds)?,
                        },
                    };
                    let (element_type, items) = match element.items {
                        ElementItems::Functions(funcs) => (
                            RefType::FUNCREF,
                            funcs.into_iter().map(|f| Ok(ConstExpr::RefFunc(f?))).collect::<Result<Vec<_>>>()?,
                        ),
                        ElementItems::Expressions(ty, exprs) => (
                            ref_type(ty, &kinds, offset)?,
                            exprs.into_iter().map(|e| const_expr(&e?, &info, &kinds)).collect::<Result<Vec<_>>>()?,
                        ),
                    };
                    info.elements.push(ElementSegment { mode, element: element_type, items });
                }
            }
            Payload::DataSection(reader) => {
                for segment in reader.into_iter_with_offsets() {
                    let (offset, segment) = segment?;
                    let mode = match &segment.kind {
                        DataKind::Passive => DataMode::Passive,
                        DataKind::Active { memory_index, offset_expr } => {
                            DataMode::Active { memory: *memory_index, offset: const_expr(offset_expr, &info, &kinds)? }
                        }
                    };
                    let too_big =
                        || CompileError::unsupported("data segments exceed 4 GiB in total", offset_of(offset));
                    let data_offset = u32::try_from(data.len()).map_err(|_| too_big())?;
                    let len = u32::try_from(segment.data.len()).map_err(|_| too_big())?;
                    data_offset.checked_add(len).ok_or_else(too_big)?;
                    data.extend_from_slice(segment.data);
                    info.data.push(DataSegment { mode, data_offset, len });
                }
            }
            Payload::CodeSectionStart { unchecked_range, .. } => {
                debug.code_section_start = u32::try_from(unchecked_range.start).ok()
            }
            Payload::CustomSection(reader) => {
                debug.add(reader.name(), reader.data());
                if let KnownCustom::Name(names) = reader.as_known() {
                    // The name section is advisory: a damaged one must not
                    // fail the compile, so its first error ends the reading.
                    for name in names {
                        match name {
                            Ok(Name::Module { name, .. }) => info.name = Some(name.to_string()),
                            Ok(Name::Function(map)) => {
                                for naming in map {
                                    match naming {
                                        Ok(n) => function_names.push((n.index, n.name.to_string())),
                                        Err(_) => break,
                                    }
                                }
                            }
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                }
            }
            _ => {}
        }
        match valid {
            ValidPayload::Func(validate, body) => {
                bodies.push(FunctionBodyData { func_index: validate.index, body, validator: validate });
            }
            ValidPayload::End(_) => break,
            ValidPayload::Ok | ValidPayload::Parser(_) => {}
        }
    }

    let mut data = crate::memory_image::lay_out(&mut info, data);
    function_names.retain(|(index, _)| (*index as usize) < info.functions.len());
    data.function_names = function_names;
    data.source_lines = debug.line_table();
    Ok(ModuleTranslation { info, data, bodies })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CompileErrorKind;

    fn translate(wat: &str) -> Result<ModuleInfo> {
        let wasm = wat::parse_str(wat).unwrap();
        translate_module(&wasm, &Features::default()).map(|t| t.info)
    }

    #[test]
    fn module_info_of_a_small_module() {
        let wasm = wat::parse_str(
            r#"(module $m
                (type (func (param i32) (result i32)))
                (import "env" "f" (func $imp (type 0)))
                (import "env" "g" (global i64))
                (table 2 funcref)
                (memory 1 3)
                (global (mut i32) (i32.const 7))
                (func $double (type 0) local.get 0 local.get 0 i32.add)
                (export "double" (func $double))
                (elem (i32.const 0) $imp $double)
                (elem funcref (ref.null func) (ref.func $double))
                (data (i32.const 8) "ab")
                (data "cde")
                (start $double2)
                (func $double2))"#,
        )
        .unwrap();
        let t = translate_module(&wasm, &Features::default()).unwrap();
        let info = &t.info;
        assert_eq!(info.name.as_deref(), Some("m"));
        assert_eq!(info.types.len(), 2);
        assert_eq!(info.num_imported_funcs, 1);
        assert_eq!(info.num_imported_globals, 1);
        assert_eq!(info.functions.len(), 3);
        assert!(t.data.function_names.contains(&(1, "double".to_string())));
        assert_eq!(
            info.tables,
            vec![TableType { element: RefType::FUNCREF, minimum: 2, maximum: None, table64: false }]
        );
        assert_eq!(info.memories[0].maximum, Some(3));
        assert_eq!(info.globals[0].init, ConstExpr::I32(7));
        assert_eq!(info.global_types.len(), 2);
        assert_eq!(info.exports[0].index, 1);
        assert_eq!(info.start, Some(2));
        assert_eq!(info.elements[0].items, vec![ConstExpr::RefFunc(0), ConstExpr::RefFunc(1)]);
        assert_eq!(info.elements[0].mode, ElementMode::Active { table: 0, offset: ConstExpr::I32(0) });
        assert_eq!(
            info.elements[1].items,
            vec![ConstExpr::RefNull(kiln_format::HeapType::Func), ConstExpr::RefFunc(1)]
        );
        assert_eq!(info.elements[1].mode, ElementMode::Passive);
        // The active segment went into memory 0's image (memory_image.rs).
        assert_eq!(info.data[0], DataSegment { mode: DataMode::InImage { memory: 0 }, data_offset: 0, len: 0 });
        assert_eq!(t.data.data, b"cde");
        assert_eq!(info.data[1], DataSegment { mode: DataMode::Passive, data_offset: 0, len: 3 });
        assert_eq!(&t.data.image[8..10], b"ab");
        assert_eq!(t.bodies.iter().map(|b| b.func_index).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn v128_types_and_constants_are_recorded() {
        let info = translate(
            r#"(module
                (import "a" "b" (global v128))
                (global v128 (v128.const i32x4 1 2 3 0x80000000))
                (func (param v128) (result v128) local.get 0))"#,
        )
        .unwrap();
        assert_eq!(info.func_type_at(0).unwrap().params, vec![ValType::V128]);
        assert_eq!(info.func_type_at(0).unwrap().results, vec![ValType::V128]);
        assert_eq!(info.global_types[0].content, ValType::V128);
        assert_eq!(info.globals[0].init, ConstExpr::V128(0x8000_0000_0000_0003_0000_0002_0000_0001));
    }

    #[test]
    fn extended_constants_fold_unless_they_read_an_import() {
        let info = translate(
            r#"(module
                (import "a" "b" (global i64))
                (global i32 (i32.mul (i32.const 0x10000) (i32.const 0x10001)))
                (global i32 (i32.sub (global.get 1) (i32.const 1)))
                (global i64 (i64.add (global.get 0) (i64.const 2))))"#,
        )
        .unwrap();
        assert_eq!(info.globals[0].init, ConstExpr::I32(0x10000), "wraps like i32.mul");
        assert_eq!(info.globals[1].init, ConstExpr::I32(0xffff), "a defined global's value is known");
        assert_eq!(
            info.globals[2].init,
            ConstExpr::Ops(vec![ConstOp::GlobalGet(0), ConstOp::I64Const(2), ConstOp::I64Add]),
            "an import's value is not"
        );
    }

    #[test]
    fn overlong_memory_limits_are_malformed() {
        let wasm: &[u8] = b"\0asm\x01\0\0\0\x05\x08\x01\x00\x82\x80\x80\x80\x80\x00";
        let err = translate_module(wasm, &Features::default()).err().expect("overlong minimum accepted");
        assert!(err.message().contains("too long"), "{err}");
        translate("(module (memory 1 65536))").unwrap();
    }

    #[test]
    fn invalid_module_has_an_offset() {
        let err = translate("(module (func (export \"f\")) (export \"f\" (func 0)))").unwrap_err();
        assert_eq!(err.kind(), CompileErrorKind::Invalid);
        assert!(err.to_string().contains("duplicate export"), "{err}");
        assert!(err.to_string().contains("at offset 0x"), "{err}");
    }
}
