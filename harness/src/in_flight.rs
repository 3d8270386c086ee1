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
    count: Mutex<Count>,
    freed: Condvar,
}

/// Permits held and threads waiting for one, and the most ever held.
#[derive(Debug, Default)]
struct Count {
    held: usize,
    waiting: usize,
    peak: usize,
}

impl InFlight {
    pub fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            count: Mutex::new(Count::default()),
            freed: Condvar::new(),
        }
    }

    /// How many inputs may be in flight at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The most inputs that were in flight at once so far.
    pub fn peak(&self) -> usize {
        lock(&self.count).peak
    }

    /// Waits for a permit. The wait is bounded by the inputs in flight:
    /// each ends within its own deadlines and gives its permit back (on
    /// drop, a panic included), which wakes one waiter.
    pub fn acquire(&self) -> Permit<'_> {
        let mut count = lock(&self.count);
        while count.held >= self.limit {
            count.waiting += 1;
            count = self
                .freed
                .wait(count)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            count.waiting -= 1;
        }
        count.held += 1;
        count.peak = count.peak.max(count.held);
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
        let mut count = lock(&self.of.count);
        count.held = count.held.saturating_sub(1);
        // Waking nobody is a system call too: one per input, thousands a
        // second against the embedded server.
        let wake = count.waiting > 0;
        drop(count);
        if wake {
            self.of.freed.notify_one();
        }
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
