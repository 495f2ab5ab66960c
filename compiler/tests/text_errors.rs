//! Text-format errors give the file, line, column and byte offset of the
//! error and a snippet of at most 80 characters around it, whatever the
//! length of the offending line; input that is neither a Wasm binary nor
//! UTF-8 is refused with the offset of its first invalid byte.

use kiln_compiler::{compile, compile_file, CompileError, CompileErrorKind, CompileOptions};

fn text_error(text: &str) -> CompileError {
    let err = compile(text.as_bytes(), &CompileOptions::default()).unwrap_err();
    assert_eq!(err.kind(), CompileErrorKind::Invalid, "{err}");
    assert!(err.message().starts_with("invalid text format: "), "{err}");
    err
}

/// The snippet line of an error's Display (`N | ...`) and its caret line.
fn snippet(err: &CompileError) -> (String, String) {
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    let (_, shown) = lines[2].split_once(" | ").unwrap();
    let (_, caret) = lines[3].split_once(" | ").unwrap();
    (shown.to_owned(), caret.to_owned())
}

/// The character the caret points at.
fn pointed_at(err: &CompileError) -> char {
    let (shown, caret) = snippet(err);
    assert!(caret.ends_with('^') && caret.trim_start() == "^", "{caret:?}");
    shown.chars().nth(caret.len() - 1).expect("the caret is within the snippet")
}

#[test]
fn error_gives_line_column_offset_and_the_line() {
    let text = "(module\n  (func (i32.bogus)))\n";
    let err = text_error(text);
    assert_eq!(err.line_column(), Some((2, 10)));
    assert_eq!(err.offset(), Some(text.find("i32.bogus").unwrap()));
    assert_eq!(
        err.to_string(),
        "invalid text format: unknown operator or unexpected token (at <input>:2:10, offset 0x11)\n  |\n2 |   (func (i32.bogus)))\n  |          ^"
    );
}

#[test]
fn tabs_and_wide_encodings_keep_the_offset_exact() {
    for text in ["(module\n\t\t(func (i32.bogus)))", "(module (data \"h\u{e9}llo w\u{f6}rld\") (i32.bogus))"] {
        let err = text_error(text);
        assert_eq!(err.offset(), Some(text.find("i32.bogus").unwrap()), "{err}");
        assert_eq!(pointed_at(&err), 'i', "{err}");
    }
}

#[test]
fn a_long_line_is_cut_to_a_window_around_the_error() {
    let mut text = String::from("(module (;");
    text.push_str(&"a".repeat(4 << 20));
    text.push_str(";) (i32.bogus) ");
    text.push_str(&"b".repeat(4 << 20));
    text.push(')');
    let err = text_error(&text);
    let display = err.to_string();
    assert!(display.len() < 1024, "{} bytes", display.len());
    assert_eq!(err.offset(), Some(text.find("i32.bogus").unwrap()));
    let (shown, _) = snippet(&err);
    assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
    assert!(shown.chars().count() <= 82, "{shown}");
    assert_eq!(pointed_at(&err), 'i');
}

#[test]
fn control_characters_are_not_echoed() {
    let err = text_error("(module \u{1b}[2J\u{202e}(func))");
    let display = err.to_string();
    assert!(!display.contains('\u{1b}') && !display.contains('\u{202e}'), "{display:?}");
    assert_eq!(err.line_column(), Some((1, 9)));
    assert_eq!(pointed_at(&err), '\u{fffd}');
}

#[test]
fn neither_binary_nor_text_is_refused_at_its_first_invalid_byte() {
    let err = compile(b"(module)\n\xff\xfe garbage", &CompileOptions::default()).unwrap_err();
    assert_eq!(err.kind(), CompileErrorKind::Invalid);
    assert_eq!(err.offset(), Some(9));
    assert_eq!(
        err.to_string(),
        "not a WebAssembly binary (no \\0asm magic) and not WebAssembly text: invalid UTF-8 (at offset 0x9)"
    );
}

#[test]
fn compile_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.wat");
    let output = dir.path().join("bad.o");
    std::fs::write(&input, "(module\n  (func (i32.bogus)))\n").unwrap();
    let err = compile_file(&input, &output, &CompileOptions::default()).unwrap_err();
    assert!(err.to_string().contains(&format!("(at {}:2:10, offset 0x11)", input.display())), "{err}");
    assert!(!output.exists());
}

#[test]
fn compile_file_names_the_file_of_a_validation_error() {
    let dir = tempfile::tempdir().unwrap();
    let text = "(module\n  (import \"m\" \"f\" (func))\n  (func $ok)\n  (func $bad (result i32)\n    f32.const 1))\n";

    let input = dir.path().join("bad.wat");
    std::fs::write(&input, text).unwrap();
    let err = compile_file(&input, &dir.path().join("bad.o"), &CompileOptions::default()).unwrap_err();
    let shown = err.to_string();
    let at = format!("type mismatch: expected i32, found f32 (in function 2, at {}:4:4)\n", input.display());
    assert!(shown.starts_with(&at), "{shown}");
    assert!(shown.contains("4 |   (func $bad (result i32)\n  |    ^"), "{shown}");

    let input = dir.path().join("bad.wasm");
    std::fs::write(&input, wat::parse_str(text).unwrap()).unwrap();
    let err = compile_file(&input, &dir.path().join("bad.o"), &CompileOptions::default()).unwrap_err();
    let offset = err.offset().expect("a binary offset");
    let at = format!("(at {}, offset {offset:#x}, in function 2)", input.display());
    assert!(err.to_string().ends_with(&at), "{err}");
}

#[test]
fn compile_file_refuses_what_it_must_not_read_or_replace() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("m.wat");
    std::fs::write(&input, "(module)").unwrap();
    let options = CompileOptions::default();

    let err = compile_file(dir.path(), &dir.path().join("m.o"), &options).unwrap_err();
    assert_eq!(err.kind(), CompileErrorKind::Input, "{err}");
    let err = compile_file(&input, &input, &options).unwrap_err();
    assert_eq!(err.kind(), CompileErrorKind::Output, "{err}");
    let err = compile_file(&input, dir.path(), &options).unwrap_err();
    assert_eq!(err.kind(), CompileErrorKind::Output, "{err}");
    assert_eq!(std::fs::read_to_string(&input).unwrap(), "(module)");
}

#[test]
fn text_that_does_not_open_with_a_paren_is_refused_where_it_starts() {
    let text = ";; a line comment\n(; a block (; nested ;) comment ;)\n  \0\0\0";
    let err = text_error(text);
    assert_eq!(err.offset(), Some(text.find('\0').unwrap()));
    assert_eq!(err.line_column(), Some((3, 3)));
    assert!(err.message().contains("expected `(` to open a module, found '\\0'"), "{err}");

    // Comments that hold what looks like a token are skipped whole.
    compile(b";; x\r(; ) x (; ;) ;)\t(module)", &CompileOptions::default()).unwrap();
}
