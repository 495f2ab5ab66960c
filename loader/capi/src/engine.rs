//! `kiln_config_t` and `kiln_engine_t`.

use kiln_loader::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::error::kiln_error_t;
use crate::ffi::{self, catch, catch_or};

/// The settings of new engines.
pub struct kiln_config_t {
    config: Config,
}

/// A shared engine.
pub struct kiln_engine_t {
    pub(crate) engine: Engine,
}

/// A configuration with the defaults.
#[no_mangle]
pub extern "C" fn kiln_config_new() -> *mut kiln_config_t {
    catch_or(std::ptr::null_mut(), || Box::into_raw(Box::new(kiln_config_t { config: Config::new() })))
}

/// Frees a configuration.
///
/// # Safety
/// `config` is NULL or a configuration of this library not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn kiln_config_delete(config: *mut kiln_config_t) {
    // SAFETY: NULL or a box of this library given up (# Safety).
    unsafe { ffi::delete(config) }
}

/// Chooses the pooling allocator with these limits.
///
/// # Safety
/// `config` is NULL or a live configuration used by no other thread meanwhile.
#[no_mangle]
pub unsafe extern "C" fn kiln_config_pooling_allocation(
    config: *mut kiln_config_t,
    total_instances: u32,
    total_memories: u32,
    max_memory_size: usize,
) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or live and unshared (# Safety).
        let config = unsafe { ffi::required_mut(config, "config") }?;
        let mut pool = PoolingAllocationConfig::new();
        pool.total_core_instances(total_instances).total_memories(total_memories).max_memory_size(max_memory_size);
        config.config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        Ok(())
    })
}

/// A new engine.
///
/// # Safety
/// `config` is NULL or a live configuration; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kiln_engine_new(
    config: *const kiln_config_t,
    out: *mut *mut kiln_engine_t,
) -> *mut kiln_error_t {
    catch(|| {
        let out = ffi::out_pointer(out)?;
        // SAFETY: NULL or live (# Safety).
        let engine = match unsafe { config.as_ref() } {
            Some(config) => Engine::new(&config.config)?,
            None => Engine::default(),
        };
        // SAFETY: `out` was checked non-NULL and is writable (# Safety).
        unsafe { ffi::hand_out(out, kiln_engine_t { engine }) };
        Ok(())
    })
}

/// Advances the engine's epoch.
///
/// # Safety
/// `engine` is NULL or a live engine.
#[no_mangle]
pub unsafe extern "C" fn kiln_engine_increment_epoch(engine: *const kiln_engine_t) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or live (# Safety); the engine is `Sync`.
        let engine = unsafe { ffi::required(engine, "engine") }?;
        engine.engine.increment_epoch();
        Ok(())
    })
}

/// Releases the caller's engine.
///
/// # Safety
/// `engine` is NULL or an engine of this library not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn kiln_engine_delete(engine: *mut kiln_engine_t) {
    // SAFETY: NULL or a box of this library given up (# Safety).
    unsafe { ffi::delete(engine) }
}
