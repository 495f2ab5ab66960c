//! kilnc compiles every module of the WebAssembly 3.0 scripts that use GC
//! (structs, arrays, `i31`, casts) with its default features, and still
//! refuses each module that a script asserts invalid or malformed. Running
//! the scripts is `spec.rs`'s business; this test needs no loader support.

use std::path::Path;

use kiln_compiler::CompileOptions;
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastDirective, WastExecute};

/// The 3.0 scripts whose modules use GC types.
const GC_SCRIPTS: &[&str] = &[
    "array.wast",
    "array_copy.wast",
    "array_fill.wast",
    "array_init_data.wast",
    "array_init_elem.wast",
    "array_new_data.wast",
    "array_new_elem.wast",
    "br_on_cast.wast",
    "br_on_cast_fail.wast",
    "extern.wast",
    "i31.wast",
    "ref_cast.wast",
    "ref_eq.wast",
    "ref_null.wast",
    "ref_test.wast",
    "struct.wast",
    "table_init.wast",
    "table_init64.wast",
    "type-rec.wast",
    "type-subtyping.wast",
];

/// What a script says of one module.
enum Expect {
    Compiles,
    Refused,
}

/// Every failure of one script, as `line: what went wrong`.
fn check_script(path: &Path) -> (usize, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let buffer = ParseBuffer::new(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let wast: Wast<'_> = parser::parse(&buffer).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let options = CompileOptions::default();
    let mut checked = 0;
    let mut failures = Vec::new();
    for directive in wast.directives {
        let span = directive.span();
        let (module, expect) = match directive {
            WastDirective::Module(module) | WastDirective::ModuleDefinition(module) => (module, Expect::Compiles),
            WastDirective::AssertUnlinkable { module, .. } => (QuoteWat::Wat(module), Expect::Compiles),
            WastDirective::AssertTrap { exec: WastExecute::Wat(module), .. } => {
                (QuoteWat::Wat(module), Expect::Compiles)
            }
            WastDirective::AssertInvalid { module, .. } | WastDirective::AssertMalformed { module, .. } => {
                (module, Expect::Refused)
            }
            _ => continue,
        };
        let mut module = module;
        let Ok(wasm) = module.encode() else {
            // Text that does not encode never reaches kilnc: only a refusal expects that.
            if matches!(expect, Expect::Compiles) {
                failures.push(format!("{:?}: module does not encode", span));
            }
            continue;
        };
        checked += 1;
        let (line, _) = span.linecol_in(&text);
        match (kiln_compiler::compile(&wasm, &options), expect) {
            (Ok(_), Expect::Compiles) | (Err(_), Expect::Refused) => {}
            (Err(e), Expect::Compiles) => failures.push(format!("line {}: kilnc refused the module: {e}", line + 1)),
            (Ok(_), Expect::Refused) => failures.push(format!("line {}: kilnc accepted an invalid module", line + 1)),
        }
    }
    (checked, failures)
}

#[test]
fn kilnc_compiles_every_module_of_the_gc_scripts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testsuite/wasm-3.0");
    let mut report = Vec::new();
    let mut total = 0;
    for script in GC_SCRIPTS {
        let (checked, failures) = check_script(&dir.join(script));
        assert!(checked > 0, "{script}: no module found");
        total += checked;
        report.extend(failures.into_iter().map(|f| format!("{script} {f}")));
    }
    eprintln!("{total} modules of {} scripts checked", GC_SCRIPTS.len());
    assert!(report.is_empty(), "{} of {total} modules went wrong:\n{}", report.len(), report.join("\n"));
}
