//! Request density per source (Kamailio's pike): more than `requests` within one `window`
//! is a flood.
//!
//! `RateWindow` counts one source in fixed windows (the one a TCP connection keeps for its
//! peer); `Pike` keeps one per source address (what a UDP worker keeps for everyone who
//! sends to it). A window starts with a source's first request after the last one ended, so
//! a steady sender below the rate never trips it, and a burst above it trips it within one
//! window.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

/// Requests of one source in the current window.
#[derive(Debug, Clone, Copy)]
pub struct RateWindow {
    start: Instant,
    count: u32,
}

impl RateWindow {
    pub fn new(now: Instant) -> RateWindow {
        RateWindow {
            start: now,
            count: 0,
        }
    }

    /// Counts a request at `now`; `Some(count)` the first time the window holds more than
    /// `max` (later requests of the same window say nothing more).
    pub fn handle_request(&mut self, now: Instant, max: u32, window: Duration) -> Option<u32> {
        if now.saturating_duration_since(self.start) >= window {
            self.start = now;
            self.count = 0;
        }
        self.count = self.count.saturating_add(1);
        (self.count == max.saturating_add(1)).then_some(self.count)
    }

    fn is_over(&self, now: Instant, window: Duration) -> bool {
        now.saturating_duration_since(self.start) >= window
    }
}

/// Rate windows by source address.
#[derive(Debug)]
pub struct Pike {
    max: u32,
    window: Duration,
    by_ip: FxHashMap<IpAddr, RateWindow>,
}

impl Pike {
    /// More than `max` requests within `window` is a flood; `max` 0 turns the check off.
    pub fn new(max: u32, window: Duration) -> Pike {
        Pike {
            max,
            window,
            by_ip: FxHashMap::default(),
        }
    }

    /// Counts a request of `ip` at `now`; `Some(count)` when this one made it a flood.
    pub fn handle_request(&mut self, now: Instant, ip: IpAddr) -> Option<u32> {
        if self.max == 0 {
            return None;
        }
        self.by_ip
            .entry(ip)
            .or_insert_with(|| RateWindow::new(now))
            .handle_request(now, self.max, self.window)
    }

    /// Forgets sources whose window is over.
    pub fn prune(&mut self, now: Instant) {
        let window = self.window;
        self.by_ip.retain(|_, w| !w.is_over(now, window));
    }

    pub fn tracked(&self) -> usize {
        self.by_ip.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_request_past_the_rate_is_a_flood_once_per_window() {
        let t0 = Instant::now();
        let mut p = Pike::new(16, 2000 * MS);
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        for k in 0..16 {
            assert_eq!(p.handle_request(t0 + k * 10 * MS, ip), None, "request {k}");
        }
        assert_eq!(p.handle_request(t0 + 200 * MS, ip), Some(17));
        assert_eq!(p.handle_request(t0 + 210 * MS, ip), None, "said once");
        let other: IpAddr = "198.51.100.2".parse().unwrap();
        assert_eq!(p.handle_request(t0 + 210 * MS, other), None);
    }

    #[test]
    fn a_steady_sender_below_the_rate_never_floods() {
        let t0 = Instant::now();
        let mut p = Pike::new(16, 2000 * MS);
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        // 8 a second for a minute
        for k in 0..480u32 {
            assert_eq!(p.handle_request(t0 + k * 125 * MS, ip), None);
        }
    }

    #[test]
    fn a_zero_rate_turns_the_check_off_and_idle_sources_are_forgotten() {
        let t0 = Instant::now();
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        let mut off = Pike::new(0, 2000 * MS);
        assert!((0..1000).all(|_| off.handle_request(t0, ip).is_none()));
        let mut p = Pike::new(5, 2000 * MS);
        p.handle_request(t0, ip);
        p.prune(t0 + 1000 * MS);
        assert_eq!(p.tracked(), 1);
        p.prune(t0 + 2000 * MS);
        assert_eq!(p.tracked(), 0);
    }
}
