//! Reusing routing decisions. A router whose decisions depend only on some fields of the
//! request (its plugins say which: `Depends`) decides the same for every request that agrees
//! on those fields, so its host keeps the decisions made (`DecisionMemo`) and asks the router
//! only about requests it has not seen. The memo belongs to one router: a new version of the
//! routing code (a plugin reload) starts with an empty one.
//!
//! The method, the destination and the callee's state are always part of the key: the
//! built-in routing, which decides whatever the plugins pass on, reads them. The dialed
//! string, the caller and the forwarding history are part of it when declared. The time never
//! is: a decision that depends on the time cannot be reused.
//!
//! Guarantees: `get` answers only for a request equal to the one the decision was made for
//! in every field of the key (a hash collision is a miss, never a wrong answer); the memo
//! holds at most its capacity, and is emptied when full (the decisions in use are made again
//! on the next requests).

use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashMap, FxHasher};

use super::{CalleeState, Hop, RouteRequest, Routed};
use crate::numbering::{Aor, Destination};
use crate::sip::Method;

/// The request fields a router's decisions depend on, beyond the method, the destination and
/// the callee's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Depends {
    pub dialed: bool,
    pub caller: bool,
    pub history: bool,
}

/// A field named in a dependency list that no reusable decision can depend on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DependsError {
    #[error("`{field}` changes with every request: a decision that depends on it is not reused")]
    Volatile { field: String },
    #[error("unknown request field `{field}`")]
    Unknown { field: String },
}

impl Depends {
    /// The fields named in `names` (as a plugin names them: `method`, `dialed`, `caller`,
    /// `dest`, `callee`, `history`).
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Depends, DependsError> {
        let mut d = Depends::default();
        for name in names {
            match name {
                "method" | "dest" | "callee" => {}
                "dialed" => d.dialed = true,
                "caller" => d.caller = true,
                "history" => d.history = true,
                "time" | "clock" => {
                    return Err(DependsError::Volatile {
                        field: name.to_owned(),
                    })
                }
                _ => {
                    return Err(DependsError::Unknown {
                        field: name.chars().take(24).collect(),
                    })
                }
            }
        }
        Ok(d)
    }

    /// Depending on everything `self` or `other` depends on (a chain of routers).
    pub fn union(self, other: Depends) -> Depends {
        Depends {
            dialed: self.dialed || other.dialed,
            caller: self.caller || other.caller,
            history: self.history || other.history,
        }
    }
}

/// The key fields of one request, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    method: Method,
    destination: Destination,
    callee: Option<CalleeState>,
    dialed: Option<String>,
    caller: Option<Option<Aor>>,
    history: Option<Vec<Hop>>,
}

impl Key {
    fn of(req: &RouteRequest<'_>, d: Depends) -> Key {
        Key {
            method: req.method,
            destination: req.destination.clone(),
            callee: req.callee.cloned(),
            dialed: d.dialed.then(|| req.dialed.to_owned()),
            caller: d.caller.then(|| req.caller.cloned()),
            history: d.history.then(|| req.history.to_vec()),
        }
    }

    fn matches(&self, req: &RouteRequest<'_>) -> bool {
        self.method == req.method
            && &self.destination == req.destination
            && self.callee.as_ref() == req.callee
            && self.dialed.as_deref().is_none_or(|x| x == req.dialed)
            && self
                .caller
                .as_ref()
                .is_none_or(|x| x.as_ref() == req.caller)
            && self.history.as_deref().is_none_or(|x| x == req.history)
    }
}

/// The decisions one router made, by the fields they depend on.
#[derive(Debug)]
pub struct DecisionMemo {
    depends: Depends,
    capacity: usize,
    decisions: FxHashMap<u64, (Key, Routed)>,
}

impl DecisionMemo {
    /// An empty memo for a router whose decisions depend on `depends`, holding at most
    /// `capacity` decisions.
    pub fn new(depends: Depends, capacity: usize) -> DecisionMemo {
        DecisionMemo {
            depends,
            capacity: capacity.max(1),
            decisions: FxHashMap::default(),
        }
    }

    /// The decision made for a request equal to `req` in the key fields, if any.
    pub fn get(&self, req: &RouteRequest<'_>) -> Option<&Routed> {
        let (key, routed) = self.decisions.get(&self.hash(req))?;
        key.matches(req).then_some(routed)
    }

    /// Keeps `routed`, the router's decision for `req`.
    pub fn insert(&mut self, req: &RouteRequest<'_>, routed: Routed) {
        if self.decisions.len() >= self.capacity {
            self.decisions.clear();
        }
        let h = self.hash(req);
        self.decisions
            .insert(h, (Key::of(req, self.depends), routed));
    }

    /// Decisions held.
    pub fn len(&self) -> usize {
        self.decisions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.decisions.is_empty()
    }

    /// The hash of `req`'s key fields, computed on the borrowed request (no copy on a hit).
    fn hash(&self, req: &RouteRequest<'_>) -> u64 {
        let d = self.depends;
        let mut h = FxHasher::default();
        req.method.hash(&mut h);
        req.destination.hash(&mut h);
        req.callee.hash(&mut h);
        if d.dialed {
            req.dialed.hash(&mut h);
        }
        if d.caller {
            req.caller.hash(&mut h);
        }
        if d.history {
            req.history.hash(&mut h);
        }
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forwarding::ForwardingRecord;
    use crate::routing::{Decision, DiversionReason, Fallbacks};

    fn deliver(to: &str) -> Routed {
        Decision::Deliver {
            aor: Aor::from_canonical(to),
            otherwise: Fallbacks::default(),
        }
        .into()
    }

    fn callee(devices: usize) -> CalleeState {
        CalleeState {
            aor: Some(Aor::from_canonical("1002")),
            account: true,
            devices,
            forwarding: ForwardingRecord::default(),
            voicemail: false,
        }
    }

    fn request<'a>(
        dest: &'a Destination,
        callee: &'a CalleeState,
        caller: Option<&'a Aor>,
        time: u64,
    ) -> RouteRequest<'a> {
        RouteRequest {
            method: Method::Invite,
            dialed: "1002",
            destination: dest,
            caller,
            time,
            callee: Some(callee),
            history: &[],
        }
    }

    #[test]
    fn a_decision_is_reused_for_requests_that_differ_only_outside_the_key() {
        let dest = Destination::Subscriber(Aor::from_canonical("1002"));
        let state = callee(1);
        let (a, b) = (Aor::from_canonical("1001"), Aor::from_canonical("1003"));
        let mut memo = DecisionMemo::new(Depends::default(), 16);
        assert!(memo.get(&request(&dest, &state, Some(&a), 0)).is_none());
        memo.insert(&request(&dest, &state, Some(&a), 0), deliver("1002"));
        let later = request(&dest, &state, Some(&b), 86_400);
        assert_eq!(memo.get(&later), Some(&deliver("1002")));
    }

    #[test]
    fn a_decision_is_not_reused_when_a_key_field_differs() {
        let dest = Destination::Subscriber(Aor::from_canonical("1002"));
        let other = Destination::Subscriber(Aor::from_canonical("1004"));
        let (one, two) = (callee(1), callee(2));
        let a = Aor::from_canonical("1001");
        let mut memo = DecisionMemo::new(Depends::default(), 16);
        memo.insert(&request(&dest, &one, Some(&a), 0), deliver("1002"));
        assert!(memo.get(&request(&other, &one, Some(&a), 0)).is_none());
        assert!(
            memo.get(&request(&dest, &two, Some(&a), 0)).is_none(),
            "the callee's state is part of the key"
        );
        let mut message = request(&dest, &one, Some(&a), 0);
        message.method = Method::Message;
        assert!(memo.get(&message).is_none());
    }

    #[test]
    fn declared_fields_join_the_key() {
        let dest = Destination::Subscriber(Aor::from_canonical("1002"));
        let state = callee(1);
        let (a, b) = (Aor::from_canonical("1001"), Aor::from_canonical("1003"));
        let depends = Depends::parse(["method", "dest", "callee", "caller", "history"]).unwrap();
        let mut memo = DecisionMemo::new(depends, 16);
        memo.insert(&request(&dest, &state, Some(&a), 0), deliver("1002"));
        assert!(memo.get(&request(&dest, &state, Some(&a), 5)).is_some());
        assert!(memo.get(&request(&dest, &state, Some(&b), 0)).is_none());
        assert!(memo.get(&request(&dest, &state, None, 0)).is_none());
        let hops = [Hop {
            address: "1005".into(),
            reason: DiversionReason::UserBusy,
        }];
        let mut forwarded = request(&dest, &state, Some(&a), 0);
        forwarded.history = &hops;
        assert!(memo.get(&forwarded).is_none());
    }

    #[test]
    fn the_time_and_unknown_fields_cannot_be_declared() {
        assert!(matches!(
            Depends::parse(["callee", "time"]),
            Err(DependsError::Volatile { .. })
        ));
        assert!(matches!(
            Depends::parse(["clock"]),
            Err(DependsError::Volatile { .. })
        ));
        assert!(matches!(
            Depends::parse(["destination"]),
            Err(DependsError::Unknown { .. })
        ));
        let both = Depends::parse(["dialed"])
            .unwrap()
            .union(Depends::parse(["caller"]).unwrap());
        assert!(both.dialed && both.caller && !both.history);
    }

    #[test]
    fn a_full_memo_starts_over() {
        let state = callee(1);
        let mut memo = DecisionMemo::new(Depends::default(), 2);
        let dests: Vec<Destination> = ["1002", "1003", "1004"]
            .iter()
            .map(|n| Destination::Subscriber(Aor::from_canonical(n)))
            .collect();
        for d in &dests {
            memo.insert(&request(d, &state, None, 0), deliver("1002"));
        }
        assert_eq!(
            memo.len(),
            1,
            "emptied at the third decision, which it keeps"
        );
        assert!(memo.get(&request(&dests[2], &state, None, 0)).is_some());
        assert!(memo.get(&request(&dests[0], &state, None, 0)).is_none());
    }
}
