//! Call forwarding kept on the server: a subscriber's settings and how feature codes change
//! them. Calls follow them through the router (`routing::PlainRouter` turns them into a
//! forward or a delivery's fallbacks) and `routing::RouteSequence` (chains hop by hop, with
//! loop protection and at most `MAX_HOPS` forwards).
//!
//! Targets are stored as the canonical text the numbering plan produced (`+82111234567`,
//! `1001`, `alice`, `kim@acme.example`) and classified again when a call uses them, so a
//! change of the plan applies to stored forwards too.

use crate::numbering::{Destination, Feature, ForwardKind};

/// Seconds a phone rings before no-answer forwarding takes the call, unless set otherwise.
pub const DEFAULT_RING_SECS: u16 = 20;

/// Most forwarding hops one call follows.
pub const MAX_HOPS: usize = 5;

/// One subscriber's forwarding settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct ForwardingRecord {
    /// Every call goes here.
    pub always: Option<String>,
    /// Calls the subscriber's phones answer busy go here.
    pub busy: Option<String>,
    /// Calls not answered within `ring_secs` go here.
    pub no_answer: Option<NoAnswer>,
    /// Calls while no phone is registered go here.
    pub unreachable: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct NoAnswer {
    pub target: String,
    pub ring_secs: u16,
}

/// When a forward takes the call: always, or after the call's outcome at the subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Always,
    Busy,
    NoAnswer,
    Unreachable,
}

impl From<ForwardKind> for Condition {
    fn from(k: ForwardKind) -> Condition {
        match k {
            ForwardKind::Always => Condition::Always,
            ForwardKind::Busy => Condition::Busy,
            ForwardKind::NoAnswer => Condition::NoAnswer,
        }
    }
}

/// Why a forwarding chain was not followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForwardError {
    #[error("forwarding loops back to a number already on the chain")]
    Loop,
    #[error("more than {MAX_HOPS} forwarding hops")]
    TooManyHops,
    #[error("the feature code does not change forwarding")]
    NotForwarding,
    #[error("a forwarding target must be a subscriber, a number or an address")]
    BadTarget,
}

/// The canonical text a destination is stored as, when it can be a forwarding target (the
/// voicemail feature code, `*97`, is the subscriber's own mailbox: `voicemail`).
pub fn target_text(d: &Destination) -> Option<String> {
    match d {
        Destination::Subscriber(a) | Destination::Pstn(a) => Some(a.as_str().to_owned()),
        Destination::Personal { e164, .. } | Destination::Provider { e164, .. } => {
            Some(e164.as_str().to_owned())
        }
        Destination::Directory {
            user: Some(u),
            domain,
        } => Some(format!("{u}@{domain}")),
        Destination::Directory { user: None, domain } => Some(domain.clone()),
        Destination::Feature(Feature::Voicemail) => Some(crate::routing::VOICEMAIL.to_owned()),
        Destination::Enterprise { .. } | Destination::Feature(_) => None,
    }
}

impl ForwardingRecord {
    /// The settings after a forwarding feature code (`*72 <target>`, `*73`, ...).
    pub fn apply(&self, feature: &Feature) -> Result<ForwardingRecord, ForwardError> {
        let mut next = self.clone();
        match feature {
            Feature::SetForward { kind, target } => {
                let t = target_text(target).ok_or(ForwardError::BadTarget)?;
                next.set((*kind).into(), t, None);
            }
            Feature::ClearForward(kind) => next.clear((*kind).into()),
            Feature::Voicemail => return Err(ForwardError::NotForwarding),
        }
        Ok(next)
    }

    /// Forwards calls to `target` under `when`. A no-answer forward keeps its ring time
    /// unless `ring_secs` gives a new one.
    pub fn set(&mut self, when: Condition, target: String, ring_secs: Option<u16>) {
        match when {
            Condition::Always => self.always = Some(target),
            Condition::Busy => self.busy = Some(target),
            Condition::Unreachable => self.unreachable = Some(target),
            Condition::NoAnswer => {
                let ring_secs = ring_secs.or(self.ring_secs()).unwrap_or(DEFAULT_RING_SECS);
                self.no_answer = Some(NoAnswer { target, ring_secs });
            }
        }
    }

    pub fn clear(&mut self, when: Condition) {
        match when {
            Condition::Always => self.always = None,
            Condition::Busy => self.busy = None,
            Condition::NoAnswer => self.no_answer = None,
            Condition::Unreachable => self.unreachable = None,
        }
    }

    /// Where a call goes under `when`, when a forward is set for it.
    pub fn after(&self, when: Condition) -> Option<&str> {
        match when {
            Condition::Always => self.always.as_deref(),
            Condition::Busy => self.busy.as_deref(),
            Condition::NoAnswer => self.no_answer.as_ref().map(|n| n.target.as_str()),
            Condition::Unreachable => self.unreachable.as_deref(),
        }
    }

    /// How long the phones ring before no-answer forwarding, when it is set.
    pub fn ring_secs(&self) -> Option<u16> {
        self.no_answer.as_ref().map(|n| n.ring_secs)
    }

    pub fn is_empty(&self) -> bool {
        self == &ForwardingRecord::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numbering::{Aor, NumberingPlan};

    fn feature(plan: &NumberingPlan, dialed: &str) -> Feature {
        match plan.classify(dialed) {
            Ok(Destination::Feature(f)) => f,
            other => panic!("{dialed}: {other:?}"),
        }
    }

    #[test]
    fn feature_codes_set_and_clear_each_kind() {
        let plan = NumberingPlan::new("KR").unwrap();
        let r = ForwardingRecord::default();
        let r = r.apply(&feature(&plan, "*720111234567")).unwrap();
        assert_eq!(r.always.as_deref(), Some("+82111234567"));
        let r = r.apply(&feature(&plan, "*901001")).unwrap();
        assert_eq!(r.after(Condition::Busy), Some("1001"));
        let r = r.apply(&feature(&plan, "*92alice")).unwrap();
        assert_eq!(r.after(Condition::NoAnswer), Some("alice"));
        assert_eq!(r.ring_secs(), Some(DEFAULT_RING_SECS));
        assert_eq!(r.after(Condition::Unreachable), None);

        let r = r.apply(&feature(&plan, "*90*97")).unwrap();
        assert_eq!(r.after(Condition::Busy), Some("voicemail"), "the mailbox");
        let r = r.apply(&feature(&plan, "*901001")).unwrap();

        let r = r.apply(&feature(&plan, "*73")).unwrap();
        assert_eq!(r.always, None);
        let r = r.apply(&feature(&plan, "*91")).unwrap();
        let r = r.apply(&feature(&plan, "*93")).unwrap();
        assert!(r.is_empty());
        assert_eq!(
            r.apply(&feature(&plan, "*97")),
            Err(ForwardError::NotForwarding)
        );
    }

    #[test]
    fn a_changed_no_answer_target_keeps_its_ring_time() {
        let plan = NumberingPlan::new("KR").unwrap();
        let r = ForwardingRecord {
            no_answer: Some(NoAnswer {
                target: "1001".into(),
                ring_secs: 8,
            }),
            ..Default::default()
        };
        let r = r.apply(&feature(&plan, "*921002")).unwrap();
        assert_eq!(
            r.no_answer,
            Some(NoAnswer {
                target: "1002".into(),
                ring_secs: 8
            })
        );
    }

    #[test]
    fn enterprise_numbers_are_not_forwarding_targets() {
        let enterprise = Feature::SetForward {
            kind: ForwardKind::Always,
            target: Box::new(Destination::Enterprise {
                local: "62006200".into(),
                country: 82,
            }),
        };
        assert_eq!(
            ForwardingRecord::default().apply(&enterprise),
            Err(ForwardError::BadTarget)
        );
        let pstn = Destination::Pstn(Aor::from_canonical("+12125551234"));
        assert_eq!(target_text(&pstn).as_deref(), Some("+12125551234"));
    }

    #[test]
    fn records_round_trip_through_the_store_encoding() {
        let r = ForwardingRecord {
            always: None,
            busy: Some("1001".into()),
            no_answer: Some(NoAnswer {
                target: "kim@acme.example".into(),
                ring_secs: 15,
            }),
            unreachable: Some("+12125551234".into()),
        };
        let bytes = crate::store::encode(&r);
        assert_eq!(crate::store::decode::<ForwardingRecord>(&bytes).unwrap(), r);
    }
}
