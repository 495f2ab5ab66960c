//! Compiles the sigsetjmp/siglongjmp helper: `sigsetjmp` returns twice, which
//! Rust cannot express soundly, so the recovery point lives in C.
fn main() {
    println!("cargo:rerun-if-changed=src/vm/traps/setjmp.c");
    cc::Build::new().file("src/vm/traps/setjmp.c").warnings(true).compile("kiln_setjmp");
}
