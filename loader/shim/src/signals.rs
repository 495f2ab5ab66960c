//! Stopping a container: `ctr task kill`, `kubectl delete pod` and the
//! kubelet's grace period send SIGTERM (or SIGINT, SIGHUP) to the
//! container's first process, which runs the program.
//!
//! That process is the init of its PID namespace, and the kernel delivers
//! to an init only the signals it handles: with no handler, SIGTERM would
//! be ignored and the container would stop only at the SIGKILL that ends
//! the grace period. So the process handles them, and ends as a process
//! killed by the signal would be reported: status 128 + its number, as
//! runc's containers are.

use anyhow::{Context, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// The signals that ask a container to stop.
const STOP_SIGNALS: [i32; 3] = [SIGTERM, SIGINT, SIGHUP];

/// Ends the process at the first stop signal, from a thread of its own,
/// whatever the program is doing (computing, or blocked in a WASI call).
pub fn end_process_on_stop_signals() -> Result<()> {
    let mut signals = Signals::new(STOP_SIGNALS).context("cannot handle the stop signals")?;
    std::thread::Builder::new()
        .name("kiln-stop-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                log::info!("kiln: stopping at signal {signal}");
                std::process::exit(128 + signal);
            }
        })
        .context("cannot start the thread that handles stop signals")?;
    Ok(())
}
