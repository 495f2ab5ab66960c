//! `kilnc`: compiles a WebAssembly module (`.wasm` or `.wat`) ahead of time
//! into a kiln artifact: an ELF relocatable object, or with `--emit so` a
//! shared object linked from it by the system linker.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use kiln_compiler::{compile_file, CompileOptions, CpuChoice, Emit, Features, Inlining, OptLevel, Signer};

/// Compile a WebAssembly module into a kiln object file.
#[derive(Parser, Debug)]
#[command(name = "kilnc", version, about)]
struct Cli {
    /// The input module: binary `.wasm` or text `.wat`, or `-` for standard
    /// input. It must be a regular file (or a pipe or terminal as standard
    /// input) of at most 4 GiB.
    input: PathBuf,
    /// The artifact to write, or `-` for standard output. An existing file
    /// is replaced atomically, but only a regular file that is not the
    /// input: kilnc refuses a directory, device, FIFO, socket or symbolic
    /// link.
    #[arg(short = 'o', long = "output", value_name = "OUT.o")]
    output: PathBuf,
    /// What to write: the relocatable object, or a shared object linked
    /// from it with the system linker (`cc` or `ld`).
    #[arg(long, value_enum, default_value_t = EmitArg::Obj)]
    emit: EmitArg,
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
        emit: match cli.emit {
            EmitArg::Obj => Emit::Object,
            EmitArg::So => Emit::SharedObject,
        },
        epoch_interruption: cli.epoch_interruption,
        fuel: cli.fuel,
        features,
        clif_dir: cli.emit_clif,
        inlining: match cli.inline {
            YesNo::Y => Inlining::On,
            YesNo::N => Inlining::Off,
        },
        signer: cli.sign.as_deref().map(Signer::from_key_file).transpose()?,
    };
    compile_file(&cli.input, &cli.output, &options)?;
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
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
