//! Compiles the program's Wasm module into `$OUT_DIR/collatz.o`, which
//! `src/main.rs` embeds with `kiln_loader::include_artifact!`.

fn main() {
    kiln_compiler::build::compile("collatz.wat");
}
