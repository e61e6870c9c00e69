//! The routing decision for a request to a subscriber: the seam the plugin host plugs into.
//!
//! `PlainRouter` is the built-in router: the Request-URI's user (or `tel:` number) in any
//! common spelling is one of our addresses. The Lua plugin host implements the same trait.

use crate::numbering::{Aor, NumberingPlan};
use crate::sip::{Method, Scheme, Uri};

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Ring every registered device of this address.
    Deliver(Aor),
    /// Refuse with a status and reason.
    Reject { code: u16, reason: &'static str },
}

/// What a router sees of a request.
#[derive(Debug, Clone, Copy)]
pub struct RouteRequest<'a> {
    pub method: Method,
    pub request_uri: &'a Uri<'a>,
    /// The authenticated caller, when there is one.
    pub caller: Option<&'a Aor>,
}

/// A routing policy.
pub trait Router: Send + Sync {
    fn route(&self, req: &RouteRequest<'_>) -> Decision;
}

/// Routes to the subscriber named by the Request-URI.
#[derive(Debug, Clone)]
pub struct PlainRouter {
    plan: NumberingPlan,
}

impl PlainRouter {
    pub fn new(plan: NumberingPlan) -> PlainRouter {
        PlainRouter { plan }
    }
}

impl Router for PlainRouter {
    fn route(&self, req: &RouteRequest<'_>) -> Decision {
        let uri = req.request_uri;
        if !matches!(uri.scheme(), Scheme::Sip | Scheme::Sips | Scheme::Tel) {
            return Decision::Reject {
                code: 416,
                reason: "Unsupported URI Scheme",
            };
        }
        let Some(user) = uri.user_unescaped() else {
            return Decision::Reject {
                code: 404,
                reason: "Not Found",
            };
        };
        match self.plan.canonical(&user) {
            Ok(aor) => Decision::Deliver(aor),
            Err(_) => Decision::Reject {
                code: 404,
                reason: "Not Found",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(uri: &str) -> Decision {
        let r = PlainRouter::new(NumberingPlan::new("KR").unwrap());
        let u = Uri::parse(uri).unwrap();
        r.route(&RouteRequest {
            method: Method::Invite,
            request_uri: &u,
            caller: None,
        })
    }

    #[test]
    fn every_spelling_routes_to_the_canonical_number() {
        let want = Decision::Deliver(Aor::from_canonical("+82111234567"));
        assert_eq!(route("sip:011-123-4567@sb"), want);
        assert_eq!(route("sip:0111234567@127.0.0.1;user=phone"), want);
        assert_eq!(route("sip:+82%2011%20123%204567@sb"), want);
        assert_eq!(route("tel:+82-11-123-4567"), want);
    }

    #[test]
    fn unroutable_uris_are_refused() {
        assert_eq!(
            route("sip:127.0.0.1"),
            Decision::Reject {
                code: 404,
                reason: "Not Found"
            }
        );
        assert_eq!(
            route("sip:!!!@sb"),
            Decision::Reject {
                code: 404,
                reason: "Not Found"
            }
        );
        assert_eq!(
            route("mailto:a@b"),
            Decision::Reject {
                code: 416,
                reason: "Unsupported URI Scheme"
            }
        );
    }
}
