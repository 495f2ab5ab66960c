//! Reading the tables that the loader searches in place (`.kiln.traps`,
//! `.kiln.stackmaps`, `.kiln.names`): little-endian `u32` fields, and a
//! binary search over records sorted by a `u32` key.

/// The little-endian `u32` at byte `at` of `bytes` (in bounds: callers
/// index records whose sizes were checked against their section).
pub(crate) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let b = &bytes[at..at + 4];
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// The index of the first of `len` records whose key (`key_of(i)`) is not
/// below `key`, or `len`: records are sorted by key. Unsorted records can
/// only make it miss, never step outside `0..=len`.
pub(crate) fn lower_bound(len: usize, key: u32, key_of: impl Fn(usize) -> u32) -> usize {
    let (mut low, mut high) = (0, len);
    while low < high {
        let mid = low + (high - low) / 2;
        if key_of(mid) < key {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    low
}
