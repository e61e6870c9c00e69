//! Forwarding administration: show, set and clear a subscriber's forwarding from the CLI
//! (stopped switch) or the control socket (running switch).
//!
//! Targets typed by an operator go through the numbering plan like a dialed number, and are
//! stored in the canonical form it gives.

use serde::{Deserialize, Serialize};
use switchboard_engine::forwarding::{target_text, Condition, ForwardError, ForwardingRecord};
use switchboard_engine::numbering::{Aor, Feature, NumberingPlan};
use switchboard_engine::routing::VOICEMAIL;

use crate::store::admin::accounts::{canonical, AccountError};
use crate::store::Store;

/// Which forwarding an operation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Always,
    Busy,
    NoAnswer,
    Unreachable,
    /// Every kind (clear only).
    All,
}

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Kind, String> {
        Ok(match s {
            "always" => Kind::Always,
            "busy" => Kind::Busy,
            "no-answer" => Kind::NoAnswer,
            "unreachable" => Kind::Unreachable,
            "all" => Kind::All,
            _ => return Err("one of always, busy, no-answer, unreachable, all".into()),
        })
    }
}

impl Kind {
    /// The condition this kind names; `None` for all of them.
    fn condition(self) -> Option<Condition> {
        match self {
            Kind::Always => Some(Condition::Always),
            Kind::Busy => Some(Condition::Busy),
            Kind::NoAnswer => Some(Condition::NoAnswer),
            Kind::Unreachable => Some(Condition::Unreachable),
            Kind::All => None,
        }
    }
}

/// A subscriber's forwarding as shown to operators.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardingSummary {
    pub always: Option<String>,
    pub busy: Option<String>,
    pub no_answer: Option<String>,
    pub ring_secs: Option<u16>,
    pub unreachable: Option<String>,
}

impl From<&ForwardingRecord> for ForwardingSummary {
    fn from(r: &ForwardingRecord) -> Self {
        ForwardingSummary {
            always: r.always.clone(),
            busy: r.busy.clone(),
            no_answer: r.no_answer.as_ref().map(|n| n.target.clone()),
            ring_secs: r.ring_secs(),
            unreachable: r.unreachable.clone(),
        }
    }
}

/// Forwarding failures beyond the account's own.
#[derive(Debug, thiserror::Error)]
pub enum ForwardingError {
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error("{0:?} is not a number, name or address to forward to")]
    Target(String),
    #[error("a subscriber cannot forward to itself")]
    ToSelf,
    #[error("ring time must be 5 to 300 seconds")]
    RingSecs,
    #[error("\"all\" can only be cleared")]
    SetAll,
    #[error("that feature code does not change forwarding")]
    NotForwarding,
}

fn subscriber(store: &Store, plan: &NumberingPlan, number: &str) -> Result<Aor, ForwardingError> {
    let aor = canonical(plan, number)?;
    if store.account(&aor).map_err(AccountError::from)?.is_none() {
        return Err(AccountError::Missing(aor.to_string()).into());
    }
    Ok(aor)
}

pub fn show(
    store: &Store,
    plan: &NumberingPlan,
    number: &str,
) -> Result<(Aor, ForwardingSummary), ForwardingError> {
    let aor = subscriber(store, plan, number)?;
    let rec = store.forwarding(&aor).map_err(AccountError::from)?;
    Ok((aor, (&rec).into()))
}

/// The text a forwarding target is stored as: the plan's canonical text, or `voicemail` (the
/// subscriber's own mailbox, also as `*97`).
fn stored_target(plan: &NumberingPlan, target: &str) -> Result<String, ForwardingError> {
    let bad = || ForwardingError::Target(target.to_owned());
    let target = target.trim();
    if target.eq_ignore_ascii_case(VOICEMAIL) {
        return Ok(VOICEMAIL.to_owned());
    }
    let dest = plan.classify(target).map_err(|_| bad())?;
    target_text(&dest).ok_or_else(bad)
}

pub fn set(
    store: &Store,
    plan: &NumberingPlan,
    number: &str,
    kind: Kind,
    target: &str,
    ring_secs: Option<u16>,
) -> Result<(Aor, ForwardingSummary), ForwardingError> {
    let when = kind.condition().ok_or(ForwardingError::SetAll)?;
    let aor = subscriber(store, plan, number)?;
    let t = stored_target(plan, target)?;
    if t == aor.as_str() {
        return Err(ForwardingError::ToSelf);
    }
    if ring_secs.is_some_and(|s| !(5..=300).contains(&s)) {
        return Err(ForwardingError::RingSecs);
    }
    let mut rec = store.forwarding(&aor).map_err(AccountError::from)?;
    rec.set(when, t, ring_secs);
    store
        .put_forwarding(&aor, &rec)
        .map_err(AccountError::from)?;
    Ok((aor, (&rec).into()))
}

pub fn clear(
    store: &Store,
    plan: &NumberingPlan,
    number: &str,
    kind: Kind,
) -> Result<(Aor, ForwardingSummary), ForwardingError> {
    let aor = subscriber(store, plan, number)?;
    let mut rec = store.forwarding(&aor).map_err(AccountError::from)?;
    match kind.condition() {
        Some(when) => rec.clear(when),
        None => rec = ForwardingRecord::default(),
    }
    store
        .put_forwarding(&aor, &rec)
        .map_err(AccountError::from)?;
    Ok((aor, (&rec).into()))
}

/// A feature code dialed by the subscriber `aor` (`*72 1002`, `*73`, ...), applied to its
/// settings.
pub fn apply_feature(
    store: &Store,
    aor: &Aor,
    feature: &Feature,
) -> Result<ForwardingSummary, ForwardingError> {
    if store.account(aor).map_err(AccountError::from)?.is_none() {
        return Err(AccountError::Missing(aor.to_string()).into());
    }
    if let Feature::SetForward { target, .. } = feature {
        if target_text(target).as_deref() == Some(aor.as_str()) {
            return Err(ForwardingError::ToSelf);
        }
    }
    let rec = store.forwarding(aor).map_err(AccountError::from)?;
    let next = rec.apply(feature).map_err(|e| match e {
        ForwardError::NotForwarding => ForwardingError::NotForwarding,
        _ => ForwardingError::Target("the dialed target".into()),
    })?;
    store
        .put_forwarding(aor, &next)
        .map_err(AccountError::from)?;
    Ok((&next).into())
}

/// Replaces all of a subscriber's forwarding at once (HTTP `PUT`); every target is checked
/// before anything is written.
pub fn replace(
    store: &Store,
    plan: &NumberingPlan,
    number: &str,
    want: &ForwardingSummary,
) -> Result<(Aor, ForwardingSummary), ForwardingError> {
    let aor = subscriber(store, plan, number)?;
    let check = |t: &Option<String>| -> Result<Option<String>, ForwardingError> {
        let Some(t) = t else { return Ok(None) };
        let text = stored_target(plan, t)?;
        if text == aor.as_str() {
            return Err(ForwardingError::ToSelf);
        }
        Ok(Some(text))
    };
    if want.ring_secs.is_some_and(|s| !(5..=300).contains(&s)) {
        return Err(ForwardingError::RingSecs);
    }
    let mut rec = ForwardingRecord {
        always: check(&want.always)?,
        busy: check(&want.busy)?,
        unreachable: check(&want.unreachable)?,
        no_answer: None,
    };
    if let Some(t) = check(&want.no_answer)? {
        rec.set(Condition::NoAnswer, t, want.ring_secs);
    }
    store
        .put_forwarding(&aor, &rec)
        .map_err(AccountError::from)?;
    Ok((aor, (&rec).into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(name: &str) -> (Store, NumberingPlan) {
        let d = std::env::temp_dir().join(format!("sb-fwd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let s = Store::open(&d, 100, 8).unwrap();
        let p = NumberingPlan::new("KR").unwrap();
        crate::store::admin::accounts::add(&s, &p, "sb", "1001", "pw-1001", 1).unwrap();
        (s, p)
    }

    #[test]
    fn set_show_and_clear_each_kind() {
        let (s, p) = setup("kinds");
        let (aor, f) = set(&s, &p, "1001", Kind::Always, "011-123-4567", None).unwrap();
        assert_eq!(aor.as_str(), "1001");
        assert_eq!(f.always.as_deref(), Some("+82111234567"));
        set(&s, &p, "1001", Kind::NoAnswer, "alice", Some(12)).unwrap();
        set(&s, &p, "1001", Kind::Busy, "kim@acme.example", None).unwrap();
        let (_, f) = set(&s, &p, "1001", Kind::Unreachable, "1002", None).unwrap();
        assert_eq!(
            f,
            ForwardingSummary {
                always: Some("+82111234567".into()),
                busy: Some("kim@acme.example".into()),
                no_answer: Some("alice".into()),
                ring_secs: Some(12),
                unreachable: Some("1002".into()),
            }
        );
        assert_eq!(show(&s, &p, "1001").unwrap().1, f);
        let (_, f) = clear(&s, &p, "1001", Kind::Busy).unwrap();
        assert_eq!(f.busy, None);
        assert!(f.always.is_some());
        let (_, f) = clear(&s, &p, "1001", Kind::All).unwrap();
        assert_eq!(f, ForwardingSummary::default());
    }

    #[test]
    fn voicemail_is_a_target_by_name_by_feature_code_and_in_a_replacement() {
        let (s, p) = setup("voicemail");
        let (_, f) = set(&s, &p, "1001", Kind::Busy, "VoiceMail", None).unwrap();
        assert_eq!(f.busy.as_deref(), Some("voicemail"));
        let aor = Aor::from_canonical("1001");
        let star = match p.classify("*92*97").unwrap() {
            switchboard_engine::numbering::Destination::Feature(f) => f,
            other => panic!("{other:?}"),
        };
        let f = apply_feature(&s, &aor, &star).unwrap();
        assert_eq!(f.no_answer.as_deref(), Some("voicemail"));
        let want = ForwardingSummary {
            unreachable: Some("voicemail".into()),
            ..Default::default()
        };
        let (_, got) = replace(&s, &p, "1001", &want).unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn feature_codes_and_replacement_change_the_stored_settings() {
        let (s, p) = setup("feature");
        let aor = Aor::from_canonical("1001");
        let feature = |d: &str| match p.classify(d).unwrap() {
            switchboard_engine::numbering::Destination::Feature(f) => f,
            other => panic!("{other:?}"),
        };
        let f = apply_feature(&s, &aor, &feature("*72 011-123-4567")).unwrap();
        assert_eq!(f.always.as_deref(), Some("+82111234567"));
        assert!(matches!(
            apply_feature(&s, &aor, &feature("*721001")),
            Err(ForwardingError::ToSelf)
        ));
        let f = apply_feature(&s, &aor, &feature("*73")).unwrap();
        assert_eq!(f, ForwardingSummary::default());
        assert!(apply_feature(&s, &Aor::from_canonical("1009"), &feature("*73")).is_err());

        let want = ForwardingSummary {
            busy: Some("alice".into()),
            no_answer: Some("0111234567".into()),
            ring_secs: Some(9),
            ..Default::default()
        };
        let (_, got) = replace(&s, &p, "1001", &want).unwrap();
        assert_eq!(got.no_answer.as_deref(), Some("+82111234567"));
        assert_eq!(got.ring_secs, Some(9));
        assert_eq!(show(&s, &p, "1001").unwrap().1, got);
        let bad = ForwardingSummary {
            always: Some("1001".into()),
            ..Default::default()
        };
        assert!(matches!(
            replace(&s, &p, "1001", &bad),
            Err(ForwardingError::ToSelf)
        ));
        assert_eq!(
            show(&s, &p, "1001").unwrap().1,
            got,
            "nothing written on error"
        );
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        let (s, p) = setup("bad");
        let e = |r: Result<(Aor, ForwardingSummary), ForwardingError>| r.unwrap_err().to_string();
        assert!(e(set(&s, &p, "1009", Kind::Always, "1002", None)).contains("no account 1009"));
        assert!(e(set(&s, &p, "1001", Kind::Always, "1001", None)).contains("itself"));
        assert!(e(set(&s, &p, "1001", Kind::Always, "*73", None)).contains("to forward to"));
        assert!(e(set(&s, &p, "1001", Kind::Always, "6200#082", None)).contains("to forward to"));
        assert!(e(set(&s, &p, "1001", Kind::NoAnswer, "1002", Some(1))).contains("ring time"));
        assert!(e(set(&s, &p, "1001", Kind::All, "1002", None)).contains("only be cleared"));
        assert!(show(&s, &p, "1001").unwrap().1 == ForwardingSummary::default());
    }
}
