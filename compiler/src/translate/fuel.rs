//! Fuel metering (`kilnc --fuel`), with Wasmtime's cost model and scheme.
//!
//! The store context block holds the fuel counter (`FUEL_CONSUMED` in
//! kiln-format's `store_context`): the fuel consumed minus the fuel
//! injected, a negative `i64` while fuel remains. A function loads it into
//! a Cranelift variable at entry, and adds to that variable, at the end of
//! every straight-line run of operators, the static cost of the run
//! ([`operator_cost`]). The variable goes back to the block before every
//! call and builtin call and before the function returns or executes
//! `unreachable`, and is read again after calls, whose callees change the
//! counter.
//!
//! At the function entry and every loop header, a check calls the
//! `out_of_fuel` builtin when the counter is at or above zero: the builtin
//! refills it from the store's reserve, or traps with `out_of_fuel`. So a
//! trap comes at the first check after the fuel is used up, and code
//! between checks (straight-line code, which every loop iteration and call
//! passes a check to repeat) runs to it.

use cranelift_codegen::ir::{self, condcodes::IntCC, InstBuilder};
use cranelift_frontend::{FunctionBuilder, Variable};
use kiln_format::{store_context, BuiltinIndex, Instrumentation, VMOffsets};
use wasmparser::Operator;

use super::env::{call_builtin, vm_flags, vm_readonly_flags, FuncEnvironment};
use super::operators::{is_returning_call, is_tail_call};
use super::state::FuncState;
use crate::abi::POINTER_TYPE;

/// The fuel cost of one operator, Wasmtime's: 1 for every operator except
/// `nop`, `drop`, `block`, `loop`, `unreachable`, `return`, `else` and
/// `end`, which cost 0 (they produce no code, or their cost is that of the
/// branch or trap next to them). Operators in unreachable code cost nothing,
/// since they never run.
pub(crate) fn operator_cost(op: &Operator<'_>) -> i64 {
    match op {
        Operator::Nop
        | Operator::Drop
        | Operator::Block { .. }
        | Operator::Loop { .. }
        | Operator::Unreachable
        | Operator::Return
        | Operator::Else
        | Operator::End => 0,
        _ => 1,
    }
}

/// The function's fuel variable and the cost of the operators translated
/// since it was last updated.
#[derive(Default)]
pub(crate) struct FuelCounter {
    /// The variable caching the store's counter, when fuel is compiled in.
    var: Option<Variable>,
    /// Cost not yet added to `var`: that of the current straight-line run.
    pending: i64,
}

impl FuelCounter {
    /// Forgets the previous function.
    pub(crate) fn clear(&mut self) {
        *self = FuelCounter::default();
    }
}

fn enabled(env: &FuncEnvironment<'_>) -> bool {
    env.instrumentation.contains(Instrumentation::FUEL)
}

/// At the function entry: reads the counter into the function's variable
/// and checks it.
pub(crate) fn fuel_function_entry(env: &FuncEnvironment<'_>, builder: &mut FunctionBuilder<'_>, state: &mut FuncState) {
    if !enabled(env) {
        return;
    }
    state.fuel.var = Some(builder.declare_var(ir::types::I64));
    load_counter(builder, state);
    fuel_check(env, builder, state);
}

/// Before a reachable operator: counts its cost, and updates the variable
/// where the straight-line run ends or control leaves the function.
pub(crate) fn fuel_before_op(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    op: &Operator<'_>,
) {
    if !enabled(env) {
        return;
    }
    state.fuel.pending += operator_cost(op);
    match op {
        // Control leaves the function, for the callee (which reads the
        // counter), the host or the trap handler.
        _ if is_returning_call(op) || is_tail_call(op) => {
            add_pending(builder, state);
            store_counter(builder, state);
        }
        Operator::Unreachable | Operator::Return => {
            add_pending(builder, state);
            store_counter(builder, state);
        }
        // The run ends here: what follows is another block, or is reached
        // from several places.
        Operator::Loop { .. }
        | Operator::If { .. }
        | Operator::Else
        | Operator::End
        | Operator::Br { .. }
        | Operator::BrIf { .. }
        | Operator::BrTable { .. } => add_pending(builder, state),
        _ => {}
    }
}

/// After a reachable operator: a callee changed the counter, so read it again.
pub(crate) fn fuel_after_op(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    op: &Operator<'_>,
) {
    if enabled(env) && state.reachable && is_returning_call(op) {
        load_counter(builder, state);
    }
}

/// At the function's final `end`, just before it returns.
pub(crate) fn fuel_function_exit(env: &FuncEnvironment<'_>, builder: &mut FunctionBuilder<'_>, state: &mut FuncState) {
    if enabled(env) {
        add_pending(builder, state);
        store_counter(builder, state);
    }
}

/// Around a builtin call (which may run a destructor that re-enters Wasm,
/// or a host callback that reads the fuel): writes the variable back
/// before it. The pending cost stays pending, since the call may sit in a
/// side block of the run.
pub(crate) fn fuel_before_builtin(env: &FuncEnvironment<'_>, builder: &mut FunctionBuilder<'_>, state: &mut FuncState) {
    if enabled(env) {
        store_counter(builder, state);
    }
}

/// After a builtin call: reads the counter again.
pub(crate) fn fuel_after_builtin(env: &FuncEnvironment<'_>, builder: &mut FunctionBuilder<'_>, state: &mut FuncState) {
    if enabled(env) {
        load_counter(builder, state);
    }
}

/// The check, at function entry and every loop header: calls `out_of_fuel`
/// when the counter is at or above zero. The builder ends in the block
/// after the check.
pub(crate) fn fuel_check(env: &FuncEnvironment<'_>, builder: &mut FunctionBuilder<'_>, state: &mut FuncState) {
    if !enabled(env) {
        return;
    }
    add_pending(builder, state);
    let Some(var) = state.fuel.var else { return };
    let counter = builder.use_var(var);
    let used_up = builder.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, counter, 0);

    let slow = builder.create_block();
    let done = builder.create_block();
    builder.set_cold_block(slow);
    builder.ins().brif(used_up, slow, &[], done, &[]);
    builder.seal_block(slow);

    builder.switch_to_block(slow);
    // `call_builtin` writes the counter back and reads it again around the call.
    call_builtin(env, builder, state, BuiltinIndex::OutOfFuel, &[]);
    builder.ins().jump(done, &[]);

    builder.seal_block(done);
    builder.switch_to_block(done);
}

/// Adds the pending cost to the variable.
fn add_pending(builder: &mut FunctionBuilder<'_>, state: &mut FuncState) {
    let Some(var) = state.fuel.var else { return };
    if state.fuel.pending != 0 {
        let counter = builder.use_var(var);
        let counter = builder.ins().iadd_imm_s(counter, state.fuel.pending);
        builder.def_var(var, counter);
        state.fuel.pending = 0;
    }
}

/// The store context block, through the VMContext.
fn store_context_ptr(builder: &mut FunctionBuilder<'_>, state: &FuncState) -> ir::Value {
    builder.ins().load(POINTER_TYPE, vm_readonly_flags(), state.vmctx, VMOffsets::RUNTIME_LIMITS as i32)
}

fn load_counter(builder: &mut FunctionBuilder<'_>, state: &mut FuncState) {
    let Some(var) = state.fuel.var else { return };
    let context = store_context_ptr(builder, state);
    let counter = builder.ins().load(ir::types::I64, vm_flags(), context, store_context::FUEL_CONSUMED as i32);
    builder.def_var(var, counter);
}

fn store_counter(builder: &mut FunctionBuilder<'_>, state: &mut FuncState) {
    let Some(var) = state.fuel.var else { return };
    let context = store_context_ptr(builder, state);
    let counter = builder.use_var(var);
    builder.ins().store(vm_flags(), counter, context, store_context::FUEL_CONSUMED as i32);
}
