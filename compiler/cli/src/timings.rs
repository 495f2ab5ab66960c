//! `kilnc --timings`: the time of each phase and of the slowest functions,
//! on stderr.

use std::time::Duration;

use kiln_compiler::{CompileReport, FunctionTime, Phase};

/// How many of the slowest functions are listed.
const SLOWEST: usize = 10;

/// Prints `report`'s phases in the order they ran, the wall time of the
/// parallel part and in all, then the [`SLOWEST`] functions, the times in
/// one column.
pub fn print(report: &CompileReport) {
    let slowest: Vec<(String, &FunctionTime)> =
        report.slowest_functions(SLOWEST).into_iter().map(|f| (function_label(f), f)).collect();
    let width = slowest.iter().map(|(label, _)| label.chars().count()).max().unwrap_or(0).max(PARALLEL_WALL.len());
    eprintln!("kilnc: timings:");
    for phase in &report.phases {
        let note = if phase.phase.is_thread_time() {
            let threads =
                if report.threads == 1 { "1 thread".to_owned() } else { format!("{} threads", report.threads) };
            format!("  (summed over {threads})")
        } else {
            String::new()
        };
        eprintln!("  {:<width$}{}{note}", phase.phase.name(), millis(phase.time));
        if phase.phase == Phase::CraneliftCompile {
            eprintln!("  {PARALLEL_WALL:<width$}{}", millis(report.parallel_wall));
        }
    }
    eprintln!("  {:<width$}{}", "total", millis(report.total));
    if slowest.is_empty() {
        return;
    }
    eprintln!("kilnc: slowest functions:");
    for (label, function) in slowest {
        eprintln!(
            "  {label:<width$}{}  (translate {}, compile {})",
            millis(function.total()),
            millis(function.translate).trim_start(),
            millis(function.compile).trim_start()
        );
    }
}

/// The line of the wall time of the phases the threads run in parallel.
const PARALLEL_WALL: &str = "translate and compile, wall";

/// `function 12 main`, or `function 12` without a name. The name comes
/// from the module: its control characters are escaped, so that it cannot
/// move the terminal's cursor or change its colours.
fn function_label(function: &FunctionTime) -> String {
    match &function.name {
        Some(name) => {
            let printable: String = name
                .chars()
                .flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] })
                .collect();
            format!("function {} {printable}", function.func_index)
        }
        None => format!("function {}", function.func_index),
    }
}

/// `  12.345 ms`, right-aligned.
fn millis(time: Duration) -> String {
    format!("{:>9.3} ms", time.as_secs_f64() * 1e3)
}
