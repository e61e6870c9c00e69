//! What arrives at a shard's socket, and its timers: messages go to the flow of their
//! Call-ID; a new INVITE starts a callee, a MESSAGE delivered to a simulated device is
//! answered and counted, anything else is answered so the server is not left retrying.

use std::cmp::Reverse;
use std::time::Instant;

use bytes::Bytes;
use switchboard_engine::sip::{Message, Method, ResponseBuilder};

use super::{Flow, Shard};
use crate::core::agent::{plan_media, Callee, Out, PLAN_HEADER};
use crate::runner::people::People;

impl Shard {
    pub(super) fn on_datagram(&mut self, bytes: Bytes) {
        let msg = match Message::parse(bytes.clone()) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(shard = self.index, error = ?e, text = %String::from_utf8_lossy(&bytes), "load: unparsable datagram dropped");
                return;
            }
        };
        let now = Instant::now();
        let Some(call_id) = msg.call_id() else {
            return;
        };
        let call_id: Box<str> = self.side_of(call_id, &msg).into();
        tracing::trace!(shard = self.index, key = %call_id.escape_debug(), status = ?msg.status(), method = ?msg.method(), known = self.flows.contains_key(&call_id), "load in");
        let mut out = std::mem::take(&mut self.out);
        if let Some(mut flow) = self.flows.remove(&call_id) {
            let record = flow.records();
            match &mut flow {
                Flow::Request { r, .. } => r.on_response(now, msg, &mut self.e, &mut out),
                Flow::Caller(c) => c.on_message(now, msg, &mut self.e, &mut out),
                Flow::Callee(c) => c.on_message(now, msg, &mut out),
                Flow::Subscriber(s) => s.on_message(now, msg, &mut self.e, &mut out),
            }
            self.apply(now, &call_id, record, &mut out);
            self.keep(call_id, flow, now);
        } else if msg.status().is_none() {
            self.new_request(now, call_id, msg, &mut out);
        }
        self.out = out;
    }

    /// The flow key a message is for. The server keeps a request's Call-ID, so a call or a
    /// MESSAGE between two devices of this shard has both sides here under one Call-ID: the
    /// side that received the first request is keyed by the Call-ID and a trailing NUL. A
    /// request is for the side whose tag its To carries (none: the receiving side); a
    /// response for the side whose tag its From carries.
    fn side_of(&self, call_id: &str, msg: &Message) -> String {
        let mut receiving = String::with_capacity(call_id.len() + 1);
        receiving.push_str(call_id);
        receiving.push('\0');
        let ours = |key: &str, tag: Option<&str>| {
            tag.is_some() && self.flows.get(key).is_some_and(|f| Some(f.tag()) == tag)
        };
        match msg.status() {
            Some(_) if ours(&receiving, msg.from_tag()) => receiving,
            Some(_) => call_id.to_owned(),
            None if ours(call_id, msg.to_tag()) => call_id.to_owned(),
            // the receiving side's own (ACK, BYE, CANCEL), or a new request on a Call-ID a
            // flow of ours started
            None if self.flows.contains_key(receiving.as_str())
                || self.flows.contains_key(call_id) =>
            {
                receiving
            }
            None => call_id.to_owned(),
        }
    }

    /// A request outside any flow of ours.
    fn new_request(&mut self, now: Instant, call_id: Box<str>, msg: Message, out: &mut Vec<Out>) {
        let answer = |code: u16, reason: &str| {
            Out::Send(
                ResponseBuilder::new(&msg, code, reason)
                    .to_tag("load")
                    .build(),
            )
        };
        match msg.method() {
            Some(Method::Invite) => {
                let device = msg
                    .request_uri()
                    .and_then(|u| u.user().and_then(People::device_of));
                let Some((user, device)) = device else {
                    out.push(answer(404, "Not Found"));
                    return self.apply(now, &call_id, false, out);
                };
                let rtp = msg
                    .header_by_name(PLAN_HEADER)
                    .and_then(plan_media)
                    .is_some();
                let media = if rtp { self.media_socket() } else { None };
                let addr = media
                    .as_ref()
                    .and_then(|s| s.local_addr().ok())
                    .unwrap_or_else(|| std::net::SocketAddr::new(self.ep.local.ip(), 9));
                let id = self.identity(user, device);
                // the callee's key: the Call-ID and a NUL (see `side_of`)
                let call_id: Box<str> = format!("{}\0", call_id.trim_end_matches('\0')).into();
                let c = Callee::start(now, msg, id, addr, self.ep.clone(), &mut self.e, out);
                if let Some(s) = media {
                    self.media_sockets.insert(call_id.clone(), s);
                }
                self.apply(now, &call_id, true, out);
                self.keep(call_id, Flow::Callee(Box::new(c)), now);
            }
            Some(Method::Message) => {
                out.push(answer(200, "OK"));
                if let Some(id) = message_id(msg.body()) {
                    self.recorder.message_received(id);
                    self.outstanding
                        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                }
                self.apply(now, &call_id, false, out);
            }
            Some(Method::Ack) => {}
            Some(Method::Bye) | Some(Method::Cancel) | Some(Method::Notify) => {
                out.push(answer(481, "Call/Transaction Does Not Exist"));
                self.apply(now, &call_id, false, out);
            }
            _ => {
                out.push(answer(200, "OK"));
                self.apply(now, &call_id, false, out);
            }
        }
    }

    /// Fires every flow timer that is due.
    pub(super) fn fire_timers(&mut self) {
        let now = Instant::now();
        let mut out = std::mem::take(&mut self.out);
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, call_id))) = self.timers.pop() else {
                break;
            };
            let Some(mut flow) = self.flows.remove(&call_id) else {
                continue;
            };
            if flow.poll_timeout().is_some_and(|t| t <= now) {
                let record = flow.records();
                match &mut flow {
                    Flow::Request { r, .. } => r.on_timeout(now, &mut out),
                    Flow::Caller(c) => c.on_timeout(now, &mut self.e, &mut out),
                    Flow::Callee(c) => c.on_timeout(now, &mut self.e, &mut out),
                    Flow::Subscriber(s) => s.on_timeout(now, &mut out),
                }
                self.apply(now, &call_id, record, &mut out);
            }
            // re-filed under its next deadline (a stale entry only re-files it)
            self.keep(call_id, flow, now);
        }
        self.out = out;
    }
}

/// The load id a MESSAGE body carries (`load-msg-<id>`, anywhere in the body: a room or a
/// server may prefix it).
pub fn message_id(body: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(body).ok()?;
    let at = text.find("load-msg-")? + 9;
    text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}
