//! The ban policy put together: failures and floods make bans, trusted networks are never
//! banned, bans expire or are lifted.
//!
//! Drive it with what the shells saw of a source (`handle_failure`, `handle_challenge`,
//! `handle_success`, `handle_scan`, `handle_flood`); a call that bans returns the new `Ban`
//! (log it, count it, start dropping the source). Call `poll_expired` at `poll_timeout`.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::{Ban, Bans, Failures, Network, Reason};

/// The ban rules (`[security]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// How long a ban lasts.
    pub ban: Duration,
    /// Failures within `failure_window` that ban.
    pub failures: u32,
    pub failure_window: Duration,
    /// More requests than this within `pike_window` is a flood (0: no flood check).
    pub pike_requests: u32,
    pub pike_window: Duration,
    /// Networks never banned (the operator's trunks and gateways).
    pub trusted: Vec<Network>,
}

impl Default for Policy {
    /// Kamailio pike's 16 requests per 2 s, fail2ban's 10 failures per 10 minutes, bans of
    /// 5 minutes, nothing trusted.
    fn default() -> Policy {
        Policy {
            ban: Duration::from_secs(300),
            failures: 10,
            failure_window: Duration::from_secs(600),
            pike_requests: 16,
            pike_window: Duration::from_secs(2),
            trusted: Vec::new(),
        }
    }
}

/// The ban table and the failure counters under one policy.
#[derive(Debug)]
pub struct Guard {
    policy: Policy,
    bans: Bans,
    failures: Failures,
}

impl Guard {
    pub fn new(policy: Policy) -> Guard {
        let failures = Failures::new(policy.failures, policy.failure_window);
        Guard {
            policy,
            bans: Bans::default(),
            failures,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Whether `ip` is in a trusted network (never counted, never banned).
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.policy.trusted.iter().any(|n| n.contains(ip))
    }

    pub fn is_banned(&self, ip: IpAddr, now: Instant) -> bool {
        self.bans.is_banned(ip, now)
    }

    /// `ip` failed for `reason`; the ban when this failure crossed the threshold.
    pub fn handle_failure(&mut self, now: Instant, ip: IpAddr, reason: Reason) -> Option<Ban> {
        if self.is_trusted(ip) || self.is_banned(ip, now) {
            return None;
        }
        let count = self.failures.handle_failure(now, ip)?;
        self.ban(now, ip, reason, count, self.policy.failure_window)
    }

    /// `ip` was challenged; the ban when its unanswered challenges crossed the threshold.
    pub fn handle_challenge(&mut self, now: Instant, ip: IpAddr) -> Option<Ban> {
        if self.is_trusted(ip) || self.is_banned(ip, now) {
            return None;
        }
        let count = self.failures.handle_challenge(now, ip)?;
        self.ban(
            now,
            ip,
            Reason::Unauthenticated,
            count,
            self.policy.failure_window,
        )
    }

    /// `ip` authenticated.
    pub fn handle_success(&mut self, ip: IpAddr) {
        self.failures.handle_success(ip);
    }

    /// `ip` sent a request with a scanner's User-Agent: banned at once.
    pub fn handle_scan(&mut self, now: Instant, ip: IpAddr) -> Option<Ban> {
        if self.is_trusted(ip) {
            return None;
        }
        self.ban(now, ip, Reason::Scanner, 1, Duration::ZERO)
    }

    /// `ip` sent `count` requests within the pike window, past the rate.
    pub fn handle_flood(&mut self, now: Instant, ip: IpAddr, count: u32) -> Option<Ban> {
        if self.is_trusted(ip) {
            return None;
        }
        self.ban(now, ip, Reason::Flood, count, self.policy.pike_window)
    }

    fn ban(
        &mut self,
        now: Instant,
        ip: IpAddr,
        reason: Reason,
        count: u32,
        window: Duration,
    ) -> Option<Ban> {
        self.failures.forget(ip);
        self.bans
            .handle_ban(now, ip, reason, count, window, self.policy.ban)
            .cloned()
    }

    /// The operator lifts the ban of `ip`; the ban, if there was one.
    pub fn lift(&mut self, ip: IpAddr) -> Option<Ban> {
        self.failures.forget(ip);
        self.bans.lift(ip)
    }

    /// A ban whose time is up by `now`; call until `None`.
    pub fn poll_expired(&mut self, now: Instant) -> Option<Ban> {
        self.bans.poll_expired(now)
    }

    /// When the next ban ends.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.bans.poll_timeout()
    }

    pub fn bans(&self) -> &Bans {
        &self.bans
    }

    /// Forgets failure records too old to count.
    pub fn prune(&mut self, now: Instant) {
        self.failures.prune(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn policy() -> Policy {
        Policy {
            trusted: vec![Network::parse("192.0.2.0/24").unwrap()],
            ..Policy::default()
        }
    }

    #[test]
    fn the_tenth_bad_digest_in_ten_minutes_bans_for_five() {
        let t0 = Instant::now();
        let mut g = Guard::new(policy());
        let scanner = ip("203.0.113.9");
        for k in 0..9 {
            assert!(g
                .handle_failure(t0 + k * SEC, scanner, Reason::BadDigest)
                .is_none());
        }
        let ban = g
            .handle_failure(t0 + 9 * SEC, scanner, Reason::BadDigest)
            .unwrap();
        assert_eq!((ban.reason, ban.count), (Reason::BadDigest, 10));
        assert_eq!(ban.until, t0 + 309 * SEC);
        assert!(g.is_banned(scanner, t0 + 308 * SEC));
        assert_eq!(g.poll_timeout(), Some(t0 + 309 * SEC));
        assert_eq!(g.poll_expired(t0 + 309 * SEC), Some(ban));
        assert!(!g.is_banned(scanner, t0 + 309 * SEC));
    }

    #[test]
    fn trusted_networks_are_never_banned() {
        let t0 = Instant::now();
        let mut g = Guard::new(policy());
        let trunk = ip("192.0.2.10");
        for _ in 0..100 {
            assert!(g.handle_failure(t0, trunk, Reason::UnknownNumber).is_none());
        }
        assert!(g.handle_scan(t0, trunk).is_none());
        assert!(g.handle_flood(t0, trunk, 1000).is_none());
        assert!(!g.is_banned(trunk, t0));
    }

    #[test]
    fn a_scanner_is_banned_at_once_and_a_flood_by_its_count() {
        let t0 = Instant::now();
        let mut g = Guard::new(Policy::default());
        let ban = g.handle_scan(t0, ip("127.0.0.2")).unwrap();
        assert_eq!((ban.reason, ban.count), (Reason::Scanner, 1));
        assert_eq!(
            ban.log_line(),
            "SECURITY ban src=127.0.0.2 reason=scanner count=1 window=0s ban=300s"
        );
        let flood = g.handle_flood(t0, ip("::1"), 17).unwrap();
        assert_eq!(
            flood.log_line(),
            "SECURITY ban src=::1 reason=flood count=17 window=2s ban=300s"
        );
    }

    #[test]
    fn a_lifted_source_starts_counting_afresh() {
        let t0 = Instant::now();
        let mut g = Guard::new(Policy {
            failures: 3,
            ..Policy::default()
        });
        let s = ip("198.51.100.4");
        g.handle_failure(t0, s, Reason::Malformed);
        g.handle_failure(t0, s, Reason::Malformed);
        assert!(g.handle_failure(t0, s, Reason::Malformed).is_some());
        assert!(
            g.handle_failure(t0, s, Reason::Malformed).is_none(),
            "banned already"
        );
        assert_eq!(g.lift(s).map(|b| b.reason), Some(Reason::Malformed));
        assert!(g.handle_failure(t0, s, Reason::Malformed).is_none());
        assert!(g.handle_failure(t0, s, Reason::Malformed).is_none());
        assert!(g.handle_failure(t0, s, Reason::Malformed).is_some());
    }

    #[test]
    fn unanswered_challenges_ban_as_unauthenticated() {
        let t0 = Instant::now();
        let mut g = Guard::new(Policy {
            failures: 2,
            ..Policy::default()
        });
        let s = ip("198.51.100.5");
        assert!(g.handle_challenge(t0, s).is_none());
        assert!(g.handle_challenge(t0, s).is_none());
        let ban = g.handle_challenge(t0, s).unwrap();
        assert_eq!(ban.reason, Reason::Unauthenticated);
    }
}
