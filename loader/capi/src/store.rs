//! `kiln_store_t`: a store with a user data pointer and a finalizer, its
//! limits, fuel and epoch deadline.

use std::cell::{Cell, UnsafeCell};
use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};

use kiln_loader::wasi::WasiCtx;
use kiln_loader::{Store, StoreLimits, UpdateDeadline};

use crate::engine::kiln_engine_t;
use crate::error::kiln_error_t;
use crate::ffi::{self, catch, catch_or, ApiResult};

/// A finalizer of user data.
pub type kiln_finalizer_t = Option<unsafe extern "C" fn(data: *mut c_void)>;

/// The host state of a store made through the C API.
pub(crate) struct StoreData {
    /// The user's pointer, for `kiln_caller_data`.
    pub(crate) user: *mut c_void,
    /// The store's serial, for the handles a caller makes and checks.
    pub(crate) serial: u64,
    /// What `kiln_store_limiter` set; consulted once a limiter is installed.
    limits: StoreLimits,
    /// What the WASI functions of `kiln_linker_define_wasi` work on.
    pub(crate) wasi: WasiCtx,
}

/// A store, and whether it is running Wasm.
pub struct kiln_store_t {
    /// Reached only through [`kiln_store_t::enter`].
    store: UnsafeCell<Store<StoreData>>,
    /// Set while an entry point uses the store: a host callback that passes
    /// its own store to the API gets an error instead of a second mutable
    /// borrow of it.
    busy: Cell<bool>,
    /// Tells this store's handles from another's.
    pub(crate) serial: u64,
    user: *mut c_void,
    finalizer: kiln_finalizer_t,
}

/// The source of store serials; 0 is never one.
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

/// The store, borrowed by one entry point; dropping it frees the store for
/// the next.
pub(crate) struct StoreGuard<'a> {
    store: &'a kiln_store_t,
}

impl kiln_store_t {
    /// The store for an entry point, or an error if another one (the call
    /// running the host callback that asks) has it.
    pub(crate) fn enter(&self) -> ApiResult<StoreGuard<'_>> {
        if self.busy.replace(true) {
            return Err(kiln_error_t::msg(
                "the store is running Wasm: a host callback reaches its store through its kiln_caller_t",
            ));
        }
        Ok(StoreGuard { store: self })
    }

    /// An error unless the handle with `serial` belongs to this store.
    pub(crate) fn check_serial(&self, serial: u64, what: &str) -> ApiResult<()> {
        check_serial(self.serial, serial, what)
    }
}

/// An error unless a handle with `serial` belongs to the store with
/// `store_serial`.
pub(crate) fn check_serial(store_serial: u64, serial: u64, what: &str) -> ApiResult<()> {
    if serial == store_serial {
        Ok(())
    } else {
        Err(kiln_error_t::msg(format!("the {what} belongs to another store")))
    }
}

impl std::ops::Deref for StoreGuard<'_> {
    type Target = Store<StoreData>;
    fn deref(&self) -> &Store<StoreData> {
        // SAFETY: `busy` was false and is now set by this guard alone, so
        // no other reference to the store exists until it is dropped.
        unsafe { &*self.store.store.get() }
    }
}

impl std::ops::DerefMut for StoreGuard<'_> {
    fn deref_mut(&mut self) -> &mut Store<StoreData> {
        // SAFETY: as in `deref`; the guard is borrowed uniquely here.
        unsafe { &mut *self.store.store.get() }
    }
}

impl Drop for StoreGuard<'_> {
    fn drop(&mut self) {
        self.store.busy.set(false);
    }
}

/// A new store.
///
/// # Safety
/// `engine` is NULL or a live engine; `out` is NULL or writable;
/// `finalizer` is NULL or a function that may be called with `data`.
#[no_mangle]
pub unsafe extern "C" fn kiln_store_new(
    engine: *const kiln_engine_t,
    data: *mut c_void,
    finalizer: kiln_finalizer_t,
    out: *mut *mut kiln_store_t,
) -> *mut kiln_error_t {
    catch(|| {
        let out = ffi::out_pointer(out)?;
        // SAFETY: NULL or live (# Safety).
        let engine = unsafe { ffi::required(engine, "engine") }?;
        let wasi = WasiCtx::builder().build()?;
        let serial = NEXT_SERIAL.fetch_add(1, Ordering::Relaxed);
        let store = Store::new(&engine.engine, StoreData { user: data, serial, limits: StoreLimits::default(), wasi });
        let store =
            kiln_store_t { store: UnsafeCell::new(store), busy: Cell::new(false), serial, user: data, finalizer };
        // SAFETY: `out` was checked non-NULL and is writable (# Safety).
        unsafe { ffi::hand_out(out, store) };
        Ok(())
    })
}

/// The store's user data.
///
/// # Safety
/// `store` is NULL or a live store.
#[no_mangle]
pub unsafe extern "C" fn kiln_store_data(store: *const kiln_store_t) -> *mut c_void {
    // SAFETY: NULL or live (# Safety); `user` is outside the store's cell,
    // so reading it borrows nothing a running call holds.
    unsafe { store.as_ref() }.map_or(std::ptr::null_mut(), |store| store.user)
}

/// Converts a limit where negative means "the default".
fn limit(value: i64) -> Option<usize> {
    usize::try_from(value).ok()
}

/// Installs limits on what the store may allocate.
///
/// # Safety
/// `store` is NULL or a live store used by no other thread meanwhile.
#[no_mangle]
pub unsafe extern "C" fn kiln_store_limiter(
    store: *mut kiln_store_t,
    memory_size: i64,
    table_elements: i64,
    instances: i64,
    tables: i64,
    memories: i64,
) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or live (# Safety).
        let mut store = unsafe { ffi::required(store, "store") }?.enter()?;
        let mut builder = StoreLimits::builder();
        if let Some(bytes) = limit(memory_size) {
            builder = builder.memory_size(bytes);
        }
        if let Some(elements) = limit(table_elements) {
            builder = builder.table_elements(elements);
        }
        if let Some(count) = limit(instances) {
            builder = builder.instances(count);
        }
        if let Some(count) = limit(tables) {
            builder = builder.tables(count);
        }
        if let Some(count) = limit(memories) {
            builder = builder.memories(count);
        }
        store.data_mut().limits = builder.build();
        store.limiter(|data| &mut data.limits);
        Ok(())
    })
}

/// Gives the store fuel.
///
/// # Safety
/// `store` is NULL or a live store used by no other thread meanwhile.
#[no_mangle]
pub unsafe extern "C" fn kiln_store_set_fuel(store: *mut kiln_store_t, fuel: u64) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or live (# Safety).
        let mut store = unsafe { ffi::required(store, "store") }?.enter()?;
        Ok(store.set_fuel(fuel)?)
    })
}

/// The fuel left.
///
/// # Safety
/// `store` is NULL or a live store used by no other thread meanwhile;
/// `fuel` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kiln_store_get_fuel(store: *const kiln_store_t, fuel: *mut u64) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or live (# Safety).
        let store = unsafe { ffi::required(store, "store") }?.enter()?;
        // SAFETY: NULL or writable (# Safety).
        let fuel = unsafe { ffi::required_mut(fuel, "fuel") }?;
        *fuel = store.get_fuel()?;
        Ok(())
    })
}

/// Sets the store's epoch deadline.
///
/// # Safety
/// `store` is NULL or a live store used by no other thread meanwhile.
#[no_mangle]
pub unsafe extern "C" fn kiln_store_set_epoch_deadline(store: *mut kiln_store_t, ticks: u64) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or live (# Safety).
        let mut store = unsafe { ffi::required(store, "store") }?.enter()?;
        Ok(store.set_epoch_deadline(ticks)?)
    })
}

/// A deadline callback as C writes it.
pub type kiln_epoch_deadline_callback_t =
    Option<unsafe extern "C" fn(env: *mut c_void, data: *mut c_void, continue_ticks: *mut u64) -> *mut kiln_error_t>;

/// A C deadline callback with its environment, finalized when the store
/// drops it (replaced, or with the store).
struct DeadlineCallback {
    callback: unsafe extern "C" fn(*mut c_void, *mut c_void, *mut u64) -> *mut kiln_error_t,
    env: *mut c_void,
    finalizer: kiln_finalizer_t,
}

// SAFETY: the store that holds the callback runs it, on whichever thread
// runs the store, as the header tells C; the library only passes `env` on.
unsafe impl Send for DeadlineCallback {}

impl DeadlineCallback {
    fn call(&self, data: *mut c_void) -> anyhow::Result<UpdateDeadline> {
        let mut ticks = 0u64;
        // SAFETY: C gave this callback for this env; `ticks` is writable.
        let error = unsafe { (self.callback)(self.env, data, &mut ticks) };
        if error.is_null() {
            Ok(UpdateDeadline::Continue(ticks))
        } else {
            // SAFETY: the callback returns NULL or an error of this
            // library, which it hands over (the header's contract).
            Err(unsafe { Box::from_raw(error) }.into_host_error())
        }
    }
}

impl Drop for DeadlineCallback {
    fn drop(&mut self) {
        if let Some(finalizer) = self.finalizer {
            // SAFETY: C gave this finalizer for this env, to be called once
            // the callback is dropped, which is now.
            unsafe { finalizer(self.env) };
        }
    }
}

/// Sets (or, with NULL, removes) the store's epoch deadline callback.
///
/// # Safety
/// `store` is NULL or a live store used by no other thread meanwhile;
/// `callback` is NULL or a function of the header's contract, callable with
/// `env` on whichever thread runs the store; `env_finalizer` is NULL or
/// callable with `env` once.
#[no_mangle]
pub unsafe extern "C" fn kiln_store_epoch_deadline_callback(
    store: *mut kiln_store_t,
    callback: kiln_epoch_deadline_callback_t,
    env: *mut c_void,
    env_finalizer: kiln_finalizer_t,
) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or live (# Safety).
        let mut store = unsafe { ffi::required(store, "store") }?.enter()?;
        match callback {
            None => store.epoch_deadline_trap(),
            Some(callback) => {
                let deadline = DeadlineCallback { callback, env, finalizer: env_finalizer };
                store.epoch_deadline_callback(move |context| deadline.call(context.data().user));
            }
        }
        Ok(())
    })
}

/// Sets the native stack budget of Wasm.
///
/// # Safety
/// `store` is NULL or a live store used by no other thread meanwhile.
#[no_mangle]
pub unsafe extern "C" fn kiln_store_set_max_wasm_stack(store: *mut kiln_store_t, bytes: usize) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or live (# Safety).
        let mut store = unsafe { ffi::required(store, "store") }?.enter()?;
        store.set_max_wasm_stack(bytes);
        Ok(())
    })
}

/// Frees the store, then calls its finalizer.
///
/// # Safety
/// `store` is NULL or a store of this library not used afterwards (unless
/// it is running Wasm, when this does nothing).
#[no_mangle]
pub unsafe extern "C" fn kiln_store_delete(store: *mut kiln_store_t) {
    catch_or((), || {
        // SAFETY: NULL or live (# Safety).
        let Some(live) = (unsafe { store.as_ref() }) else { return };
        if live.busy.get() {
            // A host callback deleting the store that runs it: freeing it
            // would pull the store from under the running call.
            return;
        }
        // SAFETY: a box of this library, given up and not in use (# Safety
        // and the check above).
        let store = unsafe { Box::from_raw(store) };
        let (user, finalizer) = (store.user, store.finalizer);
        drop(store);
        if let Some(finalizer) = finalizer {
            // SAFETY: the caller gave this finalizer for this data
            // (`kiln_store_new`), to be called once, now.
            unsafe { finalizer(user) };
        }
    })
}
