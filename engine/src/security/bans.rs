//! The ban table: which source addresses are banned, why and until when.
//!
//! A ban is made once (banning a banned source again changes nothing, so one flood makes one
//! log line), lasts its duration from when it was made, and ends by expiry (`poll_expired`,
//! at `poll_timeout`) or by being lifted. Each ban and each end is handed back once, for the
//! shell to log (`Ban::log_line`, `lift_line`) and count.

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use super::Reason;

/// One ban.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub ip: IpAddr,
    pub reason: Reason,
    /// Failures (or requests, for a flood) counted within `window` when it was made.
    pub count: u32,
    /// The window the count is over.
    pub window: Duration,
    pub since: Instant,
    pub until: Instant,
}

impl Ban {
    /// How long the ban lasts in all.
    pub fn duration(&self) -> Duration {
        self.until.saturating_duration_since(self.since)
    }

    /// The security log line of this ban (stable format, see ARCHITECTURE.md):
    /// `SECURITY ban src=203.0.113.9 reason=bad_digest count=10 window=600s ban=300s`.
    pub fn log_line(&self) -> String {
        format!(
            "SECURITY ban src={} reason={} count={} window={}s ban={}s",
            self.ip,
            self.reason,
            self.count,
            self.window.as_secs(),
            self.duration().as_secs()
        )
    }
}

/// How a ban ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lift {
    /// Its time was up.
    Expired,
    /// The operator lifted it.
    Operator,
}

impl fmt::Display for Lift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lift::Expired => "expired",
            Lift::Operator => "operator",
        })
    }
}

/// The security log line of a ban's end:
/// `SECURITY unban src=203.0.113.9 reason=bad_digest by=expired`.
pub fn lift_line(ban: &Ban, by: Lift) -> String {
    format!(
        "SECURITY unban src={} reason={} by={by}",
        ban.ip, ban.reason
    )
}

/// The banned sources.
#[derive(Debug, Default)]
pub struct Bans {
    by_ip: FxHashMap<IpAddr, Ban>,
}

impl Bans {
    /// Bans `ip` for `duration` from `now`; the new ban, or `None` when it is banned already.
    pub fn handle_ban(
        &mut self,
        now: Instant,
        ip: IpAddr,
        reason: Reason,
        count: u32,
        window: Duration,
        duration: Duration,
    ) -> Option<&Ban> {
        if self.is_banned(ip, now) {
            return None;
        }
        let ban = Ban {
            ip,
            reason,
            count,
            window,
            since: now,
            until: now + duration,
        };
        self.by_ip.insert(ip, ban);
        self.by_ip.get(&ip)
    }

    /// Whether `ip` is banned at `now`.
    pub fn is_banned(&self, ip: IpAddr, now: Instant) -> bool {
        self.by_ip.get(&ip).is_some_and(|b| now < b.until)
    }

    /// Ends the ban of `ip` (the operator lifted it); the ban, if there was one.
    pub fn lift(&mut self, ip: IpAddr) -> Option<Ban> {
        self.by_ip.remove(&ip)
    }

    /// A ban whose time is up by `now`, removed; call until `None`.
    pub fn poll_expired(&mut self, now: Instant) -> Option<Ban> {
        let ip = self.by_ip.values().find(|b| b.until <= now).map(|b| b.ip)?;
        self.by_ip.remove(&ip)
    }

    /// When the next ban ends.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.by_ip.values().map(|b| b.until).min()
    }

    /// The bans, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Ban> {
        self.by_ip.values()
    }

    pub fn len(&self) -> usize {
        self.by_ip.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_ip.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_ban_lasts_its_time_then_expires_once() {
        let t0 = Instant::now();
        let mut b = Bans::default();
        let made = b
            .handle_ban(
                t0,
                ip("203.0.113.9"),
                Reason::BadDigest,
                10,
                10 * MIN,
                5 * MIN,
            )
            .cloned()
            .unwrap();
        assert_eq!(made.until, t0 + 5 * MIN);
        assert!(b.is_banned(ip("203.0.113.9"), t0 + 4 * MIN));
        assert!(!b.is_banned(ip("203.0.113.10"), t0), "only that source");
        assert_eq!(b.poll_timeout(), Some(t0 + 5 * MIN));
        assert!(b.poll_expired(t0 + 4 * MIN).is_none());
        assert_eq!(b.poll_expired(t0 + 5 * MIN), Some(made));
        assert!(b.poll_expired(t0 + 5 * MIN).is_none(), "handed back once");
        assert!(!b.is_banned(ip("203.0.113.9"), t0 + 5 * MIN));
        assert!(b.is_empty());
    }

    #[test]
    fn banning_a_banned_source_again_makes_no_second_ban() {
        let t0 = Instant::now();
        let mut b = Bans::default();
        assert!(b
            .handle_ban(t0, ip("192.0.2.1"), Reason::Flood, 17, MIN, MIN)
            .is_some());
        assert!(b
            .handle_ban(t0 + MIN / 2, ip("192.0.2.1"), Reason::Scanner, 1, MIN, MIN)
            .is_none());
        assert_eq!(b.iter().next().unwrap().reason, Reason::Flood);
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn a_lifted_ban_is_gone_at_once() {
        let t0 = Instant::now();
        let mut b = Bans::default();
        b.handle_ban(t0, ip("::1"), Reason::Malformed, 10, MIN, MIN);
        assert_eq!(b.lift(ip("::1")).map(|x| x.reason), Some(Reason::Malformed));
        assert!(!b.is_banned(ip("::1"), t0));
        assert!(b.lift(ip("::1")).is_none());
    }

    #[test]
    fn log_lines_have_the_documented_format() {
        let t0 = Instant::now();
        let mut b = Bans::default();
        let ban = b
            .handle_ban(
                t0,
                ip("203.0.113.9"),
                Reason::BadDigest,
                10,
                10 * MIN,
                5 * MIN,
            )
            .cloned()
            .unwrap();
        assert_eq!(
            ban.log_line(),
            "SECURITY ban src=203.0.113.9 reason=bad_digest count=10 window=600s ban=300s"
        );
        assert_eq!(
            lift_line(&ban, Lift::Operator),
            "SECURITY unban src=203.0.113.9 reason=bad_digest by=operator"
        );
        assert_eq!(
            lift_line(&ban, Lift::Expired),
            "SECURITY unban src=203.0.113.9 reason=bad_digest by=expired"
        );
    }
}
