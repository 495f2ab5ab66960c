//! Backtraces as Wasmtime users read them: every frame with the module
//! offset of its Wasm instruction, named by the name section or else by
//! its export, with the source line when the module has DWARF, and no
//! frame silently dropped however deep the stack.

mod common;

use std::path::PathBuf;
use std::process::Command;

use kiln_compiler::{CompileOptions, Inlining};
use kiln_loader::command_exit::write_report;
use kiln_loader::{Engine, Instance, Linker, Module, Store, Trap};
use wasmparser::{KnownCustom, Name, Operator, Parser, Payload, TypeRef};

fn module(wat: &str, options: &CompileOptions) -> (Vec<u8>, Module, Engine) {
    let wasm = wat::parse_str(wat).expect("valid wat");
    let object = kiln_compiler::compile(&wasm, options).expect("compiles");
    let engine = Engine::default();
    let module = kiln_tests::module_from_bytes(&engine, &object).expect("loads");
    (wasm, module, engine)
}

/// The trap that calling `export` (with the i32 `args`) ends in.
fn trap_of(engine: &Engine, module: &Module, export: &str, args: &[i32]) -> kiln_loader::Error {
    let mut store = Store::new(engine, ());
    let mut linker = Linker::<()>::new(engine);
    // What tests/wat/inlining.wat imports; no other module here imports anything.
    linker.func_wrap("host", "gc", || {}).unwrap();
    let instance: Instance = linker.instantiate(&mut store, module).expect("instantiates");
    let func = instance.get_func(&mut store, export).expect("export exists");
    let params: Vec<kiln_loader::Val> = args.iter().map(|&a| kiln_loader::Val::I32(a)).collect();
    let mut results = vec![kiln_loader::Val::I32(0); func.ty(&store).results.len()];
    func.call(&mut store, &params, &mut results).expect_err("traps")
}

fn trap(error: &kiln_loader::Error) -> &Trap {
    error.trap().unwrap_or_else(|| panic!("not a trap: {error}"))
}

/// The module offsets of the operators of defined function `defined` (0
/// for the first body) that `pick` selects, in order.
fn operator_offsets(wasm: &[u8], defined: usize, pick: impl Fn(&Operator<'_>) -> bool) -> Vec<u32> {
    let bodies = Parser::new(0).parse_all(wasm).filter_map(|p| match p.expect("parses") {
        Payload::CodeSectionEntry(body) => Some(body),
        _ => None,
    });
    let body = bodies.into_iter().nth(defined).expect("the body exists");
    let mut reader = body.get_operators_reader().expect("operators");
    let mut offsets = Vec::new();
    while !reader.eof() {
        let (op, at) = reader.read_with_offset().expect("operator");
        if pick(&op) {
            offsets.push(at as u32);
        }
    }
    offsets
}

/// The module offsets of the `unreachable`s of the function that the name
/// section calls `name`.
fn unreachables_in(wasm: &[u8], name: &str) -> Vec<u32> {
    let (mut imported, mut index) = (0, None);
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.expect("parses") {
            Payload::ImportSection(imports) => {
                for import in imports.into_imports() {
                    imported += u32::from(matches!(import.expect("import").ty, TypeRef::Func(_)));
                }
            }
            Payload::CustomSection(custom) => {
                if let KnownCustom::Name(names) = custom.as_known() {
                    for part in names {
                        if let Ok(Name::Function(map)) = part {
                            index = map.into_iter().flatten().find(|n| n.name == name).map(|n| n.index).or(index);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let index = index.unwrap_or_else(|| panic!("no function {name} in the name section"));
    operator_offsets(wasm, (index - imported) as usize, |op| matches!(op, Operator::Unreachable))
}

fn is_call(op: &Operator<'_>) -> bool {
    matches!(op, Operator::Call { .. })
}

/// `$deep` recurses `n` times, then divides by zero. (Not `if ...
/// unreachable`: Cranelift turns a branch to a trap into a conditional trap
/// at the branch, whose offset the frame would then show.)
const DEEP: &str = r#"(module
  (func $deep (param i32)
    (drop (i32.div_u (i32.const 1) (local.get 0)))
    (call $deep (i32.sub (local.get 0) (i32.const 1))))
  (func (export "start") (param i32)
    (call $deep (local.get 0))))"#;

#[test]
fn a_trap_300_frames_deep_shows_every_frame_with_its_offset() {
    let (wasm, module, engine) = module(DEEP, &CompileOptions::default());
    let error = trap_of(&engine, &module, "start", &[300]);
    let trap = trap(&error);
    assert_eq!(trap.elided, None, "nothing is left out of 302 frames");
    // deep(0) traps, deep(1..=300) are at their call, then the export.
    assert_eq!(trap.backtrace.len(), 302);
    let divide = operator_offsets(&wasm, 0, |op| matches!(op, Operator::I32DivU));
    let deep_call = operator_offsets(&wasm, 0, is_call);
    let start_call = operator_offsets(&wasm, 1, is_call);
    let innermost = &trap.backtrace[0];
    assert_eq!((innermost.func_index, innermost.func_name.as_deref()), (0, Some("deep")));
    assert_eq!(innermost.module_offset, Some(divide[0]), "the trapping instruction");
    for frame in &trap.backtrace[1..301] {
        assert_eq!((frame.func_index, frame.module_offset), (0, Some(deep_call[0])));
    }
    let outermost = trap.backtrace.last().unwrap();
    assert_eq!(outermost.func_name.as_deref(), Some("start"), "the export called, named by its export");
    assert_eq!(outermost.module_offset, Some(start_call[0]));

    // The report folds the recursion and counts it right.
    let mut report = Vec::new();
    write_report(&mut report, &anyhow::Error::new(error)).unwrap();
    let report = String::from_utf8(report).unwrap();
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines[1], "wasm backtrace:");
    assert_eq!(lines[0], "error: wasm trap: integer divide by zero");
    assert_eq!(lines[2], format!("  0: {:#x} - <unknown>!deep", divide[0]));
    assert_eq!(lines[3], format!("  1: {:#x} - <unknown>!deep (and 299 more times)", deep_call[0]));
    assert_eq!(lines[4], format!("  301: {:#x} - <unknown>!start", start_call[0]));
    assert_eq!(lines.len(), 5, "{report}");
}

#[test]
fn a_deeper_stack_says_how_many_frames_it_left_out() {
    let (_, module, engine) = module(DEEP, &CompileOptions::default());
    let depth = 3000;
    let error = trap_of(&engine, &module, "start", &[depth]);
    let trap = trap(&error);
    let elided = trap.elided.expect("3002 frames are more than a backtrace keeps");
    assert_eq!(trap.backtrace.len() + elided.count, depth as usize + 2, "kept and left out add up to every frame");
    assert_eq!(trap.backtrace[0].func_name.as_deref(), Some("deep"));
    assert_eq!(trap.backtrace.last().unwrap().func_name.as_deref(), Some("start"), "the outermost frame is kept");
    assert_eq!(trap.frame_number(trap.backtrace.len() - 1), depth as usize + 1);

    let mut report = Vec::new();
    write_report(&mut report, &anyhow::Error::new(error)).unwrap();
    let report = String::from_utf8(report).unwrap();
    assert!(report.contains(&format!("\n  ... {} frames elided\n", elided.count)), "{report}");
    assert!(report.trim_end().ends_with("<unknown>!start"), "{report}");
    // Every frame is shown, folded or counted: the folded counts, the
    // elided frames and the lines add up to the depth.
    let mut counted = elided.count;
    for line in report.lines().filter(|l| l.contains(" - <unknown>!")) {
        counted += match line.split(" (and ").nth(1) {
            Some(rest) => 1 + rest.split(' ').next().unwrap().parse::<usize>().unwrap(),
            None => 1,
        };
    }
    assert_eq!(counted, depth as usize + 2, "{report}");
}

#[test]
fn an_export_without_a_name_section_name_is_named_by_its_export() {
    // No `$names`: the text format then writes no name section.
    let wat = r#"(module
      (func (export "run") (call 1))
      (func (export "explode") (export "other") unreachable))"#;
    let (wasm, module, engine) = module(wat, &CompileOptions::default());
    let error = trap_of(&engine, &module, "run", &[]);
    let trap = trap(&error);
    let names: Vec<Option<&str>> = trap.backtrace.iter().map(|f| f.func_name.as_deref()).collect();
    assert_eq!(names, [Some("explode"), Some("run")], "the first export names a function");
    let unreachable = operator_offsets(&wasm, 1, |op| matches!(op, Operator::Unreachable));
    assert_eq!(trap.backtrace[0].to_string(), format!("{:#x} - <unknown>!explode", unreachable[0]));
}

#[test]
fn inlined_frames_each_get_their_own_offset() {
    let path = common::tests_path("wat/inlining.wat");
    let source = std::fs::read_to_string(&path).unwrap();
    let offsets = |inlining| {
        let (_, module, engine) = module(&source, &CompileOptions { inlining, ..CompileOptions::default() });
        let error = trap_of(&engine, &module, "trap_in_callee", &[70_000]);
        let frames = &trap(&error).backtrace;
        let inlined = module.info().inlined_frames(frames.last().unwrap().func_index).is_some();
        (frames.iter().map(|f| (f.func_index, f.module_offset)).collect::<Vec<_>>(), inlined)
    };
    let (inlined, was_inlined) = offsets(Inlining::On);
    let (separate, _) = offsets(Inlining::Off);
    assert!(was_inlined, "kilnc inlined $middle and $load");
    assert_eq!(inlined.len(), 3);
    assert!(separate.iter().all(|(_, offset)| offset.is_some()), "{separate:?}");
    assert_eq!(inlined, separate, "inlined frames are where their own frames were");
}

/// tests/wasi/trap_lines.c built with `-g`, compiled (as `emit`: `obj`
/// or `so`) and run.
fn run_c_with_debug_info(emit: &str) -> (String, PathBuf) {
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = BUILDING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = common::workspace_root().join("target/backtrace-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let wasm = common::wasi_fixture::wasi_module("trap_lines", &dir, &["-g"]);
    let object = dir.join(format!("trap_lines.{emit}"));
    let kilnc = Command::new(common::workspace_binary("kilnc"))
        .arg(&wasm)
        .args(["--emit", emit, "-o"])
        .arg(&object)
        .output()
        .unwrap();
    assert!(kilnc.status.success(), "kilnc: {}", String::from_utf8_lossy(&kilnc.stderr));
    let run = Command::new(common::workspace_binary("kiln")).arg("run").arg(&object).output().unwrap();
    assert_eq!(run.status.code(), Some(134), "a trap");
    (String::from_utf8_lossy(&run.stderr).into_owned(), wasm)
}

#[test]
fn a_c_program_built_with_debug_info_shows_its_source_lines() {
    for emit in ["obj", "so"] {
        c_program_shows_its_source_lines(emit);
    }
}

fn c_program_shows_its_source_lines(emit: &str) {
    let (stderr, wasm) = run_c_with_debug_info(emit);
    let wasm = std::fs::read(wasm).unwrap();
    let trap_offset = unreachables_in(&wasm, "crash")[0];
    let source = std::fs::read_to_string(common::tests_path("wasi/trap_lines.c")).unwrap();
    let line_of = |marker: &str| source.lines().position(|l| l.contains(marker)).expect("marker") + 1;
    let trap_line = line_of("__builtin_trap();");
    let call_line = line_of("crash(\"about to trap\");");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines[0], "error: wasm trap: unreachable", "{stderr}");
    assert_eq!(lines[1], "wasm backtrace:", "{stderr}");
    assert_eq!(lines[2], format!("  0: {trap_offset:#x} - <unknown>!crash"), "{stderr}");
    assert!(lines[3].starts_with("      at ") && lines[3].contains(&format!("trap_lines.c:{trap_line}:")), "{stderr}");
    assert!(lines[4].ends_with("!__original_main"), "{stderr}");
    assert!(lines[5].contains(&format!("trap_lines.c:{call_line}:")), "{stderr}");
}

#[test]
fn without_debug_info_frames_show_no_source_lines() {
    let (_, module, engine) = module(DEEP, &CompileOptions::default());
    let error = trap_of(&engine, &module, "start", &[1]);
    assert!(trap(&error).backtrace.iter().all(|f| f.symbol.is_none()));
    assert!(module.code().source_lines().is_empty());
}

#[test]
fn a_stack_overflow_keeps_the_export_and_shows_the_overflowing_body() {
    let wat = r#"(module
      (func $inf (param i32) (result i32)
        (call $inf (i32.add (local.get 0) (i32.const 1))))
      (func (export "overflow") (drop (call $inf (i32.const 0)))))"#;
    let (wasm, module, engine) = module(wat, &CompileOptions::default());
    let error = trap_of(&engine, &module, "overflow", &[]);
    let trap = trap(&error);
    assert_eq!(trap.code, Some(kiln_loader::TrapCode::STACK_OVERFLOW));
    assert!(trap.elided.is_some_and(|gap| gap.count > 0), "a stack overflow is deeper than a backtrace keeps");
    // The stack check of the prologue trips: code that comes from no
    // operator is at the offset of its function's body, as in Wasmtime.
    let body = Parser::new(0)
        .parse_all(&wasm)
        .find_map(|p| match p.unwrap() {
            Payload::CodeSectionEntry(body) => Some(body.range().start as u32),
            _ => None,
        })
        .unwrap();
    assert_eq!(trap.backtrace[0].module_offset, Some(body));
    let calls = operator_offsets(&wasm, 0, is_call);
    assert!(trap.backtrace[1..trap.backtrace.len() - 1].iter().all(|f| f.module_offset == Some(calls[0])));
    assert_eq!(trap.backtrace.last().unwrap().func_name.as_deref(), Some("overflow"));
}
