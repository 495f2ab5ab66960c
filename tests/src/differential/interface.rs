//! What a module exports, read from its binary (not from either engine), so
//! that both engines are driven through the same list.

use wasmparser::{ExternalKind, Parser, Payload, Validator, WasmFeatures};

use super::value::ValType;

/// An exported function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportedFunc {
    /// Export name.
    pub name: String,
    /// Parameter types.
    pub params: Vec<ValType>,
    /// Result types.
    pub results: Vec<ValType>,
}

/// An exported global.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportedGlobal {
    /// Export name.
    pub name: String,
    /// Content type.
    pub ty: ValType,
    /// Whether it is mutable.
    pub mutable: bool,
}

/// A module's exports, in the order of its export section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interface {
    /// Functions.
    pub funcs: Vec<ExportedFunc>,
    /// Globals.
    pub globals: Vec<ExportedGlobal>,
    /// Memory export names.
    pub memories: Vec<String>,
    /// Table export names.
    pub tables: Vec<String>,
}

/// The features both engines implement and the generator uses:
/// WebAssembly 2.0, several memories, 64-bit memories and tables, tail
/// calls and extended constant expressions.
pub fn features() -> WasmFeatures {
    WasmFeatures::WASM2
        | WasmFeatures::MULTI_MEMORY
        | WasmFeatures::MEMORY64
        | WasmFeatures::TAIL_CALL
        | WasmFeatures::EXTENDED_CONST
}

/// The same features as kilnc options, for compiling exactly what
/// [`features`] validates.
pub fn compile_features() -> kiln_compiler::Features {
    use kiln_compiler::WasmFeature;
    let mut features = kiln_compiler::Features::wasm2();
    for feature in [WasmFeature::MultiMemory, WasmFeature::Memory64, WasmFeature::TailCall, WasmFeature::ExtendedConst]
    {
        features.set(feature, true);
    }
    features
}

/// Validates `wasm` against WebAssembly 2.0 and lists its exports.
pub fn interface(wasm: &[u8]) -> Result<Interface, String> {
    let types = Validator::new_with_features(features()).validate_all(wasm).map_err(|e| format!("invalid: {e}"))?;
    let types = types.as_ref();
    let mut interface = Interface::default();
    for payload in Parser::new(0).parse_all(wasm) {
        let Payload::ExportSection(reader) = payload.map_err(|e| e.to_string())? else { continue };
        for export in reader {
            let export = export.map_err(|e| e.to_string())?;
            let name = export.name.to_string();
            match export.kind {
                ExternalKind::Func => {
                    let ty = types[types.core_function_at(export.index)].unwrap_func();
                    interface.funcs.push(ExportedFunc {
                        name,
                        params: ty.params().iter().map(|&t| value_type(t)).collect::<Result<_, _>>()?,
                        results: ty.results().iter().map(|&t| value_type(t)).collect::<Result<_, _>>()?,
                    });
                }
                ExternalKind::Global => {
                    let ty = types.global_at(export.index);
                    interface.globals.push(ExportedGlobal {
                        name,
                        ty: value_type(ty.content_type)?,
                        mutable: ty.mutable,
                    });
                }
                ExternalKind::Memory => interface.memories.push(name),
                ExternalKind::Table => interface.tables.push(name),
                ExternalKind::Tag | ExternalKind::FuncExact => {
                    return Err(format!("export {name:?} is of a kind after WebAssembly 2.0"))
                }
            }
        }
    }
    Ok(interface)
}

fn value_type(ty: wasmparser::ValType) -> Result<ValType, String> {
    Ok(match ty {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        wasmparser::ValType::V128 => ValType::V128,
        wasmparser::ValType::Ref(r) if r == wasmparser::RefType::FUNCREF => ValType::FUNCREF,
        wasmparser::ValType::Ref(r) if r == wasmparser::RefType::EXTERNREF => ValType::EXTERNREF,
        wasmparser::ValType::Ref(r) => return Err(format!("reference type {r} is after WebAssembly 2.0")),
    })
}
