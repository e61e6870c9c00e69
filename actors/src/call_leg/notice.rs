//! A call of a voice notice (`crate::voice_notices`), a part of the leg: the switch calls a
//! landline through a trunk group (the engine's `NoticeCall`: trunk failover, the ring limit,
//! the hang-up) with a media session of its own; once answered it plays the text, read twice,
//! and when that has played to its end the call is hung up. What the call came to goes back
//! to the VoiceNotices actor once (`AttemptEnded`).
//!
//! The part needs no actor: it owns the call machine, the media session handle and the audio,
//! and the leg gives it the call's messages, its media notes and time. `impl CallLeg` at the
//! end starts it (`StartNotice`) and sends what it produced.
//!
//! Guarantees: the result is reported exactly once while the leg runs, also when the call
//! never went out (no trunk, no media port) or the leg failed; the leg ends when the call's
//! dialog is done.

use std::time::Instant;

use actix::{Context, Handler, Recipient};
use bytes::Bytes;
use switchboard_engine::dialog::{NoticeCall, NoticeDial, NoticeEvent, NoticeRoute};
use switchboard_engine::entropy::Entropy;
use switchboard_engine::flow::Flow;
use switchboard_engine::media::session::Source;
use switchboard_engine::media::Side;
use switchboard_engine::messaging::voice::{AttemptResult, Cause, Failure};
use switchboard_engine::sdp::Sdp;
use switchboard_engine::sip::{Message as SipMessage, ViaFix};
use switchboard_engine::trunk::Trunks;
use tracing::{info, warn};

use super::party::Drained;
use super::CallLeg;
use crate::api::leg::StartNotice;
use crate::api::media::MediaSessionId;
use crate::api::voice_notices::{AttemptEnded, NoticeCallSpec};
use crate::clock::now;
use crate::media::MediaSession;

/// The Reason of our BYE when the media died.
const REASON_TIMEOUT: &str = "SIP;cause=408;text=\"Media Timeout\"";

/// Where the result goes, until it went.
struct Report {
    to: Recipient<AttemptEnded>,
    seq: u64,
    attempt: u32,
}

/// A notice's call.
pub(super) struct Notice {
    call: NoticeCall,
    /// The flow of each route's trunk.
    flows: Vec<Flow>,
    at: usize,
    media: MediaSession,
    offer: Sdp,
    audio: Source,
    report: Option<Report>,
    /// What the call came to, once it is known.
    outcome: Option<&'static str>,
}

impl Notice {
    pub(super) fn session_id(&self) -> MediaSessionId {
        self.media.id()
    }

    /// Takes a request of the call (the callee's BYE, re-INVITE); `false` for anything else.
    pub(super) fn take(&mut self, msg: &SipMessage, via_fix: Option<ViaFix>, now: Instant) -> bool {
        if msg.call_id() != Some(self.call.call_id()) {
            return false;
        }
        self.call.handle_request(now, msg, via_fix);
        self.react(now);
        true
    }

    /// Takes a response of the call; gives back any other.
    pub(super) fn take_response(&mut self, now: Instant, resp: SipMessage) -> Option<SipMessage> {
        if resp.call_id() != Some(self.call.call_id()) {
            return Some(resp);
        }
        self.call.handle_response(now, resp);
        self.react(now);
        None
    }

    /// What played to the landline ended: the text was read twice.
    pub(super) fn play_finished(&mut self, now: Instant) {
        self.call.read_out(now);
        self.react(now);
    }

    /// The media died: the call is hung up.
    pub(super) fn media_died(&mut self, now: Instant) {
        self.call.hang_up(now, REASON_TIMEOUT);
        self.react(now);
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.call.poll_timeout()
    }

    pub(super) fn handle_timeout(&mut self, now: Instant) {
        if self.call.poll_timeout().is_some_and(|t| t <= now) {
            self.call.handle_timeout(now);
        }
        self.react(now);
    }

    /// Hands each send to `send` with its trunk's flow; says whether the call ended.
    pub(super) fn drain(&mut self, mut send: impl FnMut(&Flow, Bytes)) -> Drained {
        while let Some(o) = self.call.poll_output() {
            let (switchboard_engine::dialog::DialogOutput::Reply(b)
            | switchboard_engine::dialog::DialogOutput::Request { bytes: b, .. }) = o;
            send(&self.flows[self.at], b);
        }
        if self.call.is_done() {
            Drained::Done
        } else if self.call.is_finished() {
            Drained::Ended
        } else {
            Drained::Live
        }
    }

    /// What the call came to, once known (for the calls table).
    pub(super) fn outcome(&self) -> Option<&'static str> {
        self.outcome
    }

    /// The leg failed: the result goes now, as a call the switch could not make.
    pub(super) fn abandon(&mut self) {
        self.reported(AttemptResult::Failed(Failure::new(Cause::Unplaceable, 500)));
    }

    /// Takes what the call machine decided.
    fn react(&mut self, now: Instant) {
        while let Some(e) = self.call.poll_event() {
            match e {
                NoticeEvent::Trying { route } => self.at = route.min(self.flows.len() - 1),
                NoticeEvent::Answered { sdp } => self.answered(now, &sdp),
                NoticeEvent::Offer { .. } => {
                    // the text goes on over the session agreed at the answer
                    let _ = self.call.refuse_offer(now);
                }
                NoticeEvent::Finished(result) => {
                    self.media.stop_play(Side::Caller);
                    self.reported(result);
                }
            }
        }
    }

    /// Answered: the answer sets up the media, and the text plays.
    fn answered(&mut self, now: Instant, sdp: &Bytes) {
        let stream = Sdp::parse(sdp)
            .ok()
            .and_then(|answer| {
                switchboard_engine::sdp::negotiate::accept_answer(&self.offer, &answer).ok()
            })
            .and_then(|s| s.into_iter().next());
        match stream {
            Some(stream) => {
                self.media
                    .configure(Side::Caller, super::media::stream(&stream, None));
                self.media.activate();
                self.media.play(Side::Caller, self.audio.clone());
            }
            None => {
                warn!("voice notice: the answer's media cannot be used");
                self.call.unusable_answer(now);
            }
        }
    }

    fn reported(&mut self, result: AttemptResult) {
        let Some(r) = self.report.take() else {
            return;
        };
        let outcome = match result {
            AttemptResult::Delivered => "delivered",
            AttemptResult::Failed(f) => f.cause.as_str(),
        };
        info!(
            seq = r.seq,
            attempt = r.attempt,
            outcome,
            "voice notice call ended"
        );
        self.outcome = Some(outcome);
        r.to.do_send(AttemptEnded {
            seq: r.seq,
            attempt: r.attempt,
            result,
        });
    }
}

/// The flow that reaches a trunk.
fn flow_of(trunks: &Trunks, route: &NoticeRoute) -> Flow {
    let t = trunks.get(route.trunk);
    Flow {
        transport: t.transport,
        remote: t.remote,
        conn: None,
    }
}

impl CallLeg {
    /// Places call `spec.attempt` of a voice notice: through the trunks of its group, with
    /// the switch's offer, from the sender's number.
    fn start_notice(&mut self, spec: NoticeCallSpec) {
        self.file_call(None, spec.to.as_str());
        let report = Report {
            to: spec.report,
            seq: spec.seq,
            attempt: spec.attempt,
        };
        let fail = |report: Report, code: u16, why: &str| {
            warn!(
                seq = report.seq,
                why, "voice notice: the call cannot be placed"
            );
            report.to.do_send(AttemptEnded {
                seq: report.seq,
                attempt: report.attempt,
                result: AttemptResult::Failed(Failure::new(Cause::Unplaceable, code)),
            });
        };
        let trunks = &self.shared.trunks;
        let routes = NoticeRoute::through(trunks, &spec.group, spec.to.as_str());
        if routes.is_empty() {
            fail(report, 500, "no trunk in the group");
            return self.end_call("no trunk for the voice notice");
        }
        let flows: Vec<Flow> = routes.iter().map(|r| flow_of(trunks, r)).collect();
        let Some((media, offer)) = self.own_offer() else {
            fail(report, 503, "no media port");
            return self.end_call("no media port");
        };
        let domain = self.shared.local.domain.clone();
        let to = format!("<sip:{}@{domain}>", spec.to);
        let dial = NoticeDial {
            from: &spec.from,
            to: &to,
            sdp: &media.sdp,
            call_id: &self.call_id,
            ring: spec.ring,
        };
        let local = self.shared.local.clone();
        let entropy = Entropy::seeded(self.entropy.next_u64());
        match NoticeCall::new(now(), dial, routes, &local, entropy) {
            Ok(call) => {
                info!(number = %spec.to.redacted(), attempt = spec.attempt, "voice notice call");
                let mut notice = Notice {
                    call,
                    flows,
                    at: 0,
                    media: media.session,
                    offer,
                    audio: Source::Pcm {
                        samples: spec.audio,
                        rate: spec.rate,
                    },
                    report: Some(report),
                    outcome: None,
                };
                notice.react(now());
                self.notice = Some(notice);
            }
            Err(e) => {
                fail(report, 500, &e.to_string());
                self.end_call("voice notice refused");
            }
        }
    }

    /// Sends what the notice call produced; the call ends when its dialog does.
    pub(super) fn drain_notice(&mut self) {
        let Some(n) = self.notice.as_mut() else {
            return;
        };
        let transports = &self.transports;
        let drained = n.drain(|flow, bytes| transports.send(flow, bytes));
        if drained == Drained::Live {
            return;
        }
        let reason = format!("voice notice: {}", n.outcome().unwrap_or("ended"));
        if drained == Drained::Done {
            self.notice = None;
        }
        if !self.call.is_ended() {
            self.end_call(&reason);
        }
    }
}

impl Handler<StartNotice> for CallLeg {
    type Result = ();

    fn handle(&mut self, StartNotice(spec): StartNotice, ctx: &mut Context<Self>) {
        let span = self.span.clone();
        let _g = span.enter();
        self.start_notice(spec);
        self.after(ctx);
    }
}
