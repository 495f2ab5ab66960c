//! The waiter queues of a shared memory: what `memory.atomic.wait32`,
//! `wait64` and `memory.atomic.notify` park and wake threads on.
//!
//! Waiters are kept per address in first-come order, in buckets chosen by
//! the address, each a mutex and a condition variable. A waiter compares
//! the memory's value with what it expects under its bucket's lock and
//! enqueues itself before releasing it; a notifier takes the same lock to
//! wake waiters of the address, so a notify that follows a store the
//! waiter has not yet seen cannot be lost between the comparison and the
//! sleep. A woken waiter is marked in the queue, which it leaves itself,
//! so a notify counts exactly the waiters it woke and a spurious wake-up
//! of the condition variable wakes no one.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Buckets of a table: waiters of different addresses that share a bucket
/// only share its lock and wake each other spuriously.
const BUCKETS: usize = 64;

/// How a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitOutcome {
    /// A notify woke it (`0` in Wasm).
    Woken,
    /// The memory did not hold the expected value (`1`).
    NotEqual,
    /// The timeout passed first (`2`).
    TimedOut,
}

impl WaitOutcome {
    /// The result of `memory.atomic.wait32`/`wait64`.
    pub(crate) fn code(self) -> u32 {
        match self {
            WaitOutcome::Woken => 0,
            WaitOutcome::NotEqual => 1,
            WaitOutcome::TimedOut => 2,
        }
    }
}

/// A waiter in a bucket's queue.
struct Waiter {
    address: u64,
    ticket: u64,
    woken: bool,
}

#[derive(Default)]
struct Queue {
    waiters: Vec<Waiter>,
    next_ticket: u64,
}

#[derive(Default)]
struct Bucket {
    queue: Mutex<Queue>,
    wakeup: Condvar,
}

impl Bucket {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue is consistent between statements: a panic elsewhere
        // while it was locked leaves nothing half-done.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How often a waiter stops to ask whether it must give up, and what it
/// asks: the epoch deadline check of the waiting store.
pub(crate) struct Interruption<'a, E> {
    pub every: Duration,
    pub check: &'a mut dyn FnMut() -> Result<(), E>,
}

/// The waiter queues of one shared memory, keyed by byte address.
pub(crate) struct ParkingTable {
    buckets: Box<[Bucket]>,
}

impl ParkingTable {
    pub(crate) fn new() -> ParkingTable {
        ParkingTable { buckets: (0..BUCKETS).map(|_| Bucket::default()).collect() }
    }

    fn bucket(&self, address: u64) -> &Bucket {
        // Waits are 4-byte aligned at least, so the low bits carry nothing.
        &self.buckets[(address >> 2) as usize % BUCKETS]
    }

    /// Waits at `address` while `still_expected` (called once, under the
    /// bucket's lock) holds, until notified or `deadline` (never, if
    /// `None`). With `interruption`, the waiter runs its check every so
    /// often, outside the lock and still queued, and gives up with the
    /// check's error.
    pub(crate) fn wait<E>(
        &self,
        address: u64,
        still_expected: impl FnOnce() -> bool,
        deadline: Option<Instant>,
        mut interruption: Option<Interruption<'_, E>>,
    ) -> Result<WaitOutcome, E> {
        let bucket = self.bucket(address);
        let mut queue = bucket.lock();
        if !still_expected() {
            return Ok(WaitOutcome::NotEqual);
        }
        let ticket = queue.next_ticket;
        queue.next_ticket = queue.next_ticket.wrapping_add(1);
        queue.waiters.push(Waiter { address, ticket, woken: false });
        let leave = |queue: &mut Queue| -> bool {
            match queue.waiters.iter().position(|w| w.ticket == ticket) {
                Some(at) => queue.waiters.remove(at).woken,
                // Only the waiter itself removes its entry.
                None => false,
            }
        };
        loop {
            if queue.waiters.iter().any(|w| w.ticket == ticket && w.woken) {
                leave(&mut queue);
                return Ok(WaitOutcome::Woken);
            }
            let now = Instant::now();
            let remaining = match deadline {
                Some(deadline) if deadline <= now => {
                    leave(&mut queue);
                    return Ok(WaitOutcome::TimedOut);
                }
                Some(deadline) => Some(deadline - now),
                None => None,
            };
            let slice = match (&interruption, remaining) {
                (Some(i), Some(r)) => Some(i.every.min(r)),
                (Some(i), None) => Some(i.every),
                (None, r) => r,
            };
            queue = match slice {
                Some(slice) => bucket.wakeup.wait_timeout(queue, slice).unwrap_or_else(|e| e.into_inner()).0,
                None => bucket.wakeup.wait(queue).unwrap_or_else(|e| e.into_inner()),
            };
            if let Some(interruption) = interruption.as_mut() {
                if queue.waiters.iter().any(|w| w.ticket == ticket && w.woken) {
                    continue;
                }
                // The check may run host code (a deadline callback), which
                // must not hold the lock; a notify meanwhile still finds
                // this waiter queued.
                drop(queue);
                let checked = (interruption.check)();
                queue = bucket.lock();
                if let Err(error) = checked {
                    leave(&mut queue);
                    return Err(error);
                }
            }
        }
    }

    /// Wakes at most `count` waiters at `address`, first come first woken;
    /// the number woken.
    pub(crate) fn notify(&self, address: u64, count: u32) -> u32 {
        if count == 0 {
            return 0;
        }
        let bucket = self.bucket(address);
        let mut queue = bucket.lock();
        let mut woken = 0;
        for waiter in queue.waiters.iter_mut().filter(|w| w.address == address && !w.woken) {
            if woken == count {
                break;
            }
            waiter.woken = true;
            woken += 1;
        }
        drop(queue);
        if woken > 0 {
            bucket.wakeup.notify_all();
        }
        woken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    fn no_interruption() -> Option<Interruption<'static, ()>> {
        None
    }

    #[test]
    fn a_changed_value_does_not_wait() {
        let table = ParkingTable::new();
        assert_eq!(table.wait(0, || false, None, no_interruption()), Ok(WaitOutcome::NotEqual));
    }

    #[test]
    fn a_timeout_ends_the_wait() {
        let table = ParkingTable::new();
        let start = Instant::now();
        let deadline = Some(start + Duration::from_millis(20));
        assert_eq!(table.wait(8, || true, deadline, no_interruption()), Ok(WaitOutcome::TimedOut));
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert_eq!(table.notify(8, 1), 0, "the timed-out waiter left the queue");
    }

    #[test]
    fn notify_wakes_at_most_count_waiters_of_its_address() {
        let table = Arc::new(ParkingTable::new());
        let queued = Arc::new(AtomicU32::new(0));
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let (table, queued) = (table.clone(), queued.clone());
                std::thread::spawn(move || {
                    table.wait(
                        16,
                        || {
                            queued.fetch_add(1, Ordering::SeqCst);
                            true
                        },
                        None,
                        no_interruption(),
                    )
                })
            })
            .collect();
        while queued.load(Ordering::SeqCst) < 3 {
            std::thread::yield_now();
        }
        // The value was compared under the bucket's lock, so every waiter
        // is queued once this lock is taken.
        assert_eq!(table.notify(16 + 64 * 4, 5), 0, "same bucket, other address");
        assert_eq!(table.notify(16, 2), 2);
        assert_eq!(table.notify(16, 5), 1);
        for waiter in waiters {
            assert_eq!(waiter.join().unwrap(), Ok(WaitOutcome::Woken));
        }
        assert_eq!(table.notify(16, 1), 0);
    }

    #[test]
    fn an_interruption_check_can_end_the_wait() {
        let table = ParkingTable::new();
        let mut checks = 0;
        let mut check = || {
            checks += 1;
            if checks == 3 {
                Err("interrupted")
            } else {
                Ok(())
            }
        };
        let interruption = Interruption { every: Duration::from_millis(1), check: &mut check };
        assert_eq!(table.wait(4, || true, None, Some(interruption)), Err("interrupted"));
        assert_eq!(table.notify(4, 1), 0, "the interrupted waiter left the queue");
    }
}
