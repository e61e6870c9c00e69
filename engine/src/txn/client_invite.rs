//! INVITE client transaction (RFC 3261 §17.1.1, RFC 6026 §7.2).
//!
//! ```text
//!                  |INVITE sent, Timer A (unreliable) and B started
//!               Calling ---- 1xx ----> Proceeding
//!        Timer B |  \ 300-699: ACK, Timer D   | 2xx: Timer M
//!     (Timeout)  v   \----------> Completed   v
//!           Terminated <-- D --      Accepted --M--> Terminated
//! ```
//! Non-2xx finals are acknowledged here (hop by hop); 2xx responses and their retransmissions
//! are passed up while Accepted, since their ACK belongs to the transaction user.
//!
//! Invariant: nothing is emitted after `Event::Terminated`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{earliest, Deadline, Event, Output, Timers, TxnError};
use crate::sip::builder::ack_for;
use crate::sip::Message;

/// Timer D: how long retransmitted finals are absorbed on unreliable transports (§17.1.1.2).
const TIMER_D: Duration = Duration::from_secs(32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Calling,
    Proceeding,
    Accepted,
    Completed,
    Terminated,
}

/// An INVITE client transaction.
#[derive(Debug)]
pub struct ClientInvite {
    state: State,
    invite: Message,
    reliable: bool,
    timers: Timers,
    a_interval: Duration,
    a: Deadline,
    b: Deadline,
    d: Deadline,
    m: Deadline,
    ack: Option<Bytes>,
    out: VecDeque<Output>,
}

impl ClientInvite {
    /// Starts the transaction: `invite` is the request exactly as sent (its top Via carries
    /// this transaction's branch). Emits the first transmission.
    pub fn new(now: Instant, invite: Message, reliable: bool, timers: Timers) -> ClientInvite {
        let mut t = ClientInvite {
            state: State::Calling,
            reliable,
            timers,
            a_interval: timers.t1,
            a: Deadline::default(),
            b: Deadline::default(),
            d: Deadline::default(),
            m: Deadline::default(),
            ack: None,
            out: VecDeque::with_capacity(2),
            invite,
        };
        t.out
            .push_back(Output::Transmit(t.invite.as_bytes_shared()));
        if !reliable {
            t.a.set(now + t.a_interval);
        }
        t.b.set(now + timers.timeout());
        t
    }

    /// The request this transaction sends.
    pub fn request(&self) -> &Message {
        &self.invite
    }

    /// Whether a provisional response was received (a CANCEL may be sent, §9.1).
    pub fn is_proceeding(&self) -> bool {
        self.state == State::Proceeding
    }

    /// Whether a final response (or a timeout) ended the INVITE.
    pub fn is_final(&self) -> bool {
        matches!(
            self.state,
            State::Accepted | State::Completed | State::Terminated
        )
    }

    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// A response whose top Via branch and CSeq method matched this transaction.
    pub fn handle_response(&mut self, now: Instant, resp: Message) -> Result<(), TxnError> {
        let code = resp.status().unwrap_or(0);
        match self.state {
            State::Terminated => return Err(TxnError::Terminated),
            State::Calling | State::Proceeding => match code {
                100..=199 => {
                    self.state = State::Proceeding;
                    self.a.clear();
                    self.b.clear();
                    self.out.push_back(Output::Event(Event::Response(resp)));
                }
                200..=299 => {
                    self.state = State::Accepted;
                    self.a.clear();
                    self.b.clear();
                    self.m.set(now + self.timers.timeout());
                    self.out.push_back(Output::Event(Event::Response(resp)));
                }
                _ => {
                    self.state = State::Completed;
                    self.a.clear();
                    self.b.clear();
                    let ack = ack_for(&self.invite, &resp);
                    self.out.push_back(Output::Transmit(ack.clone()));
                    self.ack = Some(ack);
                    self.out.push_back(Output::Event(Event::Response(resp)));
                    if self.reliable {
                        self.terminate();
                    } else {
                        self.d.set(now + TIMER_D);
                    }
                }
            },
            State::Accepted => {
                if (200..=299).contains(&code) {
                    self.out.push_back(Output::Event(Event::Response(resp)));
                }
            }
            State::Completed => {
                if code >= 300 {
                    if let Some(ack) = &self.ack {
                        self.out.push_back(Output::Transmit(ack.clone()));
                    }
                }
            }
        }
        Ok(())
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.a.fire(now) && self.state == State::Calling {
            self.out
                .push_back(Output::Transmit(self.invite.as_bytes_shared()));
            self.a_interval *= 2;
            self.a.set(now + self.a_interval);
        }
        if self.b.fire(now) && self.state == State::Calling {
            self.out.push_back(Output::Event(Event::Timeout));
            self.terminate();
        }
        if self.d.fire(now) && self.state == State::Completed {
            self.terminate();
        }
        if self.m.fire(now) && self.state == State::Accepted {
            self.terminate();
        }
    }

    /// Ends the transaction at once (transport error, or the owner gave up on it).
    pub fn terminate(&mut self) {
        if self.state != State::Terminated {
            self.state = State::Terminated;
            self.a.clear();
            self.b.clear();
            self.d.clear();
            self.m.clear();
            self.out.push_back(Output::Event(Event::Terminated));
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[self.a, self.b, self.d, self.m])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::testing::*;

    fn start(reliable: bool) -> (Instant, ClientInvite) {
        let t0 = Instant::now();
        (
            t0,
            ClientInvite::new(t0, invite(), reliable, Timers::default()),
        )
    }

    #[test]
    fn invite_is_retransmitted_on_timer_a_with_doubling_intervals() {
        let (t0, mut tx) = start(false);
        let (sent, _) = drain(|| tx.poll_output());
        assert_eq!(sent.len(), 1);
        let mut at = t0;
        let mut gaps = Vec::new();
        for _ in 0..6 {
            let next = tx.poll_timeout().unwrap();
            gaps.push(next - at);
            at = next;
            tx.handle_timeout(at);
            let (sent, _) = drain(|| tx.poll_output());
            assert_eq!(sent.len(), 1, "one retransmission per Timer A");
        }
        let ms: Vec<u128> = gaps.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, [500, 1000, 2000, 4000, 8000, 16000]);
    }

    #[test]
    fn timer_b_reports_a_timeout_after_64_t1() {
        let (t0, mut tx) = start(false);
        let mut now = t0;
        let mut events = Vec::new();
        while let Some(at) = tx.poll_timeout() {
            now = at;
            tx.handle_timeout(now);
            events.extend(drain(|| tx.poll_output()).1);
        }
        assert_eq!(now - t0, Duration::from_secs(32));
        assert!(matches!(events[..], [Event::Timeout, Event::Terminated]));
    }

    #[test]
    fn reliable_transport_has_no_retransmissions() {
        let (t0, mut tx) = start(true);
        drain(|| tx.poll_output());
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
    }

    #[test]
    fn provisional_stops_retransmissions_and_timer_b() {
        let (t0, mut tx) = start(false);
        drain(|| tx.poll_output());
        tx.handle_response(t0, response_to(&invite(), 180)).unwrap();
        let (_, ev) = drain(|| tx.poll_output());
        assert!(matches!(&ev[..], [Event::Response(r)] if r.status() == Some(180)));
        assert!(tx.is_proceeding());
        assert_eq!(tx.poll_timeout(), None, "no timers while proceeding");
    }

    #[test]
    fn non_2xx_final_is_acked_and_retransmissions_reacked() {
        let (t0, mut tx) = start(false);
        drain(|| tx.poll_output());
        let busy = response_to(&invite(), 486);
        tx.handle_response(t0, busy.clone()).unwrap();
        let (sent, ev) = drain(|| tx.poll_output());
        assert_eq!(sent.len(), 1);
        assert!(first_line(&sent[0]).starts_with("ACK sip:bob@biloxi.com"));
        let ack = Message::parse(sent[0].clone()).unwrap();
        assert_eq!(ack.to_tag(), Some("callee1"));
        assert_eq!(ack.top_via().unwrap().branch(), Some("z9hG4bKnashds8"));
        assert!(matches!(&ev[..], [Event::Response(r)] if r.status() == Some(486)));
        tx.handle_response(t0, busy).unwrap();
        let (sent, ev) = drain(|| tx.poll_output());
        assert_eq!(sent.len(), 1, "retransmitted final gets the ACK again");
        assert!(ev.is_empty(), "and is not passed up twice");
        let d = tx.poll_timeout().unwrap();
        assert_eq!(d - t0, Duration::from_secs(32));
        tx.handle_timeout(d);
        assert!(matches!(
            drain(|| tx.poll_output()).1[..],
            [Event::Terminated]
        ));
    }

    #[test]
    fn accepted_passes_up_2xx_retransmissions_until_timer_m() {
        let (t0, mut tx) = start(false);
        drain(|| tx.poll_output());
        let ok = response_to(&invite(), 200);
        tx.handle_response(t0, ok.clone()).unwrap();
        let (sent, ev) = drain(|| tx.poll_output());
        assert!(sent.is_empty(), "no ACK for 2xx at the transaction layer");
        assert_eq!(ev.len(), 1);
        tx.handle_response(t0 + Duration::from_secs(1), ok).unwrap();
        assert_eq!(drain(|| tx.poll_output()).1.len(), 1);
        let m = tx.poll_timeout().unwrap();
        assert_eq!(m - t0, Duration::from_secs(32));
        tx.handle_timeout(m);
        assert!(tx.is_terminated());
    }
}
