//! What the media plane reports about a call's sessions ([`MediaNote`]), handed to the part
//! of the call whose session it is: a refusal's prompt, a voicemail, a feature-code party, a
//! voice notice, or the anchored call itself (latched addresses, digits, the confirmation
//! prompt played, media that died: a BYE to both sides).

use std::time::Duration;

use actix::{Context, Handler};
use switchboard_engine::media::session::Event;
use switchboard_engine::media::Side;
use tracing::{debug, info};

use super::CallLeg;
use crate::api::media::MediaNote;
use crate::clock::now;

/// How long a call's media may take to be heard of before a BYE gives up: the BYE's own
/// transaction timer (64*T1) covers the rest.
const REASON_TIMEOUT: &str = "SIP;cause=408;text=\"Media Timeout\"";

impl CallLeg {
    /// The media plane's word on this call's media.
    fn on_media(&mut self, note: MediaNote) {
        let ours = self
            .media
            .as_ref()
            .is_some_and(|m| m.session().id() == note.session);
        let confirm = self
            .confirm
            .as_ref()
            .is_some_and(|c| c.session_id() == Some(note.session));
        if self
            .refusal
            .as_ref()
            .is_some_and(|r| r.session_id() == note.session)
        {
            return self.refusal_media(note.event);
        }
        if let Some(v) = self
            .voicemail
            .as_mut()
            .filter(|v| v.session_id() == note.session)
        {
            if v.on_media(now(), note.event) {
                self.shared.metrics.media_timeouts.inc();
            }
            return;
        }
        if let Some(p) = self
            .party
            .as_mut()
            .filter(|p| p.session_id() == note.session)
        {
            let t = now();
            match note.event {
                Event::Digit { digit, .. } => p.digit(t, digit),
                Event::PlayFinished { .. } => p.play_finished(t),
                Event::MediaTimeout { .. } => {
                    self.shared.metrics.media_timeouts.inc();
                    p.media_died(t);
                }
                Event::Latched { .. } => {}
            }
            return;
        }
        if let Some(n) = self
            .notice
            .as_mut()
            .filter(|n| n.session_id() == note.session)
        {
            let t = now();
            match note.event {
                Event::PlayFinished { .. } => n.play_finished(t),
                Event::MediaTimeout { .. } => {
                    self.shared.metrics.media_timeouts.inc();
                    n.media_died(t);
                }
                Event::Digit { .. } | Event::Latched { .. } => {}
            }
            return;
        }
        if !ours && !confirm {
            return;
        }
        match note.event {
            Event::Latched { side, from } => {
                debug!(?side, %from, "media latched");
                if let Some(no) = self.call_no {
                    let side_name = side_name(side);
                    self.shared.calls.update(no, |v| {
                        if let Some(l) = v.legs.iter_mut().find(|l| l.side == side_name) {
                            l.latched = Some(from.to_string());
                        }
                    });
                }
            }
            Event::Digit { side, digit } => {
                debug!(?side, digit = %digit.as_char(), "digit")
            }
            Event::PlayFinished { .. } if confirm => {
                if let Some(c) = self.confirm.as_mut() {
                    c.hang_up(now());
                }
            }
            Event::PlayFinished { .. } => {}
            Event::MediaTimeout { idle } => self.media_died(idle),
        }
    }

    /// No RTP from either side for `idle`: the switch ends the call, a BYE to each side.
    fn media_died(&mut self, idle: Duration) {
        info!(
            idle_secs = idle.as_secs(),
            reason = "media timeout",
            "call ended by the switch"
        );
        self.shared.metrics.media_timeouts.inc();
        let _ = self.bye_both(REASON_TIMEOUT);
        self.end_call("media timeout");
    }
}

impl Handler<MediaNote> for CallLeg {
    type Result = ();

    fn handle(&mut self, note: MediaNote, ctx: &mut Context<Self>) {
        let span = self.span.clone();
        let _g = span.enter();
        self.on_media(note);
        self.after(ctx);
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Caller => "caller",
        Side::Callee => "callee",
    }
}
