//! `kilnc --timings`: the time of each phase and of the slowest functions,
//! on stderr.

use std::time::Duration;

use kiln_compiler::{CompileReport, FunctionTime};

/// How many of the slowest functions are listed.
const SLOWEST: usize = 10;

/// Prints `report`'s phases in the order they ran, the wall time of the
/// parallel part and in all, then the [`SLOWEST`] functions.
pub fn print(report: &CompileReport) {
    eprintln!("kilnc: timings:");
    for phase in &report.phases {
        let note = if phase.phase.is_thread_time() {
            format!("  (summed over {} threads)", report.threads)
        } else {
            String::new()
        };
        eprintln!("  {:<28}{}{note}", phase.phase.name(), millis(phase.time));
        if phase.phase == kiln_compiler::Phase::CraneliftCompile {
            eprintln!("  {:<28}{}", "translate and compile, wall", millis(report.parallel_wall));
        }
    }
    eprintln!("  {:<28}{}", "total", millis(report.total));
    let slowest = report.slowest_functions(SLOWEST);
    if slowest.is_empty() {
        return;
    }
    eprintln!("kilnc: slowest functions:");
    for function in slowest {
        eprintln!(
            "  {:<28}{}  (translate {}, compile {})",
            function_label(function),
            millis(function.total()),
            millis(function.translate).trim_start(),
            millis(function.compile).trim_start()
        );
    }
}

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
