//! A routing decision, in types that hold only what the decision grammar allows.
//!
//! Whoever decides (the built-in router or an operator's plugin) hands over plain strings;
//! they become a `Decision` only through the checks here: numbers and names go through the
//! numbering plan's closed grammar, SIP URIs are taken apart and rebuilt from their checked
//! parts (no headers, no parameters but `transport` and `user=phone`), trunk numbers are `+`
//! and digits, reason phrases are short printable ASCII. Nothing a decision carries can add
//! a header, a parameter or another host to what the switch sends.

use std::time::Duration;

use crate::numbering::{is_trunk_name, Aor, Classifier, Destination};
use crate::sip::{uri, Scheme, Uri};

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Ring every registered device of a subscriber; the fallbacks take the call when the
    /// devices are busy, do not answer, or none is registered.
    Deliver { aor: Aor, otherwise: Fallbacks },
    /// Send the call on to another address, which is routed in turn (a forwarding hop).
    Forward {
        target: Target,
        reason: DiversionReason,
    },
    /// Send the request out through a trunk group with this number.
    Trunk { group: String, number: String },
    /// Refuse with a status and reason.
    Reject { code: u16, reason: String },
}

/// A decision with what the router asks of the call's media besides where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub decision: Decision,
    pub media: MediaHints,
}

impl From<Decision> for Routed {
    fn from(decision: Decision) -> Routed {
        Routed {
            decision,
            media: MediaHints::default(),
        }
    }
}

/// What a router asks of a call's media (a plugin's `anchor` and `record` fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaHints {
    /// `Some(true)`: relay the call's media through the switch; `Some(false)`: let it flow
    /// directly (unless it is recorded); `None`: the operator's `media.anchor` policy decides.
    pub anchor: Option<bool>,
    /// Record the call (its media is then anchored).
    pub record: bool,
}

impl MediaHints {
    /// Hints of a later hop add to those of an earlier one: a recording asked for stays
    /// asked for, and the latest word on anchoring wins.
    pub fn merge(self, later: MediaHints) -> MediaHints {
        MediaHints {
            anchor: later.anchor.or(self.anchor),
            record: self.record || later.record,
        }
    }
}

/// Conditional forwards of a delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fallbacks {
    /// Where the call goes when every device answers busy (486, 600, 603).
    pub busy: Option<Target>,
    /// Where the call goes when no device answers within the ring time.
    pub no_answer: Option<(Target, Duration)>,
    /// Where the call goes when no device is registered.
    pub unreachable: Option<Target>,
}

impl Fallbacks {
    /// These fallbacks, with the subscriber's mailbox taking the call where none is set: busy,
    /// not answered within `ring`, or no device registered.
    pub fn or_voicemail(self, ring: Duration) -> Fallbacks {
        Fallbacks {
            busy: self.busy.or(Some(Target::Voicemail)),
            no_answer: self.no_answer.or(Some((Target::Voicemail, ring))),
            unreachable: self.unreachable.or(Some(Target::Voicemail)),
        }
    }
}

/// Where a forward sends a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An address of the numbering plan (classified; a directory address already resolved
    /// to its owner when the directory knows it).
    Address(Destination),
    /// A SIP URI of another domain, rebuilt from its checked parts.
    Uri(String),
    /// The mailbox of the subscriber the call was for (the text [`VOICEMAIL`], or `*97`): the
    /// switch answers and the caller leaves a message.
    Voicemail,
}

/// The forwarding target that sends a call to the subscriber's own mailbox.
pub const VOICEMAIL: &str = "voicemail";

/// Why a call left an address (RFC 5806 `reason` values; RFC 4458 cause codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiversionReason {
    Unconditional,
    UserBusy,
    NoAnswer,
    /// No device registered.
    Unavailable,
    TimeOfDay,
    DoNotDisturb,
    Deflection,
    FollowMe,
    Away,
    Unknown,
}

/// Why a decision was refused. Names the part at fault, never its value (a decision may
/// carry phone numbers, which stay out of logs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecisionError {
    #[error("unknown decision {0:?}; expected deliver, forward, trunk or reject")]
    Action(String),
    #[error("decision field {0}: missing or of the wrong type")]
    Field(&'static str),
    #[error("decision field {0}: unknown")]
    UnknownField(String),
    #[error("{0}: not a number, name or address of the plan, nor a plain SIP URI")]
    Target(&'static str),
    #[error("deliver: not one of our subscribers")]
    NotSubscriber,
    #[error("trunk number: + and up to 24 digits")]
    Number,
    #[error("trunk name: letters, digits, - and _ (at most 32)")]
    TrunkName,
    #[error("reject code: 400 to 699 (but not 401 or 407)")]
    Code,
    #[error("reject reason: 1 to 64 printable ASCII characters")]
    Reason,
    #[error("ring time: 5 to 300 seconds")]
    RingTime,
    #[error("unknown diversion reason")]
    DiversionReason,
}

impl Decision {
    /// `deliver(number)`: `number` must reach one of our subscribers.
    pub fn deliver(plan: &dyn Classifier, number: &str) -> Result<Decision, DecisionError> {
        let d = plan
            .classify(number)
            .map_err(|_| DecisionError::NotSubscriber)?;
        let aor = plan
            .plan()
            .subscriber_of(&plan.plan().resolve(d))
            .ok_or(DecisionError::NotSubscriber)?;
        Ok(Decision::Deliver {
            aor,
            otherwise: Fallbacks::default(),
        })
    }

    /// `trunk(group, number)`.
    pub fn trunk(group: &str, number: &str) -> Result<Decision, DecisionError> {
        if !is_trunk_name(group) {
            return Err(DecisionError::TrunkName);
        }
        let digits = number.strip_prefix('+').unwrap_or(number);
        if digits.is_empty() || digits.len() > 24 || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(DecisionError::Number);
        }
        Ok(Decision::Trunk {
            group: group.to_owned(),
            number: number.to_owned(),
        })
    }

    /// `reject(code, reason)`.
    pub fn reject(code: u16, reason: &str) -> Result<Decision, DecisionError> {
        if !(400..=699).contains(&code) || code == 401 || code == 407 {
            return Err(DecisionError::Code);
        }
        let ok =
            (1..=64).contains(&reason.len()) && reason.bytes().all(|c| (0x20..0x7f).contains(&c));
        if !ok {
            return Err(DecisionError::Reason);
        }
        Ok(Decision::Reject {
            code,
            reason: reason.to_owned(),
        })
    }
}

/// A ring time for no-answer forwarding.
pub fn ring_time(secs: u64) -> Result<Duration, DecisionError> {
    if (5..=300).contains(&secs) {
        Ok(Duration::from_secs(secs))
    } else {
        Err(DecisionError::RingTime)
    }
}

impl Target {
    /// Reads a forwarding target: a number, name or address of the plan, or a SIP URI. A
    /// SIP URI whose host is ours (`ours`) is the address its user part names. `field` names
    /// the decision field in errors.
    pub fn parse(
        plan: &dyn Classifier,
        text: &str,
        ours: &dyn Fn(&str) -> bool,
        field: &'static str,
    ) -> Result<Target, DecisionError> {
        let bad = || DecisionError::Target(field);
        if text.eq_ignore_ascii_case(VOICEMAIL) || text == "*97" {
            return Ok(Target::Voicemail);
        }
        let lower = text.get(..5).map(str::to_ascii_lowercase);
        let is_uri = lower
            .as_deref()
            .is_some_and(|p| p.starts_with("sip:") || p == "sips:");
        if !is_uri {
            return match plan.classify(text) {
                Ok(Destination::Feature(_)) | Err(_) => Err(bad()),
                Ok(d) => Ok(Target::Address(plan.plan().resolve(d))),
            };
        }
        let u = Uri::parse(text).map_err(|_| bad())?;
        if !matches!(u.scheme(), Scheme::Sip | Scheme::Sips)
            || !u.headers().is_empty()
            || u.password().is_some()
            || !uri::valid_host(u.host())
        {
            return Err(bad());
        }
        let user = u.user_unescaped();
        if ours(u.host()) {
            let user = user.ok_or_else(bad)?;
            return Target::parse(plan, &user, &|_| false, field);
        }
        let user_ok = |s: &str| {
            (1..=64).contains(&s.len())
                && s.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'.' | b'-' | b'_'))
        };
        let mut out = String::with_capacity(text.len());
        out.push_str(if u.scheme() == Scheme::Sips {
            "sips:"
        } else {
            "sip:"
        });
        if let Some(user) = &user {
            if !user_ok(user) {
                return Err(bad());
            }
            out.push_str(user);
            out.push('@');
        }
        out.push_str(&u.host().to_ascii_lowercase());
        if let Some(p) = u.port() {
            out.push(':');
            out.push_str(&p.to_string());
        }
        for param in u.params().split(';').filter(|p| !p.is_empty()) {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            match (
                name.to_ascii_lowercase().as_str(),
                value.to_ascii_lowercase().as_str(),
            ) {
                ("transport", v @ ("udp" | "tcp")) => {
                    out.push_str(";transport=");
                    out.push_str(v);
                }
                ("user", "phone") => out.push_str(";user=phone"),
                _ => return Err(bad()),
            }
        }
        Ok(Target::Uri(out))
    }

    /// The text naming this target on a forwarding chain (loop detection, history): the
    /// canonical number or name, `local#0cc` for an enterprise number, the address of a
    /// directory lookup, or the URI.
    pub fn key(&self) -> String {
        match self {
            Target::Address(d) => destination_key(d),
            Target::Uri(u) => u.clone(),
            Target::Voicemail => VOICEMAIL.to_owned(),
        }
    }
}

/// The text naming a destination on a forwarding chain.
pub fn destination_key(d: &Destination) -> String {
    match d {
        Destination::Subscriber(a) | Destination::Pstn(a) => a.as_str().to_owned(),
        Destination::Personal { e164, .. } | Destination::Provider { e164, .. } => {
            e164.as_str().to_owned()
        }
        Destination::Enterprise { local, country } => format!("{local}#{country:03}"),
        Destination::Directory {
            user: Some(u),
            domain,
        } => format!("{u}@{domain}"),
        Destination::Directory { user: None, domain } => domain.clone(),
        Destination::Feature(_) => String::new(),
    }
}

impl DiversionReason {
    /// The RFC 5806 token.
    pub fn as_str(self) -> &'static str {
        match self {
            DiversionReason::Unconditional => "unconditional",
            DiversionReason::UserBusy => "user-busy",
            DiversionReason::NoAnswer => "no-answer",
            DiversionReason::Unavailable => "unavailable",
            DiversionReason::TimeOfDay => "time-of-day",
            DiversionReason::DoNotDisturb => "do-not-disturb",
            DiversionReason::Deflection => "deflection",
            DiversionReason::FollowMe => "follow-me",
            DiversionReason::Away => "away",
            DiversionReason::Unknown => "unknown",
        }
    }

    /// The RFC 4458 cause code put in the History-Info entry of the new target.
    pub fn cause(self) -> u16 {
        match self {
            DiversionReason::Unconditional => 302,
            DiversionReason::UserBusy => 486,
            DiversionReason::NoAnswer => 408,
            DiversionReason::Unavailable => 503,
            DiversionReason::Unknown => 404,
            _ => 480,
        }
    }

    pub fn parse(s: &str) -> Result<DiversionReason, DecisionError> {
        Ok(match s {
            "unconditional" => DiversionReason::Unconditional,
            "user-busy" | "busy" => DiversionReason::UserBusy,
            "no-answer" => DiversionReason::NoAnswer,
            "unavailable" | "unreachable" => DiversionReason::Unavailable,
            "time-of-day" => DiversionReason::TimeOfDay,
            "do-not-disturb" => DiversionReason::DoNotDisturb,
            "deflection" => DiversionReason::Deflection,
            "follow-me" => DiversionReason::FollowMe,
            "away" => DiversionReason::Away,
            "unknown" => DiversionReason::Unknown,
            _ => return Err(DecisionError::DiversionReason),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::numbering::NumberingPlan;

    fn plan() -> NumberingPlan {
        NumberingPlan::new("KR")
            .unwrap()
            .with_own_ranges(vec!["+8211".into()])
            .with_directory_entry("kim@acme.example", "1001")
            .unwrap()
    }

    fn target(s: &str) -> Result<Target, DecisionError> {
        Target::parse(&plan(), s, &|h| h == "switchboard.local", "forward")
    }

    #[test]
    fn voicemail_and_star_97_name_the_mailbox_and_nothing_else_does() {
        let plan = crate::numbering::NumberingPlan::new("KR").unwrap();
        for text in ["voicemail", "VoiceMail", "*97"] {
            assert_eq!(
                Target::parse(&plan, text, &|_| false, "t"),
                Ok(Target::Voicemail),
                "{text}"
            );
        }
        assert_eq!(Target::Voicemail.key(), VOICEMAIL);
        assert!(matches!(
            Target::parse(&plan, "voicemails", &|_| false, "t"),
            Ok(Target::Address(_))
        ));
    }

    #[test]
    fn targets_are_plan_addresses_or_rebuilt_uris() {
        assert_eq!(
            target("011-123-4567").unwrap(),
            Target::Address(Destination::Subscriber(Aor::from_canonical("+82111234567")))
        );
        assert_eq!(
            target("kim@acme.example").unwrap(),
            Target::Address(Destination::Subscriber(Aor::from_canonical("1001"))),
            "directory addresses resolve to their owner"
        );
        assert_eq!(
            target("sip:1001@switchboard.local").unwrap(),
            Target::Address(Destination::Subscriber(Aor::from_canonical("1001"))),
            "a URI at our own host is our address"
        );
        assert_eq!(
            target("SIP:Bob@Other.Example:5070;transport=TCP").unwrap(),
            Target::Uri("sip:Bob@other.example:5070;transport=tcp".into())
        );
        assert_eq!(target("+12125551234").unwrap().key(), "+12125551234");
    }

    #[test]
    fn targets_refuse_what_could_inject() {
        for bad in [
            "",
            "*72 1001",
            "sip:bob@other.example?Subject=x",
            "sip:bob@other.example;maddr=10.0.0.1",
            "sip:bob:secret@other.example",
            "sip:bob%0d%0aVia:x@other.example",
            "sip:b<o>b@other.example",
            "tel:+1;x=<y>",
            "1001\r\nVia: x",
            "mailto:a@b.example",
        ] {
            assert!(target(bad).is_err(), "{bad:?} refused");
        }
    }

    #[test]
    fn decisions_check_their_fields() {
        let p = plan();
        assert!(matches!(
            Decision::deliver(&p, "0111234567"),
            Ok(Decision::Deliver { .. })
        ));
        assert_eq!(
            Decision::deliver(&p, "+12125551234"),
            Err(DecisionError::NotSubscriber),
            "a PSTN number is not a subscriber"
        );
        assert!(Decision::trunk("pstn", "+12125551234").is_ok());
        assert!(Decision::trunk("pstn", "0701234567").is_ok());
        assert_eq!(Decision::trunk("pstn", "+1;x"), Err(DecisionError::Number));
        assert_eq!(Decision::trunk("p s", "1"), Err(DecisionError::TrunkName));
        assert!(Decision::reject(486, "Busy Here").is_ok());
        assert_eq!(Decision::reject(200, "OK"), Err(DecisionError::Code));
        assert_eq!(Decision::reject(407, "x"), Err(DecisionError::Code));
        assert_eq!(
            Decision::reject(403, "a\r\nVia: x"),
            Err(DecisionError::Reason)
        );
        assert_eq!(ring_time(4), Err(DecisionError::RingTime));
        assert_eq!(ring_time(20), Ok(Duration::from_secs(20)));
    }

    #[test]
    fn diversion_reasons_have_tokens_and_causes() {
        for r in [
            "unconditional",
            "user-busy",
            "no-answer",
            "unavailable",
            "deflection",
        ] {
            assert_eq!(DiversionReason::parse(r).unwrap().as_str(), r);
        }
        assert_eq!(DiversionReason::UserBusy.cause(), 486);
        assert_eq!(DiversionReason::NoAnswer.cause(), 408);
        assert!(DiversionReason::parse("because").is_err());
    }
}
