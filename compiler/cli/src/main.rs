//! `kilnc`: compiles a WebAssembly module (`.wasm` or `.wat`) ahead of time
//! into a kiln artifact: an ELF relocatable object, with `--emit so` a
//! shared object linked from it by the system linker, or with `--emit exe`
//! a standalone executable that runs it as a WASI command.

#![forbid(unsafe_code)]

mod progress_bar;
mod timings;
mod verbose;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::{CommandFactory, Parser, ValueEnum};
use kiln_cli_docs::Shell;
use kiln_compiler::{
    compile_file_with_report, CompileError, CompileOptions, CpuChoice, Emit, ExecutableOptions, Features, Inlining,
    OptLevel, Preopen, RunPolicy, Signer,
};

use crate::progress_bar::ProgressBar;

/// The file name of the kiln runtime library that `--emit exe` links with.
const RUNTIME_LIB_NAME: &str = "libkiln_runtime.a";

/// The environment variable naming the runtime library, below
/// `--runtime-lib` and above the copy beside kilnc.
const RUNTIME_LIB_ENV: &str = "KILN_RUNTIME_LIB";

/// Compiles WebAssembly ahead of time into kiln artifacts.
#[derive(Parser, Debug)]
#[command(name = "kilnc", version)]
struct Cli {
    /// The input module: binary `.wasm` or text `.wat`, or `-` for standard
    /// input. It must be a regular file (or a pipe or terminal as standard
    /// input) of at most 4 GiB.
    // Required, though --completion and --man, which are exclusive, need
    // no input.
    #[arg(required = true)]
    input: Option<PathBuf>,
    /// The artifact to write, or `-` for standard output. Default: the
    /// input's name with `.o` (`.so` for --emit so, nothing for --emit
    /// exe) in the current directory, as `wasmtime compile` writes its
    /// `.cwasm`; standard input needs -o. An existing file is replaced
    /// atomically, but only a regular file that is not the input: kilnc
    /// refuses a directory, device, FIFO, socket or symbolic link.
    #[arg(short = 'o', long = "output", value_name = "OUT.o")]
    output: Option<PathBuf>,
    /// What to write: the relocatable object, a shared object linked from
    /// it with the system linker (`cc` or `ld`), or a standalone executable
    /// (`exe`, linked by `cc` with the kiln runtime library) that runs it
    /// as a WASI command.
    #[arg(long, value_enum, default_value_t = EmitArg::Obj)]
    emit: EmitArg,
    /// With --emit exe: let the program reach host directory HOST (and
    /// nothing above it) as GUEST (default: HOST as written).
    ///
    /// Repeatable; the syntax of `kiln run --dir`. The executable gets
    /// exactly these preopens at run time, nothing else. A relative HOST is
    /// resolved at run time, against the working directory of the process
    /// running the executable (not where kilnc ran); none is opened at build
    /// time, so it need not exist then. A directory that does not exist at
    /// run time is an error (exit 1); procfs, sysfs and the other kernel
    /// filesystems, and `/`, are refused.
    #[arg(long = "dir", value_name = "HOST[::GUEST]", help_heading = "Executable (--emit exe)")]
    dirs: Vec<String>,
    /// With --emit exe: give the program the environment variable NAME
    /// with VALUE.
    ///
    /// Repeatable. At run time the program's environment is exactly these
    /// variables, in this order, and nothing of the host's environment,
    /// unless --inherit-env is given too.
    #[arg(long = "env", value_name = "NAME=VALUE", help_heading = "Executable (--emit exe)")]
    envs: Vec<String>,
    /// With --emit exe: pass the whole environment of the process running
    /// the executable on to the program.
    ///
    /// The variables of --env are added to it, replacing any of the same
    /// name. Without this flag the program sees only the --env variables.
    #[arg(long, help_heading = "Executable (--emit exe)")]
    inherit_env: bool,
    /// With --emit exe: the kiln runtime library to link with.
    ///
    /// Default: $KILN_RUNTIME_LIB, else libkiln_runtime.a in the directory
    /// of the kilnc executable (where `cargo build --release` of the
    /// workspace, or `make build`, puts it beside kilnc, and where an
    /// installed kilnc ships it).
    #[arg(long, value_name = "PATH", help_heading = "Executable (--emit exe)")]
    runtime_lib: Option<PathBuf>,
    /// Optimization level.
    #[arg(short = 'O', long = "opt-level", value_enum, default_value_t = OptArg::Speed)]
    opt_level: OptArg,
    /// Target triple (only x86_64-unknown-linux-gnu is supported).
    #[arg(long, value_name = "TRIPLE")]
    target: Option<String>,
    /// CPU features the code may use: baseline (x86-64-v2: SSE4.2,
    /// POPCNT), x86-64-v3 (adds AVX2, BMI1/2, LZCNT, FMA; any x86-64 server
    /// since 2013), or native (what this machine has). The artifact records
    /// them, and a host without them refuses it.
    #[arg(long, value_enum, default_value_t = CpuArg::Baseline)]
    cpu: CpuArg,
    /// Number of compile threads (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// Compile an epoch check into every function entry and loop header,
    /// so that a store's epoch deadline can interrupt the code (recorded in
    /// the artifact header; a store refuses deadlines on code without it).
    #[arg(long)]
    epoch_interruption: bool,
    /// Meter the code with fuel (Wasmtime's cost model: one unit per
    /// operator, nop, drop, block, loop, unreachable, return, else and end
    /// free), so that a store's fuel limits it (recorded in the artifact
    /// header; a store refuses fuel on code without it).
    #[arg(long)]
    fuel: bool,
    /// Inline small callees, and callees with a single call site, into
    /// their callers within the module (`y`) or compile every function on
    /// its own (`n`, the default). Traps, backtraces and stack maps stay
    /// exact either way.
    #[arg(long, value_enum, value_name = "y|n", default_value_t = YesNo::N)]
    inline: YesNo,
    /// Turn a WebAssembly feature on or off: `NAME`, `NAME=y` or `NAME=n`,
    /// several separated by commas, the flag repeatable. Every feature
    /// kilnc supports is on by default. Features: simd, relaxed-simd,
    /// threads, tail-call, multi-memory, memory64, extended-const,
    /// function-references, exceptions, legacy-exceptions (gc: not yet).
    #[arg(short = 'W', long = "wasm", value_name = "NAME[=y|n]")]
    wasm: Vec<String>,
    /// Write the optimized CLIF of every function and trampoline into DIR
    /// (which must exist), one `NAMESPACE-INDEX.clif` file each; a defined
    /// function is `0-FUNC_INDEX`. For reading the generated code.
    #[arg(long, value_name = "DIR", hide = true)]
    emit_clif: Option<PathBuf>,
    /// Sign the artifact with this Ed25519 secret key (`kiln keygen`'s
    /// NAME.key), so that `kiln run --trust NAME.pub` and
    /// `Module::from_file_verified` accept it. Signing is deterministic:
    /// the same input, flags and key give the same bytes.
    #[arg(long, value_name = "SECRET_KEY")]
    sign: Option<PathBuf>,
    /// Print what is compiled to stderr: input, output, emit kind, CPU
    /// profile and features, WebAssembly features, number of functions.
    #[arg(short, long)]
    verbose: bool,
    /// Print to stderr the time of each phase (parse and validate,
    /// translate, Cranelift compile, emit, seal, sign, link, write) and the
    /// 10 slowest functions.
    #[arg(long)]
    timings: bool,
    /// Print the completion script of kilnc for SHELL to standard output,
    /// and exit: `source <(kilnc --completion bash)`.
    #[arg(long, value_enum, value_name = "SHELL", exclusive = true)]
    completion: Option<Shell>,
    /// Write kilnc's man page, kilnc.1, into DIR, and exit (`make man`).
    #[arg(long, value_name = "DIR", hide = true, exclusive = true)]
    man: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OptArg {
    None,
    Speed,
    #[value(name = "speed_and_size")]
    SpeedAndSize,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum EmitArg {
    Obj,
    So,
    Exe,
}

impl EmitArg {
    fn kind(self) -> Emit {
        match self {
            EmitArg::Obj => Emit::Object,
            EmitArg::So => Emit::SharedObject,
            EmitArg::Exe => Emit::Executable,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum YesNo {
    Y,
    N,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum CpuArg {
    #[value(alias = "x86-64-v2")]
    Baseline,
    #[value(name = "x86-64-v3")]
    X8664V3,
    Native,
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(shell) = cli.completion {
        return Ok(kiln_cli_docs::print_completion(shell, Cli::command(), "kilnc")?);
    }
    if let Some(dir) = &cli.man {
        kiln_cli_docs::write_man_pages(Cli::command(), dir)?;
        return Ok(());
    }
    let input = cli.input.clone().ok_or_else(|| anyhow!("name the module to compile"))?;
    let output = output_path(&input, cli.output.as_deref(), cli.emit)?;
    let executable = match cli.emit {
        EmitArg::Exe => executable_options(&cli)?,
        _ => {
            refuse_executable_flags(&cli)?;
            ExecutableOptions::default()
        }
    };
    let mut features = Features::default();
    for settings in &cli.wasm {
        features.apply(settings)?;
    }
    let options = CompileOptions {
        opt_level: match cli.opt_level {
            OptArg::None => OptLevel::None,
            OptArg::Speed => OptLevel::Speed,
            OptArg::SpeedAndSize => OptLevel::SpeedAndSize,
        },
        target: cli.target,
        cpu: match cli.cpu {
            CpuArg::Baseline => CpuChoice::Baseline,
            CpuArg::X8664V3 => CpuChoice::X86_64V3,
            CpuArg::Native => CpuChoice::Native,
        },
        threads: cli.threads.map(usize::from),
        emit: cli.emit.kind(),
        epoch_interruption: cli.epoch_interruption,
        fuel: cli.fuel,
        features,
        clif_dir: cli.emit_clif,
        inlining: match cli.inline {
            YesNo::Y => Inlining::On,
            YesNo::N => Inlining::Off,
        },
        signer: cli.sign.as_deref().map(Signer::from_key_file).transpose()?,
        executable,
        progress: None,
    };
    if cli.verbose {
        verbose::print_plan(&input, &output, &options);
    }
    // Drawn only on a terminal, and only once a compile takes a while.
    let bar = ProgressBar::on_terminal();
    let options = CompileOptions { progress: bar.as_ref().map(ProgressBar::callback), ..options };
    let compiled = compile_file_with_report(&input, &output, &options);
    if let Some(bar) = &bar {
        bar.clear();
    }
    let report = compiled?;
    if cli.verbose {
        verbose::print_outcome(&report);
    }
    if cli.timings {
        timings::print(&report);
    }
    Ok(())
}

/// The artifact's path: `-o`, else the input's name with the artifact's
/// extension in the working directory.
fn output_path(input: &Path, output: Option<&Path>, emit: EmitArg) -> anyhow::Result<PathBuf> {
    if let Some(output) = output {
        return Ok(output.to_path_buf());
    }
    if input.as_os_str() == "-" {
        bail!(
            "kilnc reads the module from standard input: name the artifact with -o FILE, or -o - for standard output"
        );
    }
    emit.kind()
        .artifact_file_name(input)
        .ok_or_else(|| anyhow!("{} names no file to name the artifact after: name it with -o", input.display()))
}

/// The run policy and runtime library of `--emit exe`.
fn executable_options(cli: &Cli) -> anyhow::Result<ExecutableOptions> {
    let mut policy = RunPolicy { inherit_env: cli.inherit_env, ..RunPolicy::default() };
    for dir in &cli.dirs {
        policy.preopens.push(Preopen::parse(dir).map_err(|e| anyhow::anyhow!("--dir {e}"))?);
    }
    for env in &cli.envs {
        let Some((name, value)) = env.split_once('=') else {
            bail!("--env `{env}`: write NAME=VALUE (the value is fixed when the executable is built)");
        };
        if name.is_empty() {
            bail!("--env `{env}`: the name is empty");
        }
        policy.env.push((name.as_bytes().to_vec(), value.as_bytes().to_vec()));
    }
    Ok(ExecutableOptions { runtime_lib: runtime_lib(cli.runtime_lib.as_deref())?, policy })
}

/// Where the runtime library is: `--runtime-lib`, else
/// `$KILN_RUNTIME_LIB`, else beside this kilnc. Whether it is there is
/// checked by the compiler, which names the path.
fn runtime_lib(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = flag {
        return Ok(path.to_path_buf());
    }
    if let Some(path) = std::env::var_os(RUNTIME_LIB_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let kilnc = std::env::current_exe().context("cannot find the kiln runtime library: where is kilnc?")?;
    let dir = kilnc.parent().context("cannot find the kiln runtime library: kilnc has no directory")?;
    Ok(dir.join(RUNTIME_LIB_NAME))
}

/// The run policy flags mean something only for an executable.
fn refuse_executable_flags(cli: &Cli) -> anyhow::Result<()> {
    let given: Vec<&str> = [
        (!cli.dirs.is_empty(), "--dir"),
        (!cli.envs.is_empty(), "--env"),
        (cli.inherit_env, "--inherit-env"),
        (cli.runtime_lib.is_some(), "--runtime-lib"),
    ]
    .into_iter()
    .filter_map(|(given, flag)| given.then_some(flag))
    .collect();
    if !given.is_empty() {
        let verb = if given.len() == 1 { "is" } else { "are" };
        bail!(
            "{} {verb} for --emit exe only: an artifact run by `kiln run` gets its directories and environment \
             from `kiln run --dir` and `--env`",
            given.join(", ")
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Usage errors exit 1 like every other failure; --help and
            // --version are not failures.
            let _ = e.print();
            return if e.use_stderr() { ExitCode::FAILURE } else { ExitCode::SUCCESS };
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<CompileError>().is_some_and(CompileError::is_stdout_closed) => {
            end_on_closed_stdout()
        }
        Err(e) => {
            // Nothing is left to tell of a failure to write to stderr.
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Ends kilnc quietly when its reader stopped reading (`kilnc app.wasm
/// -o - | head -c 4`), with status 141: what a shell shows for a program
/// killed by SIGPIPE, as one that keeps SIGPIPE's default is. kilnc keeps
/// SIGPIPE ignored, as Rust sets it, so that a closed pipe is an error it
/// sees (and never ends it half-way through writing a file), and ends so
/// only once it has seen one on standard output.
fn end_on_closed_stdout() -> ExitCode {
    ExitCode::from(EXIT_STDOUT_CLOSED)
}

/// 128 + SIGPIPE (13).
const EXIT_STDOUT_CLOSED: u8 = 141;
