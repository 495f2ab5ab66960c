//! Sealing a finished artifact: the whole-file digest in its header
//! (SPEC.md 2.1), written once no other byte of the file changes any more,
//! then the signature over it all, if the compilation signs (2.1.1).

use kiln_format::{seal_file, SECTION_META};
use object::{Object, ObjectSection};

use crate::{CompileError, Result, Signer};

/// Writes the digest of `file` (an object or shared object kilnc made)
/// into its header, then `signer`'s signature.
pub(crate) fn seal(file: &mut [u8], signer: Option<&Signer>) -> Result<()> {
    let meta_offset = seal_digest(file)?;
    match signer {
        Some(signer) => signer.sign(file, meta_offset),
        None => Ok(()),
    }
}

/// Writes the digest of `file` into its header, and returns where its
/// `.kiln.meta` starts, for a signature.
pub(crate) fn seal_digest(file: &mut [u8]) -> Result<usize> {
    let meta_offset = {
        let parsed = object::File::parse(&*file)
            .map_err(|e| CompileError::output(format!("cannot read back the artifact to seal it: {e}")))?;
        let meta = parsed
            .section_by_name(SECTION_META)
            .and_then(|s| s.file_range())
            .ok_or_else(|| CompileError::output(format!("the artifact has no {SECTION_META} contents to seal")))?;
        usize::try_from(meta.0).map_err(|_| CompileError::output("artifact too large"))?
    };
    if !seal_file(file, meta_offset) {
        return Err(CompileError::output(format!("the {SECTION_META} header lies outside the artifact")));
    }
    Ok(meta_offset)
}
