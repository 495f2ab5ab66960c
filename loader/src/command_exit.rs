//! How a host process that ran a Wasm command ends: with the guest's own
//! exit code, or with a report on stderr and the status other runtimes
//! give a trap. `kiln run` and the standalone executables of
//! `kilnc --emit exe` both end this way, so that the same program gives
//! the same status and messages under either.
//!
//! ```
//! use kiln_loader::command_exit::{CommandEnd, EXIT_TRAP};
//! use kiln_loader::Error;
//!
//! let exited = anyhow::Error::new(Error::Exit(300));
//! assert_eq!(CommandEnd::of(&exited), CommandEnd::Exited(44)); // 300 truncated to 8 bits
//! assert_eq!(CommandEnd::of(&anyhow::anyhow!("no such file")).status(), 1);
//! assert_eq!(CommandEnd::Trapped.status(), EXIT_TRAP);
//! ```

use std::io::Write;

use crate::Error;

/// The exit status of a guest that trapped, threw an exception it did not
/// catch, ran out of fuel or was interrupted: 134, as other runtimes
/// report an abort (128 + SIGABRT).
pub const EXIT_TRAP: u8 = 134;

/// The exit status of any other failure: the artifact could not be loaded,
/// linked or instantiated, a directory could not be preopened, ...
pub const EXIT_FAILURE: u8 = 1;

/// How a command's run ended, for an error that ended it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandEnd {
    /// The guest asked to exit (WASI `proc_exit`) with this code, truncated
    /// to 8 bits as POSIX does. It is no error: nothing is reported.
    Exited(u8),
    /// The guest trapped or threw an exception that no handler caught.
    Trapped,
    /// Anything else.
    Failed,
}

impl CommandEnd {
    /// How `error` ends the command.
    pub fn of(error: &anyhow::Error) -> CommandEnd {
        match error.downcast_ref::<Error>() {
            Some(Error::Exit(code)) => CommandEnd::Exited(*code as u8),
            Some(Error::Trap(_) | Error::Exception(_)) => CommandEnd::Trapped,
            _ => CommandEnd::Failed,
        }
    }

    /// The process exit status.
    pub fn status(self) -> u8 {
        match self {
            CommandEnd::Exited(code) => code,
            CommandEnd::Trapped => EXIT_TRAP,
            CommandEnd::Failed => EXIT_FAILURE,
        }
    }
}

/// Writes `error: ...` with the error's whole context chain to stderr,
/// and for a trap its Wasm backtrace, a frame a line (two with a source
/// line), runs of one recursing frame folded.
pub fn report(error: &anyhow::Error) {
    let mut stderr = std::io::stderr().lock();
    // Nothing is left to tell of a failure to write to stderr.
    let _ = write_report(&mut stderr, error);
}

/// [`report`], into `out`.
///
/// Every frame of the backtrace is shown or counted: a run of more than
/// two equal frames (a recursion at one call) is written once with the
/// number of repeats, and frames the trap left out of a deep stack are
/// counted on a line of their own. Frames are numbered by depth.
pub fn write_report(out: &mut dyn Write, error: &anyhow::Error) -> std::io::Result<()> {
    writeln!(out, "error: {error:#}")?;
    let Some(Error::Trap(trap)) = error.downcast_ref::<Error>() else {
        return Ok(());
    };
    if trap.backtrace.is_empty() {
        return Ok(());
    }
    writeln!(out, "wasm backtrace:")?;
    let frames: Vec<String> = trap.backtrace.iter().map(ToString::to_string).collect();
    // Runs are folded on each side of the gap, never across it.
    let gap = trap.elided.map_or(frames.len(), |gap| gap.after.min(frames.len()));
    let mut i = 0;
    while i < frames.len() {
        if i == gap {
            if let Some(elided) = trap.elided {
                writeln!(out, "  ... {} frames elided", elided.count)?;
            }
        }
        let end = if i < gap { gap } else { frames.len() };
        let run = frames[i..end].iter().take_while(|f| **f == frames[i]).count();
        if run > 2 {
            writeln!(out, "  {}: {} (and {} more times)", trap.frame_number(i), frames[i], run - 1)?;
        } else {
            for (j, frame) in frames.iter().enumerate().skip(i).take(run) {
                writeln!(out, "  {}: {frame}", trap.frame_number(j))?;
            }
        }
        i += run;
    }
    Ok(())
}

/// Writes `line` and a newline to stdout, as `println!` does, but never
/// panics: the output of a tool that a reader stopped reading ends the
/// tool (see [`stdout_failed`]).
///
/// `kiln` keeps SIGPIPE ignored, as Rust sets it, rather than restoring
/// its default at start: a guest that `kiln run` runs writes to the same
/// stdout, and a write of the guest to a closed pipe must be its EPIPE
/// error (as under other runtimes), not the end of the process. Only the
/// tool's own writes end it.
pub fn print_line(line: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_fmt(line).and_then(|()| stdout.write_all(b"\n")) {
        stdout_failed(&error);
    }
}

/// The exit status of a tool whose stdout was closed under it: 141, what a
/// shell shows for a program killed by SIGPIPE (128 + 13), as one that
/// keeps SIGPIPE's default is.
pub const EXIT_STDOUT_CLOSED: u8 = 141;

/// Ends the process after a write of the tool's own to stdout failed: for
/// a closed pipe (`kiln inspect big.o | head -1`), quietly with
/// [`EXIT_STDOUT_CLOSED`]; for another error, with a message and
/// [`EXIT_FAILURE`]. Nothing else is written to stdout after it failed, and
/// no destructor of the tool needs to run (its files are written through
/// temporary files and renamed).
pub fn stdout_failed(error: &std::io::Error) -> ! {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(EXIT_STDOUT_CLOSED.into());
    }
    let _ = writeln!(std::io::stderr(), "error: cannot write standard output: {error}");
    std::process::exit(EXIT_FAILURE.into())
}
