//! A call the switch answers itself and hangs up: the confirmation of a feature code
//! (`*72 1002` forwards calls, `*73` stops it).
//!
//! The UAS core of RFC 3261: the 200 OK is retransmitted (T1, doubling up to T2, §13.3.1.4)
//! until its ACK arrives, then the switch ends the dialog with a BYE (§15.1.1) through a client
//! transaction. With media (`Prompt`: the switch's SDP answer from its media plane), the 200
//! carries that answer and the BYE waits until the owner says the prompt played
//! (`hang_up`), or the prompt's longest time passed; without, media is declined
//! (`a=inactive`) and the BYE follows the ACK. A BYE from the caller first is answered 200
//! and ends the dialog; no ACK within 64*T1 ends it too (§13.3.1.4).
//!
//! Drive it like a transaction: `handle_*` with `now`, then `poll_output` and `poll_timeout`.
//! Every message goes to the caller's flow. Invariant: `ConfirmOutput::Done` is emitted once,
//! last.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::entropy::Entropy;
use crate::flow::Transport;
use crate::proxy::{branch, Local};
use crate::sip::{HeaderName, Message, RequestBuilder, ResponseBuilder, ViaFix};
use crate::txn::{self, ClientNonInvite, Timers};

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

enum State {
    /// 200 sent; waiting for the ACK.
    Answered {
        next: Option<Instant>,
        interval: Duration,
        give_up: Instant,
    },
    /// Acknowledged; the prompt plays until `hang_up` or `until`.
    Playing {
        until: Instant,
    },
    /// Our BYE is out.
    Closing(Box<ClientNonInvite>),
    Done,
}

pub struct ConfirmDialog {
    call_id: String,
    to_tag: String,
    ok: Bytes,
    bye: Bytes,
    reliable: bool,
    timers: Timers,
    /// With a prompt: its longest time after the ACK.
    prompt: Option<Duration>,
    state: State,
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
        let timers = Timers::default();
        let to_tag = entropy.token(10);
        let contact = format!("<sip:{}:{}>", local.host, local.port);
        let session = entropy.next_u64() % 1_000_000_000;
        let sdp = match &prompt {
            Some(p) => p.answer.to_owned(),
            None => declining_sdp(invite.body(), &local.host, session),
        };
        let ok = ResponseBuilder::new(invite, 200, reason)
            .to_tag(&to_tag)
            .via_fix(via_fix)
            .record_route()
            .header("Contact", &contact)
            .body("application/sdp", sdp.as_bytes())
            .build();
        let bye = bye_for(invite, &to_tag, upstream, local, entropy);
        let mut d = ConfirmDialog {
            call_id: invite.call_id().unwrap_or("").to_owned(),
            to_tag,
            ok: ok.clone(),
            bye,
            reliable: upstream.is_reliable(),
            timers,
            prompt: prompt.map(|p| p.longest),
            state: State::Answered {
                next: (!upstream.is_reliable()).then(|| now + timers.t1),
                interval: timers.t1,
                give_up: now + timers.timeout(),
            },
            done_emitted: false,
            out: VecDeque::new(),
        };
        d.out.push_back(ConfirmOutput::Send(ok));
        d
    }

    /// Whether a request belongs to this dialog (same Call-ID, our To tag).
    pub fn owns(&self, req: &Message) -> bool {
        req.call_id() == Some(self.call_id.as_str()) && req.to_tag() == Some(self.to_tag.as_str())
    }

    /// Whether a response answers our BYE (we are its From: our tag is there).
    pub fn owns_response(&self, resp: &Message) -> bool {
        resp.call_id() == Some(self.call_id.as_str())
            && resp.from_tag() == Some(self.to_tag.as_str())
            && resp
                .cseq()
                .is_some_and(|c| c.method == crate::sip::Method::Bye)
    }

    /// The INVITE again (our 200 was lost): the 200 again.
    pub fn handle_invite_retransmission(&mut self) {
        if matches!(self.state, State::Answered { .. }) {
            self.out.push_back(ConfirmOutput::Send(self.ok.clone()));
        }
    }

    /// The ACK for our 200: hang up, or play the prompt first.
    pub fn handle_ack(&mut self, now: Instant) {
        if !matches!(self.state, State::Answered { .. }) {
            return;
        }
        match self.prompt {
            Some(longest) => {
                self.state = State::Playing {
                    until: now + longest,
                }
            }
            None => self.bye(now),
        }
    }

    /// Whether the caller acknowledged and the prompt is playing.
    pub fn is_playing(&self) -> bool {
        matches!(self.state, State::Playing { .. })
    }

    /// The prompt played (or was never acknowledged): the switch hangs up.
    pub fn hang_up(&mut self, now: Instant) {
        if matches!(self.state, State::Answered { .. } | State::Playing { .. }) {
            self.bye(now);
        }
    }

    fn bye(&mut self, now: Instant) {
        let bye = Message::parse(self.bye.clone()).expect("generated BYE parses");
        let mut tx = ClientNonInvite::new(now, bye, self.reliable, self.timers);
        self.drain_bye(&mut tx);
        self.state = State::Closing(Box::new(tx));
    }

    /// The caller hung up first: `bye` is answered 200 and the dialog ends.
    pub fn handle_bye(&mut self, bye: &Message, via_fix: Option<ViaFix>) {
        let ok = ResponseBuilder::new(bye, 200, "OK")
            .via_fix(via_fix)
            .build();
        self.out.push_back(ConfirmOutput::Send(ok));
        self.finish();
    }

    /// A response to our BYE.
    pub fn handle_response(&mut self, now: Instant, resp: Message) {
        if let State::Closing(tx) = &mut self.state {
            let _ = tx.handle_response(now, resp);
            let mut tx = std::mem::replace(&mut self.state, State::Done);
            if let State::Closing(t) = &mut tx {
                self.drain_bye(t);
                if !t.is_final() && !t.is_terminated() {
                    self.state = tx;
                    return;
                }
            }
            self.finish();
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.state {
            State::Answered {
                next,
                interval,
                give_up,
            } => {
                if now >= *give_up {
                    // no ACK ever came: the caller is gone (§13.3.1.4 ends with a BYE too)
                    self.bye(now);
                    return;
                }
                if next.is_some_and(|t| t <= now) {
                    *interval = (*interval * 2).min(self.timers.t2);
                    *next = Some(now + *interval);
                    self.out.push_back(ConfirmOutput::Send(self.ok.clone()));
                }
            }
            State::Playing { until } => {
                if now >= *until {
                    self.bye(now);
                }
            }
            State::Closing(tx) => {
                tx.handle_timeout(now);
                let mut tx = std::mem::replace(&mut self.state, State::Done);
                if let State::Closing(t) = &mut tx {
                    self.drain_bye(t);
                    if !t.is_terminated() && !t.is_final() {
                        self.state = tx;
                        return;
                    }
                }
                self.finish();
            }
            State::Done => {}
        }
    }

    pub fn poll_output(&mut self) -> Option<ConfirmOutput> {
        self.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Answered { next, give_up, .. } => {
                Some(next.map_or(*give_up, |n| n.min(*give_up)))
            }
            State::Playing { until } => Some(*until),
            State::Closing(tx) => tx.poll_timeout(),
            State::Done => None,
        }
    }

    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn drain_bye(&mut self, tx: &mut ClientNonInvite) {
        while let Some(o) = tx.poll_output() {
            if let txn::Output::Transmit(b) = o {
                self.out.push_back(ConfirmOutput::Send(b));
            }
        }
    }

    fn finish(&mut self) {
        self.state = State::Done;
        if !self.done_emitted {
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

/// Our BYE in the dialog the 200 creates (§12.2.1.1): to the caller's Contact, along the
/// Record-Route set of the INVITE, From and To swapped.
fn bye_for(
    invite: &Message,
    to_tag: &str,
    transport: Transport,
    local: &Local,
    entropy: &mut Entropy,
) -> Bytes {
    let target = invite
        .contacts()
        .next()
        .map(|c| c.uri().as_str().to_owned())
        .or_else(|| invite.from().map(|f| f.uri().as_str().to_owned()))
        .unwrap_or_default();
    let branch = branch::generate(entropy, invite, &local.realm);
    let mut b = RequestBuilder::new("BYE", &target)
        .header("Via", &local.via(transport, &branch))
        .header("Max-Forwards", "70");
    for rr in invite.header_values(HeaderName::RecordRoute) {
        b.push_header("Route", rr);
    }
    let mut from = invite.header(HeaderName::To).unwrap_or("").to_owned();
    let _ = write!(from, ";tag={to_tag}");
    b.push_header("From", &from);
    b.push_header("To", invite.header(HeaderName::From).unwrap_or(""));
    b.push_header("Call-ID", invite.call_id().unwrap_or(""));
    b.push_header("CSeq", "1 BYE");
    b.build(None)
}

#[cfg(test)]
mod tests {
    use super::*;

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

        let ack = format!(
            "ACK sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKa\r\n\
To: <sip:*721002@sb.example>;tag={tag}\r\nFrom: <sip:1001@sb.example>;tag=caller\r\n\
Call-ID: feature-1\r\nCSeq: 7 ACK\r\nContent-Length: 0\r\n\r\n"
        );
        let ack = Message::parse(Bytes::from(ack)).unwrap();
        assert!(d.owns(&ack));
        d.handle_ack(t1);
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
        d.handle_bye(&Message::parse(Bytes::from(bye)).unwrap(), None);
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
        d.handle_ack(t0);
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
        sent(&mut d);
        d.handle_ack(t0);
        d.handle_timeout(t0 + Duration::from_secs(3));
        assert_eq!(sent(&mut d)[0].method_str(), Some("BYE"));
    }
}
