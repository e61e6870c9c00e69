//! A call the switch answers itself and hangs up: the confirmation of a feature code
//! (`*72 1002` forwards calls, `*73` stops it).
//!
//! A `PartyDialog` that answers with 200 at once and ends itself: with media (`Prompt`: the
//! switch's SDP answer from its media plane) the 200 carries that answer and the BYE waits
//! until the owner says the prompt played (`hang_up`), or the prompt's longest time passed;
//! without, media is declined (`a=inactive` or port 0) and the BYE follows the ACK. The party
//! does the rest: the 200 retransmitted until its ACK (§13.3.1.4; none within 64*T1 and the
//! switch hangs up), the caller's BYE answered 200, our BYE in a client transaction. An offer
//! in a re-INVITE is refused (488): a confirmation has nothing to renegotiate.
//!
//! Drive it like a transaction: `handle_*` with `now`, then `poll_output` and `poll_timeout`.
//! Every message goes to the caller's flow. Invariant: `ConfirmOutput::Done` is emitted once,
//! last; after it the dialog needs nothing more (no deadline) and the owner drops it.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::event::{CallEvent, DialogOutput, NORMAL_CLEARING};
use super::party::{PartyAnswer, PartyDialog};
use crate::entropy::Entropy;
use crate::flow::Transport;
use crate::proxy::Local;
use crate::sip::{Message, ViaFix};

/// What the dialog asks its owner to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmOutput {
    /// Send to the caller.
    Send(Bytes),
    /// The dialog is over.
    Done,
}

/// What the switch answers: the reason phrase and, optionally, a prompt to play.
#[derive(Clone, Debug)]
pub struct Answer<'a> {
    /// The 200's reason phrase (what the feature code did, for phones that show it).
    pub reason: &'a str,
    /// The prompt's media, or none to decline the caller's media.
    pub prompt: Option<Prompt<'a>>,
}

/// The media of a confirmation that plays a prompt.
#[derive(Clone, Debug)]
pub struct Prompt<'a> {
    /// The switch's SDP answer to the caller's offer.
    pub answer: &'a str,
    /// The longest the prompt may take after the ACK before the switch hangs up anyway.
    pub longest: Duration,
}

pub struct ConfirmDialog {
    party: PartyDialog,
    /// With a prompt: its longest time after the ACK.
    prompt: Option<Duration>,
    /// Acknowledged, the prompt plays until then.
    playing_until: Option<Instant>,
    hung_up: bool,
    done: bool,
    done_emitted: bool,
    out: VecDeque<ConfirmOutput>,
}

impl ConfirmDialog {
    /// Answers `invite` (validated, outside any dialog) with 200 OK as `answer` says.
    pub fn new(
        now: Instant,
        invite: &Message,
        upstream: Transport,
        via_fix: Option<ViaFix>,
        local: &Local,
        entropy: &mut Entropy,
        answer: Answer<'_>,
    ) -> ConfirmDialog {
        let Answer { reason, prompt } = answer;
        let session = entropy.next_u64() % 1_000_000_000;
        let sdp = match &prompt {
            Some(p) => p.answer.to_owned(),
            None => declining_sdp(invite.body(), &local.host, session),
        };
        let party = PartyDialog::new(
            now,
            invite,
            upstream,
            via_fix,
            local,
            Entropy::seeded(entropy.next_u64()),
            PartyAnswer {
                sdp: &sdp,
                reason,
                early: None,
            },
        );
        let mut d = ConfirmDialog {
            party,
            prompt: prompt.map(|p| p.longest),
            playing_until: None,
            hung_up: false,
            done: false,
            done_emitted: false,
            out: VecDeque::new(),
        };
        d.react(now);
        d
    }

    /// Whether a request belongs to this dialog (same Call-ID, our To tag).
    pub fn owns(&self, req: &Message) -> bool {
        self.party.owns(req)
    }

    /// Whether a response answers our BYE.
    pub fn owns_response(&self, resp: &Message) -> bool {
        self.party.owns_response(resp)
    }

    /// A request of the call: the INVITE again (our 200 was lost), its ACK, the caller's BYE.
    pub fn handle_request(&mut self, now: Instant, req: &Message, via_fix: Option<ViaFix>) {
        self.party.handle_request(now, req, via_fix);
        self.react(now);
    }

    /// Whether the caller acknowledged and the prompt is playing.
    pub fn is_playing(&self) -> bool {
        self.playing_until.is_some() && !self.hung_up && !self.done
    }

    /// The prompt played (or was never acknowledged): the switch hangs up.
    pub fn hang_up(&mut self, now: Instant) {
        self.stop(now);
        self.react(now);
    }

    /// A response to our BYE.
    pub fn handle_response(&mut self, now: Instant, resp: Message) {
        self.party.handle_response(now, resp);
        self.react(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_playing() && self.playing_until.is_some_and(|t| t <= now) {
            self.stop(now);
        }
        self.party.handle_timeout(now);
        self.react(now);
    }

    pub fn poll_output(&mut self) -> Option<ConfirmOutput> {
        self.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.done {
            return None;
        }
        let playing = self.playing_until.filter(|_| self.is_playing());
        [self.party.poll_timeout(), playing]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    fn stop(&mut self, now: Instant) {
        self.hung_up = true;
        self.party.hang_up(now, NORMAL_CLEARING);
    }

    /// Takes what the party did: its sends, and its events turned into our steps.
    fn react(&mut self, now: Instant) {
        loop {
            while let Some(o) = self.party.poll_output() {
                let (DialogOutput::Reply(b) | DialogOutput::Request { bytes: b, .. }) = o;
                self.out.push_back(ConfirmOutput::Send(b));
            }
            let Some(e) = self.party.poll_event() else {
                break;
            };
            match e {
                CallEvent::Acked { .. } => match self.prompt {
                    Some(longest) => self.playing_until = Some(now + longest),
                    None => self.stop(now),
                },
                // no ACK ever came: the caller is gone (§13.3.1.4 ends with a BYE)
                CallEvent::AckTimedOut => self.stop(now),
                CallEvent::Offer { .. } => {
                    let _ = self.party.refuse_offer(now);
                }
                CallEvent::Ended(_) => self.done = true,
                _ => {}
            }
        }
        if self.done && !self.done_emitted {
            self.done_emitted = true;
            self.out.push_back(ConfirmOutput::Done);
        }
    }
}

/// SDP declining media (RFC 3264): an answer rejecting every stream of the offer (port 0,
/// one per offered `m=` line, in order, as §6 requires), or, for an INVITE without an offer,
/// an offer of one inactive PCMU stream on the discard port (the 2xx must then carry one,
/// RFC 3261 §13.2.1).
fn declining_sdp(offer: &[u8], host: &str, session: u64) -> String {
    let ip = if host.contains(':') { "IP6" } else { "IP4" };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let mut out = format!(
        "v=0\r\no=switchboard {session} {session} IN {ip} {host}\r\ns=-\r\nc=IN {ip} {host}\r\nt=0 0\r\n"
    );
    let offered: Vec<&str> = std::str::from_utf8(offer)
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("m="))
        .collect();
    if offer.is_empty() {
        out.push_str("m=audio 9 RTP/AVP 0\r\na=inactive\r\n");
        return out;
    }
    for m in offered {
        // media port proto fmt...: keep media, proto and the first format, port 0
        let mut parts = m.split_whitespace();
        let media = parts.next().unwrap_or("audio");
        let _port = parts.next();
        let proto = parts.next().unwrap_or("RTP/AVP");
        let fmt = parts.next().unwrap_or("0");
        let ok = |s: &str| {
            s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"/._-".contains(&c))
        };
        if ok(media) && ok(proto) && ok(fmt) {
            let _ = write!(out, "m={media} 0 {proto} {fmt}\r\n");
        } else {
            out.push_str("m=audio 0 RTP/AVP 0\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::ResponseBuilder;

    const INVITE: &str = "INVITE sip:*721002@sb.example SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKf1;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:*721002@sb.example>\r\n\
From: \"Kim\" <sip:1001@sb.example>;tag=caller\r\n\
Call-ID: feature-1\r\n\
CSeq: 7 INVITE\r\n\
Contact: <sip:1001@192.0.2.1:5062>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\r\nv=0\n";

    fn start(now: Instant) -> ConfirmDialog {
        let inv = Message::parse(Bytes::from_static(INVITE.as_bytes())).unwrap();
        let local = Local::new("127.0.0.1", 5060, "sb.example");
        ConfirmDialog::new(
            now,
            &inv,
            Transport::Udp,
            None,
            &local,
            &mut Entropy::seeded(1),
            Answer {
                reason: "Forwarding Set",
                prompt: None,
            },
        )
    }

    /// The caller's ACK of our 200 with `tag`.
    fn ack(tag: &str) -> Message {
        let ack = format!(
            "ACK sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKa\r\n\
To: <sip:*721002@sb.example>;tag={tag}\r\nFrom: <sip:1001@sb.example>;tag=caller\r\n\
Call-ID: feature-1\r\nCSeq: 7 ACK\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse(Bytes::from(ack)).unwrap()
    }

    fn sent(d: &mut ConfirmDialog) -> Vec<Message> {
        let mut v = Vec::new();
        while let Some(o) = d.poll_output() {
            if let ConfirmOutput::Send(b) = o {
                v.push(Message::parse(b).unwrap());
            }
        }
        v
    }

    #[test]
    fn answers_waits_for_the_ack_then_hangs_up() {
        let t0 = Instant::now();
        let mut d = start(t0);
        let ok = sent(&mut d).remove(0);
        assert_eq!(ok.status(), Some(200));
        assert_eq!(ok.reason(), Some("Forwarding Set"));
        assert!(ok.body().starts_with(b"v=0"), "an answer to the offer");
        assert!(
            !ok.body().windows(2).any(|w| w == b"m="),
            "an offer without streams is answered without streams"
        );
        let tag = ok.to_tag().unwrap().to_owned();

        // lost 200: retransmitted after T1, then 2*T1
        let t1 = d.poll_timeout().unwrap();
        assert_eq!(t1, t0 + Duration::from_millis(500));
        d.handle_timeout(t1);
        assert_eq!(sent(&mut d)[0].status(), Some(200));
        assert_eq!(d.poll_timeout(), Some(t1 + Duration::from_secs(1)));

        let ack = ack(&tag);
        assert!(d.owns(&ack));
        d.handle_request(t1, &ack, None);
        let bye = sent(&mut d).remove(0);
        assert_eq!(bye.method_str(), Some("BYE"));
        assert_eq!(bye.request_uri_str(), Some("sip:1001@192.0.2.1:5062"));
        assert_eq!(bye.to_tag(), Some("caller"));
        assert_eq!(bye.from_tag(), Some(tag.as_str()));
        assert_eq!(bye.call_id(), Some("feature-1"));
        let ok = ResponseBuilder::new(&bye, 200, "OK").build();
        d.handle_response(t1, Message::parse(ok).unwrap());
        let out: Vec<_> = std::iter::from_fn(|| d.poll_output()).collect();
        assert_eq!(out, [ConfirmOutput::Done]);
        assert!(d.is_done());
        assert_eq!(d.poll_timeout(), None);
    }

    #[test]
    fn every_offered_stream_is_declined_and_a_missing_offer_gets_one() {
        let offer = b"v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 40000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\nm=video 40002 RTP/AVP 96\r\n";
        let answer = declining_sdp(offer, "127.0.0.1", 7);
        let m: Vec<&str> = answer.lines().filter(|l| l.starts_with("m=")).collect();
        assert_eq!(m, ["m=audio 0 RTP/AVP 8", "m=video 0 RTP/AVP 96"]);
        let none = declining_sdp(b"", "127.0.0.1", 7);
        assert!(none.contains("m=audio 9 RTP/AVP 0\r\na=inactive"), "{none}");
        let hostile = declining_sdp(
            b"m=audio 1 RTP/AVP 0\r\nX\r\n\r\nm=a<b 1 x y\r\n",
            "127.0.0.1",
            7,
        );
        assert!(!hostile.contains('<'), "{hostile}");
    }

    #[test]
    fn a_caller_hanging_up_first_gets_200() {
        let t0 = Instant::now();
        let mut d = start(t0);
        let tag = sent(&mut d)[0].to_tag().unwrap().to_owned();
        let bye = format!(
            "BYE sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKb\r\n\
To: <sip:*721002@sb.example>;tag={tag}\r\nFrom: <sip:1001@sb.example>;tag=caller\r\n\
Call-ID: feature-1\r\nCSeq: 8 BYE\r\nContent-Length: 0\r\n\r\n"
        );
        d.handle_request(t0, &Message::parse(Bytes::from(bye)).unwrap(), None);
        let ok = d.poll_output().unwrap();
        assert!(matches!(ok, ConfirmOutput::Send(_)));
        assert_eq!(d.poll_output(), Some(ConfirmOutput::Done));
        assert!(d.is_done());
    }

    #[test]
    fn no_ack_at_all_still_ends_the_dialog() {
        let t0 = Instant::now();
        let mut d = start(t0);
        let mut now = t0;
        let mut sends = 0;
        let mut done = false;
        while let Some(t) = d.poll_timeout() {
            now = t;
            d.handle_timeout(now);
            while let Some(o) = d.poll_output() {
                match o {
                    ConfirmOutput::Send(_) => sends += 1,
                    ConfirmOutput::Done => done = true,
                }
            }
        }
        assert!(done, "ends after the BYE times out");
        assert!(sends > 10, "200 retransmitted, then the BYE ({sends})");
        assert!(now >= t0 + Duration::from_secs(64));
    }

    #[test]
    fn with_a_prompt_the_answer_is_ours_and_the_bye_waits_until_it_played() {
        let t0 = Instant::now();
        let inv = Message::parse(Bytes::from_static(INVITE.as_bytes())).unwrap();
        let local = Local::new("127.0.0.1", 5060, "sb.example");
        let answer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                      m=audio 30000 RTP/AVP 0\r\na=sendrecv\r\n";
        let mut d = ConfirmDialog::new(
            t0,
            &inv,
            Transport::Udp,
            None,
            &local,
            &mut Entropy::seeded(1),
            Answer {
                reason: "Forwarding Set",
                prompt: Some(Prompt {
                    answer,
                    longest: Duration::from_secs(3),
                }),
            },
        );
        let ok = sent(&mut d).remove(0);
        assert_eq!(ok.body(), answer.as_bytes());
        d.handle_request(t0, &ack(ok.to_tag().unwrap()), None);
        assert!(d.is_playing());
        assert!(sent(&mut d).is_empty(), "no BYE while the prompt plays");
        assert_eq!(d.poll_timeout(), Some(t0 + Duration::from_secs(3)));
        d.hang_up(t0 + Duration::from_secs(1));
        assert_eq!(sent(&mut d)[0].method_str(), Some("BYE"));

        // a prompt that never reports its end: the switch hangs up at its longest
        let mut d = ConfirmDialog::new(
            t0,
            &inv,
            Transport::Udp,
            None,
            &local,
            &mut Entropy::seeded(2),
            Answer {
                reason: "Forwarding Set",
                prompt: Some(Prompt {
                    answer,
                    longest: Duration::from_secs(3),
                }),
            },
        );
        let tag = sent(&mut d)[0].to_tag().unwrap().to_owned();
        d.handle_request(t0, &ack(&tag), None);
        d.handle_timeout(t0 + Duration::from_secs(3));
        assert_eq!(sent(&mut d)[0].method_str(), Some("BYE"));
    }
}
