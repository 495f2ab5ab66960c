//! A quick pass over each function body before translation.
//!
//! WebAssembly 2.0 requires the memory index of `memory.size` and
//! `memory.grow` to be the single byte 0x00, which wasmparser (built for
//! multi-memory) also accepts as a longer LEB128.

use wasmparser::{FunctionBody, Operator};

use crate::{CompileError, Result};

/// Refuses a body with an overlong memory index. A body that does not
/// parse is left for the validator to report with its own message.
pub(crate) fn check_body(body: &FunctionBody<'_>) -> Result<()> {
    let Ok(mut ops) = body.get_operators_reader() else { return Ok(()) };
    while !ops.eof() {
        let offset = ops.original_position();
        match ops.read() {
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
    fn simd_bodies_pass() {
        check("(module (func (local v128)))").unwrap();
        check("(module (memory 1) (func (drop (v128.load (i32.const 0)))))").unwrap();
        check("(module (func (block (result v128) unreachable) drop))").unwrap();
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
