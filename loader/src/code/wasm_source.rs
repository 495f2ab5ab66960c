//! WebAssembly modules given where an artifact is expected. kiln runs only
//! code that kilnc compiled ahead of time, so a `.wasm` or `.wat` file is
//! refused with the kilnc command that makes an artifact of it, rather
//! than as a file that is not an ELF object.

use std::path::{Path, PathBuf};

use super::LoadError;

/// The format of a WebAssembly module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WasmFormat {
    /// The binary format: bytes starting with `\0asm`.
    Binary,
    /// The text format: `(module ...)`, or bare module fields.
    Text,
}

/// The keywords a module in the text format may open with: `module`, or
/// the field of a module written without it.
const TEXT_OPENERS: [&str; 14] = [
    "module",
    "component",
    "type",
    "rec",
    "import",
    "func",
    "table",
    "memory",
    "global",
    "export",
    "start",
    "elem",
    "data",
    "tag",
];

/// How much of the bytes is looked at for text: comments and blank lines
/// before the first parenthesis are short.
const TEXT_SNIFF_BYTES: usize = 4096;

/// The format of `bytes` if they are a WebAssembly module rather than an
/// artifact: the binary magic, or text whose first token (after
/// whitespace and comments) is `(` and a module keyword.
pub fn sniff(bytes: &[u8]) -> Option<WasmFormat> {
    if bytes.starts_with(b"\0asm") {
        return Some(WasmFormat::Binary);
    }
    let head = &bytes[..bytes.len().min(TEXT_SNIFF_BYTES)];
    let mut at = 0;
    loop {
        match &head[at..] {
            [b' ' | b'\t' | b'\n' | b'\r', ..] => at += 1,
            [b';', b';', rest @ ..] => at += 2 + rest.iter().position(|&b| b == b'\n')?,
            [b'(', b';', rest @ ..] => at += 2 + rest.windows(2).position(|w| w == b";)")? + 2,
            [b'(', rest @ ..] => {
                let rest = &rest[rest.iter().position(|b| !b.is_ascii_whitespace())?..];
                let word_len = rest.iter().position(|b| !b.is_ascii_alphanumeric() && *b != b'_').unwrap_or(rest.len());
                let word = std::str::from_utf8(&rest[..word_len]).ok()?;
                return TEXT_OPENERS.contains(&word).then_some(WasmFormat::Text);
            }
            _ => return None,
        }
    }
}

/// The artifact kilnc makes of the module `path` when told `-o` it: the
/// same name with the extension `.o`.
pub fn artifact_path_for(path: &Path) -> PathBuf {
    path.with_extension("o")
}

/// `path` as a shell word: as it is if it needs no quoting, else in single
/// quotes.
pub fn shell_word(path: &Path) -> String {
    let text = path.to_string_lossy();
    let plain = !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./+,:@%=".contains(&b));
    if plain {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The kilnc command that compiles the module `path` to an artifact next
/// to it: `kilnc app.wasm -o app.o`.
pub fn kilnc_command(path: &Path) -> String {
    format!("kilnc {} -o {}", shell_word(path), shell_word(&artifact_path_for(path)))
}

/// The error for a module of `format` given where an artifact is expected,
/// with its path when it was loaded from a file.
#[cold]
pub(crate) fn refusal(format: WasmFormat, path: Option<&Path>) -> LoadError {
    let what = match format {
        WasmFormat::Binary => "a WebAssembly module in the binary format",
        WasmFormat::Text => "a WebAssembly module in the text format",
    };
    let message = match path {
        Some(path) => format!(
            "`{}` is {what}, not a kiln artifact: kiln runs modules compiled ahead of time by kilnc; `{}` makes one",
            path.display(),
            kilnc_command(path)
        ),
        None => format!(
            "these bytes are {what}, not a kiln artifact: kiln runs modules compiled ahead of time by kilnc \
             (`kilnc MODULE -o ARTIFACT.o` makes one)"
        ),
    };
    LoadError::wasm_module(format, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_are_told_from_artifacts() {
        assert_eq!(sniff(b"\0asm\x01\0\0\0"), Some(WasmFormat::Binary));
        assert_eq!(sniff(b"(module)"), Some(WasmFormat::Text));
        assert_eq!(sniff(b";; a module\n  (; block ;) ( module (func))"), Some(WasmFormat::Text));
        assert_eq!(sniff(b"(func (export \"f\"))"), Some(WasmFormat::Text));
        assert_eq!(sniff(b"\x7fELF\x02\x01"), None);
        assert_eq!(sniff(b"(hello)"), None);
        assert_eq!(sniff(b"module"), None);
        assert_eq!(sniff(b";; only a comment"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn the_command_quotes_what_the_shell_would_split() {
        assert_eq!(kilnc_command(Path::new("app.wasm")), "kilnc app.wasm -o app.o");
        assert_eq!(kilnc_command(Path::new("dir/app.wat")), "kilnc dir/app.wat -o dir/app.o");
        assert_eq!(kilnc_command(Path::new("my app.wasm")), "kilnc 'my app.wasm' -o 'my app.o'");
        assert_eq!(kilnc_command(Path::new("it's")), r"kilnc 'it'\''s' -o 'it'\''s.o'");
    }
}
