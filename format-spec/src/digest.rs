//! The digest that the header stores over the whole artifact file.
//!
//! Every byte of the file is covered (ELF header, program and section
//! headers, relocations, symbols, every section's contents, padding) except
//! the header's sealed fields, which are read as zeros: the digest itself,
//! and the signature fields after it, which signing fills in later
//! ([`crate::signature`]) without changing the digest. A file is sealed once
//! it is complete: kilnc seals the object it writes, and seals the shared
//! object again after the linker made it.
//!
//! XXH3-64: the digest catches accidents (a flipped bit, a truncated copy,
//! a tool that rewrote part of the file), not attackers, so the fastest
//! well-mixed hash serves. twox-hash picks AVX2 when the host has it and
//! SSE2 otherwise; the digest is the same either way.
//!
//! One core hashes at about the speed of reading the bytes at all. Hashing
//! halves of a large file on two threads was measured slower, not faster
//! (sqlite3's 3.3 MB artifact: 0.31–0.45 ms against 0.20–0.33 ms on one):
//! both threads fault in pages of one fresh mapping, and contend for it.

use std::hash::Hasher;

use twox_hash::XxHash3_64;

use crate::header_offsets::{DIGEST_OFFSET, DIGEST_WIDTH, SEAL_OFFSET, SEAL_WIDTH};

/// The digest of `file`, whose `.kiln.meta` starts at byte `meta_offset`:
/// XXH3-64 (seed 0) of the file with the header's sealed fields (the
/// digest and the signature) as zeros. `None` if they do not lie inside the
/// file.
pub fn file_digest(file: &[u8], meta_offset: usize) -> Option<u64> {
    let field = meta_offset.checked_add(SEAL_OFFSET)?;
    let end = field.checked_add(SEAL_WIDTH)?;
    if end > file.len() {
        return None;
    }
    let mut hasher = XxHash3_64::with_seed(0);
    hasher.write(&file[..field]);
    hasher.write(&[0; SEAL_WIDTH]);
    hasher.write(&file[end..]);
    Some(hasher.finish())
}

/// Writes the digest of the complete `file` into its header (whose
/// `.kiln.meta` starts at `meta_offset`); false if the header is not there.
pub fn seal_file(file: &mut [u8], meta_offset: usize) -> bool {
    let Some(digest) = file_digest(file, meta_offset) else { return false };
    let field = meta_offset + DIGEST_OFFSET;
    file[field..field + DIGEST_WIDTH].copy_from_slice(&digest.to_le_bytes());
    true
}

/// The digest recorded in `file`'s header, if the field lies inside it.
pub fn recorded_digest(file: &[u8], meta_offset: usize) -> Option<u64> {
    let field = meta_offset.checked_add(DIGEST_OFFSET)?;
    let bytes = file.get(field..field.checked_add(DIGEST_WIDTH)?)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_makes_the_recorded_digest_match_and_any_other_byte_breaks_it() {
        let mut file: Vec<u8> = (0..600u32).map(|i| (i * 7) as u8).collect();
        let meta = 200;
        assert!(seal_file(&mut file, meta));
        let recorded = recorded_digest(&file, meta).unwrap();
        assert_eq!(file_digest(&file, meta), Some(recorded));
        for at in [0, 199, 311, 320, 599] {
            let mut damaged = file.clone();
            damaged[at] ^= 1;
            assert_ne!(file_digest(&damaged, meta), recorded_digest(&damaged, meta), "byte {at}");
        }
        assert_eq!(file_digest(&file[..300], meta), None, "the field past the end");
    }

    #[test]
    fn the_signature_fields_are_left_out() {
        let mut file: Vec<u8> = (0..600u32).map(|i| (i * 7) as u8).collect();
        let meta = 200;
        assert!(seal_file(&mut file, meta));
        let recorded = recorded_digest(&file, meta).unwrap();
        let signature = meta + crate::header_offsets::SIGNATURE_FIELDS_OFFSET;
        file[signature..signature + crate::header_offsets::SIGNATURE_FIELDS_WIDTH].fill(0xa5);
        assert_eq!(file_digest(&file, meta), Some(recorded));
    }
}
