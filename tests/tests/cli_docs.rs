//! The shell completions and man pages of `kilnc` and `kiln`, as `make
//! completions man` generates them: every subcommand and flag the binaries
//! accept is in the completion scripts, and the man pages are roff with a
//! title, a name and a synopsis.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn run(binary: &str, args: &[&str]) -> Output {
    let out = Command::new(common::workspace_binary(binary)).args(args).output().expect("the binary runs");
    assert!(out.status.success(), "{binary} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8")
}

/// The subcommands `kiln --help` lists, `help` aside.
fn kiln_subcommands() -> Vec<String> {
    let help = stdout(&run("kiln", &["--help"]));
    let commands: Vec<String> = help
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|name| name != "help")
        .collect();
    assert!(commands.len() >= 5, "kiln --help lists too few subcommands: {commands:?}\n{help}");
    commands
}

/// The long flags `kilnc --help` lists, each at the start of its entry
/// (`  -o, --output <OUT.o>`, `      --emit <EMIT>`).
fn kilnc_flags() -> Vec<String> {
    let help = stdout(&run("kilnc", &["--help"]));
    let flags: Vec<String> = help
        .lines()
        .map(str::trim_start)
        .filter(|line| line.starts_with('-'))
        .filter_map(|line| line.split([' ', ',']).find(|word| word.starts_with("--") && word.len() > 2))
        .map(str::to_owned)
        .collect();
    assert!(flags.len() >= 15, "kilnc --help lists too few flags: {flags:?}");
    flags
}

#[test]
fn kiln_bash_completion_offers_every_subcommand() {
    let script = stdout(&run("kiln", &["completion", "bash"]));
    assert!(script.contains("complete -F _kiln"), "not a bash completion script:\n{script}");
    // The words offered after `kiln `, beside its own flags.
    let top = script.lines().find(|l| l.trim_start().starts_with("opts=\"-h -V ")).expect("kiln's opts line");
    let offered: Vec<&str> = top.trim_start().trim_start_matches("opts=\"").trim_end_matches('"').split(' ').collect();
    for subcommand in kiln_subcommands() {
        assert!(offered.contains(&subcommand.as_str()), "bash completion lacks `{subcommand}`: {top}");
        assert!(
            script.contains(&format!("kiln__subcmd__{subcommand})")),
            "no completion of `kiln {subcommand}`'s own flags"
        );
    }
}

#[test]
fn kilnc_bash_completion_offers_every_flag() {
    let script = stdout(&run("kilnc", &["--completion", "bash"]));
    assert!(script.contains("complete -F _kilnc"), "not a bash completion script:\n{script}");
    for flag in kilnc_flags() {
        assert!(script.contains(&flag), "bash completion lacks {flag}");
    }
    // The values of an enumerated flag are completed too.
    assert!(script.contains("obj so exe"), "--emit's values");
}

#[test]
fn every_shell_gets_a_script() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let kiln = stdout(&run("kiln", &["completion", shell]));
        let kilnc = stdout(&run("kilnc", &["--completion", shell]));
        assert!(kiln.contains("inspect") && kilnc.contains("epoch-interruption"), "{shell}");
    }
    let refused = Command::new(common::workspace_binary("kiln")).args(["completion", "tcsh"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2), "an unknown shell is a usage error");
}

fn page(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A man page: its title line, and the sections every page has.
fn assert_man_page(roff: &str, title: &str, name_line: &str) {
    assert!(roff.contains(&format!(".TH {title} 1 ")), "no `.TH {title} 1`:\n{roff}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH OPTIONS"] {
        assert!(roff.contains(section), "no {section} in {title}:\n{roff}");
    }
    assert!(roff.contains(name_line), "no {name_line:?} in {title}:\n{roff}");
}

#[test]
fn man_pages_of_kiln_cover_every_subcommand() {
    let dir = tempfile::tempdir().expect("temp dir");
    run("kiln", &["man", dir.path().to_str().unwrap()]);
    assert_man_page(&page(dir.path(), "kiln.1"), "KILN", "kiln \\- Runs and inspects kiln artifacts");
    let top = page(dir.path(), "kiln.1");
    for subcommand in kiln_subcommands() {
        let name = format!("kiln-{subcommand}");
        let roff_name = name.replace('-', "\\-");
        assert_man_page(&page(dir.path(), &format!("{name}.1")), &name.to_uppercase(), &format!("{roff_name} \\- "));
        assert!(top.contains(&format!("kiln\\-{subcommand}(1)")), "kiln.1 does not point to {name}(1)");
    }
    let run_page = page(dir.path(), "kiln-run.1");
    assert!(run_page.contains("\\-\\-max\\-memory"), "kiln-run.1 lacks its options:\n{run_page}");
}

#[test]
fn the_man_page_of_kilnc_names_its_options() {
    let dir = tempfile::tempdir().expect("temp dir");
    run("kilnc", &["--man", dir.path().to_str().unwrap()]);
    let roff = page(dir.path(), "kilnc.1");
    assert_man_page(&roff, "KILNC", "kilnc \\- Compiles WebAssembly ahead of time");
    for flag in ["\\-\\-emit", "\\-\\-timings", "\\-\\-verbose", "\\-\\-epoch\\-interruption"] {
        assert!(roff.contains(flag), "kilnc.1 lacks {flag}");
    }
    assert!(!roff.contains("\\-\\-man"), "the hidden --man stays out of the page");
}

#[test]
fn man_into_a_missing_directory_is_an_error_that_names_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing");
    let out = Command::new(common::workspace_binary("kiln")).arg("man").arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: ") && stderr.contains("missing"), "{stderr}");
}
