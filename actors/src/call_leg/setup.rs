//! The routing state of one request outside any dialog (RFC 3261 §16.5, determining the
//! request targets): the router of the call's plugin version, the engine's `RouteSequence`
//! (forward hops, busy/no-answer/unreachable fallbacks, trunk failover), who calls, what was
//! dialed, what the last subscriber lookup found and the trunk of the current attempt.
//!
//! The leg's routing steps (`routing.rs`) drive it: `route` asks the router about a
//! destination, `located`, `failed` and `handle_timeout` tell the sequence what happened, and
//! each returns the `Step` to carry out. It owns its data and decides from it alone: no
//! network, no actor, no clock (time comes in as a parameter).
//!
//! Guarantees: the router is the one the request started with, so a plugin reload never
//! changes a call in progress; the request's own History-Info and Diversion (RFC 7044,
//! RFC 5806) are kept only from a trunk and only while we have written none.

use std::rc::Rc;
use std::time::{Duration, Instant};

use switchboard_engine::forwarding::{DEFAULT_RING_SECS, MAX_HOPS};
use switchboard_engine::numbering::{Aor, Destination};
use switchboard_engine::registrar;
use switchboard_engine::routing::{
    destination_key, CalleeState, Decision, MediaHints, RouteError, RouteRequest, RouteSequence,
    Router, Step,
};
use switchboard_engine::sip::Method;
use switchboard_engine::trunk::{fails_over, TrunkId, Trunks};
use tracing::debug;

use crate::api::extension::Located;

/// The routing state of one request.
pub(super) struct Setup {
    router: Rc<dyn Router>,
    seq: RouteSequence,
    caller: Option<Aor>,
    dialed: String,
    method: Method,
    /// The subscriber looked up last and what was found.
    located: Option<(Aor, Located)>,
    /// The trunk of the current attempt.
    trunk: Option<TrunkId>,
    /// The request came from one of our trunks.
    from_trunk: bool,
    /// What the router asked of the call's media, over every hop so far.
    media: MediaHints,
    /// The trunk group and number of the last trunk decision for a MESSAGE (a landline's
    /// text may be read out instead, `messaging::voice`).
    message_trunk: Option<(String, String)>,
    /// How long a subscriber with voicemail rings before the mailbox takes the call.
    voicemail_ring: Duration,
    /// The member number a phone signed in by hot desk presents (P-Asserted-Identity).
    presented: Option<Aor>,
    /// A call to a member's verified outside number: the member number it was routed to, and
    /// the member's other numbers, whose devices ring with it.
    ring_also: Option<(Aor, Vec<Aor>)>,
}

/// What a 2xx changes: the parties on the phone now and the trunk that answered.
pub(super) struct Answered {
    /// Caller and callee of a call (none for a MESSAGE or OPTIONS).
    pub(super) parties: Vec<Aor>,
    pub(super) trunk: Option<TrunkId>,
}

impl Setup {
    /// Starts routing a `method` request to `destination` (resolved by the plan), with the
    /// router of the plugin version current now.
    pub(super) fn new(
        router: Rc<dyn Router>,
        destination: &Destination,
        method: Method,
        dialed: String,
        caller: Option<Aor>,
        from_trunk: bool,
    ) -> Setup {
        let seq = RouteSequence::new(
            method == Method::Invite,
            destination_key(destination),
            MAX_HOPS,
        );
        Setup {
            router,
            seq,
            caller,
            dialed,
            method,
            located: None,
            trunk: None,
            media: MediaHints::default(),
            from_trunk,
            message_trunk: None,
            voicemail_ring: Duration::from_secs(u64::from(DEFAULT_RING_SECS)),
            presented: None,
            ring_also: None,
        }
    }

    /// How long a subscriber with voicemail (and no no-answer forward) rings before the
    /// mailbox takes the call.
    pub(super) fn voicemail_ring(&mut self, ring: Duration) {
        self.voicemail_ring = ring;
    }

    /// The caller presents `aor` (a phone signed in as a member by hot desk).
    pub(super) fn present_as(&mut self, aor: Aor) {
        self.presented = Some(aor);
    }

    /// Ringing `primary` also rings the devices of `others` (a member reached at an outside
    /// number).
    pub(super) fn ring_also(&mut self, primary: Aor, others: Vec<Aor>) {
        self.ring_also = Some((primary, others));
    }

    /// The numbers whose devices ring besides `aor`'s.
    pub(super) fn also_of(&self, aor: &Aor) -> &[Aor] {
        match &self.ring_also {
            Some((primary, others)) if primary == aor => others,
            _ => &[],
        }
    }

    /// The plugin version routing this request.
    pub(super) fn version(&self) -> u64 {
        self.router.version()
    }

    /// The authenticated caller (or who From says in lab mode without authentication).
    pub(super) fn caller(&self) -> Option<&Aor> {
        self.caller.as_ref()
    }

    /// An INVITE: its branches are record-routed and a forward hop is announced with 181.
    pub(super) fn is_call(&self) -> bool {
        self.method == Method::Invite
    }

    pub(super) fn is_message(&self) -> bool {
        self.method == Method::Message
    }

    /// Whether the request's own History-Info and Diversion are left out: always when we
    /// write ours (a forwarded request), and for anything not from a trunk, whose claims
    /// about where a call came from a carrier must not take on trust.
    pub(super) fn drop_history(&self) -> bool {
        !self.from_trunk || !self.seq.history().is_empty()
    }

    /// History-Info and Diversion lines for the current attempt (empty if not forwarded).
    pub(super) fn history_headers(&self, domain: &str) -> String {
        let mut h = self.seq.history_headers(domain);
        if let Some(aor) = &self.presented {
            // RFC 3325 §9.1: the identity the switch asserts for its own subscriber
            h.push_str(&format!(
                "P-Asserted-Identity: <sip:{}@{domain}>\r\n",
                aor.as_str()
            ));
        }
        h
    }

    /// The reason of the last forward hop (its Diversion reason), for counting forwards.
    pub(super) fn last_hop_reason(&self) -> Option<&'static str> {
        self.seq.history().last().map(|h| h.reason.as_str())
    }

    /// Whether this request may leave the switch (a trunk, another domain): it comes from one
    /// of our subscribers, or one of them forwarded it, or it is trunk-to-trunk transit and
    /// the operator allowed that (`trunk_transit`). No open relay.
    pub(super) fn may_leave(&self, trunk_transit: bool) -> bool {
        self.caller.is_some()
            || !self.seq.history().is_empty()
            || (self.from_trunk && trunk_transit)
    }

    /// Asks the router about `destination` (`callee`: the subscriber it reaches, looked up)
    /// at Unix time `time`; the sequence's next step, or the router's failure.
    pub(super) fn route(
        &mut self,
        destination: &Destination,
        callee: Option<&CalleeState>,
        time: u64,
        trunks: &Trunks,
    ) -> Result<Step, RouteError> {
        let req = RouteRequest {
            method: self.method,
            dialed: &self.dialed,
            destination,
            caller: self.caller.as_ref(),
            time,
            callee,
            history: self.seq.history(),
        };
        let mut routed = self.router.route(&req)?;
        debug!(decision = ?std::mem::discriminant(&routed.decision), "routed");
        if let (true, Decision::Trunk { group, number }) = (self.is_message(), &routed.decision) {
            self.message_trunk = Some((group.clone(), number.clone()));
        }
        self.media = self.media.merge(routed.media);
        // a call the subscriber does not take goes to their mailbox where no forward does
        if let Decision::Deliver { otherwise, .. } = &mut routed.decision {
            if self.is_call() && callee.is_some_and(|c| c.voicemail) {
                *otherwise = std::mem::take(otherwise).or_voicemail(self.voicemail_ring);
            }
        }
        Ok(self.seq.decided(routed.decision, trunks))
    }

    /// The trunk group and number routing sent this MESSAGE to, last.
    pub(super) fn message_trunk(&self) -> Option<(&str, &str)> {
        self.message_trunk
            .as_ref()
            .map(|(g, n)| (g.as_str(), n.as_str()))
    }

    /// What the router asked of the call's media so far.
    pub(super) fn media(&self) -> MediaHints {
        self.media
    }

    /// What the last lookup found for `aor`, if it was `aor`: whether it has an account and
    /// how many devices a call would ring at Unix time `unix`.
    pub(super) fn cached(&self, aor: &Aor, unix: u64) -> Option<(bool, usize)> {
        self.located
            .as_ref()
            .filter(|(a, _)| a == aor)
            .map(|(_, l)| (l.account, devices(l, unix)))
    }

    /// Keeps what the lookup of `aor` found.
    pub(super) fn found(&mut self, aor: Aor, located: Located) {
        self.located = Some((aor, located));
    }

    /// The subscriber looked up last and what was found.
    pub(super) fn location(&self) -> Option<(&Aor, &Located)> {
        self.located.as_ref().map(|(a, l)| (a, l))
    }

    /// The subscriber to ring has an `account` and `devices` to ring now.
    pub(super) fn located(&mut self, now: Instant, account: bool, devices: usize) -> Step {
        self.seq.located(now, account, devices)
    }

    /// Every branch of the current attempt failed with best `code`; `stale`: the trunk
    /// refused our credentials' nonce as stale (answered once more).
    pub(super) fn failed(&mut self, code: u16, stale: bool, trunks: &Trunks) -> Step {
        if stale {
            self.seq.stale(code, trunks)
        } else {
            self.seq.failed(code, trunks)
        }
    }

    /// The current attempt goes through trunk `id`.
    pub(super) fn set_trunk(&mut self, id: TrunkId) {
        self.trunk = Some(id);
    }

    /// How the attempt through the current trunk ended with best `code`, for its counter:
    /// challenged (we answer with credentials), failed (the next trunk of the group is
    /// tried) or rejected (the answer stands).
    pub(super) fn trunk_outcome(&self, code: u16) -> Option<(TrunkId, &'static str)> {
        let id = self.trunk?;
        let outcome = if code == 401 || code == 407 {
            "challenged"
        } else if fails_over(code) {
            "failed"
        } else {
            "rejected"
        };
        Some((id, outcome))
    }

    /// A MESSAGE that no device took (`code`) while ringing a subscriber's devices, when the
    /// device may take it later from the queue (408, 480, 5xx): the subscriber, and whether it
    /// has an account.
    pub(super) fn queues_after(&self, code: u16) -> Option<(&Aor, bool)> {
        if !self.is_message() || !self.seq.is_ringing() || self.trunk.is_some() {
            return None;
        }
        let (aor, located) = self.located.as_ref()?;
        let device_may_take_later = matches!(code, 408 | 480 | 500 | 503 | 504);
        device_may_take_later.then_some((aor, located.account))
    }

    /// A 2xx went upstream: the sequence is over. Both ends of a call are on the phone now;
    /// the trunk that answered is returned once.
    pub(super) fn answered(&mut self) -> Answered {
        self.seq.answered();
        let parties = if self.is_call() {
            let callee = self.located.as_ref().map(|(a, _)| a);
            self.caller.iter().chain(callee).cloned().collect()
        } else {
            Vec::new()
        };
        Answered {
            parties,
            trunk: self.trunk.take(),
        }
    }

    /// The caller hung up (CANCEL): no fallback starts any more.
    pub(super) fn canceled(&mut self) {
        self.seq.canceled();
    }

    /// The no-answer deadline of the current attempt.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.seq.poll_timeout()
    }

    /// The no-answer deadline passed: the step that follows.
    pub(super) fn handle_timeout(&mut self, now: Instant) -> Step {
        self.seq.handle_timeout(now)
    }
}

/// Devices a call would ring at Unix time `unix`.
pub(super) fn devices(l: &Located, unix: u64) -> usize {
    registrar::targets(&l.bindings, unix).len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_engine::forwarding::ForwardingRecord;
    use switchboard_engine::routing::{Decision, Fallbacks, Routed};

    /// Delivers everything to the callee subscriber.
    struct Deliver;

    impl Router for Deliver {
        fn route(&self, _: &RouteRequest<'_>) -> Result<Routed, RouteError> {
            Ok(Routed {
                decision: Decision::Deliver {
                    aor: Aor::from_canonical("1002"),
                    otherwise: Fallbacks::default(),
                },
                media: MediaHints {
                    anchor: None,
                    record: true,
                },
            })
        }

        fn version(&self) -> u64 {
            7
        }
    }

    fn setup(method: Method, caller: Option<&str>, from_trunk: bool) -> Setup {
        let callee = Destination::Subscriber(Aor::from_canonical("1002"));
        Setup::new(
            Rc::new(Deliver),
            &callee,
            method,
            "1002".into(),
            caller.map(Aor::from_canonical),
            from_trunk,
        )
    }

    /// Routes to the callee and finds it with `devices` registered devices.
    fn ringing(s: &mut Setup, now: Instant, devices: usize) -> Step {
        let callee = Destination::Subscriber(Aor::from_canonical("1002"));
        let step = s.route(&callee, None, 0, &Trunks::new(Vec::new()));
        assert!(
            matches!(step, Ok(Step::Locate { .. })),
            "the router delivers"
        );
        assert!(s.media().record, "the router's media hints are kept");
        let located = Located {
            account: true,
            bindings: Vec::new(),
            forwarding: ForwardingRecord::default(),
        };
        s.found(Aor::from_canonical("1002"), located);
        s.located(now, true, devices)
    }

    #[test]
    fn history_claims_are_kept_only_from_a_trunk() {
        assert!(setup(Method::Invite, Some("1001"), false).drop_history());
        assert!(!setup(Method::Invite, None, true).drop_history());
    }

    #[test]
    fn only_subscribers_and_allowed_transit_leave_the_switch() {
        assert!(setup(Method::Invite, Some("1001"), false).may_leave(false));
        assert!(!setup(Method::Invite, None, false).may_leave(true));
        assert!(!setup(Method::Invite, None, true).may_leave(false));
        assert!(setup(Method::Invite, None, true).may_leave(true));
    }

    #[test]
    fn a_trunk_attempt_is_counted_by_how_it_ended() {
        let mut s = setup(Method::Invite, Some("1001"), false);
        assert_eq!(s.trunk_outcome(503), None, "no trunk, nothing to count");
        s.set_trunk(TrunkId(0));
        assert_eq!(s.trunk_outcome(407), Some((TrunkId(0), "challenged")));
        assert_eq!(s.trunk_outcome(503), Some((TrunkId(0), "failed")));
        assert_eq!(s.trunk_outcome(486), Some((TrunkId(0), "rejected")));
    }

    #[test]
    fn an_answered_call_puts_both_parties_on_the_phone_and_hands_back_its_trunk_once() {
        let now = Instant::now();
        let mut s = setup(Method::Invite, Some("1001"), false);
        assert!(matches!(ringing(&mut s, now, 1), Step::Fork));
        s.set_trunk(TrunkId(3));
        let a = s.answered();
        let parties: Vec<&str> = a.parties.iter().map(Aor::as_str).collect();
        assert_eq!(parties, ["1001", "1002"]);
        assert_eq!(a.trunk, Some(TrunkId(3)));
        assert_eq!(s.answered().trunk, None);

        let mut m = setup(Method::Message, Some("1001"), false);
        ringing(&mut m, now, 1);
        assert!(m.answered().parties.is_empty(), "a MESSAGE is not a call");
    }

    #[test]
    fn a_message_no_device_took_is_queued_only_when_a_device_may_take_it_later() {
        let now = Instant::now();
        let mut m = setup(Method::Message, Some("1001"), false);
        assert_eq!(m.queues_after(480), None, "nothing rings yet");
        ringing(&mut m, now, 2);
        let (aor, account) = m.queues_after(408).expect("a timeout is queued");
        assert_eq!((aor.as_str(), account), ("1002", true));
        assert_eq!(m.queues_after(486), None, "busy is an answer");

        let mut call = setup(Method::Invite, Some("1001"), false);
        ringing(&mut call, now, 2);
        assert_eq!(call.queues_after(408), None, "calls are never queued");
    }

    #[test]
    fn the_last_lookup_is_reused_only_for_the_same_subscriber() {
        let mut s = setup(Method::Invite, Some("1001"), false);
        ringing(&mut s, Instant::now(), 0);
        assert_eq!(s.cached(&Aor::from_canonical("1002"), 0), Some((true, 0)));
        assert_eq!(s.cached(&Aor::from_canonical("1003"), 0), None);
        assert_eq!(s.version(), 7);
    }
}
