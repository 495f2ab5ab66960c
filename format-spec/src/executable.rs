//! What `kilnc --emit exe` embeds in a standalone executable for the kiln
//! runtime library (`kiln-runtime`) to find at run time: the artifact, and
//! the run policy chosen at build time (SPEC.md 1.4).
//!
//! ```
//! use kiln_format::{Preopen, RunPolicy};
//!
//! let policy = RunPolicy {
//!     preopens: vec![Preopen::parse("data::/data").unwrap()],
//!     env: vec![(b"LANG".to_vec(), b"C".to_vec())],
//!     inherit_env: false,
//! };
//! assert_eq!(RunPolicy::decode(&policy.encode()).unwrap(), policy);
//! ```

use crate::{FormatError, Result};

/// Symbol of the first byte of the embedded artifact.
pub const EMBEDDED_ARTIFACT_SYMBOL: &str = "kiln_embedded_artifact";
/// Symbol of a little-endian u64: the length of the embedded artifact.
pub const EMBEDDED_ARTIFACT_LEN_SYMBOL: &str = "kiln_embedded_artifact_len";
/// Symbol of the first byte of the encoded [`RunPolicy`].
pub const EMBEDDED_POLICY_SYMBOL: &str = "kiln_embedded_policy";
/// Symbol of a little-endian u64: the length of the encoded [`RunPolicy`].
pub const EMBEDDED_POLICY_LEN_SYMBOL: &str = "kiln_embedded_policy_len";

/// Section holding the embedded artifact, read-only.
pub const SECTION_EMBEDDED_ARTIFACT: &str = ".kiln.embedded.artifact";
/// Section holding the encoded run policy and both lengths, read-only.
pub const SECTION_EMBEDDED_POLICY: &str = ".kiln.embedded.policy";

/// Alignment of the embedded artifact in memory: a page, so that its
/// `.text` (itself page-aligned in the artifact, 1.2) lies on pages of its
/// own and can be made executable where it lies.
pub const EMBEDDED_ARTIFACT_ALIGN: u64 = 4096;

/// Magic of an encoded [`RunPolicy`].
pub const RUN_POLICY_MAGIC: [u8; 8] = *b"KILNRUN\0";
/// Version of the [`RunPolicy`] encoding; the runtime accepts exactly its own.
pub const RUN_POLICY_VERSION: u32 = 1;

/// Flag bit of [`RunPolicy::inherit_env`].
const FLAG_INHERIT_ENV: u32 = 1;

/// Where decoding errors point.
const SECTION: &str = "the embedded run policy";

/// What a standalone executable's WASI program may see, fixed when it was
/// built: these preopens and this environment, and nothing else. Its
/// arguments and standard streams are always the process's own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RunPolicy {
    /// Directories to preopen, in order (descriptors 3, 4, ...).
    pub preopens: Vec<Preopen>,
    /// Environment variables, name and value, in order; with
    /// [`inherit_env`](Self::inherit_env) they replace host variables of
    /// the same name.
    pub env: Vec<(Vec<u8>, Vec<u8>)>,
    /// Pass the whole environment of the process on at run time.
    pub inherit_env: bool,
}

/// One preopened directory: a host path and the name the guest sees it by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Preopen {
    /// The host directory, as written: a relative path is resolved against
    /// the working directory of the process that opens it.
    pub host: Vec<u8>,
    /// The guest's name for it.
    pub guest: Vec<u8>,
}

impl Preopen {
    /// Parses `HOST[::GUEST]`, the syntax of `kiln run --dir` and
    /// `kilnc --dir`: without `::GUEST` the guest sees HOST as written.
    pub fn parse(spec: &str) -> std::result::Result<Preopen, String> {
        let (host, guest) = spec.split_once("::").unwrap_or((spec, spec));
        if host.is_empty() {
            return Err(format!("`{spec}`: the host directory is empty (write HOST[::GUEST])"));
        }
        if guest.is_empty() {
            return Err(format!("`{spec}`: the guest name is empty (write HOST[::GUEST])"));
        }
        Ok(Preopen { host: host.as_bytes().to_vec(), guest: guest.as_bytes().to_vec() })
    }
}

impl RunPolicy {
    /// The bytes of the policy (SPEC.md 1.4).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = RUN_POLICY_MAGIC.to_vec();
        out.extend_from_slice(&RUN_POLICY_VERSION.to_le_bytes());
        out.extend_from_slice(&(if self.inherit_env { FLAG_INHERIT_ENV } else { 0 }).to_le_bytes());
        out.extend_from_slice(&(self.preopens.len() as u32).to_le_bytes());
        for preopen in &self.preopens {
            put_bytes(&mut out, &preopen.host);
            put_bytes(&mut out, &preopen.guest);
        }
        out.extend_from_slice(&(self.env.len() as u32).to_le_bytes());
        for (name, value) in &self.env {
            put_bytes(&mut out, name);
            put_bytes(&mut out, value);
        }
        out
    }

    /// Reads a policy written by [`encode`](Self::encode), refusing
    /// another magic or version, an unknown flag, truncation and bytes
    /// left over.
    pub fn decode(bytes: &[u8]) -> Result<RunPolicy> {
        let mut reader = Reader { bytes, at: 0 };
        if reader.take(RUN_POLICY_MAGIC.len())? != RUN_POLICY_MAGIC {
            return Err(FormatError::new(SECTION, 0, "bad magic: not a kiln run policy"));
        }
        let version = reader.u32()?;
        if version != RUN_POLICY_VERSION {
            return Err(FormatError::new(
                SECTION,
                8,
                format!("run policy version {version}, this runtime reads version {RUN_POLICY_VERSION}"),
            ));
        }
        let flags = reader.u32()?;
        if flags & !FLAG_INHERIT_ENV != 0 {
            return Err(FormatError::new(SECTION, 12, format!("unknown flags {flags:#x}")));
        }
        let mut policy = RunPolicy { inherit_env: flags & FLAG_INHERIT_ENV != 0, ..RunPolicy::default() };
        for _ in 0..reader.u32()? {
            let host = reader.bytes()?.to_vec();
            let guest = reader.bytes()?.to_vec();
            policy.preopens.push(Preopen { host, guest });
        }
        for _ in 0..reader.u32()? {
            let name = reader.bytes()?.to_vec();
            let value = reader.bytes()?.to_vec();
            policy.env.push((name, value));
        }
        if reader.at != bytes.len() {
            return Err(FormatError::new(SECTION, reader.at, "bytes after the last environment variable"));
        }
        Ok(policy)
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Reads the encoding front to back.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(len).filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| FormatError::new(SECTION, self.at, format!("truncated: {len} bytes expected")))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn u32(&mut self) -> Result<u32> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RunPolicy {
        RunPolicy {
            preopens: vec![Preopen::parse("box::/sandbox").unwrap(), Preopen::parse("/tmp").unwrap()],
            env: vec![(b"A".to_vec(), b"1".to_vec()), (b"EMPTY".to_vec(), Vec::new())],
            inherit_env: true,
        }
    }

    #[test]
    fn policy_round_trips() {
        let policy = sample();
        assert_eq!(RunPolicy::decode(&policy.encode()).unwrap(), policy);
        assert_eq!(RunPolicy::decode(&RunPolicy::default().encode()).unwrap(), RunPolicy::default());
    }

    #[test]
    fn dir_syntax_matches_kiln_run() {
        let mapped = Preopen::parse("host/dir::/guest").unwrap();
        assert_eq!((mapped.host.as_slice(), mapped.guest.as_slice()), (&b"host/dir"[..], &b"/guest"[..]));
        let same = Preopen::parse("data").unwrap();
        assert_eq!((same.host.as_slice(), same.guest.as_slice()), (&b"data"[..], &b"data"[..]));
        assert!(Preopen::parse("").is_err());
        assert!(Preopen::parse("::/guest").is_err());
        assert!(Preopen::parse("host::").is_err());
    }

    #[test]
    fn damaged_policies_are_refused() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            assert!(RunPolicy::decode(&bytes[..len]).is_err(), "truncated to {len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(RunPolicy::decode(&longer).unwrap_err().to_string().contains("bytes after"));
        let mut bad_magic = bytes.clone();
        bad_magic[0] = b'X';
        assert!(RunPolicy::decode(&bad_magic).unwrap_err().to_string().contains("magic"));
        let mut bad_version = bytes.clone();
        bad_version[8] = 9;
        assert!(RunPolicy::decode(&bad_version).unwrap_err().to_string().contains("version 9"));
        let mut bad_flags = bytes;
        bad_flags[12] = 2;
        assert!(RunPolicy::decode(&bad_flags).unwrap_err().to_string().contains("unknown flags"));
    }
}
