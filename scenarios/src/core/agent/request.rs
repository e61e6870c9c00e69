//! A non-INVITE request with digest authentication: REGISTER (401), MESSAGE and PUBLISH
//! (407), a room post. One client transaction at a time (retransmissions over UDP), one
//! challenge answered, then the final answer is the outcome.

use std::time::Instant;

use switchboard_engine::entropy::Entropy;
use switchboard_engine::sip::Message;
use switchboard_engine::txn::{self, ClientKey, ClientNonInvite};

use super::{build, credentials, via, Endpoint, Head, Identity, Out};
use crate::core::{Kind, Outcome};

/// What to send.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    pub kind: Kind,
    pub method: &'static str,
    pub uri: String,
    pub to: String,
    /// The dialog-less Call-ID and the first CSeq (a device's REGISTERs keep one Call-ID
    /// with a growing CSeq).
    pub call_id: String,
    pub cseq: u32,
    pub headers: Vec<(String, String)>,
    pub body: Option<(String, Vec<u8>)>,
    /// The load id of a MESSAGE (reported when the server acknowledges it).
    pub message_id: Option<u64>,
}

/// A request in flight.
#[derive(Debug)]
pub struct Request {
    spec: RequestSpec,
    id: Identity,
    ep: Endpoint,
    from: String,
    tag: String,
    started: Instant,
    txn: ClientNonInvite,
    key: ClientKey,
    auth: Option<(&'static str, String)>,
    done: bool,
}

impl Request {
    /// Sends the request.
    pub fn start(
        now: Instant,
        spec: RequestSpec,
        id: Identity,
        ep: Endpoint,
        e: &mut Entropy,
        out: &mut Vec<Out>,
    ) -> Request {
        let tag = e.token(10);
        let from = format!("<{}>;tag={tag}", id.aor(&ep));
        let (txn, key) = transaction(now, &spec, &from, &ep, None, e);
        let mut r = Request {
            spec,
            id,
            ep,
            from,
            tag,
            started: now,
            txn,
            key,
            auth: None,
            done: false,
        };
        r.drain(now, out);
        r
    }

    pub fn call_id(&self) -> &str {
        &self.spec.call_id
    }

    /// Our From tag (a request whose To carries it is for this side: a NOTIFY of a
    /// subscription).
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The CSeq of the last request sent (a device's next REGISTER uses one more).
    pub fn cseq(&self) -> u32 {
        self.spec.cseq
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.done).then(|| self.txn.poll_timeout()).flatten()
    }

    pub fn on_timeout(&mut self, now: Instant, out: &mut Vec<Out>) {
        self.txn.handle_timeout(now);
        self.drain(now, out);
    }

    /// A response on this request's Call-ID.
    pub fn on_response(
        &mut self,
        now: Instant,
        resp: Message,
        e: &mut Entropy,
        out: &mut Vec<Out>,
    ) {
        if ClientKey::from_response(&resp).as_ref() != Some(&self.key) {
            return;
        }
        let _ = self.txn.handle_response(now, resp);
        let finals = self.drain(now, out);
        let Some(resp) = finals else { return };
        let code = resp.status().unwrap_or(0);
        if self.auth.is_none() && (code == 401 || code == 407) {
            if let Some(c) = credentials(&resp, self.spec.method, &self.spec.uri, &self.id, e) {
                self.spec.cseq += 1;
                let (txn, key) = transaction(now, &self.spec, &self.from, &self.ep, Some(&c), e);
                self.auth = Some(c);
                self.txn = txn;
                self.key = key;
                self.drain(now, out);
                return;
            }
        }
        self.finish(now, Some(code), out);
    }

    /// Sends what the transaction emitted; returns its final response, if one came.
    fn drain(&mut self, now: Instant, out: &mut Vec<Out>) -> Option<Message> {
        let mut last = None;
        while let Some(o) = self.txn.poll_output() {
            match o {
                txn::Output::Transmit(b) => out.push(Out::Send(b)),
                txn::Output::Event(txn::Event::Response(r)) if r.status() >= Some(200) => {
                    last = Some(r)
                }
                txn::Output::Event(txn::Event::Timeout) => self.finish(now, None, out),
                txn::Output::Event(_) => {}
            }
        }
        last
    }

    fn finish(&mut self, now: Instant, code: Option<u16>, out: &mut Vec<Out>) {
        if self.done {
            return;
        }
        self.done = true;
        let outcome = match code {
            None => Outcome::Timeout,
            Some(c) if (200..300).contains(&c) => {
                if let Some(id) = self.spec.message_id {
                    out.push(Out::MessageAcked(id));
                }
                Outcome::Ok(c)
            }
            Some(c) => Outcome::Failed(c),
        };
        out.push(Out::Done {
            kind: self.spec.kind,
            latency: now.saturating_duration_since(self.started),
            outcome,
        });
    }
}

fn transaction(
    now: Instant,
    spec: &RequestSpec,
    from: &str,
    ep: &Endpoint,
    auth: Option<&(&'static str, String)>,
    e: &mut Entropy,
) -> (ClientNonInvite, ClientKey) {
    let (via, branch) = via(ep, e);
    let mut extra: Vec<(&str, &str)> = spec
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    if let Some((n, v)) = auth {
        extra.push((n, v.as_str()));
    }
    let bytes = build(
        &Head {
            method: spec.method,
            uri: &spec.uri,
            via: &via,
            from,
            to: &spec.to,
            call_id: &spec.call_id,
            cseq: spec.cseq,
        },
        &extra,
        spec.body.as_ref().map(|(t, b)| (t.as_str(), b.as_slice())),
    );
    // what we build always parses (our own values); a failure would be a bug, not input
    let msg = Message::parse(bytes).expect("a request the agent built");
    let txn = ClientNonInvite::new(now, msg, false, txn::Timers::default());
    (txn, ClientKey::new(&branch, spec.method))
}
