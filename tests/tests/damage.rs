//! Every byte the loader reads is covered: for three artifacts (a small
//! module, an externref module with tables and data segments, and a WASI C
//! program), as relocatable objects and as shared objects, every byte
//! position flipped three ways, every truncation, every section's contents
//! zeroed and every section header zeroed is refused. Nothing damaged
//! loads, so nothing damaged runs: no wrong result, no signal. (The header's
//! signature fields are the exception: nothing but a verified load reads
//! them, and tests/tests/signing.rs changes them under one.)
//!
//! The loads run in this process, through `Module::from_file` on one file
//! patched in place (a flip is one byte written and restored), which keeps
//! the hundreds of thousands of cases to seconds. A sample of them also
//! goes through `kiln run`, which must print `error:` and exit 1.

mod common;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use kiln_compiler::{compile_file, CompileOptions, Emit};
use kiln_loader::Engine;
use object::{Object, ObjectSection};

/// The three ways each byte is flipped.
const FLIPS: [u8; 3] = [0x01, 0x80, 0xff];
/// Damaged files of each artifact also run through `kiln run`.
const CLI_SAMPLES: usize = 48;

/// Compiles `tests/examples/wc.c` for WASI with clang, the toolchain that
/// `make programs` installs.
fn wasi_program(dir: &Path) -> PathBuf {
    let source = common::tests_path("examples/wc.c");
    let object = dir.join("wc.c.o");
    let wasm = dir.join("wc.wasm");
    // Compiled, then linked without `-O`, so that clang never runs
    // binaryen's `wasm-opt` (which Emscripten's package installs) on it.
    let steps: [&[&std::ffi::OsStr]; 2] = [
        &["-O2".as_ref(), "-c".as_ref(), source.as_os_str(), "-o".as_ref(), object.as_os_str()],
        &[object.as_os_str(), "-o".as_ref(), wasm.as_os_str()],
    ];
    for args in steps {
        let status = Command::new("clang")
            .args(["--target=wasm32-wasi", "--sysroot=/usr"])
            .args(args)
            .status()
            .unwrap_or_else(|e| panic!("clang for wasm32-wasi not found ({e}): run `make programs` first"));
        assert!(status.success(), "clang could not build {}: run tests/install-deps.sh", source.display());
    }
    wasm
}

fn inputs(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("sieve.wat", common::tests_path("examples/sieve.wat")),
        ("multi.wat", common::tests_path("wat/multi.wat")),
        ("wc.c", wasi_program(dir)),
    ]
}

/// One artifact file, damaged in place and restored after each case.
struct Subject {
    name: String,
    path: PathBuf,
    pristine: Vec<u8>,
    file: File,
    engine: Engine,
}

impl Subject {
    fn new(name: String, path: PathBuf) -> Subject {
        let pristine = std::fs::read(&path).expect("reads the artifact");
        let file = OpenOptions::new().read(true).write(true).open(&path).expect("opens the artifact");
        let engine = Engine::default();
        let subject = Subject { name, path, pristine, file, engine };
        kiln_tests::module_from_file(&subject.engine, &subject.path)
            .unwrap_or_else(|e| panic!("{}: the pristine artifact must load: {e}", subject.name));
        subject
    }

    fn refused(&self) -> bool {
        kiln_tests::module_from_file(&self.engine, &self.path).is_err()
    }

    /// Writes `bytes` at `at`, asks for a refusal, and restores the file.
    fn with_patch(&self, at: usize, bytes: &[u8], what: &dyn Fn() -> String) {
        self.file.write_all_at(bytes, at as u64).expect("patches");
        let refused = self.refused();
        self.file.write_all_at(&self.pristine[at..at + bytes.len()], at as u64).expect("restores");
        assert!(refused, "{}: {} was loaded", self.name, what());
    }

    /// Where the header's signature fields lie: the one range an
    /// unverified load never reads (nor the digest covers), as signing
    /// writes it after sealing. A verified load refuses any change of it
    /// (tests/tests/signing.rs).
    fn signature_fields(&self) -> std::ops::Range<usize> {
        let file = object::File::parse(&*self.pristine).expect("parses");
        let meta = file.section_by_name(kiln_format::SECTION_META).and_then(|s| s.file_range()).expect("has a header");
        let start = meta.0 as usize + kiln_format::header_offsets::SIGNATURE_FIELDS_OFFSET;
        start..start + kiln_format::header_offsets::SIGNATURE_FIELDS_WIDTH
    }

    /// Every position flipped every way, but the signature fields; the
    /// number of cases.
    fn flip_every_byte(&self) -> usize {
        let unread = self.signature_fields();
        for at in (0..self.pristine.len()).filter(|at| !unread.contains(at)) {
            for flip in FLIPS {
                self.with_patch(at, &[self.pristine[at] ^ flip], &|| format!("byte {at:#x} xor {flip:#04x}"));
            }
        }
        (self.pristine.len() - unread.len()) * FLIPS.len()
    }

    /// Every truncation, longest first; the number of cases.
    fn truncate_everywhere(&self) -> usize {
        for len in (0..self.pristine.len()).rev() {
            self.file.set_len(len as u64).expect("truncates");
            assert!(self.refused(), "{}: truncated to {len} bytes, it was loaded", self.name);
        }
        self.file.write_all_at(&self.pristine, 0).expect("restores");
        self.pristine.len()
    }

    /// File ranges of every section's contents and of every section
    /// header, as (what, start, len).
    fn structures(&self) -> Vec<(String, usize, usize)> {
        let file = object::File::parse(&*self.pristine).expect("parses");
        let mut out = Vec::new();
        for section in file.sections() {
            let name = section.name().unwrap_or("?").to_string();
            if let Some((start, len)) = section.file_range().filter(|&(_, len)| len > 0) {
                out.push((format!("{name} zeroed"), start as usize, len as usize));
            }
        }
        // ELF64: e_shoff at 0x28, e_shentsize at 0x3a, e_shnum at 0x3c.
        let u64_at = |o: usize| u64::from_le_bytes(self.pristine[o..o + 8].try_into().unwrap()) as usize;
        let u16_at = |o: usize| u16::from_le_bytes(self.pristine[o..o + 2].try_into().unwrap()) as usize;
        let (shoff, shentsize, shnum) = (u64_at(0x28), u16_at(0x3a), u16_at(0x3c));
        for i in 0..shnum {
            out.push((format!("section header {i} zeroed"), shoff + i * shentsize, shentsize));
        }
        out
    }

    /// Every section and section header zeroed; the number of cases.
    fn zero_every_structure(&self) -> usize {
        let structures = self.structures();
        for (what, start, len) in &structures {
            let zeros = vec![0u8; *len];
            if self.pristine[*start..start + len] == zeros[..] {
                continue;
            }
            self.with_patch(*start, &zeros, &|| what.clone());
        }
        structures.len()
    }

    /// Damaged copies under `kiln run`: `error:` on stderr, exit code 1.
    fn through_the_cli(&self, dir: &Path) -> usize {
        let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
        let step = (self.pristine.len() / CLI_SAMPLES).max(1);
        let unread = self.signature_fields();
        for at in (0..self.pristine.len()).step_by(step).filter(|at| !unread.contains(at)) {
            let mut damaged = self.pristine.clone();
            damaged[at] ^= 0xff;
            cases.push((format!("byte {at:#x} xor 0xff"), damaged));
        }
        for (what, start, len) in self.structures() {
            let mut damaged = self.pristine.clone();
            damaged[start..start + len].fill(0);
            if damaged != self.pristine {
                cases.push((what, damaged));
            }
        }
        cases.push(("truncated by half".into(), self.pristine[..self.pristine.len() / 2].to_vec()));
        let kiln = common::workspace_binary("kiln");
        let path = dir.join(format!("damaged-{}", self.name.replace(['/', ' '], "-")));
        for (what, damaged) in &cases {
            std::fs::write(&path, damaged).expect("writes the damaged copy");
            let output = Command::new(&kiln).arg("run").arg(&path).output().expect("runs kiln");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(
                output.status.code(),
                Some(1),
                "{}: {what}: kiln run gave {:?}: {stderr}",
                self.name,
                output.status
            );
            assert!(stderr.starts_with("error:"), "{}: {what}: {stderr}", self.name);
        }
        cases.len()
    }
}

#[test]
fn every_damaged_byte_truncation_and_zeroed_structure_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut subjects = Vec::new();
    for (name, input) in inputs(dir.path()) {
        for (emit, extension) in [(Emit::Object, "o"), (Emit::SharedObject, "so")] {
            let path = dir.path().join(format!("{name}.{extension}"));
            compile_file(&input, &path, &CompileOptions { emit, ..CompileOptions::default() })
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            subjects.push((format!("{name}.{extension}"), path));
        }
    }
    // Two at a time: the machine's cores, each on its own file.
    let reports: Vec<String> = std::thread::scope(|scope| {
        let chunks: Vec<_> = subjects.chunks(subjects.len().div_ceil(2)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let dir = dir.path();
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|(name, path)| {
                            let subject = Subject::new(name.clone(), path.clone());
                            let flips = subject.flip_every_byte();
                            let cuts = subject.truncate_everywhere();
                            let zeroed = subject.zero_every_structure();
                            let cli = subject.through_the_cli(dir);
                            format!(
                                "{name}: {} bytes; refused {flips} flips, {cuts} truncations, {zeroed} zeroed \
                                 sections and section headers; {cli} through kiln run",
                                subject.pristine.len()
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("no case was loaded")).collect()
    });
    for report in reports {
        println!("{report}");
    }
}
