//! Non-INVITE server transaction (RFC 3261 §17.2.2).
//!
//! ```text
//!   Trying --1xx sent--> Proceeding --final sent--> Completed --Timer J--> Terminated
//!      \------------------final sent------------------^
//! ```
//! Request retransmissions are absorbed in Trying and answered with the last response after
//! that, so a REGISTER or BYE is processed once however often it arrives.
//!
//! Invariant: nothing is emitted after `Event::Terminated`.
//!
//! Kept small (about 100 bytes and its response): a registrar holds one per REGISTER for
//! Timer J, tens of thousands at load. Its outputs are at most the response and the
//! Terminated event, so they wait in two fields instead of a queue.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{earliest, Deadline, Event, Output, Timers, TxnError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// A non-INVITE server transaction.
#[derive(Debug)]
pub struct ServerNonInvite {
    state: State,
    reliable: bool,
    /// Timer J's duration for an unreliable transport (64*T1).
    timer_j: Duration,
    last: Option<Bytes>,
    j: Deadline,
    /// The response waiting to be sent (a second retransmission before the owner drained
    /// would be the same bytes, so one slot suffices).
    pending: Option<Bytes>,
    terminated_event: bool,
}

impl ServerNonInvite {
    pub fn new(_now: Instant, reliable: bool, timers: Timers) -> ServerNonInvite {
        ServerNonInvite {
            state: State::Trying,
            reliable,
            timer_j: timers.timeout(),
            last: None,
            j: Deadline::default(),
            pending: None,
            terminated_event: false,
        }
    }

    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// Whether the final response was sent.
    pub fn is_completed(&self) -> bool {
        matches!(self.state, State::Completed | State::Terminated)
    }

    /// A retransmission of the request.
    pub fn handle_request(&mut self, _now: Instant) -> Result<(), TxnError> {
        match self.state {
            State::Terminated => Err(TxnError::Terminated),
            State::Trying => Ok(()),
            State::Proceeding | State::Completed => {
                if let Some(last) = &self.last {
                    self.pending = Some(last.clone());
                }
                Ok(())
            }
        }
    }

    pub fn respond(&mut self, now: Instant, code: u16, bytes: Bytes) -> Result<(), TxnError> {
        match self.state {
            State::Terminated => return Err(TxnError::Terminated),
            State::Completed => return Err(TxnError::AlreadyFinal),
            State::Trying | State::Proceeding => {}
        }
        if !(100..700).contains(&code) {
            return Err(TxnError::Status(code));
        }
        self.pending = Some(bytes.clone());
        self.last = Some(bytes);
        if code < 200 {
            self.state = State::Proceeding;
        } else {
            self.state = State::Completed;
            if self.reliable {
                self.terminate();
            } else {
                self.j.set(now + self.timer_j);
            }
        }
        Ok(())
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.j.fire(now) && self.state == State::Completed {
            self.terminate();
        }
    }

    pub fn terminate(&mut self) {
        if self.state != State::Terminated {
            self.state = State::Terminated;
            self.j.clear();
            self.terminated_event = true;
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        if let Some(b) = self.pending.take() {
            return Some(Output::Transmit(b));
        }
        if std::mem::take(&mut self.terminated_event) {
            return Some(Output::Event(Event::Terminated));
        }
        None
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[self.j])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::testing::*;
    use std::time::Duration;

    #[test]
    fn retransmissions_are_absorbed_until_answered_then_get_the_same_answer() {
        let t0 = Instant::now();
        let mut tx = ServerNonInvite::new(t0, false, Timers::default());
        tx.handle_request(t0).unwrap();
        assert!(drain(|| tx.poll_output()).0.is_empty());
        let ok = crate::sip::ResponseBuilder::new(&request("REGISTER"), 200, "OK").build();
        tx.respond(t0, 200, ok.clone()).unwrap();
        assert_eq!(drain(|| tx.poll_output()).0, std::slice::from_ref(&ok));
        tx.handle_request(t0 + Duration::from_secs(1)).unwrap();
        assert_eq!(drain(|| tx.poll_output()).0, [ok]);
        let j = tx.poll_timeout().unwrap();
        assert_eq!(j - t0, Duration::from_secs(32), "Timer J = 64*T1");
        tx.handle_timeout(j);
        assert!(tx.is_terminated());
    }

    #[test]
    fn reliable_transports_terminate_on_the_final_response() {
        let t0 = Instant::now();
        let mut tx = ServerNonInvite::new(t0, true, Timers::default());
        let ok = crate::sip::ResponseBuilder::new(&request("BYE"), 200, "OK").build();
        tx.respond(t0, 200, ok).unwrap();
        let (_, ev) = drain(|| tx.poll_output());
        assert!(matches!(ev[..], [Event::Terminated]));
    }

    #[test]
    fn an_answered_transaction_stays_small() {
        assert!(
            std::mem::size_of::<ServerNonInvite>() <= 112,
            "{}",
            std::mem::size_of::<ServerNonInvite>()
        );
    }

    #[test]
    fn only_one_final_response() {
        let t0 = Instant::now();
        let mut tx = ServerNonInvite::new(t0, false, Timers::default());
        let ok = crate::sip::ResponseBuilder::new(&request("BYE"), 200, "OK").build();
        tx.respond(t0, 200, ok.clone()).unwrap();
        assert_eq!(tx.respond(t0, 200, ok), Err(TxnError::AlreadyFinal));
    }
}
