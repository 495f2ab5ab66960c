//! Which calls kilnc inlines.
//!
//! The heuristic, measured in CLIF instructions of the translated (not yet
//! optimized) functions:
//!
//! - Only a plain `call` of a defined function of the same module is
//!   inlined. Never an import (its code is elsewhere), an indirect call
//!   (`call_indirect`, `call_ref`: the callee is not known), a builtin, or:
//!   - a tail call (`return_call`): it replaces the caller's frame, so a
//!     backtrace below it must not show the caller, which an inlined body
//!     would;
//!   - a `try_call` (a call inside a `try_table` or legacy `try` with
//!     handlers): Cranelift would turn every call of the inlined body into
//!     a `try_call` with the caller's handlers, builtin calls included,
//!     whose `system_v` convention may keep the VMContext in a
//!     callee-saved register, which a handler record (SPEC 2.6) cannot
//!     name; such calls stay calls, and the unwinder finds their handlers
//!     as before. A callee's own `try_call`s are inlined unchanged, with
//!     their landing pads.
//! - The callee contains no tail call (`return_call*`): Cranelift would turn
//!   it into a plain call, which leaves the caller's frame on the stack and
//!   so changes the backtrace below it.
//! - The callee is a small leaf ([`SMALL_CALLEE`] instructions at most, and
//!   no call of a Wasm function, direct or indirect, nor of an import), or
//!   has exactly one direct call site in the whole module and at most
//!   [`SINGLE_SITE_CALLEE`] instructions. Small wrappers that call on are
//!   mostly error and I/O paths (`fprintf`, `exit`): inlining them saves
//!   little and grows their callers, whose hot loops then compile worse.
//! - The callee returns: one without a `return` (it ends in `unreachable`,
//!   or loops, or calls `exit`) is an error path, not worth the growth.
//! - It is not recursive: the callee is neither the caller nor any
//!   function already inlined on the way to this call.
//! - Inlining is nested at most [`MAX_DEPTH`] deep (a small callee's own
//!   calls are visited too).
//! - The caller's growth is bounded: its original size plus everything
//!   inlined into it stays within [`GROWTH_LIMIT`], except that callees of
//!   at most [`TINY_CALLEE`] instructions are inlined while the caller has
//!   not yet doubled its original size.
//!
//! The inlined body keeps all of its semantics, which are in the CLIF:
//! its fuel and epoch checks (fuel is stored back before every call and
//! reloaded after, so the callee's code counts as before), its stack
//! slots and the stack map entries of its calls (Cranelift's inliner adds
//! the caller's live references at the call to every call of the inlined
//! body), and its own `try_call`s with their landing pads.
//!
//! Decisions depend only on the translated CLIF, never on the thread that
//! compiles a function, so the output does not depend on the thread count.

use cranelift_codegen::ir::{self, ExternalName};

/// Callees with at most this many instructions are inlined at every call
/// site (within the growth bound).
pub(crate) const SMALL_CALLEE: u32 = 40;
/// A callee with a single call site in the module is inlined up to this size.
pub(crate) const SINGLE_SITE_CALLEE: u32 = 100;
/// Callees this small are inlined even into large callers, until the caller
/// has doubled in size.
pub(crate) const TINY_CALLEE: u32 = 12;
/// Bound on a caller's size (original plus inlined instructions).
pub(crate) const GROWTH_LIMIT: u32 = 2000;
/// How deep inlined calls may nest (1: only the caller's own calls).
pub(crate) const MAX_DEPTH: usize = 3;

/// What the policy needs to know of one translated function.
#[derive(Clone, Debug, Default)]
pub(crate) struct FunctionSummary {
    /// Instructions in the layout.
    pub size: u32,
    /// Whether it contains a `return_call` or `return_call_indirect`.
    pub has_tail_call: bool,
    /// Whether it contains an indirect call (`call_indirect`, `call_ref`,
    /// imports).
    pub has_indirect_call: bool,
    /// Whether it contains a `return`.
    pub returns: bool,
    /// The function index of the target of each direct call to a function
    /// of the module (`call` and `try_call`), one entry per call site.
    pub direct_calls: Vec<u32>,
}

impl FunctionSummary {
    /// Summarizes `func`, whose direct calls to functions of the module are
    /// user names in namespace 0.
    pub(crate) fn of(func: &ir::Function) -> Self {
        let mut summary = FunctionSummary::default();
        for block in func.layout.blocks() {
            for inst in func.layout.block_insts(block) {
                summary.size += 1;
                match func.dfg.insts[inst] {
                    ir::InstructionData::Call { opcode: ir::Opcode::ReturnCall, .. }
                    | ir::InstructionData::CallIndirect { opcode: ir::Opcode::ReturnCallIndirect, .. } => {
                        summary.has_tail_call = true
                    }
                    ir::InstructionData::Call { func_ref, .. } | ir::InstructionData::TryCall { func_ref, .. } => {
                        if let Some(index) = module_function(func, func_ref) {
                            summary.direct_calls.push(index);
                        }
                    }
                    ir::InstructionData::CallIndirect { .. } | ir::InstructionData::TryCallIndirect { .. } => {
                        summary.has_indirect_call = true
                    }
                    ir::InstructionData::MultiAry { opcode: ir::Opcode::Return, .. } => summary.returns = true,
                    _ => {}
                }
            }
        }
        summary
    }
}

/// The function index that `func_ref` names, if it is a function of the
/// module (namespace 0) rather than a builtin.
pub(crate) fn module_function(func: &ir::Function, func_ref: ir::FuncRef) -> Option<u32> {
    let ExternalName::User(name) = func.dfg.ext_funcs[func_ref].name else { return None };
    let name = &func.params.user_named_funcs()[name];
    (name.namespace == 0).then_some(name.index)
}

/// The module-wide half of the heuristic: which defined functions may be
/// inlined at all.
pub(crate) struct InlinePolicy {
    /// Per defined function (index in defined order): whether it is a
    /// candidate callee, and its size.
    candidates: Vec<Option<u32>>,
}

impl InlinePolicy {
    /// Picks the candidates among the defined functions summarized in
    /// `summaries` (defined order), the first having function index
    /// `first_defined`.
    pub(crate) fn new(summaries: &[FunctionSummary], first_defined: u32) -> Self {
        let mut call_sites = vec![0u32; summaries.len()];
        for summary in summaries {
            for &callee in &summary.direct_calls {
                if let Some(n) = callee.checked_sub(first_defined).and_then(|d| call_sites.get_mut(d as usize)) {
                    *n = n.saturating_add(1);
                }
            }
        }
        let candidates = summaries
            .iter()
            .zip(&call_sites)
            .map(|(s, &sites)| {
                let leaf = s.direct_calls.is_empty() && !s.has_indirect_call;
                let fits = (leaf && s.size <= SMALL_CALLEE) || (sites == 1 && s.size <= SINGLE_SITE_CALLEE);
                (fits && s.returns && !s.has_tail_call).then_some(s.size)
            })
            .collect();
        InlinePolicy { candidates }
    }

    /// The size of defined function `defined` if it is a candidate callee.
    pub(crate) fn candidate(&self, defined: usize) -> Option<u32> {
        self.candidates.get(defined).copied().flatten()
    }

    /// Whether a caller of `original` instructions that has grown by
    /// `grown` may inline a callee of `size` more.
    pub(crate) fn allows_growth(original: u32, grown: u32, size: u32) -> bool {
        let after = grown.saturating_add(size);
        original.saturating_add(after) <= GROWTH_LIMIT || (size <= TINY_CALLEE && after <= original)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(size: u32, direct_calls: &[u32]) -> FunctionSummary {
        FunctionSummary { size, returns: true, direct_calls: direct_calls.to_vec(), ..Default::default() }
    }

    #[test]
    fn candidates_are_small_leaves_and_single_site_callees_that_return() {
        // Function 10 (after 10 imports) is a small leaf; 11 is small and
        // calls 10; 13 calls 11 twice and each of the others once.
        let mut s = vec![
            summary(SMALL_CALLEE, &[]),
            summary(5, &[10]),
            summary(SINGLE_SITE_CALLEE, &[]),
            summary(500, &[11, 11, 12, 14, 15, 16]),
            summary(SINGLE_SITE_CALLEE + 1, &[]),
            FunctionSummary { has_tail_call: true, ..summary(3, &[]) },
            FunctionSummary { returns: false, ..summary(3, &[]) },
        ];
        s.push(summary(SMALL_CALLEE + 1, &[]));
        let policy = InlinePolicy::new(&s, 10);
        assert_eq!(policy.candidate(0), Some(SMALL_CALLEE), "a small leaf");
        assert_eq!(policy.candidate(1), None, "small but not a leaf, two sites");
        assert_eq!(policy.candidate(2), Some(SINGLE_SITE_CALLEE), "one site");
        assert_eq!(policy.candidate(3), None, "no site");
        assert_eq!(policy.candidate(4), None, "one site, too large");
        assert_eq!(policy.candidate(5), None, "tail-calls");
        assert_eq!(policy.candidate(6), None, "never returns");
        assert_eq!(policy.candidate(7), None, "a leaf without sites, too large to be small");
        assert_eq!(policy.candidate(8), None, "out of range");
    }

    #[test]
    fn growth_is_bounded() {
        assert!(InlinePolicy::allows_growth(1000, 900, 100));
        assert!(!InlinePolicy::allows_growth(1000, 901, 100));
        // Tiny callees, until a large caller has doubled.
        assert!(InlinePolicy::allows_growth(5000, 4988, TINY_CALLEE));
        assert!(!InlinePolicy::allows_growth(5000, 4989, TINY_CALLEE));
        assert!(!InlinePolicy::allows_growth(5000, 0, TINY_CALLEE + 1));
    }
}
