//! A non-INVITE request with digest authentication: REGISTER (401), MESSAGE and PUBLISH
//! (407), a room post. One client transaction at a time (retransmissions over UDP), one
//! challenge answered, then the final answer is the outcome.
//!
//! The engine's transaction machine takes a parsed request. Most requests of a run are
//! answered well before Timer E's first retransmission (T1, 500 ms), so the request is sent
//! as built and the machine is made (from the bytes, started at the first send) only when
//! Timer E fires or a provisional answer comes: the retransmissions and Timer F are the
//! machine's, as if it had been there from the start, and a request answered at once costs
//! no second parse of its own bytes.

use std::time::Instant;

use bytes::Bytes;

use switchboard_engine::entropy::Entropy;
use switchboard_engine::sip::Message;
use switchboard_engine::txn::{self, ClientNonInvite};

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
    /// The transaction's request as sent, first sent at `sent`; its machine once needed.
    bytes: Bytes,
    sent: Instant,
    txn: Option<ClientNonInvite>,
    /// The transaction's branch: a response is this transaction's when its top Via carries
    /// it and its CSeq our method (RFC 3261 §17.1.3).
    branch: String,
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
        let mut from = String::with_capacity(32 + id.number.len() + ep.domain.len());
        from.push('<');
        id.push_aor(&mut from, &ep);
        from.push_str(">;tag=");
        from.push_str(&tag);
        let (bytes, branch) = transaction(&spec, &from, &ep, None, e);
        out.push(Out::Send(bytes.clone()));
        Request {
            spec,
            id,
            ep,
            from,
            tag,
            started: now,
            bytes,
            sent: now,
            txn: None,
            branch,
            auth: None,
            done: false,
        }
    }

    /// The transaction machine, made when first needed as if started at the first send (its
    /// first transmission, already sent then, is dropped).
    fn machine(&mut self) -> &mut ClientNonInvite {
        let (bytes, sent) = (&self.bytes, self.sent);
        self.txn.get_or_insert_with(|| {
            // what we build always parses (our own values); a failure would be a bug
            let msg = Message::parse(bytes.clone()).expect("a request the agent built");
            let mut t = ClientNonInvite::new(sent, msg, false, txn::Timers::default());
            let _first = t.poll_output();
            t
        })
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
        if self.done {
            return None;
        }
        match &self.txn {
            Some(t) => t.poll_timeout(),
            // Timer E's first firing (Timer F comes later)
            None => Some(self.sent + txn::Timers::default().t1),
        }
    }

    pub fn on_timeout(&mut self, now: Instant, out: &mut Vec<Out>) {
        if self.txn.is_none() && now < self.sent + txn::Timers::default().t1 {
            return;
        }
        self.machine().handle_timeout(now);
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
        let ours = resp
            .top_via()
            .is_some_and(|v| v.branch() == Some(self.branch.as_str()))
            && resp
                .cseq()
                .is_some_and(|c| c.method_str == self.spec.method);
        if !ours {
            return;
        }
        let code = resp.status().unwrap_or(0);
        let finals = if self.txn.is_none() && code >= 200 {
            // a final answer before any retransmission: the machine would only pass it up
            (!self.done).then_some(resp)
        } else {
            let _ = self.machine().handle_response(now, resp);
            self.drain(now, out)
        };
        let Some(resp) = finals else { return };
        let code = resp.status().unwrap_or(0);
        if self.auth.is_none() && (code == 401 || code == 407) {
            if let Some(c) = credentials(&resp, self.spec.method, &self.spec.uri, &self.id, e) {
                self.spec.cseq += 1;
                let (bytes, branch) = transaction(&self.spec, &self.from, &self.ep, Some(&c), e);
                out.push(Out::Send(bytes.clone()));
                self.auth = Some(c);
                self.bytes = bytes;
                self.sent = now;
                self.txn = None;
                self.branch = branch;
                return;
            }
        }
        self.finish(now, Some(code), out);
    }

    /// Sends what the transaction emitted; returns its final response, if one came.
    fn drain(&mut self, now: Instant, out: &mut Vec<Out>) -> Option<Message> {
        let mut last = None;
        while let Some(o) = self.txn.as_mut().and_then(ClientNonInvite::poll_output) {
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

/// The request's bytes with a fresh branch (returned too).
fn transaction(
    spec: &RequestSpec,
    from: &str,
    ep: &Endpoint,
    auth: Option<&(&'static str, String)>,
    e: &mut Entropy,
) -> (Bytes, String) {
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
    (bytes, branch)
}
