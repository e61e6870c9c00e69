//! Calls the switch answers for voicemail, a part of the leg: a caller leaving a message for a
//! subscriber (`leave.rs` decides, `deposit.rs` runs the call) and someone listening to a
//! mailbox, their own or one they sign in to by number and PIN (`open.rs` decides,
//! `listen.rs` runs the call); and the hot-desk menu of `*55` dialed alone (`hotdesk.rs`),
//! which asks by the same prompts and keys. Each is a call the switch answered with its own
//! media (`answered.rs`) driven by an engine machine.
//!
//! The leg holds at most one [`VoicemailCall`] and hands it what concerns it: the call's
//! requests and responses, its media notes (digits, the end of a playback, a media timeout),
//! the message writer's notes (the caller's level, a greeting recorded) and time.
//!
//! Guarantees: the call ends (in the calls table and for presence) once its dialog does; the
//! part stays until no retransmission is left to answer.

mod answered;
mod deposit;
mod hotdesk;
mod keyed;
mod leave;
mod listen;
mod open;

use std::time::Instant;

use actix::{Context, Handler};
use bytes::Bytes;
use switchboard_engine::flow::Flow;
use switchboard_engine::media::session::Event;
use switchboard_engine::sip::Message as SipMessage;

use self::answered::Answered;
use self::deposit::DepositCall;
use self::hotdesk::HotDeskCall;
use self::listen::ListenCall;
use super::party::Drained;
use super::CallLeg;
use crate::api::leg::HotDeskFlushed;
use crate::api::media::MediaSessionId;
use crate::api::voicemail::{GreetingRecorded, VoiceHeard};
use crate::clock::now;

/// A call the switch answered for voicemail.
pub(super) struct VoicemailCall(Kind);

enum Kind {
    Deposit(Box<DepositCall>),
    Listen(Box<ListenCall>),
    HotDesk(Box<HotDeskCall>),
}

impl VoicemailCall {
    fn deposit(call: DepositCall) -> VoicemailCall {
        VoicemailCall(Kind::Deposit(Box::new(call)))
    }

    fn listen(call: ListenCall) -> VoicemailCall {
        VoicemailCall(Kind::Listen(Box::new(call)))
    }

    fn hot_desk(call: HotDeskCall) -> VoicemailCall {
        VoicemailCall(Kind::HotDesk(Box::new(call)))
    }

    fn call(&mut self) -> &mut Answered {
        match &mut self.0 {
            Kind::Deposit(d) => d.call(),
            Kind::Listen(l) => l.call(),
            Kind::HotDesk(h) => h.call(),
        }
    }

    fn react(&mut self, now: Instant) {
        match &mut self.0 {
            Kind::Deposit(d) => d.react(now),
            Kind::Listen(l) => l.react(now),
            Kind::HotDesk(h) => h.react(now),
        }
    }

    pub(super) fn session_id(&self) -> MediaSessionId {
        match &self.0 {
            Kind::Deposit(d) => d.session_id(),
            Kind::Listen(l) => l.session_id(),
            Kind::HotDesk(h) => h.session_id(),
        }
    }

    /// Takes a request of the answered dialog; `false` for anything else.
    pub(super) fn take(&mut self, msg: &SipMessage, now: Instant) -> bool {
        if !self.call().take(msg, now) {
            return false;
        }
        self.react(now);
        true
    }

    /// Takes a response to a request of ours; gives back any other.
    pub(super) fn take_response(&mut self, now: Instant, resp: SipMessage) -> Option<SipMessage> {
        let not_ours = self.call().take_response(now, resp);
        if not_ours.is_none() {
            self.react(now);
        }
        not_ours
    }

    /// The media plane's word on the call's session; `true` when the media died.
    pub(super) fn on_media(&mut self, now: Instant, event: Event) -> bool {
        match (&mut self.0, event) {
            (Kind::Deposit(d), Event::Digit { digit, .. }) => d.digit(now, digit),
            (Kind::Listen(l), Event::Digit { digit, .. }) => l.digit(now, digit),
            (Kind::HotDesk(h), Event::Digit { digit, .. }) => h.digit(now, digit),
            (Kind::Deposit(d), Event::PlayFinished { .. }) => d.play_finished(now),
            (Kind::Listen(l), Event::PlayFinished { .. }) => l.play_finished(now),
            (Kind::HotDesk(h), Event::PlayFinished { .. }) => h.play_finished(now),
            (Kind::Deposit(d), Event::MediaTimeout { .. }) => {
                d.media_died(now);
                return true;
            }
            (Kind::Listen(l), Event::MediaTimeout { .. }) => {
                l.media_died(now);
                return true;
            }
            (Kind::HotDesk(h), Event::MediaTimeout { .. }) => {
                h.media_died(now);
                return true;
            }
            (_, Event::Latched { .. }) => {}
        }
        false
    }

    /// Something failed in the call: what is recorded stops, and the switch hangs up.
    pub(super) fn abort(&mut self, now: Instant, reason: &str) {
        match &mut self.0 {
            Kind::Deposit(d) => d.abort(now, reason),
            Kind::Listen(l) => l.abort(now, reason),
            Kind::HotDesk(h) => h.abort(now, reason),
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        match &self.0 {
            Kind::Deposit(d) => d.poll_timeout(),
            Kind::Listen(l) => l.poll_timeout(),
            Kind::HotDesk(h) => h.poll_timeout(),
        }
    }

    pub(super) fn handle_timeout(&mut self, now: Instant) {
        match &mut self.0 {
            Kind::Deposit(d) => d.handle_timeout(now),
            Kind::Listen(l) => l.handle_timeout(now),
            Kind::HotDesk(h) => h.handle_timeout(now),
        }
    }

    /// Hands each send to `send`; says whether the call ended, and whether anything is left
    /// to answer.
    pub(super) fn drain(&mut self, send: impl FnMut(&Flow, Bytes)) -> Drained {
        self.call().drain(send)
    }

    /// What the calls table calls a call of this kind.
    pub(super) fn kind(&self) -> &'static str {
        match self.0 {
            Kind::Deposit(_) => "voicemail",
            Kind::Listen(_) => "mailbox",
            Kind::HotDesk(_) => "hotdesk",
        }
    }
}

impl CallLeg {
    /// Sends what the voicemail dialog produced; the call ends when its dialog does (the part
    /// stays until no retransmission is left to answer).
    pub(super) fn drain_voicemail(&mut self) {
        let Some(v) = self.voicemail.as_mut() else {
            return;
        };
        let transports = &self.transports;
        let drained = v.drain(|flow, bytes| transports.send(flow, bytes));
        if drained == Drained::Live {
            return;
        }
        let kind = v.kind();
        if drained == Drained::Done {
            self.voicemail = None;
        }
        if !self.call.is_ended() {
            self.end_call(kind);
        }
    }
}

impl Handler<VoiceHeard> for CallLeg {
    type Result = ();

    fn handle(&mut self, m: VoiceHeard, ctx: &mut Context<Self>) {
        let span = self.span.clone();
        let _g = span.enter();
        // not counted in `processed`: only the owners table's messages are
        let t = now();
        match self.voicemail.as_mut().map(|v| &mut v.0) {
            Some(Kind::Deposit(d)) if d.recording() == Some(m.deposit) => d.heard(t, m.dbfs),
            Some(Kind::Listen(l)) if l.recording() == Some(m.deposit) => l.heard(t, m.dbfs),
            _ => {}
        }
        self.after(ctx);
    }
}

impl Handler<GreetingRecorded> for CallLeg {
    type Result = ();

    fn handle(&mut self, m: GreetingRecorded, ctx: &mut Context<Self>) {
        let span = self.span.clone();
        let _g = span.enter();
        if let Some(Kind::Listen(l)) = self.voicemail.as_mut().map(|v| &mut v.0) {
            l.greeting_recorded(m);
        }
        self.after(ctx);
    }
}

impl Handler<HotDeskFlushed> for CallLeg {
    type Result = ();

    fn handle(&mut self, m: HotDeskFlushed, ctx: &mut Context<Self>) {
        let span = self.span.clone();
        let _g = span.enter();
        if let Some(Kind::HotDesk(h)) = self.voicemail.as_mut().map(|v| &mut v.0) {
            h.flushed(now(), m.ok);
        }
        self.after(ctx);
    }
}
