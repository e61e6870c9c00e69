//! The calling side of a simulated call: INVITE (a 407 answered once), the plan's expected
//! answer (200, 486, or 487 after our CANCEL), the ACK, audio while it is up, and the BYE
//! (ours, or the callee's).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use switchboard_engine::entropy::Entropy;
use switchboard_engine::sip::builder::cancel_for;
use switchboard_engine::sip::{HeaderName, Message, Method, ResponseBuilder};
use switchboard_engine::txn::{self, ClientInvite, ClientKey, ClientNonInvite};

use super::sdp::{self, Audio, MEDIA_HEADER};
use super::{build, credentials, via, Endpoint, Head, Identity, Out};
use crate::core::{CallMedia, CallPlan, Kind, Outcome};

/// The header carrying the plan to the callee.
pub const PLAN_HEADER: &str = "X-Load-Plan";

/// The audio a plan header asks for: `;rtp=1` for audio, with `;nat=<ip>` when the phones
/// write that address in their SDP; `None`: signalling only.
pub fn plan_media(v: &str) -> Option<CallMedia> {
    let mut parts = v.split(';').map(str::trim);
    if !parts.clone().any(|p| p == "rtp=1") {
        return None;
    }
    let nat = parts.find_map(|p| p.strip_prefix("nat=")?.parse().ok());
    Some(nat.map_or(CallMedia::Direct, CallMedia::Nat))
}

/// The parameters a plan header carries for `media` (appended to [`plan_value`]).
fn media_params(media: Option<CallMedia>) -> String {
    match media {
        None => String::new(),
        Some(CallMedia::Direct) => ";rtp=1".into(),
        Some(CallMedia::Nat(ip)) => format!(";rtp=1;nat={ip}"),
    }
}

/// The socket a `X-Load-Media` header names.
pub(super) fn media_socket_of(m: &Message) -> Option<SocketAddr> {
    m.header_by_name(MEDIA_HEADER)?.trim().parse().ok()
}

/// `plan` as the header value the callee reads (`answer;ring=..;hold=..;by=caller`).
pub fn plan_value(plan: &CallPlan) -> String {
    match plan {
        CallPlan::Answer {
            ring,
            hold,
            callee_hangs_up,
        } => format!(
            "answer;ring={};hold={};by={}",
            ring.as_millis(),
            hold.as_millis(),
            if *callee_hangs_up { "callee" } else { "caller" }
        ),
        CallPlan::Busy { ring } => format!("busy;ring={}", ring.as_millis()),
        CallPlan::NoAnswer { ring } => format!("noanswer;ring={}", ring.as_millis()),
    }
}

/// Reads a plan header value back.
pub fn parse_plan(v: &str) -> Option<CallPlan> {
    let mut parts = v.split(';');
    let what = parts.next()?.trim();
    let (mut ring, mut hold, mut by_callee) = (Duration::ZERO, Duration::ZERO, false);
    for p in parts {
        let (k, val) = p.split_once('=')?;
        match k.trim() {
            "ring" => ring = Duration::from_millis(val.trim().parse().ok()?),
            "hold" => hold = Duration::from_millis(val.trim().parse().ok()?),
            "by" => by_callee = val.trim() == "callee",
            _ => {}
        }
    }
    Some(match what {
        "answer" => CallPlan::Answer {
            ring,
            hold,
            callee_hangs_up: by_callee,
        },
        "busy" => CallPlan::Busy { ring },
        "noanswer" => CallPlan::NoAnswer { ring },
        _ => return None,
    })
}

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
        let uri = format!("sip:{callee}@{}", ep.server);
        let call_id = format!("lc-{}", e.token(20));
        let tag = e.token(10);
        let from = format!("<{}>;tag={tag}", id.aor(&ep));
        let to = format!("<sip:{callee}@{}>", ep.domain);
        let (invite, invite_msg, key) = invite(
            now, &id, &ep, &uri, &to, &from, &call_id, 1, &plan, media, None, e,
        );
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
                let (t, m, k) = invite(
                    now,
                    &self.id,
                    &self.ep,
                    &self.uri,
                    &self.to,
                    &self.from,
                    &self.call_id,
                    self.cseq,
                    &self.plan,
                    self.media,
                    Some(&c),
                    e,
                );
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
            kind: Kind::Call,
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

#[allow(clippy::too_many_arguments)]
fn invite(
    now: Instant,
    id: &Identity,
    ep: &Endpoint,
    uri: &str,
    to: &str,
    from: &str,
    call_id: &str,
    cseq: u32,
    plan: &CallPlan,
    media: Option<Audio>,
    auth: Option<&(&'static str, String)>,
    e: &mut Entropy,
) -> (ClientInvite, Message, ClientKey) {
    let (via, branch) = via(ep, e);
    let contact = id.contact(ep);
    let plan = plan_value(plan) + &media_params(media.map(|m| m.media));
    let socket = media.map(|m| m.socket.to_string());
    let mut extra = vec![("Contact", contact.as_str()), (PLAN_HEADER, plan.as_str())];
    if let Some(s) = &socket {
        extra.push((MEDIA_HEADER, s.as_str()));
    }
    if let Some((n, v)) = auth {
        extra.push((n, v.as_str()));
    }
    // without audio the offer names the discard port of our own address
    let sdp_address = media.map_or_else(|| SocketAddr::new(ep.local.ip(), 9), |m| m.sdp_address());
    let body = sdp::pcmu(sdp_address, e.next_u64() >> 16);
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
