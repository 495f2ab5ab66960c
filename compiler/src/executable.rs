//! Linking an artifact into a standalone executable (`kilnc --emit exe`,
//! SPEC.md 1.4): a small ELF object embeds the artifact and the run
//! policy, and the system `cc` links it with the kiln runtime library,
//! whose C `main` runs the artifact.

use std::ffi::OsString;
use std::io::{ErrorKind, Write};
use std::path::Path;
use std::process::Command;

use kiln_format::{
    EMBEDDED_ARTIFACT_ALIGN, EMBEDDED_ARTIFACT_LEN_SYMBOL, EMBEDDED_ARTIFACT_SYMBOL, EMBEDDED_POLICY_LEN_SYMBOL,
    EMBEDDED_POLICY_SYMBOL, SECTION_EMBEDDED_ARTIFACT, SECTION_EMBEDDED_POLICY,
};
use object::write::{Object, SectionId, Symbol, SymbolSection};
use object::{Architecture, BinaryFormat, Endianness, SectionKind, SymbolFlags, SymbolKind, SymbolScope};

use crate::driver::{output_dir, set_mode, write_error};
use crate::options::ExecutableOptions;
use crate::{CompileError, Result};

/// The system libraries that the kiln runtime, a Rust static library,
/// needs: what `cargo rustc -p kiln-runtime --release -- --print
/// native-static-libs` prints for x86_64-unknown-linux-gnu.
const RUNTIME_SYSTEM_LIBS: [&str; 8] = ["-ldl", "-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl", "-lc"];

/// Linker flags: drop the runtime's unused code, and keep the stack
/// non-executable (the embedding object says nothing about it).
const LINK_FLAGS: [&str; 2] = ["-Wl,--gc-sections", "-Wl,-z,noexecstack"];

/// Links the artifact `artifact` and `options.policy` with
/// `options.runtime_lib` into the executable `output`.
///
/// The embedding object and the linked executable are temporary files next
/// to `output`; the executable is renamed over `output` only when the link
/// succeeded, so `output` is never left partial. Its mode is 0755 less the
/// umask.
pub fn link_executable(artifact: &[u8], options: &ExecutableOptions, output: &Path) -> Result<()> {
    check_runtime_lib(&options.runtime_lib)?;
    let dir = output_dir(output);
    let write_error = write_error(output);
    let temp = |suffix: &str| tempfile::Builder::new().prefix(".kilnc-").suffix(suffix).tempfile_in(dir);
    let mut embedding = temp(".o").map_err(write_error)?;
    embedding.write_all(&embedding_object(artifact, &options.policy.encode())?).map_err(write_error)?;
    embedding.as_file().sync_all().map_err(write_error)?;
    let linked = temp(".exe.tmp").map_err(write_error)?;

    run_cc(embedding.path(), &options.runtime_lib, linked.path())?;

    // `cc` replaced the file at the temporary path: sync and chmod what is
    // there now, not the handle `tempfile` opened.
    let file = std::fs::File::open(linked.path()).map_err(write_error)?;
    file.sync_all().map_err(write_error)?;
    set_mode(&file, 0o755).map_err(write_error)?;
    linked.persist(output).map_err(|e| write_error(e.error))?;
    Ok(())
}

/// Refuses a runtime library that is not there, before anything is linked.
pub(crate) fn check_runtime_lib(path: &Path) -> Result<()> {
    let problem = match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_file() => return Ok(()),
        Ok(_) => "it is not a regular file".to_owned(),
        Err(e) => e.to_string(),
    };
    Err(CompileError::options(format!(
        "--emit exe needs the kiln runtime library libkiln_runtime.a, but {} cannot be used: {problem}; it is built \
         by `cargo build --release -p kiln-runtime` (`make build` builds it beside kilnc), and --runtime-lib PATH \
         or KILN_RUNTIME_LIB names another",
        path.display()
    )))
}

/// The relocatable object that defines the symbols the runtime reads: the
/// artifact in a section of its own, page-aligned, and the encoded policy
/// and both lengths in another.
fn embedding_object(artifact: &[u8], policy: &[u8]) -> Result<Vec<u8>> {
    let mut object = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
    let read_only = |object: &mut Object, name: &str| {
        object.add_section(Vec::new(), name.as_bytes().to_vec(), SectionKind::ReadOnlyData)
    };
    let artifact_section = read_only(&mut object, SECTION_EMBEDDED_ARTIFACT);
    let policy_section = read_only(&mut object, SECTION_EMBEDDED_POLICY);
    let define = |object: &mut Object, name: &str, section: SectionId, data: &[u8], align: u64| {
        let value = object.append_section_data(section, data, align);
        object.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value,
            size: data.len() as u64,
            kind: SymbolKind::Data,
            // Global, hidden: the runtime's references resolve at link
            // time, and the executable exports nothing.
            scope: SymbolScope::Linkage,
            weak: false,
            section: SymbolSection::Section(section),
            flags: SymbolFlags::None,
        });
    };
    define(&mut object, EMBEDDED_ARTIFACT_SYMBOL, artifact_section, artifact, EMBEDDED_ARTIFACT_ALIGN);
    define(&mut object, EMBEDDED_ARTIFACT_LEN_SYMBOL, policy_section, &(artifact.len() as u64).to_le_bytes(), 8);
    define(&mut object, EMBEDDED_POLICY_LEN_SYMBOL, policy_section, &(policy.len() as u64).to_le_bytes(), 8);
    define(&mut object, EMBEDDED_POLICY_SYMBOL, policy_section, policy, 8);
    object.write().map_err(|e| CompileError::output(format!("cannot write the object embedding the artifact: {e}")))
}

/// Runs `cc -o OUTPUT EMBEDDING RUNTIME_LIB` with the runtime's system
/// libraries.
fn run_cc(embedding: &Path, runtime_lib: &Path, output: &Path) -> Result<()> {
    let mut args: Vec<OsString> = vec!["-o".into(), output.into(), embedding.into(), runtime_lib.into()];
    args.extend(LINK_FLAGS.iter().chain(&RUNTIME_SYSTEM_LIBS).map(OsString::from));
    let result = match Command::new("cc").args(&args).output() {
        Ok(result) => result,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(CompileError::output(
                "no C compiler: `cc` is not on PATH, and --emit exe links the executable with it \
                 (install gcc or clang)",
            ))
        }
        Err(e) => return Err(CompileError::output(format!("cannot run the system linker `cc`: {e}"))),
    };
    if result.status.success() {
        return Ok(());
    }
    Err(CompileError::output(format!(
        "the system linker `cc` failed ({}) linking with {}: {}",
        result.status,
        runtime_lib.display(),
        String::from_utf8_lossy(&result.stderr).trim()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::{Object as _, ObjectSection, ObjectSymbol};

    #[test]
    fn the_embedding_object_defines_what_the_runtime_reads() {
        let artifact = vec![0xab; 5000];
        let policy = b"policy bytes";
        let bytes = embedding_object(&artifact, policy).unwrap();
        let file = object::File::parse(&*bytes).unwrap();
        let section = file.section_by_name(SECTION_EMBEDDED_ARTIFACT).unwrap();
        assert_eq!(section.align(), EMBEDDED_ARTIFACT_ALIGN);
        assert_eq!(section.kind(), SectionKind::ReadOnlyData);
        let data_of = |name: &str| {
            let symbol = file.symbols().find(|s| s.name() == Ok(name)).unwrap();
            assert!(symbol.is_global() && symbol.is_definition(), "{name}");
            let section = file.section_by_index(symbol.section_index().unwrap()).unwrap();
            let start = (symbol.address() - section.address()) as usize;
            section.data().unwrap()[start..start + symbol.size() as usize].to_vec()
        };
        assert_eq!(data_of(EMBEDDED_ARTIFACT_SYMBOL), artifact);
        assert_eq!(data_of(EMBEDDED_POLICY_SYMBOL), policy);
        assert_eq!(data_of(EMBEDDED_ARTIFACT_LEN_SYMBOL), 5000u64.to_le_bytes());
        assert_eq!(data_of(EMBEDDED_POLICY_LEN_SYMBOL), (policy.len() as u64).to_le_bytes());
    }
}
