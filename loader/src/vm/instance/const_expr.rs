//! Evaluation of constant expressions (global initialisers, table
//! initialisers, segment offsets and element items).
//!
//! An expression that allocates (`struct.new*`, `array.new*`) needs the
//! store and yields an owned count: [`StoreOpaque::eval_const`]. Every
//! other one is evaluated from a [`ConstEnv`] and yields a raw value whose
//! reference, if any, someone else keeps alive (a function, a global).
#![allow(unsafe_code)]

use kiln_format::{gc, ConstExpr, ConstOp, VMOffsets};

use crate::error::Error;
use crate::vm::gc::object;
use crate::vm::gc::raw::{new_array_filled, new_array_from, new_struct};
use crate::vm::global::GlobalInner;
use crate::vm::store::{release_counts, DestructorPanicked, StoreOpaque};
use crate::vm::ValueSlot;

/// What a constant expression can see: the globals defined so far and the
/// instance's func refs.
pub(crate) struct ConstEnv<'a> {
    pub globals: &'a [GlobalInner],
    pub global_indices: &'a [u32],
    pub vmctx: *mut u8,
    pub offsets: &'a VMOffsets,
}

fn malformed() -> Error {
    Error::Instantiation("malformed constant expression".into())
}

/// Whether the expression allocates GC objects.
pub(crate) fn allocates(expr: &ConstExpr) -> bool {
    let ConstExpr::Ops(ops) = expr else { return false };
    ops.iter().any(|op| {
        matches!(
            op,
            ConstOp::StructNew(_)
                | ConstOp::StructNewDefault(_)
                | ConstOp::ArrayNew(_)
                | ConstOp::ArrayNewDefault(_)
                | ConstOp::ArrayNewFixed { .. }
        )
    })
}

impl ConstEnv<'_> {
    /// The value as a slot. References are raw and no count is taken. An
    /// expression that allocates is an error here: it needs
    /// [`StoreOpaque::eval_const`].
    pub(crate) fn eval(&self, expr: &ConstExpr) -> Result<ValueSlot, Error> {
        Ok(ValueSlot::from_u128(match *expr {
            ConstExpr::I32(v) => v as u32 as u128,
            ConstExpr::I64(v) => v as u64 as u128,
            ConstExpr::F32(v) => v as u128,
            ConstExpr::F64(v) => v as u128,
            ConstExpr::V128(v) => v,
            ConstExpr::RefNull(_) => 0,
            ConstExpr::RefFunc(index) => self.func_ref(index)? as u128,
            ConstExpr::GlobalGet(index) => return self.global(index).map(GlobalInner::read),
            ConstExpr::Ops(ref ops) => {
                let mut stack = Vec::with_capacity(ops.len());
                for &op in ops {
                    let value = self.apply(op, &mut stack)?.ok_or_else(malformed)?;
                    stack.push(value);
                }
                match stack.as_slice() {
                    [value] => *value,
                    _ => return Err(malformed()),
                }
            }
        }))
    }

    /// Global `index`.
    fn global(&self, index: u32) -> Result<&GlobalInner, Error> {
        self.global_indices
            .get(index as usize)
            .and_then(|&i| self.globals.get(i as usize))
            .ok_or_else(|| Error::Instantiation(format!("constant expression reads unknown global {index}")))
    }

    /// Runs one operator that does not allocate on `stack` (values as
    /// `u128`, an `i32` in the low 32 bits), returning what it pushes;
    /// `None` for an allocating operator. A damaged artifact's expression
    /// that underflows is an error, not a panic.
    fn apply(&self, op: ConstOp, stack: &mut Vec<u128>) -> Result<Option<u128>, Error> {
        let mut pop = || stack.pop().ok_or_else(malformed);
        Ok(Some(match op {
            ConstOp::I32Const(v) => u128::from(v as u32),
            ConstOp::I64Const(v) => u128::from(v as u64),
            ConstOp::F32Const(v) => u128::from(v),
            ConstOp::F64Const(v) => u128::from(v),
            ConstOp::V128Const(v) => v,
            ConstOp::RefNull(_) => 0,
            ConstOp::RefFunc(index) => self.func_ref(index)? as u128,
            ConstOp::GlobalGet(index) => self.global(index)?.read().to_u128(),
            ConstOp::RefI31 => u128::from(gc::i31_ref(pop()? as u32)),
            // The conversions change no bits (SPEC 3.14).
            ConstOp::AnyConvertExtern | ConstOp::ExternConvertAny => pop()?,
            ConstOp::StructNew(_)
            | ConstOp::StructNewDefault(_)
            | ConstOp::ArrayNew(_)
            | ConstOp::ArrayNewDefault(_)
            | ConstOp::ArrayNewFixed { .. } => return Ok(None),
            binary => {
                let (b, a) = (pop()? as u64, pop()? as u64);
                u128::from(binary.apply(a, b).ok_or_else(malformed)?)
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

/// The value of a constant expression, and whether the evaluator owns a
/// count of the reference in it (a GC object it allocated, or one it
/// read from a global and counted).
#[must_use = "an owned count must be released"]
pub(crate) struct ConstValue {
    pub slot: ValueSlot,
    pub owned: bool,
}

impl ConstValue {
    /// Gives up the owned count, if any.
    pub(crate) fn release(self) -> Result<(), DestructorPanicked> {
        if self.owned {
            release_counts([self.slot.pointer() as *mut _])
        } else {
            Ok(())
        }
    }
}

/// One value on the allocating evaluator's stack.
#[derive(Clone, Copy)]
struct Entry {
    bits: u128,
    /// The stack owns a count of the reference.
    owned: bool,
}

impl StoreOpaque {
    /// Evaluates a constant expression of instance `instance`, allocating
    /// GC objects if it says so. An allocated object (or a counted
    /// reference an allocating expression read from a global) comes with a
    /// count that the caller must release once it has stored the value.
    pub(crate) fn eval_const(&mut self, instance: usize, expr: &ConstExpr) -> Result<ConstValue, Error> {
        if !allocates(expr) {
            return Ok(ConstValue { slot: self.const_env(instance).eval(expr)?, owned: false });
        }
        let ConstExpr::Ops(ops) = expr else { unreachable!("only operator lists allocate") };
        let mut stack: Vec<Entry> = Vec::with_capacity(ops.len());
        let outcome = self.run_allocating(instance, ops, &mut stack);
        let result = match (outcome, stack.as_slice()) {
            (Ok(()), [value]) => {
                let value = ConstValue { slot: ValueSlot::from_u128(value.bits), owned: value.owned };
                stack.clear();
                Ok(value)
            }
            (Ok(()), _) => Err(malformed()),
            (Err(e), _) => Err(e),
        };
        // Whatever is left on a failed evaluation's stack gives up its count.
        let leftovers = stack.iter().filter(|e| e.owned).map(|e| e.bits as u64 as usize as *mut _);
        release_counts(leftovers.collect::<Vec<_>>())?;
        result
    }

    fn run_allocating(&mut self, instance: usize, ops: &[ConstOp], stack: &mut Vec<Entry>) -> Result<(), Error> {
        for &op in ops {
            let layout_of = |store: &StoreOpaque, index: u32| {
                store.gc_instance_layout(instance, index).ok_or_else(|| {
                    Error::Instantiation(format!("constant expression allocates type {index}, no GC type"))
                })
            };
            let pop = |stack: &mut Vec<Entry>, n: usize| -> Result<Vec<Entry>, Error> {
                let at = stack.len().checked_sub(n).ok_or_else(malformed)?;
                Ok(stack.split_off(at))
            };
            let object = match op {
                ConstOp::StructNew(index) => {
                    let layout = layout_of(self, index)?;
                    let n = layout.struct_fields().ok_or_else(malformed)?.len();
                    let fields = pop(stack, n)?;
                    let slots: Vec<ValueSlot> = fields.iter().map(|e| ValueSlot::from_u128(e.bits)).collect();
                    // SAFETY: validated field values; references are live
                    // (owned by `fields` or by their globals and functions).
                    let object = unsafe { new_struct(self, &layout, Some(&slots)) };
                    release_entries(&fields)?;
                    object
                }
                ConstOp::StructNewDefault(index) => {
                    let layout = layout_of(self, index)?;
                    // SAFETY: no values.
                    unsafe { new_struct(self, &layout, None) }
                }
                ConstOp::ArrayNew(index) => {
                    let layout = layout_of(self, index)?;
                    let popped = pop(stack, 2)?;
                    // `array.new` takes the value, then the length on top.
                    let (value, len) = (ValueSlot::from_u128(popped[0].bits), popped[1].bits as u32);
                    // SAFETY: as for `StructNew`.
                    let object = unsafe { new_array_filled(self, &layout, len, Some(value)) };
                    release_entries(&popped)?;
                    object
                }
                ConstOp::ArrayNewDefault(index) => {
                    let layout = layout_of(self, index)?;
                    let len = pop(stack, 1)?[0].bits as u32;
                    // SAFETY: no values.
                    unsafe { new_array_filled(self, &layout, len, None) }
                }
                ConstOp::ArrayNewFixed { type_index, len } => {
                    let layout = layout_of(self, type_index)?;
                    let values = pop(stack, len as usize)?;
                    let slots: Vec<ValueSlot> = values.iter().map(|e| ValueSlot::from_u128(e.bits)).collect();
                    // SAFETY: as for `StructNew`.
                    let object = unsafe { new_array_from(self, &layout, &slots) };
                    release_entries(&values)?;
                    object
                }
                ConstOp::GlobalGet(index) => {
                    let env = self.const_env(instance);
                    let global = env.global(index)?;
                    let bits = global.read().to_u128();
                    let owned = global.ty().content.is_counted_ref() && object::is_block(bits as u64 as usize);
                    if owned {
                        // SAFETY: the global holds the reference alive; the
                        // stack takes a count of its own, so that a
                        // collection an allocation starts keeps it.
                        unsafe { object::increment(bits as u64 as usize) };
                    }
                    stack.push(Entry { bits, owned });
                    continue;
                }
                ConstOp::AnyConvertExtern | ConstOp::ExternConvertAny => continue,
                other => {
                    let mut bits: Vec<u128> = stack.iter().map(|e| e.bits).collect();
                    let before = bits.len();
                    let value = self.const_env(instance).apply(other, &mut bits)?.ok_or_else(malformed)?;
                    // Non-allocating operators pop numbers, which own nothing.
                    stack.truncate(bits.len().min(before));
                    stack.push(Entry { bits: value, owned: false });
                    continue;
                }
            };
            let object = object.map_err(Error::from)?;
            stack.push(Entry { bits: object as usize as u128, owned: true });
        }
        Ok(())
    }
}

/// Gives up the counts that popped entries owned.
fn release_entries(entries: &[Entry]) -> Result<(), DestructorPanicked> {
    release_counts(entries.iter().filter(|e| e.owned).map(|e| e.bits as u64 as usize as *mut _).collect::<Vec<_>>())
}
