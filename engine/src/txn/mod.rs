//! SIP transactions (RFC 3261 §17, with the RFC 6026 Accepted state).
//!
//! Four machines, one per figure of §17: [`ClientInvite`], [`ClientNonInvite`],
//! [`ServerInvite`], [`ServerNonInvite`]. Each is driven by hand: feed messages and
//! deadlines with `handle_*`, take datagrams to send and events for the owner from
//! `poll_output`, and arm one timer at `poll_timeout`. No machine reads a clock.
//!
//! [`key`] implements transaction matching (§17.1.3, §17.2.3, RFC 2543 fallback).
//! [`answers`] keeps recent answers to a request answered without a transaction (REGISTER).

pub mod answers;
mod client_invite;
mod client_non_invite;
pub mod key;
mod server_invite;
mod server_non_invite;

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::sip::Message;

pub use answers::{RecentAnswers, Seen};
pub use client_invite::ClientInvite;
pub use client_non_invite::ClientNonInvite;
pub use key::{ClientKey, ServerKey};
pub use server_invite::ServerInvite;
pub use server_non_invite::ServerNonInvite;

/// Base timer values (RFC 3261 §17.1.1.1 and table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate, 500 ms by default.
    pub t1: Duration,
    /// Longest retransmit interval for non-INVITE requests and INVITE responses, 4 s.
    pub t2: Duration,
    /// Longest time a message stays in the network, 5 s.
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// 64*T1: Timers B, F, H, J, L and M.
    pub fn timeout(&self) -> Duration {
        self.t1 * 64
    }
}

/// What a transaction machine asks its owner to do.
#[derive(Debug, Clone)]
pub enum Output {
    /// Send these bytes to the transaction's peer (the request target for client
    /// transactions, the response address for server transactions).
    Transmit(Bytes),
    /// Tell the transaction user.
    Event(Event),
}

/// Events for the transaction user.
#[derive(Debug, Clone)]
pub enum Event {
    /// Client: a response to pass up (provisional or final; 2xx retransmissions too while
    /// Accepted).
    Response(Message),
    /// Client: Timer B or F fired with no final response; the owner acts as on a 408.
    /// Server INVITE: Timer H fired without an ACK.
    Timeout,
    /// Server INVITE: the ACK for a non-2xx final response arrived.
    Acked,
    /// The machine reached Terminated; nothing more will be emitted.
    Terminated,
}

/// Errors of misuse: inputs the machine's state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxnError {
    #[error("transaction is terminated")]
    Terminated,
    #[error("a final response was already sent")]
    AlreadyFinal,
    #[error("status {0} is not valid here")]
    Status(u16),
}

/// One optional deadline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Deadline(Option<Instant>);

impl Deadline {
    fn set(&mut self, at: Instant) {
        self.0 = Some(at);
    }
    fn clear(&mut self) {
        self.0 = None;
    }
    /// Whether it is due at `now`; clears it when it is.
    fn fire(&mut self, now: Instant) -> bool {
        match self.0 {
            Some(at) if at <= now => {
                self.0 = None;
                true
            }
            _ => false,
        }
    }
}

/// Earliest of several optional deadlines.
fn earliest(deadlines: &[Deadline]) -> Option<Instant> {
    deadlines.iter().filter_map(|d| d.0).min()
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use bytes::Bytes;

    pub fn msg(s: &str) -> Message {
        Message::parse(Bytes::from(s.replace("\r\n", "\n").replace('\n', "\r\n"))).unwrap()
    }

    pub fn invite() -> Message {
        msg("INVITE sip:bob@biloxi.com SIP/2.0\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\n\
Max-Forwards: 70\n\
To: Bob <sip:bob@biloxi.com>\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\n\
Call-ID: a84b4c76e66710\n\
CSeq: 314159 INVITE\n\
Contact: <sip:alice@pc33.atlanta.com>\n\
Content-Length: 0\n\n")
    }

    pub fn request(method: &str) -> Message {
        msg(&format!(
            "{method} sip:bob@biloxi.com SIP/2.0\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnr{method}\n\
Max-Forwards: 70\n\
To: Bob <sip:bob@biloxi.com>;tag=b1\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\n\
Call-ID: a84b4c76e66710\n\
CSeq: 2 {method}\n\
Content-Length: 0\n\n"
        ))
    }

    pub fn response_to(req: &Message, code: u16) -> Message {
        let b = crate::sip::ResponseBuilder::new(req, code, crate::sip::reason_phrase(code))
            .to_tag("callee1")
            .build();
        Message::parse(b).unwrap()
    }

    /// Drains outputs: (transmitted datagrams, events).
    pub fn drain(mut next: impl FnMut() -> Option<Output>) -> (Vec<Bytes>, Vec<Event>) {
        let mut sent = Vec::new();
        let mut events = Vec::new();
        while let Some(o) = next() {
            match o {
                Output::Transmit(b) => sent.push(b),
                Output::Event(e) => events.push(e),
            }
        }
        (sent, events)
    }

    pub fn first_line(b: &Bytes) -> String {
        String::from_utf8_lossy(b)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned()
    }
}
