//! Non-INVITE client transaction (RFC 3261 §17.1.2).
//!
//! ```text
//!        Trying --1xx--> Proceeding
//!  Timer F |  \ final        | final
//! (Timeout)v   \-----> Completed --Timer K--> Terminated
//!      Terminated
//! ```
//! Timer E retransmits with doubling intervals capped at T2 (at T2 once proceeding).
//!
//! Invariant: nothing is emitted after `Event::Terminated`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{earliest, Deadline, Event, Output, Timers, TxnError};
use crate::sip::Message;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// A non-INVITE client transaction.
#[derive(Debug)]
pub struct ClientNonInvite {
    state: State,
    request: Message,
    reliable: bool,
    timers: Timers,
    e_interval: Duration,
    e: Deadline,
    f: Deadline,
    k: Deadline,
    out: VecDeque<Output>,
}

impl ClientNonInvite {
    /// Starts the transaction and emits the first transmission of `request`.
    pub fn new(now: Instant, request: Message, reliable: bool, timers: Timers) -> ClientNonInvite {
        let mut t = ClientNonInvite {
            state: State::Trying,
            reliable,
            timers,
            e_interval: timers.t1,
            e: Deadline::default(),
            f: Deadline::default(),
            k: Deadline::default(),
            out: VecDeque::with_capacity(2),
            request,
        };
        t.out
            .push_back(Output::Transmit(t.request.as_bytes_shared()));
        if !reliable {
            t.e.set(now + t.e_interval);
        }
        t.f.set(now + timers.timeout());
        t
    }

    pub fn request(&self) -> &Message {
        &self.request
    }

    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// Whether a final response (or a timeout) ended the request.
    pub fn is_final(&self) -> bool {
        matches!(self.state, State::Completed | State::Terminated)
    }

    pub fn handle_response(&mut self, now: Instant, resp: Message) -> Result<(), TxnError> {
        let code = resp.status().unwrap_or(0);
        match self.state {
            State::Terminated => return Err(TxnError::Terminated),
            State::Completed => {} // retransmitted final: absorbed
            State::Trying | State::Proceeding if code < 200 => {
                self.state = State::Proceeding;
                self.out.push_back(Output::Event(Event::Response(resp)));
            }
            State::Trying | State::Proceeding => {
                self.state = State::Completed;
                self.e.clear();
                self.f.clear();
                self.out.push_back(Output::Event(Event::Response(resp)));
                if self.reliable {
                    self.terminate();
                } else {
                    self.k.set(now + self.timers.t4);
                }
            }
        }
        Ok(())
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.e.fire(now) && matches!(self.state, State::Trying | State::Proceeding) {
            self.out
                .push_back(Output::Transmit(self.request.as_bytes_shared()));
            self.e_interval = if self.state == State::Proceeding {
                self.timers.t2
            } else {
                (self.e_interval * 2).min(self.timers.t2)
            };
            self.e.set(now + self.e_interval);
        }
        if self.f.fire(now) && matches!(self.state, State::Trying | State::Proceeding) {
            self.out.push_back(Output::Event(Event::Timeout));
            self.terminate();
        }
        if self.k.fire(now) && self.state == State::Completed {
            self.terminate();
        }
    }

    pub fn terminate(&mut self) {
        if self.state != State::Terminated {
            self.state = State::Terminated;
            self.e.clear();
            self.f.clear();
            self.k.clear();
            self.out.push_back(Output::Event(Event::Terminated));
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[self.e, self.f, self.k])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::testing::*;

    #[test]
    fn retransmissions_double_up_to_t2_then_timer_f_times_out() {
        let t0 = Instant::now();
        let mut tx = ClientNonInvite::new(t0, request("BYE"), false, Timers::default());
        assert_eq!(drain(|| tx.poll_output()).0.len(), 1);
        let mut now = t0;
        let mut gaps = Vec::new();
        let mut events = Vec::new();
        while let Some(at) = tx.poll_timeout() {
            gaps.push((at - now).as_millis());
            now = at;
            tx.handle_timeout(now);
            events.extend(drain(|| tx.poll_output()).1);
        }
        assert_eq!(&gaps[..5], [500, 1000, 2000, 4000, 4000]);
        assert_eq!(now - t0, Duration::from_secs(32), "Timer F = 64*T1");
        assert!(matches!(events[..], [Event::Timeout, Event::Terminated]));
    }

    #[test]
    fn provisional_pins_retransmissions_to_t2() {
        let t0 = Instant::now();
        let mut tx = ClientNonInvite::new(t0, request("BYE"), false, Timers::default());
        drain(|| tx.poll_output());
        tx.handle_response(t0, response_to(&request("BYE"), 100))
            .unwrap();
        let e = tx.poll_timeout().unwrap();
        tx.handle_timeout(e);
        assert_eq!(tx.poll_timeout().unwrap() - e, Duration::from_secs(4));
    }

    #[test]
    fn final_response_is_passed_up_once_and_timer_k_ends_it() {
        let t0 = Instant::now();
        let mut tx = ClientNonInvite::new(t0, request("BYE"), false, Timers::default());
        drain(|| tx.poll_output());
        let ok = response_to(&request("BYE"), 200);
        tx.handle_response(t0, ok.clone()).unwrap();
        tx.handle_response(t0, ok).unwrap();
        let (sent, ev) = drain(|| tx.poll_output());
        assert!(sent.is_empty());
        assert_eq!(ev.len(), 1);
        let k = tx.poll_timeout().unwrap();
        assert_eq!(k - t0, Duration::from_secs(5), "Timer K = T4");
        tx.handle_timeout(k);
        assert!(tx.is_terminated());
        assert_eq!(
            tx.handle_response(k, response_to(&request("BYE"), 200)),
            Err(TxnError::Terminated)
        );
    }

    #[test]
    fn reliable_final_terminates_at_once() {
        let t0 = Instant::now();
        let mut tx = ClientNonInvite::new(t0, request("OPTIONS"), true, Timers::default());
        drain(|| tx.poll_output());
        tx.handle_response(t0, response_to(&request("OPTIONS"), 200))
            .unwrap();
        let (_, ev) = drain(|| tx.poll_output());
        assert!(matches!(ev[..], [Event::Response(_), Event::Terminated]));
    }
}
