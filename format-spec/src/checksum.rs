//! The checksum that the header stores over every other kiln section and `.text`.

/// Incremental checksum over artifact sections.
///
/// Each section is fed as its length (u64 little-endian) followed by its
/// bytes, in the order [`CHECKSUMMED_SECTIONS`] lists, so a byte moved from
/// one section into another still changes the result.
#[derive(Default)]
pub struct SectionChecksum {
    hasher: crc32fast::Hasher,
}

/// The sections covered by the header checksum, in the order they are fed.
/// For `.kiln.meta` only the bytes after the header are covered.
pub const CHECKSUMMED_SECTIONS: [&str; 6] = [
    crate::SECTION_META,
    crate::SECTION_TRAPS,
    crate::SECTION_STACKMAPS,
    crate::SECTION_DATA,
    crate::SECTION_IMAGE,
    crate::SECTION_TEXT,
];

impl SectionChecksum {
    /// A fresh checksum.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one section's bytes.
    pub fn section(&mut self, bytes: &[u8]) {
        self.hasher.update(&(bytes.len() as u64).to_le_bytes());
        self.hasher.update(bytes);
    }

    /// The final value.
    pub fn finish(self) -> u32 {
        self.hasher.finalize()
    }
}

/// Checksum over the sections in [`CHECKSUMMED_SECTIONS`] order.
pub fn checksum_sections(sections: [&[u8]; CHECKSUMMED_SECTIONS.len()]) -> u32 {
    let mut sum = SectionChecksum::new();
    for s in sections {
        sum.section(s);
    }
    sum.finish()
}
