//! Running a script's directives against kiln.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use kiln_compiler::{CompileOptions, Features};
use kiln_loader::{Engine, Error, Extern, Instance, Linker, Module, Store, Trap, Val};
use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::token::Id;
use wast::{QuoteWat, Wast, WastDirective, WastExecute, WastInvoke, Wat};

use crate::artifact::{ArtifactBuilder, BuildFailure};
use crate::report::{DirectiveOutcome, ScriptReport};
use crate::spectest::define_spectest;
use crate::values::{arg_to_val, describe, match_results};

/// Stack size of the thread that runs one script. Deeply recursive scripts
/// (`fac.wast`, `call.wast`) and the compiler's own recursion need far more
/// than the 2 MiB default, and stack exhaustion must be reached by Wasm's
/// own limit check, not by the host thread running out first.
pub const SCRIPT_STACK_SIZE: usize = 64 << 20;

/// How to run scripts.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Print what `spectest.print*` receives.
    pub verbose: bool,
    /// Keep each module's `.wasm` and `.o` in this directory (one
    /// subdirectory per script) instead of a temporary one.
    pub keep_artifacts: Option<PathBuf>,
    /// How kilnc compiles every module (CPU, optimisation level).
    pub compile: CompileOptions,
    /// Instantiate through the pooling allocator ([`pooling_config`]).
    pub pooling: bool,
    /// The WebAssembly features scripts compile with.
    pub features: ScriptFeatures,
}

/// Which WebAssembly features a script's modules compile with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ScriptFeatures {
    /// Those of the script's suite: WebAssembly 2.0 alone for a script in a
    /// directory named `wasm-2.0` (some of its invalid modules are valid in
    /// 3.0: two memories, say), 1.0 with threads in `proposals/threads`,
    /// kilnc's defaults for any other.
    #[default]
    BySuite,
    /// These, for every script.
    Given(Features),
}

impl ScriptFeatures {
    /// The features `script` compiles with.
    pub fn for_script(self, script: &Path) -> Features {
        match self {
            ScriptFeatures::Given(features) => features,
            ScriptFeatures::BySuite if script.components().any(|c| c.as_os_str() == WASM2_SUITE) => Features::wasm2(),
            ScriptFeatures::BySuite if in_suite(script, THREADS_SUITE) => Features::wasm1_threads(),
            ScriptFeatures::BySuite => Features::default(),
        }
    }
}

/// The directory name of the WebAssembly 2.0 suite.
const WASM2_SUITE: &str = "wasm-2.0";
/// The directories of the threads proposal's suite.
const THREADS_SUITE: [&str; 2] = ["proposals", "threads"];

/// Whether `script` lies in a directory `dirs[0]/dirs[1]`.
fn in_suite(script: &Path, dirs: [&str; 2]) -> bool {
    let names: Vec<_> = script.components().map(|c| c.as_os_str()).collect();
    names.windows(2).any(|pair| pair[0] == dirs[0] && pair[1] == dirs[1])
}

/// The pooling allocator that `--pooling` runs scripts with: room for the
/// most modules a script of the suite keeps alive in its one store, and
/// limits no script reaches.
pub fn pooling_config() -> kiln_loader::Config {
    let mut pool = kiln_loader::PoolingAllocationConfig::new();
    pool.total_memories(1000).total_tables(1000).total_core_instances(2000).table_elements(1 << 20);
    let mut config = kiln_loader::Config::new();
    config.allocation_strategy(kiln_loader::InstanceAllocationStrategy::Pooling(pool));
    config
}

/// Runs the script at `path` on a thread with [`SCRIPT_STACK_SIZE`] of stack.
pub fn run_script_file(path: &Path, options: &RunOptions) -> ScriptReport {
    run_script_file_with(path, options, &mut |_| {})
}

/// Like [`run_script_file`], calling `on_outcome` as each directive finishes.
pub fn run_script_file_with(
    path: &Path,
    options: &RunOptions,
    on_outcome: &mut (dyn FnMut(&DirectiveOutcome) + Send),
) -> ScriptReport {
    let mut report = ScriptReport::new(path);
    let text = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            let outcome = DirectiveOutcome { line: 0, directive: "read".into(), failure: Some(e.to_string()) };
            on_outcome(&outcome);
            report.record(outcome);
            return report;
        }
    };
    let result = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name(format!("wast {}", path.display()))
            .stack_size(SCRIPT_STACK_SIZE)
            .spawn_scoped(scope, || run_script_text(path, &text, options, on_outcome))
            .map_err(|e| format!("cannot start script thread: {e}"))?
            .join()
            .map_err(|panic| format!("runner panicked outside a directive: {}", panic_message(&*panic)))
    });
    match result {
        Ok(r) => r,
        Err(message) => {
            report.record(DirectiveOutcome { line: 0, directive: "script".into(), failure: Some(message) });
            report
        }
    }
}

/// Runs a script given as bytes, on the current thread. `name` is only used in the report.
pub fn run_script_text(
    name: &Path,
    text: &[u8],
    options: &RunOptions,
    on_outcome: &mut dyn FnMut(&DirectiveOutcome),
) -> ScriptReport {
    let mut report = ScriptReport::new(name);
    let mut emit = |report: &mut ScriptReport, outcome: DirectiveOutcome| {
        on_outcome(&outcome);
        report.record(outcome);
    };
    // Scripts such as utf8-invalid-encoding.wast hold bytes that are not
    // UTF-8 only inside `(module binary "...")` strings; the lexer needs &str,
    // so anything else not UTF-8 is an unparsable script.
    let text = match std::str::from_utf8(text) {
        Ok(t) => t,
        Err(e) => {
            emit(&mut report, DirectiveOutcome { line: 0, directive: "parse".into(), failure: Some(e.to_string()) });
            return report;
        }
    };
    let unfolded = crate::legacy_syntax::unfold_legacy_try(text);
    let text = unfolded.as_str();
    let buffer = match script_buffer(text) {
        Ok(b) => b,
        Err(e) => {
            let failure = Some(format!("script does not lex: {e}"));
            emit(&mut report, DirectiveOutcome { line: 0, directive: "parse".into(), failure });
            return report;
        }
    };
    let wast = match parser::parse::<Wast>(&buffer) {
        Ok(w) => w,
        Err(e) => {
            let failure = Some(format!("script does not parse: {e}"));
            emit(&mut report, DirectiveOutcome { line: 0, directive: "parse".into(), failure });
            return report;
        }
    };

    let mut runner = match ScriptRunner::new(name, options) {
        Ok(r) => r,
        Err(message) => {
            emit(&mut report, DirectiveOutcome { line: 0, directive: "setup".into(), failure: Some(message) });
            return report;
        }
    };
    for directive in wast.directives {
        let line = directive.span().linecol_in(text).0 + 1;
        let keyword = directive_keyword(&directive).to_string();
        let result = catch_unwind(AssertUnwindSafe(|| runner.run(directive)));
        let failure = match result {
            Ok(Ok(())) => None,
            Ok(Err(message)) => Some(message),
            Err(panic) => Some(format!("panicked: {}", panic_message(&*panic))),
        };
        emit(&mut report, DirectiveOutcome { line, directive: keyword, failure });
    }
    report
}

/// A parse buffer for a whole script. names.wast deliberately exports names
/// made of bidirectional-override and other invisible characters, which the
/// lexer refuses by default as likely mistakes in hand-written text.
pub fn script_buffer(text: &str) -> wast::parser::Result<ParseBuffer<'_>> {
    let mut lexer = Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    ParseBuffer::new_with_lexer(lexer)
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// The keyword a directive is written with.
pub fn directive_keyword(directive: &WastDirective<'_>) -> &'static str {
    match directive {
        WastDirective::Module(_) => "module",
        WastDirective::ModuleDefinition(_) => "module definition",
        WastDirective::ModuleInstance { .. } => "module instance",
        WastDirective::AssertMalformed { .. } => "assert_malformed",
        WastDirective::AssertInvalid { .. } => "assert_invalid",
        WastDirective::AssertInvalidCustom { .. } => "assert_invalid_custom",
        WastDirective::AssertMalformedCustom { .. } => "assert_malformed_custom",
        WastDirective::Register { .. } => "register",
        WastDirective::Invoke(_) => "invoke",
        WastDirective::AssertTrap { exec: WastExecute::Wat(_), .. } => "assert_trap (module)",
        WastDirective::AssertTrap { .. } => "assert_trap",
        WastDirective::AssertReturn { .. } => "assert_return",
        WastDirective::AssertExhaustion { .. } => "assert_exhaustion",
        WastDirective::AssertUnlinkable { .. } => "assert_unlinkable",
        WastDirective::AssertException { .. } => "assert_exception",
        WastDirective::AssertSuspension { .. } => "assert_suspension",
        WastDirective::Thread(_) => "thread",
        WastDirective::Wait { .. } => "wait",
    }
}

/// Whether a trap's message is the one a script expects.
///
/// The specification's interpreter reports some traps with details appended
/// (`uninitialized element 2`), which engines are not expected to reproduce,
/// so a message is accepted when either one is a prefix of the other.
pub fn trap_message_matches(actual: &str, expected: &str) -> bool {
    !actual.is_empty() && (expected.starts_with(actual) || actual.starts_with(expected))
}

fn trap_matches(trap: &Trap, expected: &str) -> bool {
    let by_code = trap.code.map(|c| trap_message_matches(c.message(), expected)).unwrap_or(false);
    by_code || trap_message_matches(&trap.message, expected)
}

fn describe_trap(trap: &Trap) -> String {
    match trap.code {
        Some(code) => format!("trap {code} ({:?})", trap.message),
        None => format!("trap ({:?})", trap.message),
    }
}

fn describe_error(error: &Error) -> String {
    match error {
        Error::Trap(trap) => describe_trap(trap),
        other => format!("{other}"),
    }
}

// One engine and one store per script: registered instances link to each
// other, so they must share a store. Fields drop in declaration order: the
// store and everything in it before the modules' object files.
struct ScriptRunner {
    instances: Vec<Instance>,
    named: HashMap<String, usize>,
    current: Option<usize>,
    /// Modules compiled by `module definition`, by name, and the last one.
    definitions: HashMap<String, Module>,
    last_definition: Option<Module>,
    linker: Linker<()>,
    store: Store<()>,
    engine: Engine,
    builder: ArtifactBuilder,
    _scratch: Option<tempfile::TempDir>,
}

impl ScriptRunner {
    fn new(script: &Path, options: &RunOptions) -> Result<Self, String> {
        let (dir, scratch) = match &options.keep_artifacts {
            Some(root) => {
                let stem = script.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let dir = root.join(stem);
                std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                (dir, None)
            }
            None => {
                let tmp = tempfile::Builder::new()
                    .prefix("kiln-wast-")
                    .tempdir()
                    .map_err(|e| format!("cannot create a scratch directory: {e}"))?;
                (tmp.path().to_path_buf(), Some(tmp))
            }
        };
        let engine = if options.pooling {
            Engine::new(&pooling_config()).map_err(|e| format!("cannot make the pooling engine: {e}"))?
        } else {
            Engine::default()
        };
        let mut store = Store::new(&engine, ());
        if options.compile.fuel {
            // Metered code runs only with fuel: a budget no script uses up.
            store.set_fuel(u64::MAX).map_err(|e| format!("cannot set fuel: {e}"))?;
        }
        let mut linker = Linker::new(&engine);
        // A script may register a module under a name used before; the
        // later registration wins, as in the reference interpreter.
        linker.allow_shadowing(true);
        define_spectest(&mut store, &mut linker, options.verbose)
            .map_err(|e| format!("cannot define spectest: {}", describe_error(&e)))?;
        Ok(ScriptRunner {
            engine,
            store,
            linker,
            instances: Vec::new(),
            named: HashMap::new(),
            current: None,
            definitions: HashMap::new(),
            last_definition: None,
            builder: ArtifactBuilder::new(
                dir,
                CompileOptions { features: options.features.for_script(script), ..options.compile.clone() },
            ),
            _scratch: scratch,
        })
    }

    fn run(&mut self, directive: WastDirective<'_>) -> Result<(), String> {
        match directive {
            WastDirective::Module(mut module) => {
                let name = module.name().map(|id| id.name().to_string());
                let wasm = module.encode().map_err(|e| format!("module does not encode: {e}"))?;
                let loaded = self.builder.build(&self.engine, &wasm).map_err(|e| e.to_string())?;
                self.instantiate(&loaded, name)
            }
            WastDirective::ModuleDefinition(mut module) => {
                let name = module.name().map(|id| id.name().to_string());
                let wasm = module.encode().map_err(|e| format!("module does not encode: {e}"))?;
                let loaded = self.builder.build(&self.engine, &wasm).map_err(|e| e.to_string())?;
                if let Some(name) = name {
                    self.definitions.insert(name, loaded.clone());
                }
                self.last_definition = Some(loaded);
                Ok(())
            }
            WastDirective::ModuleInstance { instance, module, .. } => {
                let definition = match module {
                    Some(id) => self.definitions.get(id.name()),
                    None => self.last_definition.as_ref(),
                };
                let definition =
                    definition.cloned().ok_or_else(|| format!("no module definition {}", describe_id(module)))?;
                self.instantiate(&definition, instance.map(|id| id.name().to_string()))
            }
            WastDirective::Register { name, module, .. } => {
                let index = self.instance_index(module)?;
                self.linker
                    .instance(&self.store, name, self.instances[index])
                    .map(drop)
                    .map_err(|e| format!("register failed: {}", describe_error(&e)))
            }
            WastDirective::Invoke(invoke) => self.invoke(&invoke).map(drop).map_err(|e| e.to_string()),
            WastDirective::AssertReturn { exec, results, .. } => {
                let actual = self.execute(exec).map_err(|e| e.to_string())?;
                match_results(&self.store, &actual, &results)
            }
            WastDirective::AssertTrap { exec, message, .. } => self.assert_trap(exec, message),
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(&call) {
                Ok(vals) => Err(format!("expected {message:?}, returned {}", describe_all(&self.store, &vals))),
                Err(Outcome::Error(Error::Trap(trap))) if trap_matches(&trap, message) => Ok(()),
                Err(e) => Err(format!("expected {message:?}, got {e}")),
            },
            WastDirective::AssertException { exec, .. } => match self.execute(exec) {
                Ok(vals) => Err(format!("expected an exception, returned {}", describe_all(&self.store, &vals))),
                Err(Outcome::Error(Error::Exception(_))) => Ok(()),
                Err(e) => Err(format!("expected an exception, got {e}")),
            },
            WastDirective::AssertInvalid { module, message, .. } => self.assert_rejected(module, message, false),
            WastDirective::AssertMalformed { module, message, .. } => self.assert_rejected(module, message, true),
            WastDirective::AssertUnlinkable { mut module, message, .. } => {
                let wasm = module.encode().map_err(|e| format!("module does not encode: {e}"))?;
                let loaded = self.builder.build(&self.engine, &wasm).map_err(|e| e.to_string())?;
                match self.linker.instantiate(&mut self.store, &loaded) {
                    Ok(_) => Err(format!("instantiated, expected link error {message:?}")),
                    Err(Error::Link(_)) => Ok(()),
                    Err(e) => Err(format!("expected link error {message:?}, got {}", describe_error(&e))),
                }
            }
            other => Err(format!("directive `{}` is not supported by this runner", directive_keyword(&other))),
        }
    }

    /// Instantiates `module` as the current instance, named `name` if given.
    fn instantiate(&mut self, module: &Module, name: Option<String>) -> Result<(), String> {
        let instance = self
            .linker
            .instantiate(&mut self.store, module)
            .map_err(|e| format!("instantiation failed: {}", describe_error(&e)))?;
        self.instances.push(instance);
        let index = self.instances.len() - 1;
        self.current = Some(index);
        if let Some(name) = name {
            self.named.insert(name, index);
        }
        Ok(())
    }

    fn instance_index(&self, id: Option<Id<'_>>) -> Result<usize, String> {
        match id {
            Some(id) => self.named.get(id.name()).copied().ok_or_else(|| format!("no module named ${}", id.name())),
            None => self.current.ok_or_else(|| "no module instantiated yet".to_string()),
        }
    }

    fn export(&self, module: Option<Id<'_>>, name: &str) -> Result<Extern, String> {
        let index = self.instance_index(module)?;
        self.instances[index].get_export(&self.store, name).ok_or_else(|| format!("no export {name:?}"))
    }

    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> Result<Vec<Val>, Outcome> {
        let args = invoke
            .args
            .iter()
            .map(|arg| arg_to_val(&self.store, arg))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Outcome::Runner)?;
        let func = match self.export(invoke.module, invoke.name).map_err(Outcome::Runner)? {
            Extern::Func(f) => f,
            _ => return Err(Outcome::Runner(format!("export {:?} is not a function", invoke.name))),
        };
        let mut results = vec![Val::I32(0); func.ty(&self.store).results.len()];
        func.call(&mut self.store, &args, &mut results).map_err(Outcome::Error)?;
        Ok(results)
    }

    fn execute(&mut self, exec: WastExecute<'_>) -> Result<Vec<Val>, Outcome> {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(&invoke),
            WastExecute::Get { module, global, .. } => match self.export(module, global).map_err(Outcome::Runner)? {
                Extern::Global(g) => Ok(vec![g.get(&self.store)]),
                _ => Err(Outcome::Runner(format!("export {global:?} is not a global"))),
            },
            WastExecute::Wat(mut module) => {
                let loaded = self.build_wat(&mut module).map_err(Outcome::Runner)?;
                self.linker.instantiate(&mut self.store, &loaded).map(|_| Vec::new()).map_err(Outcome::Error)
            }
        }
    }

    fn build_wat(&mut self, module: &mut Wat<'_>) -> Result<Module, String> {
        let wasm = module.encode().map_err(|e| format!("module does not encode: {e}"))?;
        self.builder.build(&self.engine, &wasm).map_err(|e| e.to_string())
    }

    fn assert_trap(&mut self, exec: WastExecute<'_>, message: &str) -> Result<(), String> {
        let instantiating = matches!(exec, WastExecute::Wat(_));
        match self.execute(exec) {
            Ok(vals) => Err(format!("expected trap {message:?}, returned {}", describe_all(&self.store, &vals))),
            Err(Outcome::Error(Error::Trap(trap))) if trap_matches(&trap, message) => Ok(()),
            // A module whose instantiation traps (a start function, or an
            // out-of-bounds segment) may be reported as a failed instantiation.
            Err(Outcome::Error(Error::Instantiation(text)))
                if instantiating && (text.contains(message) || trap_message_matches(&text, message)) =>
            {
                Ok(())
            }
            Err(e) => Err(format!("expected trap {message:?}, got {e}")),
        }
    }

    /// `assert_invalid` and `assert_malformed`: kilnc must refuse the module.
    /// Text that the `wast` crate cannot turn into a binary never reaches
    /// kilnc, and counts as the expected refusal.
    fn assert_rejected(&mut self, mut module: QuoteWat<'_>, message: &str, malformed: bool) -> Result<(), String> {
        let wasm = match module.encode() {
            Ok(wasm) => wasm,
            Err(_) => return Ok(()),
        };
        match self.builder.compile(&wasm) {
            Err(BuildFailure::Compile(_)) => Ok(()),
            Err(other) => Err(other.to_string()),
            Ok(_) => {
                let what = if malformed { "malformed" } else { "invalid" };
                Err(format!("kilnc accepted the module; expected it to be {what}: {message:?}"))
            }
        }
    }
}

/// Why executing a directive's action gave no values.
enum Outcome {
    /// kiln returned an error (a trap, a link error, ...).
    Error(Error),
    /// The script asked for something that does not exist.
    Runner(String),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Error(e) => f.write_str(&describe_error(e)),
            Outcome::Runner(m) => f.write_str(m),
        }
    }
}

fn describe_id(id: Option<Id<'_>>) -> String {
    id.map_or_else(|| "(unnamed)".to_string(), |id| format!("${}", id.name()))
}

fn describe_all(store: &Store<()>, vals: &[Val]) -> String {
    format!("[{}]", vals.iter().map(|v| describe(store, v)).collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_messages_match_by_prefix_either_way() {
        assert!(trap_message_matches("uninitialized element", "uninitialized element 2"));
        assert!(trap_message_matches("integer divide by zero", "integer divide by zero"));
        assert!(!trap_message_matches("integer overflow", "integer divide by zero"));
        assert!(!trap_message_matches("", "unreachable"));
    }
}
