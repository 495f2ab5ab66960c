//! `kiln_val_t`: the tagged values that cross the API, and their kinds.

use kiln_loader::{FuncType, Val, ValType};

use crate::error::kiln_error_t;
use crate::ffi::ApiResult;

/// A value's kind: `KILN_I32` .. `KILN_F64` of the header. A plain byte,
/// not a Rust enum, so that a kind C got wrong is an error, not undefined
/// behaviour.
pub type kiln_valkind_t = u8;

/// `KILN_I32`.
pub const KILN_I32: kiln_valkind_t = 0;
/// `KILN_I64`.
pub const KILN_I64: kiln_valkind_t = 1;
/// `KILN_F32`.
pub const KILN_F32: kiln_valkind_t = 2;
/// `KILN_F64`.
pub const KILN_F64: kiln_valkind_t = 3;

/// The payload of a [`kiln_val_t`]; `kind` says which member is set.
#[repr(C)]
#[derive(Clone, Copy)]
pub union kiln_val_union {
    /// `i32`.
    pub i32: i32,
    /// `i64`.
    pub i64: i64,
    /// `f32`.
    pub f32: f32,
    /// `f64`.
    pub f64: f64,
}

/// A value, as C lays out `struct kiln_val`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct kiln_val_t {
    /// Which member of `of` holds the value.
    pub kind: kiln_valkind_t,
    /// The value.
    pub of: kiln_val_union,
}

/// The value type of a kind.
pub(crate) fn kind_type(kind: kiln_valkind_t) -> ApiResult<ValType> {
    Ok(match kind {
        KILN_I32 => ValType::I32,
        KILN_I64 => ValType::I64,
        KILN_F32 => ValType::F32,
        KILN_F64 => ValType::F64,
        other => return Err(kiln_error_t::msg(format!("unknown value kind {other} (KILN_I32..KILN_F64 are 0..3)"))),
    })
}

/// The kind of a value type, if the API has one.
fn type_kind(ty: ValType) -> Option<kiln_valkind_t> {
    match ty {
        ValType::I32 => Some(KILN_I32),
        ValType::I64 => Some(KILN_I64),
        ValType::F32 => Some(KILN_F32),
        ValType::F64 => Some(KILN_F64),
        _ => None,
    }
}

/// An error unless every parameter and result of `ty` has a kind.
pub(crate) fn check_expressible(ty: &FuncType) -> ApiResult<()> {
    match ty.params.iter().chain(&ty.results).find(|&&t| type_kind(t).is_none()) {
        None => Ok(()),
        Some(t) => Err(kiln_error_t::msg(format!(
            "the function's type has a {t}, which the C API does not pass (only i32, i64, f32 and f64)"
        ))),
    }
}

impl kiln_val_t {
    /// The value C wrote, read by its kind (the only member read).
    pub(crate) fn to_val(self, what: &str) -> ApiResult<Val> {
        // SAFETY: the member read is the one `kind` names, which the header
        // tells C to set; every bit pattern is valid for these types.
        Ok(unsafe {
            match self.kind {
                KILN_I32 => Val::I32(self.of.i32),
                KILN_I64 => Val::I64(self.of.i64),
                KILN_F32 => Val::F32(self.of.f32.to_bits()),
                KILN_F64 => Val::F64(self.of.f64.to_bits()),
                other => return Err(kiln_error_t::msg(format!("{what} has unknown value kind {other}"))),
            }
        })
    }

    /// A value for C; `None` for a value type the API does not pass (which
    /// `check_expressible` refuses before any call).
    pub(crate) fn from_val(val: &Val) -> Option<kiln_val_t> {
        Some(match *val {
            Val::I32(i32) => kiln_val_t { kind: KILN_I32, of: kiln_val_union { i32 } },
            Val::I64(i64) => kiln_val_t { kind: KILN_I64, of: kiln_val_union { i64 } },
            Val::F32(bits) => kiln_val_t { kind: KILN_F32, of: kiln_val_union { f32: f32::from_bits(bits) } },
            Val::F64(bits) => kiln_val_t { kind: KILN_F64, of: kiln_val_union { f64: f64::from_bits(bits) } },
            _ => return None,
        })
    }
}

/// Values for C, or an error naming the first that has no kind.
pub(crate) fn vals_for_c(vals: &[Val], what: &str) -> ApiResult<Vec<kiln_val_t>> {
    vals.iter()
        .enumerate()
        .map(|(i, v)| {
            kiln_val_t::from_val(v)
                .ok_or_else(|| kiln_error_t::msg(format!("{what} {i} is a {}, which the C API does not pass", v.ty())))
        })
        .collect()
}
