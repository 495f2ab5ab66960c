//! Shell completions and man pages of the `kilnc` and `kiln` command lines,
//! generated from their clap definitions, so that they never drift from
//! the options the binaries accept.
//!
//! `kilnc --completion SHELL` and `kiln completion SHELL` print a
//! completion script (Wasmtime's `wasmtime completion SHELL`);
//! `kilnc --man DIR` and `kiln man DIR` (hidden: they are for packaging and
//! `make man`) write the man pages. `make completions man` runs them into
//! `target/completions/` and `target/man/`.

#![forbid(unsafe_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

pub use clap_complete::Shell;

/// The completion script of `command`, the binary `bin_name`, for `shell`.
///
/// Made in memory, where writing cannot fail: the generator panics on a
/// failed write, and the caller's standard output may be a closed pipe.
pub fn completion(shell: Shell, mut command: clap::Command, bin_name: &str) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, bin_name, &mut script);
    script
}

/// Prints [`completion`] on standard output.
pub fn print_completion(shell: Shell, command: clap::Command, bin_name: &str) -> std::io::Result<()> {
    let script = completion(shell, command, bin_name);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&script)
        .and_then(|()| stdout.flush())
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot write the completion script: {e}")))
}

/// Writes the man page of `command` and one of each visible subcommand
/// (`kiln-run.1`, ...) into `dir`, each as a whole file or not at all, and
/// returns their paths in the order written.
pub fn write_man_pages(command: clap::Command, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut command = command.disable_help_subcommand(true);
    // Gives each subcommand its display name, `kiln-run`.
    command.build();
    // Every page names the program and its version, `kiln 0.1.0`, as the
    // top command's page does; a subcommand has no version of its own.
    let source = format!("{} {}", command.get_name(), command.get_version().unwrap_or_default());
    let mut written = Vec::new();
    write_pages(command, &source, dir, &mut written)?;
    Ok(written)
}

fn write_pages(command: clap::Command, source: &str, dir: &Path, written: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for subcommand in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(subcommand.clone(), source, dir, written)?;
    }
    // Man page titles are upper case by convention: `.TH KILN-RUN 1`.
    let title = command.get_display_name().unwrap_or_else(|| command.get_name()).to_uppercase();
    let page = clap_mangen::Man::new(command).title(title).source(source.trim_end());
    let mut roff = Vec::new();
    page.render(&mut roff)?;
    let path = dir.join(page.get_filename());
    write_whole(&path, &roff)
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())))?;
    written.push(path);
    Ok(())
}

/// Writes `bytes` to a temporary file beside `path` and renames it over
/// `path`, so that `path` is never left half written.
fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("page");
    let temp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::write(&temp, bytes).and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command() -> clap::Command {
        clap::Command::new("tool")
            .version("1.0")
            .about("Does things")
            .subcommand(clap::Command::new("run").about("Runs a thing").arg(clap::Arg::new("file")))
            .subcommand(clap::Command::new("secret").hide(true))
    }

    #[test]
    fn man_pages_cover_the_command_and_each_visible_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_man_pages(command(), dir.path()).unwrap();
        let names: Vec<&str> = written.iter().map(|p| p.file_name().unwrap().to_str().unwrap()).collect();
        assert_eq!(names, ["tool-run.1", "tool.1"]);
        let page = std::fs::read_to_string(dir.path().join("tool.1")).unwrap();
        assert!(page.contains(".TH TOOL 1"), "{page}");
        let subcommand = std::fs::read_to_string(dir.path().join("tool-run.1")).unwrap();
        assert!(subcommand.contains(".TH TOOL-RUN 1  \"tool 1.0\""), "{subcommand}");
        assert!(page.contains("Does things"), "{page}");
        let mut files: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        files.sort();
        assert_eq!(files, ["tool-run.1", "tool.1"], "no temporary file is left behind");
    }

    #[test]
    fn an_unwritable_directory_is_an_error_naming_the_page() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let error = write_man_pages(command(), &missing).unwrap_err();
        assert!(error.to_string().contains("tool-run.1"), "{error}");
    }

    #[test]
    fn a_bash_completion_names_the_subcommands() {
        let script = String::from_utf8(completion(Shell::Bash, command(), "tool")).unwrap();
        assert!(script.contains("complete") && script.contains("tool"), "{script}");
        assert!(script.contains("run"), "{script}");
    }
}
