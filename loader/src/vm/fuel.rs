//! Fuel: the per-store half of fuel metering.
//!
//! Code compiled with `--fuel` adds the cost of what it runs to the fuel
//! counter in the store context block (`store_context::FUEL_CONSUMED`):
//! the fuel consumed minus the fuel injected, negative while fuel remains.
//! At every function entry and loop header it calls the `out_of_fuel`
//! builtin once the counter reaches zero. The counter is an `i64`, so fuel
//! beyond `i64::MAX` waits in the store's reserve, from which the builtin
//! refills the counter; with the reserve empty it traps with
//! `out_of_fuel`, "all fuel consumed".
//!
//! A store starts with no fuel, so instrumented code traps at its first
//! check until [`Store::set_fuel`](crate::Store::set_fuel) gives it some.
#![allow(unsafe_code)]

use super::store::StoreOpaque;

impl StoreOpaque {
    /// The fuel left: the reserve plus what the counter has not used.
    pub(crate) fn fuel(&self) -> u64 {
        // SAFETY: the store owns its context block; Wasm code of this
        // store only runs on the thread that holds the store.
        let counter = unsafe { (*self.context_ptr()).fuel_consumed };
        self.fuel_reserve.saturating_add_signed(counter.saturating_neg())
    }

    /// Leaves `fuel` units: as much as the counter holds, the rest in the reserve.
    pub(crate) fn set_fuel_left(&mut self, fuel: u64) {
        let injected = fuel.min(i64::MAX as u64);
        self.fuel_reserve = fuel - injected;
        // SAFETY: as in `fuel`.
        unsafe { (*self.context_ptr()).fuel_consumed = -(injected as i64) };
    }

    /// The `out_of_fuel` builtin's work: refills the counter from the
    /// reserve, or reports that all fuel is consumed.
    pub(crate) fn refuel(&mut self) -> bool {
        let fuel = self.fuel();
        if fuel == 0 {
            return false;
        }
        self.set_fuel_left(fuel);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::store::VMStoreContext;
    use crate::engine::Engine;
    use crate::vm::store::StoreOpaque;
    use kiln_format::store_context;
    use std::mem::offset_of;

    #[test]
    fn fuel_counter_is_where_the_format_says() {
        assert_eq!(offset_of!(VMStoreContext, fuel_consumed) as u32, store_context::FUEL_CONSUMED);
    }

    #[test]
    fn fuel_beyond_the_counter_waits_in_the_reserve() {
        let mut store = StoreOpaque::new(&Engine::default());
        assert_eq!(store.fuel(), 0);
        assert!(!store.refuel());
        store.set_fuel_left(u64::MAX);
        assert_eq!(store.fuel(), u64::MAX);
        assert_eq!(store.fuel_reserve, u64::MAX - i64::MAX as u64);
        store.set_fuel_left(10);
        assert_eq!((store.fuel(), store.fuel_reserve), (10, 0));
    }
}
