//! The switch hanging up a call it record-routes (its media died): a BYE to each side, each
//! in its own client transaction (RFC 3261 §17.1.2), sent where that side is reached (the
//! flow its requests came from, or the first proxy beyond us).
//!
//! The leg gives it the responses to those BYEs (`take_response`) and its deadlines; it says
//! when both transactions are over. It owns the transactions and their flows; no I/O.

use std::time::Instant;

use bytes::Bytes;
use switchboard_engine::flow::Flow;
use switchboard_engine::sip::Message as SipMessage;
use switchboard_engine::txn::{self, ClientKey, ClientNonInvite, Timers};

/// The BYEs of a hang-up in flight.
#[derive(Default)]
pub(super) struct Hangup {
    byes: Vec<(ClientKey, ClientNonInvite, Flow)>,
}

impl Hangup {
    /// Sends `bye` (with Via branch `branch`) to `flow`.
    pub(super) fn send(&mut self, now: Instant, bye: Bytes, branch: &str, flow: Flow) {
        let Ok(req) = SipMessage::parse(bye) else {
            return;
        };
        let tx = ClientNonInvite::new(now, req, flow.transport.is_reliable(), Timers::default());
        self.byes.push((ClientKey::new(branch, "BYE"), tx, flow));
    }

    /// Takes a response to one of our BYEs; gives back any other.
    pub(super) fn take_response(
        &mut self,
        now: Instant,
        key: &ClientKey,
        resp: SipMessage,
    ) -> Option<SipMessage> {
        match self.byes.iter_mut().find(|(k, ..)| k == key) {
            Some((_, tx, _)) => {
                let _ = tx.handle_response(now, resp);
                None
            }
            None => Some(resp),
        }
    }

    /// No BYE in flight.
    pub(super) fn is_idle(&self) -> bool {
        self.byes.is_empty()
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.byes
            .iter()
            .filter_map(|(_, tx, _)| tx.poll_timeout())
            .min()
    }

    pub(super) fn handle_timeout(&mut self, now: Instant) {
        for (_, tx, _) in &mut self.byes {
            if tx.poll_timeout().is_some_and(|d| d <= now) {
                tx.handle_timeout(now);
            }
        }
    }

    /// Hands each send to `send` with its flow; `true` once every BYE is answered or given up.
    pub(super) fn drain(&mut self, mut send: impl FnMut(&Flow, Bytes)) -> bool {
        for (_, tx, flow) in &mut self.byes {
            while let Some(o) = tx.poll_output() {
                if let txn::Output::Transmit(b) = o {
                    send(flow, b);
                }
            }
        }
        self.byes
            .retain(|(_, tx, _)| !tx.is_final() && !tx.is_terminated());
        self.byes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_engine::sip::ResponseBuilder;

    const BYE: &str = "BYE sip:bob@127.0.0.1:5070 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKbye1\r\n\
Max-Forwards: 70\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: c\r\n\
CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn a_bye_goes_out_is_retransmitted_and_ends_with_its_answer() {
        let t0 = Instant::now();
        let mut h = Hangup::default();
        let flow = Flow::udp("127.0.0.1:5070".parse().unwrap());
        h.send(t0, Bytes::from_static(BYE.as_bytes()), "z9hG4bKbye1", flow);
        let mut sent = Vec::new();
        assert!(!h.drain(|f, b| sent.push((*f, b))));
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, flow);
        let t1 = h.poll_timeout().unwrap();
        h.handle_timeout(t1);
        assert!(!h.drain(|_, b| sent.push((flow, b))));
        assert_eq!(sent.len(), 2, "retransmitted over UDP");
        let bye = SipMessage::parse(Bytes::from_static(BYE.as_bytes())).unwrap();
        let ok = SipMessage::parse(ResponseBuilder::new(&bye, 200, "OK").build()).unwrap();
        let key = ClientKey::from_response(&ok).unwrap();
        assert!(h.take_response(t1, &key, ok).is_none());
        assert!(h.drain(|_, _| {}), "answered: over");
    }
}
