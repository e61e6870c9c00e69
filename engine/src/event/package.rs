//! The event packages the switch notifies (RFC 6665 §7), each a small description, and the
//! registry of those a switch serves.
//!
//! A package says what its Event header token is, what body its NOTIFYs carry (and so what a
//! SUBSCRIBE's Accept must allow), and who may subscribe to a resource of it. Everything else
//! a subscription does (dialog, refresh, expiry, coalescing, the final NOTIFY) is the same for
//! every package and lives in `subscription` and `notify`.
//!
//! [`Registry::find`] reads an Event header (RFC 6665 §8.2.1: the package token before any
//! parameter, in any case); a SUBSCRIBE for a package not registered is answered 489 Bad Event
//! with [`Registry::allow_events`] (RFC 6665 §4.2.1.1).

use super::notify;
use crate::presence::PIDF;
use crate::voicemail::summary;

/// Who may subscribe to a resource of a package.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Subscribers {
    /// Whoever the resource's owner allows (RFC 3856 §6: presence, by buddy lists and watch
    /// grants; a watcher nobody decided on yet is pending).
    Authorized,
    /// The resource's owner only (RFC 3842 §6: a mailbox's summary is for its owner), once
    /// authenticated.
    Owner,
}

/// One event package.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Package {
    /// The Event header token (lower case).
    pub name: &'static str,
    /// The body type of its NOTIFYs: a SUBSCRIBE whose Accept does not allow it gets 406.
    pub content_type: &'static str,
    pub subscribers: Subscribers,
}

/// Presence (RFC 3856): PIDF documents of a number, for the watchers its owner allows.
pub const PRESENCE: Package = Package {
    name: "presence",
    content_type: PIDF,
    subscribers: Subscribers::Authorized,
};

/// Message summaries (RFC 3842): a mailbox's message counts, for its owner.
pub const MESSAGE_SUMMARY: Package = Package {
    name: summary::EVENT_PACKAGE,
    content_type: summary::CONTENT_TYPE,
    subscribers: Subscribers::Owner,
};

impl Package {
    /// Whether an Accept header value allows this package's body (none: RFC 6665 §4.1.2, the
    /// package's default body, which is ours).
    pub fn accepts(&self, accept: Option<&str>) -> bool {
        notify::accepts(accept, self.content_type)
    }
}

/// The packages a switch serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registry {
    packages: Vec<&'static Package>,
    allow_events: String,
}

impl Registry {
    /// A registry of `packages`, in the order Allow-Events lists them.
    pub fn new(packages: impl IntoIterator<Item = &'static Package>) -> Registry {
        let mut list: Vec<&'static Package> = Vec::new();
        for p in packages {
            if !list.iter().any(|q| q.name == p.name) {
                list.push(p);
            }
        }
        let allow_events = list.iter().map(|p| p.name).collect::<Vec<_>>().join(", ");
        Registry {
            packages: list,
            allow_events,
        }
    }

    /// The package an Event header value names, if it is served (`None` for no header).
    pub fn find(&self, event: Option<&str>) -> Option<&'static Package> {
        let name = super::subscription::event_package(event?);
        self.packages.iter().copied().find(|p| p.name == name)
    }

    /// The Allow-Events value: every package served, comma separated (empty when none).
    pub fn allow_events(&self) -> &str {
        &self.allow_events
    }

    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }

    pub fn packages(&self) -> impl Iterator<Item = &'static Package> + '_ {
        self.packages.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_header_finds_its_package_in_any_case_and_with_parameters() {
        let r = Registry::new([&PRESENCE, &MESSAGE_SUMMARY]);
        assert_eq!(r.find(Some("presence")), Some(&PRESENCE));
        assert_eq!(
            r.find(Some("Message-Summary ;id=3")),
            Some(&MESSAGE_SUMMARY)
        );
        assert_eq!(r.find(Some("dialog")), None);
        assert_eq!(r.find(Some("")), None);
        assert_eq!(r.find(None), None, "no Event header names no package");
        assert_eq!(r.allow_events(), "presence, message-summary");
    }

    #[test]
    fn a_package_left_out_is_not_found_and_not_allowed() {
        let r = Registry::new([&MESSAGE_SUMMARY]);
        assert_eq!(r.find(Some("presence")), None);
        assert_eq!(r.allow_events(), "message-summary");
        let none = Registry::new([]);
        assert!(none.is_empty());
        assert_eq!(none.allow_events(), "");
        let twice = Registry::new([&PRESENCE, &PRESENCE]);
        assert_eq!(twice.packages().count(), 1);
    }

    #[test]
    fn each_package_accepts_its_own_body_type_only() {
        assert!(MESSAGE_SUMMARY.accepts(None));
        assert!(MESSAGE_SUMMARY.accepts(Some("application/simple-message-summary")));
        assert!(!MESSAGE_SUMMARY.accepts(Some("application/pidf+xml")));
        assert!(PRESENCE.accepts(Some("application/pidf+xml")));
        assert!(!PRESENCE.accepts(Some("application/simple-message-summary")));
        assert_eq!(PRESENCE.subscribers, Subscribers::Authorized);
        assert_eq!(MESSAGE_SUMMARY.subscribers, Subscribers::Owner);
    }
}
