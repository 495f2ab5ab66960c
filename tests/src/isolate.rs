//! Running a script in a child process.
//!
//! Compiled code that escapes the trap handler, or a loader bug, kills the
//! process it runs in. Running each script in its own `kiln-wast` process
//! turns such a crash into failures of that one script: the directives that
//! finished are reported, the one in flight fails with the signal, and those
//! after it count as failed without running.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use wast::parser;
use wast::Wast;

use crate::report::{DirectiveOutcome, Failure, ScriptReport};
use crate::runner::{directive_keyword, script_buffer, RunOptions, ScriptFeatures};

/// The argument that makes `kiln-wast` run one script and speak the child protocol.
pub const CHILD_FLAG: &str = "--child";

/// Prefix of every protocol line a child prints on stdout; other lines are
/// the scripts' own output (`spectest.print*` in verbose mode).
const MARK: &str = "@@kiln-wast";

/// How to run scripts in child processes.
#[derive(Clone, Debug)]
pub struct IsolateOptions {
    /// Options passed on to the child.
    pub run: RunOptions,
    /// A child still running after this long is killed and its script fails.
    pub timeout: Duration,
}

impl Default for IsolateOptions {
    fn default() -> Self {
        IsolateOptions { run: RunOptions::default(), timeout: Duration::from_secs(600) }
    }
}

/// The protocol line a child prints for one finished directive.
pub fn protocol_line(outcome: &DirectiveOutcome) -> String {
    let (status, message) = match &outcome.failure {
        None => ("ok", String::new()),
        Some(m) => ("fail", escape(m)),
    };
    format!("{MARK}\t{}\t{}\t{status}\t{message}", outcome.line, outcome.directive)
}

/// The protocol line a child prints once every directive has run.
pub fn protocol_done_line() -> String {
    format!("{MARK}\tdone")
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n").replace('\t', "\\t")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

fn parse_protocol_line(line: &str) -> Option<Result<DirectiveOutcome, ()>> {
    let rest = line.strip_prefix(MARK)?.strip_prefix('\t')?;
    if rest == "done" {
        return Some(Err(()));
    }
    let mut fields = rest.splitn(4, '\t');
    let line = fields.next()?.parse().ok()?;
    let directive = fields.next()?.to_string();
    let failure = match (fields.next()?, fields.next().unwrap_or("")) {
        ("ok", _) => None,
        ("fail", message) => Some(unescape(message)),
        _ => return None,
    };
    Some(Ok(DirectiveOutcome { line, directive, failure }))
}

/// Lines and keywords of a script's directives, in order.
pub fn script_directives(text: &str) -> Result<Vec<(usize, &'static str)>, String> {
    let buffer = script_buffer(text).map_err(|e| e.to_string())?;
    let wast = parser::parse::<Wast>(&buffer).map_err(|e| e.to_string())?;
    Ok(wast.directives.iter().map(|d| (d.span().linecol_in(text).0 + 1, directive_keyword(d))).collect())
}

/// Runs `script` in a child `kiln-wast` (the binary at `exe`) and collects its report.
pub fn run_script_isolated(exe: &Path, script: &Path, options: &IsolateOptions) -> ScriptReport {
    let mut report = ScriptReport::new(script);
    let mut command = Command::new(exe);
    command.arg(CHILD_FLAG).arg(script);
    if options.run.verbose {
        command.arg("--verbose");
    }
    if let Some(dir) = &options.run.keep_artifacts {
        command.arg("--keep-artifacts").arg(dir);
    }
    command.arg("--cpu").arg(options.run.compile.cpu.to_string());
    command.arg("--opt-level").arg(options.run.compile.opt_level.as_str());
    command.arg("--emit").arg(options.run.compile.emit.to_string());
    command.arg("--inline").arg(options.run.compile.inlining.to_string());
    if options.run.compile.epoch_interruption {
        command.arg("--epoch-interruption");
    }
    if options.run.pooling {
        command.arg("--pooling");
    }
    if options.run.compile.fuel {
        command.arg("--fuel");
    }
    if let ScriptFeatures::Given(features) = options.run.features {
        command.arg("--wasm").arg(features.to_string());
    }
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            report.failures.push(Failure {
                line: 0,
                directive: "script".into(),
                message: format!("cannot start {}: {e}", exe.display()),
            });
            return report;
        }
    };

    let stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let verbose = options.run.verbose;
    let stdout_reader = std::thread::spawn(move || {
        let mut outcomes = Vec::new();
        let mut done = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            match parse_protocol_line(&line) {
                Some(Ok(outcome)) => outcomes.push(outcome),
                Some(Err(())) => done = true,
                None if verbose => println!("{line}"),
                None => {}
            }
        }
        (outcomes, done)
    });
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let started = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= options.timeout => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    let (outcomes, done) = stdout_reader.join().unwrap_or_default();
    let stderr_text = stderr_reader.join().unwrap_or_default();

    let finished = outcomes.len();
    for outcome in outcomes {
        report.record(outcome);
    }
    if done && !timed_out && status.is_some_and(|s| s.success()) {
        return report;
    }

    let cause = if timed_out {
        format!("timed out after {} s", options.timeout.as_secs())
    } else {
        match status {
            Some(s) => describe_exit(s),
            None => "could not be waited for".to_string(),
        }
    };
    let tail = stderr_tail(&stderr_text, 12);
    let directives = std::fs::read(script)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| script_directives(&t).ok())
        .unwrap_or_default();
    let (line, directive) = directives.get(finished).map(|(l, k)| (*l, k.to_string())).unwrap_or((0, "script".into()));
    report.failures.push(Failure { line, directive, message: format!("script process {cause}{tail}") });
    report.not_run = directives.len().saturating_sub(finished + 1);
    report
}

fn describe_exit(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("was killed by signal {signal}");
        }
    }
    match status.code() {
        Some(code) => format!("exited with code {code} before finishing"),
        None => "ended without an exit code".to_string(),
    }
}

fn stderr_tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    if all.is_empty() {
        return String::new();
    }
    let start = all.len().saturating_sub(lines);
    format!("; stderr:\n    {}", all[start..].join("\n    "))
}

/// Runs many scripts in child processes, `jobs` at a time; reports come back in input order.
pub fn run_scripts_isolated(
    exe: &Path,
    scripts: &[PathBuf],
    options: &IsolateOptions,
    jobs: usize,
) -> Vec<ScriptReport> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(vec![None; scripts.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(scripts.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(script) = scripts.get(i) else { break };
                let report = run_script_isolated(exe, script, options);
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(report);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .zip(scripts)
        .map(|(r, s)| {
            r.unwrap_or_else(|| {
                let mut report = ScriptReport::new(s);
                report.failures.push(Failure { line: 0, directive: "script".into(), message: "never ran".into() });
                report
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_lines_round_trip() {
        let outcome = DirectiveOutcome {
            line: 42,
            directive: "assert_trap (module)".into(),
            failure: Some("two\nlines\twith a \\ tab".into()),
        };
        assert_eq!(parse_protocol_line(&protocol_line(&outcome)), Some(Ok(outcome)));
        let ok = DirectiveOutcome { line: 1, directive: "module".into(), failure: None };
        assert_eq!(parse_protocol_line(&protocol_line(&ok)), Some(Ok(ok)));
        assert_eq!(parse_protocol_line(&protocol_done_line()), Some(Err(())));
        assert_eq!(parse_protocol_line("print_i32: (i32.const 1)"), None);
    }
}
