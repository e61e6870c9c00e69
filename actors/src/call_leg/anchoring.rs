//! Anchoring a call's media while the switch stays a proxy (RFC 3264 through its relay, as
//! Kamailio does with rtpengine): the decision before a call's branches go out, and the SDP
//! rewritten as it passes: the caller's offer toward the callee, the callee's answers toward
//! the caller (with ringback when the callee rings without early media), offers inside the
//! dialog from either side and their answers, a late offer (the callee's, in the 2xx) and
//! its answer in the ACK; SIP INFO digits (`application/dtmf-relay`) turned into RFC 4733
//! toward a side that takes telephone-events; the call's recording; and the BYE to both sides
//! with which the switch ends a call itself. What the media plane reports (a call whose media
//! died ends with that BYE) is handled in `media_notes.rs`.
//!
//! The decisions are the engine's (`switchboard_engine::anchor`); the offer/answer state is
//! the call's media part (`media.rs`). This file carries them out with what only the actor
//! has: its configuration, its address for the media plane's notes, the recorder.

use std::net::IpAddr;
use std::time::SystemTime;

use bytes::Bytes;
use switchboard_engine::anchor::{self, Facts, SrtpPolicy};
use switchboard_engine::dialog::ProxiedDialog;
use switchboard_engine::flow::{Flow, Transport};
use switchboard_engine::media::dtmf::parse_dtmf_relay;
use switchboard_engine::media::Side;
use switchboard_engine::numbering::Aor;
use switchboard_engine::sdp::negotiate::CodecPolicy;
use switchboard_engine::sdp::Sdp;
use switchboard_engine::sip::{Forward, HeaderName, Message as SipMessage, Method, Uri};
use tracing::{debug, info, warn};

use super::media::CallMedia;
use super::CallLeg;
use crate::clock::now;
use crate::recording::RecordingMeta;
use crate::transport::flow_for_uri;

impl CallLeg {
    /// The branches of transaction `i` (the call's INVITE) are about to go out, to devices
    /// registered with contact hosts and sources `callees`, on `flows` (none for a trunk or
    /// another domain): anchor the call's media if it needs it, and give the branches the
    /// relay's offer.
    ///
    /// The callee's leg counts as secure (SRTP may be offered to it, `media.srtp`, when the
    /// caller offered SRTP) when every flow is TLS, and gets the relay's IPv6 ports when
    /// every flow is IPv6; the caller's leg is in the family of its offer's address (or of
    /// where its INVITE came from).
    pub(super) fn anchor_branches(
        &mut self,
        i: usize,
        callees: Vec<(IpAddr, IpAddr)>,
        flows: &[Flow],
    ) {
        if let Some(body) = &self.callee_offer {
            // anchored at an earlier stage: the new branches get the same offer
            self.txns[i].replace_sdp(body.clone());
            return;
        }
        if self.media.is_some() || !self.txns[i].is_initial() {
            return;
        }
        let req = self.txns[i].ctx.request();
        if req.method() != Some(Method::Invite) {
            return;
        }
        let offer = sdp_of(req);
        let hints = self.txns[i]
            .setup
            .as_ref()
            .map(|s| s.media())
            .unwrap_or_default();
        let parties = self.parties(i);
        let record = hints.record
            || parties
                .iter()
                .flatten()
                .any(|a| self.shared.db.record_calls(a).unwrap_or(false));
        let mode = self.shared.config.media.srtp();
        let caller_secure = signalling_secure(self.call.source());
        // a fork to a TLS phone and a UDP one is plain: one offer goes to all, and the key
        // in it must not travel in clear
        let callee_secure = !flows.is_empty() && flows.iter().all(|f| signalling_secure(Some(f)));
        // the callee is offered SRTP only when the caller asked for it: a TLS phone that
        // speaks no SRTP refuses an RTP/SAVP offer (488), and a plain call must not fail for
        // being anchored
        let caller_srtp = offer.as_ref().is_some_and(anchor::offers_srtp);
        let srtp = SrtpPolicy {
            accept: [mode.allows(caller_secure), mode.allows(callee_secure)],
            offer_callee: caller_srtp && mode.offers(callee_secure),
        };
        let facts = Facts {
            offer: offer.as_ref(),
            caller_source: self.call.source().map(|f| f.remote.ip()),
            callees,
            plugin: hints.anchor,
            record,
            srtp: offer
                .as_ref()
                .is_some_and(|o| anchor::srtp_needs_anchor(mode, o, caller_secure, callee_secure)),
        };
        let Some(reason) = anchor::decide(self.shared.config.media.anchor(), &facts) else {
            return;
        };
        let Some(me) = self.me.clone() else { return };
        let caller_v6 = offer
            .as_ref()
            .and_then(anchor::audio_address)
            .or(facts.caller_source)
            .is_some_and(|a| a.is_ipv6());
        let callee_v6 = !flows.is_empty() && flows.iter().all(|f| f.remote.is_ipv6());
        let session = match self.shared.media.open_in(
            &[(Side::Caller, caller_v6), (Side::Callee, callee_v6)],
            me.recipient(),
        ) {
            Ok(s) => s,
            Err(e) => {
                // no ports: the call goes on with direct media rather than fail
                warn!(error = %e, reason = %reason, "media not anchored");
                return;
            }
        };
        let Some(mut media) =
            CallMedia::new(session, CodecPolicy::default(), srtp, &mut self.entropy)
        else {
            return;
        };
        if let Some(offer) = &offer {
            let transcode = anchor::needs_transcoding(offer);
            match media.caller_offered(offer, transcode) {
                Ok(body) => {
                    self.txns[i].replace_sdp(body.clone());
                    self.callee_offer = Some(body);
                }
                Err(e) => {
                    // an offer the relay cannot carry (several audio streams, no codec it
                    // knows): the media flows directly
                    debug!(error = %e, "offer not anchored");
                    return;
                }
            }
        }
        info!(reason = %reason, session = %media.session().id(), "media anchored");
        self.shared.metrics.anchored_calls.inc();
        if record {
            self.start_recording(&mut media, parties);
        }
        if let Some(no) = self.call_no {
            let reason = reason.to_string();
            let session = media.session().id().0;
            self.shared.calls.update(no, |v| {
                v.media = "anchored";
                v.reason = Some(reason);
                v.session = Some(session);
            });
        }
        self.media = Some(media);
    }

    /// The caller and the subscriber being rung by transaction `i`, as far as known.
    fn parties(&self, i: usize) -> [Option<Aor>; 2] {
        let s = self.txns[i].setup.as_ref();
        [
            s.and_then(|s| s.caller().cloned()),
            s.and_then(|s| s.location().map(|(a, _)| a.clone())),
        ]
    }

    fn start_recording(&mut self, media: &mut CallMedia, parties: [Option<Aor>; 2]) {
        let [caller, callee] = parties;
        let meta = RecordingMeta {
            caller: caller.unwrap_or_else(|| Aor::from_canonical("unknown")),
            callee: callee.unwrap_or_else(|| Aor::from_canonical("unknown")),
            call_id: self.call_id.to_string(),
            started: SystemTime::now(),
        };
        match self.shared.recorder.start(meta) {
            Ok((id, tap)) => {
                media.session().set_sink(Some(Box::new(tap)));
                if self.shared.config.media.record_announcement {
                    media.announce_recording();
                }
                info!(recording = %id, "call recorded");
                if let Some(no) = self.call_no {
                    self.shared
                        .calls
                        .update(no, |v| v.recording = Some(id.to_string()));
                }
            }
            Err(e) => warn!(error = %e, "recording not started"),
        }
    }

    /// A response from downstream, before its transaction takes it: with anchored media, the
    /// SDP it carries is rewritten for the caller (the callee's answer, or an answer to an
    /// offer inside the dialog), and a 180/183 without SDP gets the switch's early answer
    /// while the caller hears ringback.
    pub(super) fn anchor_response(&mut self, resp: SipMessage, flow: &Flow) -> SipMessage {
        let (Some(code), Some(cseq)) = (resp.status(), resp.cseq()) else {
            return resp;
        };
        let method = cseq.method;
        let initial = method == Method::Invite && self.call.is_initial_cseq(cseq.seq);
        if self.media.is_none() {
            if initial && (200..300).contains(&code) {
                self.note_direct_streams(&resp);
                // a metered call may have to be cut by the switch when its credit ends
                if self.credit.is_some() && self.dialog.is_none() {
                    self.learn_dialog(&resp, flow);
                }
            }
            return resp;
        }
        if initial && (200..300).contains(&code) && self.dialog.is_none() {
            self.learn_dialog(&resp, flow);
        }
        let country = self.ringback_country();
        let late = self.callee_offer.is_none();
        let Some(media) = self.media.as_mut() else {
            return resp;
        };
        let sdp = sdp_of(&resp);
        let body = if initial {
            match (code, sdp) {
                (101..=199, Some(answer)) if !late => media.callee_answered(&answer, false),
                (180 | 183, None) if !late => match media.ring(country) {
                    Some(body) => Ok(body),
                    None => return resp,
                },
                (200..=299, Some(answer)) if !late => media.callee_answered(&answer, true),
                // a late offer: the callee offers in its 2xx, the caller answers in the ACK
                (200..=299, Some(offer)) => {
                    media.answered();
                    media.offered(Side::Callee, &offer)
                }
                (200..=299, None) => {
                    media.answered();
                    return resp;
                }
                _ => return resp,
            }
        } else if matches!(method, Method::Invite | Method::Update)
            && (200..300).contains(&code)
            && media.offer_pending()
        {
            match sdp {
                Some(answer) => media.answered_offer(&answer),
                None => return resp,
            }
        } else {
            return resp;
        };
        match body {
            Ok(body) => {
                self.note_streams();
                with_sdp(&resp, &body).unwrap_or(resp)
            }
            Err(e) => {
                warn!(error = %e, code, "answer not carried through the relay");
                resp
            }
        }
    }

    /// The ACK of a 2xx passing through: with a late offer, it carries the caller's answer,
    /// rewritten for the callee.
    pub(super) fn anchor_ack(&mut self, ack: &SipMessage) -> Option<String> {
        let media = self.media.as_mut()?;
        if !media.offer_pending() {
            return None;
        }
        let answer = sdp_of(ack)?;
        match media.answered_offer(&answer) {
            Ok(body) => {
                self.note_streams();
                Some(body)
            }
            Err(e) => {
                warn!(error = %e, "late answer not carried through the relay");
                None
            }
        }
    }

    /// A request inside the dialog (transaction `i`) about to be relayed: an offer is
    /// rewritten for the other side; an INFO digit toward a side that takes telephone-events
    /// is sent as RFC 4733 and answered here. `true` when it was answered (not relayed).
    pub(super) fn anchor_in_dialog(&mut self, i: usize) -> bool {
        let Some(media) = self.media.as_mut() else {
            return false;
        };
        let req = self.txns[i].ctx.request();
        let from = match (req.from_tag(), self.call.caller_tag()) {
            (Some(f), Some(c)) if f == c => Side::Caller,
            _ => Side::Callee,
        };
        match req.method() {
            Some(Method::Invite | Method::Update) => {
                let Some(offer) = sdp_of(req) else {
                    return false;
                };
                match media.offered(from, &offer) {
                    Ok(body) => self.txns[i].replace_sdp(body),
                    Err(e) => warn!(error = %e, "re-offer not carried through the relay"),
                }
                false
            }
            Some(Method::Info) => {
                let is_relay = req
                    .header(HeaderName::ContentType)
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/dtmf-relay"));
                let digit = is_relay
                    .then(|| std::str::from_utf8(req.body()).ok())
                    .flatten()
                    .and_then(|b| parse_dtmf_relay(b).ok());
                let Some(digit) = digit.map(|d| d.digit) else {
                    return false;
                };
                if !media.send_digit(from.other(), digit) {
                    // the other side takes no telephone-events: it gets the INFO itself
                    return false;
                }
                debug!(digit = %digit.as_char(), "INFO digit sent as RFC 4733");
                self.txns[i].ctx.respond(now(), 200, "OK", &[]);
                true
            }
            _ => false,
        }
    }

    /// The country whose ringback the caller hears: the callee's number's, else the plan's.
    fn ringback_country(&self) -> u16 {
        let plan = &self.shared.plan;
        self.txns
            .iter()
            .find_map(|x| x.setup.as_ref()?.location().map(|(a, _)| a.clone()))
            .map_or_else(|| plan.calling_code(), |a| plan.calling_code_of(&a))
    }

    /// The call's 2xx came from `flow`: what the switch needs to end the call itself later.
    fn learn_dialog(&mut self, ok: &SipMessage, flow: &Flow) {
        let Some((invite, caller_flow)) = self.call.initial() else {
            return;
        };
        if let Some(d) = ProxiedDialog::new(invite, ok, &self.shared.local) {
            self.dialog = Some((d, *caller_flow, *flow));
        }
    }

    /// The switch ends the answered call itself: a BYE with `reason` (a Reason header value,
    /// RFC 3326) to each side, sent again until answered (`hangup.rs`). `false` when the
    /// dialog is unknown (its 2xx could not be read) and nothing was sent.
    pub(super) fn bye_both(&mut self, reason: &str) -> bool {
        let Some((mut d, caller_flow, callee_flow)) = self.dialog.take() else {
            return false;
        };
        let t = now();
        let local = self.shared.local.clone();
        for (side, flow) in [(Side::Callee, callee_flow), (Side::Caller, caller_flow)] {
            let branch = format!("z9hG4bK{}", self.entropy.token(16));
            let out = d.bye(side, &local, &branch, reason);
            // beyond us another proxy first; else where the side's requests came from
            let to = Uri::parse(&out.next_hop)
                .ok()
                .filter(|_| out.next_hop.contains(";lr") || out.next_hop.contains("lr>"))
                .and_then(|u| flow_for_uri(&u))
                .unwrap_or(flow);
            self.hangup.send(t, out.bytes, &branch, to);
        }
        true
    }

    /// The switch answers a feature code itself: a session with the caller's side alone and
    /// the switch's answer to `offer` on it, the chime ready to play once acknowledged.
    pub(super) fn prompt_media(
        &mut self,
        offer: &Sdp,
    ) -> Option<(crate::media::MediaSession, String)> {
        self.own_media(offer).map(|m| (m.session, m.sdp))
    }

    /// A media session of the switch's own for the caller, answering `offer` (the switch is
    /// the called party: a prompt, a conference).
    pub(super) fn own_media(&mut self, offer: &Sdp) -> Option<super::party::OwnMedia> {
        let me = self.me.clone()?;
        // in the family of the caller's offer
        let v6 = anchor::audio_address(offer).is_some_and(|a| a.is_ipv6());
        let session = self
            .shared
            .media
            .open_in(&[(Side::Caller, v6)], me.recipient())
            .ok()?;
        let local = session.local(Side::Caller)?;
        let endpoint = switchboard_engine::sdp::negotiate::LocalEndpoint::new(
            local.rtp.ip(),
            local.rtp.port(),
        );
        let origin_id = self.entropy.next_u64() % 1_000_000_000;
        let origin = switchboard_engine::sdp::Origin::new(origin_id, 1, local.rtp.ip());
        let answer = switchboard_engine::sdp::negotiate::answer(
            offer,
            &endpoint,
            &CodecPolicy::default(),
            origin,
        )
        .ok()?;
        let stream = answer.streams.first()?;
        session.configure(Side::Caller, super::media::stream(stream, None));
        Some(super::party::OwnMedia {
            codec: stream.codec,
            sdp: answer.sdp.to_string(),
            session,
            origin: origin_id,
        })
    }
}

impl CallLeg {
    /// A media session of the switch's own for a call it places: its offer (the codecs the
    /// switch takes, G.722 first) on a fresh port pair; the stream is set up from the answer.
    pub(super) fn own_offer(&mut self) -> Option<(super::party::OwnMedia, Sdp)> {
        let me = self.me.clone()?;
        let session = self
            .shared
            .media
            .open(&[Side::Caller], me.recipient())
            .ok()?;
        let local = session.local(Side::Caller)?;
        let endpoint = switchboard_engine::sdp::negotiate::LocalEndpoint::new(
            local.rtp.ip(),
            local.rtp.port(),
        );
        let origin_id = self.entropy.next_u64() % 1_000_000_000;
        let origin = switchboard_engine::sdp::Origin::new(origin_id, 1, local.rtp.ip());
        let offer =
            switchboard_engine::sdp::negotiate::offer(&endpoint, &CodecPolicy::default(), origin);
        Some((
            super::party::OwnMedia {
                session,
                sdp: offer.to_string(),
                // the answer decides
                codec: switchboard_engine::media::Codec::Pcmu,
                origin: origin_id,
            },
            offer,
        ))
    }
}

/// The session description a message carries, if it carries one.
pub(super) fn sdp_of(m: &SipMessage) -> Option<Sdp> {
    if m.body().is_empty() {
        return None;
    }
    let is_sdp = m
        .header(HeaderName::ContentType)
        .is_none_or(|t| t.trim().to_ascii_lowercase().starts_with("application/sdp"));
    if !is_sdp {
        return None;
    }
    Sdp::parse(m.body()).ok()
}

/// `m` with `sdp` as its body.
fn with_sdp(m: &SipMessage, sdp: &str) -> Option<SipMessage> {
    let bytes: Bytes = Forward::default()
        .body("application/sdp", sdp.as_bytes())
        .to_bytes(m);
    SipMessage::parse(bytes).ok()
}

/// Whether SDES keys may travel on a leg's signalling: the flow it came on is encrypted
/// (TLS, RFC 4568 §8.3). The one place the media plane asks (`media.srtp = "tls-only"`); the
/// match names each transport, so a new one must say here whether it encrypts.
pub(super) fn signalling_secure(flow: Option<&Flow>) -> bool {
    flow.is_some_and(|f| match f.transport {
        Transport::Tls => true,
        Transport::Udp | Transport::Tcp => false,
    })
}
