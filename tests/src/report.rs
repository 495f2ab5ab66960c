//! What running a script produced: a count of passed directives and every failure.

use std::fmt;
use std::path::PathBuf;

/// One directive that did not do what the script asserts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// 1-based line of the directive in the script.
    pub line: usize,
    /// The directive's keyword (`assert_return`, `module`, ...).
    pub directive: String,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.directive, self.message)
    }
}

/// The outcome of one directive, as reported while a script runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectiveOutcome {
    /// 1-based line of the directive.
    pub line: usize,
    /// The directive's keyword.
    pub directive: String,
    /// `None` when it passed.
    pub failure: Option<String>,
}

/// The result of one script.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScriptReport {
    /// The script.
    pub file: PathBuf,
    /// Directives that passed.
    pub passed: usize,
    /// Directives that failed, in script order.
    pub failures: Vec<Failure>,
    /// Directives that never ran because the script's process died before
    /// them; each counts as a failure.
    pub not_run: usize,
}

impl ScriptReport {
    /// An empty report for `file`.
    pub fn new(file: impl Into<PathBuf>) -> Self {
        ScriptReport { file: file.into(), passed: 0, failures: Vec::new(), not_run: 0 }
    }

    /// Adds one directive's outcome.
    pub fn record(&mut self, outcome: DirectiveOutcome) {
        match outcome.failure {
            None => self.passed += 1,
            Some(message) => self.failures.push(Failure { line: outcome.line, directive: outcome.directive, message }),
        }
    }

    /// Number of failed directives, counting those that never ran.
    pub fn failed(&self) -> usize {
        self.failures.len() + self.not_run
    }

    /// The one-line summary `file: N passed, M failed`.
    pub fn summary(&self) -> String {
        format!("{}: {} passed, {} failed", self.file.display(), self.passed, self.failed())
    }
}
