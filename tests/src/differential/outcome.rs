//! How a step ended in one engine, and when two endings agree.

use std::fmt;

use kiln_loader::TrapCode;

use super::value::{describe_values, Value};

/// Why a step (instantiation or a call) did not complete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A trap, in kiln's vocabulary (the reference's codes are mapped).
    Trap(TrapCode),
    /// Any other error: a runtime refusing the module, a limit. The
    /// message is for the report only.
    Error(String),
    /// kiln's code faulted where its compiler recorded no trap: a kiln bug
    /// whatever the reference did.
    Fault(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Trap(code) => write!(f, "trap {code} ({})", code.message()),
            Failure::Error(message) => write!(f, "error: {message}"),
            Failure::Fault(message) => write!(f, "fault with no trap code: {message}"),
        }
    }
}

/// How a call ended: its results or its failure.
pub type CallOutcome = Result<Vec<Value>, Failure>;

/// A call's outcome as a report states it.
pub fn describe_call(outcome: &CallOutcome) -> String {
    match outcome {
        Ok(values) => format!("returned {}", describe_values(values)),
        Err(failure) => failure.to_string(),
    }
}

/// Whether two failures agree: the same trap kind, or both an error (a
/// fault never agrees). A
/// `call_indirect` past the end of its table is `undefined element` in
/// the specification's tests; kiln names it so, and wasmi calls it a table
/// access out of bounds, which is the same trap.
pub fn failures_agree(a: &Failure, b: &Failure) -> bool {
    match (a, b) {
        (Failure::Trap(a), Failure::Trap(b)) => trap_class(*a) == trap_class(*b),
        (Failure::Error(_), Failure::Error(_)) => true,
        _ => false,
    }
}

/// Whether two call outcomes agree (see [`Value::agrees_with`] and [`failures_agree`]).
pub fn calls_agree(a: &CallOutcome, b: &CallOutcome) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) => a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.agrees_with(b)),
        (Err(a), Err(b)) => failures_agree(a, b),
        _ => false,
    }
}

fn trap_class(code: TrapCode) -> TrapCode {
    if code == TrapCode::UNDEFINED_ELEMENT {
        TrapCode::TABLE_OUT_OF_BOUNDS
    } else {
        code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traps_agree_by_kind_and_errors_by_being_errors() {
        let trap = |code| Failure::Trap(code);
        assert!(failures_agree(&trap(TrapCode::UNREACHABLE), &trap(TrapCode::UNREACHABLE)));
        assert!(!failures_agree(&trap(TrapCode::UNREACHABLE), &trap(TrapCode::MEMORY_OUT_OF_BOUNDS)));
        assert!(failures_agree(&trap(TrapCode::UNDEFINED_ELEMENT), &trap(TrapCode::TABLE_OUT_OF_BOUNDS)));
        assert!(failures_agree(&Failure::Error("a".into()), &Failure::Error("b".into())));
        assert!(!failures_agree(&Failure::Error("a".into()), &trap(TrapCode::STACK_OVERFLOW)));
        assert!(!calls_agree(&Ok(vec![]), &Err(trap(TrapCode::UNREACHABLE))));
        assert!(calls_agree(&Ok(vec![Value::F32(0x7fc0_0000)]), &Ok(vec![Value::F32(0x7fc0_0001)])));
    }
}
