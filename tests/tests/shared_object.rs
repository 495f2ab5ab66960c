//! Shared objects (`kilnc --emit so`): linked by the system linker, opened
//! with dlopen, and indistinguishable from relocatable objects once loaded:
//! same results, traps with backtraces, externref GC through stack maps.
//! Foreign, damaged and constructor-carrying shared objects are refused
//! before they are opened.

mod common;
mod externref_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use externref_common::{tracked, Host};
use kiln_compiler::{compile_file, CompileOptions, Emit};
use kiln_format::{seal_file, ROOT_SYMBOL, SECTION_META, SECTION_TEXT};
use kiln_loader::{Engine, ExternRef, Linker, Store};
use object::{Object, ObjectSection, ObjectSymbol};

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("shared_object");
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir.join(name)
}

/// Compiles `tests/wat/NAME.wat` to `OUT` with `emit`.
fn build(name: &str, emit: Emit, out: &str) -> PathBuf {
    let input = common::tests_path(&format!("wat/{name}.wat"));
    let output = scratch(out);
    compile_file(&input, &output, &CompileOptions { emit, ..CompileOptions::default() })
        .unwrap_or_else(|e| panic!("kilnc {name} --emit {emit}: {e}"));
    output
}

fn load_error(path: &Path) -> String {
    match kiln_tests::module_from_file(&Engine::default(), path) {
        Ok(_) => panic!("{} was loaded; expected a refusal", path.display()),
        Err(e) => e.to_string(),
    }
}

/// File offset and size of section `name`.
fn section_range(path: &Path, name: &str) -> (usize, usize) {
    let bytes = std::fs::read(path).unwrap();
    let file = object::File::parse(&*bytes).unwrap();
    let section = file.section_by_name(name).unwrap_or_else(|| panic!("no {name}"));
    let (offset, size) = section.file_range().expect("section has file contents");
    (offset as usize, size as usize)
}

fn with_byte_flipped(source: &Path, out: &str, at: usize) -> PathBuf {
    let mut bytes = std::fs::read(source).unwrap();
    bytes[at] ^= 0x10;
    let path = scratch(out);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn cc(args: &[&str]) {
    let status = Command::new("cc").args(args).status().expect("cc runs");
    assert!(status.success(), "cc {args:?} failed");
}

#[test]
fn the_artifact_is_a_shared_object_exporting_the_root() {
    let so = build("multi", Emit::SharedObject, "layout.so");
    let bytes = std::fs::read(&so).unwrap();
    let file = object::File::parse(&*bytes).unwrap();
    assert_eq!(file.kind(), object::ObjectKind::Dynamic);
    let root = file.dynamic_symbols().find(|s| s.name() == Ok(ROOT_SYMBOL)).expect("root symbol exported");
    assert!(root.is_global() && root.is_definition());
    let meta = file.section_by_name(SECTION_META).unwrap();
    assert_eq!(root.address(), meta.address(), "the root is the start of {SECTION_META}");
}

#[test]
fn the_same_module_gives_the_same_results_as_an_object() {
    let engine = Engine::default();
    let so =
        kiln_tests::module_from_file(&engine, build("multi", Emit::SharedObject, "same.so")).expect("the .so loads");
    let o = kiln_tests::module_from_file(&engine, build("multi", Emit::Object, "same.o")).expect("the .o loads");
    assert!(so.code().is_shared_object() && !o.code().is_shared_object());
    assert_eq!(so.info(), o.info(), "same module info");
    assert_eq!(so.code().data(), o.code().data(), ".kiln.data read in place");
    let mut results = Vec::new();
    for module in [&so, &o] {
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine).instantiate(&mut store, module).expect("instantiates");
        let fib = instance.get_typed_func::<i64, i64>(&store, "fib").unwrap();
        let apply = instance.get_typed_func::<(i32, i32, i32), i32>(&store, "apply").unwrap();
        let checksum = instance.get_typed_func::<(), i32>(&store, "checksum").unwrap();
        let mix = instance.get_typed_func::<(f64, f32), f64>(&store, "mix").unwrap();
        results.push((
            fib.call(&mut store, 25).unwrap(),
            (0..4).map(|op| apply.call(&mut store, (op, 84, 2)).unwrap()).collect::<Vec<_>>(),
            checksum.call(&mut store, ()).unwrap(),
            mix.call(&mut store, (2.0, 2.5)).unwrap().to_bits(),
        ));
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0].0, 75025);
    assert_eq!(results[0].1, vec![86, 82, 168, 42]);
}

#[test]
fn a_trap_in_a_shared_object_has_a_backtrace() {
    let engine = Engine::default();
    let module = kiln_tests::module_from_file(&engine, build("multi", Emit::SharedObject, "trap.so")).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &module).unwrap();
    let div = instance.get_typed_func::<(i32, i32), i32>(&store, "div").unwrap();
    assert_eq!(div.call(&mut store, (7, 2)).unwrap(), 3);
    let err = div.call(&mut store, (1, 0)).unwrap_err();
    let trap = err.trap().unwrap_or_else(|| panic!("expected a trap, got {err}"));
    assert_eq!(trap.message, "integer divide by zero");
    let names: Vec<_> = trap.backtrace.iter().map(|f| f.func_name.clone()).collect();
    assert_eq!(trap.backtrace.len(), 2, "{names:?}");
    assert_eq!(trap.backtrace[0].func_name.as_deref(), Some("div"), "{names:?}");
    assert!(trap.backtrace.iter().all(|f| f.module_name.as_deref() == Some("multi")));
    // So is a trap raised from inline checks in another function.
    let apply = instance.get_typed_func::<(i32, i32, i32), i32>(&store, "apply").unwrap();
    let err = apply.call(&mut store, (9, 1, 1)).unwrap_err();
    assert_eq!(err.trap().map(|t| t.message.as_str()), Some("undefined element"), "{err}");
}

#[test]
fn externrefs_live_across_a_collecting_host_call_survive() {
    let engine = Engine::default();
    let module =
        kiln_tests::module_from_file(&engine, build("externref_gc", Emit::SharedObject, "externref_gc.so")).unwrap();
    let mut host = Host::new(&module);
    let r = tracked(41, &host.drops);
    let id_after_gc = host.instance.get_typed_func::<Option<ExternRef>, i32>(&host.store, "id_after_gc").unwrap();
    assert_eq!(id_after_gc.call(&mut host.store, Some(r.clone())).unwrap(), 41);
    let hold =
        host.instance.get_typed_func::<Option<ExternRef>, Option<ExternRef>>(&host.store, "hold_across_gc").unwrap();
    let back = hold.call(&mut host.store, Some(r.clone())).unwrap().expect("not null");
    assert!(ExternRef::ptr_eq(&back, &r));
    let deep = host.instance.get_typed_func::<i32, i32>(&host.store, "deep").unwrap();
    assert_eq!(deep.call(&mut host.store, 256).unwrap(), 256, "every level read its reference back after the GC");
    assert_eq!(host.drops_at_gcs().first(), Some(&0), "the GC found the live references through the stack maps");
    drop((r, back));
    host.store.gc().expect("no destructor panics");
    assert_eq!(host.dropped(), 257, "the GC freed what was dead, once each");
}

#[test]
fn opening_one_file_twice_gives_one_module() {
    let path = build("multi", Emit::SharedObject, "twice.so");
    let engine = Engine::default();
    let a = kiln_tests::module_from_file(&engine, &path).unwrap();
    let b = kiln_tests::module_from_file(&engine, &path).unwrap();
    assert!(Arc::ptr_eq(a.code(), b.code()), "dlopen maps one file once");
    drop(a);
    // The registry still knows the code: a trap in it is still a trap.
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &b).unwrap();
    let div = instance.get_typed_func::<(i32, i32), i32>(&store, "div").unwrap();
    assert_eq!(
        div.call(&mut store, (1, 0)).unwrap_err().trap().map(|t| t.message.clone()).as_deref(),
        Some("integer divide by zero")
    );
}

#[test]
fn a_damaged_shared_object_is_refused() {
    let so = build("multi", Emit::SharedObject, "damage.so");
    let (meta, meta_len) = section_range(&so, SECTION_META);
    let err = load_error(&with_byte_flipped(&so, "damaged-info.so", meta + meta_len - 3));
    assert!(err.contains("digest mismatch"), "{err}");
    let err = load_error(&with_byte_flipped(&so, "damaged-version.so", meta + 8));
    assert!(err.contains("format version"), "{err}");
    let err = load_error(&with_byte_flipped(&so, "damaged-target.so", meta + 16));
    assert!(err.contains("target"), "{err}");
    // Every other byte is covered as well: .text as linked, the program
    // headers and .dynamic that dlopen would read (tests/tests/damage.rs
    // flips every one).
    let (text, text_len) = section_range(&so, SECTION_TEXT);
    let err = load_error(&with_byte_flipped(&so, "damaged-text.so", text + text_len / 2));
    assert!(err.contains("digest mismatch"), "{err}");
    let err = load_error(&with_byte_flipped(&so, "damaged-phdr.so", 64 + 4));
    assert!(err.contains("digest mismatch"), "{err}");
}

/// Seals a shared object linked by hand from kiln code, so that the checks
/// after the digest get to see it.
fn sealed(path: &Path) -> &Path {
    let mut bytes = std::fs::read(path).unwrap();
    let meta = object::File::parse(&*bytes).unwrap().section_by_name(SECTION_META).unwrap().file_range().unwrap().0;
    assert!(seal_file(&mut bytes, meta as usize));
    std::fs::write(path, bytes).unwrap();
    path
}

#[test]
fn a_shared_object_cannot_be_loaded_from_bytes() {
    let so = build("multi", Emit::SharedObject, "bytes.so");
    let err = kiln_tests::module_from_bytes(&Engine::default(), &std::fs::read(so).unwrap()).unwrap_err().to_string();
    assert!(err.contains("only be loaded from a file"), "{err}");
}

/// A C shared library whose constructor creates a marker file: refused
/// without running it, so without being opened.
#[test]
fn a_foreign_shared_object_is_refused_before_it_is_opened() {
    let marker = scratch("constructor-ran");
    let _ = std::fs::remove_file(&marker);
    let c = scratch("foreign.c");
    std::fs::write(
        &c,
        format!(
            "#include <fcntl.h>\n#include <unistd.h>\n__attribute__((constructor)) static void init(void) \
             {{ int fd = open(\"{}\", O_CREAT | O_WRONLY, 0644); if (fd >= 0) close(fd); }}\nint f(void) {{ return 1; }}\n",
            marker.display()
        ),
    )
    .unwrap();
    let foreign = scratch("foreign.so");
    cc(&["-shared", "-fPIC", "-o", foreign.to_str().unwrap(), c.to_str().unwrap()]);
    let err = load_error(&foreign);
    assert!(err.contains("not a kiln shared object"), "{err}");
    assert!(!marker.exists(), "the constructor ran: the library was opened");

    // The same constructor linked next to real kiln code and metadata.
    let o = build("multi", Emit::Object, "with-ctor.o");
    let ctor_o = scratch("ctor.o");
    cc(&["-c", "-fPIC", "-o", ctor_o.to_str().unwrap(), c.to_str().unwrap()]);
    let mixed = scratch("with-ctor.so");
    cc(&["-shared", "-o", mixed.to_str().unwrap(), o.to_str().unwrap(), ctor_o.to_str().unwrap()]);
    let err = load_error(sealed(&mixed));
    assert!(err.contains("needed library"), "{err}");
    assert!(!marker.exists(), "the constructor ran: the library was opened");

    // A constructor needing no library at all.
    let bare_c = scratch("bare-ctor.c");
    std::fs::write(&bare_c, "int hit;\n__attribute__((constructor)) static void init(void) { hit = 1; }\n").unwrap();
    let bare_o = scratch("bare-ctor.o");
    cc(&["-c", "-fPIC", "-o", bare_o.to_str().unwrap(), bare_c.to_str().unwrap()]);
    let bare = scratch("with-bare-ctor.so");
    cc(&["-shared", "-nostdlib", "-o", bare.to_str().unwrap(), o.to_str().unwrap(), bare_o.to_str().unwrap()]);
    let err = load_error(sealed(&bare));
    assert!(err.contains("constructor"), "{err}");
}

#[test]
fn shared_objects_are_deterministic() {
    let a = std::fs::read(build("multi", Emit::SharedObject, "det-a.so")).unwrap();
    let b = std::fs::read(build("multi", Emit::SharedObject, "det-b.so")).unwrap();
    assert!(a == b, "two links of the same module differ");
}

#[test]
fn kilnc_and_kiln_cli_handle_shared_objects() {
    let kilnc = common::workspace_binary("kilnc");
    let kiln = common::workspace_binary("kiln");
    let input = common::tests_path("wat/multi.wat");
    let so = scratch("cli.so");
    let _ = std::fs::remove_file(&so);
    let out = Command::new(&kilnc).arg(&input).arg("-o").arg(&so).args(["--emit", "so"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(&kiln).arg("run").arg(&so).args(["--invoke", "fib", "20"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "6765");
    let out = Command::new(&kiln).arg("run").arg(&so).args(["--invoke", "div", "1", "0"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("wasm backtrace:") && stderr.contains("div"), "{stderr}");
    let out = Command::new(&kiln).arg("inspect").arg(&so).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("fib"), "{stdout}");

    // Without a linker: a clear error, and no output at all. In a
    // directory of its own, where no other test's temporary files appear.
    let missing = scratch("no-linker/no-linker.so");
    std::fs::create_dir_all(missing.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&missing);
    let out = Command::new(&kilnc)
        .arg(&input)
        .arg("-o")
        .arg(&missing)
        .args(["--emit", "so"])
        .env("PATH", scratch("no-such-dir"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("no system linker"), "{stderr}");
    assert!(!missing.exists());
    let leftovers: Vec<_> = std::fs::read_dir(missing.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".kilnc-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// Every spec script, through shared objects, passes exactly as through
/// relocatable objects.
#[test]
fn the_spec_suite_passes_through_shared_objects() {
    let wast = common::workspace_binary("kiln-wast");
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(common::testsuite_dir())
        .expect("the spec suite is present")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wast"))
        .collect();
    scripts.sort();
    assert!(scripts.len() > 100, "only {} scripts found", scripts.len());
    let run = |emit: &str| {
        let out = Command::new(&wast).args(["--emit", emit]).args(&scripts).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let so = run("so");
    let last = so.lines().last().unwrap_or("");
    assert!(last.ends_with(" passed, 0 failed"), "{so}");
    assert_eq!(so, run("obj"), "the .so and .o runs differ");
}
