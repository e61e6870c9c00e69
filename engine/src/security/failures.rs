//! Failures per source address within a window (fail2ban's `maxretry` per `findtime`).
//!
//! Each source keeps the times of its last `threshold` failures, no more, so a source costs
//! bounded memory however much it fails. When the `threshold`-th failure falls within
//! `window` of the oldest one kept, the source has crossed the line: `handle_failure` says so
//! with the count, and its record starts again (the ban that follows makes the next one).
//!
//! A challenge (401/407) is how digest authentication starts, so one is no failure. A source
//! that is challenged again with no success between (it never answers the challenge, or
//! answers it wrongly and is asked again) fails once per challenge after the first:
//! `handle_challenge` reports that as a failure of its own.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

/// What one source did lately.
#[derive(Debug)]
struct Record {
    /// Times of its last failures, oldest first, at most `threshold`.
    times: VecDeque<Instant>,
    /// Challenges since its last success.
    challenges: u32,
    /// Its last failure or challenge.
    last: Instant,
}

impl Record {
    fn new(now: Instant) -> Record {
        Record {
            times: VecDeque::new(),
            challenges: 0,
            last: now,
        }
    }
}

/// Failure counters by source address.
#[derive(Debug)]
pub struct Failures {
    threshold: u32,
    window: Duration,
    by_ip: FxHashMap<IpAddr, Record>,
}

impl Failures {
    /// `threshold` failures within `window` cross the line (a threshold of 0 counts as 1).
    pub fn new(threshold: u32, window: Duration) -> Failures {
        Failures {
            threshold: threshold.max(1),
            window,
            by_ip: FxHashMap::default(),
        }
    }

    /// Counts a failure of `ip` at `now`; `Some(count)` when the source crossed the threshold
    /// with it (its record starts again).
    pub fn handle_failure(&mut self, now: Instant, ip: IpAddr) -> Option<u32> {
        let r = self.by_ip.entry(ip).or_insert_with(|| Record::new(now));
        r.last = now;
        while r
            .times
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
        {
            r.times.pop_front();
        }
        r.times.push_back(now);
        if r.times.len() as u32 >= self.threshold {
            let n = r.times.len() as u32;
            r.times.clear();
            return Some(n);
        }
        None
    }

    /// `ip` was challenged at `now`; like `handle_failure` when it was challenged before with
    /// no success since.
    pub fn handle_challenge(&mut self, now: Instant, ip: IpAddr) -> Option<u32> {
        let r = self.by_ip.entry(ip).or_insert_with(|| Record::new(now));
        r.last = now;
        r.challenges = r.challenges.saturating_add(1);
        if r.challenges >= 2 {
            return self.handle_failure(now, ip);
        }
        None
    }

    /// `ip` authenticated: its challenge streak ends (its failures stay counted).
    pub fn handle_success(&mut self, ip: IpAddr) {
        if let Some(r) = self.by_ip.get_mut(&ip) {
            r.challenges = 0;
        }
    }

    /// Failures of `ip` still within the window at `now`.
    pub fn count(&self, ip: IpAddr, now: Instant) -> u32 {
        self.by_ip.get(&ip).map_or(0, |r| {
            r.times
                .iter()
                .filter(|t| now.saturating_duration_since(**t) < self.window)
                .count() as u32
        })
    }

    /// Forgets `ip` (it was banned, or lifted).
    pub fn forget(&mut self, ip: IpAddr) {
        self.by_ip.remove(&ip);
    }

    /// Forgets sources that neither failed nor were challenged within the window (their
    /// failures no longer count, and a challenge streak that old is over).
    pub fn prune(&mut self, now: Instant) {
        let window = self.window;
        self.by_ip
            .retain(|_, r| now.saturating_duration_since(r.last) < window);
    }

    /// Sources with a record.
    pub fn tracked(&self) -> usize {
        self.by_ip.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[test]
    fn the_threshold_within_the_window_crosses_the_line() {
        let t0 = Instant::now();
        let mut f = Failures::new(10, 600 * SEC);
        for k in 0..9 {
            assert_eq!(f.handle_failure(t0 + k * SEC, ip(1)), None, "failure {k}");
        }
        assert_eq!(f.count(ip(1), t0 + 9 * SEC), 9);
        assert_eq!(f.handle_failure(t0 + 9 * SEC, ip(1)), Some(10));
        assert_eq!(f.count(ip(1), t0 + 9 * SEC), 0, "the record starts again");
    }

    #[test]
    fn failures_older_than_the_window_do_not_count() {
        let t0 = Instant::now();
        let mut f = Failures::new(3, 10 * SEC);
        f.handle_failure(t0, ip(1));
        f.handle_failure(t0 + 5 * SEC, ip(1));
        assert_eq!(
            f.handle_failure(t0 + 10 * SEC, ip(1)),
            None,
            "the first is too old"
        );
        assert_eq!(f.handle_failure(t0 + 12 * SEC, ip(1)), Some(3));
    }

    #[test]
    fn sources_are_counted_apart() {
        let t0 = Instant::now();
        let mut f = Failures::new(2, 10 * SEC);
        assert_eq!(f.handle_failure(t0, ip(1)), None);
        assert_eq!(f.handle_failure(t0, ip(2)), None);
        assert_eq!(f.handle_failure(t0, ip(1)), Some(2));
    }

    #[test]
    fn a_first_challenge_is_no_failure_but_an_unanswered_streak_is() {
        let t0 = Instant::now();
        let mut f = Failures::new(3, 60 * SEC);
        // a phone: challenged, then authenticated, again and again
        for k in 0..10 {
            assert_eq!(f.handle_challenge(t0 + k * SEC, ip(1)), None);
            f.handle_success(ip(1));
        }
        assert_eq!(f.count(ip(1), t0 + 10 * SEC), 0);
        // a scanner that never answers: the second challenge on counts
        assert_eq!(f.handle_challenge(t0, ip(2)), None);
        assert_eq!(f.handle_challenge(t0, ip(2)), None);
        assert_eq!(f.handle_challenge(t0, ip(2)), None);
        assert_eq!(f.handle_challenge(t0, ip(2)), Some(3));
    }

    #[test]
    fn idle_sources_are_forgotten() {
        let t0 = Instant::now();
        let mut f = Failures::new(5, 10 * SEC);
        f.handle_failure(t0, ip(1));
        f.handle_failure(t0 + 5 * SEC, ip(2));
        f.prune(t0 + 12 * SEC);
        assert_eq!(f.tracked(), 1);
        f.prune(t0 + 15 * SEC);
        assert_eq!(f.tracked(), 0);
    }
}
