//! The public entry points: bytes in, artifact out.
//!
//! [`compile_file`] is what `kilnc` runs, so it guards the files it is given:
//! it reads only regular files (or standard input), and replaces only a
//! regular file that is not its input.

use std::fs::{File, FileType, Metadata};
use std::io::{ErrorKind, IsTerminal, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::options::{CompileOptions, Emit, Target};
use crate::report::{defined_function_names, CompileReport, FunctionTime, Phase};
use crate::text_format::{neither_binary_nor_text, refuse_text_not_opening_with_a_paren, TextModule};
use crate::{emit, environ, link, seal, CompileError, Result, Signer};

const WASM_MAGIC: &[u8; 4] = b"\0asm";

/// The path that names standard input as the input, and standard output as
/// the output. A file called `-` is still reachable as `./-`.
const STDIO_PATH: &str = "-";

/// The most bytes of input read: 4 GiB. No module kiln can compile comes
/// near it; the cap bounds what a pipe that never ends makes kilnc hold.
const MAX_INPUT_BYTES: u64 = 4 << 30;

/// How much of the input is read before the rest, to refuse a file that
/// is neither binary nor text before reading all of it.
const HEAD_BYTES: u64 = 64 << 10;

/// Compiles a module, given as `.wasm` bytes or `.wat` text, to a kiln
/// artifact (an ELF relocatable object).
///
/// ```
/// let wasm = br#"(module (func (export "answer") (result i32) i32.const 42))"#;
/// let object = kiln_compiler::compile(wasm, &kiln_compiler::CompileOptions::default()).unwrap();
/// assert_eq!(&object[..4], b"\x7fELF");
/// ```
///
/// An error in a module given as text is located in the text: where the
/// parser stopped, or the function that failed to validate or compile.
pub fn compile(input: &[u8], options: &CompileOptions) -> Result<Vec<u8>> {
    compile_with_report(input, options).map(|(object, _)| object)
}

/// [`compile`], and what it did: the time of each phase and of each
/// function, the number of functions and threads ([`CompileReport`]).
///
/// ```
/// use kiln_compiler::{compile_with_report, CompileOptions, Phase};
///
/// let wat = br#"(module (func $answer (export "answer") (result i32) i32.const 42))"#;
/// let (object, report) = compile_with_report(wat, &CompileOptions::default()).unwrap();
/// assert_eq!(&object[..4], b"\x7fELF");
/// assert_eq!(report.functions[0].name.as_deref(), Some("answer"));
/// assert!(report.phase(Phase::CraneliftCompile).is_some());
/// ```
pub fn compile_with_report(input: &[u8], options: &CompileOptions) -> Result<(Vec<u8>, CompileReport)> {
    let start = Instant::now();
    let mut report = CompileReport::default();
    let object = compile_reporting(input, options, &mut report)?;
    report.total = start.elapsed();
    Ok((object, report))
}

/// Compiles, recording every phase in `report`.
fn compile_reporting(input: &[u8], options: &CompileOptions, report: &mut CompileReport) -> Result<Vec<u8>> {
    let target = Target::new(options)?;
    let parsing = Instant::now();
    if input.starts_with(WASM_MAGIC) {
        return compile_binary(input, &target, options, report, parsing);
    }
    let (wasm, text) = TextModule::parse(input)?;
    compile_binary(&wasm, &target, options, report, parsing).map_err(|e| text.locate(e))
}

/// Compiles a module in the binary format, recording every phase in
/// `report`; parsing (of the text, if it was text) began at `parsing`.
fn compile_binary(
    wasm: &[u8],
    target: &Target,
    options: &CompileOptions,
    report: &mut CompileReport,
    parsing: Instant,
) -> Result<Vec<u8>> {
    let translation = environ::translate_module(wasm, &options.features).map_err(|e| name_feature(e, options))?;
    report.record(Phase::ParseAndValidate, parsing.elapsed());

    let compiled =
        crate::compile::compile_module(translation, target, options).map_err(|e| name_feature(e, options))?;
    let names = defined_function_names(&compiled.info, &compiled.data.function_names);
    report.functions = (compiled.info.num_imported_funcs..)
        .zip(names)
        .zip(&compiled.function_times)
        .map(|((func_index, name), time)| FunctionTime {
            func_index,
            name,
            translate: time.translate,
            compile: time.compile,
        })
        .collect();
    let translate: Duration = compiled.function_times.iter().map(|t| t.translate).sum();
    let functions_compile: Duration = compiled.function_times.iter().map(|t| t.compile).sum();
    report.record(Phase::Translate, translate);
    report.record(Phase::CraneliftCompile, functions_compile + compiled.trampoline_time);
    report.parallel_wall = compiled.wall;
    report.threads = compiled.threads;
    report.imported_functions = compiled.info.num_imported_funcs;
    report.trampolines = compiled.code.len().saturating_sub(compiled.function_times.len());
    report.cpu_features = target.cpu_features;

    let instrumentation = options.instrumentation();
    let crate::compile::CompiledModule { info, data, code, .. } = compiled;
    let mut object = report.time(Phase::Emit, || emit::emit_object(target, instrumentation, info, data, code))?;
    let meta_offset = report.time(Phase::Seal, || seal::seal_digest(&mut object))?;
    if let Some(signer) = &options.signer {
        report.time(Phase::Sign, || signer.sign(&mut object, meta_offset))?;
    }
    Ok(object)
}

/// A validation error caused by a feature the options turned off says
/// which flag turns it on.
fn name_feature(error: CompileError, options: &CompileOptions) -> CompileError {
    if error.kind() != crate::CompileErrorKind::Invalid {
        return error;
    }
    match options.features.disabled_feature_named_in(error.message()) {
        Some(feature) => error.with_note(&format!("(the `{feature}` feature is off: `-W {feature}` turns it on)")),
        None => error,
    }
}

/// Compiles the file `input` into the artifact `output`: the object, with
/// [`Emit::SharedObject`] the shared object linked from it, or with
/// [`Emit::Executable`] a standalone executable embedding it. An input of
/// `-` reads standard input, an output of `-` writes standard output (but
/// not for an executable).
///
/// - The input must be a regular file, or standard input that is not a
///   directory or a device other than a terminal, of at most 4 GiB. It is
///   checked before it is read, so a FIFO or `/dev/zero` is refused at once.
/// - The output must not exist, or be a regular file other than the input
///   (the same inode, through a symbolic or a hard link, counts as the
///   input). A symbolic link is refused rather than followed or replaced:
///   name its target to write there.
/// - The artifact is written to a temporary file next to `output` and
///   renamed over it only when complete, so `output` is never left partial
///   and is untouched when compilation fails. The temporary file is removed
///   on every error; only a process killed mid-write leaves one behind
///   (`.kilnc-*.tmp`). The artifact's mode is that of a newly created file:
///   0644 (0755 for a shared object) less the umask.
/// - A shared object for standard output is linked in a temporary
///   directory, then copied. Standard output that is a terminal is refused.
/// - An executable needs a file to be written to, and its runtime library
///   ([`crate::ExecutableOptions::runtime_lib`]) is looked for before
///   anything is compiled.
pub fn compile_file(input: &Path, output: &Path, options: &CompileOptions) -> Result<()> {
    compile_file_with_report(input, output, options).map(|_| ())
}

/// [`compile_file`], and what it did ([`CompileReport`]), reading and
/// writing the files included.
pub fn compile_file_with_report(input: &Path, output: &Path, options: &CompileOptions) -> Result<CompileReport> {
    let start = Instant::now();
    if options.emit == Emit::Executable {
        if output.as_os_str() == STDIO_PATH {
            return Err(CompileError::output(
                "--emit exe writes an executable file: name it with -o (standard output cannot be executed)",
            ));
        }
        crate::executable::check_runtime_lib(&options.executable.runtime_lib)?;
    }
    let mut source = Source::open(input)?;
    let sink = Sink::new(output, &source)?;
    let mut report = CompileReport::default();
    let bytes = report.time(Phase::Read, || source.read()).map_err(|e| e.in_file(source.name()))?;
    let object = compile_reporting(&bytes, options, &mut report).map_err(|e| e.in_file(source.name()))?;
    drop(bytes);
    sink.write(&object, options, &source, &mut report)?;
    report.total = start.elapsed();
    Ok(report)
}

/// Where the module comes from.
enum Source<'a> {
    /// A regular file, open, with the metadata of the open file.
    File { path: &'a Path, file: File, metadata: Metadata },
    /// Standard input, with its metadata where the platform gives it.
    Stdin { metadata: Option<Metadata> },
}

impl<'a> Source<'a> {
    fn open(path: &'a Path) -> Result<Self> {
        if path.as_os_str() == STDIO_PATH {
            return Source::stdin();
        }
        let read_error = |e| CompileError::input(format!("cannot read {}: {e}", path.display()));
        // Look before opening: opening a FIFO waits for a writer.
        refuse_special_input(path, &std::fs::metadata(path).map_err(read_error)?)?;
        let file = File::open(path).map_err(read_error)?;
        // Look again at what was opened, in case the path changed.
        let metadata = file.metadata().map_err(read_error)?;
        refuse_special_input(path, &metadata)?;
        if metadata.len() > MAX_INPUT_BYTES {
            return Err(too_large(&path.display().to_string()));
        }
        Ok(Source::File { path, file, metadata })
    }

    fn stdin() -> Result<Self> {
        let metadata = stdin_metadata();
        if let Some(metadata) = &metadata {
            let file_type = metadata.file_type();
            // A terminal is a character device too, and one may type a module.
            let device = is_device(&file_type) && !std::io::stdin().is_terminal();
            if file_type.is_dir() || device {
                return Err(CompileError::input(format!(
                    "cannot read standard input: it is {}, not a file, a pipe or a terminal",
                    file_kind(&file_type)
                )));
            }
        }
        Ok(Source::Stdin { metadata })
    }

    /// The name of the input in messages.
    fn name(&self) -> &Path {
        match self {
            Source::File { path, .. } => path,
            Source::Stdin { .. } => Path::new("<stdin>"),
        }
    }

    /// The metadata of the input, when it is a file that `-o` could name.
    fn file_metadata(&self) -> Option<&Metadata> {
        match self {
            Source::File { metadata, .. } => Some(metadata),
            Source::Stdin { metadata } => metadata.as_ref().filter(|m| m.is_file()),
        }
    }

    /// Reads the whole module, refusing more than [`MAX_INPUT_BYTES`], and
    /// a head that is neither a Wasm binary nor text that may be a module
    /// without reading on.
    fn read(&mut self) -> Result<Vec<u8>> {
        let name = match self {
            Source::File { path, .. } => path.display().to_string(),
            Source::Stdin { .. } => "standard input".to_owned(),
        };
        let (mut reader, capacity): (Box<dyn Read + '_>, u64) = match self {
            Source::File { file, metadata, .. } => (Box::new(file), metadata.len()),
            Source::Stdin { .. } => (Box::new(std::io::stdin().lock()), 0),
        };
        let read_error = |e| CompileError::input(format!("cannot read {name}: {e}"));
        let mut bytes = Vec::with_capacity(capacity as usize);
        reader.by_ref().take(HEAD_BYTES).read_to_end(&mut bytes).map_err(read_error)?;
        if !bytes.starts_with(WASM_MAGIC) {
            let head = match std::str::from_utf8(&bytes) {
                Ok(head) => head,
                // A sequence cut off at the end of the head may go on after it.
                Err(e) if e.error_len().is_none() => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
                Err(e) => return Err(neither_binary_nor_text(e.valid_up_to())),
            };
            refuse_text_not_opening_with_a_paren(head)?;
        }
        reader.take(MAX_INPUT_BYTES + 1 - bytes.len() as u64).read_to_end(&mut bytes).map_err(read_error)?;
        if bytes.len() as u64 > MAX_INPUT_BYTES {
            return Err(too_large(&name));
        }
        Ok(bytes)
    }
}

/// Refuses an input that is not a regular file.
fn refuse_special_input(path: &Path, metadata: &Metadata) -> Result<()> {
    if metadata.is_file() {
        return Ok(());
    }
    Err(CompileError::input(format!(
        "cannot read {}: it is {}, not a regular file (`-` reads standard input)",
        path.display(),
        file_kind(&metadata.file_type())
    )))
}

#[cold]
fn too_large(name: &str) -> CompileError {
    CompileError::input(format!("cannot read {name}: it is larger than 4 GiB, the most kilnc reads"))
}

/// Where the artifact goes.
enum Sink<'a> {
    /// A file, created or replaced by a rename.
    File(&'a Path),
    /// Standard output.
    Stdout,
}

impl<'a> Sink<'a> {
    /// Checks `output` before anything is compiled, so that a refusal comes
    /// at once.
    fn new(output: &'a Path, source: &Source) -> Result<Self> {
        if output.as_os_str() == STDIO_PATH {
            if std::io::stdout().is_terminal() {
                return Err(CompileError::output(
                    "refusing to write an artifact to a terminal: redirect standard output, or name a file with -o",
                ));
            }
            return Ok(Sink::Stdout);
        }
        check_output(output, source)?;
        Ok(Sink::File(output))
    }

    /// Writes the artifact of `object`, recording the link and the write
    /// in `report`.
    fn write(self, object: &[u8], options: &CompileOptions, source: &Source, report: &mut CompileReport) -> Result<()> {
        let signer = options.signer.as_ref();
        match self {
            Sink::File(output) if options.emit == Emit::SharedObject => {
                check_output(output, source)?;
                report.time(Phase::Link, || link::link_shared_object(object, output, signer))
            }
            Sink::File(output) if options.emit == Emit::Executable => {
                check_output(output, source)?;
                report.time(Phase::Link, || crate::executable::link_executable(object, &options.executable, output))
            }
            Sink::File(output) => report.time(Phase::Write, || write_file(object, output, source)),
            Sink::Stdout => {
                let linked;
                let artifact = match options.emit {
                    Emit::Object => object,
                    Emit::SharedObject => {
                        linked = report.time(Phase::Link, || link_to_bytes(object, signer))?;
                        &linked
                    }
                    Emit::Executable => {
                        return Err(CompileError::output("an executable cannot be written to standard output"))
                    }
                };
                report.time(Phase::Write, || {
                    let mut stdout = std::io::stdout().lock();
                    stdout.write_all(artifact).and_then(|()| stdout.flush()).map_err(|e| CompileError::stdout_write(&e))
                })
            }
        }
    }
}

/// Refuses an `output` that names the input, or that exists and is not a
/// regular file. A symbolic link is refused whatever it points at: renaming
/// over it would replace the link, and writing through it would write
/// wherever it points.
fn check_output(output: &Path, source: &Source) -> Result<()> {
    let refuse = |why: String| CompileError::output(format!("refusing to write {}: {why}", output.display()));
    if let (Some(input), Ok(existing)) = (source.file_metadata(), std::fs::metadata(output)) {
        if same_file(input, &existing) {
            return Err(refuse(match source {
                Source::File { path, .. } => format!("it is the input, {}", path.display()),
                Source::Stdin { .. } => "it is the file that standard input reads".to_owned(),
            }));
        }
    }
    match std::fs::symlink_metadata(output) {
        Ok(existing) if existing.is_file() => Ok(()),
        Ok(existing) => {
            Err(refuse(format!("it is {}, and kilnc replaces only regular files", file_kind(&existing.file_type()))))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(write_error(output)(e)),
    }
}

/// Writes `object` to a temporary file next to `output` and renames it
/// over `output`. The temporary file is removed when it is dropped, on
/// every error path.
fn write_file(object: &[u8], output: &Path, source: &Source) -> Result<()> {
    let write_error = write_error(output);
    let mut file = tempfile::Builder::new()
        .prefix(".kilnc-")
        .suffix(".tmp")
        .tempfile_in(output_dir(output))
        .map_err(write_error)?;
    file.write_all(object).map_err(write_error)?;
    file.as_file().sync_all().map_err(write_error)?;
    set_mode(file.as_file(), 0o644).map_err(write_error)?;
    // Compiling took a while: look again at what the rename will replace.
    check_output(output, source)?;
    file.persist(output).map_err(|e| write_error(e.error))?;
    Ok(())
}

/// Links `object` into a shared object in a temporary directory, and reads
/// it back.
fn link_to_bytes(object: &[u8], signer: Option<&Signer>) -> Result<Vec<u8>> {
    let temp_error = |e| CompileError::output(format!("cannot link for standard output: {e}"));
    let dir = tempfile::Builder::new().prefix("kilnc-").tempdir().map_err(temp_error)?;
    let linked = dir.path().join("artifact.so");
    link::link_shared_object(object, &linked, signer)?;
    std::fs::read(&linked).map_err(temp_error)
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

/// Temporary files are created private (0600); an artifact gets the mode
/// that a newly created build output would: `mode` less the umask.
#[cfg(unix)]
pub(crate) fn set_mode(file: &File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode & !umask()))
}

#[cfg(not(unix))]
pub(crate) fn set_mode(_file: &File, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// The process's umask. umask(2) cannot read it without setting it (and
/// needs unsafe code); Linux shows it in `/proc/self/status`. Elsewhere
/// 022, the usual one.
#[cfg(unix)]
fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let value = status.lines().find_map(|line| line.strip_prefix("Umask:"));
    value.and_then(|v| u32::from_str_radix(v.trim(), 8).ok()).unwrap_or(0o022)
}

/// The metadata of whatever standard input is.
#[cfg(unix)]
fn stdin_metadata() -> Option<Metadata> {
    use std::os::fd::AsFd;
    let fd = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    File::from(fd).metadata().ok()
}

#[cfg(not(unix))]
fn stdin_metadata() -> Option<Metadata> {
    None
}

#[cfg(unix)]
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(_a: &Metadata, _b: &Metadata) -> bool {
    false
}

#[cfg(unix)]
fn is_device(file_type: &FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    file_type.is_char_device() || file_type.is_block_device()
}

#[cfg(not(unix))]
fn is_device(_file_type: &FileType) -> bool {
    false
}

/// What a file is, for messages: "a directory", "a FIFO", ...
fn file_kind(file_type: &FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}
