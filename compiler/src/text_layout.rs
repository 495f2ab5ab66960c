//! Laying out `.text` and resolving every reference within it, as a linker
//! would, so that the artifact's code needs no relocation (SPEC.md 1.2):
//! the loader maps it from the file and patches nothing.

use cranelift_codegen::binemit::Reloc;
use cranelift_module::ModuleRelocTarget;

use crate::compile::CompiledCode;
use crate::{CompileError, Result};

/// The `.text` offset of each piece of code, in order: each at the next
/// multiple of its alignment (at least `preferred_alignment`), which is how
/// the object writer appends them.
pub(crate) fn layout(code: &[CompiledCode], preferred_alignment: u64) -> Result<Vec<u64>> {
    let mut offsets = Vec::with_capacity(code.len());
    let mut end = 0u64;
    for c in code {
        let align = alignment(c, preferred_alignment);
        let offset = end.next_multiple_of(align);
        offsets.push(offset);
        end = offset + c.bytes.len() as u64;
    }
    if u32::try_from(end).is_err() {
        return Err(CompileError::output(format!(".text of {end} bytes exceeds 4 GiB")));
    }
    Ok(offsets)
}

/// The alignment `c` is placed at.
pub(crate) fn alignment(c: &CompiledCode, preferred_alignment: u64) -> u64 {
    u64::from(c.alignment).max(preferred_alignment)
}

/// Writes every PC-relative reference of `code` (placed at `offsets`) into
/// its bytes and drops the relocation: `S + A - P`, with S the target's
/// offset and P the field's, both in `.text`.
pub(crate) fn resolve_references(code: &mut [CompiledCode], offsets: &[u64]) -> Result<()> {
    for (i, c) in code.iter_mut().enumerate() {
        let place_base = offsets[i];
        for reloc in std::mem::take(&mut c.relocs) {
            if !matches!(reloc.kind, Reloc::X86CallPCRel4 | Reloc::X86CallPLTRel4 | Reloc::X86PCRel4) {
                return Err(CompileError::output(format!(
                    "relocation kind {} cannot be resolved in .text",
                    reloc.kind
                )));
            }
            let target = match reloc.name {
                ModuleRelocTarget::User { namespace: 0, index } => offsets.get(index as usize).copied(),
                _ => None,
            }
            .ok_or_else(|| CompileError::output(format!("reference to a symbol outside .text: {:?}", reloc.name)))?;
            let at = reloc.offset as usize;
            let place = place_base + u64::from(reloc.offset);
            let value = (target as i64).checked_add(reloc.addend).and_then(|v| v.checked_sub(place as i64));
            let value = value.and_then(|v| i32::try_from(v).ok()).ok_or_else(|| {
                CompileError::output(format!("reference at .text+{place:#x} to .text+{target:#x} overflows 32 bits"))
            })?;
            let field = c
                .bytes
                .get_mut(at..at + 4)
                .ok_or_else(|| CompileError::output(format!("relocation at {at:#x} lies outside its function")))?;
            field.copy_from_slice(&value.to_le_bytes());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranelift_module::ModuleReloc;

    fn code(bytes: Vec<u8>, alignment: u32, relocs: Vec<ModuleReloc>) -> CompiledCode {
        CompiledCode {
            bytes,
            alignment,
            relocs,
            traps: vec![],
            stack_maps: vec![],
            handlers: vec![],
            inlined: Default::default(),
            wasm_offsets: vec![],
        }
    }

    #[test]
    fn calls_are_resolved_against_the_layout() {
        // f0: call f1 (e8 rel32) at offset 0; f1 at the next 16-byte boundary.
        let call = ModuleReloc {
            offset: 1,
            kind: Reloc::X86CallPLTRel4,
            name: ModuleRelocTarget::User { namespace: 0, index: 1 },
            addend: -4,
        };
        let mut pieces = vec![code(vec![0xe8, 0, 0, 0, 0, 0xc3], 1, vec![call]), code(vec![0xc3], 1, vec![])];
        let offsets = layout(&pieces, 16).unwrap();
        assert_eq!(offsets, vec![0, 16]);
        resolve_references(&mut pieces, &offsets).unwrap();
        assert!(pieces[0].relocs.is_empty());
        // The call's next instruction is at 5; 5 + rel32 = 16.
        assert_eq!(i32::from_le_bytes(pieces[0].bytes[1..5].try_into().unwrap()), 11);
    }

    #[test]
    fn absolute_references_are_refused() {
        let abs = ModuleReloc {
            offset: 0,
            kind: Reloc::Abs8,
            name: ModuleRelocTarget::User { namespace: 0, index: 0 },
            addend: 0,
        };
        let mut pieces = vec![code(vec![0; 8], 1, vec![abs])];
        let err = resolve_references(&mut pieces, &[0]).unwrap_err();
        assert!(err.to_string().contains("cannot be resolved in .text"), "{err}");
    }
}
