//! The transactions of one call (RFC 3261 §16, §17.2.3 for how requests and responses find
//! theirs): the initial INVITE, the same INVITE re-sent with credentials, and every request
//! relayed inside the dialog (re-INVITE, BYE, UPDATE, INFO, REFER, NOTIFY...), each a `Txn`.
//!
//! The leg hands it what arrives: a response goes to the transaction owning its client key
//! (`take_response`), an ACK of a non-2xx and a retransmission to their server transaction
//! (`take_ack`, `take_retransmission`), a CANCEL to the transaction it cancels
//! (`take_cancel`); each gives back whether it was taken. After every handler the leg drains
//! them (`drain`): the sends go out through the caller's closure, in the order the contexts
//! queued them, and what the leg acts on comes back as reports. `poll_timeout` is the earliest
//! deadline of all contexts and routing sequences.
//!
//! Guarantees: a terminated transaction leaves the list in the drain that reports it, so a
//! list with nothing in it means the call's proxy work is done.

use std::ops::{Index, IndexMut};
use std::time::Instant;

use bytes::Bytes;
use switchboard_engine::flow::Flow;
use switchboard_engine::sip::Message as SipMessage;
use switchboard_engine::txn::{ClientKey, ServerKey};

use super::txn::{Report, Txn};

/// The transactions of the call, in the order they arrived.
#[derive(Default)]
pub(super) struct Txns {
    list: Vec<Txn>,
}

impl Txns {
    /// Adds a transaction; its index until a drain removes a terminated one.
    pub(super) fn open(&mut self, txn: Txn) -> usize {
        self.list.push(txn);
        self.list.len() - 1
    }

    /// The transaction of server key `key`.
    pub(super) fn index_of(&self, key: &ServerKey) -> Option<usize> {
        self.list.iter().position(|x| &x.key == key)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &Txn> + '_ {
        self.list.iter()
    }

    /// Forgets every transaction (the call failed).
    pub(super) fn clear(&mut self) {
        self.list.clear();
    }

    /// Gives a response (client key `key`) to the transaction whose branch sent the request;
    /// the response comes back when none of them did.
    pub(super) fn take_response(
        &mut self,
        now: Instant,
        key: &ClientKey,
        resp: SipMessage,
    ) -> Option<SipMessage> {
        match self.list.iter_mut().find(|x| x.ctx.owns(key)) {
            Some(x) => {
                x.ctx.handle_response(now, resp);
                None
            }
            None => Some(resp),
        }
    }

    /// The ACK of a non-2xx belongs to our server transaction (§17.2.1); `false` for the ACK
    /// of a 2xx, which is end to end and follows the route.
    pub(super) fn take_ack(&mut self, now: Instant, ack: &SipMessage) -> bool {
        let key = ServerKey::from_request(ack);
        match self.list.iter_mut().find(|x| Some(&x.key) == key.as_ref()) {
            Some(x) if x.ctx.final_code().is_some_and(|c| c >= 300) => {
                x.ctx.handle_request(now, ack);
                true
            }
            _ => false,
        }
    }

    /// A CANCEL for the transaction it names (§9.2): the context answers it and cancels its
    /// branches, and no routing fallback starts any more. `false` when it names none.
    pub(super) fn take_cancel(&mut self, now: Instant, cancel: &SipMessage) -> bool {
        let target = ServerKey::cancel_target(cancel);
        let Some(x) = self
            .list
            .iter_mut()
            .find(|x| Some(&x.key) == target.as_ref())
        else {
            return false;
        };
        x.ctx.handle_cancel(now, cancel);
        if let Some(s) = x.setup.as_mut() {
            s.canceled();
        }
        true
    }

    /// A request its transaction already has (a retransmission, §17.2); `false` for a new
    /// one.
    pub(super) fn take_retransmission(&mut self, now: Instant, req: &SipMessage) -> bool {
        let key = ServerKey::from_request(req);
        match self.list.iter_mut().find(|x| Some(&x.key) == key.as_ref()) {
            Some(x) => {
                x.ctx.handle_request(now, req);
                true
            }
            None => false,
        }
    }

    /// Hands every send of every context to `send` and removes the terminated transactions;
    /// what the leg acts on, in the order the contexts reported it.
    pub(super) fn drain(&mut self, mut send: impl FnMut(&Flow, Bytes)) -> Vec<(ServerKey, Report)> {
        let mut reports = Vec::new();
        let mut i = 0;
        while i < self.list.len() {
            if self.list[i].drain(&mut send, &mut reports) {
                self.list.remove(i);
            } else {
                i += 1;
            }
        }
        reports
    }

    /// The earliest deadline of the contexts and their routing sequences.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.list.iter().filter_map(Txn::poll_timeout).min()
    }

    /// Runs the contexts whose deadline passed by `now`.
    pub(super) fn handle_timeout(&mut self, now: Instant) {
        for x in &mut self.list {
            if x.ctx.poll_timeout().is_some_and(|d| d <= now) {
                x.ctx.handle_timeout(now);
            }
        }
    }

    /// The transactions whose routing sequence's deadline (no answer) passed by `now`.
    pub(super) fn due_setups(&self, now: Instant) -> Vec<ServerKey> {
        self.list
            .iter()
            .filter(|x| {
                x.setup
                    .as_ref()
                    .and_then(|s| s.poll_timeout())
                    .is_some_and(|d| d <= now)
            })
            .map(|x| x.key.clone())
            .collect()
    }
}

impl Index<usize> for Txns {
    type Output = Txn;
    fn index(&self, i: usize) -> &Txn {
        &self.list[i]
    }
}

impl IndexMut<usize> for Txns {
    fn index_mut(&mut self, i: usize) -> &mut Txn {
        &mut self.list[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;
    use switchboard_engine::entropy::Entropy;
    use switchboard_engine::proxy::{ContextConfig, Local};
    use switchboard_engine::sip::ResponseBuilder;

    const CALLER: &str = "127.0.0.1:5070";
    const CALLEE: &str = "127.0.0.1:5080";

    fn request_hops(method: &str, branch: &str, to_tag: &str, hops: u8) -> SipMessage {
        let raw = format!(
            "{method} sip:1002@127.0.0.1:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP {CALLER};branch=z9hG4bK{branch}\r\n\
             From: <sip:1001@sb.test>;tag=a\r\nTo: <sip:1002@sb.test>{to_tag}\r\n\
             Call-ID: call-1\r\nCSeq: 1 {method}\r\nMax-Forwards: {hops}\r\n\
             Content-Length: 0\r\n\r\n"
        );
        SipMessage::parse(Bytes::from(raw)).expect("parses")
    }

    fn request(method: &str, branch: &str, to_tag: &str) -> SipMessage {
        request_hops(method, branch, to_tag, 70)
    }

    fn open(txns: &mut Txns, now: Instant, msg: SipMessage, initial: bool) -> usize {
        let flow = Flow::udp(CALLER.parse().expect("an address"));
        let local = Arc::new(Local::new("127.0.0.1", 5060, "sb.test"));
        let config = ContextConfig::default();
        let txn = Txn::new(now, msg, flow, initial, local, Entropy::seeded(7), config);
        txns.open(txn)
    }

    type Drained = (Vec<(u16, u16)>, Vec<(ServerKey, Report)>);

    /// The status codes sent (0 for a request) with the port each went to, and the reports.
    fn drained(txns: &mut Txns) -> Drained {
        let mut out = Vec::new();
        let reports = txns.drain(|f, b| {
            let m = SipMessage::parse(b).expect("we send SIP");
            out.push((m.status().unwrap_or(0), f.remote.port()));
        });
        (out, reports)
    }

    #[test]
    fn a_refused_invite_finishes_takes_its_ack_and_leaves_at_timer_i() {
        let t0 = Instant::now();
        let mut txns = Txns::default();
        let invite = request("INVITE", "inv", "");
        let i = open(&mut txns, t0, invite.clone(), true);
        txns[i].ctx.respond(t0, 486, "Busy Here", &[]);
        let (out, reports) = drained(&mut txns);
        assert_eq!(
            out,
            [(100, 5070), (486, 5070)],
            "100 Trying, then the answer"
        );
        let finished = Report::Finished {
            code: 486,
            initial: true,
            bye: false,
            canceled: false,
            version: None,
        };
        assert_eq!(reports, [(txns[i].key.clone(), finished)]);
        assert!(
            txns.take_retransmission(t0, &invite),
            "the INVITE again is ours"
        );
        let other = request("ACK", "other", ";tag=x");
        assert!(
            !txns.take_ack(t0, &other),
            "an ACK of a 2xx follows the route"
        );
        assert!(
            txns.take_ack(t0, &request("ACK", "inv", ";tag=x")),
            "the 486's ACK is ours"
        );
        drained(&mut txns);
        let at = txns.poll_timeout().expect("Timer I runs");
        assert!(at <= t0 + Duration::from_secs(5));
        txns.handle_timeout(at);
        let (_, reports) = drained(&mut txns);
        assert!(reports.is_empty());
        assert!(txns.is_empty(), "a terminated transaction leaves the list");
    }

    #[test]
    fn a_relayed_bye_reaches_its_next_hop_and_its_answer_comes_back() {
        let t0 = Instant::now();
        let mut txns = Txns::default();
        let i = open(&mut txns, t0, request("BYE", "bye", ";tag=b"), false);
        assert!(txns[i].is_bye());
        txns[i].relay(t0, Flow::udp(CALLEE.parse().expect("an address")));
        let mut forwarded = Vec::new();
        let reports = txns.drain(|f, b| forwarded.push((f.remote.port(), b)));
        assert!(reports.is_empty());
        assert_eq!(forwarded.len(), 1);
        assert_eq!(forwarded[0].0, 5080, "the branch goes to its flow");
        let bye = SipMessage::parse(forwarded[0].1.clone()).expect("a BYE");
        let ok = SipMessage::parse(ResponseBuilder::new(&bye, 200, "OK").build()).expect("200");
        let key = ClientKey::from_response(&ok).expect("keyed");
        assert!(
            txns.take_response(t0, &key, ok).is_none(),
            "our branch's answer"
        );
        let (out, reports) = drained(&mut txns);
        assert_eq!(out, [(200, 5070)]);
        assert!(matches!(
            reports[..],
            [(
                _,
                Report::Finished {
                    code: 200,
                    bye: true,
                    initial: false,
                    ..
                }
            )]
        ));
        let stray = ResponseBuilder::new(&request("BYE", "zz", ""), 200, "OK").build();
        let stray = SipMessage::parse(stray).expect("200");
        let key = ClientKey::from_response(&stray).expect("keyed");
        assert!(
            txns.take_response(t0, &key, stray).is_some(),
            "not ours: given back"
        );
    }

    #[test]
    fn a_cancel_finds_the_invite_it_names_and_only_that() {
        let t0 = Instant::now();
        let mut txns = Txns::default();
        open(&mut txns, t0, request("INVITE", "inv", ""), true);
        drained(&mut txns);
        assert!(!txns.take_cancel(t0, &request("CANCEL", "other", "")));
        assert!(txns.take_cancel(t0, &request("CANCEL", "inv", "")));
        let (out, reports) = drained(&mut txns);
        let codes: Vec<u16> = out.iter().map(|(c, _)| *c).collect();
        assert_eq!(codes, [200, 487], "the CANCEL answered, the INVITE ended");
        assert!(matches!(
            reports[..],
            [(
                _,
                Report::Finished {
                    code: 487,
                    canceled: true,
                    ..
                }
            )]
        ));
    }

    #[test]
    fn a_request_with_no_hops_left_is_answered_not_forwarded() {
        let t0 = Instant::now();
        let mut txns = Txns::default();
        let i = open(&mut txns, t0, request_hops("OPTIONS", "opt", "", 0), false);
        assert!(txns[i].refused_hop(t0));
        let (out, _) = drained(&mut txns);
        assert_eq!(out, [(483, 5070)]);
        let j = open(&mut txns, t0, request("OPTIONS", "ok", ""), false);
        assert!(!txns[j].refused_hop(t0), "hops left and nothing required");
    }
}
