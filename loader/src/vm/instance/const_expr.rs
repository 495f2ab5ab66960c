//! Evaluation of constant expressions (global initialisers, segment offsets
//! and element items).

use kiln_format::{ConstExpr, VMOffsets};

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
            ConstExpr::GlobalGet(index) => {
                let global =
                    self.global_indices.get(index as usize).and_then(|&i| self.globals.get(i as usize)).ok_or_else(
                        || Error::Instantiation(format!("constant expression reads unknown global {index}")),
                    )?;
                return Ok(global.read());
            }
        }))
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
