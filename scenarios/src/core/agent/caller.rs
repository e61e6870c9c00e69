//! The calling side of a simulated call: INVITE (a 407 answered once), the plan's expected
//! answer (200, 486, or 487 after our CANCEL), the ACK, audio while it is up, and the BYE
//! (ours, or the callee's). A conference participant's call is the same flow towards the
//! conference's address ([`Caller::conference`]), and a voicemail caller's towards a mailbox
//! ([`Caller::voicemail`]): answered by the switch, held, hung up.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use switchboard_engine::entropy::Entropy;
use switchboard_engine::sip::builder::cancel_for;
use switchboard_engine::sip::{HeaderName, Message, Method, ResponseBuilder};
use switchboard_engine::txn::{self, ClientInvite, ClientKey, ClientNonInvite};

use super::plan::{media_params, plan_value, PLAN_HEADER};
use super::sdp::{self, media_socket_of, Audio, MEDIA_HEADER};
use super::{build, credentials, via, Endpoint, Head, Identity, Out};
use switchboard_engine::media::Codec;

use crate::core::{CallPlan, Kind, Outcome};

#[derive(Debug)]
enum State {
    Inviting,
    Up,
    Ending,
    Done,
}

/// A call in progress, caller side.
#[derive(Debug)]
pub struct Caller {
    id: Identity,
    ep: Endpoint,
    plan: CallPlan,
    uri: String,
    call_id: String,
    from: String,
    tag: String,
    /// This leg's audio; `None`: signalling only (the offer names the discard port).
    media: Option<Audio>,
    /// The codec it offers (PCMU between simulated phones).
    codec: Codec,
    /// What its setup is recorded as: `Call`, or `Conference` for a participant (whose
    /// INVITE carries no plan: the switch answers it).
    kind: Kind,
    /// Where the callee's audio goes by the SDP of a provisional answer (early media, or the
    /// ringback a switch adds), in case the 200 carries none.
    early_remote: Option<SocketAddr>,
    started: Instant,
    cseq: u32,
    invite: ClientInvite,
    invite_msg: Message,
    key: ClientKey,
    authed: bool,
    cancel: Option<(ClientKey, ClientNonInvite)>,
    cancel_at: Option<Instant>,
    state: State,
    /// The dialog once answered: To with its tag, remote target, route set.
    to: String,
    target: String,
    route: Vec<String>,
    ack: Option<Bytes>,
    hangup_at: Option<Instant>,
    bye: Option<(ClientKey, ClientNonInvite, Instant)>,
    /// The last moment to wait for the callee's BYE before sending ours.
    give_up_at: Option<Instant>,
}

impl Caller {
    /// Sends the INVITE; `media` is this leg's audio (its SDP offer, and the socket named in
    /// `X-Load-Media`), when the call carries audio.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        now: Instant,
        id: Identity,
        callee: &str,
        plan: CallPlan,
        media: Option<Audio>,
        ep: Endpoint,
        e: &mut Entropy,
        out: &mut Vec<Out>,
    ) -> Caller {
        Caller::dial(
            now,
            id,
            callee,
            plan,
            (media, Codec::Pcmu, Kind::Call),
            ep,
            e,
            out,
        )
    }

    /// A conference participant dials `room_user` (`conf-<name>`) offering `codec` on `media`,
    /// and hangs up `hold` after the answer. Its setup is recorded as `Kind::Conference`.
    #[allow(clippy::too_many_arguments)]
    pub fn conference(
        now: Instant,
        id: Identity,
        room_user: &str,
        hold: Duration,
        media: Audio,
        codec: Codec,
        ep: Endpoint,
        e: &mut Entropy,
        out: &mut Vec<Out>,
    ) -> Caller {
        let plan = CallPlan::Answer {
            ring: Duration::ZERO,
            hold,
            callee_hangs_up: false,
        };
        let audio = (Some(media), codec, Kind::Conference);
        Caller::dial(now, id, room_user, plan, audio, ep, e, out)
    }

    /// A caller dials `mailbox` (the number of a subscriber with no phone registered, whose
    /// mailbox the switch answers at once) offering PCMU on `media`, and hangs up `hold` after
    /// the answer (or when the switch hangs up). Its setup is recorded as `Kind::Voicemail`.
    #[allow(clippy::too_many_arguments)]
    pub fn voicemail(
        now: Instant,
        id: Identity,
        mailbox: &str,
        hold: Duration,
        media: Audio,
        ep: Endpoint,
        e: &mut Entropy,
        out: &mut Vec<Out>,
    ) -> Caller {
        let plan = CallPlan::Answer {
            ring: Duration::ZERO,
            hold,
            callee_hangs_up: false,
        };
        let audio = (Some(media), Codec::Pcmu, Kind::Voicemail);
        Caller::dial(now, id, mailbox, plan, audio, ep, e, out)
    }

    #[allow(clippy::too_many_arguments)]
    fn dial(
        now: Instant,
        id: Identity,
        callee: &str,
        plan: CallPlan,
        (media, codec, kind): (Option<Audio>, Codec, Kind),
        ep: Endpoint,
        e: &mut Entropy,
        out: &mut Vec<Out>,
    ) -> Caller {
        let uri = format!("sip:{callee}@{}", ep.server);
        let call_id = format!("lc-{}", e.token(20));
        let tag = e.token(10);
        let from = format!("<{}>;tag={tag}", id.aor(&ep));
        let to = format!("<sip:{callee}@{}>", ep.domain);
        let head = Dial {
            uri: &uri,
            to: &to,
            from: &from,
            call_id: &call_id,
            plan: (kind == Kind::Call).then_some(&plan),
            media,
            codec,
        };
        let (invite, invite_msg, key) = invite(now, &id, &ep, &head, 1, None, e);
        let cancel_at = match plan {
            CallPlan::NoAnswer { ring } => Some(now + ring),
            _ => None,
        };
        let mut c = Caller {
            id,
            ep,
            plan,
            uri,
            call_id,
            from,
            tag,
            media,
            codec,
            kind,
            early_remote: None,
            started: now,
            cseq: 1,
            invite,
            invite_msg,
            key,
            authed: false,
            cancel: None,
            cancel_at,
            state: State::Inviting,
            to,
            target: String::new(),
            route: Vec::new(),
            ack: None,
            hangup_at: None,
            bye: None,
            give_up_at: None,
        };
        c.drain_invite(now, e, out);
        c
    }

    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Our tag (From of our requests): a request whose To carries it is for this side.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.invite.poll_timeout(),
            self.cancel.as_ref().and_then(|(_, t)| t.poll_timeout()),
            self.cancel_at.filter(|_| self.cancel.is_none()),
            self.hangup_at,
            self.give_up_at,
            self.bye.as_ref().and_then(|(_, t, _)| t.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn on_timeout(&mut self, now: Instant, e: &mut Entropy, out: &mut Vec<Out>) {
        self.invite.handle_timeout(now);
        self.drain_invite(now, e, out);
        if let Some((_, t)) = &mut self.cancel {
            t.handle_timeout(now);
            while t.poll_output().is_some_and(|o| push_transmit(o, out)) {}
        } else if self.cancel_at.is_some_and(|at| at <= now) {
            if matches!(self.state, State::Inviting) {
                let bytes = cancel_for(&self.invite_msg);
                if let Ok(m) = Message::parse(bytes) {
                    let branch = m.top_via().and_then(|v| v.branch().map(str::to_owned));
                    let mut t = ClientNonInvite::new(now, m, false, txn::Timers::default());
                    while t.poll_output().is_some_and(|o| push_transmit(o, out)) {}
                    let key = ClientKey::new(branch.as_deref().unwrap_or(""), "CANCEL");
                    self.cancel = Some((key, t));
                }
            }
            self.cancel_at = None;
        }
        if self.hangup_at.is_some_and(|at| at <= now) {
            self.hangup_at = None;
            self.send_bye(now, e, out);
        }
        if self.give_up_at.is_some_and(|at| at <= now) {
            // the callee never hung up as its plan said: end it ourselves
            self.give_up_at = None;
            self.send_bye(now, e, out);
        }
        if let Some((_, t, _)) = &mut self.bye {
            t.handle_timeout(now);
        }
        self.drain_bye(now, out);
    }

    /// A message on this call's Call-ID: responses, or the callee's BYE.
    pub fn on_message(&mut self, now: Instant, msg: Message, e: &mut Entropy, out: &mut Vec<Out>) {
        if msg.status().is_none() {
            return self.on_request(now, msg, out);
        }
        let key = ClientKey::from_response(&msg);
        if key.as_ref() == Some(&self.key) {
            let _ = self.invite.handle_response(now, msg);
            self.drain_invite(now, e, out);
        } else if let (Some(k), Some((ck, t))) = (&key, &mut self.cancel) {
            if k == ck {
                let _ = t.handle_response(now, msg);
                while t.poll_output().is_some_and(|o| push_transmit(o, out)) {}
            }
        } else if let (Some(k), Some((bk, t, _))) = (&key, &mut self.bye) {
            if k == bk {
                let _ = t.handle_response(now, msg);
                self.drain_bye(now, out);
            }
        }
    }

    fn on_request(&mut self, now: Instant, req: Message, out: &mut Vec<Out>) {
        match req.method() {
            Some(Method::Bye) => {
                out.push(Out::Send(ResponseBuilder::new(&req, 200, "OK").build()));
                if !matches!(self.state, State::Done) {
                    self.end(out);
                }
            }
            Some(Method::Ack) => {}
            _ => {
                let _ = now;
                out.push(Out::Send(
                    ResponseBuilder::new(&req, 481, "Call/Transaction Does Not Exist").build(),
                ));
            }
        }
    }

    fn drain_invite(&mut self, now: Instant, e: &mut Entropy, out: &mut Vec<Out>) {
        while let Some(o) = self.invite.poll_output() {
            match o {
                txn::Output::Transmit(b) => out.push(Out::Send(b)),
                txn::Output::Event(txn::Event::Response(r)) => {
                    self.on_invite_response(now, r, e, out)
                }
                txn::Output::Event(txn::Event::Timeout) => {
                    if matches!(self.state, State::Inviting) {
                        self.record(now, Outcome::Timeout, out);
                        self.state = State::Done;
                    }
                }
                txn::Output::Event(_) => {}
            }
        }
    }

    fn on_invite_response(
        &mut self,
        now: Instant,
        r: Message,
        e: &mut Entropy,
        out: &mut Vec<Out>,
    ) {
        let code = r.status().unwrap_or(0);
        if code < 200 {
            if let Some(remote) = sdp::audio_target(r.body()) {
                self.early_remote = Some(remote);
            }
            return;
        }
        if (200..300).contains(&code) {
            return self.answered(now, r, out);
        }
        if !matches!(self.state, State::Inviting) {
            return;
        }
        if !self.authed && (code == 401 || code == 407) {
            if let Some(c) = credentials(&r, "INVITE", &self.uri, &self.id, e) {
                self.authed = true;
                self.cseq += 1;
                let head = Dial {
                    uri: &self.uri,
                    to: &self.to,
                    from: &self.from,
                    call_id: &self.call_id,
                    plan: (self.kind == Kind::Call).then_some(&self.plan),
                    media: self.media,
                    codec: self.codec,
                };
                let (t, m, k) = invite(now, &self.id, &self.ep, &head, self.cseq, Some(&c), e);
                self.invite = t;
                self.invite_msg = m;
                self.key = k;
                return self.drain_invite(now, e, out);
            }
        }
        let expected = match self.plan {
            CallPlan::Busy { .. } => code == 486,
            CallPlan::NoAnswer { .. } => code == 487,
            CallPlan::Answer { .. } => false,
        };
        let outcome = if expected {
            Outcome::Ok(code)
        } else {
            Outcome::Failed(code)
        };
        self.record(now, outcome, out);
        self.state = State::Done;
    }

    fn answered(&mut self, now: Instant, r: Message, out: &mut Vec<Out>) {
        if let Some(ack) = &self.ack {
            // a retransmitted 200: our ACK was lost
            return out.push(Out::Send(ack.clone()));
        }
        self.to = r.header(HeaderName::To).unwrap_or("").to_owned();
        self.target = r
            .contacts()
            .next()
            .map(|c| c.uri().as_str().to_owned())
            .unwrap_or_else(|| self.uri.clone());
        self.route = r
            .header_values(HeaderName::RecordRoute)
            .map(str::to_owned)
            .collect();
        self.route.reverse();
        let (via, _) = via(
            &self.ep,
            &mut Entropy::seeded(self.started.elapsed().as_nanos() as u64),
        );
        let ack = self.in_dialog("ACK", self.cseq, &via);
        out.push(Out::Send(ack.clone()));
        self.ack = Some(ack);
        let ok = matches!(self.plan, CallPlan::Answer { .. });
        let outcome = if ok {
            Outcome::Ok(200)
        } else {
            Outcome::Failed(200)
        };
        self.record(now, outcome, out);
        self.state = State::Up;
        // the answer's SDP (a switch anchoring the call points it at its relay); with none,
        // the one a provisional answer gave (RFC 3261 §13.2.1 lets the 200 repeat it or not)
        let remote = sdp::audio_target(r.body()).or(self.early_remote);
        if let (Some(_), Some(remote)) = (self.media, remote) {
            out.push(Out::MediaStart {
                remote,
                peer: media_socket_of(&r),
            });
        }
        match self.plan {
            CallPlan::Answer {
                hold,
                callee_hangs_up: false,
                ..
            } => self.hangup_at = Some(now + hold),
            CallPlan::Answer { hold, .. } => {
                self.give_up_at = Some(now + hold * 2 + Duration::from_secs(32))
            }
            // answered though it should not have been: hang up at once
            _ => self.hangup_at = Some(now),
        }
    }

    fn in_dialog(&self, method: &str, cseq: u32, via: &str) -> Bytes {
        let mut extra: Vec<(&str, &str)> =
            self.route.iter().map(|r| ("Route", r.as_str())).collect();
        let contact = self.id.contact(&self.ep);
        if method != "ACK" {
            extra.push(("Contact", &contact));
        }
        build(
            &Head {
                method,
                uri: &self.target,
                via,
                from: &self.from,
                to: &self.to,
                call_id: &self.call_id,
                cseq,
            },
            &extra,
            None,
        )
    }

    fn send_bye(&mut self, now: Instant, e: &mut Entropy, out: &mut Vec<Out>) {
        if !matches!(self.state, State::Up) {
            return;
        }
        self.cseq += 1;
        let (via, branch) = via(&self.ep, e);
        let bytes = self.in_dialog("BYE", self.cseq, &via);
        let Ok(m) = Message::parse(bytes) else {
            return self.end(out);
        };
        let mut t = ClientNonInvite::new(now, m, false, txn::Timers::default());
        while t.poll_output().is_some_and(|o| push_transmit(o, out)) {}
        self.bye = Some((ClientKey::new(&branch, "BYE"), t, now));
        self.state = State::Ending;
        self.give_up_at = None;
        out.push(Out::MediaStop);
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

    fn end(&mut self, out: &mut Vec<Out>) {
        if matches!(self.state, State::Up | State::Ending) {
            out.push(Out::MediaStop);
        }
        self.state = State::Done;
        self.hangup_at = None;
        self.give_up_at = None;
    }

    fn record(&self, now: Instant, outcome: Outcome, out: &mut Vec<Out>) {
        out.push(Out::Done {
            kind: self.kind,
            latency: now.saturating_duration_since(self.started),
            outcome,
        });
    }
}

fn push_transmit(o: txn::Output, out: &mut Vec<Out>) -> bool {
    if let txn::Output::Transmit(b) = o {
        out.push(Out::Send(b));
    }
    true
}

/// What every INVITE of a call carries.
struct Dial<'a> {
    uri: &'a str,
    to: &'a str,
    from: &'a str,
    call_id: &'a str,
    /// The plan for a simulated callee (`None` towards the switch itself: a conference).
    plan: Option<&'a CallPlan>,
    media: Option<Audio>,
    codec: Codec,
}

fn invite(
    now: Instant,
    id: &Identity,
    ep: &Endpoint,
    d: &Dial<'_>,
    cseq: u32,
    auth: Option<&(&'static str, String)>,
    e: &mut Entropy,
) -> (ClientInvite, Message, ClientKey) {
    let (via, branch) = via(ep, e);
    let contact = id.contact(ep);
    let (uri, to, from, call_id, media) = (d.uri, d.to, d.from, d.call_id, d.media);
    let plan = d
        .plan
        .map(|p| plan_value(p) + &media_params(media.map(|m| m.media)));
    let socket = media.map(|m| m.socket.to_string());
    let mut extra = vec![("Contact", contact.as_str())];
    if let Some(p) = &plan {
        extra.push((PLAN_HEADER, p.as_str()));
    }
    if let Some(s) = &socket {
        extra.push((MEDIA_HEADER, s.as_str()));
    }
    if let Some((n, v)) = auth {
        extra.push((n, v.as_str()));
    }
    // without audio the offer names the discard port of our own address
    let sdp_address = media.map_or_else(|| SocketAddr::new(ep.local.ip(), 9), |m| m.sdp_address());
    let body = sdp::offer(sdp_address, e.next_u64() >> 16, d.codec);
    let bytes = build(
        &Head {
            method: "INVITE",
            uri,
            via: &via,
            from,
            to,
            call_id,
            cseq,
        },
        &extra,
        Some(("application/sdp", &body)),
    );
    let msg = Message::parse(bytes).expect("an INVITE the agent built");
    let t = ClientInvite::new(now, msg.clone(), false, txn::Timers::default());
    (t, msg, ClientKey::new(&branch, "INVITE"))
}
