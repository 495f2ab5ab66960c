//! The trap error returned to the host, and its backtrace.

use std::fmt;

use kiln_format::TrapCode;

use crate::code::lookup_code;

/// Why a call into Wasm did not return normally.
#[derive(Debug)]
pub struct Trap {
    /// The Wasm trap, or `None` when a host function failed (or Wasm code
    /// faulted somewhere the compiler recorded no trap).
    pub code: Option<TrapCode>,
    /// The specification's message for `code`, or the host error's message.
    pub message: String,
    /// Wasm frames, innermost first.
    pub backtrace: Vec<FrameInfo>,
}

/// One Wasm frame of a [`Trap`]'s backtrace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    /// Name of the module, from its name section.
    pub module_name: Option<String>,
    /// Index of the function in its module's function space.
    pub func_index: u32,
    /// Name of the function, from the name section.
    pub func_name: Option<String>,
    /// Offset in `.text` of the faulting instruction (innermost frame of a
    /// signal) or of the return address of the call (every other frame).
    pub text_offset: u32,
}

impl Trap {
    /// A Wasm trap with the specification's message and no backtrace.
    pub fn from_code(code: TrapCode) -> Self {
        Trap { code: Some(code), message: code.message().to_string(), backtrace: Vec::new() }
    }

    /// A failure that is not a Wasm trap (a host error, say).
    pub fn from_message(message: impl Into<String>) -> Self {
        Trap { code: None, message: message.into(), backtrace: Vec::new() }
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code.is_some() {
            write!(f, "wasm trap: {}", self.message)?;
        } else {
            f.write_str(&self.message)?;
        }
        for (i, frame) in self.backtrace.iter().enumerate() {
            write!(f, "\n  {i}: {frame}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Trap {}

impl fmt::Display for FrameInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.func_name {
            Some(name) => f.write_str(name)?,
            None => write!(f, "<wasm function {}>", self.func_index)?,
        }
        match &self.module_name {
            Some(module) => write!(f, " (module {module}, function {})", self.func_index),
            None => write!(f, " (function {})", self.func_index),
        }
    }
}

/// Turns raw PCs captured by the trap handler into frames. `pcs[0]` is a
/// faulting instruction when `first_is_fault`; every other PC is a return
/// address, looked up one byte back so that a call ending a function is
/// attributed to it and not to the next one (and a call from inlined code
/// to the inlined frames). A PC in inlined code gives one frame per
/// inlined function, then its machine frame's function, all with the same
/// `text_offset`. PCs in trampolines are left out.
pub(crate) fn symbolize(pcs: &[usize], first_is_fault: bool) -> Vec<FrameInfo> {
    let mut frames = Vec::with_capacity(pcs.len());
    for (i, &pc) in pcs.iter().enumerate() {
        let lookup_pc = if i == 0 && first_is_fault { pc } else { pc.wrapping_sub(1) };
        let Some(code) = lookup_code(lookup_pc) else { continue };
        let text_offset = (pc.wrapping_sub(code.text() as usize)) as u32;
        for func_index in code.frames_at(lookup_pc) {
            frames.push(FrameInfo {
                module_name: code.module_name().map(str::to_string),
                func_index,
                func_name: code.func_name(func_index).map(str::to_string),
                text_offset,
            });
        }
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_shows_message_and_frames() {
        let mut trap = Trap::from_code(TrapCode::MEMORY_OUT_OF_BOUNDS);
        trap.backtrace = vec![
            FrameInfo { module_name: Some("m".into()), func_index: 3, func_name: Some("load".into()), text_offset: 9 },
            FrameInfo { module_name: None, func_index: 1, func_name: None, text_offset: 40 },
        ];
        assert_eq!(
            trap.to_string(),
            "wasm trap: out of bounds memory access\n  0: load (module m, function 3)\n  1: <wasm function 1> (function 1)"
        );
        assert_eq!(Trap::from_message("host failed").to_string(), "host failed");
    }
}
