//! Evaluation of constant expressions (global initialisers, segment offsets
//! and element items).

use kiln_format::{ConstExpr, ConstOp, VMOffsets};

use crate::error::Error;
use crate::vm::global::GlobalInner;
use crate::vm::ValueSlot;

/// What a constant expression can see: the globals defined so far and the
/// instance's func refs.
pub(crate) struct ConstEnv<'a> {
    pub globals: &'a [GlobalInner],
    pub global_indices: &'a [u32],
    pub vmctx: *mut u8,
    pub offsets: &'a VMOffsets,
}

impl ConstEnv<'_> {
    /// The value as a slot. References are raw and no count is taken.
    pub(crate) fn eval(&self, expr: &ConstExpr) -> Result<ValueSlot, Error> {
        Ok(ValueSlot::from_u128(match *expr {
            ConstExpr::I32(v) => v as u32 as u128,
            ConstExpr::I64(v) => v as u64 as u128,
            ConstExpr::F32(v) => v as u128,
            ConstExpr::F64(v) => v as u128,
            ConstExpr::V128(v) => v,
            ConstExpr::RefNull(_) => 0,
            ConstExpr::RefFunc(index) => self.func_ref(index)? as u128,
            ConstExpr::GlobalGet(index) => return self.global(index),
            ConstExpr::Ops(ref ops) => self.run(ops)?.into(),
        }))
    }

    /// The value of global `index`.
    fn global(&self, index: u32) -> Result<ValueSlot, Error> {
        let global = self
            .global_indices
            .get(index as usize)
            .and_then(|&i| self.globals.get(i as usize))
            .ok_or_else(|| Error::Instantiation(format!("constant expression reads unknown global {index}")))?;
        Ok(global.read())
    }

    /// Runs an extended constant expression: integers on a stack, `i32`s
    /// in the low 32 bits. A damaged artifact's expression that does not
    /// leave exactly one value is an error, not a panic.
    fn run(&self, ops: &[ConstOp]) -> Result<u64, Error> {
        let malformed = || Error::Instantiation("malformed constant expression".into());
        let mut stack: Vec<u64> = Vec::with_capacity(ops.len());
        for &op in ops {
            let value = match op {
                ConstOp::I32Const(v) => u64::from(v as u32),
                ConstOp::I64Const(v) => v as u64,
                ConstOp::GlobalGet(index) => self.global(index)?.to_u128() as u64,
                binary => {
                    let (b, a) = (stack.pop().ok_or_else(malformed)?, stack.pop().ok_or_else(malformed)?);
                    binary.apply(a, b).ok_or_else(malformed)?
                }
            };
            stack.push(value);
        }
        match stack.as_slice() {
            [value] => Ok(*value),
            _ => Err(malformed()),
        }
    }

    /// A segment offset, as the unsigned value segments use: an `i64` for a
    /// 64-bit memory or table (`wide`), else an `i32`.
    pub(crate) fn eval_offset(&self, expr: &ConstExpr, wide: bool) -> Result<u64, Error> {
        let value = self.eval(expr)?.to_u128();
        Ok(if wide { value as u64 } else { u64::from(value as u32) })
    }

    /// The address of function `index`'s func ref.
    pub(crate) fn func_ref(&self, index: u32) -> Result<usize, Error> {
        if index >= self.offsets.counts().funcs {
            return Err(Error::Instantiation(format!("reference to unknown function {index}")));
        }
        Ok(self.vmctx as usize + self.offsets.func_ref(index) as usize)
    }
}
