//! A quick pass over each function body before translation.
//!
//! - SIMD: validation runs with SIMD enabled so that a SIMD module is
//!   reported as unsupported rather than as malformed; this pass finds the
//!   first v128 local or vector operator.
//! - Encoding: WebAssembly 2.0 requires the memory index of `memory.size`
//!   and `memory.grow` to be the single byte 0x00, which wasmparser (built
//!   for multi-memory) also accepts as a longer LEB128.

use wasmparser::{BlockType, FunctionBody, Operator};

use crate::environ::SIMD_UNSUPPORTED;
use crate::{CompileError, Result};

macro_rules! define_is_simd_operator {
    ($(@$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        /// Whether `op` is one of the SIMD proposal's operators.
        fn is_simd_operator(op: &Operator<'_>) -> bool {
            matches!(op, $(Operator::$op { .. })|*)
        }
    };
}
wasmparser::for_each_visit_simd_operator!(define_is_simd_operator);

fn is_v128_block(ty: &BlockType) -> bool {
    matches!(ty, BlockType::Type(wasmparser::ValType::V128))
}

/// Whether `op` names v128 without being a SIMD operator.
fn mentions_v128(op: &Operator<'_>) -> bool {
    match op {
        Operator::Block { blockty } | Operator::Loop { blockty } | Operator::If { blockty } => is_v128_block(blockty),
        Operator::TypedSelect { ty } => *ty == wasmparser::ValType::V128,
        Operator::TypedSelectMulti { tys } => tys.contains(&wasmparser::ValType::V128),
        _ => false,
    }
}

/// Refuses a body with a v128 local or a SIMD operator, or with an
/// overlong memory index. A body that does not parse is left for the
/// validator to report with its own message.
pub(crate) fn check_body(body: &FunctionBody<'_>) -> Result<()> {
    let unsupported =
        |offset: u64| CompileError::unsupported(SIMD_UNSUPPORTED, usize::try_from(offset).unwrap_or(usize::MAX));
    let Ok(mut locals) = body.get_locals_reader() else { return Ok(()) };
    for _ in 0..locals.get_count() {
        let offset = locals.original_position();
        match locals.read() {
            Ok((_, wasmparser::ValType::V128)) => return Err(unsupported(offset)),
            Ok(_) => {}
            Err(_) => return Ok(()),
        }
    }
    let Ok(mut ops) = body.get_operators_reader() else { return Ok(()) };
    while !ops.eof() {
        let offset = ops.original_position();
        match ops.read() {
            Ok(op) if is_simd_operator(&op) || mentions_v128(&op) => return Err(unsupported(offset)),
            Ok(Operator::MemorySize { .. } | Operator::MemoryGrow { .. }) if ops.original_position() != offset + 2 => {
                return Err(CompileError::invalid(
                    "zero byte expected: memory index must be the single byte 0x00",
                    usize::try_from(offset + 1).unwrap_or(usize::MAX),
                ))
            }
            Ok(_) => {}
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmparser::{Parser, Payload};

    fn check(wat: &str) -> Result<()> {
        let wasm = wat::parse_str(wat).unwrap();
        for payload in Parser::new(0).parse_all(&wasm) {
            if let Payload::CodeSectionEntry(body) = payload.unwrap() {
                check_body(&body)?;
            }
        }
        Ok(())
    }

    #[test]
    fn simd_operators_and_locals_are_found() {
        for wat in [
            "(module (func (local v128)))",
            "(module (memory 1) (func (drop (v128.load (i32.const 0)))))",
            "(module (func (result i32) (i32x4.extract_lane 0 (v128.const i32x4 1 2 3 4))))",
            "(module (func (block (result v128) unreachable) drop))",
        ] {
            let err = check(wat).unwrap_err();
            assert_eq!(err.message(), SIMD_UNSUPPORTED, "{wat}");
            assert!(err.offset().is_some());
        }
    }

    #[test]
    fn overlong_memory_index_is_malformed() {
        // memory.size with its index encoded as `80 00`.
        let wasm: &[u8] =
            b"\0asm\x01\0\0\0\x01\x05\x01\x60\0\x01\x7f\x03\x02\x01\0\x05\x03\x01\0\0\x0a\x07\x01\x05\0\x3f\x80\0\x0b";
        for payload in Parser::new(0).parse_all(wasm) {
            if let Payload::CodeSectionEntry(body) = payload.unwrap() {
                let err = check_body(&body).unwrap_err();
                assert!(err.message().contains("zero byte expected"), "{err}");
            }
        }
        check("(module (memory 1) (func (result i32) (memory.grow (memory.size))))").unwrap();
    }

    #[test]
    fn scalar_code_passes() {
        check("(module (func (param i32) (result i32) (local i64 f32) (i32.add (local.get 0) (i32.const 1))))")
            .unwrap();
    }
}
