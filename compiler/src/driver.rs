//! The public entry points: bytes in, artifact out.

use std::io::Write;
use std::path::Path;

use crate::options::{CompileOptions, Emit, Target};
use crate::{emit, environ, link, CompileError, Result};

const WASM_MAGIC: &[u8; 4] = b"\0asm";

/// Compiles a module, given as `.wasm` bytes or `.wat` text, to a kiln
/// artifact (an ELF relocatable object).
///
/// ```
/// let wasm = br#"(module (func (export "answer") (result i32) i32.const 42))"#;
/// let object = kiln_compiler::compile(wasm, &kiln_compiler::CompileOptions::default()).unwrap();
/// assert_eq!(&object[..4], b"\x7fELF");
/// ```
pub fn compile(input: &[u8], options: &CompileOptions) -> Result<Vec<u8>> {
    let target = Target::new(options)?;
    let wasm = if input.starts_with(WASM_MAGIC) {
        std::borrow::Cow::Borrowed(input)
    } else {
        // The text parser reports line and column in its message; the
        // byte offset of a text error is not exposed, so 0 stands in.
        wat::parse_bytes(input).map_err(|e| CompileError::invalid(format!("invalid text format: {e}"), 0))?
    };
    let translation = environ::translate_module(&wasm)?;
    let instrumentation = options.instrumentation();
    let (info, data, code) = crate::compile::compile_module(translation, &target, instrumentation, options.threads)?;
    emit::emit_object(&target, instrumentation, info, data, code)
}

/// Compiles the file `input` into the artifact `output`: the object, or with
/// [`Emit::SharedObject`] the shared object linked from it.
///
/// The artifact is written to a temporary file next to `output` and renamed
/// over it only when complete, so `output` is never left partial and is
/// untouched when compilation fails.
pub fn compile_file(input: &Path, output: &Path, options: &CompileOptions) -> Result<()> {
    let bytes =
        std::fs::read(input).map_err(|e| CompileError::output(format!("cannot read {}: {e}", input.display())))?;
    let object = compile(&bytes, options)?;
    if options.emit == Emit::SharedObject {
        return link::link_shared_object(&object, output);
    }
    let write_error = write_error(output);
    let mut file = tempfile::Builder::new()
        .prefix(".kilnc-")
        .suffix(".tmp")
        .tempfile_in(output_dir(output))
        .map_err(write_error)?;
    file.write_all(&object).map_err(write_error)?;
    file.as_file().sync_all().map_err(write_error)?;
    set_mode(file.as_file(), 0o644).map_err(write_error)?;
    file.persist(output).map_err(|e| write_error(e.error))?;
    Ok(())
}

/// The directory of `output`, where its temporary files go so that the
/// final rename stays within one file system.
pub(crate) fn output_dir(output: &Path) -> &Path {
    match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The error of a failed write of `output`.
pub(crate) fn write_error(output: &Path) -> impl Fn(std::io::Error) -> CompileError + Copy + '_ {
    move |e| CompileError::output(format!("cannot write {}: {e}", output.display()))
}

/// Temporary files are created private (0600); an artifact is as readable
/// (and a shared object as executable) as any other build output.
#[cfg(unix)]
pub(crate) fn set_mode(file: &std::fs::File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
pub(crate) fn set_mode(_file: &std::fs::File, _mode: u32) -> std::io::Result<()> {
    Ok(())
}
