//! Flood bans and abuse limits: who may keep talking to the switch.
//!
//! Sans-IO, on injected time. The shells report what a source did (a wrong digest, a request
//! for a number nobody has, a scanner's User-Agent, a malformed message, a flood) and the
//! machines here decide:
//!
//! - `failures`: failures per source address within a window (fail2ban's `maxretry` per
//!   `findtime`, default 10 per 600 s), and the streak of challenges a source leaves
//!   unanswered (a first 401/407 is how digest starts; the second in a row with no success
//!   between counts as a failure);
//! - `pike`: requests per source within a short window (Kamailio's pike: 16 per 2 s);
//! - `scanner`: User-Agents of known scanners (one such request bans at once);
//! - `bans`: the ban table: who is banned, why, until when; expiry and lifting;
//! - `guard`: the three put together under one `Policy`, with the trusted networks that are
//!   never banned;
//! - `quota`: per-key quotas for the abuse limits (messages to numbers nobody signed up,
//!   one-time-password SMS, dynamic accounts): at most N per window, optionally a minimum gap,
//!   with the wait until the next one is allowed (a `Retry-After`);
//! - `network`: address/prefix networks (`trusted`).
//!
//! Guarantees: a trusted source is never banned; a ban lasts `Policy::ban` from when it was
//! made unless lifted; every ban and lift is returned to the caller exactly once (to log and
//! count); memory per source is bounded (failure times are capped at the threshold, idle
//! sources are pruned).
//!
//! The security log lines (`Ban::log_line`, `lift_line`) have one stable format, documented
//! in ARCHITECTURE.md and matched by `docs/fail2ban/switchboard.conf`.

pub mod bans;
pub mod failures;
pub mod guard;
pub mod network;
pub mod pike;
pub mod quota;
pub mod scanner;

pub use bans::{lift_line, Ban, Bans, Lift};
pub use failures::Failures;
pub use guard::{Guard, Policy};
pub use network::Network;
pub use pike::{Pike, RateWindow};
pub use quota::{Quota, QuotaRule};
pub use scanner::ScannerAgents;

/// What a source did wrong; also why it was banned (the `reason=` of the log line and the
/// label of `switchboard_bans_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Credentials with a wrong digest (a wrong password, an unknown user, a replay).
    BadDigest,
    /// Requests without credentials, again and again past the challenge.
    Unauthenticated,
    /// A request for a number or name nobody has.
    UnknownNumber,
    /// A known scanner's User-Agent.
    Scanner,
    /// A message that does not parse or validate.
    Malformed,
    /// More requests than the pike rate allows.
    Flood,
}

impl Reason {
    /// The stable name used in log lines, metrics and the HTTP API.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::BadDigest => "bad_digest",
            Reason::Unauthenticated => "unauthenticated",
            Reason::UnknownNumber => "unknown_number",
            Reason::Scanner => "scanner",
            Reason::Malformed => "malformed",
            Reason::Flood => "flood",
        }
    }

    /// Every reason, for metrics that show zero before the first ban.
    pub const ALL: [Reason; 6] = [
        Reason::BadDigest,
        Reason::Unauthenticated,
        Reason::UnknownNumber,
        Reason::Scanner,
        Reason::Malformed,
        Reason::Flood,
    ];
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
