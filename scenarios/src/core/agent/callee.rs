//! The called side of a simulated call: it rings and does what the caller's plan says
//! (answer after the ring time, busy, or ring until cancelled), sends audio while the call is
//! up, and hangs up when the plan gives it the hang-up.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use switchboard_engine::entropy::Entropy;
use switchboard_engine::sip::{reason_phrase, HeaderName, Message, Method, ResponseBuilder};
use switchboard_engine::txn::{self, ClientKey, ClientNonInvite, ServerInvite, Timers};

use super::plan::{parse_plan, plan_media, PLAN_HEADER};
use super::sdp::media_socket_of;
use super::sdp::{self, Audio, MEDIA_HEADER};
use super::{build, via, Endpoint, Head, Identity, Out};
use crate::core::{CallMedia, CallPlan};

#[derive(Debug, PartialEq, Eq)]
enum State {
    Ringing,
    /// 200 sent, waiting for its ACK (retransmitting it meanwhile).
    Answered,
    Up,
    Ending,
    Done,
}

/// A call in progress, callee side.
#[derive(Debug)]
pub struct Callee {
    id: Identity,
    ep: Endpoint,
    plan: CallPlan,
    invite: Message,
    txn: ServerInvite,
    tag: String,
    /// This leg's audio: its socket, and what its SDP says (the plan's `nat=`).
    media: Audio,
    /// Whether the plan asks for audio.
    rtp: bool,
    /// Where the caller's audio goes by the INVITE's SDP (as the switch forwarded it: the
    /// caller's, or the switch's relay), when the plan asks for audio.
    remote_media: Option<SocketAddr>,
    /// The socket the caller really sends from (its `X-Load-Media`).
    peer_media: Option<SocketAddr>,
    state: State,
    answer_at: Option<Instant>,
    ok: Option<Bytes>,
    ok_next: Option<(Instant, Duration)>,
    ok_until: Option<Instant>,
    hangup_at: Option<Instant>,
    bye: Option<(ClientKey, ClientNonInvite, Instant)>,
}

impl Callee {
    /// An INVITE arrived for this simulated device: 180 now, then the plan. `media` is this
    /// leg's RTP socket (used when the plan says `rtp=1`, its SDP then written as the plan's
    /// `nat=` says; `plan_media` tells the runner whether to open one). A call without a plan
    /// header is answered at once and left to the caller to end.
    pub fn start(
        now: Instant,
        invite: Message,
        id: Identity,
        media: SocketAddr,
        ep: Endpoint,
        e: &mut Entropy,
        out: &mut Vec<Out>,
    ) -> Callee {
        let plan = invite
            .header_by_name(PLAN_HEADER)
            .and_then(parse_plan)
            .unwrap_or(CallPlan::Answer {
                ring: Duration::ZERO,
                hold: Duration::ZERO,
                callee_hangs_up: false,
            });
        let ring = match plan {
            CallPlan::Answer { ring, .. }
            | CallPlan::Busy { ring }
            | CallPlan::NoAnswer { ring } => ring,
        };
        let audio = invite.header_by_name(PLAN_HEADER).and_then(plan_media);
        let mut c = Callee {
            id,
            ep,
            plan,
            remote_media: audio.and_then(|_| sdp::audio_target(invite.body())),
            peer_media: audio.and_then(|_| media_socket_of(&invite)),
            rtp: audio.is_some(),
            media: Audio {
                socket: media,
                media: audio.unwrap_or(CallMedia::Direct),
            },
            txn: ServerInvite::new(now, false, Timers::default()),
            invite,
            tag: e.token(10),
            state: State::Ringing,
            answer_at: match plan {
                CallPlan::NoAnswer { .. } => None,
                _ => Some(now + ring),
            },
            ok: None,
            ok_next: None,
            ok_until: None,
            hangup_at: None,
            bye: None,
        };
        c.respond(now, 180, None, out);
        c
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Our tag (To of our answers, From of our BYE): a response whose From carries it is
    /// for this side.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.txn.poll_timeout(),
            self.answer_at,
            self.ok_next.map(|(at, _)| at),
            self.hangup_at,
            self.bye.as_ref().and_then(|(_, t, _)| t.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn on_timeout(&mut self, now: Instant, e: &mut Entropy, out: &mut Vec<Out>) {
        self.txn.handle_timeout(now);
        self.drain(out);
        if self.answer_at.is_some_and(|at| at <= now) {
            self.answer_at = None;
            match self.plan {
                CallPlan::Busy { .. } => self.respond(now, 486, None, out),
                _ => {
                    let body = sdp::pcmu(self.media.sdp_address(), e.next_u64() >> 16);
                    self.respond(now, 200, Some(&body), out);
                    self.state = State::Answered;
                    self.ok_next = Some((now + Timers::default().t1, Timers::default().t1));
                    self.ok_until = Some(now + Timers::default().timeout());
                }
            }
        }
        if let Some((at, interval)) = self.ok_next {
            if at <= now {
                if self.ok_until.is_some_and(|u| u <= now) {
                    // never acknowledged: the call did not happen
                    self.ok_next = None;
                    self.state = State::Done;
                } else if let Some(ok) = &self.ok {
                    out.push(Out::Send(ok.clone()));
                    let next = (interval * 2).min(Timers::default().t2);
                    self.ok_next = Some((now + next, next));
                }
            }
        }
        if self.hangup_at.is_some_and(|at| at <= now) {
            self.hangup_at = None;
            self.send_bye(now, e, out);
        }
        if let Some((_, t, _)) = &mut self.bye {
            t.handle_timeout(now);
        }
        self.drain_bye(now, out);
    }

    /// A message on this call's Call-ID.
    pub fn on_message(&mut self, now: Instant, msg: Message, out: &mut Vec<Out>) {
        if msg.status().is_some() {
            if let (Some(k), Some((bk, t, _))) = (ClientKey::from_response(&msg), &mut self.bye) {
                if k == *bk {
                    let _ = t.handle_response(now, msg);
                    self.drain_bye(now, out);
                }
            }
            return;
        }
        match msg.method() {
            Some(Method::Invite) => {
                // a retransmission: the transaction answers it again
                let _ = self.txn.handle_request(now, &msg);
                self.drain(out);
            }
            Some(Method::Ack) => {
                if self.state == State::Answered {
                    self.ok_next = None;
                    self.state = State::Up;
                    if let Some(remote) = self.remote_media {
                        out.push(Out::MediaStart {
                            remote,
                            peer: self.peer_media,
                        });
                    }
                    if let CallPlan::Answer {
                        hold,
                        callee_hangs_up: true,
                        ..
                    } = self.plan
                    {
                        self.hangup_at = Some(now + hold);
                    }
                } else {
                    let _ = self.txn.handle_request(now, &msg);
                    self.drain(out);
                    if self.txn.final_code().is_some_and(|c| c >= 300) {
                        self.state = State::Done;
                    }
                }
            }
            Some(Method::Cancel) => {
                out.push(Out::Send(
                    ResponseBuilder::new(&msg, 200, "OK")
                        .to_tag(&self.tag)
                        .build(),
                ));
                if self.state == State::Ringing {
                    self.answer_at = None;
                    self.respond(now, 487, None, out);
                }
            }
            Some(Method::Bye) => {
                out.push(Out::Send(ResponseBuilder::new(&msg, 200, "OK").build()));
                if matches!(self.state, State::Up | State::Answered | State::Ending) {
                    out.push(Out::MediaStop);
                }
                self.state = State::Done;
                self.hangup_at = None;
            }
            _ => out.push(Out::Send(ResponseBuilder::new(&msg, 200, "OK").build())),
        }
    }

    fn respond(&mut self, now: Instant, code: u16, sdp: Option<&[u8]>, out: &mut Vec<Out>) {
        let contact = self.id.contact(&self.ep);
        let mut b = ResponseBuilder::new(&self.invite, code, reason_phrase(code)).to_tag(&self.tag);
        if code < 300 {
            b = b.record_route().header("Contact", &contact);
        }
        if code == 200 && self.rtp {
            b = b.header(MEDIA_HEADER, &self.media.socket.to_string());
        }
        if let Some(body) = sdp {
            b = b.body("application/sdp", body);
        }
        let bytes = b.build();
        if code == 200 {
            self.ok = Some(bytes.clone());
        }
        let _ = self.txn.respond(now, code, bytes);
        self.drain(out);
    }

    fn drain(&mut self, out: &mut Vec<Out>) {
        while let Some(o) = self.txn.poll_output() {
            if let txn::Output::Transmit(b) = o {
                out.push(Out::Send(b));
            }
        }
    }

    fn send_bye(&mut self, now: Instant, e: &mut Entropy, out: &mut Vec<Out>) {
        if self.state != State::Up {
            return;
        }
        let inv = &self.invite;
        let target = inv
            .contacts()
            .next()
            .map(|c| c.uri().as_str().to_owned())
            .unwrap_or_default();
        let routes: Vec<String> = inv
            .header_values(HeaderName::RecordRoute)
            .map(str::to_owned)
            .collect();
        let from = format!(
            "{};tag={}",
            inv.header(HeaderName::To).unwrap_or(""),
            self.tag
        );
        let to = inv.header(HeaderName::From).unwrap_or("").to_owned();
        let (via, branch) = via(&self.ep, e);
        let contact = self.id.contact(&self.ep);
        let mut extra: Vec<(&str, &str)> = routes.iter().map(|r| ("Route", r.as_str())).collect();
        extra.push(("Contact", &contact));
        let bytes = build(
            &Head {
                method: "BYE",
                uri: &target,
                via: &via,
                from: &from,
                to: &to,
                call_id: inv.call_id().unwrap_or(""),
                cseq: 1,
            },
            &extra,
            None,
        );
        out.push(Out::MediaStop);
        self.state = State::Ending;
        let Ok(m) = Message::parse(bytes) else {
            self.state = State::Done;
            return;
        };
        let mut t = ClientNonInvite::new(now, m, false, Timers::default());
        while let Some(o) = t.poll_output() {
            if let txn::Output::Transmit(b) = o {
                out.push(Out::Send(b));
            }
        }
        self.bye = Some((ClientKey::new(&branch, "BYE"), t, now));
    }

    fn drain_bye(&mut self, now: Instant, out: &mut Vec<Out>) {
        let Some((_, t, sent)) = &mut self.bye else {
            return;
        };
        if super::drain_bye(t, *sent, now, out) {
            self.bye = None;
            self.state = State::Done;
        }
    }
}
