//! Making loaded code visible to profilers.
//!
//! With [`ProfilingStrategy::PerfMap`], every module an engine loads is
//! described in `/tmp/perf-PID.map`, the file that `perf report` reads to
//! name code that no ELF file on disk describes as mapped: one line per
//! Wasm function and trampoline, `START SIZE NAME` (hexadecimal address and
//! size). The file only grows while the process runs, as perf expects; an
//! address range freed by a dropped module and reused by a later one is
//! named by the later line, which perf prefers.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::code::LoadedCode;
use crate::Error;

/// How an engine tells profilers about the code it loads
/// ([`Config::profiler`](crate::Config::profiler)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProfilingStrategy {
    /// Nothing is written.
    #[default]
    None,
    /// Each loaded module's functions are appended to `/tmp/perf-PID.map`.
    PerfMap,
}

/// Where this process's perf map is.
pub fn perf_map_path() -> PathBuf {
    PathBuf::from(format!("/tmp/perf-{}.map", std::process::id()))
}

/// Serialises appends, so that two modules loaded at once never interleave
/// their lines.
static PERF_MAP: Mutex<()> = Mutex::new(());

/// Appends the lines of `code`'s functions and trampolines to the perf map.
pub(crate) fn write_perf_map(code: &LoadedCode) -> Result<(), Error> {
    let module = code.module_name().unwrap_or("module");
    let mut lines = String::new();
    let mut line = |start: *const u8, len: u32, name: std::fmt::Arguments<'_>| {
        let _ = writeln!(lines, "{:x} {len:x} {name}", start as usize);
    };
    let info = code.info();
    for (index, function) in (0u32..).zip(&info.functions) {
        let (Some(range), Some(start)) = (function.code, code.func_code(index)) else { continue };
        // The name backtraces show (name section, else export), else the index.
        match code.func_name(index) {
            Some(name) => line(start, range.len, format_args!("wasm[{module}]::{name}")),
            None => line(start, range.len, format_args!("wasm[{module}]::function[{index}]")),
        }
    }
    for (type_index, range) in (0u32..).zip(&info.entry_trampolines) {
        if let Some(start) = code.entry_trampoline(type_index) {
            line(start, range.len, format_args!("wasm[{module}]::entry_trampoline[{type_index}]"));
        }
    }
    for (type_index, range) in (0u32..).zip(&info.host_trampolines) {
        if let Some(start) = code.host_trampoline(type_index) {
            line(start, range.len, format_args!("wasm[{module}]::host_trampoline[{type_index}]"));
        }
    }
    let path = perf_map_path();
    let _guard = PERF_MAP.lock().unwrap_or_else(|e| e.into_inner());
    let failed = |e: std::io::Error| Error::Instantiation(format!("cannot write the perf map {}: {e}", path.display()));
    let mut file = OpenOptions::new().create(true).append(true).open(&path).map_err(failed)?;
    file.write_all(lines.as_bytes()).map_err(failed)
}
