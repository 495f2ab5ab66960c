//! The kiln runtime of standalone executables: `kilnc --emit exe` links
//! this static library with an object holding a compiled artifact and the
//! run policy chosen at build time (format-spec/SPEC.md 1.4). Its C `main`
//! runs the artifact as a WASI command with the process's arguments and
//! standard streams, and ends as `kiln run` does: with the program's exit
//! code, or after a trap with its message and backtrace on stderr and
//! status 134 (`kiln_loader::command_exit`).
//!
//! A panic in the runtime prints one line naming it and exits with 1, the
//! status of every failure other than a trap.
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod command;
mod embedded;

use std::ffi::{c_char, c_int};
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};

use kiln_loader::command_exit::{self, CommandEnd, EXIT_FAILURE};

/// The executable's entry point, called by the C runtime.
#[allow(unsafe_code)] // `no_mangle`: the C runtime calls it by this name.
#[no_mangle]
pub extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    // Rust's own `main` is not run here (this one replaces it), so what it
    // would set up is set up here: a write to a closed pipe is an EPIPE
    // error for the program, as under `kiln run`, not a SIGPIPE that ends
    // the process.
    ignore_sigpipe();
    panic::set_hook(Box::new(|info| {
        // Nothing is left to tell of a failure to write to stderr.
        let _ = writeln!(std::io::stderr(), "error: internal error in the kiln runtime: {info}");
    }));
    let status = match panic::catch_unwind(AssertUnwindSafe(command::run)) {
        Ok(Ok(())) => 0,
        Ok(Err(error)) => {
            let end = CommandEnd::of(&error);
            if !matches!(end, CommandEnd::Exited(_)) {
                command_exit::report(&error);
            }
            end.status()
        }
        // The hook has said what happened.
        Err(_) => EXIT_FAILURE,
    };
    // Nothing buffered may be lost: the C runtime's exit does not flush
    // Rust's stdout.
    let _ = std::io::stdout().flush();
    c_int::from(status)
}

#[allow(unsafe_code)]
fn ignore_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler
    // code; no other thread exists yet to race with.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}
