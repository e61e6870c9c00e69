//! Flood bans and abuse limits of the running switch: the shell around
//! `switchboard_engine::security`.
//!
//! One `Security` for the process (in `Shared`, and given to the TCP hub). The actors report
//! what a source did (`failure`, `challenged`, `succeeded`, `scanner`, `flood`); the engine's
//! `Guard` decides on bans, and this shell logs each ban and lift on the target
//! `switchboard::security` (the stable lines of `Ban::log_line` and `lift_line`), counts them,
//! and publishes the banned set.
//!
//! The receive paths read the banned set without a lock: each keeps a `BanView` (a snapshot
//! and its version) and `is_banned` compares one atomic version number before a hash lookup,
//! taking the snapshot's lock only after a change. Expired bans are swept by `sweep`, called
//! by each worker's housekeeping tick (every 500 ms).
//!
//! The abuse limits (`Abuse`) are quotas per source address and per number, under a lock
//! each: they are asked once per stored message, one-time password or dynamic account, never
//! per packet.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use switchboard_engine::numbering::Aor;
use switchboard_engine::security::{
    lift_line, Ban, Guard, Lift, Quota, QuotaRule, Reason, ScannerAgents,
};
use tracing::{info, warn};

use crate::clock::now;
use crate::config::Config;
use crate::metrics::{LimitLabel, Metrics, ReasonLabel};

/// The log target of the security lines.
pub const LOG_TARGET: &str = "switchboard::security";

/// A ban as the HTTP API and the CLI show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanInfo {
    pub ip: String,
    pub reason: String,
    /// Failures (or requests) counted within `window_secs` when it was made.
    pub count: u32,
    pub window_secs: u64,
    /// How long it lasts in all, and how much of that is left.
    pub ban_secs: u64,
    pub remaining_secs: u64,
}

impl BanInfo {
    fn of(b: &Ban, now: Instant) -> BanInfo {
        BanInfo {
            ip: b.ip.to_string(),
            reason: b.reason.as_str().to_owned(),
            count: b.count,
            window_secs: b.window.as_secs(),
            ban_secs: b.duration().as_secs(),
            remaining_secs: b.until.saturating_duration_since(now).as_secs(),
        }
    }
}

/// A receive path's copy of the banned set (see the module docs).
pub struct BanView {
    version: u64,
    set: Arc<FxHashMap<IpAddr, Instant>>,
}

/// Bans and abuse limits.
pub struct Security {
    guard: Mutex<Guard>,
    /// Bumped after every change of the banned set, under the `snapshot` lock.
    version: AtomicU64,
    /// Banned addresses and the end of each ban.
    snapshot: Mutex<Arc<FxHashMap<IpAddr, Instant>>>,
    scanners: ScannerAgents,
    metrics: Arc<Metrics>,
    last_prune: Mutex<Option<Instant>>,
    pub abuse: Abuse,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Security {
    pub fn new(config: &Config, metrics: Arc<Metrics>) -> Arc<Security> {
        for r in Reason::ALL {
            // every reason shows from the start (0 until its first ban)
            let _ = metrics
                .bans
                .get_or_create(&ReasonLabel { reason: r.as_str() });
        }
        metrics.banned_sources.set(0);
        Arc::new(Security {
            guard: Mutex::new(Guard::new(config.security.policy())),
            version: AtomicU64::new(0),
            snapshot: Mutex::new(Arc::default()),
            scanners: ScannerAgents::new(&config.security.scanner_user_agents),
            abuse: Abuse::new(config, metrics.clone()),
            metrics,
            last_prune: Mutex::new(None),
        })
    }

    /// A fresh view of the banned set.
    pub fn view(&self) -> BanView {
        let set = locked(&self.snapshot);
        BanView {
            version: self.version.load(Ordering::Acquire),
            set: set.clone(),
        }
    }

    /// Whether `ip` is banned at `now`, through the caller's view (refreshed when the set
    /// changed since).
    #[inline]
    pub fn is_banned(&self, view: &mut BanView, ip: IpAddr, now: Instant) -> bool {
        if self.version.load(Ordering::Acquire) != view.version {
            *view = self.view();
        }
        !view.set.is_empty() && view.set.get(&ip).is_some_and(|until| now < *until)
    }

    /// Whether `ip` is never banned.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        locked(&self.guard).is_trusted(ip)
    }

    /// The pike rule: more than this many messages within the window is a flood (0: none).
    pub fn pike(&self) -> (u32, Duration) {
        let g = locked(&self.guard);
        (g.policy().pike_requests, g.policy().pike_window)
    }

    /// `ip` failed for `reason`.
    pub fn failure(&self, ip: IpAddr, reason: Reason) {
        let ban = locked(&self.guard).handle_failure(now(), ip, reason);
        self.made(ban);
    }

    /// `ip` was challenged (401/407).
    pub fn challenged(&self, ip: IpAddr) {
        let ban = locked(&self.guard).handle_challenge(now(), ip);
        self.made(ban);
    }

    /// `ip` authenticated.
    pub fn succeeded(&self, ip: IpAddr) {
        locked(&self.guard).handle_success(ip);
    }

    /// Bans `ip` at once when `user_agent` is a scanner's; whether it was one.
    pub fn scanner(&self, ip: IpAddr, user_agent: &str) -> bool {
        if self.scanners.matches(user_agent).is_none() {
            return false;
        }
        let ban = locked(&self.guard).handle_scan(now(), ip);
        let trusted = ban.is_none() && self.is_trusted(ip);
        self.made(ban);
        !trusted
    }

    /// `ip` sent `count` messages within the pike window.
    pub fn flood(&self, ip: IpAddr, count: u32) {
        let ban = locked(&self.guard).handle_flood(now(), ip, count);
        self.made(ban);
    }

    /// The bans now, longest-standing first.
    pub fn list(&self) -> Vec<BanInfo> {
        let t = now();
        let g = locked(&self.guard);
        let mut bans: Vec<&Ban> = g.bans().iter().filter(|b| t < b.until).collect();
        bans.sort_by_key(|b| (b.since, b.ip));
        bans.into_iter().map(|b| BanInfo::of(b, t)).collect()
    }

    /// The operator lifts the ban of `ip`; the ban, if there was one.
    pub fn lift(&self, ip: IpAddr) -> Option<BanInfo> {
        let t = now();
        let ban = locked(&self.guard).lift(ip)?;
        info!(target: LOG_TARGET, "{}", lift_line(&ban, Lift::Operator));
        self.publish();
        Some(BanInfo::of(&ban, t))
    }

    /// Lifts the bans whose time is up, and now and then forgets stale counters.
    pub fn sweep(&self) {
        let t = now();
        let mut lifted = false;
        {
            let mut g = locked(&self.guard);
            while let Some(ban) = g.poll_expired(t) {
                info!(target: LOG_TARGET, "{}", lift_line(&ban, Lift::Expired));
                lifted = true;
            }
            let mut last = locked(&self.last_prune);
            if last.is_none_or(|l| t.saturating_duration_since(l) >= Duration::from_secs(10)) {
                *last = Some(t);
                g.prune(t);
                self.abuse.prune(t);
            }
        }
        if lifted {
            self.publish();
        }
    }

    fn made(&self, ban: Option<Ban>) {
        let Some(ban) = ban else { return };
        warn!(target: LOG_TARGET, "{}", ban.log_line());
        self.metrics
            .bans
            .get_or_create(&ReasonLabel {
                reason: ban.reason.as_str(),
            })
            .inc();
        self.publish();
    }

    /// Publishes the banned set to the receive paths.
    fn publish(&self) {
        let set: FxHashMap<IpAddr, Instant> = locked(&self.guard)
            .bans()
            .iter()
            .map(|b| (b.ip, b.until))
            .collect();
        self.metrics.banned_sources.set(set.len() as i64);
        let mut snap = locked(&self.snapshot);
        *snap = Arc::new(set);
        self.version.fetch_add(1, Ordering::Release);
    }
}

/// Why an abuse limit refused, and how long until it would allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub limit: &'static str,
    pub retry_after: Duration,
}

impl Refused {
    /// Whole seconds for a `Retry-After` header (at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        let s = self.retry_after.as_secs();
        if self.retry_after.subsec_nanos() > 0 {
            s + 1
        } else {
            s.max(1)
        }
    }
}

const HOUR: Duration = Duration::from_secs(3600);

/// The abuse limits: messages to numbers nobody signed up, one-time-password SMS, dynamic
/// accounts.
pub struct Abuse {
    unregistered_by_source: Mutex<Quota<IpAddr>>,
    unregistered_by_number: Mutex<Quota<Aor>>,
    otp_by_number: Mutex<Quota<Aor>>,
    dynamic_by_source: Mutex<Quota<IpAddr>>,
    trusted: Vec<switchboard_engine::security::Network>,
    metrics: Arc<Metrics>,
}

impl Abuse {
    fn new(config: &Config, metrics: Arc<Metrics>) -> Abuse {
        let (m, a) = (&config.messaging, &config.accounts);
        Abuse {
            unregistered_by_source: Mutex::new(Quota::new(QuotaRule::per(
                m.unregistered_per_source_per_hour,
                HOUR,
            ))),
            unregistered_by_number: Mutex::new(Quota::new(QuotaRule::per(
                m.unregistered_per_number_per_hour,
                HOUR,
            ))),
            otp_by_number: Mutex::new(Quota::new(QuotaRule {
                max: a.otp_per_number,
                window: Duration::from_secs(a.otp_window_secs),
                min_gap: Duration::from_secs(a.otp_min_interval_secs),
            })),
            dynamic_by_source: Mutex::new(Quota::new(QuotaRule::per(
                a.dynamic_per_source_per_hour,
                HOUR,
            ))),
            trusted: config.security.policy().trusted,
            metrics,
        }
    }

    fn trusted(&self, ip: Option<IpAddr>) -> bool {
        ip.is_some_and(|ip| self.trusted.iter().any(|n| n.contains(ip)))
    }

    fn refused(&self, limit: &'static str, retry_after: Duration) -> Refused {
        self.metrics
            .abuse_refusals
            .get_or_create(&LimitLabel { limit })
            .inc();
        Refused { limit, retry_after }
    }

    /// A message from `source` is to be stored for `to`, a number nobody signed up: counted
    /// against both quotas, or refused (counting nothing).
    pub fn unregistered_message(&self, source: Option<IpAddr>, to: &Aor) -> Result<(), Refused> {
        let t = now();
        let source = source.filter(|_| !self.trusted(source));
        let mut by_source = locked(&self.unregistered_by_source);
        let mut by_number = locked(&self.unregistered_by_number);
        if let Some(ip) = source {
            let wait = by_source.wait(t, &ip);
            if !wait.is_zero() || by_source.rule().max == 0 {
                return Err(self.refused("unregistered_source", wait.max(Duration::from_secs(1))));
            }
        }
        by_number
            .take(t, to)
            .map_err(|w| self.refused("unregistered_number", w))?;
        if let Some(ip) = source {
            by_source
                .take(t, &ip)
                .map_err(|w| self.refused("unregistered_source", w))?;
        }
        Ok(())
    }

    /// A one-time password is to be sent to `number` by SMS.
    pub fn otp(&self, number: &Aor) -> Result<(), Refused> {
        locked(&self.otp_by_number)
            .take(now(), number)
            .map_err(|w| self.refused("otp", w))
    }

    /// `source` is to make a dynamic account.
    pub fn dynamic_account(&self, source: Option<IpAddr>) -> Result<(), Refused> {
        let Some(ip) = source.filter(|_| !self.trusted(source)) else {
            return Ok(());
        };
        locked(&self.dynamic_by_source)
            .take(now(), &ip)
            .map_err(|w| self.refused("dynamic_source", w))
    }

    fn prune(&self, t: Instant) {
        locked(&self.unregistered_by_source).prune(t);
        locked(&self.unregistered_by_number).prune(t);
        locked(&self.otp_by_number).prune(t);
        locked(&self.dynamic_by_source).prune(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Result<Config, crate::config::ConfigError> {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sb-sec-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.toml");
        std::fs::write(&f, extra).unwrap();
        let c = Config::load(Some(&f));
        let _ = std::fs::remove_dir_all(&dir);
        c
    }

    fn security(extra: &str) -> Arc<Security> {
        Security::new(&config(extra).unwrap(), Arc::new(Metrics::new()))
    }

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let c = Config::load(None).unwrap();
        let p = c.security.policy();
        assert_eq!(p.ban, Duration::from_secs(300));
        assert_eq!(
            (p.failures, p.failure_window),
            (10, Duration::from_secs(600))
        );
        assert_eq!(
            (p.pike_requests, p.pike_window),
            (16, Duration::from_secs(2))
        );
        assert!(p.trusted.is_empty(), "loopback is not trusted by default");
        assert_eq!(c.security.scanner_user_agents.len(), 7);
        let a = &c.accounts;
        assert_eq!(
            (a.otp_per_number, a.otp_window_secs, a.otp_min_interval_secs),
            (3, 600, 60)
        );
        assert_eq!(a.dynamic_per_source_per_hour, 10);
        let m = &c.messaging;
        assert_eq!(
            (
                m.unregistered_per_source_per_hour,
                m.unregistered_per_number_per_hour
            ),
            (30, 10)
        );
    }

    #[test]
    fn settings_that_cannot_work_name_their_key() {
        let e = config("[security]\ntrusted = [\"10.0.0.0/33\"]\n").unwrap_err();
        assert!(e.to_string().contains("security.trusted"), "{e}");
        let e = config("[security]\nban_secs = 0\n").unwrap_err();
        assert!(e.to_string().contains("security.ban_secs"), "{e}");
        let e = config("[security]\npike_window_secs = 0\n").unwrap_err();
        assert!(e.to_string().contains("security.pike_window_secs"), "{e}");
    }

    #[test]
    fn a_view_sees_a_ban_and_its_lift() {
        let s = security("[security]\nfailures = 2\n");
        let mut v = s.view();
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        assert!(!s.is_banned(&mut v, ip, now()));
        s.failure(ip, Reason::BadDigest);
        assert!(!s.is_banned(&mut v, ip, now()));
        s.failure(ip, Reason::BadDigest);
        assert!(s.is_banned(&mut v, ip, now()));
        assert_eq!(s.list()[0].reason, "bad_digest");
        assert_eq!(s.list()[0].ban_secs, 300);
        assert!(s.lift(ip).is_some());
        assert!(!s.is_banned(&mut v, ip, now()));
        assert!(s.list().is_empty());
    }

    #[test]
    fn trusted_sources_are_not_banned_for_a_scanner_agent() {
        let s = security("[security]\ntrusted = [\"192.0.2.0/24\"]\n");
        assert!(!s.scanner("192.0.2.7".parse().unwrap(), "friendly-scanner"));
        assert!(s.scanner("198.51.100.7".parse().unwrap(), "friendly-scanner"));
        assert!(!s.scanner("198.51.100.8".parse().unwrap(), "Linphone/5"));
        assert_eq!(s.list().len(), 1);
    }

    #[test]
    fn unregistered_messages_are_limited_per_number_and_per_source() {
        let s = security(
            "[messaging]\nunregistered_per_source_per_hour = 3\nunregistered_per_number_per_hour = 2\n",
        );
        let a = Aor::from_canonical("+821011112222");
        let b = Aor::from_canonical("+821033334444");
        let src: Option<IpAddr> = Some("198.51.100.1".parse().unwrap());
        assert!(s.abuse.unregistered_message(src, &a).is_ok());
        assert!(s.abuse.unregistered_message(src, &a).is_ok());
        let r = s.abuse.unregistered_message(src, &a).unwrap_err();
        assert_eq!(r.limit, "unregistered_number");
        assert_eq!(r.retry_after_secs(), 3600);
        assert!(s.abuse.unregistered_message(src, &b).is_ok());
        let r = s.abuse.unregistered_message(src, &b).unwrap_err();
        assert_eq!(r.limit, "unregistered_source");
    }
}
