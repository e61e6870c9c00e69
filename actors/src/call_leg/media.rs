//! The call's media when the switch anchors it, a part of the call: its session on the media
//! plane, the offer/answer through the relay (`switchboard_engine::anchor::AnchoredCall`),
//! why it is anchored, the ringback played to the caller while the callee rings without early
//! media, and the recording (with its notice to both sides at answer when
//! `media.record_announcement` asks for it).
//!
//! The leg hands it the descriptions that pass through (the caller's offer, the callee's
//! answers, offers inside the dialog and their answers) and gets back the bodies to forward
//! instead; each side's negotiated stream goes to the media session as it is known. It needs
//! no actor: the session handle's commands go to the media thread, and what the session
//! reports comes back to the leg as `MediaNote` messages.
//!
//! Guarantees: the caller's answer is fixed once sent (ringback's early answer and the final
//! one agree); ringback stops as soon as the callee's own media or answer arrives; dropping
//! it closes the session (its ports are free again, and a recording's tap goes with it,
//! which ends the recording).

use switchboard_engine::anchor::{AnchoredCall, PlanError, Relay, SrtpPolicy};
use switchboard_engine::entropy::Entropy;
use switchboard_engine::media::dtmf::Digit;
use switchboard_engine::media::session::{Source, StreamConfig};
use switchboard_engine::media::srtp::{MasterKey, SrtpKeys, KEY_SALT_LEN};
use switchboard_engine::media::tone::{Ringback, Tone};
use switchboard_engine::media::{Codec, Side};
use switchboard_engine::sdp::negotiate::{CodecPolicy, Negotiated};
use switchboard_engine::sdp::{Origin, Sdp};

use crate::media::MediaSession;

/// An anchored call's media.
pub(super) struct CallMedia {
    session: MediaSession,
    plan: AnchoredCall,
    /// The ringback country (ITU calling code) while ringback plays to the caller.
    ringing: Option<u16>,
    /// The caller was given the switch's answer before the callee's (for ringback).
    early: bool,
    /// The call is answered: media timeouts count.
    active: bool,
    /// Both sides hear the recording notice when the call is answered.
    announce: bool,
}

/// What the caller gets instead of what the callee sent.
pub(super) type Body = String;

impl CallMedia {
    /// The media of a call anchored on `session` (opened with both sides).
    pub(super) fn new(
        session: MediaSession,
        policy: CodecPolicy,
        srtp: SrtpPolicy,
        entropy: &mut Entropy,
    ) -> Option<CallMedia> {
        let caller = session.local(Side::Caller)?;
        let callee = session.local(Side::Callee)?;
        let relay = Relay {
            address: [caller.rtp.ip(), callee.rtp.ip()],
            caller: caller.relay_port(),
            callee: callee.relay_port(),
        };
        // the o= of the caller's answers: in the caller's family, as its c= is
        let origin = Origin::new(entropy.next_u64() % 1_000_000_000, 1, caller.rtp.ip());
        Some(CallMedia {
            session,
            plan: AnchoredCall::new(relay, policy, origin)
                .with_srtp(srtp, [fresh_key(), fresh_key()]),
            ringing: None,
            early: false,
            active: false,
            announce: false,
        })
    }

    pub(super) fn session(&self) -> &MediaSession {
        &self.session
    }

    /// The caller's offer: what the callee is offered instead (with the codecs the switch
    /// transcodes to when `transcode`).
    pub(super) fn caller_offered(
        &mut self,
        offer: &Sdp,
        transcode: bool,
    ) -> Result<Body, PlanError> {
        self.plan.caller_offered(offer, transcode)
    }

    /// The callee rings without early media: the caller gets the switch's answer (to put in
    /// the provisional response) and hears `country`'s ringback. `None` once it already has
    /// one, or when the call has no offer from the caller (a late offer).
    pub(super) fn ring(&mut self, country: u16) -> Option<Body> {
        if self.early || self.ringing.is_some() {
            return None;
        }
        let (body, caller) = self.plan.caller_answer().ok()?;
        self.session
            .configure(Side::Caller, stream(&caller, self.plan.srtp(Side::Caller)));
        self.session
            .play(Side::Caller, Source::Tone(Ringback::for_country(country)));
        self.ringing = Some(country);
        self.early = true;
        Some(body)
    }

    /// The callee's answer (in a 18x with early media, or the 2xx): what the caller gets.
    /// `final_answer`: the 2xx; the call is answered and its media must flow from now on.
    pub(super) fn callee_answered(
        &mut self,
        answer: &Sdp,
        final_answer: bool,
    ) -> Result<Body, PlanError> {
        let a = self.plan.callee_answered(answer)?;
        self.configure(&a.caller, &a.callee);
        self.stop_ringback();
        self.early = true;
        if final_answer {
            self.answered();
        }
        Ok(a.body)
    }

    /// The call is answered (a 2xx went to the caller): ringback stops, timeouts count.
    pub(super) fn answered(&mut self) {
        self.stop_ringback();
        if !self.active {
            self.active = true;
            self.session.activate();
            if self.announce {
                for side in [Side::Caller, Side::Callee] {
                    self.session
                        .play(side, Source::Tone(Tone::RECORDING_NOTICE));
                }
            }
        }
    }

    /// The call is recorded and its parties are told so: both hear the recording notice once
    /// it is answered.
    pub(super) fn announce_recording(&mut self) {
        self.announce = true;
    }

    /// An offer inside the dialog from `from` (or a late offer in the 2xx, from the callee):
    /// what the other side gets.
    pub(super) fn offered(&mut self, from: Side, offer: &Sdp) -> Result<Body, PlanError> {
        self.plan.offered(from, offer)
    }

    /// The answer to the offer in flight: what the offerer gets; both sides re-latch.
    pub(super) fn answered_offer(&mut self, answer: &Sdp) -> Result<Body, PlanError> {
        let r = self.plan.answered(answer)?;
        self.configure(&r.caller, &r.callee);
        Ok(r.body)
    }

    /// Whether an offer inside the dialog waits for its answer.
    pub(super) fn offer_pending(&self) -> bool {
        self.plan.is_pending()
    }

    /// The negotiated stream of `side`, once known.
    pub(super) fn stream(&self, side: Side) -> Option<&Negotiated> {
        self.plan.stream(side)
    }

    /// The two sides' codecs differ.
    pub(super) fn transcodes(&self) -> bool {
        self.plan.transcodes()
    }

    /// Sends `digit` to `side` as RFC 4733 events (a SIP INFO digit from the other side).
    /// `false` when that side takes no telephone-events.
    pub(super) fn send_digit(&self, side: Side, digit: Digit) -> bool {
        if self
            .stream(side)
            .is_some_and(|s| s.telephone_event.is_some())
        {
            self.session.send_digit(side, digit);
            true
        } else {
            false
        }
    }

    /// The session becomes the switch's own media for the caller (the switch answers the
    /// call itself, for voicemail): the caller's answer is the one the caller may have had
    /// already with ringback, or made now; the callee's side stays silent. The session, the
    /// caller's answer and its codec.
    pub(super) fn into_own(mut self) -> Option<(MediaSession, String, Codec)> {
        let (sdp, caller) = self.plan.caller_answer().ok()?;
        self.stop_ringback();
        self.session
            .configure(Side::Caller, stream(&caller, self.plan.srtp(Side::Caller)));
        Some((self.session, sdp, caller.codec))
    }

    /// Both sides' streams to the session, with their SRTP keys when they speak it.
    fn configure(&self, caller: &Negotiated, callee: &Negotiated) {
        for (side, n) in [(Side::Caller, caller), (Side::Callee, callee)] {
            self.session
                .configure(side, stream(n, self.plan.srtp(side)));
        }
    }

    fn stop_ringback(&mut self) {
        if self.ringing.take().is_some() {
            self.session.stop_play(Side::Caller);
        }
    }
}

/// A key of the switch for what it sends one side in SRTP: from the operating system's
/// random source through `rand`'s cryptographic generator (the engine's `Entropy`, which
/// makes tags and SSRCs seen on the wire, is not one).
fn fresh_key() -> MasterKey {
    MasterKey::from_bytes(&rand::random::<[u8; KEY_SALT_LEN]>())
}

/// A side's stream for the media session, from its negotiation (directions from the switch's
/// side) and its SRTP keys.
pub(super) fn stream(n: &Negotiated, srtp: Option<SrtpKeys>) -> StreamConfig {
    StreamConfig {
        remote: n.remote_rtp,
        remote_rtcp: n.remote_rtcp,
        rtcp_mux: n.rtcp_mux,
        codec: n.codec,
        payload_type: n.payload_type,
        incoming_payload_type: n.incoming_payload_type,
        telephone_event: n.telephone_event,
        incoming_telephone_event: n.incoming_telephone_event,
        sends: n.direction.sends(),
        receives: n.direction.receives(),
        srtp,
    }
}
