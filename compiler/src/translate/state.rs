//! Per-function translation state, kept between functions so that its
//! allocations are reused.

use std::collections::{BTreeMap, BTreeSet};

use cranelift_codegen::entity::EntityRef;
use cranelift_codegen::ir;
use cranelift_frontend::{FunctionBuilder, Variable};
use kiln_format::{ValType, NUM_BUILTINS};

use super::control::ControlFrame;
use super::epoch::EpochCache;
use super::exceptions::{ActiveHandler, LegacyTry};
use super::fuel::FuelCounter;
use crate::{CompileError, Result};

/// A local variable.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Local {
    /// The SSA variable that holds it.
    pub var: Variable,
}

/// State of the function being translated.
pub(crate) struct FuncState {
    /// The operand stack of reachable code.
    pub stack: Vec<ir::Value>,
    /// The control stack; the function body is its bottom frame.
    pub control: Vec<ControlFrame>,
    /// Parameters, then declared locals.
    pub locals: Vec<Local>,
    /// Whether the code being read can execute. Operators in unreachable
    /// code are validated but not translated.
    pub reachable: bool,
    /// Depth of blocks opened inside unreachable code, whose `else`/`end`
    /// belong to no translated frame.
    pub unreachable_depth: u32,
    /// The callee VMContext: the first parameter of the entry block, which
    /// dominates every block of the function.
    pub vmctx: ir::Value,
    /// Imported signatures of Wasm function types, by type index.
    pub signatures: BTreeMap<u32, ir::SigRef>,
    /// Exit trampolines of builtins declared in this function, by builtin index.
    pub builtin_funcs: Vec<Option<ir::FuncRef>>,
    /// Direct callees declared in this function, by function index.
    pub direct_callees: BTreeMap<u32, ir::FuncRef>,
    /// Scratch list of call arguments.
    pub call_args: Vec<ir::Value>,
    /// Scratch list of block arguments.
    pub block_args: Vec<ir::BlockArg>,
    /// The fuel variable and pending cost (`kilnc --fuel`).
    pub fuel: FuelCounter,
    /// The cached epoch pointer and deadline (`kilnc --epoch-interruption`).
    pub epoch: EpochCache,
    /// Catch clauses of the enclosing `try_table`s and legacy `try`s,
    /// outermost first; calls reach `handlers[handler_start..]`.
    pub handlers: Vec<ActiveHandler>,
    /// Where the handlers that calls reach start: past the ones that a
    /// legacy `delegate` skips.
    pub handler_start: usize,
    /// Landing pads that some `try_call` goes to.
    pub used_landings: BTreeSet<ir::Block>,
    /// What each legacy `try` of the body ends in, by its byte offset.
    pub legacy_tries: BTreeMap<usize, LegacyTry>,
}

impl FuncState {
    /// An empty state.
    pub fn new() -> Self {
        FuncState {
            stack: Vec::new(),
            control: Vec::new(),
            locals: Vec::new(),
            reachable: true,
            unreachable_depth: 0,
            vmctx: ir::Value::new(0),
            signatures: BTreeMap::new(),
            builtin_funcs: vec![None; NUM_BUILTINS as usize],
            direct_callees: BTreeMap::new(),
            call_args: Vec::new(),
            block_args: Vec::new(),
            fuel: FuelCounter::default(),
            epoch: EpochCache::default(),
            handlers: Vec::new(),
            handler_start: 0,
            used_landings: BTreeSet::new(),
            legacy_tries: BTreeMap::new(),
        }
    }

    /// Forgets the previous function, keeping allocations.
    pub fn clear(&mut self) {
        let FuncState {
            stack,
            control,
            locals,
            reachable,
            unreachable_depth,
            vmctx,
            signatures,
            builtin_funcs,
            direct_callees,
            call_args,
            block_args,
            fuel,
            epoch,
            handlers,
            handler_start,
            used_landings,
            legacy_tries,
        } = self;
        stack.clear();
        control.clear();
        locals.clear();
        *reachable = true;
        *unreachable_depth = 0;
        *vmctx = ir::Value::new(0);
        signatures.clear();
        builtin_funcs.clear();
        builtin_funcs.resize(NUM_BUILTINS as usize, None);
        direct_callees.clear();
        call_args.clear();
        block_args.clear();
        fuel.clear();
        epoch.clear();
        handlers.clear();
        *handler_start = 0;
        used_landings.clear();
        legacy_tries.clear();
    }

    /// Pops one operand.
    pub fn pop1(&mut self, offset: usize) -> Result<ir::Value> {
        self.stack.pop().ok_or_else(|| underflow(offset))
    }

    /// Pops two operands, returned in push order.
    pub fn pop2(&mut self, offset: usize) -> Result<(ir::Value, ir::Value)> {
        let b = self.pop1(offset)?;
        let a = self.pop1(offset)?;
        Ok((a, b))
    }

    /// Pops three operands, returned in push order.
    pub fn pop3(&mut self, offset: usize) -> Result<(ir::Value, ir::Value, ir::Value)> {
        let c = self.pop1(offset)?;
        let (a, b) = self.pop2(offset)?;
        Ok((a, b, c))
    }

    /// The top `n` operands, in push order.
    pub fn peekn(&self, n: usize, offset: usize) -> Result<&[ir::Value]> {
        let len = self.stack.len();
        if n > len {
            return Err(underflow(offset));
        }
        Ok(&self.stack[len - n..])
    }

    /// The top operand.
    pub fn peek1(&self, offset: usize) -> Result<ir::Value> {
        self.stack.last().copied().ok_or_else(|| underflow(offset))
    }

    /// Fills `call_args` with `first` followed by the top `n` operands,
    /// which are popped.
    pub fn popn_into_call_args(&mut self, first: ir::Value, n: usize, offset: usize) -> Result<()> {
        let start = self.stack.len().checked_sub(n).ok_or_else(|| underflow(offset))?;
        self.call_args.clear();
        self.call_args.push(first);
        self.call_args.extend(self.stack.drain(start..));
        Ok(())
    }

    /// Removes the top `n` operands.
    pub fn popn(&mut self, n: usize, offset: usize) -> Result<()> {
        let len = self.stack.len();
        if n > len {
            return Err(underflow(offset));
        }
        self.stack.truncate(len - n);
        Ok(())
    }

    /// Fills `block_args` with the top `n` operands, left on the stack.
    pub fn collect_block_args(&mut self, n: usize, offset: usize) -> Result<()> {
        let len = self.stack.len();
        if n > len {
            return Err(underflow(offset));
        }
        self.block_args.clear();
        self.block_args.extend(self.stack[len - n..].iter().map(|&v| ir::BlockArg::Value(v)));
        Ok(())
    }

    /// Pushes `value` of type `ty`, declaring counted references to the stack maps
    /// so that a GC finds them when they are live across a call.
    pub fn push_typed(&mut self, builder: &mut FunctionBuilder<'_>, value: ir::Value, ty: ValType) {
        if ty.is_counted_ref() {
            builder.declare_value_needs_stack_map(value);
        }
        self.stack.push(value);
    }
}

/// The operand stack is shallower than a validated operator needs: the
/// translator and the validator disagree, which is a bug, not bad input.
#[cold]
fn underflow(offset: usize) -> CompileError {
    CompileError::codegen(format!("operand stack underflow during translation (at offset {offset:#x})"))
}
