//! The fixed header at the start of `.kiln.meta`.

use crate::{CpuFeatures, FormatError, Result, SECTION_META};

/// Magic bytes at offset 0 of `.kiln.meta`.
pub const MAGIC: [u8; 8] = *b"\0KILNOBJ";
/// Version of the artifact format and ABI. Any change to a record layout,
/// the VMContext layout, builtin indices or trap codes bumps it.
pub const FORMAT_VERSION: u32 = 2;
/// Size in bytes of the encoded header.
pub const HEADER_SIZE: usize = 128;
/// Width of the NUL-padded string fields.
const STR_FIELD: usize = 32;

/// The version string of this kiln release, stored as the producer.
pub const PRODUCER: &str = concat!("kiln ", env!("CARGO_PKG_VERSION"));

/// The artifact header. Layout (little-endian):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic `\0KILNOBJ` |
/// | 8 | 4 | format version |
/// | 12 | 4 | header size (128) |
/// | 16 | 32 | target triple, NUL padded |
/// | 48 | 32 | producer, NUL padded |
/// | 80 | 8 | required CPU features (bit mask) |
/// | 88 | 8 | hash of the codegen flags |
/// | 96 | 4 | checksum (see [`crate::checksum_sections`]) |
/// | 100 | 4 | reserved, zero |
/// | 104 | 8 | length of the module info that follows |
/// | 112 | 16 | reserved, zero |
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactHeader {
    /// Format version ([`FORMAT_VERSION`] when written by this release).
    pub format_version: u32,
    target: [u8; STR_FIELD],
    producer: [u8; STR_FIELD],
    /// CPU features the code needs.
    pub cpu_features: CpuFeatures,
    /// Hash of the Cranelift flags the code was compiled with.
    pub flags_hash: u64,
    /// Checksum over the other kiln sections and `.text`.
    pub checksum: u32,
    /// Length of the bincode module info following the header.
    pub info_len: u64,
}

fn pad(s: &str) -> [u8; STR_FIELD] {
    let mut out = [0u8; STR_FIELD];
    let n = s.len().min(STR_FIELD);
    out[..n].copy_from_slice(&s.as_bytes()[..n]);
    out
}

fn unpad(b: &[u8; STR_FIELD]) -> &str {
    let end = b.iter().position(|&c| c == 0).unwrap_or(STR_FIELD);
    std::str::from_utf8(&b[..end]).unwrap_or("<invalid utf-8>")
}

impl ArtifactHeader {
    /// A header for the current format version and producer.
    pub fn new(target: &str, cpu_features: CpuFeatures, flags_hash: u64, checksum: u32, info_len: u64) -> Self {
        ArtifactHeader {
            format_version: FORMAT_VERSION,
            target: pad(target),
            producer: pad(PRODUCER),
            cpu_features,
            flags_hash,
            checksum,
            info_len,
        }
    }

    /// The target triple.
    pub fn target(&self) -> &str {
        unpad(&self.target)
    }

    /// The producer string.
    pub fn producer(&self) -> &str {
        unpad(&self.producer)
    }

    /// Encodes the header.
    pub fn to_bytes(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[0..8].copy_from_slice(&MAGIC);
        b[8..12].copy_from_slice(&self.format_version.to_le_bytes());
        b[12..16].copy_from_slice(&(HEADER_SIZE as u32).to_le_bytes());
        b[16..48].copy_from_slice(&self.target);
        b[48..80].copy_from_slice(&self.producer);
        b[80..88].copy_from_slice(&self.cpu_features.0.to_le_bytes());
        b[88..96].copy_from_slice(&self.flags_hash.to_le_bytes());
        b[96..100].copy_from_slice(&self.checksum.to_le_bytes());
        b[104..112].copy_from_slice(&self.info_len.to_le_bytes());
        b
    }

    /// Decodes a header, checking the magic and the header size but not the
    /// version (so that the caller can report the version it found).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < HEADER_SIZE {
            return Err(FormatError::new(
                SECTION_META,
                0,
                format!("header truncated: {} bytes, need {HEADER_SIZE}", bytes.len()),
            ));
        }
        if bytes[0..8] != MAGIC {
            return Err(FormatError::new(SECTION_META, 0, "bad magic: not a kiln artifact"));
        }
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
        let header_size = u32_at(12);
        if header_size as usize != HEADER_SIZE {
            return Err(FormatError::new(SECTION_META, 12, format!("unexpected header size {header_size}")));
        }
        Ok(ArtifactHeader {
            format_version: u32_at(8),
            target: bytes[16..48].try_into().unwrap(),
            producer: bytes[48..80].try_into().unwrap(),
            cpu_features: CpuFeatures(u64_at(80)),
            flags_hash: u64_at(88),
            checksum: u32_at(96),
            info_len: u64_at(104),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let h = ArtifactHeader::new("x86_64-unknown-linux-gnu", CpuFeatures::BASELINE_X86_64, 0xabc, 0x1234, 99);
        let back = ArtifactHeader::from_bytes(&h.to_bytes()).unwrap();
        assert_eq!(h, back);
        assert_eq!(back.producer(), PRODUCER);
    }

    #[test]
    fn bad_magic_is_refused() {
        let mut b = ArtifactHeader::new("t", CpuFeatures::NONE, 0, 0, 0).to_bytes();
        b[1] ^= 1;
        let err = ArtifactHeader::from_bytes(&b).unwrap_err();
        assert!(err.to_string().contains("bad magic"), "{err}");
    }
}
