//! A presence subscription of a simulated watcher: SUBSCRIBE (a 407 answered once), then
//! every NOTIFY answered 200 and reported, with the latency from the PUBLISH that caused it
//! when its note carries the publisher's stamp.

use std::time::{Duration, Instant};

use switchboard_engine::entropy::Entropy;
use switchboard_engine::sip::{Message, Method, ResponseBuilder};

use super::{request::Request, stamped_latency, Endpoint, Identity, Out, RequestSpec};
use crate::core::Kind;

/// A watcher's subscription.
#[derive(Debug)]
pub struct Subscriber {
    request: Request,
    epoch: Instant,
    last_notify_cseq: u32,
    /// The publication stamp the last NOTIFY carried: only a NOTIFY with a new one was caused
    /// by a publication (the first NOTIFY and refreshes carry the state as it was).
    last_stamp: Option<Option<u64>>,
    done: bool,
}

impl Subscriber {
    /// Sends the SUBSCRIBE to `presentity`; `epoch` is the run's start (for NOTIFY stamps).
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        now: Instant,
        epoch: Instant,
        watcher: Identity,
        presentity: &str,
        expires: Duration,
        ep: Endpoint,
        e: &mut Entropy,
        out: &mut Vec<Out>,
    ) -> Subscriber {
        let uri = format!("sip:{presentity}@{}", ep.server);
        let spec = RequestSpec {
            kind: Kind::Subscribe,
            method: "SUBSCRIBE",
            to: format!("<sip:{presentity}@{}>", ep.domain),
            uri,
            call_id: format!("ls-{}", e.token(20)),
            cseq: 1,
            headers: vec![
                ("Contact".into(), watcher.contact(&ep)),
                ("Event".into(), "presence".into()),
                ("Accept".into(), "application/pidf+xml".into()),
                ("Expires".into(), expires.as_secs().to_string()),
            ],
            body: None,
            message_id: None,
        };
        Subscriber {
            request: Request::start(now, spec, watcher, ep, e, out),
            epoch,
            last_notify_cseq: 0,
            last_stamp: None,
            done: false,
        }
    }

    pub fn call_id(&self) -> &str {
        self.request.call_id()
    }

    pub fn tag(&self) -> &str {
        self.request.tag()
    }

    /// Over once the server ended the subscription (or the SUBSCRIBE failed).
    pub fn is_done(&self) -> bool {
        self.done
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.request.poll_timeout()
    }

    pub fn on_timeout(&mut self, now: Instant, out: &mut Vec<Out>) {
        self.request.on_timeout(now, out);
        self.check_failed(out);
    }

    pub fn on_message(&mut self, now: Instant, msg: Message, e: &mut Entropy, out: &mut Vec<Out>) {
        if msg.status().is_some() {
            self.request.on_response(now, msg, e, out);
            return self.check_failed(out);
        }
        if msg.method() != Some(Method::Notify) {
            return out.push(Out::Send(
                ResponseBuilder::new(&msg, 481, "Call/Transaction Does Not Exist").build(),
            ));
        }
        out.push(Out::Send(ResponseBuilder::new(&msg, 200, "OK").build()));
        let cseq = msg.cseq().map_or(0, |c| c.seq);
        if cseq > self.last_notify_cseq {
            // a retransmitted NOTIFY is answered again but reported once
            self.last_notify_cseq = cseq;
            let stamp = super::stamp_of(msg.body());
            let caused = matches!(self.last_stamp, Some(last) if last != stamp) && stamp.is_some();
            self.last_stamp = Some(stamp);
            out.push(Out::Notified {
                latency: if caused {
                    stamped_latency(msg.body(), self.epoch, now)
                } else {
                    None
                },
            });
        }
        let ended = msg
            .header_by_name("Subscription-State")
            .is_some_and(|s| s.trim_start().starts_with("terminated"));
        if ended {
            self.done = true;
        }
    }

    /// A SUBSCRIBE refused or unanswered ends the subscription.
    fn check_failed(&mut self, out: &[Out]) {
        let failed = out.iter().any(|o| {
            matches!(o, Out::Done { kind: Kind::Subscribe, outcome, .. } if !matches!(outcome, crate::core::Outcome::Ok(_)))
        });
        if failed {
            self.done = true;
        }
    }
}
