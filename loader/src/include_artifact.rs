//! [`include_artifact!`]: an artifact compiled by the build script, embedded
//! in the program and loaded without a copy.

/// Embeds an artifact file in the program at build time and loads it with
/// [`Module::from_static`](crate::Module::from_static), running its code
/// where it lies in the executable.
///
/// `include_artifact!(engine, path)` takes a `&Engine` and a path as
/// [`include_bytes!`] takes it: a string literal, or a macro that expands
/// to one, relative to the file that uses the macro unless absolute. It
/// evaluates to `Result<Module, Error>`.
///
/// The usual path is an artifact that `build.rs` compiled into `OUT_DIR`
/// with `kiln_compiler::build`:
///
/// ```ignore
/// // build.rs
/// fn main() {
///     kiln_compiler::build::compile("app.wat");
/// }
///
/// // src/main.rs
/// let engine = kiln_loader::Engine::default();
/// let module = kiln_loader::include_artifact!(&engine, concat!(env!("OUT_DIR"), "/app.o"))?;
/// ```
///
/// The bytes are placed in a static aligned to 4096 bytes, so the
/// artifact's `.text` (whole pages at a page-aligned file offset, SPEC.md
/// 1.2) lies on whole pages of the program's read-only data: loading makes
/// those pages read + execute in place, and copies nothing.
///
/// Each use of the macro embeds its own copy of the file. Loading the same
/// copy again (a function that uses the macro, called twice) gives a
/// module of the same code while one lives; memory images, if the module
/// has any, are copied into an anonymous file at each load.
///
/// # Why this is safe
///
/// Loading an artifact runs its bytes as native code, which is why
/// [`Module::from_static`](crate::Module::from_static) is `unsafe`. The
/// bytes this macro loads are fixed when the program is built, from a file
/// of the program's own build, and cannot change afterwards: they are as
/// trusted as the program's own code. Whoever could have replaced the
/// artifact could as well have replaced the program. The artifact is still
/// checked completely when it is loaded, so a damaged one is an error.
#[macro_export]
macro_rules! include_artifact {
    ($engine:expr, $path:expr $(,)?) => {{
        // `repr(C)` keeps the bytes at offset 0 of the aligned static.
        #[repr(C, align(4096))]
        struct PageAligned<Bytes: ?Sized>(Bytes);
        static ARTIFACT: &PageAligned<[u8]> = &PageAligned(*include_bytes!($path));
        let engine: &$crate::Engine = $engine;
        // SAFETY: the bytes are a file of the program's build, fixed when
        // the program was built: they are as trusted as the program itself
        // (see the macro's docs). They are static and immutable.
        #[allow(unused_unsafe)]
        let module = unsafe { $crate::Module::from_static(engine, &ARTIFACT.0) };
        module
    }};
}
