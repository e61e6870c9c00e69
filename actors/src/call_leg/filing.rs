//! What the calls table (`crate::calls`, shown by `GET /v1/calls`) knows of this call: filed
//! when its INVITE is routed, its parties once answered, each side's codec and SDP address
//! once negotiated (through the relay, or read from the offer and answer of a direct call).
//! The end and its reason are filed by `end_call`.

use switchboard_engine::media::Side;
use switchboard_engine::numbering::Aor;
use switchboard_engine::sdp::Sdp;
use switchboard_engine::sip::Message as SipMessage;

use super::anchoring::sdp_of;
use super::CallLeg;
use crate::calls::{CallView, LegView};
use crate::clock::unix_now_ms;

impl CallLeg {
    /// Files the call in the live calls table (a call being set up: its INVITE routed).
    pub(super) fn file_call(&mut self, caller: Option<&Aor>, callee: &str) {
        if self.call_no.is_some() {
            return;
        }
        let mut view = CallView::new(&self.call_id, unix_now_ms());
        view.legs = vec![
            LegView {
                side: "caller",
                number: caller.map(|a| a.to_string()),
                ..Default::default()
            },
            LegView {
                side: "callee",
                number: Some(callee.to_owned()),
                ..Default::default()
            },
        ];
        view.parties = caller.map(|a| a.as_str().to_owned()).into_iter().collect();
        self.call_no = Some(self.shared.calls.file(view));
    }

    /// The call was answered with `parties` on the phone (the subscribers among caller and
    /// callee): they may see it in the API.
    pub(super) fn note_parties(&mut self, parties: &[Aor]) {
        let Some(no) = self.call_no else {
            return;
        };
        self.shared.calls.update(no, |v| {
            for p in parties {
                if !v.is_party(p.as_str()) {
                    v.parties.push(p.as_str().to_owned());
                }
            }
        });
    }

    /// What the calls table shows of the streams of an anchored call, once negotiated.
    pub(super) fn note_streams(&mut self) {
        let (Some(no), Some(media)) = (self.call_no, self.media.as_ref()) else {
            return;
        };
        let codec = |side| media.stream(side).map(|s| s.codec.to_string());
        let remote = |side| media.stream(side).map(|s| s.remote_rtp.to_string());
        let streams = [
            (codec(Side::Caller), remote(Side::Caller)),
            (codec(Side::Callee), remote(Side::Callee)),
        ];
        let transcoding = media.transcodes();
        self.shared.calls.update(no, |v| {
            v.transcoding = transcoding;
            note_legs(v, streams);
        });
    }

    /// A direct call was answered with `answer` (its 2xx): the codec it chose, and where each
    /// side receives media, read from the caller's offer and the answer.
    pub(super) fn note_direct_streams(&mut self, answer: &SipMessage) {
        let Some(no) = self.call_no else {
            return;
        };
        let Some(answer) = sdp_of(answer) else {
            return;
        };
        let offer = self
            .txns
            .iter()
            .find(|t| t.is_initial())
            .and_then(|t| sdp_of(t.ctx.request()));
        let codec = first_audio(&answer).and_then(|(_, codec)| codec);
        let address = |sdp: Option<&Sdp>| sdp.and_then(first_audio).map(|(addr, _)| addr);
        let streams = [
            (codec.clone(), address(offer.as_ref())),
            (codec, address(Some(&answer))),
        ];
        self.shared.calls.update(no, |v| note_legs(v, streams));
    }
}

/// Sets each leg's codec and SDP address (caller's first, callee's second).
fn note_legs(v: &mut CallView, streams: [(Option<String>, Option<String>); 2]) {
    for leg in &mut v.legs {
        let (codec, remote) = if leg.side == "caller" {
            &streams[0]
        } else {
            &streams[1]
        };
        leg.codec.clone_from(codec);
        leg.sdp_address.clone_from(remote);
    }
}

/// The first audio stream of `sdp`: where it receives (`address:port`), and its first codec
/// (in an answer, the one the call uses; RFC 3264 §6.1).
fn first_audio(sdp: &Sdp) -> Option<(String, Option<String>)> {
    let m = sdp
        .media
        .iter()
        .find(|m| m.is_audio() && !m.is_rejected())?;
    let c = m.connection().or(sdp.connection())?;
    let addr = std::net::SocketAddr::new(c.address, m.port).to_string();
    let codec = m.payload_types().next().and_then(|pt| {
        m.codec(pt)
            .map(|c| c.to_string())
            .or_else(|| m.rtpmap(pt).map(|r| r.encoding.to_owned()))
    });
    Some((addr, codec))
}
