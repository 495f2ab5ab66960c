//! The digest that the header stores over the whole artifact file.
//!
//! Every byte of the file is covered (ELF header, program and section
//! headers, relocations, symbols, every section's contents, padding) except
//! the 8 bytes of the digest field itself, which are read as zero. A file is
//! sealed once it is complete: kilnc seals the object it writes, and seals
//! the shared object again after the linker made it.
//!
//! XXH3-64: the digest catches accidents (a flipped bit, a truncated copy,
//! a tool that rewrote part of the file), not attackers, so the fastest
//! well-mixed hash serves. twox-hash picks AVX2 when the host has it and
//! SSE2 otherwise; the digest is the same either way.
//!
//! The file is hashed in chunks of [`DIGEST_CHUNK_SIZE`] bytes, and the
//! digest is the XXH3-64 of the chunks' XXH3-64 values (little-endian, in
//! order): a large artifact is hashed on two cores at once, which halves
//! the one part of loading whose cost grows with the file. One core already
//! hashes at about the speed of reading the bytes at all.

use std::hash::Hasher;
use std::ops::Range;

use twox_hash::XxHash3_64;

use crate::header_offsets::{DIGEST_OFFSET, DIGEST_WIDTH};

/// Bytes of the file hashed as one chunk (the last chunk may be shorter).
pub const DIGEST_CHUNK_SIZE: usize = 1 << 20;

/// From this many chunks on, half of them are hashed on a second thread:
/// below, starting the thread costs about what it saves.
const PARALLEL_CHUNKS: usize = 2;

/// The digest of `file`, whose `.kiln.meta` starts at byte `meta_offset`:
/// with the header's digest field read as zeros, XXH3-64 (seed 0) of the
/// XXH3-64 of each [`DIGEST_CHUNK_SIZE`] chunk of the file. `None` if the
/// field does not lie inside the file.
pub fn file_digest(file: &[u8], meta_offset: usize) -> Option<u64> {
    let field_start = meta_offset.checked_add(DIGEST_OFFSET)?;
    let field = field_start..field_start.checked_add(DIGEST_WIDTH)?;
    if field.end > file.len() {
        return None;
    }
    let chunks = file.len().div_ceil(DIGEST_CHUNK_SIZE).max(1);
    let mut digests = vec![0u64; chunks];
    let hash_chunks = |first: usize, out: &mut [u64]| {
        for (i, digest) in (first..).zip(out.iter_mut()) {
            let start = i * DIGEST_CHUNK_SIZE;
            *digest = chunk_digest(file, start..(start + DIGEST_CHUNK_SIZE).min(file.len()), &field);
        }
    };
    if chunks >= PARALLEL_CHUNKS {
        let half = chunks / 2;
        let (front, back) = digests.split_at_mut(half);
        let spawned = std::thread::scope(|scope| {
            // A thread that cannot start (resource limits) leaves its half
            // to this one.
            let helper = std::thread::Builder::new().spawn_scoped(scope, || hash_chunks(half, back)).ok();
            hash_chunks(0, front);
            helper.is_some_and(|h| h.join().is_ok())
        });
        if !spawned {
            hash_chunks(half, &mut digests[half..]);
        }
    } else {
        hash_chunks(0, &mut digests);
    }
    let mut hasher = XxHash3_64::with_seed(0);
    for digest in &digests {
        hasher.write(&digest.to_le_bytes());
    }
    Some(hasher.finish())
}

/// XXH3-64 of `file[chunk]`, with the bytes of `field` in it read as zeros.
fn chunk_digest(file: &[u8], chunk: Range<usize>, field: &Range<usize>) -> u64 {
    let mut hasher = XxHash3_64::with_seed(0);
    let zeros_start = field.start.clamp(chunk.start, chunk.end);
    let zeros_end = field.end.clamp(chunk.start, chunk.end);
    hasher.write(&file[chunk.start..zeros_start]);
    hasher.write(&[0; DIGEST_WIDTH][..zeros_end - zeros_start]);
    hasher.write(&file[zeros_end..chunk.end]);
    hasher.finish()
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
    fn chunks_cover_every_byte_once_on_either_side_of_a_chunk_boundary() {
        // Three chunks and a bit, so two threads share them; the field in the
        // second chunk.
        let len = 3 * DIGEST_CHUNK_SIZE + 100;
        let mut file: Vec<u8> = (0..len).map(|i| (i * 31 + i / 977) as u8).collect();
        let meta = DIGEST_CHUNK_SIZE + 64;
        assert!(seal_file(&mut file, meta));
        let recorded = recorded_digest(&file, meta).unwrap();
        for at in [0, DIGEST_CHUNK_SIZE - 1, DIGEST_CHUNK_SIZE, meta + 8, 2 * DIGEST_CHUNK_SIZE, len - 1] {
            let mut damaged = file.clone();
            damaged[at] ^= 0x10;
            assert_ne!(file_digest(&damaged, meta), Some(recorded), "byte {at}");
        }
        // Moving a byte from one chunk to the next changes the digest too.
        let mut swapped = file.clone();
        swapped.swap(DIGEST_CHUNK_SIZE - 1, DIGEST_CHUNK_SIZE);
        if swapped != file {
            assert_ne!(file_digest(&swapped, meta), Some(recorded));
        }
        // The field reads as zeros wherever it lies in its chunk.
        let field = meta + DIGEST_OFFSET;
        let mut other = file.clone();
        other[field..field + DIGEST_WIDTH].copy_from_slice(&[0xab; DIGEST_WIDTH]);
        assert_eq!(file_digest(&other, meta), Some(recorded));
    }
}
