//! Linking an artifact into a shared object with the system linker
//! (`kilnc --emit so`, SPEC.md 1.3).

use std::ffi::OsString;
use std::io::{ErrorKind, Write};
use std::path::Path;
use std::process::Command;

use crate::driver::{output_dir, set_mode, write_error};
use crate::{CompileError, Result, Signer};

/// Linker flags, for `cc` (each passed through `-Wl,`) and `ld` alike.
///
/// - `-z text` refuses relocations that would make `.text` writable at load
///   time; kiln code needs none, and a shared object with no dynamic
///   relocations is mapped exactly as the file holds it.
/// - `-z defs` refuses undefined symbols: kiln code names none.
const LINK_FLAGS: [&str; 6] = ["-z", "text", "-z", "defs", "-z", "noexecstack"];

/// Links the relocatable object `object` into the shared object `output`.
///
/// Both the object handed to the linker and the linker's output are
/// temporary files next to `output`; the output is renamed over `output`
/// only when the link succeeded, so `output` is never left partial.
pub fn link_shared_object(object: &[u8], output: &Path, signer: Option<&Signer>) -> Result<()> {
    let dir = output_dir(output);
    let write_error = write_error(output);
    let temp = |suffix: &str| tempfile::Builder::new().prefix(".kilnc-").suffix(suffix).tempfile_in(dir);
    let mut input = temp(".o").map_err(write_error)?;
    input.write_all(object).map_err(write_error)?;
    input.as_file().sync_all().map_err(write_error)?;
    let linked = temp(".so.tmp").map_err(write_error)?;

    run_linker(input.path(), linked.path())?;

    // The linker replaced the file at the temporary path; seal, sync and
    // chmod what is there now, not the handle `tempfile` opened. The
    // digest covers the file as linked, so it is computed last (SPEC.md
    // 2.1).
    let mut bytes = std::fs::read(linked.path()).map_err(write_error)?;
    crate::seal::seal(&mut bytes, signer)?;
    std::fs::write(linked.path(), &bytes).map_err(write_error)?;
    let file = std::fs::File::open(linked.path()).map_err(write_error)?;
    file.sync_all().map_err(write_error)?;
    set_mode(&file, 0o755).map_err(write_error)?;
    linked.persist(output).map_err(|e| write_error(e.error))?;
    Ok(())
}

/// Runs `cc -shared -nostdlib`, or `ld -shared` where there is no `cc`.
fn run_linker(input: &Path, output: &Path) -> Result<()> {
    let mut cc_args: Vec<OsString> = vec!["-shared".into(), "-nostdlib".into()];
    cc_args.extend(LINK_FLAGS.iter().map(|f| OsString::from(format!("-Wl,{f}"))));
    cc_args.extend(["-o".into(), output.as_os_str().to_owned(), input.as_os_str().to_owned()]);
    let mut ld_args: Vec<OsString> = vec!["-shared".into()];
    ld_args.extend(LINK_FLAGS.iter().map(OsString::from));
    ld_args.extend(["-o".into(), output.as_os_str().to_owned(), input.as_os_str().to_owned()]);

    for (linker, args) in [("cc", cc_args), ("ld", ld_args)] {
        let result = match Command::new(linker).args(&args).output() {
            Ok(result) => result,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(CompileError::output(format!("cannot run the system linker `{linker}`: {e}"))),
        };
        if result.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&result.stderr);
        return Err(CompileError::output(format!(
            "the system linker `{linker}` failed ({}): {}",
            result.status,
            stderr.trim()
        )));
    }
    Err(CompileError::output(
        "no system linker: neither `cc` nor `ld` is on PATH, and --emit so needs one to build a shared object",
    ))
}
