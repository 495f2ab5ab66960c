//! The fixed header at the start of `.kiln.meta`.

use crate::{CpuFeatures, FormatError, Instrumentation, RelaxedSimd, Result, SECTION_META};

/// Magic bytes at offset 0 of `.kiln.meta`.
pub const MAGIC: [u8; 8] = *b"\0KILNOBJ";
/// Version of the artifact format and ABI. Any change to a record layout,
/// the VMContext layout, builtin indices or trap codes bumps it.
pub const FORMAT_VERSION: u32 = 14;
/// Size in bytes of the encoded header.
pub const HEADER_SIZE: usize = 224;
/// Width of the NUL-padded string fields.
const STR_FIELD: usize = header_offsets::TARGET_WIDTH;

/// Where each field of the encoded [`ArtifactHeader`] lies: its byte offset
/// from the start of `.kiln.meta` (`*_OFFSET`) and its width in bytes
/// (`*_WIDTH`).
///
/// The encoder and the decoder use these, and so must anything that reads
/// or patches a header field in place: the loader looks at the version
/// before decoding the rest (another version may lay it out differently),
/// errors name the offset of the field they refuse, and tests forge fields.
/// The fields tile the header with no gap, every integer aligned to its
/// width.
pub mod header_offsets {
    /// The magic bytes [`MAGIC`](crate::MAGIC).
    pub const MAGIC_OFFSET: usize = 0;
    /// Width of the magic.
    pub const MAGIC_WIDTH: usize = 8;
    /// `u32` format version.
    pub const FORMAT_VERSION_OFFSET: usize = 8;
    /// Width of the format version.
    pub const FORMAT_VERSION_WIDTH: usize = 4;
    /// `u32` header size, [`HEADER_SIZE`](crate::HEADER_SIZE).
    pub const HEADER_SIZE_OFFSET: usize = 12;
    /// Width of the header size.
    pub const HEADER_SIZE_WIDTH: usize = 4;
    /// Target triple, NUL padded.
    pub const TARGET_OFFSET: usize = 16;
    /// Width of the target triple.
    pub const TARGET_WIDTH: usize = 32;
    /// Producer string, NUL padded.
    pub const PRODUCER_OFFSET: usize = 48;
    /// Width of the producer string.
    pub const PRODUCER_WIDTH: usize = 32;
    /// `u64` mask of the required CPU features.
    pub const CPU_FEATURES_OFFSET: usize = 80;
    /// Width of the CPU feature mask.
    pub const CPU_FEATURES_WIDTH: usize = 8;
    /// `u64` hash of the codegen flags.
    pub const FLAGS_HASH_OFFSET: usize = 88;
    /// Width of the flags hash.
    pub const FLAGS_HASH_WIDTH: usize = 8;
    /// `u32` bit set of the [`Instrumentation`](crate::Instrumentation)
    /// compiled into the code.
    pub const INSTRUMENTATION_OFFSET: usize = 96;
    /// Width of the instrumentation bits.
    pub const INSTRUMENTATION_WIDTH: usize = 4;
    /// `u32` [`RelaxedSimd`](crate::RelaxedSimd): the results the code gives
    /// the relaxed-SIMD operators.
    pub const RELAXED_SIMD_OFFSET: usize = 100;
    /// Width of the relaxed-SIMD semantics.
    pub const RELAXED_SIMD_WIDTH: usize = 4;
    /// `u64` length of the module info that follows the header.
    pub const INFO_LEN_OFFSET: usize = 104;
    /// Width of the module info length.
    pub const INFO_LEN_WIDTH: usize = 8;
    /// Reserved, zero.
    pub const RESERVED_OFFSET: usize = 112;
    /// Width of the reserved field.
    pub const RESERVED_WIDTH: usize = 8;
    /// `u64` digest of the whole file ([`file_digest`](crate::file_digest)).
    pub const DIGEST_OFFSET: usize = 120;
    /// Width of the digest.
    pub const DIGEST_WIDTH: usize = 8;
    /// The Ed25519 public key of the signer, zero when unsigned
    /// ([`crate::signature`]).
    pub const SIGNER_OFFSET: usize = 128;
    /// Width of the signer's public key.
    pub const SIGNER_WIDTH: usize = 32;
    /// The Ed25519ph signature, zero when unsigned.
    pub const SIGNATURE_OFFSET: usize = 160;
    /// Width of the signature.
    pub const SIGNATURE_WIDTH: usize = 64;
    /// The fields the digest reads as zeros: the digest itself and the
    /// signature fields, which are written after it.
    pub const SEAL_OFFSET: usize = DIGEST_OFFSET;
    /// Width of the sealed fields, to the end of the header.
    pub const SEAL_WIDTH: usize = DIGEST_WIDTH + SIGNER_WIDTH + SIGNATURE_WIDTH;
    /// The fields the signature reads as zeros: the signer and the
    /// signature. The digest lies outside them, so the signature covers it.
    pub const SIGNATURE_FIELDS_OFFSET: usize = SIGNER_OFFSET;
    /// Width of the signature fields, to the end of the header.
    pub const SIGNATURE_FIELDS_WIDTH: usize = SIGNER_WIDTH + SIGNATURE_WIDTH;
}

use header_offsets as at;

/// The version string of this kiln release, stored as the producer.
pub const PRODUCER: &str = concat!("kiln ", env!("CARGO_PKG_VERSION"));

/// The artifact header. Layout (little-endian; the offsets and widths are
/// named in [`header_offsets`]):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic `\0KILNOBJ` |
/// | 8 | 4 | format version |
/// | 12 | 4 | header size (224) |
/// | 16 | 32 | target triple, NUL padded |
/// | 48 | 32 | producer, NUL padded |
/// | 80 | 8 | required CPU features (bit mask) |
/// | 88 | 8 | hash of the codegen flags |
/// | 96 | 4 | instrumentation bits ([`Instrumentation`]) |
/// | 100 | 4 | relaxed-SIMD semantics ([`RelaxedSimd`]) |
/// | 104 | 8 | length of the module info that follows |
/// | 112 | 8 | reserved, zero |
/// | 120 | 8 | digest of the whole file (see [`crate::file_digest`]) |
/// | 128 | 32 | signer's Ed25519 public key, zero when unsigned |
/// | 160 | 64 | Ed25519ph signature (see [`crate::signature`]), zero when unsigned |
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
    /// Digest of the whole file, this field read as zero; 0 until the
    /// finished file is sealed ([`crate::seal_file`]).
    pub digest: u64,
    /// The checks compiled into the code; [`ArtifactHeader::new`] gives none.
    pub instrumentation: Instrumentation,
    /// The relaxed-SIMD semantics of the code; [`ArtifactHeader::new`] gives
    /// [`RelaxedSimd::DETERMINISTIC_KILN_1`], the only one kilnc compiles.
    pub relaxed_simd: RelaxedSimd,
    /// Length of the bincode module info following the header.
    pub info_len: u64,
    /// The signer's key and signature, `None` when both fields are zero.
    /// Signing writes them into the finished file ([`crate::signature`]).
    pub signature: Option<HeaderSignature>,
}

/// The signature fields of a signed artifact's header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderSignature {
    /// The signer's Ed25519 public key.
    pub signer: [u8; header_offsets::SIGNER_WIDTH],
    /// The Ed25519ph signature over the file (SPEC.md 2.1).
    pub signature: [u8; header_offsets::SIGNATURE_WIDTH],
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
    pub fn new(target: &str, cpu_features: CpuFeatures, flags_hash: u64, info_len: u64) -> Self {
        ArtifactHeader {
            format_version: FORMAT_VERSION,
            target: pad(target),
            producer: pad(PRODUCER),
            cpu_features,
            flags_hash,
            digest: 0,
            instrumentation: Instrumentation::NONE,
            relaxed_simd: RelaxedSimd::DETERMINISTIC_KILN_1,
            info_len,
            signature: None,
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
        let mut put = |offset: usize, field: &[u8]| b[offset..offset + field.len()].copy_from_slice(field);
        put(at::MAGIC_OFFSET, &MAGIC);
        put(at::FORMAT_VERSION_OFFSET, &self.format_version.to_le_bytes());
        put(at::HEADER_SIZE_OFFSET, &(HEADER_SIZE as u32).to_le_bytes());
        put(at::TARGET_OFFSET, &self.target);
        put(at::PRODUCER_OFFSET, &self.producer);
        put(at::CPU_FEATURES_OFFSET, &self.cpu_features.0.to_le_bytes());
        put(at::FLAGS_HASH_OFFSET, &self.flags_hash.to_le_bytes());
        put(at::INSTRUMENTATION_OFFSET, &self.instrumentation.bits().to_le_bytes());
        put(at::RELAXED_SIMD_OFFSET, &self.relaxed_simd.raw().to_le_bytes());
        put(at::INFO_LEN_OFFSET, &self.info_len.to_le_bytes());
        put(at::DIGEST_OFFSET, &self.digest.to_le_bytes());
        if let Some(signed) = &self.signature {
            put(at::SIGNER_OFFSET, &signed.signer);
            put(at::SIGNATURE_OFFSET, &signed.signature);
        }
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
        if bytes[at::MAGIC_OFFSET..at::MAGIC_OFFSET + at::MAGIC_WIDTH] != MAGIC {
            return Err(FormatError::new(SECTION_META, at::MAGIC_OFFSET, "bad magic: not a kiln artifact"));
        }
        let field = |offset: usize, width: usize| &bytes[offset..offset + width];
        let u32_at = |o: usize| u32::from_le_bytes(field(o, 4).try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(field(o, 8).try_into().unwrap());
        let header_size = u32_at(at::HEADER_SIZE_OFFSET);
        if header_size as usize != HEADER_SIZE {
            return Err(FormatError::new(
                SECTION_META,
                at::HEADER_SIZE_OFFSET,
                format!("unexpected header size {header_size}"),
            ));
        }
        Ok(ArtifactHeader {
            format_version: u32_at(at::FORMAT_VERSION_OFFSET),
            target: field(at::TARGET_OFFSET, at::TARGET_WIDTH).try_into().unwrap(),
            producer: field(at::PRODUCER_OFFSET, at::PRODUCER_WIDTH).try_into().unwrap(),
            cpu_features: CpuFeatures(u64_at(at::CPU_FEATURES_OFFSET)),
            flags_hash: u64_at(at::FLAGS_HASH_OFFSET),
            digest: u64_at(at::DIGEST_OFFSET),
            instrumentation: Instrumentation::from_bits(u32_at(at::INSTRUMENTATION_OFFSET)),
            relaxed_simd: RelaxedSimd::from_raw(u32_at(at::RELAXED_SIMD_OFFSET)),
            info_len: u64_at(at::INFO_LEN_OFFSET),
            signature: {
                let signer: [u8; at::SIGNER_WIDTH] = field(at::SIGNER_OFFSET, at::SIGNER_WIDTH).try_into().unwrap();
                let signature: [u8; at::SIGNATURE_WIDTH] =
                    field(at::SIGNATURE_OFFSET, at::SIGNATURE_WIDTH).try_into().unwrap();
                let unsigned = signer.iter().chain(&signature).all(|&b| b == 0);
                (!unsigned).then_some(HeaderSignature { signer, signature })
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let mut h = ArtifactHeader::new("x86_64-unknown-linux-gnu", CpuFeatures::BASELINE_X86_64, 0xabc, 99);
        h.digest = 0x1234_5678_9abc_def0;
        h.instrumentation = Instrumentation::EPOCH;
        h.relaxed_simd = RelaxedSimd::from_raw(9);
        let back = ArtifactHeader::from_bytes(&h.to_bytes()).unwrap();
        assert_eq!(h, back);
        h.signature = Some(HeaderSignature { signer: [7; at::SIGNER_WIDTH], signature: [9; at::SIGNATURE_WIDTH] });
        assert_eq!(ArtifactHeader::from_bytes(&h.to_bytes()).unwrap(), h, "signed");
        assert_eq!(back.producer(), PRODUCER);
    }

    #[test]
    fn bad_magic_is_refused() {
        let mut b = ArtifactHeader::new("t", CpuFeatures::NONE, 0, 0).to_bytes();
        b[1] ^= 1;
        let err = ArtifactHeader::from_bytes(&b).unwrap_err();
        assert!(err.to_string().contains("bad magic"), "{err}");
    }

    /// Every field, in header order, as (offset, width).
    const FIELDS: [(usize, usize); 15] = [
        (at::MAGIC_OFFSET, at::MAGIC_WIDTH),
        (at::FORMAT_VERSION_OFFSET, at::FORMAT_VERSION_WIDTH),
        (at::HEADER_SIZE_OFFSET, at::HEADER_SIZE_WIDTH),
        (at::TARGET_OFFSET, at::TARGET_WIDTH),
        (at::PRODUCER_OFFSET, at::PRODUCER_WIDTH),
        (at::CPU_FEATURES_OFFSET, at::CPU_FEATURES_WIDTH),
        (at::FLAGS_HASH_OFFSET, at::FLAGS_HASH_WIDTH),
        (at::INSTRUMENTATION_OFFSET, at::INSTRUMENTATION_WIDTH),
        (at::RELAXED_SIMD_OFFSET, at::RELAXED_SIMD_WIDTH),
        (at::INFO_LEN_OFFSET, at::INFO_LEN_WIDTH),
        (at::RESERVED_OFFSET, at::RESERVED_WIDTH),
        (at::DIGEST_OFFSET, at::DIGEST_WIDTH),
        (at::SIGNER_OFFSET, at::SIGNER_WIDTH),
        (at::SIGNATURE_OFFSET, at::SIGNATURE_WIDTH),
        (HEADER_SIZE, 0),
    ];

    #[test]
    fn fields_tile_the_header_aligned() {
        for pair in FIELDS.windows(2) {
            let ((offset, width), (next, _)) = (pair[0], pair[1]);
            assert_eq!(offset + width, next, "field at {offset} does not end where the next begins");
            if matches!(width, 4 | 8) {
                assert_eq!(offset % width, 0, "field at {offset} is not aligned to its width");
            }
        }
        assert_eq!(FIELDS[0].0, 0);
    }

    #[test]
    fn to_bytes_places_every_field_at_its_offset() {
        let target = "x86_64-unknown-linux-gnu";
        let mut h = ArtifactHeader::new(
            target,
            CpuFeatures(0x0102_0304_0506_0708),
            0x1112_1314_1516_1718,
            0x3132_3334_3536_3738,
        );
        h.digest = 0x2122_2324_2526_2728;
        h.instrumentation = Instrumentation::from_bits(0x4142_4344);
        h.relaxed_simd = RelaxedSimd::from_raw(0x5152_5354);
        let b = h.to_bytes();
        let field = |offset: usize, width: usize| &b[offset..offset + width];
        assert_eq!(field(at::MAGIC_OFFSET, at::MAGIC_WIDTH), MAGIC);
        assert_eq!(field(at::FORMAT_VERSION_OFFSET, at::FORMAT_VERSION_WIDTH), FORMAT_VERSION.to_le_bytes());
        assert_eq!(field(at::HEADER_SIZE_OFFSET, at::HEADER_SIZE_WIDTH), (HEADER_SIZE as u32).to_le_bytes());
        assert_eq!(field(at::TARGET_OFFSET, at::TARGET_WIDTH), pad(target));
        assert_eq!(field(at::PRODUCER_OFFSET, at::PRODUCER_WIDTH), pad(PRODUCER));
        assert_eq!(field(at::CPU_FEATURES_OFFSET, at::CPU_FEATURES_WIDTH), 0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(field(at::FLAGS_HASH_OFFSET, at::FLAGS_HASH_WIDTH), 0x1112_1314_1516_1718u64.to_le_bytes());
        assert_eq!(field(at::DIGEST_OFFSET, at::DIGEST_WIDTH), 0x2122_2324_2526_2728u64.to_le_bytes());
        assert_eq!(field(at::RELAXED_SIMD_OFFSET, at::RELAXED_SIMD_WIDTH), 0x5152_5354u32.to_le_bytes());
        assert_eq!(field(at::INFO_LEN_OFFSET, at::INFO_LEN_WIDTH), 0x3132_3334_3536_3738u64.to_le_bytes());
        assert_eq!(field(at::INSTRUMENTATION_OFFSET, at::INSTRUMENTATION_WIDTH), 0x4142_4344u32.to_le_bytes());
        assert!(field(at::RESERVED_OFFSET, at::RESERVED_WIDTH).iter().all(|&x| x == 0));
        assert!(field(at::SIGNER_OFFSET, at::SIGNATURE_FIELDS_WIDTH).iter().all(|&x| x == 0), "unsigned");
    }
}
