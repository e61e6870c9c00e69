//! Message waiting for one mailbox (RFC 3842): the summary its owner's devices were last
//! told, the devices that subscribed to it, and which devices get an unsolicited NOTIFY.
//!
//! Its driver is the single writer of the mailbox owner's registrations (an Extension). It
//! passes each change of the mailbox ([`MessageWaiting::change`]), the answer of a query of
//! the mailbox store ([`MessageWaiting::learned`]), the subscriptions that start and end, and
//! its bindings; it gets back versions and the devices to tell. Versions grow by one per new
//! summary, so a subscriber that hears of two states keeps the newer.
//!
//! Who hears how:
//!
//! - a device with a live message-summary subscription hears through it;
//! - every other registered device gets an unsolicited NOTIFY of each change
//!   ([`MessageWaiting::unsolicited`]);
//! - a device that registers anew (a Contact not bound before, or bound before under another
//!   Call-ID: a phone keeps one Call-ID for a boot cycle, RFC 3261 §10.2) gets one when
//!   messages wait, so its lamp is right after a restart ([`fresh_devices`]).
//!
//! A summary without a `Message-Account` gets the mailbox's own URI (RFC 3842 §5.2).

use std::net::SocketAddr;

use super::summary::MessageSummary;
use crate::store::BindingRecord;

/// A device that subscribed, as a binding of the same device would show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// The Contact URI of its SUBSCRIBE.
    pub contact: String,
    /// The address its SUBSCRIBE came from.
    pub source: SocketAddr,
}

impl Device {
    /// Whether `b` is a binding of this device: the same Contact, or the same source address
    /// (a device behind a NAT registers a Contact it cannot be reached at, from the address
    /// it subscribes from).
    pub fn is(&self, b: &BindingRecord) -> bool {
        b.uri == self.contact || b.source == self.source
    }
}

/// The message waiting state of one mailbox.
#[derive(Clone, Debug)]
pub struct MessageWaiting {
    account: String,
    summary: Option<MessageSummary>,
    version: u64,
    subscribers: Vec<(u64, Device)>,
}

impl MessageWaiting {
    /// The state of the mailbox `account` (its URI, the summaries' `Message-Account`), with no
    /// summary known yet.
    pub fn new(account: String) -> MessageWaiting {
        MessageWaiting {
            account,
            summary: None,
            version: 0,
            subscribers: Vec::new(),
        }
    }

    /// The summary known and its version.
    pub fn summary(&self) -> Option<(u64, &MessageSummary)> {
        self.summary.as_ref().map(|s| (self.version, s))
    }

    /// Whether messages wait (false while no summary is known).
    pub fn waiting(&self) -> bool {
        self.summary.as_ref().is_some_and(|s| s.waiting)
    }

    /// The mailbox changed: the new version when the summary differs from the one known
    /// (a change that changes nothing tells nobody anything).
    pub fn change(&mut self, summary: MessageSummary) -> Option<u64> {
        let summary = self.with_account(summary);
        if self.summary.as_ref() == Some(&summary) {
            return None;
        }
        self.summary = Some(summary);
        self.version += 1;
        Some(self.version)
    }

    /// The mailbox store answered a query: taken when no summary is known yet (a change that
    /// came while the query was out is newer than its answer). The summary and version known.
    pub fn learned(&mut self, summary: MessageSummary) -> (u64, &MessageSummary) {
        if self.summary.is_none() {
            self.summary = Some(self.with_account(summary));
            self.version += 1;
        }
        // set just above when it was missing
        let known = self.summary.as_ref().expect("a summary is known");
        (self.version, known)
    }

    fn with_account(&self, mut summary: MessageSummary) -> MessageSummary {
        if summary.account.is_none() {
            summary.account = Some(self.account.clone());
        }
        summary
    }

    /// A subscription (`id`, unique per subscription) from `device` started.
    pub fn subscribe(&mut self, id: u64, device: Device) {
        self.subscribers.retain(|(i, _)| *i != id);
        self.subscribers.push((id, device));
    }

    /// A subscription ended; whether it was one of this mailbox's.
    pub fn unsubscribe(&mut self, id: u64) -> bool {
        let before = self.subscribers.len();
        self.subscribers.retain(|(i, _)| *i != id);
        self.subscribers.len() != before
    }

    /// The ids of the live subscriptions.
    pub fn subscribers(&self) -> impl Iterator<Item = u64> + '_ {
        self.subscribers.iter().map(|(i, _)| *i)
    }

    pub fn has_subscribers(&self) -> bool {
        !self.subscribers.is_empty()
    }

    /// Whether a subscription comes from the device of binding `b`.
    pub fn is_subscribed(&self, b: &BindingRecord) -> bool {
        self.subscribers.iter().any(|(_, d)| d.is(b))
    }

    /// The devices that get the summary unsolicited: every live binding (at `now`, Unix
    /// seconds) of a device that did not subscribe.
    pub fn unsolicited<'a>(
        &self,
        bindings: &'a [BindingRecord],
        now: u64,
    ) -> Vec<&'a BindingRecord> {
        bindings
            .iter()
            .filter(|b| b.expires_at > now && !self.is_subscribed(b))
            .collect()
    }
}

/// The devices a REGISTER brought: live bindings of `after` whose Contact was not bound in
/// `before`, or was under another Call-ID (the device restarted).
pub fn fresh_devices(
    before: &[BindingRecord],
    after: &[BindingRecord],
    now: u64,
) -> Vec<BindingRecord> {
    after
        .iter()
        .filter(|b| b.expires_at > now)
        .filter(|b| {
            !before
                .iter()
                .any(|o| o.uri == b.uri && o.call_id == b.call_id && o.expires_at > now)
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Transport;
    use crate::presence::caps::Caps;

    const ACCOUNT: &str = "sip:1002@sb.test";

    fn binding(uri: &str, source: &str, call_id: &str, expires_at: u64) -> BindingRecord {
        BindingRecord {
            uri: uri.into(),
            q: None,
            expires_at,
            call_id: call_id.into(),
            cseq: 1,
            instance: None,
            reg_id: None,
            transport: Transport::Udp,
            source: source.parse().unwrap(),
            conn: None,
            caps: Caps::default(),
        }
    }

    fn device(contact: &str, source: &str) -> Device {
        Device {
            contact: contact.into(),
            source: source.parse().unwrap(),
        }
    }

    #[test]
    fn a_change_gets_a_new_version_and_the_mailbox_account_and_a_repeat_gets_none() {
        let mut mw = MessageWaiting::new(ACCOUNT.into());
        assert!(mw.summary().is_none());
        assert!(!mw.waiting());
        assert_eq!(mw.change(MessageSummary::voice(None, 1, 0)), Some(1));
        let (v, s) = mw.summary().unwrap();
        assert_eq!(v, 1);
        assert_eq!(s.account.as_deref(), Some(ACCOUNT));
        assert!(mw.waiting());
        assert_eq!(
            mw.change(MessageSummary::voice(None, 1, 0)),
            None,
            "nothing new"
        );
        assert_eq!(mw.change(MessageSummary::voice(None, 0, 1)), Some(2));
        assert!(!mw.waiting(), "heard: the lamp goes off");
        // a summary naming its account keeps it
        let own = MessageSummary::voice(Some("sip:vm-1002@sb.test"), 0, 1);
        assert_eq!(mw.change(own), Some(3));
        assert_eq!(
            mw.summary().unwrap().1.account.as_deref(),
            Some("sip:vm-1002@sb.test")
        );
    }

    #[test]
    fn a_query_answer_is_taken_only_when_nothing_newer_is_known() {
        let mut mw = MessageWaiting::new(ACCOUNT.into());
        let (v, s) = mw.learned(MessageSummary::voice(None, 2, 0));
        assert_eq!(
            (
                v,
                s.counts(crate::voicemail::MessageClass::Voice).unwrap().new
            ),
            (1, 2)
        );
        // a change came, then a query's older answer: the change stands
        assert_eq!(mw.change(MessageSummary::voice(None, 3, 0)), Some(2));
        let (v, s) = mw.learned(MessageSummary::voice(None, 2, 0));
        assert_eq!(v, 2);
        assert_eq!(s, &MessageSummary::voice(Some(ACCOUNT), 3, 0));
    }

    #[test]
    fn unsolicited_notifies_go_to_live_devices_without_a_subscription() {
        let mut mw = MessageWaiting::new(ACCOUNT.into());
        let bindings = [
            binding("sip:a@10.0.0.1:5060", "10.0.0.1:5060", "c1", 100),
            binding("sip:b@10.0.0.2:5060", "10.0.0.2:5060", "c2", 100),
            // behind a NAT: its Contact is private, its source is what it subscribes from
            binding("sip:c@192.168.1.3:5060", "203.0.113.3:40000", "c3", 100),
            binding("sip:d@10.0.0.4:5060", "10.0.0.4:5060", "c4", 10),
        ];
        let uris = |v: Vec<&BindingRecord>| v.iter().map(|b| b.uri.clone()).collect::<Vec<_>>();
        assert_eq!(
            uris(mw.unsolicited(&bindings, 50)).len(),
            3,
            "every live device, the expired one left out"
        );
        mw.subscribe(7, device("sip:a@10.0.0.1:5060", "10.0.0.1:5060"));
        mw.subscribe(8, device("sip:c@192.168.1.3:5060;ob", "203.0.113.3:40000"));
        assert_eq!(uris(mw.unsolicited(&bindings, 50)), ["sip:b@10.0.0.2:5060"]);
        assert!(mw.has_subscribers());
        assert_eq!(mw.subscribers().collect::<Vec<_>>(), [7, 8]);
        assert!(mw.unsubscribe(7));
        assert!(!mw.unsubscribe(7), "only once");
        assert_eq!(
            uris(mw.unsolicited(&bindings, 50)),
            ["sip:a@10.0.0.1:5060", "sip:b@10.0.0.2:5060"]
        );
    }

    #[test]
    fn a_new_contact_or_a_restarted_device_is_fresh_and_a_refresh_is_not() {
        let before = [
            binding("sip:a@10.0.0.1:5060", "10.0.0.1:5060", "boot1", 100),
            binding("sip:b@10.0.0.2:5060", "10.0.0.2:5060", "c2", 100),
            binding("sip:e@10.0.0.5:5060", "10.0.0.5:5060", "c5", 20),
        ];
        let after = [
            // refreshed: same Call-ID
            binding("sip:a@10.0.0.1:5060", "10.0.0.1:5060", "boot1", 200),
            // restarted: a new Call-ID
            binding("sip:b@10.0.0.2:5060", "10.0.0.2:5060", "boot2", 200),
            // new
            binding("sip:c@10.0.0.3:5060", "10.0.0.3:5060", "c3", 200),
            // its binding had expired: back again
            binding("sip:e@10.0.0.5:5060", "10.0.0.5:5060", "c5", 200),
        ];
        let fresh: Vec<String> = fresh_devices(&before, &after, 50)
            .into_iter()
            .map(|b| b.uri)
            .collect();
        assert_eq!(
            fresh,
            [
                "sip:b@10.0.0.2:5060",
                "sip:c@10.0.0.3:5060",
                "sip:e@10.0.0.5:5060"
            ]
        );
        assert!(fresh_devices(&after, &after, 50).is_empty());
        // an unregistration brings nobody
        assert!(fresh_devices(&before, &[], 50).is_empty());
    }
}
