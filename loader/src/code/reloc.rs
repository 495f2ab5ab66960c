//! Relocations of `.text`: which kinds are accepted, and patching them in.
//!
//! Every relocation is resolved and range-checked while the artifact is
//! validated, before any memory is mapped: PC-relative values between two
//! places of `.text` do not depend on where `.text` lands, and absolute
//! 64-bit values cannot overflow. Applying them is then infallible.

use object::elf;

use super::LoadError;
use kiln_format::SECTION_TEXT;

/// A resolved patch of `.text`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Relocation {
    /// Where in `.text` the patched field starts.
    pub offset: u32,
    /// What to write there.
    pub patch: Patch,
}

/// The value a relocation writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Patch {
    /// `S + A - P`, already computed: independent of the load address.
    Rel32(i32),
    /// `S + A` where S is `.text + target`; `target + A` is stored here and
    /// the load address is added when applying.
    Abs64(i64),
}

impl Relocation {
    /// Resolves one ELF relocation of `.text` whose target symbol sits at
    /// `target` bytes into `.text`.
    pub fn resolve(r_type: u32, offset: u64, target: u64, addend: i64, text_len: usize) -> Result<Self, LoadError> {
        let width = match r_type {
            elf::R_X86_64_PLT32 | elf::R_X86_64_PC32 => 4,
            elf::R_X86_64_64 => 8,
            other => {
                return Err(LoadError::at(
                    SECTION_TEXT,
                    offset,
                    format!("unsupported relocation {} at .text+{offset:#x}", relocation_name(other)),
                ))
            }
        };
        let end = offset.checked_add(width);
        if end.is_none_or(|end| end > text_len as u64) {
            return Err(LoadError::at(
                SECTION_TEXT,
                offset,
                format!(
                    "relocation {} at .text+{offset:#x} is outside .text ({text_len:#x} bytes)",
                    relocation_name(r_type)
                ),
            ));
        }
        // Both fit in i64: .text is far smaller than 2^63 bytes.
        let target = target as i64;
        let place = offset as i64;
        let patch = if width == 4 {
            let value = target.checked_add(addend).and_then(|v| v.checked_sub(place));
            match value.and_then(|v| i32::try_from(v).ok()) {
                Some(v) => Patch::Rel32(v),
                None => {
                    return Err(LoadError::at(
                        SECTION_TEXT,
                        offset,
                        format!(
                        "relocation {} at .text+{offset:#x} overflows 32 bits (target {target:#x}, addend {addend})",
                        relocation_name(r_type)
                    ),
                    ))
                }
            }
        } else {
            Patch::Abs64(target.wrapping_add(addend))
        };
        Ok(Relocation { offset: offset as u32, patch })
    }
}

/// Writes every relocation into `text`, which will run at address `base`.
/// The relocations come from [`Relocation::resolve`] against the same
/// `.text` length, so every field is in bounds.
pub(crate) fn apply_relocations(text: &mut [u8], base: usize, relocations: &[Relocation]) {
    for r in relocations {
        let at = r.offset as usize;
        match r.patch {
            Patch::Rel32(v) => {
                if let Some(field) = text.get_mut(at..at + 4) {
                    field.copy_from_slice(&v.to_le_bytes());
                }
            }
            Patch::Abs64(target_plus_addend) => {
                let value = (base as u64).wrapping_add(target_plus_addend as u64);
                if let Some(field) = text.get_mut(at..at + 8) {
                    field.copy_from_slice(&value.to_le_bytes());
                }
            }
        }
    }
}

/// The ELF name of an x86-64 relocation type, for error messages.
pub(crate) fn relocation_name(r_type: u32) -> String {
    let name = match r_type {
        elf::R_X86_64_NONE => "R_X86_64_NONE",
        elf::R_X86_64_64 => "R_X86_64_64",
        elf::R_X86_64_PC32 => "R_X86_64_PC32",
        elf::R_X86_64_GOT32 => "R_X86_64_GOT32",
        elf::R_X86_64_PLT32 => "R_X86_64_PLT32",
        elf::R_X86_64_COPY => "R_X86_64_COPY",
        elf::R_X86_64_GLOB_DAT => "R_X86_64_GLOB_DAT",
        elf::R_X86_64_JUMP_SLOT => "R_X86_64_JUMP_SLOT",
        elf::R_X86_64_RELATIVE => "R_X86_64_RELATIVE",
        elf::R_X86_64_GOTPCREL => "R_X86_64_GOTPCREL",
        elf::R_X86_64_32 => "R_X86_64_32",
        elf::R_X86_64_32S => "R_X86_64_32S",
        elf::R_X86_64_16 => "R_X86_64_16",
        elf::R_X86_64_PC16 => "R_X86_64_PC16",
        elf::R_X86_64_8 => "R_X86_64_8",
        elf::R_X86_64_PC8 => "R_X86_64_PC8",
        elf::R_X86_64_DTPMOD64 => "R_X86_64_DTPMOD64",
        elf::R_X86_64_DTPOFF64 => "R_X86_64_DTPOFF64",
        elf::R_X86_64_TPOFF64 => "R_X86_64_TPOFF64",
        elf::R_X86_64_TLSGD => "R_X86_64_TLSGD",
        elf::R_X86_64_TLSLD => "R_X86_64_TLSLD",
        elf::R_X86_64_DTPOFF32 => "R_X86_64_DTPOFF32",
        elf::R_X86_64_GOTTPOFF => "R_X86_64_GOTTPOFF",
        elf::R_X86_64_TPOFF32 => "R_X86_64_TPOFF32",
        elf::R_X86_64_PC64 => "R_X86_64_PC64",
        elf::R_X86_64_GOTOFF64 => "R_X86_64_GOTOFF64",
        elf::R_X86_64_GOTPC32 => "R_X86_64_GOTPC32",
        elf::R_X86_64_GOT64 => "R_X86_64_GOT64",
        elf::R_X86_64_GOTPCREL64 => "R_X86_64_GOTPCREL64",
        elf::R_X86_64_GOTPC64 => "R_X86_64_GOTPC64",
        elf::R_X86_64_GOTPLT64 => "R_X86_64_GOTPLT64",
        elf::R_X86_64_PLTOFF64 => "R_X86_64_PLTOFF64",
        elf::R_X86_64_SIZE32 => "R_X86_64_SIZE32",
        elf::R_X86_64_SIZE64 => "R_X86_64_SIZE64",
        elf::R_X86_64_GOTPC32_TLSDESC => "R_X86_64_GOTPC32_TLSDESC",
        elf::R_X86_64_TLSDESC_CALL => "R_X86_64_TLSDESC_CALL",
        elf::R_X86_64_TLSDESC => "R_X86_64_TLSDESC",
        elf::R_X86_64_IRELATIVE => "R_X86_64_IRELATIVE",
        elf::R_X86_64_RELATIVE64 => "R_X86_64_RELATIVE64",
        elf::R_X86_64_GOTPCRELX => "R_X86_64_GOTPCRELX",
        elf::R_X86_64_REX_GOTPCRELX => "R_X86_64_REX_GOTPCRELX",
        other => return format!("R_X86_64 type {other}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pc_relative_is_target_plus_addend_minus_place() {
        let r = Relocation::resolve(elf::R_X86_64_PLT32, 0x11, 0x40, -4, 0x100).unwrap();
        assert_eq!(r.patch, Patch::Rel32(0x40 - 4 - 0x11));
        let mut text = vec![0u8; 0x100];
        apply_relocations(&mut text, 0x7000_0000, &[r]);
        assert_eq!(i32::from_le_bytes(text[0x11..0x15].try_into().unwrap()), 0x40 - 4 - 0x11);
    }

    #[test]
    fn absolute_adds_the_load_address() {
        let r = Relocation::resolve(elf::R_X86_64_64, 8, 0x20, 3, 0x100).unwrap();
        let mut text = vec![0u8; 0x100];
        apply_relocations(&mut text, 0x1000, &[r]);
        assert_eq!(u64::from_le_bytes(text[8..16].try_into().unwrap()), 0x1023);
    }

    #[test]
    fn other_kinds_are_refused_by_name() {
        let err = Relocation::resolve(elf::R_X86_64_GOTPCREL, 0x40, 0, 0, 0x100).unwrap_err();
        assert!(err.to_string().contains("unsupported relocation R_X86_64_GOTPCREL at .text+0x40"), "{err}");
        let err = Relocation::resolve(200, 0, 0, 0, 0x100).unwrap_err();
        assert!(err.to_string().contains("R_X86_64 type 200"), "{err}");
    }

    #[test]
    fn fields_must_fit_in_text_and_values_in_32_bits() {
        assert!(Relocation::resolve(elf::R_X86_64_64, 0xfc, 0, 0, 0x100).is_err());
        assert!(Relocation::resolve(elf::R_X86_64_PC32, u64::MAX - 1, 0, 0, 0x100).is_err());
        let err = Relocation::resolve(elf::R_X86_64_PC32, 0, 0, 1 << 40, 0x100).unwrap_err();
        assert!(err.to_string().contains("overflows 32 bits"), "{err}");
    }
}
