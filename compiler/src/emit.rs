//! Lays compiled code out in an ELF object and adds the kiln sections
//! (SPEC sections 1 and 2).

use cranelift_module::{default_libcall_names, FuncId, Linkage, Module};
use cranelift_object::object::write::{SectionId, StandardSection, Symbol, SymbolSection};
use cranelift_object::object::{SectionKind, SymbolFlags, SymbolKind, SymbolScope};
use cranelift_object::{ObjectBuilder, ObjectModule, ObjectProduct};
use kiln_format::{
    builtin_trampoline_symbol, encode_function_names, encode_source_lines, encode_wasm_offsets,
    entry_trampoline_symbol, function_symbol, host_trampoline_symbol, ArtifactHeader, BuiltinIndex, CodeRange, Handler,
    HandlerRecord, Instrumentation, ModuleInfo, StackMapRecord, TrapRecord, WasmOffsetEntry, IMAGE_PAGE_SIZE,
    NO_WASM_OFFSET, ROOT_SYMBOL, SECTION_DATA, SECTION_HANDLERS, SECTION_IMAGE, SECTION_LINES, SECTION_META,
    SECTION_NAMES, SECTION_STACKMAPS, SECTION_TRAPS, SECTION_WASM_OFFSETS, TEXT_PADDING, TEXT_PAGE_SIZE,
};

use crate::abi;
use crate::compile::{CompiledCode, SymbolLayout};
use crate::memory_image::DataSections;
use crate::options::Target;
use crate::text_layout;
use crate::{CompileError, Result};

fn module_error(e: impl std::fmt::Display) -> CompileError {
    CompileError::output(format!("object writer: {e}"))
}

fn declare(
    module: &mut ObjectModule,
    name: &str,
    sig: &cranelift_codegen::ir::Signature,
    expected: FuncId,
) -> Result<()> {
    let id = module.declare_function(name, Linkage::Local, sig).map_err(module_error)?;
    if id != expected {
        return Err(CompileError::output(format!("symbol {name} declared out of order")));
    }
    Ok(())
}

/// Kiln sections are read-only `SHF_ALLOC` data: the loader reads them from
/// the file bytes either way, and a shared object linked from the artifact
/// maps them, so its root symbol can point into `.kiln.meta`.
fn add_kiln_section(product: &mut ObjectProduct, name: &str, bytes: Vec<u8>, align: u64) -> SectionId {
    let object = &mut product.object;
    let section = object.add_section(Vec::new(), name.as_bytes().to_vec(), SectionKind::ReadOnlyData);
    object.set_section_data(section, bytes, align);
    section
}

/// `.text` padded with `int3` to a whole number of pages and aligned to a
/// page, so that its file offset is one too (the object writer aligns each
/// section's file offset to its alignment): the loader maps exactly the
/// file's code pages executable, with no other section's bytes on them.
fn pad_text_to_pages(product: &mut ObjectProduct) {
    let text = product.object.section_id(StandardSection::Text);
    let len = product.object.section(text).data().len() as u64;
    let padding = len.next_multiple_of(TEXT_PAGE_SIZE) - len;
    product.object.append_section_data(text, &vec![TEXT_PADDING; padding as usize], 1);
    product.object.append_section_data(text, &[], TEXT_PAGE_SIZE);
}

/// Writes the artifact, not yet sealed ([`crate::seal`]): fully linked
/// code and the kiln sections.
pub(crate) fn emit_object(
    target: &Target,
    instrumentation: Instrumentation,
    mut info: ModuleInfo,
    sections: DataSections,
    code: Vec<CompiledCode>,
) -> Result<Vec<u8>> {
    let layout = SymbolLayout::new(&info);
    let call_conv = target.isa.default_call_conv();
    let builder = ObjectBuilder::new(target.isa.clone(), "kiln", default_libcall_names()).map_err(module_error)?;
    let mut module = ObjectModule::new(builder);

    // Declaration order fixes the FuncIds that relocations already name.
    for defined in 0..layout.num_defined_funcs {
        let func_index = layout.num_imported_funcs + defined;
        let ty = info
            .func_type(func_index)
            .ok_or_else(|| CompileError::output(format!("function {func_index} has no type")))?;
        declare(&mut module, &function_symbol(func_index), &abi::wasm_signature(ty), FuncId::from_u32(defined))?;
    }
    for t in 0..layout.num_types {
        declare(
            &mut module,
            &entry_trampoline_symbol(t),
            &abi::entry_trampoline_signature(call_conv),
            layout.entry_trampoline(t),
        )?;
    }
    for (t, ty) in (0u32..).zip(&info.types) {
        let ty = crate::compile::trampoline_type(ty);
        declare(&mut module, &host_trampoline_symbol(t), &abi::wasm_signature(ty), layout.host_trampoline(t))?;
    }
    for &b in BuiltinIndex::ALL {
        let id = layout
            .builtin_trampoline(b as u32)
            .ok_or_else(|| CompileError::output(format!("builtin {b} has no trampoline slot")))?;
        declare(&mut module, &builtin_trampoline_symbol(b as u32), &abi::builtin_signature(b, call_conv), id)?;
    }
    let expected = layout.num_defined_funcs as usize + 2 * info.types.len() + BuiltinIndex::ALL.len();
    if code.len() != expected {
        return Err(CompileError::output(format!("{} compiled functions for {expected} symbols", code.len())));
    }
    // Cranelift's preferred alignment (32 on x86-64) keeps hot loops from
    // straddling fetch blocks, as wasmtime does.
    let preferred = u64::from(target.isa.function_alignment().preferred);
    let mut code = code;
    let offsets = text_layout::layout(&code, preferred)?;
    text_layout::resolve_references(&mut code, &offsets)?;
    for (id, c) in (0u32..).zip(&code) {
        module
            .define_function_bytes(FuncId::from_u32(id), text_layout::alignment(c, preferred), &c.bytes, &[])
            .map_err(module_error)?;
    }

    let mut product = module.finish();
    let mut ranges = Vec::with_capacity(code.len());
    for ((id, c), &expected) in (0u32..).zip(&code).zip(&offsets) {
        let symbol = product.object.symbol(product.function_symbol(FuncId::from_u32(id)));
        // The references were resolved against `offsets`: the object
        // writer must have placed the code exactly there.
        if symbol.value != expected {
            return Err(CompileError::output(format!(
                "symbol {id} placed at .text+{:#x}, laid out at .text+{expected:#x}",
                symbol.value
            )));
        }
        let offset = u32::try_from(symbol.value).map_err(|_| CompileError::output(".text exceeds 4 GiB"))?;
        let len = u32::try_from(c.bytes.len()).map_err(|_| CompileError::output("function exceeds 4 GiB"))?;
        ranges.push(CodeRange { offset, len });
    }
    pad_text_to_pages(&mut product);

    let mut traps = Vec::new();
    let mut stack_maps = Vec::new();
    let mut handlers = Vec::new();
    let mut wasm_offsets = Vec::new();
    for (range, c) in ranges.iter().zip(&code) {
        // Functions are laid out in order, so the entries stay sorted; the
        // code after each (padding, the next function's prologue) has none
        // until its own entries say so.
        if !c.wasm_offsets.is_empty() {
            wasm_offsets.extend(
                c.wasm_offsets
                    .iter()
                    .map(|e| WasmOffsetEntry { text_offset: range.offset + e.text_offset, wasm_offset: e.wasm_offset }),
            );
            wasm_offsets.push(WasmOffsetEntry { text_offset: range.offset + range.len, wasm_offset: NO_WASM_OFFSET });
        }
        handlers.extend(c.handlers.iter().map(|h| {
            HandlerRecord {
                return_offset: range.offset + h.return_offset,
                handlers: h
                    .handlers
                    .iter()
                    .map(|handler| Handler { landing_offset: range.offset + handler.landing_offset, ..*handler })
                    .collect(),
                ..h.clone()
            }
        }));
        traps.extend(c.traps.iter().map(|t| TrapRecord { text_offset: range.offset + t.text_offset, code: t.code }));
        stack_maps.extend(
            c.stack_maps.iter().map(|m| StackMapRecord { return_offset: range.offset + m.return_offset, ..m.clone() }),
        );
    }
    traps.sort_by_key(|t| (t.text_offset, t.code.as_u8()));
    stack_maps.sort_by_key(|m| m.return_offset);
    handlers.sort_by_key(|h| h.return_offset);

    let defined = layout.num_defined_funcs as usize;
    let ntypes = info.types.len();
    for (f, range) in info.functions[layout.num_imported_funcs as usize..].iter_mut().zip(&ranges[..defined]) {
        f.code = Some(*range);
    }
    info.entry_trampolines = ranges[defined..defined + ntypes].to_vec();
    info.host_trampolines = ranges[defined + ntypes..defined + 2 * ntypes].to_vec();

    let info_bytes = info.encode();
    let trap_bytes = TrapRecord::encode_all(&traps);
    let stack_map_bytes = StackMapRecord::encode_all(&stack_maps);
    let handler_bytes = HandlerRecord::encode_all(&handlers);
    let mut header =
        ArtifactHeader::new(target.triple, target.cpu_features, target.flags_hash, info_bytes.len() as u64);
    header.instrumentation = instrumentation;
    header.relaxed_simd = crate::translate::RELAXED_SIMD;
    let mut meta = header.to_bytes().to_vec();
    meta.extend_from_slice(&info_bytes);

    let meta_len = meta.len() as u64;
    let meta_section = add_kiln_section(&mut product, SECTION_META, meta, 8);
    // Global with default visibility so that a shared object linked from
    // this object exports it; the loader of a plain object ignores it.
    product.object.add_symbol(Symbol {
        name: ROOT_SYMBOL.as_bytes().to_vec(),
        value: 0,
        size: meta_len,
        kind: SymbolKind::Data,
        scope: SymbolScope::Dynamic,
        weak: false,
        section: SymbolSection::Section(meta_section),
        flags: SymbolFlags::None,
    });
    add_kiln_section(&mut product, SECTION_TRAPS, trap_bytes, 4);
    add_kiln_section(&mut product, SECTION_STACKMAPS, stack_map_bytes, 8);
    // Absent when no call has handlers, which the loader reads as empty.
    if !handler_bytes.is_empty() && !handlers.is_empty() {
        add_kiln_section(&mut product, SECTION_HANDLERS, handler_bytes, 8);
    }
    add_kiln_section(&mut product, SECTION_DATA, sections.data, 16);
    let names = encode_function_names(&sections.function_names);
    if !names.is_empty() {
        add_kiln_section(&mut product, SECTION_NAMES, names, 4);
    }
    let wasm_offset_bytes = encode_wasm_offsets(&wasm_offsets);
    if !wasm_offset_bytes.is_empty() {
        add_kiln_section(&mut product, SECTION_WASM_OFFSETS, wasm_offset_bytes, 4);
    }
    let lines = encode_source_lines(&sections.source_lines.files, &sections.source_lines.rows);
    if !lines.is_empty() {
        add_kiln_section(&mut product, SECTION_LINES, lines, 4);
    }
    // Aligned to the page in the file too (the object writer aligns each
    // section's file offset to its alignment), so the loader can map the
    // images from the file; an empty section would only waste the padding.
    if !sections.image.is_empty() {
        add_kiln_section(&mut product, SECTION_IMAGE, sections.image, IMAGE_PAGE_SIZE);
    }
    product.emit().map_err(module_error)
}
