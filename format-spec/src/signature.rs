//! Artifact signatures: who vouches for an artifact (SPEC.md 2.1.1).
//!
//! Loading an artifact runs native code from it, so the loader can only be
//! as safe as the artifact is trustworthy. The digest catches accidents; an
//! attacker who can change the file can change its digest too. A signature
//! binds the file to a key its builder holds: a loader given the public keys
//! it trusts refuses any artifact that one of them did not sign.
//!
//! The scheme is Ed25519ph (RFC 8032 5.1, the prehashed variant): SHA-512
//! over the whole file with the header's signature fields read as zeros,
//! signed with the context [`SIGNATURE_CONTEXT`]. The digest field is
//! inside the signed bytes, so a signed file is sealed first and signed
//! second; the digest reads the signature fields as zeros as well, so
//! signing (or re-signing with another key) changes no digest. Prehashing
//! lets the verifier hash the mapped file in one pass, with no copy; the
//! context keeps a kiln signature from being valid for anything else the
//! key might sign.
//!
//! Ed25519 signatures are deterministic: the same file and key always give
//! the same bytes, so signed builds stay reproducible.
//!
//! The cryptography sits behind the crate features `verify` (the loader's
//! side) and `sign` (kilnc's and `kiln sign`'s); the layout facts here are
//! always available.

#[cfg(any(feature = "sign", feature = "verify"))]
use crate::header_offsets::{SIGNATURE_FIELDS_OFFSET, SIGNATURE_FIELDS_WIDTH, SIGNATURE_OFFSET, SIGNER_OFFSET};

/// The Ed25519ph context string of kiln artifact signatures.
pub const SIGNATURE_CONTEXT: &[u8] = b"kiln artifact signature v1";

/// The first word of a public key file.
pub const PUBLIC_KEY_LABEL: &str = "kiln-ed25519-public";
/// The first word of a secret key file.
pub const SECRET_KEY_LABEL: &str = "kiln-ed25519-secret";

/// Why an artifact's signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature fields are zero.
    #[error("the artifact is not signed (sign it with `kiln sign` or `kilnc --sign`)")]
    Unsigned,
    /// Signed by a key not among the trusted ones.
    #[error("the artifact is signed by key {0}, which is not trusted")]
    UntrustedKey(String),
    /// The signature does not match the file: it was changed after signing.
    #[error("bad signature: the artifact was changed after it was signed by {0}")]
    BadSignature(String),
    /// The header's signature fields lie outside the file.
    #[error("the artifact header is truncated: no signature fields")]
    NoHeader,
    /// Signing refused a file whose digest does not match: it is damaged,
    /// or not finished, and a signature would vouch for the damage.
    #[error("the artifact's digest does not match its bytes: it is damaged, not signing it")]
    NotSealed,
}

/// Why a key file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A short name of a public key for messages: `ed25519:` and its first 8
/// bytes in hex.
pub fn key_fingerprint(public_key: &[u8; 32]) -> String {
    format!("ed25519:{}", to_hex(&public_key[..8]))
}

/// The text of a key file: `LABEL HEX` and a newline.
pub fn encode_key_file(label: &str, key: &[u8; 32]) -> String {
    format!("{label} {}\n", to_hex(key))
}

/// The 32 key bytes of a key file's `text`, which must be `label` and 64
/// hex digits.
pub fn decode_key_file(label: &str, text: &str) -> Result<[u8; 32], KeyError> {
    let mut words = text.split_whitespace();
    let (Some(found), Some(hex), None) = (words.next(), words.next(), words.next()) else {
        return Err(KeyError(format!("not a key file: expected `{label} <64 hex digits>`")));
    };
    if found != label {
        let other = if found == PUBLIC_KEY_LABEL || found == SECRET_KEY_LABEL { " key" } else { "" };
        return Err(KeyError(format!("expected a {label} key, found {found}{other}")));
    }
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KeyError(format!("the {label} key is not 64 hex digits")));
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("checked hex digits");
    }
    Ok(key)
}

/// Where the signature fields of `file` lie, whose `.kiln.meta` starts at
/// `meta_offset`.
#[cfg(any(feature = "sign", feature = "verify"))]
fn signature_fields(file: &[u8], meta_offset: usize) -> Result<std::ops::Range<usize>, SignatureError> {
    let start = meta_offset.checked_add(SIGNATURE_FIELDS_OFFSET).ok_or(SignatureError::NoHeader)?;
    let end = start.checked_add(SIGNATURE_FIELDS_WIDTH).ok_or(SignatureError::NoHeader)?;
    if end > file.len() {
        return Err(SignatureError::NoHeader);
    }
    Ok(start..end)
}

#[cfg(any(feature = "sign", feature = "verify"))]
mod crypto {
    #[cfg(feature = "sign")]
    use ed25519_dalek::SigningKey;
    use ed25519_dalek::{Digest, Sha512};
    #[cfg(feature = "verify")]
    use ed25519_dalek::{Signature, VerifyingKey};

    use super::*;
    use crate::header_offsets::{SIGNATURE_WIDTH, SIGNER_WIDTH};

    /// SHA-512 of `file` with the signature fields `fields` as zeros: the
    /// message that Ed25519ph signs.
    fn prehash(file: &[u8], fields: std::ops::Range<usize>) -> Sha512 {
        let mut hasher = Sha512::new();
        hasher.update(&file[..fields.start]);
        hasher.update([0u8; SIGNATURE_FIELDS_WIDTH]);
        hasher.update(&file[fields.end..]);
        hasher
    }

    /// Public keys whose signatures a loader accepts.
    #[cfg(feature = "verify")]
    #[derive(Clone, Debug, Default)]
    pub struct TrustedKeys {
        keys: Vec<VerifyingKey>,
    }

    #[cfg(feature = "verify")]
    impl TrustedKeys {
        /// No key: every artifact is refused.
        pub fn new() -> Self {
            TrustedKeys::default()
        }

        /// Adds the 32-byte Ed25519 public key `key`.
        pub fn add_key(&mut self, key: &[u8; 32]) -> Result<&mut Self, KeyError> {
            let key = VerifyingKey::from_bytes(key)
                .map_err(|_| KeyError(format!("{} is not an Ed25519 public key", key_fingerprint(key))))?;
            if !self.keys.contains(&key) {
                self.keys.push(key);
            }
            Ok(self)
        }

        /// Adds the key of a public key file's text (`kiln keygen`'s `.pub`).
        pub fn add_key_file_text(&mut self, text: &str) -> Result<&mut Self, KeyError> {
            self.add_key(&decode_key_file(PUBLIC_KEY_LABEL, text)?)
        }

        /// Adds the key of the public key file at `path`.
        pub fn add_key_file(&mut self, path: &std::path::Path) -> Result<&mut Self, KeyError> {
            let text = std::fs::read_to_string(path)
                .map_err(|e| KeyError(format!("cannot read public key {}: {e}", path.display())))?;
            self.add_key_file_text(&text).map_err(|e| KeyError(format!("{}: {e}", path.display())))
        }

        /// Whether no key is trusted.
        pub fn is_empty(&self) -> bool {
            self.keys.is_empty()
        }

        /// Checks that `file` (`.kiln.meta` at `meta_offset`) is signed by
        /// one of these keys and unchanged since; returns the signer.
        pub fn verify(&self, file: &[u8], meta_offset: usize) -> Result<[u8; 32], SignatureError> {
            let fields = signature_fields(file, meta_offset)?;
            let (signer_at, signature_at) = (meta_offset + SIGNER_OFFSET, meta_offset + SIGNATURE_OFFSET);
            let signer: [u8; SIGNER_WIDTH] = file[signer_at..signer_at + SIGNER_WIDTH].try_into().expect("in fields");
            let signature: [u8; SIGNATURE_WIDTH] =
                file[signature_at..signature_at + SIGNATURE_WIDTH].try_into().expect("in fields");
            if signer.iter().chain(&signature).all(|&b| b == 0) {
                return Err(SignatureError::Unsigned);
            }
            let fingerprint = key_fingerprint(&signer);
            let Some(key) = self.keys.iter().find(|key| key.as_bytes() == &signer) else {
                return Err(SignatureError::UntrustedKey(fingerprint));
            };
            let signature = Signature::from_bytes(&signature);
            key.verify_prehashed_strict(prehash(file, fields), Some(SIGNATURE_CONTEXT), &signature)
                .map_err(|_| SignatureError::BadSignature(fingerprint))?;
            Ok(signer)
        }
    }

    /// An Ed25519 secret key that signs artifacts.
    #[cfg(feature = "sign")]
    pub struct ArtifactSigner {
        key: SigningKey,
    }

    #[cfg(feature = "sign")]
    impl ArtifactSigner {
        /// The signer of the 32-byte secret key (seed) `secret`.
        pub fn from_secret(secret: &[u8; 32]) -> Self {
            ArtifactSigner { key: SigningKey::from_bytes(secret) }
        }

        /// The signer of a secret key file's text (`kiln keygen`'s `.key`).
        pub fn from_key_file_text(text: &str) -> Result<Self, KeyError> {
            Ok(ArtifactSigner::from_secret(&decode_key_file(SECRET_KEY_LABEL, text)?))
        }

        /// Its public key.
        pub fn public_key(&self) -> [u8; 32] {
            self.key.verifying_key().to_bytes()
        }

        /// Signs the sealed `file` (`.kiln.meta` at `meta_offset`) in place,
        /// replacing any earlier signature.
        pub fn sign(&self, file: &mut [u8], meta_offset: usize) -> Result<(), SignatureError> {
            let fields = signature_fields(file, meta_offset)?;
            let recorded = crate::recorded_digest(file, meta_offset).ok_or(SignatureError::NoHeader)?;
            if crate::file_digest(file, meta_offset) != Some(recorded) {
                return Err(SignatureError::NotSealed);
            }
            let signature = self
                .key
                .sign_prehashed(prehash(file, fields.clone()), Some(SIGNATURE_CONTEXT))
                .expect("the context is shorter than 256 bytes");
            let (signer_at, signature_at) = (meta_offset + SIGNER_OFFSET, meta_offset + SIGNATURE_OFFSET);
            file[signer_at..signer_at + SIGNER_WIDTH].copy_from_slice(&self.public_key());
            file[signature_at..signature_at + SIGNATURE_WIDTH].copy_from_slice(&signature.to_bytes());
            Ok(())
        }
    }
}

#[cfg(any(feature = "sign", feature = "verify"))]
pub use crypto::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_round_trip_and_refuse_the_other_kind() {
        let key = [0x5au8; 32];
        let text = encode_key_file(PUBLIC_KEY_LABEL, &key);
        assert_eq!(decode_key_file(PUBLIC_KEY_LABEL, &text), Ok(key));
        let err = decode_key_file(SECRET_KEY_LABEL, &text).unwrap_err();
        assert!(err.0.contains("found kiln-ed25519-public key"), "{err}");
        assert!(decode_key_file(PUBLIC_KEY_LABEL, "kiln-ed25519-public 12").is_err());
        assert!(decode_key_file(PUBLIC_KEY_LABEL, "").is_err());
    }

    #[cfg(all(feature = "sign", feature = "verify"))]
    #[test]
    fn a_signed_file_verifies_and_any_changed_byte_is_refused() {
        let meta = 100;
        let mut file: Vec<u8> = (0..700u32).map(|i| (i * 13) as u8).collect();
        file[meta + SIGNATURE_FIELDS_OFFSET..meta + SIGNATURE_FIELDS_OFFSET + SIGNATURE_FIELDS_WIDTH].fill(0);
        let signer = ArtifactSigner::from_secret(&[1; 32]);
        assert_eq!(signer.sign(&mut file.clone(), meta), Err(SignatureError::NotSealed));
        assert!(crate::seal_file(&mut file, meta));
        let mut trusted = TrustedKeys::new();
        assert_eq!(trusted.verify(&file, meta), Err(SignatureError::Unsigned));
        signer.sign(&mut file, meta).unwrap();
        let fingerprint = key_fingerprint(&signer.public_key());
        assert_eq!(trusted.verify(&file, meta), Err(SignatureError::UntrustedKey(fingerprint.clone())));
        trusted.add_key(&signer.public_key()).unwrap();
        assert_eq!(trusted.verify(&file, meta), Ok(signer.public_key()));
        let mut again = file.clone();
        signer.sign(&mut again, meta).unwrap();
        assert_eq!(again, file, "signing is deterministic");
        for at in (0..file.len()).step_by(7) {
            let mut damaged = file.clone();
            damaged[at] ^= 0x10;
            assert!(trusted.verify(&damaged, meta).is_err(), "byte {at} changed and still verified");
        }
        assert_eq!(trusted.verify(&file[..meta + 150], meta), Err(SignatureError::NoHeader));
    }
}
