//! Per-source flood limits: a token bucket per source address.
//!
//! Each worker keeps its own buckets (no shared lock on the receive path). Excess messages are
//! dropped and counted, never answered, so a flood cannot be turned into a reflection attack.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use crate::config::{cidr_contains, parse_cidr, Limits};

/// Token buckets keyed by source address.
pub struct Limiter {
    rate: f64,
    burst: f64,
    exempt: Vec<(IpAddr, u8)>,
    buckets: FxHashMap<IpAddr, Bucket>,
    last_prune: Option<Instant>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Limiter {
    /// The buckets of one of `share` workers that each read an even share of every source
    /// (`sip.udp_spread = "datagram"`; 1 when a source is read by one worker): each takes
    /// that share of the rate and burst, so a source's total stays what is configured.
    pub fn new(cfg: &Limits, share: usize) -> Limiter {
        let share = share.max(1) as f64;
        Limiter {
            rate: cfg.per_source_rate as f64 / share,
            burst: (cfg.per_source_burst.max(1) as f64 / share).max(1.0),
            exempt: cfg.exempt.iter().filter_map(|s| parse_cidr(s)).collect(),
            buckets: FxHashMap::default(),
            last_prune: None,
        }
    }

    /// Whether a message from `ip` may be processed at `now`.
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        if self.rate <= 0.0 || self.exempt.iter().any(|n| cidr_contains(*n, ip)) {
            return true;
        }
        let b = self.buckets.entry(ip).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets sources whose buckets are full again (call now and then).
    pub fn prune(&mut self, now: Instant) {
        if self
            .last_prune
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(10))
        {
            return;
        }
        self.last_prune = Some(now);
        let (rate, burst) = (self.rate, self.burst);
        self.buckets.retain(|_, b| {
            b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
        });
    }

    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(rate: u32, burst: u32, exempt: &[&str]) -> Limits {
        Limits {
            per_source_rate: rate,
            per_source_burst: burst,
            exempt: exempt.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_burst_beyond_the_bucket_is_refused_then_refills() {
        let mut l = Limiter::new(&limits(10, 5, &[]), 1);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        let allowed = (0..20).filter(|_| l.allow(ip, t0)).count();
        assert_eq!(allowed, 5);
        assert!(
            l.allow(ip, t0 + Duration::from_millis(100)),
            "one token per 100 ms"
        );
        assert!(!l.allow(ip, t0 + Duration::from_millis(100)));
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(l.allow(other, t0), "sources are limited separately");
    }

    #[test]
    fn a_share_of_the_limit_per_worker_keeps_a_sources_total() {
        // two workers, each reading half of the source: 5 + 5 of a burst of 10, 10/s in all
        let cfg = limits(10, 10, &[]);
        let (mut a, mut b) = (Limiter::new(&cfg, 2), Limiter::new(&cfg, 2));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        // 20 messages read alternately by the two workers at `t`: how many were let through
        let mut both = |t: Instant| {
            (0..20)
                .filter(|i| {
                    if i % 2 == 0 {
                        a.allow(ip, t)
                    } else {
                        b.allow(ip, t)
                    }
                })
                .count()
        };
        let t0 = Instant::now();
        assert_eq!(both(t0), 10);
        let refill = both(t0 + Duration::from_secs(1));
        assert_eq!(refill, 10, "10 tokens a second over both");
        // a burst too small to split still lets one through per worker
        assert_eq!(Limiter::new(&limits(10, 1, &[]), 4).burst, 1.0);
    }

    #[test]
    fn exempt_networks_are_never_limited() {
        let mut l = Limiter::new(&limits(1, 1, &["127.0.0.0/8"]), 1);
        let t0 = Instant::now();
        assert!((0..100).all(|_| l.allow("127.0.0.9".parse().unwrap(), t0)));
        assert_eq!(l.tracked(), 0);
    }

    #[test]
    fn idle_sources_are_forgotten() {
        let mut l = Limiter::new(&limits(10, 5, &[]), 1);
        let t0 = Instant::now();
        l.allow("192.0.2.1".parse().unwrap(), t0);
        l.prune(t0 + Duration::from_secs(60));
        assert_eq!(l.tracked(), 0);
    }
}
