//! The run's bound on generated inputs in flight at once (`--max-in-flight`):
//! every property's inputs, the stateful model's sequences included, and
//! their shrinking steps draw a permit from one shared count, so a slow
//! target that makes the properties widen their concurrency still sees at
//! most that many inputs at a time from the whole run.

use std::sync::{Condvar, Mutex};

use crate::sync::lock;

/// A counting semaphore: `limit` permits, each held while one input runs.
#[derive(Debug)]
pub struct InFlight {
    limit: usize,
    held: Mutex<usize>,
    freed: Condvar,
    /// The most permits ever held at once (for the self-tests and the
    /// report of what a run did).
    peak: Mutex<usize>,
}

impl InFlight {
    pub fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            held: Mutex::new(0),
            freed: Condvar::new(),
            peak: Mutex::new(0),
        }
    }

    /// How many inputs may be in flight at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The most inputs that were in flight at once so far.
    pub fn peak(&self) -> usize {
        *lock(&self.peak)
    }

    /// Waits for a permit. The wait is bounded by the inputs in flight:
    /// each ends within its own deadlines and gives its permit back (on
    /// drop, a panic included), which wakes one waiter.
    pub fn acquire(&self) -> Permit<'_> {
        let mut held = lock(&self.held);
        while *held >= self.limit {
            held = self
                .freed
                .wait(held)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *held += 1;
        let now = *held;
        drop(held);
        let mut peak = lock(&self.peak);
        *peak = (*peak).max(now);
        Permit { of: self }
    }
}

/// One input's place in flight, given back when dropped.
#[must_use = "the permit is given back as soon as it is dropped"]
pub struct Permit<'a> {
    of: &'a InFlight,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut held = lock(&self.of.held);
        *held = held.saturating_sub(1);
        drop(held);
        self.of.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn never_more_permits_than_the_limit() {
        let limit = InFlight::new(3);
        let now = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..12 {
                s.spawn(|| {
                    for _ in 0..50 {
                        let _permit = limit.acquire();
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(n, Ordering::SeqCst);
                        std::thread::yield_now();
                        now.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert!(most.load(Ordering::SeqCst) <= 3);
        assert!(limit.peak() <= 3);
        assert!(limit.peak() >= 1);
    }
}
