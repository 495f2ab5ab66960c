//! `kiln`: runs and inspects kiln artifacts.
//!
//! ```text
//! kiln run app.o --invoke add 1 2     # prints each result on its own line
//!                                     # (a reactor's `_initialize` runs first)
//! kiln run app.o --invoke f i32x4:1,2,3,4   # v128 arguments (see `kiln run --help`)
//! kiln run app.o                      # instantiates (runs start), calls `_start` if exported
//! kiln run app.o --dir data::/data --env K=V -- arg1 arg2   # a WASI command
//! kiln inspect app.o [--json]         # header, imports, exports, functions
//! kiln keygen release                 # release.key (secret) and release.pub
//! kiln sign app.o --key release.key   # signs app.o in place
//! kiln verify app.o --trust release.pub
//! kiln run app.o --trust release.pub  # runs it only if release.key signed it
//! kiln oci build app.wasm --artifact app.o -o app.tar   # an image for containerd
//! ```

/// `println!` that never panics: a write to a closed stdout ends `kiln`
/// quietly, as killed by SIGPIPE (see [`command_exit::print_line`]).
macro_rules! outln {
    ($($arg:tt)*) => {
        kiln_loader::command_exit::print_line(format_args!($($arg)*))
    };
}

#[cfg(feature = "oci")]
mod oci;
#[cfg(feature = "verify")]
mod signing;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
#[cfg(feature = "docs")]
use clap::CommandFactory;
use clap::{Parser, Subcommand, ValueEnum};
use kiln_loader::code::wasm_source::{self, WasmFormat};
use kiln_loader::code::LoadError;
use kiln_loader::command_exit::{self, CommandEnd};
use kiln_loader::wording::count_of;
use kiln_loader::{
    CompositeType, Config, Engine, Error, ImportKind, Instance, Linker, MemoryType, Module, ProfilingStrategy, Store,
    StoreLimits, TableType, Val, ValType,
};
use serde_json::json;

/// How `kiln run` reads arguments and prints results.
macro_rules! ARGUMENT_SYNTAX_TEXT {
    () => {
        "\
Arguments, by parameter type:
  i32, i64             decimal or 0x hex, optionally signed: 42, -1, 0xff
  f32, f64             decimal, inf, -inf or NaN: 1.5, -0
  v128                 0x and up to 32 hex digits, the 128-bit value with lane 0 in its
                       lowest bits (0x00000004000000030000000200000001 is i32x4 1 2 3 4),
                       or a shape and its lanes, lane 0 first, each written as its scalar
                       type is: i8x16:1,2,...,16  i16x8:..  i32x4:1,2,3,-4  i64x2:..
                       f32x4:1.5,-0,inf,NaN  f64x2:..
  funcref, externref   null
Results are printed one per line, in the same syntax; a v128 as 0x and 32 hex digits."
    };
}

/// What `kiln`'s exit status means.
macro_rules! EXIT_CODES_TEXT {
    () => {
        "\
Exit status:
  0      success
  N      the guest's own exit code (WASI proc_exit, or _start returning), passed through
  1      the artifact could not be loaded, linked or instantiated (or another error)
  2      bad command-line arguments
  134    the guest trapped (as other runtimes report an abort), threw an exception
         it did not catch, ran out of --fuel or was stopped by --timeout"
    };
}

#[derive(Parser)]
#[command(
    name = "kiln",
    version,
    about = "Runs and inspects kiln artifacts (precompiled WebAssembly)",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a WASI command (`_start`), or call an export with --invoke.
    #[command(after_help = concat!(ARGUMENT_SYNTAX_TEXT!(), "\n\n", EXIT_CODES_TEXT!()))]
    Run {
        /// The artifact (`kilnc` output).
        file: PathBuf,
        /// Export to call; without it, `_start` is called if exported.
        #[arg(long)]
        invoke: Option<String>,
        /// Native stack that Wasm may use, in bytes.
        #[arg(long)]
        max_wasm_stack: Option<usize>,
        /// Most bytes any one memory may grow to (a plain number, or with
        /// K, M, G, KiB, MiB or GiB); `memory.grow` past it returns -1.
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        max_memory: Option<usize>,
        /// Give the guest N units of fuel (one per Wasm operator, as in
        /// Wasmtime); running out is a trap ("all fuel consumed", exit
        /// 134). Needs artifacts compiled with `kilnc --fuel`.
        #[arg(long, value_name = "N")]
        fuel: Option<u64>,
        /// Stop the guest after DURATION (e.g. 100ms, 2s, 1.5m; a plain
        /// number is seconds) with an `interrupted` trap (exit 134), at its
        /// next function entry or loop header (not inside a host call).
        /// Needs artifacts compiled with `kilnc --epoch-interruption`.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        timeout: Option<Duration>,
        /// WASI: let the program reach host directory HOST (and nothing
        /// above it) as GUEST (default: HOST as written). A directory on
        /// procfs, sysfs or another kernel filesystem, or `/`, needs
        /// --allow-unsafe-dir.
        #[arg(long = "dir", value_name = "HOST[::GUEST]")]
        dirs: Vec<String>,
        /// WASI: let --dir name a directory on procfs, sysfs or another
        /// kernel filesystem, or the host's root `/`. Through those the
        /// program reaches this process and the kernel, so on kernel
        /// filesystems it still only reads what everyone may read, changes
        /// nothing, and never opens memory files such as /proc/self/mem
        /// (nor anything on debugfs or tracefs).
        #[arg(long)]
        allow_unsafe_dir: bool,
        /// WASI: an environment variable for the program (KEY alone passes
        /// the host's value on).
        #[arg(long = "env", value_name = "KEY=VALUE")]
        envs: Vec<String>,
        /// Instantiate another artifact first and offer its exports as
        /// imports under NAME.
        #[arg(long = "preload", value_name = "NAME=OTHER.o")]
        preloads: Vec<String>,
        /// Run the artifact (and every --preload) only if it is signed by
        /// one of these public keys (`kiln keygen`'s NAME.pub) and unchanged
        /// since: refused before any of its code is mapped executable.
        /// Without --trust, naming the file is vouching for it.
        #[cfg(feature = "verify")]
        #[arg(long = "trust", value_name = "PUBLIC_KEY")]
        trust: Vec<PathBuf>,
        /// Tell a profiler about the loaded code: `perfmap` appends every
        /// Wasm function's address, size and name to /tmp/perf-PID.map, so
        /// that `perf report` names Wasm frames.
        #[arg(long, value_enum, value_name = "KIND")]
        profile: Option<ProfileArg>,
        /// Arguments: of the WASI command (after `--`), or of the `--invoke`d
        /// export, parsed by its parameter types.
        #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Describe an artifact.
    Inspect {
        /// The artifact.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Make an Ed25519 key pair for signing artifacts: NAME.key (secret,
    /// mode 0600) and NAME.pub. Existing files are never overwritten.
    #[cfg(feature = "sign")]
    Keygen {
        /// Path and name of the key files, without suffix.
        name: PathBuf,
    },
    /// Sign an artifact (object or shared object) with a secret key, in
    /// place or into --output. The same artifact and key always give the
    /// same bytes.
    #[cfg(feature = "sign")]
    Sign {
        /// The artifact.
        file: PathBuf,
        /// The secret key (`kiln keygen`'s NAME.key).
        #[arg(long, value_name = "SECRET_KEY")]
        key: PathBuf,
        /// Write the signed artifact here instead of replacing FILE.
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
    },
    /// Check that an artifact is undamaged and signed by one of the trusted
    /// public keys; exit 0 if so, 1 if not.
    #[cfg(feature = "verify")]
    Verify {
        /// The artifact.
        file: PathBuf,
        /// A trusted public key (`kiln keygen`'s NAME.pub); repeatable.
        #[arg(long = "trust", value_name = "PUBLIC_KEY", required = true)]
        trust: Vec<PathBuf>,
    },
    /// Package a workload as an OCI image for containerd and Kubernetes.
    #[cfg(feature = "oci")]
    Oci {
        #[command(subcommand)]
        command: oci::OciCommand,
    },
    /// Print the completion script of kiln for SHELL:
    /// `source <(kiln completion bash)`.
    #[cfg(feature = "docs")]
    Completion {
        /// The shell.
        #[arg(value_enum)]
        shell: kiln_cli_docs::Shell,
    },
    /// Write the man pages of kiln and its subcommands (kiln.1,
    /// kiln-run.1, ...) into DIR (`make man`).
    #[cfg(feature = "docs")]
    #[command(hide = true)]
    Man {
        /// The directory, which must exist.
        dir: PathBuf,
    },
}

/// The profilers `kiln run --profile` can tell about loaded code.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum ProfileArg {
    /// /tmp/perf-PID.map, for `perf report`.
    Perfmap,
}

const EXIT_CODES: &str = EXIT_CODES_TEXT!();

/// The exit status of a usage error.
const EXIT_USAGE: u8 = 2;

/// A size in bytes: a number, optionally with a decimal or binary unit.
fn parse_size(text: &str) -> Result<usize, String> {
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit: u64 = match &text[digits.len()..] {
        "" | "B" => 1,
        "K" | "KB" => 1_000,
        "M" | "MB" => 1_000_000,
        "G" | "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => return Err(format!("unknown unit `{other}` (use K, M, G, KiB, MiB or GiB)")),
    };
    let number: u64 = digits.trim().parse().map_err(|e| format!("`{text}` is not a size: {e}"))?;
    number.checked_mul(unit).and_then(|n| usize::try_from(n).ok()).ok_or_else(|| format!("`{text}` is too large"))
}

/// A duration: a number, optionally fractional, with a unit (ns, us, ms,
/// s, m or h; none means seconds).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let number = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let seconds_per_unit = match &text[number.len()..] {
        "ns" => 1e-9,
        "us" => 1e-6,
        "ms" => 1e-3,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        other => return Err(format!("unknown unit `{other}` (use ns, us, ms, s, m or h)")),
    };
    let value: f64 = number.trim().parse().map_err(|e| format!("`{text}` is not a duration: {e}"))?;
    Duration::try_from_secs_f64(value * seconds_per_unit).map_err(|e| format!("`{text}` is not a duration: {e}"))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let outcome = match cli.command {
        Command::Run {
            file,
            invoke,
            max_wasm_stack,
            max_memory,
            fuel,
            timeout,
            dirs,
            allow_unsafe_dir,
            envs,
            preloads,
            #[cfg(feature = "verify")]
            trust,
            profile,
            args,
        } => {
            let wasi = WasiOptions { dirs, allow_unsafe_dir, envs, preloads };
            #[cfg(feature = "verify")]
            let trust = match signing::trusted_keys(&trust) {
                Ok(keys) if keys.is_empty() => None,
                Ok(keys) => Some(keys),
                Err(e) => {
                    command_exit::report(&e);
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            #[cfg(not(feature = "verify"))]
            let trust = None;
            let source = ArtifactSource { trust };
            let limits = RunLimits { max_wasm_stack, max_memory, fuel, timeout };
            let profiler = match profile {
                None => ProfilingStrategy::None,
                Some(ProfileArg::Perfmap) => ProfilingStrategy::PerfMap,
            };
            run(&file, &source, invoke.as_deref(), &limits, &wasi, profiler, &args)
        }
        Command::Inspect { file, json } => inspect(&file, json),
        #[cfg(feature = "sign")]
        Command::Keygen { name } => signing::keygen(&name),
        #[cfg(feature = "sign")]
        Command::Sign { file, key, output } => signing::sign(&file, &key, output.as_deref()),
        #[cfg(feature = "verify")]
        Command::Verify { file, trust } => signing::verify(&file, &trust),
        #[cfg(feature = "oci")]
        Command::Oci { command: oci::OciCommand::Build(args) } => oci::build(&args),
        #[cfg(feature = "docs")]
        Command::Completion { shell } => {
            kiln_cli_docs::print_completion(shell, Cli::command(), "kiln").map_err(Into::into)
        }
        #[cfg(feature = "docs")]
        Command::Man { dir } => kiln_cli_docs::write_man_pages(Cli::command(), &dir).map(drop).map_err(Into::into),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match CommandEnd::of(&e) {
            CommandEnd::Exited(code) => ExitCode::from(code),
            end => {
                command_exit::report(&e);
                match end {
                    CommandEnd::Failed if e.downcast_ref::<UsageError>().is_some() => ExitCode::from(EXIT_USAGE),
                    end => ExitCode::from(end.status()),
                }
            }
        },
    }
}

/// Arguments that do not fit the artifact they are meant for (an export's
/// parameters, say): reported like clap's own usage errors.
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The limits `kiln run` puts on the guest.
struct RunLimits {
    max_wasm_stack: Option<usize>,
    max_memory: Option<usize>,
    fuel: Option<u64>,
    timeout: Option<Duration>,
}

/// What `kiln run` gives a WASI command beyond its arguments.
struct WasiOptions {
    dirs: Vec<String>,
    /// `--allow-unsafe-dir`.
    allow_unsafe_dir: bool,
    envs: Vec<String>,
    preloads: Vec<String>,
}

/// The store's host state: the program's WASI context, when `kiln` has
/// WASI, and the limits of `kiln run`'s flags.
struct HostState {
    #[cfg(feature = "wasi")]
    wasi: kiln_loader::wasi::WasiCtx,
    limits: StoreLimits,
}

/// Whose word `kiln run` takes for the artifacts it loads.
struct ArtifactSource {
    /// `--trust`: the keys one of which must have signed each artifact;
    /// `None` when the command line vouches for the files it names.
    #[cfg(feature = "verify")]
    trust: Option<kiln_loader::TrustedKeys>,
    #[cfg(not(feature = "verify"))]
    trust: Option<std::convert::Infallible>,
}

impl ArtifactSource {
    fn load(&self, engine: &Engine, file: &Path) -> Result<Module, Error> {
        match &self.trust {
            #[cfg(feature = "verify")]
            Some(keys) => Module::from_file_verified(engine, file, keys),
            #[cfg(not(feature = "verify"))]
            Some(never) => match *never {},
            // SAFETY: without --trust, the user who names an artifact on
            // the command line vouches for it, as for any program they run.
            #[allow(unsafe_code)]
            None => unsafe { Module::from_file(engine, file) },
        }
    }
}

/// A WebAssembly module given where an artifact is expected is refused with
/// the commands that compile it and then do what was asked:
/// `kilnc app.wasm -o app.o && kiln run app.o`.
fn compile_first(error: Error, file: &Path, subcommand: &str) -> anyhow::Error {
    match error {
        Error::Load(load) => compile_first_load(load, file, subcommand).unwrap_or_else(anyhow::Error::new),
        other => other.into(),
    }
}

/// [`compile_first`] of a load error: the refusal if the bytes are a
/// WebAssembly module, else the error as it was.
fn compile_first_load(error: LoadError, file: &Path, subcommand: &str) -> Result<anyhow::Error, LoadError> {
    let format = match error.wasm_module_format() {
        Some(WasmFormat::Binary) => "binary",
        Some(WasmFormat::Text) => "text",
        None => return Err(error),
    };
    Ok(anyhow!(
        "`{}` is a WebAssembly module in the {format} format, not a kiln artifact: kiln runs modules compiled ahead \
         of time by kilnc; compile it first: `{} && kiln {subcommand} {}`",
        file.display(),
        wasm_source::kilnc_command(file),
        wasm_source::shell_word(&wasm_source::artifact_path_for(file))
    ))
}

fn run(
    file: &PathBuf,
    source: &ArtifactSource,
    invoke: Option<&str>,
    limits: &RunLimits,
    options: &WasiOptions,
    profiler: ProfilingStrategy,
    args: &[String],
) -> Result<()> {
    let engine = Engine::new(Config::new().profiler(profiler))?;
    let module = source.load(&engine, file).map_err(|e| compile_first(e, file, "run"))?;
    // Without --invoke the arguments are the command's own, after its name.
    let command_args: Vec<String> = match invoke {
        Some(_) => vec![file.display().to_string()],
        None => std::iter::once(file.display().to_string()).chain(args.iter().cloned()).collect(),
    };
    let mut store_limits = StoreLimits::builder();
    if let Some(bytes) = limits.max_memory {
        store_limits = store_limits.memory_size(bytes);
    }
    let (linker, state) = linker(&engine, options, &command_args, store_limits.build())?;
    let mut store = Store::new(&engine, state);
    store.limiter(|state| &mut state.limits);
    if let Some(bytes) = limits.max_wasm_stack {
        store.set_max_wasm_stack(bytes);
    }
    // Both are set before anything is instantiated, so that code compiled
    // without their checks is refused (exit 1) rather than run unchecked.
    if let Some(fuel) = limits.fuel {
        store.set_fuel(fuel)?;
    }
    if let Some(timeout) = limits.timeout {
        // One tick of the epoch, from a timer thread, reaches the deadline.
        store.set_epoch_deadline(1)?;
        let engine = engine.clone();
        std::thread::spawn(move || {
            std::thread::sleep(timeout);
            engine.increment_epoch();
        });
    }
    let mut linker = linker;
    for preload in &options.preloads {
        let (name, path) = preload.split_once('=').ok_or_else(|| anyhow!("--preload {preload}: write NAME=OTHER.o"))?;
        let other = source.load(&engine, Path::new(path)).with_context(|| format!("--preload {name}={path}"))?;
        let instance = linker.instantiate(&mut store, &other).with_context(|| format!("--preload {name}={path}"))?;
        initialize_reactor(&mut store, instance)?;
        linker.instance(&store, name, instance)?;
    }
    let instance = linker.instantiate(&mut store, &module)?;
    let name = match invoke {
        Some(name) => {
            initialize_reactor(&mut store, instance)?;
            name
        }
        None if instance.get_func(&store, "_start").is_some() => "_start",
        None => {
            if !args.is_empty() {
                return Err(UsageError("arguments given but no function to call (use --invoke)".into()).into());
            }
            return Ok(());
        }
    };
    let func = instance.require_func(&store, name).map_err(|e| UsageError(e.to_string()))?;
    let ty = func.ty(&store);
    if invoke.is_some() && args.len() != ty.params.len() {
        let why = format!(
            "`{name}` takes {} (its type is `{ty}`), {} given",
            count_of(ty.params.len(), "argument"),
            args.len()
        );
        return Err(UsageError(why).into());
    }
    let arguments = if invoke.is_some() { args } else { &[] };
    let params = ty
        .params
        .iter()
        .zip(arguments)
        .enumerate()
        .map(|(i, (&t, arg))| parse_arg(t, arg).map_err(|e| UsageError(format!("argument {i} `{arg}`: {e:#}")).into()))
        .collect::<Result<Vec<_>>>()?;
    let mut results: Vec<Val> = ty.results.iter().map(|&t| Val::default_for(t)).collect();
    if let Err(error) = func.call(&mut store, &params, &mut results) {
        // An exception no handler caught ends the guest as a trap does; say
        // what it carried, which only the store can read.
        let uncaught = match &error {
            Error::Exception(exn) => Some(match exn.values(&store) {
                Ok(values) => values.iter().map(format_val).collect::<Vec<_>>().join(" "),
                Err(e) => format!("values not readable: {e}"),
            }),
            _ => None,
        };
        return Err(match uncaught {
            Some(values) => {
                anyhow::Error::new(error).context(format!("`{name}` threw an exception carrying [{values}]"))
            }
            None => error.into(),
        });
    }
    for result in &results {
        outln!("{}", format_val(result));
    }
    Ok(())
}

/// Calls `_initialize` of a reactor (a module built with
/// `-mexec-model=reactor`) before any of its other exports, as other
/// runtimes do.
fn initialize_reactor(store: &mut Store<HostState>, instance: Instance) -> Result<()> {
    if let Some(init) = instance.get_func(&*store, "_initialize") {
        init.typed::<(), ()>(&*store)?.call(store, ())?;
    }
    Ok(())
}

/// The linker and host state for `module` and the `--preload`ed artifacts,
/// with WASI as their `wasi_snapshot_preview1` (stdio inherited, `--dir`s
/// preopened).
#[cfg(feature = "wasi")]
fn linker(
    engine: &Engine,
    options: &WasiOptions,
    args: &[String],
    limits: StoreLimits,
) -> Result<(Linker<HostState>, HostState)> {
    use kiln_loader::wasi::{self, WasiCtx, WasiError};
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let mut ctx = WasiCtx::builder();
    ctx.args(args).inherit_stdio();
    for env in &options.envs {
        match env.split_once('=') {
            Some((key, value)) => ctx.env(key, value),
            None => {
                let value =
                    std::env::var_os(env).ok_or_else(|| anyhow!("--env {env}: not set here; write KEY=VALUE"))?;
                ctx.env(env, value)
            }
        };
    }
    for dir in &options.dirs {
        let preopen = kiln_format::Preopen::parse(dir).map_err(|e| UsageError(format!("--dir {e}")))?;
        ctx.preopened_dir(OsStr::from_bytes(&preopen.host), OsStr::from_bytes(&preopen.guest))?;
    }
    ctx.allow_unsafe_preopens(options.allow_unsafe_dir);
    let wasi = ctx.build().map_err(|e| match e {
        WasiError::UnsafePreopen { path, reason } => anyhow!(
            "refusing to preopen `{}`: {reason}; --allow-unsafe-dir allows it (the program still cannot change \
             anything on kernel filesystems, nor open memory files such as /proc/self/mem)",
            path.display()
        ),
        other => other.into(),
    })?;
    let mut linker = Linker::new(engine);
    wasi::add_to_linker(&mut linker, |state: &mut HostState| &mut state.wasi)?;
    Ok((linker, HostState { wasi, limits }))
}

/// The linker for `module` and the `--preload`ed artifacts; this `kiln` has no WASI.
#[cfg(not(feature = "wasi"))]
fn linker(
    engine: &Engine,
    options: &WasiOptions,
    _args: &[String],
    limits: StoreLimits,
) -> Result<(Linker<HostState>, HostState)> {
    if !options.dirs.is_empty() || !options.envs.is_empty() || options.allow_unsafe_dir {
        let why =
            "--dir, --allow-unsafe-dir and --env need WASI, which this kiln was built without (cargo feature `wasi`)";
        return Err(UsageError(why.into()).into());
    }
    Ok((Linker::new(engine), HostState { limits }))
}

fn parse_int(text: &str, bits: u32) -> Result<u64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let digits = digits.replace('_', "");
    let magnitude = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16)?
    } else {
        digits.parse::<u64>()?
    };
    let mask = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    let fits = if negative { magnitude <= 1u64 << (bits - 1) } else { magnitude <= mask };
    if !fits {
        bail!("out of range for i{bits}");
    }
    Ok(if negative { magnitude.wrapping_neg() & mask } else { magnitude })
}

fn parse_arg(ty: ValType, text: &str) -> Result<Val> {
    Ok(match ty {
        ValType::I32 => Val::I32(parse_int(text, 32)? as u32 as i32),
        ValType::I64 => Val::I64(parse_int(text, 64)? as i64),
        ValType::F32 => Val::F32(text.parse::<f32>()?.to_bits()),
        ValType::F64 => Val::F64(text.parse::<f64>()?.to_bits()),
        ValType::V128 => Val::V128(parse_v128(text)?),
        ValType::Ref(r) if r.nullable && text == "null" => Val::default_for(ty),
        ValType::Ref(r) if r.nullable => bail!("only `null` can be passed as a reference"),
        ValType::Ref(r) => bail!("a parameter of type {r} takes a reference, which the command line cannot give"),
    })
}

/// A v128 as `0x` and hex digits, or as `shape:lane,lane,...` (lane 0
/// first); see [`ARGUMENT_SYNTAX`].
fn parse_v128(text: &str) -> Result<u128> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        let hex = hex.replace('_', "");
        if hex.is_empty() || hex.len() > 32 {
            bail!("a v128 in hex has 1 to 32 digits");
        }
        return Ok(u128::from_str_radix(&hex, 16)?);
    }
    let (shape, lanes) = text
        .split_once(':')
        .ok_or_else(|| anyhow!("a v128 is 0x and 32 hex digits, or a shape and its lanes such as i32x4:1,2,3,4"))?;
    let (bits, count) = match shape {
        "i8x16" => (8, 16),
        "i16x8" => (16, 8),
        "i32x4" | "f32x4" => (32, 4),
        "i64x2" | "f64x2" => (64, 2),
        other => bail!("unknown v128 shape `{other}` (expected i8x16, i16x8, i32x4, i64x2, f32x4 or f64x2)"),
    };
    let lanes: Vec<&str> = lanes.split(',').map(str::trim).collect();
    if lanes.len() != count {
        bail!("{shape} has {count} lanes, {} given", lanes.len());
    }
    let mut value = 0u128;
    for (i, lane) in lanes.iter().enumerate() {
        let lane_bits = match shape {
            "f32x4" => u64::from(lane.parse::<f32>().with_context(|| format!("lane {i} `{lane}`"))?.to_bits()),
            "f64x2" => lane.parse::<f64>().with_context(|| format!("lane {i} `{lane}`"))?.to_bits(),
            _ => parse_int(lane, bits).with_context(|| format!("lane {i} `{lane}`"))?,
        };
        value |= u128::from(lane_bits) << (i as u32 * bits);
    }
    Ok(value)
}

fn format_val(v: &Val) -> String {
    match v {
        Val::I32(x) => x.to_string(),
        Val::I64(x) => x.to_string(),
        Val::F32(bits) => f32::from_bits(*bits).to_string(),
        Val::F64(bits) => f64::from_bits(*bits).to_string(),
        Val::V128(x) => format!("{x:#034x}"),
        Val::FuncRef(None) | Val::ExternRef(None) | Val::ExnRef(None) | Val::AnyRef(None) => "null".to_string(),
        Val::ExnRef(Some(_)) => "exnref".to_string(),
        Val::FuncRef(Some(_)) => "funcref".to_string(),
        Val::ExternRef(Some(_)) => "externref".to_string(),
        Val::AnyRef(Some(r)) => match r.as_i31() {
            Some(i) => format!("i31 {}", i.get_i32()),
            None => "anyref".to_string(),
        },
    }
}

struct FunctionSummary {
    index: u32,
    name: Option<String>,
    type_index: u32,
    imported: bool,
    code_offset: u32,
    code_size: u32,
    traps: usize,
    /// The stack maps of its safepoints, by return address.
    stack_maps: Vec<kiln_format::StackMapRecord>,
    /// The function inlined at each of its inline sites.
    inlined: Vec<u32>,
}

/// Limits as `min..max` (`min..` without a maximum).
fn describe_limits(minimum: u64, maximum: Option<u64>) -> String {
    match maximum {
        Some(max) => format!("{minimum}..{max}"),
        None => format!("{minimum}.."),
    }
}

/// A memory type as `inspect` shows it: index type, then limits in pages.
fn describe_memory(m: &MemoryType) -> String {
    let index = if m.memory64 { "i64" } else { "i32" };
    let shared = if m.shared { " shared" } else { "" };
    format!("{index} {} pages{shared}", describe_limits(m.minimum, m.maximum))
}

/// A table type as `inspect` shows it: index type, limits, element type.
fn describe_table(t: &TableType) -> String {
    let index = if t.table64 { "i64" } else { "i32" };
    format!("{index} {} {}", describe_limits(t.minimum, t.maximum), t.element)
}

fn inspect(file: &PathBuf, as_json: bool) -> Result<()> {
    // SAFETY: inspecting maps the artifact (with every check of a load) but
    // runs none of its code: nothing is instantiated or called.
    #[allow(unsafe_code)]
    let module =
        unsafe { Module::from_file(&Engine::default(), file) }.map_err(|e| compile_first(e, file, "inspect"))?;
    let code = module.code();
    let header = code.header();
    let info = module.info();
    // Sorted by offset, so each function's share is found by two searches.
    let trap_offsets: Vec<u32> = code.trap_table().iter().map(|t| t.text_offset).collect();
    let stack_maps: Vec<kiln_format::StackMapRecord> = code
        .stack_map_table()
        .iter()
        .map(|m| kiln_format::StackMapRecord {
            return_offset: m.return_offset,
            frame_size: m.frame_size,
            slots: m.slots().collect(),
        })
        .collect();
    let functions: Vec<FunctionSummary> = info
        .functions
        .iter()
        .enumerate()
        .map(|(index, f)| {
            let range = f.code.map(|r| (r.offset, r.offset.saturating_add(r.len)));
            let within = |offset: u32| range.is_some_and(|(start, end)| offset >= start && offset < end);
            FunctionSummary {
                index: index as u32,
                name: code.func_name(index as u32).map(str::to_string),
                type_index: f.type_index,
                imported: f.code.is_none(),
                code_offset: f.code.map_or(0, |r| r.offset),
                code_size: f.code.map_or(0, |r| r.len),
                inlined: info
                    .inlined_frames(index as u32)
                    .map(|frames| frames.sites.iter().map(|s| s.callee).collect())
                    .unwrap_or_default(),
                traps: range.map_or(0, |(start, end)| {
                    trap_offsets.partition_point(|&t| t < end) - trap_offsets.partition_point(|&t| t < start)
                }),
                stack_maps: stack_maps.iter().filter(|s| within(s.return_offset.saturating_sub(1))).cloned().collect(),
            }
        })
        .collect();
    let import_kind = |k: &ImportKind| match k {
        ImportKind::Func(t) => format!("func (type {t})"),
        ImportKind::Table(t) => format!("table {}", describe_table(t)),
        ImportKind::Memory(m) => format!("memory {}", describe_memory(m)),
        ImportKind::Global(g) => g.to_string(),
        ImportKind::Tag(t) => format!("tag (type {t})"),
    };
    if as_json {
        let out = json!({
            "file": file.display().to_string(),
            "header": {
                "format_version": header.format_version,
                "producer": header.producer(),
                "target": header.target(),
                "cpu_features": header.cpu_features.names(),
                "flags_hash": format!("{:#018x}", header.flags_hash),
                "relaxed_simd": header.relaxed_simd.to_string(),
                "digest": format!("{:#018x}", header.digest),
                "signer": header.signature.as_ref().map(|s| kiln_format::signature::to_hex(&s.signer)),
            },
            "name": module.name(),
            "types": info.types.iter().zip(&info.type_shapes).enumerate().map(|(i, (t, shape))| json!({
                "index": i,
                "kind": match t {
                    CompositeType::Func(_) => "func",
                    CompositeType::Struct(_) => "struct",
                    CompositeType::Array(_) => "array",
                },
                "type": t.to_string(),
                "params": t.as_func().map(|f| f.params.iter().map(ToString::to_string).collect::<Vec<_>>()),
                "results": t.as_func().map(|f| f.results.iter().map(ToString::to_string).collect::<Vec<_>>()),
                "supertype": shape.supertype,
                "final": shape.is_final,
                "rec_group": [shape.rec_group_start, shape.rec_group_len],
            })).collect::<Vec<_>>(),
            "imports": info.imports.iter().map(|i| json!({
                "module": i.module, "name": i.name, "kind": import_kind(&i.kind),
            })).collect::<Vec<_>>(),
            "exports": info.exports.iter().map(|e| json!({
                "name": e.name, "kind": e.kind.to_string(), "index": e.index,
            })).collect::<Vec<_>>(),
            "functions": functions.iter().map(|f| json!({
                "index": f.index,
                "name": f.name,
                "type": f.type_index,
                "imported": f.imported,
                "code_offset": f.code_offset,
                "code_size": f.code_size,
                "traps": f.traps,
                "inlined": f.inlined,
                "stack_maps": f.stack_maps.iter().map(|m| json!({
                    "return_offset": m.return_offset,
                    "frame_size": m.frame_size,
                    "slots": m.slots,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "memories": info.memories.len(),
            "tables": info.tables.len(),
            "memory_types": info.memories.iter().enumerate().map(|(i, m)| json!({
                "index": i,
                "imported": i < info.num_imported_memories as usize,
                "index_type": if m.memory64 { "i64" } else { "i32" },
                "minimum": m.minimum,
                "maximum": m.maximum,
                "shared": m.shared,
            })).collect::<Vec<_>>(),
            "table_types": info.tables.iter().enumerate().map(|(i, t)| json!({
                "index": i,
                "imported": i < info.num_imported_tables as usize,
                "index_type": if t.table64 { "i64" } else { "i32" },
                "element": t.element.to_string(),
                "minimum": t.minimum,
                "maximum": t.maximum,
            })).collect::<Vec<_>>(),
            "globals": info.global_types.len(),
            "data_segments": info.data.len(),
            "element_segments": info.elements.len(),
            "start": info.start,
            "text_size": code.text_len(),
            "trap_records": code.trap_table().len(),
            "stack_maps": code.stack_map_table().len(),
        });
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    outln!("file:            {}", file.display());
    outln!("format version:  {}", header.format_version);
    outln!("producer:        {}", header.producer());
    outln!("target:          {}", header.target());
    outln!("cpu features:    {}", header.cpu_features);
    outln!("flags hash:      {:#018x}", header.flags_hash);
    outln!("relaxed SIMD:    {}", header.relaxed_simd);
    outln!("digest:          {:#018x}", header.digest);
    match &header.signature {
        Some(signed) => outln!(
            "signed by:       {} (not checked here: kiln verify)",
            kiln_format::signature::key_fingerprint(&signed.signer)
        ),
        None => outln!("signed by:       nobody"),
    }
    if let Some(name) = module.name() {
        outln!("module name:     {name}");
    }
    outln!("text size:       {} bytes", code.text_len());
    outln!("trap records:    {}", code.trap_table().len());
    outln!("stack maps:      {}", code.stack_map_table().len());
    outln!("types ({}):", info.types.len());
    for (i, (t, shape)) in info.types.iter().zip(&info.type_shapes).enumerate() {
        let sub = match (shape.supertype, shape.is_final) {
            (Some(sup), true) => format!(" (sub final {sup})"),
            (Some(sup), false) => format!(" (sub {sup})"),
            (None, false) => " (sub)".to_string(),
            (None, true) => String::new(),
        };
        let group = if shape.rec_group_len > 1 {
            format!(" (rec group {}..{})", shape.rec_group_start, shape.rec_group_start + shape.rec_group_len)
        } else {
            String::new()
        };
        outln!("  {i:>4} {t}{sub}{group}");
    }
    outln!("imports ({}):", info.imports.len());
    for i in &info.imports {
        outln!("  {}.{}: {}", i.module, i.name, import_kind(&i.kind));
    }
    outln!("exports ({}):", info.exports.len());
    for e in &info.exports {
        outln!("  {}: {} {}", e.name, e.kind, e.index);
    }
    outln!("memories ({}):", info.memories.len());
    for (i, m) in info.memories.iter().enumerate() {
        let imported = if i < info.num_imported_memories as usize { " (imported)" } else { "" };
        outln!("  {i:>4} {}{imported}", describe_memory(m));
    }
    outln!("tables ({}):", info.tables.len());
    for (i, t) in info.tables.iter().enumerate() {
        let imported = if i < info.num_imported_tables as usize { " (imported)" } else { "" };
        outln!("  {i:>4} {}{imported}", describe_table(t));
    }
    outln!("functions ({}):", functions.len());
    for f in &functions {
        let name = f.name.as_deref().unwrap_or("-");
        if f.imported {
            outln!("  {:>4} {name} (type {}, imported)", f.index, f.type_index);
        } else {
            outln!(
                "  {:>4} {name} (type {}) offset {:#x} size {} traps {} stack maps {}",
                f.index,
                f.type_index,
                f.code_offset,
                f.code_size,
                f.traps,
                f.stack_maps.len()
            );
            if !f.inlined.is_empty() {
                let callees: Vec<String> = f.inlined.iter().map(u32::to_string).collect();
                outln!("         inlined functions: {}", callees.join(", "));
            }
            for m in &f.stack_maps {
                outln!(
                    "         stack map: return {:#x}, frame {} bytes, live slots at sp+{:?}",
                    m.return_offset,
                    m.frame_size,
                    m.slots
                );
            }
        }
    }
    if let Some(start) = info.start {
        outln!("start:           function {start}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_decimal_hex_and_negative() {
        assert_eq!(parse_int("42", 32).unwrap(), 42);
        assert_eq!(parse_int("-1", 32).unwrap(), 0xffff_ffff);
        assert_eq!(parse_int("0xffffffff", 32).unwrap(), 0xffff_ffff);
        assert_eq!(parse_int("-2147483648", 32).unwrap(), 0x8000_0000);
        assert!(parse_int("4294967296", 32).is_err());
        assert!(parse_int("-2147483649", 32).is_err());
        assert!(parse_int("x", 32).is_err());
        assert_eq!(parse_int("-1", 64).unwrap(), u64::MAX);
        assert!(matches!(parse_arg(ValType::F32, "1.5").unwrap(), Val::F32(b) if b == 1.5f32.to_bits()));
        assert!(parse_arg(ValType::EXTERNREF, "1").is_err());
    }

    #[test]
    fn v128_parses_as_hex_or_lanes_and_prints_as_hex() {
        let expected = 0x0000_0004_0000_0003_0000_0002_0000_0001u128;
        assert_eq!(parse_v128("0x00000004000000030000000200000001").unwrap(), expected);
        assert_eq!(parse_v128("i32x4:1,2,3,4").unwrap(), expected);
        assert_eq!(parse_v128("i64x2:-1,0").unwrap(), u128::from(u64::MAX));
        assert_eq!(parse_v128("i8x16:1,0,0,0,2,0,0,0,3,0,0,0,4,0,0,0").unwrap(), expected);
        assert_eq!(parse_v128("i16x8:-1,0,0,0,0,0,0,0x8000").unwrap(), 0x8000u128 << 112 | 0xffff);
        assert_eq!(parse_v128("f32x4:1,0,0,-0").unwrap(), 0x8000_0000u128 << 96 | 0x3f80_0000);
        assert_eq!(parse_v128("f64x2:0,1.5").unwrap(), u128::from(1.5f64.to_bits()) << 64);
        for bad in [
            "",
            "0x",
            "1",
            "i32x4:1,2,3",
            "i32x4:1,2,3,4,5",
            "i8x16:256,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0",
            "q32x4:1,2,3,4",
            "0x1_0000_0000_0000_0000_0000_0000_0000_0000",
        ] {
            assert!(parse_v128(bad).is_err(), "{bad}");
        }
        assert_eq!(format_val(&Val::V128(expected)), "0x00000004000000030000000200000001");
        assert_eq!(parse_v128(&format_val(&Val::V128(u128::MAX))).unwrap(), u128::MAX);
    }
}
