//! kiln-wast: runs WebAssembly spec scripts (`.wast`) through kilnc and the kiln loader.
//!
//! Prints `FILE: N passed, M failed` per script and, last, the totals as
//! `N passed, M failed`. Exits with 1 when any directive failed.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Parser;
use kiln_compiler::{CompileOptions, Emit, Features};
use kiln_tests::{
    protocol_done_line, protocol_line, run_script_file, run_script_file_with, run_scripts_isolated, IsolateOptions,
    RunOptions, ScriptFeatures, ScriptReport, CHILD_FLAG,
};

#[derive(Parser)]
#[command(name = "kiln-wast", version, about = "Run WebAssembly spec scripts through kilnc and the kiln loader")]
struct Args {
    /// Scripts to run.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Show every failure, and what `spectest.print*` prints.
    #[arg(short, long)]
    verbose: bool,
    /// Scripts to run at once (default: the number of CPUs).
    #[arg(short, long)]
    jobs: Option<usize>,
    /// Keep each module's .wasm and .o under this directory.
    #[arg(long)]
    keep_artifacts: Option<PathBuf>,
    /// CPU features kilnc may use: `baseline` (x86-64-v2), `x86-64-v3` or
    /// `native`.
    #[arg(long, default_value = "baseline")]
    cpu: String,
    /// kilnc's optimisation level: `none`, `speed` or `speed_and_size`.
    #[arg(long, default_value = "speed")]
    opt_level: String,
    /// What kilnc writes and the loader opens: `obj` (relocatable objects)
    /// or `so` (shared objects, opened with dlopen).
    #[arg(long, default_value = "obj")]
    emit: String,
    /// Whether kilnc inlines calls within a module: `y` or `n` (its default).
    #[arg(long, default_value = "n")]
    inline: String,
    /// Compile with epoch checks (`kilnc --epoch-interruption`); no store
    /// sets a deadline, so the checks never fire.
    #[arg(long)]
    epoch_interruption: bool,
    /// Compile with fuel metering (`kilnc --fuel`); every store gets
    /// `u64::MAX` fuel, which no script uses up.
    #[arg(long)]
    fuel: bool,
    /// Instantiate through the pooling allocator.
    #[arg(long)]
    pooling: bool,
    /// Turn a WebAssembly feature on or off, as `kilnc -W` does, for every
    /// script. Without it, each script gets its suite's features: 2.0
    /// alone in a directory named `wasm-2.0`, 1.0 with threads in
    /// `proposals/threads`, kilnc's defaults elsewhere.
    #[arg(short = 'W', long = "wasm", value_name = "NAME[=y|n]")]
    wasm: Vec<String>,
    /// Seconds after which a script's process is killed and the script fails.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Run scripts in this process rather than one child process each
    /// (handy under a debugger; a crash then ends the whole run).
    #[arg(long)]
    in_process: bool,
    /// Run the one script given and print its results in the child protocol.
    #[arg(long = CHILD_FLAG.trim_start_matches('-'), hide = true)]
    child: bool,
}

fn main() -> Result<ExitCode> {
    let args = Args::parse();
    let compile = CompileOptions {
        cpu: args.cpu.parse()?,
        opt_level: args.opt_level.parse()?,
        emit: match args.emit.parse()? {
            // The scripts call exports one by one; an executable only runs `_start`.
            Emit::Executable => anyhow::bail!("--emit exe: the scripts need an artifact the loader opens (obj or so)"),
            emit => emit,
        },
        epoch_interruption: args.epoch_interruption,
        fuel: args.fuel,
        inlining: args.inline.parse()?,
        ..Default::default()
    };
    let features = if args.wasm.is_empty() {
        ScriptFeatures::BySuite
    } else {
        let mut features = Features::default();
        for settings in &args.wasm {
            features.apply(settings)?;
        }
        ScriptFeatures::Given(features)
    };
    let run = RunOptions {
        verbose: args.verbose,
        keep_artifacts: args.keep_artifacts.clone(),
        compile,
        pooling: args.pooling,
        features,
    };

    if args.child {
        return child(&args, &run);
    }

    let reports: Vec<ScriptReport> = if args.in_process {
        args.files.iter().map(|f| run_script_file(f, &run)).collect()
    } else {
        let exe = std::env::current_exe()?;
        let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let options = IsolateOptions { run, timeout: Duration::from_secs(args.timeout) };
        run_scripts_isolated(&exe, &args.files, &options, jobs)
    };

    let (mut passed, mut failed) = (0, 0);
    for report in &reports {
        println!("{}", report.summary());
        if args.verbose {
            for failure in &report.failures {
                println!("  {failure}");
            }
            if report.not_run > 0 {
                println!("  {} directives not run", report.not_run);
            }
        }
        passed += report.passed;
        failed += report.failed();
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn child(args: &Args, run: &RunOptions) -> Result<ExitCode> {
    let [file] = args.files.as_slice() else {
        anyhow::bail!("{CHILD_FLAG} takes exactly one script");
    };
    let mut emit = |outcome: &kiln_tests::DirectiveOutcome| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", protocol_line(outcome));
        // Flushed per directive, so that the parent still learns how far
        // the script got if this process dies on the next one.
        let _ = out.flush();
    };
    run_script_file_with(file, run, &mut emit);
    println!("{}", protocol_done_line());
    Ok(ExitCode::SUCCESS)
}
