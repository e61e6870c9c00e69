//! A call to a conference (`sip:conf-<name>@<domain>`, or a number of `[conference]
//! numbers`): the leg asks the conference's bridge what a caller must do (its PIN policy, or
//! that it is full), answers the call itself with its own media (`party.rs`), and carries out
//! what the participant's part decides: join the bridge (and put the ring ends it gets into
//! the media session), leave it, pass on DTMF commands. What the bridge tells the call
//! (`ConferenceNote`: a tone, hang up) arrives here too. A MESSAGE to the conference's
//! address is a post to the chat room of the same name.
//!
//! Guarantees: a full conference answers 486 before any media is set up; a caller who hung
//! up while the bridge was asked gets nothing more; the bridge hears of every participant's
//! end exactly once (the part's `Step::Leave`).

use actix::{ActorFutureExt, AsyncContext, Context, Handler, WrapFuture};
use switchboard_engine::conference::{ConferenceName, Role};
use switchboard_engine::dialog::{Dial, OutboundCall};
use switchboard_engine::entropy::Entropy;
use switchboard_engine::numbering::Aor;
use switchboard_engine::registrar;
use switchboard_engine::sip::Method;
use tokio::sync::oneshot;
use tracing::info;

use super::party::{Party, Step};
use super::CallLeg;
use crate::api::conference::{ConferenceCommand, ConferenceNote, ConferenceRefused, JoinRequest};
use crate::api::extension::ExtCommand;
use crate::api::leg::StartDialOut;
use crate::clock::{now, unix_now};
use crate::transport::flow_for_binding;

impl CallLeg {
    /// A request to conference `name` (transaction `i`).
    pub(super) fn conference(
        &mut self,
        i: usize,
        method: Method,
        caller: Option<Aor>,
        name: ConferenceName,
        ctx: &mut Context<Self>,
    ) {
        let t = now();
        if method == Method::Message {
            return self.room_message(i, caller, Ok(name.room().clone()), ctx);
        }
        if method != Method::Invite {
            return self.txns[i].ctx.respond(t, 405, "Method Not Allowed", &[]);
        }
        let Some(offer) = super::anchoring::sdp_of(self.txns[i].ctx.request()) else {
            // the switch answers with its own media, so it needs the phone's offer
            return self.txns[i].ctx.respond(t, 488, "Offer Required", &[]);
        };
        self.file_call(caller.as_ref(), &name.user());
        let who = caller
            .as_ref()
            .map_or_else(|| "anonymous".to_owned(), |a| a.as_str().to_owned());
        let logged = caller
            .as_ref()
            .map_or_else(|| "anonymous".to_owned(), |a| a.redacted().to_string());
        let key = self.txns[i].key.clone();
        let (reply, admission) = oneshot::channel();
        self.shared
            .to_conference(name.clone(), ConferenceCommand::Admission { reply });
        ctx.spawn(admission.into_actor(self).map(move |res, act, ctx| {
            let Some(i) = act.txns.index_of(&key) else {
                return;
            };
            let t = now();
            match res {
                Err(_) => act.txns[i]
                    .ctx
                    .respond(t, 503, "Conference Unavailable", &[]),
                Ok(a) if a.full => act.txns[i].ctx.respond(t, 486, "Conference Full", &[]),
                Ok(a) => match act.own_media(&offer) {
                    None => act.txns[i].ctx.respond(t, 488, "Not Acceptable Here", &[]),
                    Some(media) => {
                        let local = act.shared.local.clone();
                        let party = Party::answer(
                            t,
                            &mut act.txns[i],
                            &local,
                            &mut act.entropy,
                            name,
                            a.pins,
                            media,
                        );
                        if party.is_some() {
                            info!(participant = %logged, "conference call answered");
                            act.party = party;
                            act.party_who = Some(who);
                            act.party_caller = caller;
                        }
                    }
                },
            }
            act.after(ctx);
        }));
    }

    /// Carries out what the participant's part decided.
    pub(super) fn party_steps(&mut self, ctx: &mut Context<Self>) {
        loop {
            let Some(party) = self.party.as_mut() else {
                return;
            };
            let Some(step) = party.poll_step() else {
                return;
            };
            let name = party.name().clone();
            match step {
                Step::Join(role) => self.join(name, role, ctx),
                Step::Leave(id) => {
                    self.shared
                        .to_conference(name, ConferenceCommand::Leave { id });
                }
                Step::Command(id, command) => {
                    self.shared
                        .to_conference(name, ConferenceCommand::Dtmf { id, command });
                }
            }
        }
    }

    fn join(&mut self, name: ConferenceName, role: Role, ctx: &mut Context<Self>) {
        let (Some(party), Some(me)) = (self.party.as_ref(), self.me.clone()) else {
            return;
        };
        let (reply, joined) = oneshot::channel();
        let request = JoinRequest {
            who: self.party_who.clone().unwrap_or_default(),
            role,
            codec: party.codec(),
            media: Some(party.session_id().0),
            leg: me.recipient(),
            bell: Some(party.feed_bell()),
            reply,
        };
        self.shared
            .to_conference(name, ConferenceCommand::Join(Box::new(request)));
        ctx.spawn(joined.into_actor(self).map(|res, act, ctx| {
            let Some(party) = act.party.as_mut() else {
                return;
            };
            let t = now();
            match res {
                Ok(Ok(j)) => {
                    party.joined(j.id, j.voice, j.mix, j.clock);
                    let name = party.name().clone();
                    act.joined_as_member(&name);
                }
                Ok(Err(ConferenceRefused::Full { .. })) => {
                    party.hang_up_because(t, "Conference Full")
                }
                Ok(Err(e)) => party.hang_up_because(t, &e.to_string()),
                Err(_) => party.hang_up_because(t, "Conference Unavailable"),
            }
            act.after(ctx);
        }));
    }
}

impl CallLeg {
    /// A subscriber in the conference: on the phone for its watchers, with a note naming the
    /// room, and a member of the room's chat (it gets the recent posts it missed, and the
    /// room's text from now on).
    fn joined_as_member(&mut self, name: &ConferenceName) {
        let Some(aor) = self.party_caller.clone() else {
            return;
        };
        let call = self.call.presence_id();
        self.call.on_the_phone(vec![aor.clone()]);
        self.shared.to_extension(
            aor.clone(),
            ExtCommand::CallState {
                call,
                up: true,
                note: Some(format!("in conference {name}")),
            },
        );
        let (reply, _) = oneshot::channel();
        self.shared.to_room(
            name.room().clone(),
            crate::api::room::RoomCommand::Message {
                sender: aor,
                display: None,
                content_type: "text/plain".into(),
                body: b"/join".to_vec(),
                reply,
            },
        );
    }

    /// The switch calls `member` into conference `name`: its preferred registered device
    /// (highest q, then most recent) gets an INVITE with the switch's offer, from the room's
    /// address.
    pub(super) fn dial_out(&mut self, member: Aor, name: ConferenceName, ctx: &mut Context<Self>) {
        self.dialing = true;
        self.file_call(None, member.as_str());
        let (tx, rx) = oneshot::channel();
        self.shared
            .to_extension(member.clone(), ExtCommand::Locate { reply: tx });
        ctx.spawn(rx.into_actor(self).map(move |res, act, ctx| {
            act.dialing = false;
            let device = res.ok().and_then(|l| {
                registrar::targets(&l.bindings, unix_now())
                    .first()
                    .map(|b| (*b).clone())
            });
            let Some(device) = device else {
                info!(member = %member.redacted(), "dial-out: no registered device");
                act.end_call("no registered device");
                return act.after(ctx);
            };
            let Some((media, offer)) = act.own_offer() else {
                act.end_call("no media port");
                return act.after(ctx);
            };
            let domain = act.shared.local.domain.clone();
            let from = format!("\"{name}\" <sip:{}@{domain}>", name.user());
            let to = format!("<sip:{member}@{domain}>");
            let subject = format!("conference {name}");
            let dial = Dial {
                request_uri: &device.uri,
                route: &[],
                from: &from,
                to: &to,
                sdp: &media.sdp,
                headers: &[("Subject", &subject)],
                credentials: None,
                transport: device.transport,
                call_id: Some(&act.call_id),
            };
            let local = act.shared.local.clone();
            let seed = act.entropy.next_u64();
            match OutboundCall::new(now(), dial, &local, Entropy::seeded(seed)) {
                Ok(call) => {
                    info!(member = %member.redacted(), conference = %name, "dial-out");
                    let flow = flow_for_binding(&device);
                    act.party = Some(Party::calling(call, flow, name, media, offer));
                    act.party_who = Some(member.as_str().to_owned());
                    act.party_caller = Some(member);
                }
                Err(e) => {
                    info!(error = ?e, "dial-out: cannot place the call");
                    act.end_call("dial-out refused");
                }
            }
            act.after(ctx);
        }));
    }
}

impl Handler<StartDialOut> for CallLeg {
    type Result = ();

    fn handle(&mut self, m: StartDialOut, ctx: &mut Context<Self>) {
        let span = self.span.clone();
        let _g = span.enter();
        self.dial_out(m.member, m.conference, ctx);
        self.after(ctx);
    }
}

impl Handler<ConferenceNote> for CallLeg {
    type Result = ();

    fn handle(&mut self, note: ConferenceNote, ctx: &mut Context<Self>) {
        let span = self.span.clone();
        let _g = span.enter();
        // not counted in `processed`: only the owners table's messages are
        if let Some(party) = self.party.as_mut() {
            match note {
                ConferenceNote::Play(tone) => party.play(tone),
                ConferenceNote::Hangup { reason } => party.hang_up_because(now(), reason),
            }
        }
        self.after(ctx);
    }
}
