//! Starting what the scheduler hands a shard: an action of the schedule (a registration or
//! its removal, a call, a message, a subscription, a publication, a conference participant,
//! a voicemail, a room post) or a room join for set-up, each as a flow kept by its Call-ID.

use std::time::Instant;

use switchboard_engine::entropy::Entropy;

use super::{Flow, Shard};
use crate::core::agent::{self, Audio, Caller, Endpoint, RequestSpec, Subscriber};
use crate::core::{Action, Kind, User};

impl Shard {
    /// Starts an action of the schedule (`record`: it counts in the figures; the scheduler
    /// counted it in flight).
    pub fn start(&mut self, a: Action, record: bool) {
        let now = Instant::now();
        let kind = a.kind();
        if record {
            self.recorder.offered(kind, self.at(now));
        }
        let mut out = std::mem::take(&mut self.out);
        let flow = match a {
            Action::Register { user, device } => {
                self.register(now, user, device, self.register_expires, record, &mut out)
            }
            Action::Unregister { user, device } => {
                self.register(now, user, device, 0, record, &mut out)
            }
            Action::Call {
                caller,
                callee,
                plan,
                rtp,
            } => {
                let media = rtp.and_then(|_| self.media_socket());
                let audio = media.as_ref().and_then(|s| s.local_addr().ok());
                let c = Caller::start(
                    now,
                    self.identity(caller, 0),
                    &self.people.number(callee),
                    plan,
                    audio
                        .zip(rtp)
                        .map(|(socket, media)| Audio { socket, media }),
                    self.ep.clone(),
                    &mut self.e,
                    &mut out,
                );
                if let Some(s) = media {
                    self.media_sockets.insert(c.call_id().into(), s);
                }
                Some((c.call_id().into(), Flow::Caller(Box::new(c))))
            }
            Action::Message { from, to, .. } => {
                self.next_message += 1;
                let id = self.next_message;
                let body = format!("load-msg-{id} from the load generator");
                let to_number = self.people.number(to);
                let spec = RequestSpec {
                    kind: Kind::Message,
                    method: "MESSAGE",
                    uri: format!("sip:{to_number}@{}", self.ep.server),
                    to: format!("<sip:{to_number}@{}>", self.ep.domain),
                    call_id: format!("lm-{}", self.e.token(20)),
                    cseq: 1,
                    headers: Vec::new(),
                    body: Some(("text/plain;charset=UTF-8".into(), body.into_bytes())),
                    message_id: Some(id),
                };
                self.request(now, spec, from, None, record, &mut out)
            }
            Action::Subscribe {
                watcher,
                presentity,
                expires,
            } => {
                let s = Subscriber::start(
                    now,
                    self.epoch,
                    self.identity(watcher, 0),
                    &self.people.number(presentity),
                    expires,
                    self.ep.clone(),
                    &mut self.e,
                    &mut out,
                );
                Some((s.call_id().into(), Flow::Subscriber(Box::new(s))))
            }
            Action::Publish { user, variant } => {
                let number = self.people.number(user);
                let stamp = agent::stamp(self.epoch, now);
                let activity = ["away", "busy", "meeting", "on-the-phone"][variant as usize % 4];
                let body = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" \
                     xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" \
                     entity=\"sip:{number}@{}\">\n<tuple id=\"load\"><status><basic>open</basic></status></tuple>\n\
                     <dm:person id=\"p\"><rpid:activities><rpid:{activity}/></rpid:activities>\
                     <dm:note>load {variant} load-t={stamp}</dm:note></dm:person>\n</presence>\n",
                    self.ep.domain
                );
                let spec = RequestSpec {
                    kind: Kind::Publish,
                    method: "PUBLISH",
                    uri: format!("sip:{number}@{}", self.ep.server),
                    to: format!("<sip:{number}@{}>", self.ep.domain),
                    call_id: format!("lp-{}", self.e.token(20)),
                    cseq: 1,
                    headers: vec![
                        ("Event".into(), "presence".into()),
                        ("Expires".into(), "600".into()),
                    ],
                    body: Some(("application/pidf+xml".into(), body.into_bytes())),
                    message_id: None,
                };
                self.request(now, spec, user, None, record, &mut out)
            }
            Action::Conference(p) => self.dial_conference(now, p, record, &mut out),
            Action::Voicemail {
                caller,
                mailbox,
                hold,
            } => self.dial_voicemail(now, caller, mailbox, hold, &mut out),
            Action::RoomPost { room, member } => {
                let spec = room_message(
                    &self.ep,
                    room,
                    &format!("load post {}", self.e.token(6)),
                    &mut self.e,
                );
                self.request(
                    now,
                    RequestSpec {
                        kind: Kind::RoomPost,
                        ..spec
                    },
                    member,
                    None,
                    record,
                    &mut out,
                )
            }
        };
        let call_id = flow.as_ref().map(|(c, _)| c.clone()).unwrap_or_default();
        self.apply(now, &call_id, record, &mut out);
        if let Some((call_id, flow)) = flow {
            self.keep(call_id, flow, now);
        }
        self.out = out;
    }

    /// A room join for set-up (not in the figures).
    pub fn join(&mut self, room: u32, member: User) {
        let now = Instant::now();
        let mut out = std::mem::take(&mut self.out);
        let spec = room_message(&self.ep, room, "/join", &mut self.e);
        if let Some((cid, flow)) = self.request(now, spec, member, None, false, &mut out) {
            self.apply(now, &cid, false, &mut out);
            self.keep(cid, flow, now);
        }
        self.out = out;
    }
}

/// A MESSAGE to room `load-<room>`.
fn room_message(ep: &Endpoint, room: u32, text: &str, e: &mut Entropy) -> RequestSpec {
    RequestSpec {
        kind: Kind::RoomPost,
        method: "MESSAGE",
        uri: format!("sip:room-load-{room}@{}", ep.server),
        to: format!("<sip:room-load-{room}@{}>", ep.domain),
        call_id: format!("lj-{}", e.token(20)),
        cseq: 1,
        headers: Vec::new(),
        body: Some(("text/plain;charset=UTF-8".into(), text.as_bytes().to_vec())),
        message_id: None,
    }
}
