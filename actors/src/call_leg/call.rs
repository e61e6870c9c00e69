//! The call itself, once it is a dialog or about to be one (RFC 3261 §12: the INVITE that
//! starts it, its answer, the BYE that ends it): the initial request kept for a 500 after a
//! panic, whether it was answered, finished, ended or is counted active, the parties it put on
//! the phone for presence, and when it was last heard of.
//!
//! The leg tells it what its transactions reported (`attempt`, `answered`, `finished`,
//! `end`) and carries out what comes back: the outcome to count and log, the parties whose
//! presence changes, whether the active-calls gauge moves. It owns its data and does no I/O.
//!
//! Guarantees: a call is counted active once however many attempts it takes (a challenge
//! and the INVITE re-sent with credentials), and ends once: every party it put on the phone
//! is handed back exactly once, and the gauge goes down only if it went up.
//!
//! The call's media arrives here next, as a sub-state of its own (the SDP rewritten for
//! anchored media, the media session, ringback, recording), ended with the call by `end`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use switchboard_engine::flow::Flow;
use switchboard_engine::numbering::Aor;
use switchboard_engine::sip::{Message as SipMessage, ResponseBuilder};

use crate::metrics::call_outcome;
use crate::transport::{response_flow, via_fix};

/// One call (Call-ID) as its parties see it.
pub(super) struct Call {
    /// This call's identity in its parties' presence.
    presence: u64,
    /// The initial request and where it came from, kept apart from the machines so a 500 can
    /// still be built after a panic.
    initial: Option<(SipMessage, Flow)>,
    answered: bool,
    finished_initial: bool,
    ended: bool,
    active: bool,
    /// The subscribers this call put on the phone (their presence says so until it ends).
    on_call: Vec<Aor>,
    last_activity: Instant,
}

/// What a finished transaction means for the call.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Finish {
    /// The outcome of the call's setup, to count and log (none for a challenge: that is a
    /// step of the call, not its outcome).
    pub(super) outcome: Option<&'static str>,
    /// The call is over (its INVITE failed, or a BYE went through).
    pub(super) end: bool,
}

/// What ending a call hands back.
pub(super) struct Ended {
    /// The parties that are off the phone now.
    pub(super) off_the_phone: Vec<Aor>,
    /// The call was counted active until now.
    pub(super) was_active: bool,
}

impl Call {
    /// The call `call_id` of leg `id`, heard of at `now`.
    pub(super) fn new(call_id: &str, id: u64, now: Instant) -> Call {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        call_id.hash(&mut h);
        id.hash(&mut h);
        Call {
            presence: h.finish(),
            initial: None,
            answered: false,
            finished_initial: false,
            ended: false,
            active: false,
            on_call: Vec::new(),
            last_activity: now,
        }
    }

    /// This call's identity in its parties' presence.
    pub(super) fn presence_id(&self) -> u64 {
        self.presence
    }

    /// A message of this call arrived at `now`.
    pub(super) fn touched(&mut self, now: Instant) {
        self.last_activity = now;
    }

    /// When the call is forgotten if nothing more is heard of it.
    pub(super) fn idle_deadline(&self, max_idle: Duration) -> Instant {
        self.last_activity + max_idle
    }

    /// Nothing was heard of the call for `max_idle` by `now`.
    pub(super) fn is_idle(&self, now: Instant, max_idle: Duration) -> bool {
        now.saturating_duration_since(self.last_activity) >= max_idle
    }

    /// A new call attempt (the first INVITE, or the one re-sent with credentials) from
    /// `flow`; `true` when the call became active now (count it).
    pub(super) fn attempt(&mut self, invite: SipMessage, flow: Flow) -> bool {
        self.initial = Some((invite, flow));
        self.finished_initial = false;
        self.ended = false;
        let became = !self.active;
        self.active = true;
        became
    }

    /// The call's INVITE (the latest attempt) and the flow it came from.
    pub(super) fn initial(&self) -> Option<(&SipMessage, &Flow)> {
        self.initial.as_ref().map(|(m, f)| (m, f))
    }

    /// Where the call's INVITE came from.
    pub(super) fn source(&self) -> Option<&Flow> {
        self.initial.as_ref().map(|(_, f)| f)
    }

    /// The caller's tag (its From tag in the INVITE).
    pub(super) fn caller_tag(&self) -> Option<&str> {
        self.initial.as_ref().and_then(|(m, _)| m.from_tag())
    }

    /// Whether a CSeq number is the one of the call's INVITE (its responses answer it).
    pub(super) fn is_initial_cseq(&self, seq: u32) -> bool {
        self.initial
            .as_ref()
            .and_then(|(m, _)| m.cseq())
            .is_some_and(|c| c.seq == seq)
    }

    /// The initial INVITE was answered with a 2xx.
    pub(super) fn answered(&mut self) {
        self.answered = true;
    }

    /// A transaction of the call finished with `code`: `initial` is the call's INVITE, `bye`
    /// a BYE; `canceled` the caller hung up first; `feature` the switch answered itself.
    pub(super) fn finished(
        &mut self,
        code: u16,
        initial: bool,
        bye: bool,
        canceled: bool,
        own: Option<&'static str>,
    ) -> Finish {
        let mut outcome = None;
        let mut end = bye;
        if initial {
            self.finished_initial = true;
            if code != 401 && code != 407 {
                outcome = Some(own.unwrap_or_else(|| call_outcome(code, canceled)));
            }
            end |= code >= 300;
        }
        Finish { outcome, end }
    }

    /// The answered call has `parties` on the phone; those not on it yet are returned (their
    /// presence changes).
    pub(super) fn on_the_phone(&mut self, parties: Vec<Aor>) -> Vec<Aor> {
        let mut new = Vec::new();
        for aor in parties {
            if !self.on_call.contains(&aor) {
                self.on_call.push(aor.clone());
                new.push(aor);
            }
        }
        new
    }

    /// The call is over.
    pub(super) fn end(&mut self) -> Ended {
        self.ended = true;
        let was_active = self.active;
        self.active = false;
        Ended {
            off_the_phone: std::mem::take(&mut self.on_call),
            was_active,
        }
    }

    /// Whether the call has ended (`end` ran).
    pub(super) fn is_ended(&self) -> bool {
        self.ended
    }

    /// Whether the leg may retire once no transaction is left: a call lives until it ends; a
    /// leg that only relayed requests, until they are done.
    pub(super) fn is_over(&self) -> bool {
        self.ended || self.initial.is_none()
    }

    /// The 500 the caller hears when the call failed internally (a panic), if it still waits
    /// for an answer, and where it goes.
    pub(super) fn failure_answer(&self) -> Option<(Flow, Bytes)> {
        let (req, flow) = self.initial.as_ref()?;
        if self.finished_initial {
            return None;
        }
        let resp = ResponseBuilder::new(req, 500, "Server Internal Error")
            .to_tag("sbfail")
            .via_fix(via_fix(flow))
            .build();
        Some((response_flow(req, flow), resp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite() -> SipMessage {
        let raw = "INVITE sip:1002@sb.test SIP/2.0\r\n\
                   Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKcall\r\n\
                   From: <sip:1001@sb.test>;tag=a\r\nTo: <sip:1002@sb.test>\r\n\
                   Call-ID: call-1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\
                   Content-Length: 0\r\n\r\n";
        SipMessage::parse(Bytes::from_static(raw.as_bytes())).expect("parses")
    }

    fn flow() -> Flow {
        Flow::udp("127.0.0.1:5070".parse().expect("an address"))
    }

    #[test]
    fn a_call_is_counted_active_once_across_its_attempts_and_ends_once() {
        let mut c = Call::new("call-1", 1, Instant::now());
        assert!(
            c.attempt(invite(), flow()),
            "the first INVITE starts the call"
        );
        assert!(
            !c.attempt(invite(), flow()),
            "the INVITE with credentials does not"
        );
        let ended = c.end();
        assert!(ended.was_active);
        assert!(c.is_over());
        assert!(!c.end().was_active, "the gauge goes down once");
    }

    #[test]
    fn a_challenge_is_no_outcome_and_a_failure_or_bye_ends_the_call() {
        let mut c = Call::new("call-1", 1, Instant::now());
        let challenged = c.finished(407, true, false, false, None);
        assert_eq!(
            challenged,
            Finish {
                outcome: None,
                end: true
            }
        );
        let busy = c.finished(486, true, false, false, None);
        assert_eq!(busy.outcome, Some(call_outcome(486, false)));
        let answered = c.finished(200, true, false, false, None);
        assert_eq!(
            answered,
            Finish {
                outcome: Some("answered"),
                end: false
            }
        );
        let feature = c.finished(200, true, false, false, Some("feature"));
        assert_eq!(feature.outcome, Some("feature"));
        let bye = c.finished(200, false, true, false, None);
        assert_eq!(
            bye,
            Finish {
                outcome: None,
                end: true
            }
        );
        let relayed = c.finished(200, false, false, false, None);
        assert_eq!(
            relayed,
            Finish {
                outcome: None,
                end: false
            }
        );
    }

    #[test]
    fn each_party_is_put_on_the_phone_once_and_handed_back_at_the_end() {
        let mut c = Call::new("call-1", 1, Instant::now());
        let a = Aor::from_canonical("1001");
        let b = Aor::from_canonical("1002");
        assert_eq!(
            c.on_the_phone(vec![a.clone(), b.clone()]),
            [a.clone(), b.clone()]
        );
        assert_eq!(c.on_the_phone(vec![a.clone()]), Vec::<Aor>::new());
        assert_eq!(c.end().off_the_phone, [a, b]);
        assert!(c.end().off_the_phone.is_empty());
    }

    #[test]
    fn the_caller_hears_500_after_a_failure_only_while_it_waits() {
        let mut c = Call::new("call-1", 1, Instant::now());
        assert!(c.failure_answer().is_none(), "no call, nobody waits");
        c.attempt(invite(), flow());
        let (to, resp) = c.failure_answer().expect("the caller waits");
        assert_eq!(to.remote, flow().remote);
        let resp = SipMessage::parse(resp).expect("a response");
        assert_eq!(resp.status(), Some(500));
        c.finished(486, true, false, false, None);
        assert!(c.failure_answer().is_none(), "the caller has its answer");
    }

    #[test]
    fn a_relaying_leg_is_over_when_idle_and_a_call_only_when_ended() {
        let t0 = Instant::now();
        let idle = Duration::from_secs(60);
        let mut c = Call::new("call-1", 1, t0);
        assert!(c.is_over(), "no INVITE: only relays");
        c.attempt(invite(), flow());
        assert!(!c.is_over());
        assert_eq!(c.idle_deadline(idle), t0 + idle);
        assert!(!c.is_idle(t0 + Duration::from_secs(59), idle));
        assert!(c.is_idle(t0 + idle, idle));
        c.touched(t0 + Duration::from_secs(30));
        assert!(!c.is_idle(t0 + idle, idle));
    }
}
