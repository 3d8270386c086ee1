//! Graph-like timing: how long an answer takes and how long a notification
//! follows its event, each with some jitter, so that a client (the suite,
//! a bot) can be tried against a slow service on one machine. Zero by
//! default: the reference then answers as fast as it can.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::config::Config;

/// The delays of one server, and the generator of their jitter.
#[derive(Debug)]
pub(crate) struct Timing {
    latency: Duration,
    delay: Duration,
    jitter: Duration,
    /// SplitMix64's state: the same seed gives the same delays in the same
    /// order (a run against a slow target can be repeated), and a shared
    /// atomic needs no lock.
    state: AtomicU64,
}

impl Timing {
    pub(crate) fn new(config: &Config) -> Timing {
        Timing {
            latency: config.answer_latency,
            delay: config.notification_delay,
            jitter: config.timing_jitter,
            state: AtomicU64::new(config.timing_seed),
        }
    }

    /// How long the next answer is held before it leaves.
    pub(crate) fn answer(&self) -> Duration {
        self.with_jitter(self.latency)
    }

    /// How long after its event the next notification is posted.
    pub(crate) fn notification(&self) -> Duration {
        self.with_jitter(self.delay)
    }

    /// Whether notifications wait at all (most servers: they do not).
    pub(crate) fn delays_notifications(&self) -> bool {
        !(self.delay.is_zero() && self.jitter.is_zero())
    }

    /// `base` and up to `jitter` more, drawn uniformly; `base` itself when
    /// there is no jitter.
    fn with_jitter(&self, base: Duration) -> Duration {
        if self.jitter.is_zero() {
            return base;
        }
        let spread = u64::try_from(self.jitter.as_micros()).unwrap_or(u64::MAX);
        base + Duration::from_micros(self.next() % spread.saturating_add(1))
    }

    fn next(&self) -> u64 {
        let mut z = self
            .state
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(latency: u64, delay: u64, jitter: u64, seed: u64) -> Timing {
        Timing::new(&Config {
            answer_latency: Duration::from_millis(latency),
            notification_delay: Duration::from_millis(delay),
            timing_jitter: Duration::from_millis(jitter),
            timing_seed: seed,
            ..Config::default()
        })
    }

    #[test]
    fn without_jitter_every_delay_is_the_base() {
        let t = timing(300, 1000, 0, 7);
        assert_eq!(t.answer(), Duration::from_millis(300));
        assert_eq!(t.notification(), Duration::from_millis(1000));
        assert!(t.delays_notifications());
        assert!(!timing(300, 0, 0, 7).delays_notifications());
    }

    #[test]
    fn jitter_stays_within_its_bound_varies_and_repeats_with_the_seed() {
        let draw = |seed| {
            let t = timing(300, 1000, 200, seed);
            (0..200).map(|_| t.answer()).collect::<Vec<_>>()
        };
        let a = draw(1);
        assert!(a
            .iter()
            .all(|d| *d >= Duration::from_millis(300) && *d <= Duration::from_millis(500)));
        assert!(a.iter().any(|d| *d != a[0]), "jitter varies");
        assert_eq!(a, draw(1), "the same seed, the same delays");
        assert_ne!(a, draw(2));
    }
}
