//! INVITE server transaction (RFC 3261 §17.2.1, RFC 6026 §7.1).
//!
//! ```text
//!          INVITE received
//!   Proceeding --2xx sent--> Accepted --Timer L--> Terminated
//!        | 300-699 sent
//!        v
//!   Completed --ACK--> Confirmed --Timer I--> Terminated
//!        | Timer H (no ACK): Timeout
//!        v
//!   Terminated
//! ```
//! Absorbs INVITE retransmissions (repeating the last provisional while Proceeding) and
//! repeats a non-2xx final on Timer G until the ACK arrives or Timer H fires. 2xx
//! retransmission belongs to the transaction user (for a proxy: the downstream UAS).
//!
//! Invariant: nothing is emitted after `Event::Terminated`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{earliest, Deadline, Event, Output, Timers, TxnError};
use crate::sip::{Message, Method};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Proceeding,
    Accepted,
    Completed,
    Confirmed,
    Terminated,
}

/// An INVITE server transaction.
#[derive(Debug)]
pub struct ServerInvite {
    state: State,
    reliable: bool,
    timers: Timers,
    last: Option<Bytes>,
    final_code: Option<u16>,
    g_interval: Duration,
    g: Deadline,
    h: Deadline,
    i: Deadline,
    l: Deadline,
    out: VecDeque<Output>,
}

impl ServerInvite {
    /// Creates the transaction for a received INVITE. The owner sends the 100 Trying.
    pub fn new(_now: Instant, reliable: bool, timers: Timers) -> ServerInvite {
        ServerInvite {
            state: State::Proceeding,
            reliable,
            timers,
            last: None,
            final_code: None,
            g_interval: timers.t1,
            g: Deadline::default(),
            h: Deadline::default(),
            i: Deadline::default(),
            l: Deadline::default(),
            out: VecDeque::with_capacity(2),
        }
    }

    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// Whether a final response was sent.
    pub fn final_code(&self) -> Option<u16> {
        self.final_code
    }

    /// A retransmitted INVITE or an ACK matched to this transaction.
    pub fn handle_request(&mut self, now: Instant, req: &Message) -> Result<(), TxnError> {
        match (self.state, req.method()) {
            (State::Terminated, _) => return Err(TxnError::Terminated),
            (State::Proceeding, Some(Method::Invite))
            | (State::Completed, Some(Method::Invite)) => {
                if let Some(last) = &self.last {
                    self.out.push_back(Output::Transmit(last.clone()));
                }
            }
            (State::Completed, Some(Method::Ack)) => {
                self.state = State::Confirmed;
                self.g.clear();
                self.h.clear();
                self.out.push_back(Output::Event(Event::Acked));
                if self.reliable {
                    self.terminate();
                } else {
                    self.i.set(now + self.timers.t4);
                }
            }
            _ => {} // absorbed: INVITE while Accepted/Confirmed, stray ACKs
        }
        Ok(())
    }

    /// Sends a response (already serialized) with status `code`.
    pub fn respond(&mut self, now: Instant, code: u16, bytes: Bytes) -> Result<(), TxnError> {
        match self.state {
            State::Terminated => return Err(TxnError::Terminated),
            State::Proceeding => {}
            // further 2xx (other forks of a proxied INVITE) pass through while Accepted
            State::Accepted if (200..300).contains(&code) => {
                self.out.push_back(Output::Transmit(bytes));
                return Ok(());
            }
            _ => return Err(TxnError::AlreadyFinal),
        }
        if !(100..700).contains(&code) {
            return Err(TxnError::Status(code));
        }
        self.out.push_back(Output::Transmit(bytes.clone()));
        self.last = Some(bytes);
        match code {
            100..=199 => {}
            200..=299 => {
                self.final_code = Some(code);
                self.state = State::Accepted;
                self.l.set(now + self.timers.timeout());
            }
            _ => {
                self.final_code = Some(code);
                self.state = State::Completed;
                if !self.reliable {
                    self.g.set(now + self.g_interval);
                }
                self.h.set(now + self.timers.timeout());
            }
        }
        Ok(())
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.g.fire(now) && self.state == State::Completed {
            if let Some(last) = &self.last {
                self.out.push_back(Output::Transmit(last.clone()));
            }
            self.g_interval = (self.g_interval * 2).min(self.timers.t2);
            self.g.set(now + self.g_interval);
        }
        if self.h.fire(now) && self.state == State::Completed {
            self.out.push_back(Output::Event(Event::Timeout));
            self.terminate();
        }
        if self.i.fire(now) && self.state == State::Confirmed {
            self.terminate();
        }
        if self.l.fire(now) && self.state == State::Accepted {
            self.terminate();
        }
    }

    pub fn terminate(&mut self) {
        if self.state != State::Terminated {
            self.state = State::Terminated;
            self.g.clear();
            self.h.clear();
            self.i.clear();
            self.l.clear();
            self.out.push_back(Output::Event(Event::Terminated));
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[self.g, self.h, self.i, self.l])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::builder::ack_for;
    use crate::txn::testing::*;

    fn busy() -> Bytes {
        crate::sip::ResponseBuilder::new(&invite(), 486, "Busy Here")
            .to_tag("t")
            .build()
    }

    #[test]
    fn retransmitted_invite_repeats_the_last_provisional() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(t0, false, Timers::default());
        tx.handle_request(t0, &invite()).unwrap();
        assert!(
            drain(|| tx.poll_output()).0.is_empty(),
            "nothing sent yet to repeat"
        );
        let ringing = crate::sip::ResponseBuilder::new(&invite(), 180, "Ringing").build();
        tx.respond(t0, 180, ringing.clone()).unwrap();
        drain(|| tx.poll_output());
        tx.handle_request(t0, &invite()).unwrap();
        let (sent, _) = drain(|| tx.poll_output());
        assert_eq!(sent, [ringing]);
    }

    #[test]
    fn final_is_retransmitted_on_timer_g_until_ack() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(t0, false, Timers::default());
        tx.respond(t0, 486, busy()).unwrap();
        assert_eq!(drain(|| tx.poll_output()).0.len(), 1);
        let g = tx.poll_timeout().unwrap();
        assert_eq!(g - t0, Duration::from_millis(500));
        tx.handle_timeout(g);
        assert_eq!(drain(|| tx.poll_output()).0.len(), 1, "retransmitted");
        let resp = Message::parse(busy()).unwrap();
        let ack = Message::parse(ack_for(&invite(), &resp)).unwrap();
        tx.handle_request(g, &ack).unwrap();
        let (_, ev) = drain(|| tx.poll_output());
        assert!(matches!(ev[..], [Event::Acked]));
        let i = tx.poll_timeout().unwrap();
        assert_eq!(i - g, Duration::from_secs(5), "Timer I = T4");
        tx.handle_timeout(i);
        assert!(tx.is_terminated());
    }

    #[test]
    fn timer_h_gives_up_without_ack() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(t0, false, Timers::default());
        tx.respond(t0, 486, busy()).unwrap();
        let mut now = t0;
        let mut retransmits = 0;
        let mut events = Vec::new();
        while let Some(at) = tx.poll_timeout() {
            now = at;
            tx.handle_timeout(now);
            let (s, e) = drain(|| tx.poll_output());
            retransmits += s.len();
            events.extend(e);
        }
        assert_eq!(now - t0, Duration::from_secs(32));
        assert!(
            retransmits >= 9,
            "G at 0.5,1.5,3.5,7.5,11.5,...: got {retransmits}"
        );
        assert!(matches!(events[..], [Event::Timeout, Event::Terminated]));
    }

    #[test]
    fn accepted_absorbs_invites_and_forwards_further_2xx() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(t0, false, Timers::default());
        let ok = crate::sip::ResponseBuilder::new(&invite(), 200, "OK")
            .to_tag("a")
            .build();
        tx.respond(t0, 200, ok.clone()).unwrap();
        drain(|| tx.poll_output());
        tx.handle_request(t0, &invite()).unwrap();
        assert!(
            drain(|| tx.poll_output()).0.is_empty(),
            "INVITE absorbed while Accepted"
        );
        tx.respond(t0, 200, ok).unwrap();
        assert_eq!(
            drain(|| tx.poll_output()).0.len(),
            1,
            "second fork's 2xx goes up"
        );
        assert_eq!(tx.respond(t0, 486, busy()), Err(TxnError::AlreadyFinal));
        let l = tx.poll_timeout().unwrap();
        assert_eq!(l - t0, Duration::from_secs(32), "Timer L = 64*T1");
    }
}
