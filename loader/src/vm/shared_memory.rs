//! Shared linear memories (threads proposal): owned by no store, reference
//! counted, used by instances of several stores on several threads at once.
//!
//! A shared memory takes its own 8 GiB reservation (never a slot of the
//! pooling allocator, whose slots belong to one instance and are reset when
//! it goes) and never moves, like every memory. Its `VMMemoryDefinition`
//! lives in the memory; every VMContext using it points there (SPEC 3.3).
//! Growing is serialised by a lock: the grower makes the new pages
//! accessible, then publishes the new length with an atomic store, so code
//! on another thread that reads the new length (`memory.size`, an atomic
//! load) finds the pages accessible, and code that has not read it yet
//! faults on nothing it could not reach before.
#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kiln_format::{MemoryType, TrapCode};

use super::abi::VMDefinition;
use super::memory::{protect, LinearBytes, Reservation, MAX_WASM_PAGES, WASM_PAGE_SIZE};
use super::parking::{Interruption, ParkingTable, WaitOutcome};
use crate::error::Error;

/// The `VMMemoryDefinition` of a shared memory: the layout of
/// [`VMDefinition`], with a length that threads read and publish atomically.
#[repr(C)]
struct VMSharedDefinition {
    base: *mut u8,
    current_length: AtomicU64,
}

/// The expected value of a `memory.atomic.wait32` or `wait64`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Expected {
    U32(u32),
    U64(u64),
}

impl Expected {
    fn bytes(self) -> u64 {
        match self {
            Expected::U32(_) => 4,
            Expected::U64(_) => 8,
        }
    }
}

/// Why a wait did not return a [`WaitOutcome`].
#[derive(Debug)]
pub(crate) enum WaitError<E> {
    /// The address is out of bounds or misaligned.
    Trap(TrapCode),
    /// The interruption check gave up.
    Interrupted(E),
}

/// A shared memory. Shared through an `Arc` by every store, instance and
/// `SharedMemory` handle that uses it; the last one unmaps it.
pub(crate) struct SharedMemoryInner {
    /// Boxed so that its address, which VMContexts hold, never changes.
    definition: Box<VMSharedDefinition>,
    /// The type it was made with (its minimum is the initial size).
    ty: MemoryType,
    /// The reservation, locked while the memory grows; `None` only while
    /// it is dropped.
    reservation: Mutex<Option<Reservation>>,
    waiters: ParkingTable,
}

// SAFETY: the base pointer is the memory's own reservation, which lives as
// long as the memory; the length is atomic, growth is under a lock, and the
// waiter queues are locked. The bytes themselves are Wasm's shared memory,
// which every thread may access; the runtime copies them only with raw
// pointer copies (`LinearBytes`) and never hands out references to them.
unsafe impl Send for SharedMemoryInner {}
// SAFETY: as above.
unsafe impl Sync for SharedMemoryInner {}

impl SharedMemoryInner {
    /// Reserves and maps a shared memory of type `ty`, its initial pages
    /// zero. The type must be shared and have a maximum.
    pub(crate) fn new(ty: MemoryType) -> Result<SharedMemoryInner, Error> {
        let Some(maximum) = ty.maximum.filter(|_| ty.shared) else {
            return Err(Error::Instantiation(format!("a shared memory needs a shared type with a maximum, not {ty}")));
        };
        if ty.minimum > maximum || maximum > MAX_WASM_PAGES {
            return Err(Error::Instantiation(format!("memory limits out of range: {ty}")));
        }
        let initial = (ty.minimum * WASM_PAGE_SIZE) as usize;
        let reservation = Reservation::take()?
            .resize(initial)
            .ok_or_else(|| Error::Instantiation("cannot map the memory's initial pages".into()))?;
        let definition = Box::new(VMSharedDefinition {
            base: reservation.base as *mut u8,
            current_length: AtomicU64::new(initial as u64),
        });
        Ok(SharedMemoryInner {
            definition,
            ty,
            reservation: Mutex::new(Some(reservation)),
            waiters: ParkingTable::new(),
        })
    }

    /// Where compiled code finds the memory's definition.
    pub(crate) fn definition_ptr(&self) -> *mut VMDefinition {
        let definition: *const VMSharedDefinition = &*self.definition;
        definition.cast_mut().cast()
    }

    /// Current size in pages.
    pub(crate) fn pages(&self) -> u64 {
        self.byte_len() / WASM_PAGE_SIZE
    }

    /// The type as import matching sees it: the current size as minimum.
    pub(crate) fn current_type(&self) -> MemoryType {
        MemoryType { minimum: self.pages(), ..self.ty }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Reservation>> {
        // Growth publishes the length last, so a panic under the lock
        // leaves the memory consistent.
        self.reservation.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Grows by `delta` pages; the old size in pages, or `None` past the
    /// maximum. Concurrent growers are serialised: each sees the size the
    /// previous one left.
    pub(crate) fn grow(&self, delta: u64) -> Option<u64> {
        let mut reservation = self.lock();
        let reservation = reservation.as_mut()?;
        let old_len = self.definition.current_length.load(Ordering::SeqCst);
        let old = old_len / WASM_PAGE_SIZE;
        let new = old.checked_add(delta).filter(|&new| new <= self.ty.maximum.unwrap_or(0))?;
        let new_len = new * WASM_PAGE_SIZE;
        // SAFETY: the range lies inside the reservation, past the accessible
        // prefix: nothing uses it yet.
        let granted = unsafe {
            protect(
                reservation.base + old_len as usize,
                (new_len - old_len) as usize,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        if !granted {
            return None;
        }
        reservation.accessible = new_len as usize;
        self.definition.current_length.store(new_len, Ordering::SeqCst);
        Some(old)
    }

    /// `memory.atomic.notify`: wakes at most `count` waiters at `address`.
    pub(crate) fn notify(&self, address: u64, count: u32) -> Result<u32, TrapCode> {
        self.check_waiter_address(address, 4)?;
        Ok(self.waiters.notify(address, count))
    }

    /// `memory.atomic.wait32`/`wait64` at `address`: sleeps while the value
    /// there is `expected`, until a notify, `timeout` (never if `None`), or
    /// an interruption check that fails.
    pub(crate) fn wait<E>(
        &self,
        address: u64,
        expected: Expected,
        timeout: Option<Duration>,
        interruption: Option<Interruption<'_, E>>,
    ) -> Result<WaitOutcome, WaitError<E>> {
        self.check_waiter_address(address, expected.bytes()).map_err(WaitError::Trap)?;
        // A timeout too far to represent is no timeout.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let cell = self.definition.base.wrapping_add(address as usize);
        let still_expected = || match expected {
            // SAFETY: the address is aligned and in bounds (checked above),
            // and the length never shrinks; Wasm accesses the word only
            // atomically or with plain accesses, which the atomic view
            // tolerates on x86-64.
            Expected::U32(value) => unsafe { AtomicU32::from_ptr(cell.cast()) }.load(Ordering::SeqCst) == value,
            // SAFETY: as above.
            Expected::U64(value) => unsafe { AtomicU64::from_ptr(cell.cast()) }.load(Ordering::SeqCst) == value,
        };
        self.waiters.wait(address, still_expected, deadline, interruption).map_err(WaitError::Interrupted)
    }

    /// The accessible bytes, as cells that any thread may change.
    pub(crate) fn cells(&self) -> &[UnsafeCell<u8>] {
        // SAFETY: `[base, base + byte_len)` is mapped read-write for as long
        // as the memory (borrowed by the slice) lives, since the length never
        // shrinks; `UnsafeCell` claims neither exclusive nor immutable access.
        unsafe { std::slice::from_raw_parts(self.definition.base.cast::<UnsafeCell<u8>>(), self.byte_len() as usize) }
    }

    /// Checks that a waiter's `bytes`-byte word at `address` is aligned and
    /// in bounds (compiled code checked already; the host API has not).
    fn check_waiter_address(&self, address: u64, bytes: u64) -> Result<(), TrapCode> {
        self.check_range(address, bytes)?;
        if !address.is_multiple_of(bytes) {
            return Err(TrapCode::UNALIGNED_ATOMIC);
        }
        Ok(())
    }
}

impl LinearBytes for SharedMemoryInner {
    fn base(&self) -> *mut u8 {
        self.definition.base
    }

    fn byte_len(&self) -> u64 {
        self.definition.current_length.load(Ordering::SeqCst)
    }
}

impl Drop for SharedMemoryInner {
    fn drop(&mut self) {
        // The last user is gone: no code can reach the memory any more.
        let reservation = self.reservation.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(reservation) = reservation {
            reservation.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn shared(minimum: u64, maximum: u64) -> MemoryType {
        MemoryType { minimum, maximum: Some(maximum), shared: true, memory64: false }
    }

    #[test]
    fn needs_a_shared_type_with_a_maximum() {
        assert!(
            SharedMemoryInner::new(MemoryType { minimum: 1, maximum: None, shared: true, memory64: false }).is_err()
        );
        assert!(SharedMemoryInner::new(MemoryType { minimum: 1, maximum: Some(2), shared: false, memory64: false })
            .is_err());
        assert!(SharedMemoryInner::new(shared(3, 2)).is_err());
    }

    #[test]
    fn concurrent_growth_hands_out_every_page_once() {
        let memory = Arc::new(SharedMemoryInner::new(shared(0, 64)).unwrap());
        let growers: Vec<_> = (0..4)
            .map(|_| {
                let memory = memory.clone();
                std::thread::spawn(move || {
                    let mut olds = Vec::new();
                    while let Some(old) = memory.grow(1) {
                        // The page this grow added is accessible as soon as
                        // the length says so.
                        memory.write(old * WASM_PAGE_SIZE, &[1]).unwrap();
                        olds.push(old);
                    }
                    olds
                })
            })
            .collect();
        let mut olds: Vec<u64> = growers.into_iter().flat_map(|g| g.join().unwrap()).collect();
        olds.sort_unstable();
        assert_eq!(olds, (0..64).collect::<Vec<_>>());
        assert_eq!(memory.pages(), 64);
        assert_eq!(memory.grow(0), Some(64));
    }

    #[test]
    fn waiter_addresses_are_checked() {
        let memory = SharedMemoryInner::new(shared(1, 1)).unwrap();
        assert_eq!(memory.notify(2, 1), Err(TrapCode::UNALIGNED_ATOMIC));
        assert_eq!(memory.notify(WASM_PAGE_SIZE, 1), Err(TrapCode::MEMORY_OUT_OF_BOUNDS));
        let wait = memory.wait::<()>(WASM_PAGE_SIZE - 4, Expected::U64(0), Some(Duration::ZERO), None);
        assert!(matches!(wait, Err(WaitError::Trap(TrapCode::MEMORY_OUT_OF_BOUNDS))), "{wait:?}");
        let wait = memory.wait::<()>(0, Expected::U32(1), None, None);
        assert!(matches!(wait, Ok(WaitOutcome::NotEqual)), "{wait:?}");
        let wait = memory.wait::<()>(0, Expected::U32(0), Some(Duration::from_millis(1)), None);
        assert!(matches!(wait, Ok(WaitOutcome::TimedOut)), "{wait:?}");
    }
}
