//! The keys this node trusts to sign the artifacts that images ship.
//!
//! An artifact layer is native code: the shim runs one only if it is signed
//! by one of these keys (format-spec/SPEC.md 2.1.1). The keys are the
//! public key files (`kiln keygen`'s `NAME.pub`) in [`DEFAULT_KEYS_DIR`],
//! or in the directory that [`KEYS_DIR_VARIABLE`] names in the
//! environment containerd starts the shim with. With no keys, no artifact
//! layer runs, and images run their Wasm layers, compiled on the node.
//!
//! The keys are read once, when the shim starts: the container's process
//! that loads the artifact sees only the container's file system.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result};
use kiln_loader::TrustedKeys;

/// Where the node's trusted keys are, unless [`KEYS_DIR_VARIABLE`] says.
pub const DEFAULT_KEYS_DIR: &str = "/etc/kiln/trusted-keys";

/// The environment variable naming another directory of trusted keys.
pub const KEYS_DIR_VARIABLE: &str = "KILN_TRUSTED_KEYS_DIR";

/// The node's keys, or why they could not be read.
pub struct NodeKeys {
    /// The directory they were read from.
    pub dir: PathBuf,
    /// The keys; empty when the directory does not exist.
    pub keys: Result<TrustedKeys, String>,
}

static NODE_KEYS: OnceLock<NodeKeys> = OnceLock::new();

/// Reads the node's keys, once; later calls keep the first reading.
pub fn read_node_keys() -> &'static NodeKeys {
    NODE_KEYS.get_or_init(|| {
        let dir = std::env::var_os(KEYS_DIR_VARIABLE).map(PathBuf::from).unwrap_or_else(|| DEFAULT_KEYS_DIR.into());
        let keys = keys_in(&dir).map_err(|e| format!("{e:#}"));
        NodeKeys { dir, keys }
    })
}

/// The `*.pub` key files in `dir`; none when `dir` does not exist.
pub fn keys_in(dir: &Path) -> Result<TrustedKeys> {
    let mut keys = TrustedKeys::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(keys),
        Err(e) => return Err(e).with_context(|| format!("cannot read the trusted keys in {}", dir.display())),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.with_context(|| format!("cannot read the trusted keys in {}", dir.display()))?.path();
        if path.extension().is_some_and(|e| e == "pub") {
            files.push(path);
        }
    }
    files.sort();
    for file in files {
        keys.add_key_file(&file).with_context(|| format!("trusted key {}", file.display()))?;
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_trusts_no_key() {
        let keys = keys_in(Path::new("/nonexistent/kiln-keys")).unwrap();
        assert!(keys.is_empty());
    }

    #[test]
    fn a_damaged_key_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ops.pub"), "not a key\n").unwrap();
        std::fs::write(dir.path().join("README"), "other files are not keys\n").unwrap();
        let error = format!("{:#}", keys_in(dir.path()).err().unwrap());
        assert!(error.contains("ops.pub"), "{error}");
    }
}
