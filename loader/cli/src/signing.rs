//! `kiln keygen`, `kiln sign` and `kiln verify`: Ed25519 keys and artifact
//! signatures (format-spec SPEC.md 2.1.1).

use std::fs;
#[cfg(feature = "sign")]
use std::fs::{File, OpenOptions};
#[cfg(feature = "sign")]
use std::io::{Read, Write};
#[cfg(feature = "sign")]
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
#[cfg(feature = "sign")]
use kiln_format::signature::{encode_key_file, ArtifactSigner, PUBLIC_KEY_LABEL, SECRET_KEY_LABEL};
use kiln_format::signature::{key_fingerprint, to_hex};
use kiln_loader::TrustedKeys;

/// The keys of `--trust` files.
pub fn trusted_keys(paths: &[PathBuf]) -> Result<TrustedKeys> {
    let mut keys = TrustedKeys::new();
    for path in paths {
        keys.add_key_file(path).map_err(|e| anyhow::anyhow!("--trust: {e}"))?;
    }
    Ok(keys)
}

/// `kiln keygen NAME`: a new key pair, `NAME.key` (secret, mode 0600) and
/// `NAME.pub`. Neither may exist yet: a key is never overwritten.
#[cfg(feature = "sign")]
pub fn keygen(name: &Path) -> Result<()> {
    let secret_path = with_suffix(name, "key");
    let public_path = with_suffix(name, "pub");
    for path in [&secret_path, &public_path] {
        if path.symlink_metadata().is_ok() {
            bail!("{} exists; kiln keygen never overwrites a key", path.display());
        }
    }
    let mut seed = [0u8; 32];
    File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut seed))
        .context("cannot read /dev/urandom for a new key")?;
    let signer = ArtifactSigner::from_secret(&seed);
    write_new(&secret_path, encode_key_file(SECRET_KEY_LABEL, &seed).as_bytes(), 0o600)?;
    if let Err(e) = write_new(&public_path, encode_key_file(PUBLIC_KEY_LABEL, &signer.public_key()).as_bytes(), 0o644) {
        let _ = fs::remove_file(&secret_path);
        return Err(e);
    }
    outln!("secret key: {} (keep it private)", secret_path.display());
    outln!("public key: {} ({})", public_path.display(), key_fingerprint(&signer.public_key()));
    Ok(())
}

/// Where the header of the artifact `file` lies; a WebAssembly module is
/// refused with the commands that compile it and then `subcommand` it.
fn meta_offset(bytes: &[u8], file: &Path, subcommand: &str) -> Result<usize> {
    kiln_loader::code::meta_offset(bytes).map_err(|e| {
        crate::compile_first_load(e, file, subcommand)
            .unwrap_or_else(|e| anyhow::Error::new(e).context(file.display().to_string()))
    })
}

/// `kiln sign FILE --key KEY [-o OUT]`: signs the artifact, in place (by a
/// rename, so the file is never half-written) or into OUT.
#[cfg(feature = "sign")]
pub fn sign(file: &Path, key: &Path, output: Option<&Path>) -> Result<()> {
    let text = fs::read_to_string(key).with_context(|| format!("cannot read secret key {}", key.display()))?;
    let signer = ArtifactSigner::from_key_file_text(&text).map_err(|e| anyhow::anyhow!("{}: {e}", key.display()))?;
    let mut bytes = fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let meta = meta_offset(&bytes, file, "sign")?;
    signer.sign(&mut bytes, meta).with_context(|| format!("{}", file.display()))?;
    let output = output.unwrap_or(file);
    let mode = fs::metadata(file).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o644);
    replace_file(output, &bytes, mode)?;
    outln!("{}: signed by {}", output.display(), key_fingerprint(&signer.public_key()));
    Ok(())
}

/// `kiln verify FILE --trust PUB...`: whether one of the keys signed the
/// artifact, checked as `kiln run --trust` checks it (the digest first).
pub fn verify(file: &Path, trust: &[PathBuf]) -> Result<()> {
    if trust.is_empty() {
        bail!("kiln verify needs at least one --trust PUBLIC_KEY");
    }
    let keys = trusted_keys(trust)?;
    let bytes = fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let meta = meta_offset(&bytes, file, "verify")?;
    let recorded = kiln_format::recorded_digest(&bytes, meta);
    if recorded.is_none() || kiln_format::file_digest(&bytes, meta) != recorded {
        bail!("{}: digest mismatch: the artifact is damaged", file.display());
    }
    let signer = keys.verify(&bytes, meta).with_context(|| format!("{}", file.display()))?;
    outln!("{}: signed by {} (trusted), key {}", file.display(), key_fingerprint(&signer), to_hex(&signer));
    Ok(())
}

/// `NAME.SUFFIX`, keeping any dots NAME has.
#[cfg(feature = "sign")]
fn with_suffix(name: &Path, suffix: &str) -> PathBuf {
    let mut path = name.as_os_str().to_owned();
    path.push(".");
    path.push(suffix);
    PathBuf::from(path)
}

/// Creates `path`, which must not exist, with `mode`.
#[cfg(feature = "sign")]
fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents).and_then(|()| file.sync_all()).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes `contents` to a new file beside `path` and renames it over
/// `path`: readers see the old file or the new one, never a part.
#[cfg(feature = "sign")]
fn replace_file(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path.file_name().with_context(|| format!("{} names no file", path.display()))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".kiln-sign-{}", std::process::id()));
    let temp = dir.join(temp_name);
    let written = write_new(&temp, contents, mode)
        .and_then(|()| fs::rename(&temp, path).with_context(|| format!("cannot replace {}", path.display())));
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}
