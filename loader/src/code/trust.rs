//! Whose word the loader takes that an artifact is safe to run.
//!
//! Loading maps an artifact's code and runs it: no check of the loader can
//! tell compiled Wasm from any other machine code, so a loaded artifact is
//! trusted to be what kilnc made of some Wasm module. Either the caller
//! vouches for it ([`Trust::Caller`], behind the `unsafe` loading
//! functions), or the loader checks that a key the caller trusts signed it
//! ([`Trust::SignedBy`], SPEC.md 2.1.1) before any of it is mapped
//! executable or opened.

#[cfg(feature = "verify")]
use kiln_format::{header_offsets as at, signature::TrustedKeys, SECTION_META};

use super::LoadError;

/// Why an artifact may be run.
#[cfg(feature = "verify")]
#[derive(Clone, Copy)]
pub(crate) enum Trust<'keys> {
    /// The caller vouched for it (an `unsafe` load).
    Caller,
    /// It must carry a valid signature by one of these keys.
    SignedBy(&'keys TrustedKeys),
}

/// Why an artifact may be run: without the `verify` feature, only because
/// the caller vouched for it.
#[cfg(not(feature = "verify"))]
#[derive(Clone, Copy)]
pub(crate) enum Trust {
    /// The caller vouched for it (an `unsafe` load).
    Caller,
}

/// Refuses `file`, whose `.kiln.meta` starts at `meta_offset` and whose
/// digest was checked, unless `trust` admits it.
#[cfg_attr(not(feature = "verify"), allow(unused_variables))]
pub(crate) fn check_trust(trust: Trust, file: &[u8], meta_offset: usize) -> Result<(), LoadError> {
    match trust {
        Trust::Caller => Ok(()),
        #[cfg(feature = "verify")]
        Trust::SignedBy(keys) => keys
            .verify(file, meta_offset)
            .map(drop)
            .map_err(|e| LoadError::at(SECTION_META, at::SIGNER_OFFSET as u64, e.to_string())),
    }
}
