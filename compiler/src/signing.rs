//! Signing the artifacts kilnc writes (`kilnc --sign KEY`, SPEC.md 2.1.1).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use kiln_format::signature::{key_fingerprint, ArtifactSigner};

use crate::{CompileError, Result};

/// The secret key that signs every artifact of a compilation, once sealed.
/// Cheap to clone; compares and prints as its public key.
#[derive(Clone)]
pub struct Signer(Arc<ArtifactSigner>);

impl Signer {
    /// The signer of the secret key file at `path` (`kiln keygen`'s
    /// `NAME.key`).
    pub fn from_key_file(path: &Path) -> Result<Signer> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CompileError::options(format!("cannot read secret key {}: {e}", path.display())))?;
        let signer = ArtifactSigner::from_key_file_text(&text)
            .map_err(|e| CompileError::options(format!("{}: {e}", path.display())))?;
        Ok(Signer(Arc::new(signer)))
    }

    /// The signer of the 32-byte Ed25519 secret key `secret`.
    pub fn from_secret(secret: &[u8; 32]) -> Signer {
        Signer(Arc::new(ArtifactSigner::from_secret(secret)))
    }

    /// Its public key, which loaders trust.
    pub fn public_key(&self) -> [u8; 32] {
        self.0.public_key()
    }

    /// Signs the sealed artifact `file`, whose `.kiln.meta` starts at
    /// `meta_offset`.
    pub(crate) fn sign(&self, file: &mut [u8], meta_offset: usize) -> Result<()> {
        self.0.sign(file, meta_offset).map_err(|e| CompileError::output(format!("cannot sign the artifact: {e}")))
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signer({})", key_fingerprint(&self.public_key()))
    }
}

impl PartialEq for Signer {
    fn eq(&self, other: &Signer) -> bool {
        self.public_key() == other.public_key()
    }
}

impl Eq for Signer {}
