//! What a compilation did and how long each part took: the phases in
//! order, and the time of every defined function.
//!
//! The library only measures; `kilnc --timings` and `-v` print it.

use std::fmt;
use std::time::{Duration, Instant};

use kiln_format::{CpuFeatures, ExternKind, ModuleInfo};

/// A part of a compilation, timed on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Reading the input file or standard input.
    Read,
    /// Parsing the text format, if it is text, and the module's sections,
    /// with their validation. Function bodies are validated as they are
    /// translated, so their validation counts in [`Phase::Translate`].
    ParseAndValidate,
    /// Translating function bodies to Cranelift IR, validating them on the
    /// way. Summed over the compile threads.
    Translate,
    /// Cranelift compiling functions and trampolines (and, with inlining,
    /// inlining into them) to machine code. Summed over the compile threads.
    CraneliftCompile,
    /// Laying the code out and writing the ELF object with the kiln
    /// sections.
    Emit,
    /// Writing the whole-file digest into the header (SPEC.md 2.1).
    Seal,
    /// Signing the sealed artifact (SPEC.md 2.1.1).
    Sign,
    /// Linking a shared object or an executable with the system linker,
    /// which seals (and signs) what it linked again.
    Link,
    /// Writing the artifact to its file or standard output.
    Write,
}

impl Phase {
    /// The name of the phase, as `kilnc --timings` prints it.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Read => "read",
            Phase::ParseAndValidate => "parse and validate",
            Phase::Translate => "translate",
            Phase::CraneliftCompile => "Cranelift compile",
            Phase::Emit => "emit",
            Phase::Seal => "seal",
            Phase::Sign => "sign",
            Phase::Link => "link",
            Phase::Write => "write",
        }
    }

    /// Whether the time is summed over the compile threads, which run the
    /// phase in parallel, rather than wall time.
    pub fn is_thread_time(self) -> bool {
        matches!(self, Phase::Translate | Phase::CraneliftCompile)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How long a phase took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhaseTime {
    /// The phase.
    pub phase: Phase,
    /// Wall time, or for a [`Phase::is_thread_time`] phase the time of all
    /// compile threads together.
    pub time: Duration,
}

/// How long one defined function took, on the compile thread that
/// compiled it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionTime {
    /// Its index in the function space (imports first).
    pub func_index: u32,
    /// Its name in the name section, else the name of its first export.
    pub name: Option<String>,
    /// Translating it to Cranelift IR.
    pub translate: Duration,
    /// Compiling it to machine code.
    pub compile: Duration,
}

impl FunctionTime {
    /// Translating and compiling it.
    pub fn total(&self) -> Duration {
        self.translate + self.compile
    }
}

/// What [`crate::compile_with_report`] and [`crate::compile_file_with_report`]
/// tell of a compilation besides the artifact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompileReport {
    /// Every phase that ran, in the order it ran.
    pub phases: Vec<PhaseTime>,
    /// Every defined function, by function index.
    pub functions: Vec<FunctionTime>,
    /// How many functions the module imports.
    pub imported_functions: u32,
    /// How many trampolines were compiled besides the functions.
    pub trampolines: usize,
    /// How many threads compiled the functions.
    pub threads: usize,
    /// The CPU features the code needs, as the artifact records them.
    pub cpu_features: CpuFeatures,
    /// Wall time of [`Phase::Translate`] and [`Phase::CraneliftCompile`]
    /// together, which the compile threads run in parallel.
    pub parallel_wall: Duration,
    /// Wall time from the first phase to the end of the last.
    pub total: Duration,
}

impl CompileReport {
    /// The time of `phase`, if it ran.
    pub fn phase(&self, phase: Phase) -> Option<Duration> {
        self.phases.iter().find(|p| p.phase == phase).map(|p| p.time)
    }

    /// The `n` functions that took longest, longest first (the lower
    /// index first among equal times).
    pub fn slowest_functions(&self, n: usize) -> Vec<&FunctionTime> {
        let mut functions: Vec<&FunctionTime> = self.functions.iter().collect();
        functions.sort_by(|a, b| b.total().cmp(&a.total()).then(a.func_index.cmp(&b.func_index)));
        functions.truncate(n);
        functions
    }

    /// Records that `phase` took `time`.
    pub(crate) fn record(&mut self, phase: Phase, time: Duration) {
        self.phases.push(PhaseTime { phase, time });
    }

    /// Runs `work` as `phase` and records its wall time.
    pub(crate) fn time<T>(&mut self, phase: Phase, work: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let result = work();
        self.record(phase, start.elapsed());
        result
    }
}

/// The name of each defined function for the report: the name section's,
/// else its first export's.
pub(crate) fn defined_function_names(info: &ModuleInfo, name_section: &[(u32, String)]) -> Vec<Option<String>> {
    let imported = info.num_imported_funcs;
    let mut names: Vec<Option<&str>> = vec![None; info.functions.len().saturating_sub(imported as usize)];
    let exports = info.exports.iter().filter(|e| e.kind == ExternKind::Func).map(|e| (e.index, e.name.as_str(), false));
    let section = name_section.iter().map(|(func_index, name)| (*func_index, name.as_str(), true));
    for (func_index, name, replaces) in exports.chain(section) {
        let slot = func_index.checked_sub(imported).and_then(|defined| names.get_mut(defined as usize));
        if let Some(slot) = slot.filter(|slot| replaces || slot.is_none()) {
            *slot = Some(name);
        }
    }
    names.into_iter().map(|name| name.map(str::to_owned)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn function(func_index: u32, millis: u64) -> FunctionTime {
        FunctionTime {
            func_index,
            name: None,
            translate: Duration::from_millis(1),
            compile: Duration::from_millis(millis),
        }
    }

    #[test]
    fn slowest_functions_are_longest_first_and_at_most_n() {
        let report = CompileReport {
            functions: vec![function(0, 5), function(1, 9), function(2, 5), function(3, 1)],
            ..CompileReport::default()
        };
        let order: Vec<u32> = report.slowest_functions(3).iter().map(|f| f.func_index).collect();
        assert_eq!(order, [1, 0, 2]);
        assert_eq!(report.slowest_functions(10).len(), 4);
    }

    #[test]
    fn a_phase_is_found_only_when_it_ran() {
        let mut report = CompileReport::default();
        report.record(Phase::ParseAndValidate, Duration::from_millis(2));
        let answer = report.time(Phase::Emit, || 42);
        assert_eq!(answer, 42);
        assert_eq!(report.phase(Phase::ParseAndValidate), Some(Duration::from_millis(2)));
        assert!(report.phase(Phase::Emit).is_some());
        assert_eq!(report.phase(Phase::Link), None);
        let order: Vec<Phase> = report.phases.iter().map(|p| p.phase).collect();
        assert_eq!(order, [Phase::ParseAndValidate, Phase::Emit]);
    }
}
