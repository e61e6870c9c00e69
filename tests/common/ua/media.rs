//! Calls that carry real RTP: the caller's INVITE offers its [`RtpPhone`]'s SDP, the callee's
//! 200 answers with its phone's, and once the ACK is through each phone sends its tone to the
//! address in the other side's SDP (as it reached it, rewritten or not by the switch).
//! Offers inside the dialog (hold, resume) go with `reinvite` and `reinvite_outcome`.

use std::net::IpAddr;
use std::time::Duration;

use switchboard_engine::media::Codec;
use switchboard_engine::sip::{Message, Method};

use super::{Call, Ua};
use crate::common::rtp::{answer_codecs, remote_of, Remote, RtpPhone};

/// A call with media on both ends, as both agents saw it.
pub struct MediaCall {
    /// The caller's dialog.
    pub caller: Call,
    /// The callee's dialog.
    pub callee: Call,
    /// The INVITE as the callee received it (its body: the offer the callee answered).
    pub offer: Message,
    /// The 200 as the caller received it (its body: the answer the caller sends to).
    pub answer: Message,
    /// Where and how the caller's phone sends.
    pub caller_sends: Remote,
    /// Where and how the callee's phone sends.
    pub callee_sends: Remote,
}

/// How one end of a media call behaves.
pub struct End<'a> {
    pub ua: &'a mut Ua,
    pub phone: &'a mut RtpPhone,
    /// The codecs it offers (caller) or accepts (callee), preferred first.
    pub codecs: &'a [Codec],
    /// The frequency its phone sends.
    pub tone_hz: f32,
    /// The address its SDP names: `None` for the phone's own (another one plays NAT).
    pub sdp_ip: Option<IpAddr>,
}

impl Ua {
    /// Starts a call to `target_user` offering `sdp` (a phone's), answering a challenge when
    /// this agent has a password.
    pub async fn invite_sdp(&mut self, target_user: &str, sdp: &[u8]) -> Call {
        let challenge = !self.password.is_empty();
        self.invite_with(target_user, sdp, challenge).await
    }

    /// Sends a re-INVITE in `call` offering `sdp` (hold, resume); it becomes the call's
    /// INVITE, so the ACK of its 2xx takes its CSeq.
    pub fn reinvite(&mut self, call: &mut Call, sdp: &[u8]) {
        let req = self.in_dialog_request(call, "INVITE", Some(("application/sdp", sdp)), true);
        call.invite = Message::parse(req.clone()).expect("we build valid SIP");
        self.send(req);
    }

    /// The final response to the re-INVITE in flight, acknowledged when it is a 2xx (the
    /// dialog's route and target stay as they are).
    pub async fn reinvite_outcome(&mut self, call: &mut Call) -> Message {
        let seq = call.cseq;
        let c = call.call_id.clone();
        let resp = self
            .recv_where(Duration::from_secs(40), move |m| {
                m.status().is_some_and(|s| s >= 200)
                    && m.call_id() == Some(c.as_str())
                    && m.cseq()
                        .is_some_and(|x| x.method == Method::Invite && x.seq == seq)
            })
            .await
            .unwrap_or_else(|| panic!("no final response to the re-INVITE {seq}"));
        if resp.status().is_some_and(|s| (200..300).contains(&s)) {
            let ack = self.in_dialog_request(call, "ACK", None, false);
            self.send(ack);
        }
        resp
    }

    /// Answers a received INVITE with 180 then 200 carrying `sdp`; the UAS view of the dialog.
    /// The ACK is left for the caller to wait for.
    pub async fn accept_sdp(&mut self, invite: &Message, sdp: &[u8]) -> Call {
        let tag = self.token();
        self.reply_tagged(invite, 180, &tag, None);
        self.reply_tagged(invite, 200, &tag, Some(("application/sdp", sdp)));
        self.uas_call(invite, &tag)
    }
}

/// Places a call from `a` to `b` (dialled as `dial`) with real RTP: `a` offers its phone's SDP
/// with its codecs, `b` answers with those of the offer it accepts (in the offer's order),
/// and after the ACK each phone sends its tone to the address the other side's SDP names,
/// with the first codec the two have in common. Panics when the call is not answered 200 or
/// an SDP names no codec the phone has.
pub async fn call_with_media(a: End<'_>, b: End<'_>, dial: &str) -> MediaCall {
    let a_sdp = a
        .phone
        .sdp(a.codecs, a.sdp_ip.unwrap_or(a.phone.local().ip()));
    let mut caller = a.ua.invite_sdp(dial, &a_sdp).await;
    let offer = b.ua.expect_request(Method::Invite).await;
    let accepted = answer_codecs(offer.body(), b.codecs);
    assert!(
        !accepted.is_empty(),
        "the callee takes none of the offered codecs: {}",
        String::from_utf8_lossy(offer.body())
    );
    let b_sdp = b
        .phone
        .sdp(&accepted, b.sdp_ip.unwrap_or(b.phone.local().ip()));
    let callee = b.ua.accept_sdp(&offer, &b_sdp).await;
    let answer = a.ua.invite_outcome(&mut caller).await;
    assert_eq!(answer.status(), Some(200), "the call is answered");
    b.ua.expect_request(Method::Ack).await;

    let caller_sends = remote_of(answer.body(), a.codecs).unwrap_or_else(|| {
        panic!(
            "no usable audio in the answer: {}",
            String::from_utf8_lossy(answer.body())
        )
    });
    let callee_sends = remote_of(offer.body(), &accepted).unwrap_or_else(|| {
        panic!(
            "no usable audio in the offer: {}",
            String::from_utf8_lossy(offer.body())
        )
    });
    a.phone.start_towards(&caller_sends, a.tone_hz);
    b.phone.start_towards(&callee_sends, b.tone_hz);
    MediaCall {
        caller,
        callee,
        offer,
        answer,
        caller_sends,
        callee_sends,
    }
}

impl MediaCall {
    /// The caller hangs up: BYE through the switch, answered 200 by the callee.
    pub async fn hang_up(&mut self, caller: &mut Ua, callee: &mut Ua) {
        let bye = caller.in_dialog_request(&mut self.caller, "BYE", None, true);
        caller.send(bye);
        let b = callee.expect_request(Method::Bye).await;
        callee.reply(&b, 200);
        let ok = caller.final_response(&self.caller.call_id, "BYE").await;
        assert_eq!(ok.status(), Some(200), "BYE answered");
    }
}
