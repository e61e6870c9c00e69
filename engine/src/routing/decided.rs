//! A router that answers once with a decision already taken: a request handed from one part
//! of the switch to another after its router decided (a MESSAGE the workers' relay does not
//! carry out itself, see `actors/src/worker/pager`) is not routed twice, so a plugin is asked
//! once per request however the switch carries the answer out.
//!
//! The first question about the same request (method, what was dialed, the destination) gets
//! the decision; any other question, and every one after it, goes to the router that decided.

use std::cell::RefCell;
use std::rc::Rc;

use super::{destination_key, RouteError, RouteRequest, Routed, Router};
use crate::numbering::Aor;
use crate::sip::Method;

/// `router`, with its answer about one request already given.
pub struct Decided {
    router: Rc<dyn Router>,
    first: RefCell<Option<Taken>>,
}

struct Taken {
    method: Method,
    dialed: String,
    destination: String,
    routed: Routed,
}

impl Decided {
    /// `routed` is what `router` answered to `req`.
    pub fn new(router: Rc<dyn Router>, req: &RouteRequest<'_>, routed: Routed) -> Decided {
        Decided {
            router,
            first: RefCell::new(Some(Taken {
                method: req.method,
                dialed: req.dialed.to_owned(),
                destination: destination_key(req.destination),
                routed,
            })),
        }
    }
}

impl Router for Decided {
    fn rewrite(&self, dialed: &str, caller: Option<&Aor>) -> Result<Option<String>, RouteError> {
        self.router.rewrite(dialed, caller)
    }

    fn rewrites(&self) -> bool {
        self.router.rewrites()
    }

    fn route(&self, req: &RouteRequest<'_>) -> Result<Routed, RouteError> {
        let taken = self.first.borrow_mut().take();
        match taken {
            Some(t)
                if t.method == req.method
                    && t.dialed == req.dialed
                    && t.destination == destination_key(req.destination) =>
            {
                Ok(t.routed)
            }
            _ => self.router.route(req),
        }
    }

    fn version(&self) -> u64 {
        self.router.version()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numbering::Destination;
    use crate::routing::{Decision, Fallbacks};
    use std::cell::Cell;

    /// Counts its questions; rejects everything with 486.
    struct Counting(Cell<u32>);

    impl Router for Counting {
        fn route(&self, _: &RouteRequest<'_>) -> Result<Routed, RouteError> {
            self.0.set(self.0.get() + 1);
            Ok(Decision::Reject {
                code: 486,
                reason: "Busy Here".into(),
            }
            .into())
        }

        fn version(&self) -> u64 {
            4
        }
    }

    fn request<'a>(dialed: &'a str, dest: &'a Destination) -> RouteRequest<'a> {
        RouteRequest {
            method: Method::Message,
            dialed,
            destination: dest,
            caller: None,
            time: 0,
            callee: None,
            history: &[],
        }
    }

    #[test]
    fn the_same_request_gets_the_decision_taken_once_then_the_router_answers() {
        let inner = Rc::new(Counting(Cell::new(0)));
        let dest = Destination::Subscriber(Aor::from_canonical("1002"));
        let deliver: Routed = Decision::Deliver {
            aor: Aor::from_canonical("1002"),
            otherwise: Fallbacks::default(),
        }
        .into();
        let d = Decided::new(inner.clone(), &request("1002", &dest), deliver.clone());
        assert_eq!(d.version(), 4);
        assert_eq!(d.route(&request("1002", &dest)).unwrap(), deliver);
        assert_eq!(inner.0.get(), 0, "the router was not asked again");
        let again = d.route(&request("1002", &dest)).unwrap();
        assert!(matches!(again.decision, Decision::Reject { code: 486, .. }));
        assert_eq!(inner.0.get(), 1);
    }

    #[test]
    fn another_request_goes_to_the_router() {
        let inner = Rc::new(Counting(Cell::new(0)));
        let dest = Destination::Subscriber(Aor::from_canonical("1002"));
        let other = Destination::Subscriber(Aor::from_canonical("1003"));
        let deliver: Routed = Decision::Deliver {
            aor: Aor::from_canonical("1002"),
            otherwise: Fallbacks::default(),
        }
        .into();
        let d = Decided::new(inner.clone(), &request("1002", &dest), deliver);
        let r = d.route(&request("1003", &other)).unwrap();
        assert!(matches!(r.decision, Decision::Reject { .. }));
        assert_eq!(inner.0.get(), 1);
    }
}
