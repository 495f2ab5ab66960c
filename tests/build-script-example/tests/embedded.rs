//! The program runs its embedded module, and the module's code runs from
//! the executable's own pages, not from a copy.

use std::process::Command;

use kiln_loader::{Engine, Linker, Store};

/// Steps of the Collatz chain from `n` down to 1.
fn steps(mut n: u64) -> u32 {
    let mut count = 0;
    while n > 1 {
        n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
        count += 1;
    }
    count
}

/// The lines the program prints for `limit`, computed here.
fn expected_output(limit: u32) -> String {
    let mut out = String::new();
    let mut best: Option<(u32, u32)> = None;
    for start in 1..limit {
        let steps = steps(u64::from(start));
        if best.is_none_or(|(_, best_steps)| steps > best_steps) {
            out += &format!("new longest chain: {start} ({steps} steps)\n");
            best = Some((start, steps));
        }
    }
    match best {
        Some((start, steps)) => out += &format!("longest chain below {limit}: {start} ({steps} steps)\n"),
        None => out += &format!("no chain starts below {limit}\n"),
    }
    out + "code runs in place: yes\n"
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kiln-build-example")).args(args).output().expect("the example runs")
}

#[test]
fn the_program_finds_the_longest_chain_with_its_embedded_module() {
    for limit in [1, 2, 100, 100_000] {
        let output = run(&[&limit.to_string()]);
        assert!(output.status.success(), "limit {limit}: {}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(String::from_utf8_lossy(&output.stdout), expected_output(limit), "limit {limit}");
    }
}

#[test]
fn a_bad_argument_is_an_error() {
    let output = run(&["many"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("the limit must be a number"));
}

/// One line of `/proc/self/maps`: the range, its permissions and the path
/// mapped (empty for anonymous memory).
struct MapsLine {
    range: std::ops::Range<usize>,
    perms: String,
    path: String,
}

fn mapping_of(address: usize) -> MapsLine {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps is readable");
    maps.lines()
        .map(|line| {
            let mut fields = line.split_whitespace();
            let (start, end) = fields.next().and_then(|r| r.split_once('-')).expect("a range");
            let hex = |s: &str| usize::from_str_radix(s, 16).expect("a hex address");
            let perms = fields.next().expect("permissions").to_owned();
            let path = fields.skip(3).collect::<Vec<_>>().join(" ");
            MapsLine { range: hex(start)..hex(end), perms, path }
        })
        .find(|m| m.range.contains(&address))
        .expect("the address is mapped")
}

/// The module embedded once in this test executable: every call loads the
/// same static bytes.
fn load_embedded(engine: &Engine) -> kiln_loader::Module {
    kiln_loader::include_artifact!(engine, concat!(env!("OUT_DIR"), "/collatz.o")).unwrap()
}

#[test]
fn the_embedded_code_runs_from_the_executables_own_pages() {
    let engine = Engine::default();
    let module = load_embedded(&engine);
    let code = module.code();
    assert!(code.runs_in_place());

    let executable = std::env::current_exe().unwrap().canonicalize().unwrap();
    let text = code.text() as usize;
    for address in [text, text + code.text_len() - 1] {
        let m = mapping_of(address);
        assert_eq!(m.perms, "r-xp", "code at {address:#x} is mapped {}", m.perms);
        assert_eq!(std::path::Path::new(&m.path), executable, "code at {address:#x} is not the executable's own");
    }
    // The artifact's metadata just before its code is only read, and stays
    // read-only data of the executable.
    let before = mapping_of(text - 1);
    assert_eq!((before.perms.as_str(), std::path::Path::new(&before.path)), ("r--p", executable.as_path()));

    // A second load is the same code, and both run.
    let again = load_embedded(&engine);
    assert_eq!(again.code().text(), code.text());
    for module in [&module, &again] {
        let mut linker = Linker::<u32>::new(&engine);
        linker
            .func_wrap("host", "record", |mut caller: kiln_loader::Caller<'_, u32>, _: i32, _: i32| {
                *caller.data_mut() += 1;
            })
            .unwrap();
        let mut store = Store::new(&engine, 0);
        let instance = linker.instantiate(&mut store, module).unwrap();
        let longest_chain = instance.get_typed_func::<i32, i32>(&store, "longest_chain").unwrap();
        assert_eq!(longest_chain.call(&mut store, 10).unwrap(), 9);
        assert_eq!(*store.data(), 6, "records: 1, 2, 3, 6, 7, 9");
    }
}
