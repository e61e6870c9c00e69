//! The built-in router: the switch's own routing without a plugin, and what a plugin falls
//! back to when none of its `route` functions decides.
//!
//! - our subscribers (and personal numbers in our ranges, enterprise numbers whose branch is a
//!   subscriber): unconditional forwarding first, else ring the devices with the
//!   subscriber's busy, no-answer and unreachable forwards as fallbacks (calls only);
//! - PSTN numbers and personal numbers outside our ranges: the `pstn` trunk group;
//! - other providers' numbers: the trunk group named after the provider, with the digits in
//!   the provider's format;
//! - enterprise numbers whose branch is a trunk: that trunk with the local number;
//! - directory addresses nobody owns, unknown enterprise branches: 404.
//!
//! `plugins/default.lua` implements the same routing in Lua.

use crate::forwarding::ForwardingRecord;
use crate::numbering::{Aor, Branch, Classifier, Destination, MemoPlan, NumberingPlan};
use crate::sip::Method;

use super::{ring_time, Decision, DiversionReason, Fallbacks, RouteRequest, Target};

/// Trunk group of the PSTN gateway(s).
pub const PSTN_GROUP: &str = "pstn";

/// Entries of the router's memo of classified numbers (stored forwarding targets).
const MEMO: usize = 4096;

#[derive(Debug, Clone)]
pub struct PlainRouter {
    plan: MemoPlan,
}

impl PlainRouter {
    pub fn new(plan: NumberingPlan) -> PlainRouter {
        PlainRouter {
            plan: MemoPlan::new(plan, MEMO),
        }
    }

    pub fn plan(&self) -> &NumberingPlan {
        self.plan.plan()
    }

    /// The plan with this router's memo: what decisions are read with.
    pub fn classifier(&self) -> &MemoPlan {
        &self.plan
    }

    /// The decision for a request.
    pub fn decide(&self, req: &RouteRequest<'_>) -> Decision {
        let not_found = || Decision::Reject {
            code: 404,
            reason: "Not Found".into(),
        };
        let trunk = |group: &str, number: &str| Decision::Trunk {
            group: group.to_owned(),
            number: number.to_owned(),
        };
        let plan = self.plan.plan();
        match req.destination {
            Destination::Subscriber(a) => self.subscriber(a, req),
            Destination::Personal { e164, .. } if plan.is_own(e164.as_str()) => {
                self.subscriber(e164, req)
            }
            Destination::Personal { e164, .. } | Destination::Pstn(e164) => {
                trunk(PSTN_GROUP, e164.as_str())
            }
            Destination::Provider { provider, dial, .. } => trunk(provider, dial),
            Destination::Enterprise { local, country } => match plan.branch(local, *country) {
                Some(Branch::Subscriber(a)) => self.subscriber(a, req),
                Some(Branch::Trunk(t)) => trunk(t, local),
                None => not_found(),
            },
            Destination::Directory { .. } | Destination::Feature(_) => not_found(),
        }
    }

    fn subscriber(&self, aor: &Aor, req: &RouteRequest<'_>) -> Decision {
        let plain = Decision::Deliver {
            aor: aor.clone(),
            otherwise: Fallbacks::default(),
        };
        let Some(callee) = req.callee else {
            return plain;
        };
        if req.method != Method::Invite {
            return plain;
        }
        let f = &callee.forwarding;
        if let Some(t) = f.always.as_deref().and_then(|t| self.target(t)) {
            return Decision::Forward {
                target: t,
                reason: DiversionReason::Unconditional,
            };
        }
        Decision::Deliver {
            aor: aor.clone(),
            otherwise: self.fallbacks(f),
        }
    }

    /// The conditional forwards of stored settings (targets that no longer classify, after a
    /// change of the plan, are skipped).
    pub fn fallbacks(&self, f: &ForwardingRecord) -> Fallbacks {
        Fallbacks {
            busy: f.busy.as_deref().and_then(|t| self.target(t)),
            no_answer: f.no_answer.as_ref().and_then(|n| {
                let t = self.target(&n.target)?;
                Some((t, ring_time(u64::from(n.ring_secs)).ok()?))
            }),
            unreachable: f.unreachable.as_deref().and_then(|t| self.target(t)),
        }
    }

    fn target(&self, stored: &str) -> Option<Target> {
        Target::parse(&self.plan, stored, &|_| false, "forwarding").ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forwarding::NoAnswer;
    use crate::numbering::NumberFormat;
    use crate::numbering::Provider;
    use crate::routing::CalleeState;
    use std::time::Duration;

    fn router() -> PlainRouter {
        let plan = NumberingPlan::new("KR")
            .unwrap()
            .with_own_ranges(vec!["+8211".into()])
            .with_provider(Provider {
                name: "kt".into(),
                prefixes: vec!["+8270".into()],
                format: NumberFormat {
                    national: true,
                    ..Default::default()
                },
            })
            .with_branch(
                "6200-6200",
                82,
                Branch::Subscriber(Aor::from_canonical("1001")),
            )
            .unwrap()
            .with_branch("6200-6200", 1, Branch::Trunk("us-branch".into()))
            .unwrap()
            .with_directory_entry("kim@acme.example", "0111234567")
            .unwrap();
        PlainRouter::new(plan)
    }

    fn decide(r: &PlainRouter, dialed: &str, callee: Option<&CalleeState>) -> Decision {
        let d = r.plan().resolve(r.plan().classify(dialed).unwrap());
        r.decide(&RouteRequest {
            method: Method::Invite,
            dialed,
            destination: &d,
            caller: None,
            time: 0,
            callee,
            history: &[],
        })
    }

    fn sub(s: &str) -> Aor {
        Aor::from_canonical(s)
    }

    #[test]
    fn every_kind_of_destination_has_its_route() {
        let r = router();
        let deliver = |a: &str| Decision::Deliver {
            aor: sub(a),
            otherwise: Fallbacks::default(),
        };
        let trunk = |g: &str, n: &str| Decision::Trunk {
            group: g.into(),
            number: n.into(),
        };
        assert_eq!(decide(&r, "011-123-4567", None), deliver("+82111234567"));
        assert_eq!(
            decide(&r, "kim@acme.example", None),
            deliver("+82111234567")
        );
        assert_eq!(decide(&r, "6200-6200#082", None), deliver("1001"));
        assert_eq!(
            decide(&r, "6200-6200#001", None),
            trunk("us-branch", "62006200")
        );
        assert_eq!(
            decide(&r, "+1 212 555 1234", None),
            trunk("pstn", "+12125551234")
        );
        assert_eq!(
            decide(&r, "02-6200-6200-082", None),
            trunk("pstn", "+82262006200")
        );
        assert_eq!(
            decide(&r, "070-1234-5678", None),
            trunk("kt", "07012345678")
        );
        for unknown in ["lee@acme.example", "6200-6200#081"] {
            assert_eq!(
                decide(&r, unknown, None),
                Decision::Reject {
                    code: 404,
                    reason: "Not Found".into()
                }
            );
        }
    }

    #[test]
    fn forwarding_settings_become_forwards_and_fallbacks() {
        let r = router();
        let mut callee = CalleeState {
            aor: Some(sub("1001")),
            account: true,
            devices: 1,
            voicemail: false,
            forwarding: ForwardingRecord {
                busy: Some("1002".into()),
                no_answer: Some(NoAnswer {
                    target: "+12125551234".into(),
                    ring_secs: 15,
                }),
                unreachable: Some("alice".into()),
                ..Default::default()
            },
        };
        let d = decide(&r, "1001", Some(&callee));
        let addr = |a: &str| Target::Address(Destination::Subscriber(sub(a)));
        assert_eq!(
            d,
            Decision::Deliver {
                aor: sub("1001"),
                otherwise: Fallbacks {
                    busy: Some(addr("1002")),
                    no_answer: Some((
                        Target::Address(Destination::Pstn(sub("+12125551234"))),
                        Duration::from_secs(15)
                    )),
                    unreachable: Some(addr("alice")),
                }
            }
        );
        callee.forwarding.always = Some("1003".into());
        assert_eq!(
            decide(&r, "1001", Some(&callee)),
            Decision::Forward {
                target: addr("1003"),
                reason: DiversionReason::Unconditional
            }
        );
    }
}
