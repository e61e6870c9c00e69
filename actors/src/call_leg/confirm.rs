//! The switch's own answer to a feature code (`*72 1002`, `*73`, ...): the engine's
//! `ConfirmDialog` answers the INVITE with 200, waits for the ACK (RFC 3261 §13.3.1.4,
//! retransmitting the 200 over UDP) and hangs up with a BYE (§15.1), so the phone hears that
//! the change was made.
//!
//! The leg starts it (`answer`) once the change is on disk, gives it what belongs to the
//! answered dialog (`take`, `take_response`), runs its deadline and drains its sends
//! (`drain`), which say when the dialog is over. It owns the dialog and where its messages
//! go; it does no I/O itself.
//!
//! Guarantees: the 200 goes upstream through the INVITE's own server transaction, so that
//! transaction stops answering by itself; a caller that hung up while the change was written
//! gets no 200.

use std::time::Instant;

use bytes::Bytes;
use std::time::Duration;

use switchboard_engine::dialog::{Answer, ConfirmDialog, ConfirmOutput, Prompt};
use switchboard_engine::entropy::Entropy;
use switchboard_engine::flow::Flow;
use switchboard_engine::media::session::Source;
use switchboard_engine::media::tone::Tone;
use switchboard_engine::media::Side;
use switchboard_engine::proxy::Local;
use switchboard_engine::sip::{Message as SipMessage, Method, ViaFix};
use switchboard_engine::txn::ServerKey;

use super::txn::Txn;
use crate::api::media::MediaSessionId;
use crate::media::MediaSession;

/// The longest a confirmation's prompt plays before the switch hangs up anyway.
const PROMPT_LONGEST: Duration = Duration::from_secs(3);

/// A call the switch answered itself.
pub(super) struct Confirm {
    dialog: ConfirmDialog,
    upstream: Flow,
    invite: ServerKey,
    via_fix: Option<ViaFix>,
    /// The switch's media for the prompt (its answer is in the 200), and whether it started.
    media: Option<(MediaSession, bool)>,
}

impl Confirm {
    /// Answers the INVITE of `txn` with 200 and `reason` (what the feature code did); `None`
    /// when the caller hung up meanwhile (CANCEL, 487).
    pub(super) fn answer(
        now: Instant,
        txn: &mut Txn,
        local: &Local,
        entropy: &mut Entropy,
        reason: &str,
        media: Option<(MediaSession, String)>,
    ) -> Option<Confirm> {
        if txn.ctx.is_finished() {
            return None;
        }
        let mut dialog = ConfirmDialog::new(
            now,
            txn.ctx.request(),
            txn.upstream().transport,
            txn.via_fix(),
            local,
            entropy,
            Answer {
                reason,
                prompt: media.as_ref().map(|(_, answer)| Prompt {
                    answer,
                    longest: PROMPT_LONGEST,
                }),
            },
        );
        // the 200 goes through the transaction, so it stops answering by itself
        let Some(ConfirmOutput::Send(ok)) = dialog.poll_output() else {
            return None;
        };
        let confirm = Confirm {
            dialog,
            upstream: txn.upstream(),
            invite: txn.key.clone(),
            via_fix: txn.via_fix(),
            media: media.map(|(session, _)| (session, false)),
        };
        txn.ctx.respond_with(now, 200, ok);
        Some(confirm)
    }

    /// Takes a response to our BYE; gives back any other.
    pub(super) fn take_response(&mut self, now: Instant, resp: SipMessage) -> Option<SipMessage> {
        if !self.dialog.owns_response(&resp) {
            return Some(resp);
        }
        self.dialog.handle_response(now, resp);
        None
    }

    /// Takes a request that belongs to the answered dialog (the INVITE again, its ACK, a BYE);
    /// `false` for anything else.
    pub(super) fn take(&mut self, msg: &SipMessage, now: Instant) -> bool {
        let method = msg.method();
        let retransmission = method == Some(Method::Invite)
            && msg.to_tag().is_none()
            && ServerKey::from_request(msg).as_ref() == Some(&self.invite);
        let ours = self.dialog.owns(msg) && matches!(method, Some(Method::Ack | Method::Bye));
        // nothing else is meant for a dialog that is about to end
        if !retransmission && !ours {
            return false;
        }
        self.dialog.handle_request(now, msg, self.via_fix);
        // acknowledged: the prompt plays now, while the phone listens
        if let Some((session, started)) = self.media.as_mut() {
            if self.dialog.is_playing() && !*started {
                *started = true;
                session.play(Side::Caller, Source::Tone(Tone::CHIME));
            }
        }
        true
    }

    /// The media session of the prompt, if there is one.
    pub(super) fn session_id(&self) -> Option<MediaSessionId> {
        self.media.as_ref().map(|(s, _)| s.id())
    }

    /// The prompt played: the switch hangs up.
    pub(super) fn hang_up(&mut self, now: Instant) {
        self.dialog.hang_up(now);
    }

    /// When the dialog next needs time (a 200 retransmission, giving up on the ACK, our BYE).
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.dialog.poll_timeout()
    }

    /// Runs the dialog if its deadline passed by `now`.
    pub(super) fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|d| d <= now) {
            self.dialog.handle_timeout(now);
        }
    }

    /// Hands each send to `send` with its flow; `true` once the dialog is over.
    pub(super) fn drain(&mut self, mut send: impl FnMut(&Flow, Bytes)) -> bool {
        let mut done = false;
        while let Some(o) = self.dialog.poll_output() {
            match o {
                ConfirmOutput::Send(b) => send(&self.upstream, b),
                ConfirmOutput::Done => done = true,
            }
        }
        done
    }
}

impl super::CallLeg {
    /// Sends what the answered feature-code dialog produced; ends the call when it is over.
    pub(super) fn drain_confirm(&mut self) {
        let Some(c) = self.confirm.as_mut() else {
            return;
        };
        let transports = &self.transports;
        if c.drain(|flow, bytes| transports.send(flow, bytes)) {
            self.confirm = None;
            self.end_call("answered by the switch");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use switchboard_engine::proxy::ContextConfig;
    use switchboard_engine::sip::ResponseBuilder;

    fn request(method: &str, to_tag: &str) -> SipMessage {
        let raw = format!(
            "{method} sip:*73@sb.test SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKfeat\r\n\
             From: <sip:1001@sb.test>;tag=a\r\nTo: <sip:*73@sb.test>{to_tag}\r\n\
             Call-ID: feat-1\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n\
             Contact: <sip:1001@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n"
        );
        SipMessage::parse(Bytes::from(raw)).expect("parses")
    }

    fn invite_txn(now: Instant) -> (Txn, Local) {
        let local = Local::new("127.0.0.1", 5060, "sb.test");
        let flow = Flow::udp("127.0.0.1:5070".parse().expect("an address"));
        let txn = Txn::new(
            now,
            request("INVITE", ""),
            flow,
            true,
            Arc::new(local.clone()),
            Entropy::seeded(3),
            ContextConfig::default(),
        );
        (txn, local)
    }

    /// What the drain sent, and whether the dialog is over.
    fn sent(c: &mut Confirm) -> (Vec<SipMessage>, bool) {
        let mut out = Vec::new();
        let done = c.drain(|_, b| out.push(SipMessage::parse(b).expect("we send SIP")));
        (out, done)
    }

    #[test]
    fn the_answer_goes_through_the_invite_transaction_and_an_ack_brings_our_bye() {
        let t0 = Instant::now();
        let (mut txn, local) = invite_txn(t0);
        let mut entropy = Entropy::seeded(9);
        let mut c = Confirm::answer(
            t0,
            &mut txn,
            &local,
            &mut entropy,
            "Forwarding Cleared",
            None,
        )
        .expect("the caller waits");
        assert_eq!(txn.ctx.final_code(), Some(200), "the transaction answered");
        let mut ok = None;
        while let Some(o) = txn.ctx.poll_output() {
            if let switchboard_engine::proxy::Output::Upstream(b) = o {
                ok = Some(SipMessage::parse(b).expect("SIP"));
            }
        }
        let ok = ok.expect("the 200 went upstream");
        assert!(
            c.take(&request("INVITE", ""), t0),
            "the INVITE again is absorbed"
        );
        assert!(
            !c.take(&request("ACK", ";tag=other"), t0),
            "another dialog's ACK"
        );
        let tag = format!(";tag={}", ok.to_tag().expect("our tag"));
        assert!(c.take(&request("ACK", &tag), t0), "the ACK of our 200");
        let (out, done) = sent(&mut c);
        let what: Vec<Option<u16>> = out.iter().map(SipMessage::status).collect();
        assert_eq!(what, [Some(200), None], "the 200 again, then our BYE");
        assert!(!done, "the BYE is not answered yet");

        let bye = &out[1];
        assert_eq!(bye.method(), Some(Method::Bye));
        let other = ResponseBuilder::new(&request("OPTIONS", ""), 200, "OK").build();
        let other = SipMessage::parse(other).expect("200");
        assert!(c.take_response(t0, other).is_some(), "not ours: given back");
        let bye_ok = SipMessage::parse(ResponseBuilder::new(bye, 200, "OK").build()).expect("200");
        assert!(c.take_response(t0, bye_ok).is_none());
        assert!(sent(&mut c).1, "the dialog is over");
    }

    #[test]
    fn a_caller_who_hung_up_meanwhile_gets_no_answer() {
        let t0 = Instant::now();
        let (mut txn, local) = invite_txn(t0);
        txn.ctx.respond(t0, 487, "Request Terminated", &[]);
        let mut entropy = Entropy::seeded(9);
        assert!(
            Confirm::answer(t0, &mut txn, &local, &mut entropy, "Forwarding Set", None).is_none()
        );
    }
}
