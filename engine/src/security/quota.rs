//! Quotas per key for the abuse limits: at most `max` uses within a sliding `window`, and
//! optionally at least `min_gap` between two uses. A refused use is not counted and says how
//! long until one is allowed, which is what a `Retry-After` carries.
//!
//! Used for one-time-password SMS per number (3 per 10 minutes, 60 s apart), messages to
//! numbers nobody signed up per source and per number, and dynamic accounts per source.

use std::collections::VecDeque;
use std::hash::Hash;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

/// The limit of a quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaRule {
    /// Uses allowed within `window`; 0 allows none.
    pub max: u32,
    pub window: Duration,
    /// Shortest time between two uses (zero: no gap).
    pub min_gap: Duration,
}

impl QuotaRule {
    pub fn per(max: u32, window: Duration) -> QuotaRule {
        QuotaRule {
            max,
            window,
            min_gap: Duration::ZERO,
        }
    }
}

/// Uses by key.
#[derive(Debug)]
pub struct Quota<K> {
    rule: QuotaRule,
    /// The times of the last uses of each key, oldest first, at most `max`.
    uses: FxHashMap<K, VecDeque<Instant>>,
}

impl<K: Hash + Eq + Clone> Quota<K> {
    pub fn new(rule: QuotaRule) -> Quota<K> {
        Quota {
            rule,
            uses: FxHashMap::default(),
        }
    }

    pub fn rule(&self) -> QuotaRule {
        self.rule
    }

    /// Takes one use for `key` at `now`, or says how long until one is allowed.
    pub fn take(&mut self, now: Instant, key: &K) -> Result<(), Duration> {
        if self.rule.max == 0 {
            return Err(self.rule.window);
        }
        if let Some(q) = self.uses.get_mut(key) {
            // uses that left the window never count again: the list stays as long as the
            // uses within it, however high the maximum
            let window = self.rule.window;
            while q
                .front()
                .is_some_and(|t| now.saturating_duration_since(*t) >= window)
            {
                q.pop_front();
            }
        }
        let wait = self.wait(now, key);
        if !wait.is_zero() {
            return Err(wait);
        }
        let q = self.uses.entry(key.clone()).or_default();
        q.push_back(now);
        while q.len() > self.rule.max as usize {
            q.pop_front();
        }
        Ok(())
    }

    /// How long until `key` may be used (zero: now).
    pub fn wait(&self, now: Instant, key: &K) -> Duration {
        let Some(q) = self.uses.get(key) else {
            return Duration::ZERO;
        };
        let window = self.rule.window;
        // times are oldest first, so the ones still in the window are a suffix
        let count = q.len() - q.partition_point(|t| now.saturating_duration_since(*t) >= window);
        let (Some(oldest), Some(last)) = (q.get(q.len() - count), q.back()) else {
            return Duration::ZERO;
        };
        let mut wait = (*last + self.rule.min_gap).saturating_duration_since(now);
        if count >= self.rule.max as usize {
            wait = wait.max((*oldest + window).saturating_duration_since(now));
        }
        wait
    }

    /// Forgets keys with no use within the window.
    pub fn prune(&mut self, now: Instant) {
        let window = self.rule.window;
        self.uses.retain(|_, q| {
            q.back()
                .is_some_and(|t| now.saturating_duration_since(*t) < window)
        });
    }

    pub fn tracked(&self) -> usize {
        self.uses.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn three_one_time_passwords_per_ten_minutes_sixty_seconds_apart() {
        let t0 = Instant::now();
        let mut q = Quota::new(QuotaRule {
            max: 3,
            window: 600 * SEC,
            min_gap: 60 * SEC,
        });
        let n = "+821012345678".to_owned();
        assert_eq!(q.take(t0, &n), Ok(()));
        assert_eq!(q.take(t0 + 30 * SEC, &n), Err(30 * SEC), "too soon");
        assert_eq!(q.take(t0 + 60 * SEC, &n), Ok(()));
        assert_eq!(q.take(t0 + 120 * SEC, &n), Ok(()));
        // the fourth within ten minutes waits for the first to leave the window
        assert_eq!(q.take(t0 + 200 * SEC, &n), Err(400 * SEC));
        assert_eq!(q.take(t0 + 599 * SEC, &n), Err(SEC));
        assert_eq!(q.take(t0 + 600 * SEC, &n), Ok(()));
        assert_eq!(
            q.take(t0, &"+821099999999".to_owned()),
            Ok(()),
            "numbers apart"
        );
    }

    #[test]
    fn an_hourly_quota_allows_exactly_its_maximum() {
        let t0 = Instant::now();
        let mut q = Quota::new(QuotaRule::per(5, 3600 * SEC));
        let src = [192u8, 0, 2, 1];
        for k in 0..5 {
            assert_eq!(q.take(t0 + k * SEC, &src), Ok(()), "use {k}");
        }
        assert_eq!(q.take(t0 + 10 * SEC, &src), Err(3590 * SEC));
        // refusals are not counted: the first slot frees an hour after the first use
        assert_eq!(q.take(t0 + 3600 * SEC, &src), Ok(()));
    }

    #[test]
    fn a_zero_quota_allows_nothing_and_idle_keys_are_forgotten() {
        let t0 = Instant::now();
        let mut none = Quota::new(QuotaRule::per(0, 60 * SEC));
        assert_eq!(none.take(t0, &1u8), Err(60 * SEC));
        let mut q = Quota::new(QuotaRule::per(2, 60 * SEC));
        q.take(t0, &1u8).unwrap();
        q.prune(t0 + 59 * SEC);
        assert_eq!(q.tracked(), 1);
        q.prune(t0 + 60 * SEC);
        assert_eq!(q.tracked(), 0);
    }

    #[test]
    fn a_high_maximum_keeps_only_the_uses_within_the_window() {
        let t0 = Instant::now();
        let mut q = Quota::new(QuotaRule::per(1_000_000, 10 * SEC));
        let n = "1001".to_owned();
        for i in 0..100u32 {
            assert_eq!(q.take(t0 + i * SEC, &n), Ok(()));
        }
        // one use a second over a ten-second window: ten (or eleven) remembered, not a hundred
        assert!(q.uses[&n].len() <= 11, "{}", q.uses[&n].len());
        assert_eq!(q.wait(t0 + 100 * SEC, &n), Duration::ZERO);
    }
}
