//! The call of a voice notice (`messaging::voice`): the switch calls a landline through the
//! trunks of a group, lets it ring for at most the ring limit, has the text read out once it
//! is answered, hangs up, and says what the call came to.
//!
//! Each trunk of the group is tried in order with an `OutboundCall` (RFC 3261 UAC, its digest
//! answer with the trunk's credentials included): a trunk that answers nothing within its
//! `no_response` time, or fails (`trunk::fails_over`: 408, 500, 502, 503, 504), hands the
//! call to the next one. When the ring limit runs out before the answer the call is
//! cancelled (RFC 3261 §9.1) and counts as not answered. Once answered, `Answered` asks the
//! owner to set up the media and play the text; `read_out` (the text played to its end)
//! hangs up with a BYE. The callee hanging up first is a hang-up before the text was read.
//!
//! Drive it like `OutboundCall`: responses and requests with this call's Call-ID in,
//! `handle_timeout` at `poll_timeout`; requests and replies from `poll_output`, all of them
//! for the trunk `NoticeEvent::Trying` named last; `NoticeEvent`s from `poll_event`.
//!
//! Invariant: `Finished` is emitted exactly once, and nothing but `Finished` after `Trying`
//! names no further trunk; the machine may still answer retransmissions until `is_done`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::event::{CallEvent, DialogError, DialogOutput, EndReason, NORMAL_CLEARING};
use super::outbound::{Dial, OutboundCall};
use crate::entropy::Entropy;
use crate::flow::Transport;
use crate::messaging::voice::{AttemptResult, Cause, Failure};
use crate::proxy::Local;
use crate::sip::{Message, ViaFix};
use crate::trunk::{fails_over, TrunkCredentials, TrunkId, Trunks};

/// The Reason of our BYE when the answer's media could not be used.
pub const REASON_UNUSABLE: &str = "SIP;cause=488;text=\"Not Acceptable Here\"";

/// One trunk the call may go through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeRoute {
    pub trunk: TrunkId,
    /// The landline's number written the trunk's way, at the trunk's address.
    pub request_uri: String,
    pub transport: Transport,
    pub credentials: Option<TrunkCredentials>,
    /// How long the trunk may stay silent before the next one is tried.
    pub no_response: Duration,
}

impl NoticeRoute {
    /// The routes to `number` through trunk group `group`, in the order they are tried
    /// (empty: no such group).
    pub fn through(trunks: &Trunks, group: &str, number: &str) -> Vec<NoticeRoute> {
        trunks
            .group(group)
            .into_iter()
            .map(|id| {
                let t = trunks.get(id);
                NoticeRoute {
                    trunk: id,
                    request_uri: trunks.request_uri(id, number),
                    transport: t.transport,
                    credentials: t.credentials.clone(),
                    no_response: t.no_response,
                }
            })
            .collect()
    }
}

/// What is the same for every trunk tried.
#[derive(Clone, Copy, Debug)]
pub struct NoticeDial<'a> {
    /// From without a tag: who the landline sees calling.
    pub from: &'a str,
    /// To: the landline, a name-addr.
    pub to: &'a str,
    /// Our SDP offer.
    pub sdp: &'a str,
    /// The call's Call-ID (the owner routes the call's messages by it).
    pub call_id: &'a str,
    /// How long the landline may ring (from the INVITE to each trunk) before the call is
    /// given up as not answered.
    pub ring: Duration,
}

/// What the owner hears from the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoticeEvent {
    /// The call now goes through route `index` of the routes given: send what `poll_output`
    /// gives to that trunk.
    Trying { route: usize },
    /// Answered, `sdp` the callee's answer to our offer: set up the media, play the text,
    /// call `read_out` when it has played to its end (or `unusable_answer`).
    Answered { sdp: Bytes },
    /// The callee offers a new session description: `answer_offer` or `refuse_offer`.
    Offer { sdp: Bytes },
    /// What the call came to.
    Finished(AttemptResult),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Stage {
    Calling,
    /// The ring limit ran out: cancelled, waiting for the INVITE to end.
    Cancelled,
    /// Answered; the text is being read.
    Reading,
    /// `Finished` was emitted.
    Over,
}

#[derive(Debug)]
struct Owned {
    from: String,
    to: String,
    sdp: String,
    call_id: String,
    ring: Duration,
}

/// A voice notice's call.
#[derive(Debug)]
pub struct NoticeCall {
    dial: Owned,
    routes: Vec<NoticeRoute>,
    at: usize,
    local: Local,
    entropy: Entropy,
    call: OutboundCall,
    /// Calls through earlier trunks that ended, kept to acknowledge retransmitted finals.
    spent: Vec<OutboundCall>,
    ring_at: Instant,
    /// Until the trunk says anything: when it counts as gone.
    silence_at: Option<Instant>,
    stage: Stage,
    events: VecDeque<NoticeEvent>,
}

impl NoticeCall {
    /// Calls through the first of `routes`. Fails when there is no route, or `dial` holds a
    /// value that is no SIP.
    pub fn new(
        now: Instant,
        dial: NoticeDial<'_>,
        routes: Vec<NoticeRoute>,
        local: &Local,
        mut entropy: Entropy,
    ) -> Result<NoticeCall, DialogError> {
        let first = routes.first().ok_or(DialogError::Invalid("route"))?;
        let call = place(now, &dial, first, local, &mut entropy)?;
        let mut n = NoticeCall {
            dial: Owned {
                from: dial.from.to_owned(),
                to: dial.to.to_owned(),
                sdp: dial.sdp.to_owned(),
                call_id: dial.call_id.to_owned(),
                ring: dial.ring,
            },
            ring_at: now + dial.ring,
            silence_at: Some(now + first.no_response),
            routes,
            at: 0,
            local: local.clone(),
            entropy,
            call,
            spent: Vec::new(),
            stage: Stage::Calling,
            events: VecDeque::new(),
        };
        n.events.push_back(NoticeEvent::Trying { route: 0 });
        n.react(now);
        Ok(n)
    }

    /// A response with this call's Call-ID.
    pub fn handle_response(&mut self, now: Instant, resp: Message) {
        if self.call.handle_response(now, resp.clone()) {
            return self.react(now);
        }
        // a final again from a trunk given up: its own call acknowledges it
        for c in &mut self.spent {
            if c.handle_response(now, resp.clone()) {
                return;
            }
        }
    }

    /// A request from the callee.
    pub fn handle_request(&mut self, now: Instant, req: &Message, via_fix: Option<ViaFix>) {
        self.call.handle_request(now, req, via_fix);
        self.react(now);
    }

    /// The text played to its end: the call is hung up and the notice delivered.
    pub fn read_out(&mut self, now: Instant) {
        if self.stage == Stage::Reading {
            self.finish(AttemptResult::Delivered);
            self.call.hang_up(now, NORMAL_CLEARING);
            self.react(now);
        }
    }

    /// The answer's media could not be set up: hung up, the call failed with 488.
    pub fn unusable_answer(&mut self, now: Instant) {
        if self.stage == Stage::Reading {
            self.finish(AttemptResult::Failed(Failure::new(Cause::Rejected, 488)));
            self.call.hang_up(now, REASON_UNUSABLE);
            self.react(now);
        }
    }

    /// The switch gives up the call (`reason`: the Reason of a BYE): before the answer a
    /// CANCEL, after it a BYE; a call the text was not read to is a hang-up.
    pub fn hang_up(&mut self, now: Instant, reason: &str) {
        match self.stage {
            Stage::Calling => {
                self.stage = Stage::Cancelled;
                self.call.cancel(now);
            }
            Stage::Reading => {
                self.finish(AttemptResult::Failed(Failure::new(Cause::HungUp, 0)));
                self.call.hang_up(now, reason);
            }
            Stage::Cancelled | Stage::Over => {}
        }
        self.react(now);
    }

    /// The answer to the callee's `Offer`.
    pub fn answer_offer(&mut self, now: Instant, sdp: &str) -> Result<(), DialogError> {
        self.call.answer_offer(now, sdp)
    }

    /// Refuses the callee's offer with 488 (the session goes on as it was).
    pub fn refuse_offer(&mut self, now: Instant) -> Result<(), DialogError> {
        self.call.refuse_offer(now)
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        for c in &mut self.spent {
            c.handle_timeout(now);
        }
        self.spent.retain(|c| !c.is_done());
        self.call.handle_timeout(now);
        if self.stage == Stage::Calling && self.ring_at <= now {
            self.stage = Stage::Cancelled;
            self.call.cancel(now);
        }
        if self.silence_at.is_some_and(|t| t <= now) {
            self.silence_at = None;
            if !self.call.is_heard() && matches!(self.stage, Stage::Calling | Stage::Cancelled) {
                // nothing to cancel: the trunk never answered; its INVITE is given up
                self.next_route(now, Failure::new(Cause::TrunkFailed, 408));
            }
        }
        self.react(now);
    }

    pub fn poll_output(&mut self) -> Option<DialogOutput> {
        for c in &mut self.spent {
            if let Some(o) = c.poll_output() {
                return Some(o);
            }
        }
        self.call.poll_output()
    }

    pub fn poll_event(&mut self) -> Option<NoticeEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let ring = (self.stage == Stage::Calling).then_some(self.ring_at);
        [self.call.poll_timeout(), ring, self.silence_at]
            .into_iter()
            .flatten()
            .chain(self.spent.iter().filter_map(OutboundCall::poll_timeout))
            .min()
    }

    pub fn call_id(&self) -> &str {
        &self.dial.call_id
    }

    /// The route the call goes through now.
    pub fn route(&self) -> &NoticeRoute {
        &self.routes[self.at]
    }

    /// `Finished` was emitted.
    pub fn is_finished(&self) -> bool {
        self.stage == Stage::Over
    }

    /// Finished, and nothing is left to send or answer.
    pub fn is_done(&self) -> bool {
        self.is_finished() && self.call.is_done() && self.spent.iter().all(OutboundCall::is_done)
    }

    /// Takes what the current call reported.
    fn react(&mut self, now: Instant) {
        while let Some(e) = self.call.poll_event() {
            match e {
                CallEvent::Ringing { .. } => self.silence_at = None,
                CallEvent::Answered { sdp } if self.stage == Stage::Calling => {
                    self.silence_at = None;
                    self.stage = Stage::Reading;
                    self.events.push_back(NoticeEvent::Answered { sdp });
                }
                CallEvent::Offer { sdp } if self.stage == Stage::Reading => {
                    self.events.push_back(NoticeEvent::Offer { sdp });
                }
                CallEvent::Offer { .. } => {
                    let _ = self.call.refuse_offer(now);
                }
                CallEvent::Failed { code, .. } => {
                    self.silence_at = None;
                    if self.stage == Stage::Cancelled {
                        self.finish(AttemptResult::Failed(Failure::new(Cause::NoAnswer, code)));
                    } else if fails_over(code) {
                        let cause = if code == 408 {
                            Cause::NoAnswer
                        } else {
                            Cause::TrunkFailed
                        };
                        self.next_route(now, Failure::new(cause, code));
                    } else {
                        self.finish(AttemptResult::Failed(Failure::of_final(code)));
                    }
                }
                CallEvent::Ended(reason) => match self.stage {
                    Stage::Reading => {
                        self.finish(AttemptResult::Failed(Failure::new(Cause::HungUp, 0)))
                    }
                    Stage::Calling | Stage::Cancelled => {
                        let code = if reason == EndReason::Cancelled {
                            487
                        } else {
                            0
                        };
                        self.finish(AttemptResult::Failed(Failure::new(Cause::NoAnswer, code)))
                    }
                    Stage::Over => {}
                },
                _ => {}
            }
        }
    }

    /// The current trunk failed (`failure`): the next one is called, or the call ends with
    /// `failure` when none is left.
    fn next_route(&mut self, now: Instant, failure: Failure) {
        let next = self.at + 1;
        if self.stage == Stage::Calling && next < self.routes.len() {
            let dial = NoticeDial {
                from: &self.dial.from,
                to: &self.dial.to,
                sdp: &self.dial.sdp,
                call_id: &self.dial.call_id,
                ring: self.dial.ring,
            };
            if let Ok(call) = place(
                now,
                &dial,
                &self.routes[next],
                &self.local,
                &mut self.entropy,
            ) {
                let old = std::mem::replace(&mut self.call, call);
                if old.is_heard() {
                    self.spent.push(old);
                }
                self.at = next;
                self.ring_at = now + self.dial.ring;
                self.silence_at = Some(now + self.routes[next].no_response);
                self.events.push_back(NoticeEvent::Trying { route: next });
                return;
            }
        }
        let failure = if self.stage == Stage::Cancelled {
            Failure::new(Cause::NoAnswer, failure.code)
        } else {
            failure
        };
        self.finish(AttemptResult::Failed(failure));
    }

    fn finish(&mut self, result: AttemptResult) {
        if self.stage != Stage::Over {
            self.stage = Stage::Over;
            self.silence_at = None;
            self.events.push_back(NoticeEvent::Finished(result));
        }
    }
}

/// The INVITE of the call through `route`.
fn place(
    now: Instant,
    dial: &NoticeDial<'_>,
    route: &NoticeRoute,
    local: &Local,
    entropy: &mut Entropy,
) -> Result<OutboundCall, DialogError> {
    let d = Dial {
        request_uri: &route.request_uri,
        route: &[],
        from: dial.from,
        to: dial.to,
        sdp: dial.sdp,
        headers: &[],
        credentials: route.credentials.as_ref(),
        transport: route.transport,
        call_id: Some(dial.call_id),
    };
    OutboundCall::new(now, d, local, Entropy::seeded(entropy.next_u64()))
}

#[cfg(test)]
mod tests;
