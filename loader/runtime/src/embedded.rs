//! The artifact and run policy that `kilnc --emit exe` linked into this
//! executable (format-spec/SPEC.md 1.4), as the linker placed them.

#![allow(unsafe_code)]

use kiln_format::{
    EMBEDDED_ARTIFACT_LEN_SYMBOL, EMBEDDED_ARTIFACT_SYMBOL, EMBEDDED_POLICY_LEN_SYMBOL, EMBEDDED_POLICY_SYMBOL,
};

extern "C" {
    // The names must be string literals here; the assertions below tie
    // them to format-spec's.
    static kiln_embedded_artifact: u8;
    static kiln_embedded_artifact_len: u64;
    static kiln_embedded_policy: u8;
    static kiln_embedded_policy_len: u64;
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const _: () = assert!(same(EMBEDDED_ARTIFACT_SYMBOL, "kiln_embedded_artifact"));
const _: () = assert!(same(EMBEDDED_ARTIFACT_LEN_SYMBOL, "kiln_embedded_artifact_len"));
const _: () = assert!(same(EMBEDDED_POLICY_SYMBOL, "kiln_embedded_policy"));
const _: () = assert!(same(EMBEDDED_POLICY_LEN_SYMBOL, "kiln_embedded_policy_len"));

/// The embedded artifact's bytes.
pub(crate) fn artifact() -> &'static [u8] {
    // SAFETY: kilnc's embedding object defines `kiln_embedded_artifact` at
    // the first of `kiln_embedded_artifact_len` bytes of a read-only
    // section, linked into this executable: the bytes are initialised,
    // never written and mapped for as long as the process runs.
    unsafe { std::slice::from_raw_parts(&raw const kiln_embedded_artifact, to_len(kiln_embedded_artifact_len)) }
}

/// The encoded run policy.
pub(crate) fn policy() -> &'static [u8] {
    // SAFETY: as for `artifact`: kilnc defines `kiln_embedded_policy` at
    // the first of `kiln_embedded_policy_len` read-only bytes.
    unsafe { std::slice::from_raw_parts(&raw const kiln_embedded_policy, to_len(kiln_embedded_policy_len)) }
}

/// A length the linker placed; on a 64-bit host every u64 that describes
/// mapped bytes fits a usize.
fn to_len(len: u64) -> usize {
    usize::try_from(len).unwrap_or(usize::MAX)
}
