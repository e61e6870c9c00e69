//! A bounded memo of classifications for one signalling thread.
//!
//! Reading a phone number through the numbering metadata costs microseconds; the same numbers
//! are dialed over and over (a busy callee, a trunk's ranges), so each signalling arbiter
//! keeps the answers for the strings it saw recently. Two generations bound it: when the young
//! one fills up, the old one is dropped and the young one becomes old, so hot strings survive
//! and memory stays at most twice `capacity` entries. Owned by one thread: no lock.

use std::cell::RefCell;
use std::collections::HashMap;

use super::{ClassifyError, Destination, NumberingPlan};

/// Something that classifies dialed strings for a plan: the plan itself, or a plan with a
/// memo of its answers (`MemoPlan`).
pub trait Classifier {
    fn plan(&self) -> &NumberingPlan;

    fn classify(&self, input: &str) -> Result<Destination, ClassifyError> {
        self.plan().classify(input)
    }
}

impl Classifier for NumberingPlan {
    fn plan(&self) -> &NumberingPlan {
        self
    }
}

/// A plan and a memo of its classifications, owned by one thread (a router on one signalling
/// arbiter). Numbers a router returns again and again (the same subscribers, the same
/// forwarding targets) cost a hash lookup instead of a phone-number parse.
#[derive(Debug)]
pub struct MemoPlan {
    plan: NumberingPlan,
    memo: RefCell<ClassifyCache>,
}

impl MemoPlan {
    pub fn new(plan: NumberingPlan, capacity: usize) -> MemoPlan {
        MemoPlan {
            plan,
            memo: RefCell::new(ClassifyCache::new(capacity)),
        }
    }
}

impl Clone for MemoPlan {
    fn clone(&self) -> MemoPlan {
        MemoPlan::new(self.plan.clone(), self.memo.borrow().capacity)
    }
}

impl Classifier for MemoPlan {
    fn plan(&self) -> &NumberingPlan {
        &self.plan
    }

    fn classify(&self, input: &str) -> Result<Destination, ClassifyError> {
        self.memo.borrow_mut().classify(&self.plan, input)
    }
}

type Answer = Result<Destination, ClassifyError>;

#[derive(Debug)]
pub struct ClassifyCache {
    young: HashMap<Box<str>, Answer>,
    old: HashMap<Box<str>, Answer>,
    capacity: usize,
}

impl ClassifyCache {
    pub fn new(capacity: usize) -> ClassifyCache {
        ClassifyCache {
            young: HashMap::new(),
            old: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// `plan.classify(input)`, from memory when `input` was seen recently. The plan must be
    /// the same for every call: a new plan needs a new cache.
    pub fn classify(&mut self, plan: &NumberingPlan, input: &str) -> Answer {
        if let Some(a) = self.young.get(input) {
            return a.clone();
        }
        let answer = match self.old.remove_entry(input) {
            Some((k, a)) => {
                self.insert(k, a.clone());
                return a;
            }
            None => plan.classify(input),
        };
        if input.len() <= super::MAX_DIALED {
            self.insert(input.into(), answer.clone());
        }
        answer
    }

    fn insert(&mut self, k: Box<str>, a: Answer) {
        if self.young.len() >= self.capacity {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(k, a);
    }

    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numbering::Aor;

    #[test]
    fn answers_match_the_plan_and_memory_stays_bounded() {
        let plan = NumberingPlan::new("KR").unwrap();
        let mut cache = ClassifyCache::new(4);
        for _ in 0..3 {
            assert_eq!(
                cache.classify(&plan, "011-123-4567"),
                Ok(Destination::Subscriber(Aor::from_canonical("+82111234567")))
            );
            assert_eq!(
                cache.classify(&plan, "not valid!"),
                plan.classify("not valid!")
            );
        }
        assert_eq!(cache.len(), 2);
        for i in 0..100 {
            let s = format!("10{i:02}");
            assert_eq!(cache.classify(&plan, &s), plan.classify(&s));
            // a hot string survives the churn
            assert!(cache.classify(&plan, "011-123-4567").is_ok());
            assert!(cache.len() <= 8);
        }
        assert!(cache.young.contains_key("011-123-4567") || cache.old.contains_key("011-123-4567"));
        let long = "1".repeat(100);
        assert_eq!(cache.classify(&plan, &long), Err(ClassifyError::TooLong));
        assert!(
            !cache.young.contains_key(long.as_str()),
            "overlong input is not kept"
        );
    }
}
