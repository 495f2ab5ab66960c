//! `kilnc -v`: what is compiled, on stderr, one `kilnc: NAME: VALUE` line
//! each; the plan before compiling, so that it shows even when the compile
//! fails, and what only the compile knows after it.

use std::path::Path;

use kiln_compiler::{CompileOptions, CompileReport, CpuChoice, Emit, WasmFeature};

/// The input, the output, the emit kind, the CPU profile, the WebAssembly
/// features and the code generation settings.
pub fn print_plan(input: &Path, output: &Path, options: &CompileOptions) {
    let stdio = |path: &Path, name: &'static str| {
        if path.as_os_str() == "-" {
            name.to_owned()
        } else {
            path.display().to_string()
        }
    };
    eprintln!("kilnc: input: {}", stdio(input, "<stdin>"));
    eprintln!("kilnc: output: {}", stdio(output, "<stdout>"));
    eprintln!("kilnc: emit: {} ({})", options.emit, emit_description(options.emit));
    let profile = match options.cpu.profile_features() {
        Some(features) => format!("{} ({features})", options.cpu),
        None => format!("{} (this machine's features)", CpuChoice::Native),
    };
    eprintln!("kilnc: cpu: {profile}");
    let on: Vec<&str> = WasmFeature::ALL.iter().filter(|f| options.features.contains(**f)).map(|f| f.name()).collect();
    eprintln!("kilnc: features: {}", if on.is_empty() { "none".to_owned() } else { on.join(", ") });
    let instrumentation = match (options.epoch_interruption, options.fuel) {
        (false, false) => "none",
        (true, false) => "epoch",
        (false, true) => "fuel",
        (true, true) => "epoch, fuel",
    };
    let threads = options.threads.map_or_else(|| "one per core".to_owned(), |n| n.to_string());
    eprintln!(
        "kilnc: codegen: opt-level {}, inline {}, instrumentation {instrumentation}, threads {threads}",
        options.opt_level, options.inlining
    );
}

/// The functions compiled, and the CPU features the artifact needs.
pub fn print_outcome(report: &CompileReport) {
    eprintln!(
        "kilnc: functions: {} defined, {} imported, {} trampolines, on {} threads",
        report.functions.len(),
        report.imported_functions,
        report.trampolines,
        report.threads
    );
    eprintln!("kilnc: needs cpu features: {}", report.cpu_features);
}

fn emit_description(emit: Emit) -> &'static str {
    match emit {
        Emit::Object => "relocatable object",
        Emit::SharedObject => "shared object",
        Emit::Executable => "executable",
    }
}
