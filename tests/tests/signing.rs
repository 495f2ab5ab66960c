//! Signed artifacts (SPEC.md 2.1.1): `kiln keygen`, `kilnc --sign`,
//! `kiln sign`, `kiln verify`, `kiln run --trust` and
//! `Module::from_file_verified`.
//!
//! A signed artifact runs under `--trust`. Any byte of it changed (a sample
//! across every section, the header's signature fields included) is
//! refused: as damage by the digest, and, when the change is resealed the
//! way an attacker would recompute the digest, as a bad signature. The
//! wrong key and no signature are refused too, all before any code is
//! mapped executable.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kiln_format::header_offsets as at;
use kiln_format::{seal_file, SECTION_META};
use kiln_loader::{Engine, Module, TrustedKeys};
use object::{Object, ObjectSection};

fn kiln(args: &[&OsStr]) -> Output {
    Command::new(common::workspace_binary("kiln")).args(args).output().expect("run kiln")
}

fn kilnc(args: &[&OsStr]) -> Output {
    Command::new(common::workspace_binary("kilnc")).args(args).output().expect("run kilnc")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A fresh directory with two key pairs, `release` and `other`.
struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    fn new() -> Keys {
        let dir = tempfile::tempdir().unwrap();
        for name in ["release", "other"] {
            let out = kiln(&[OsStr::new("keygen"), dir.path().join(name).as_os_str()]);
            assert!(out.status.success(), "keygen: {}", text(&out));
        }
        Keys { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn trusted(&self, public: &str) -> TrustedKeys {
        let mut keys = TrustedKeys::new();
        keys.add_key_file(&self.path(public)).unwrap();
        keys
    }
}

/// `tests/examples/sieve.wat` compiled into `out`, signed with `key` if
/// given; `so` makes a shared object.
fn compile(out: &Path, key: Option<&Path>, so: bool) {
    let source = common::tests_path("examples/sieve.wat");
    let mut args: Vec<&OsStr> = vec![source.as_os_str(), OsStr::new("-o"), out.as_os_str()];
    if let Some(key) = key {
        args.extend([OsStr::new("--sign"), key.as_os_str()]);
    }
    if so {
        args.extend([OsStr::new("--emit"), OsStr::new("so")]);
    }
    let result = kilnc(&args);
    assert!(result.status.success(), "kilnc: {}", text(&result));
}

fn meta_offset(bytes: &[u8]) -> usize {
    let file = object::File::parse(bytes).unwrap();
    file.section_by_name(SECTION_META).and_then(|s| s.file_range()).unwrap().0 as usize
}

/// Byte positions to change: three in every section's contents (first,
/// middle, last), the ELF header, and every field of the kiln header.
fn sample_positions(bytes: &[u8]) -> Vec<(String, usize)> {
    let file = object::File::parse(bytes).unwrap();
    let mut positions = vec![("ELF header".to_owned(), 0x12), ("section headers".to_owned(), bytes.len() - 10)];
    for section in file.sections() {
        let Some((start, len)) = section.file_range() else { continue };
        if len == 0 {
            continue;
        }
        let name = section.name().unwrap_or("?").to_owned();
        for at in [start, start + len / 2, start + len - 1] {
            positions.push((name.clone(), at as usize));
        }
    }
    let meta = meta_offset(bytes);
    for (field, at) in [
        ("format version", at::FORMAT_VERSION_OFFSET),
        ("cpu features", at::CPU_FEATURES_OFFSET),
        ("digest", at::DIGEST_OFFSET),
        ("signer", at::SIGNER_OFFSET + 5),
        ("signature", at::SIGNATURE_OFFSET + 40),
    ] {
        positions.push((format!("header {field}"), meta + at));
    }
    positions
}

#[test]
fn a_signed_artifact_runs_under_trust_and_a_changed_byte_never_does() {
    let keys = Keys::new();
    let engine = Engine::default();
    let trusted = keys.trusted("release.pub");
    for so in [false, true] {
        let signed = keys.path(if so { "signed.so" } else { "signed.o" });
        compile(&signed, Some(&keys.path("release.key")), so);
        let run = kiln(&[
            OsStr::new("run"),
            signed.as_os_str(),
            OsStr::new("--invoke"),
            OsStr::new("main"),
            OsStr::new("--trust"),
            keys.path("release.pub").as_os_str(),
        ]);
        assert!(run.status.success(), "{}", text(&run));
        assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "78498");
        Module::from_file_verified(&engine, &signed, &trusted).expect("a signed artifact loads verified");

        let pristine = std::fs::read(&signed).unwrap();
        let meta = meta_offset(&pristine);
        let damaged = keys.path(if so { "damaged.so" } else { "damaged.o" });
        let positions = sample_positions(&pristine);
        let mut bad_signatures = 0;
        for (place, at) in &positions {
            let (place, at) = (place, *at);
            let mut bytes = pristine.clone();
            bytes[at] ^= 0x20;
            std::fs::write(&damaged, &bytes).unwrap();
            let err = Module::from_file_verified(&engine, &damaged, &trusted)
                .expect_err(&format!("a byte of {place} at {at:#x} changed, and it loaded"));
            assert!(matches!(err, kiln_loader::Error::Load(_)), "{place} at {at:#x}: not a load error: {err}");
            // Resealed, as anyone who can write the file can do: the digest
            // passes, the signature does not.
            if !(meta + at::SEAL_OFFSET..meta + at::SEAL_OFFSET + at::SEAL_WIDTH).contains(&at)
                && seal_file(&mut bytes, meta)
            {
                std::fs::write(&damaged, &bytes).unwrap();
                let err = Module::from_file_verified(&engine, &damaged, &trusted)
                    .expect_err(&format!("{place} at {at:#x} changed and resealed, and it loaded"));
                let message = err.to_string();
                // A changed field the loader checks before the digest
                // (the version, a section header) may be what it names.
                let refused_earlier =
                    ["format version", "magic", "header", "ELF", "section"].iter().any(|why| message.contains(why));
                assert!(message.contains("bad signature") || refused_earlier, "{place} at {at:#x}: {message}");
                bad_signatures += usize::from(message.contains("bad signature"));
            }
        }
        // Most changes reach the signature check: every one in a section's
        // contents past the ELF structure the loader reads first.
        assert!(bad_signatures * 2 > positions.len(), "{bad_signatures} of {} reached the signature", positions.len());
        let out = kiln(&[
            OsStr::new("run"),
            damaged.as_os_str(),
            OsStr::new("--invoke"),
            OsStr::new("main"),
            OsStr::new("--trust"),
            keys.path("release.pub").as_os_str(),
        ]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains("error:"), "{}", text(&out));
        assert!(out.stdout.is_empty(), "nothing ran: {}", text(&out));
    }
}

#[test]
fn the_signature_fields_themselves_are_checked() {
    let keys = Keys::new();
    let engine = Engine::default();
    let trusted = keys.trusted("release.pub");
    let signed = keys.path("signed.o");
    compile(&signed, Some(&keys.path("release.key")), false);
    let pristine = std::fs::read(&signed).unwrap();
    let meta = meta_offset(&pristine);
    for (field, offset, width) in
        [("signer", at::SIGNER_OFFSET, at::SIGNER_WIDTH), ("signature", at::SIGNATURE_OFFSET, at::SIGNATURE_WIDTH)]
    {
        for i in [0, width / 2, width - 1] {
            let mut bytes = pristine.clone();
            bytes[meta + offset + i] ^= 1;
            // The digest leaves these fields out: only the signature check
            // can refuse the change.
            let err = Module::from_bytes_verified(&engine, &bytes, &trusted).expect_err(field).to_string();
            let expected = if field == "signer" { "not trusted" } else { "bad signature" };
            assert!(err.contains(expected), "{field} byte {i}: {err}");
        }
    }
}

#[test]
fn the_wrong_key_and_no_signature_are_refused() {
    let keys = Keys::new();
    let engine = Engine::default();
    let unsigned = keys.path("unsigned.o");
    compile(&unsigned, None, false);
    let signed = keys.path("signed.o");
    compile(&signed, Some(&keys.path("release.key")), false);

    let err = Module::from_file_verified(&engine, &unsigned, &keys.trusted("release.pub")).unwrap_err().to_string();
    assert!(err.contains("not signed"), "{err}");
    let err = Module::from_file_verified(&engine, &signed, &keys.trusted("other.pub")).unwrap_err().to_string();
    assert!(err.contains("not trusted"), "{err}");
    let err = Module::from_file_verified(&engine, &signed, &TrustedKeys::new()).unwrap_err().to_string();
    assert!(err.contains("not trusted"), "no key at all: {err}");
    let mut both = keys.trusted("other.pub");
    both.add_key_file(&keys.path("release.pub")).unwrap();
    Module::from_file_verified(&engine, &signed, &both).expect("one of two trusted keys signed it");

    for (file, key, why) in [(&unsigned, "release.pub", "not signed"), (&signed, "other.pub", "not trusted")] {
        for command in ["run", "verify"] {
            let mut args: Vec<&OsStr> = vec![OsStr::new(command), file.as_os_str()];
            if command == "run" {
                args.extend([OsStr::new("--invoke"), OsStr::new("main")]);
            }
            let public = keys.path(key);
            args.extend([OsStr::new("--trust"), public.as_os_str()]);
            let out = kiln(&args);
            assert_eq!(out.status.code(), Some(1), "kiln {command}: {}", text(&out));
            assert!(text(&out).contains(why), "kiln {command}: {}", text(&out));
            assert!(out.stdout.is_empty(), "kiln {command} printed: {}", text(&out));
        }
    }
    let out =
        kiln(&[OsStr::new("verify"), signed.as_os_str(), OsStr::new("--trust"), keys.path("release.pub").as_os_str()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("(trusted)"), "{}", text(&out));
    // A secret key is not a public one.
    let out =
        kiln(&[OsStr::new("verify"), signed.as_os_str(), OsStr::new("--trust"), keys.path("release.key").as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("expected a kiln-ed25519-public key"), "{}", text(&out));
}

#[test]
fn signing_is_deterministic_and_kiln_sign_matches_kilnc_sign() {
    let keys = Keys::new();
    let (first, second, later) = (keys.path("a.o"), keys.path("b.o"), keys.path("later.o"));
    compile(&first, Some(&keys.path("release.key")), false);
    compile(&second, Some(&keys.path("release.key")), false);
    assert_eq!(std::fs::read(&first).unwrap(), std::fs::read(&second).unwrap(), "the same input, flags and key");

    compile(&later, None, false);
    let out = kiln(&[OsStr::new("sign"), later.as_os_str(), OsStr::new("--key"), keys.path("release.key").as_os_str()]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read(&later).unwrap(), std::fs::read(&first).unwrap(), "kiln sign after kilnc");

    // Re-signing with another key replaces the signature.
    let resigned = keys.path("resigned.o");
    let out = kiln(&[
        OsStr::new("sign"),
        later.as_os_str(),
        OsStr::new("--key"),
        keys.path("other.key").as_os_str(),
        OsStr::new("-o"),
        resigned.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let engine = Engine::default();
    Module::from_file_verified(&engine, &resigned, &keys.trusted("other.pub")).expect("re-signed");
    Module::from_file_verified(&engine, &later, &keys.trusted("release.pub")).expect("-o left the input alone");
}

#[test]
fn kiln_sign_and_keygen_refuse_without_touching_files() {
    let keys = Keys::new();
    let artifact = keys.path("app.o");
    compile(&artifact, None, false);
    let mut bytes = std::fs::read(&artifact).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&artifact, &bytes).unwrap();
    let out =
        kiln(&[OsStr::new("sign"), artifact.as_os_str(), OsStr::new("--key"), keys.path("release.key").as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("damaged"), "{}", text(&out));
    assert_eq!(std::fs::read(&artifact).unwrap(), bytes, "a refused sign changes nothing");

    let out =
        kiln(&[OsStr::new("sign"), artifact.as_os_str(), OsStr::new("--key"), keys.path("release.pub").as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("expected a kiln-ed25519-secret key"), "{}", text(&out));

    let before = std::fs::read(keys.path("release.key")).unwrap();
    let out = kiln(&[OsStr::new("keygen"), keys.path("release").as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("never overwrites"), "{}", text(&out));
    assert_eq!(std::fs::read(keys.path("release.key")).unwrap(), before);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(keys.path("release.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the secret key is readable by its owner only: {mode:o}");
    let leftovers: Vec<_> = std::fs::read_dir(keys.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    let out = kilnc(&[
        common::tests_path("examples/sieve.wat").as_os_str(),
        OsStr::new("-o"),
        keys.path("x.o").as_os_str(),
        OsStr::new("--sign"),
        keys.path("missing.key").as_os_str(),
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("cannot read secret key"), "{}", text(&out));
    assert!(!keys.path("x.o").exists(), "no output without the key");
}
