//! Recent answers: retransmissions of an idempotent request answered without a server
//! transaction (REGISTER, RFC 3261 §10.3).
//!
//! A non-INVITE server transaction (§17.2.2) keeps its final response for Timer J (64*T1,
//! 32 s over UDP) so that a retransmitted request gets the same bytes again and the TU never
//! sees it twice. Under a REGISTER storm that is hundreds of thousands of live transactions
//! per worker. A registrar does not need one: applying a REGISTER again changes nothing (the
//! registrar leaves a binding that already carries the request's Call-ID and CSeq as it is),
//! and a retransmission whose nonce count the digest replay window has seen is answered
//! again, applying nothing, when it is the REGISTER last applied for its Call-ID within
//! 64*T1 (`registrar::repeat`; any other request with a seen nonce count is still refused).
//! So the worker keeps only the most recent answers, in a ring of fixed capacity:
//!
//! - a request whose answer is here, and no older than the window, gets the same bytes again
//!   (same To tag, same Contact expiries);
//! - a request still being worked on (`begin` without `handle_answer` yet) is absorbed;
//! - anything else is new, and is answered again by the registrar.
//!
//! The window is 64*T1 by default, the life of the client transaction that may retransmit
//! (Timer F, §17.1.2.2), so below `capacity / window` requests per second a retransmission
//! never reaches the registrar twice; above it the ring bounds the memory a storm costs and
//! the oldest answers go first. Keys are the §17.2.3 server keys (branch and sent-by).
//!
//! Drive it with time as a parameter: `handle_request` on arrival, `begin` when the request
//! goes to its owner, `handle_answer` when the answer leaves, `expire` now and then to let
//! go of answers past the window. The slots grow with use up to `capacity` and are reused
//! after; the index is made for `capacity` entries and never holds more, so it never resizes.

use std::time::{Duration, Instant};

use bytes::Bytes;
use rustc_hash::FxHashMap;

use super::ServerKey;

/// What is known of a request's key.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen<T> {
    /// Not seen within the window: process it.
    New,
    /// Seen and not answered yet: absorb it.
    Pending,
    /// Answered within the window: send these bytes to this destination again.
    Answered(Bytes, T),
}

/// The ring of recent answers (see the module docs).
pub struct RecentAnswers<T> {
    window: Duration,
    capacity: usize,
    /// Grows to `capacity` as it is used, then is reused round and round.
    slots: Vec<Slot<T>>,
    /// Sequence number of the next slot to fill; slot `seq % capacity`.
    next: u64,
    /// Sequence number of the oldest slot that may still hold an entry.
    oldest: u64,
    index: FxHashMap<ServerKey, u64>,
}

struct Slot<T> {
    key: Option<ServerKey>,
    at: Instant,
    answer: Option<(Bytes, T)>,
}

impl<T: Clone> RecentAnswers<T> {
    /// A ring of `capacity` answers (at least one), each kept at most `window`.
    pub fn new(capacity: usize, window: Duration) -> RecentAnswers<T> {
        let capacity = capacity.max(1);
        RecentAnswers {
            window,
            capacity,
            slots: Vec::new(),
            next: 0,
            oldest: 0,
            index: FxHashMap::with_capacity_and_hasher(capacity, Default::default()),
        }
    }

    /// How many answers it holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Requests it knows of (answered or pending), some possibly past the window until the
    /// next `expire`.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// A request arrived with `key`.
    pub fn handle_request(&self, now: Instant, key: &ServerKey) -> Seen<T> {
        let Some(slot) = self.index.get(key).map(|&seq| self.slot(seq)) else {
            return Seen::New;
        };
        if now.saturating_duration_since(slot.at) >= self.window {
            return Seen::New;
        }
        match &slot.answer {
            Some((bytes, to)) => Seen::Answered(bytes.clone(), to.clone()),
            None => Seen::Pending,
        }
    }

    /// The request with `key` is being worked on: its retransmissions are absorbed until
    /// `handle_answer`. Takes the oldest slot (its answer is forgotten) when the ring is full.
    pub fn begin(&mut self, now: Instant, key: ServerKey) {
        let seq = self.next;
        self.next += 1;
        let cap = self.capacity as u64;
        if self.oldest + cap <= seq {
            self.oldest = seq + 1 - cap;
        }
        if self.slots.len() == self.capacity {
            // the oldest goes (before the index learns the new one: it may be the same key)
            self.clear(seq);
        }
        self.index.insert(key.clone(), seq);
        let slot = Slot {
            key: Some(key),
            at: now,
            answer: None,
        };
        if self.slots.len() < self.capacity {
            self.slots.push(slot);
        } else {
            *self.slot_mut(seq) = slot;
        }
    }

    /// The answer to the request with `key` was sent to `to` at `now`: it is kept in the
    /// request's slot while that is pending, else in a new slot (an answer given at once,
    /// without `begin`, or one whose slot a full ring took meanwhile).
    pub fn handle_answer(&mut self, now: Instant, key: ServerKey, bytes: Bytes, to: T) {
        let pending = self
            .index
            .get(&key)
            .copied()
            .filter(|&seq| self.slot(seq).answer.is_none());
        let seq = match pending {
            Some(seq) => seq,
            None => {
                self.begin(now, key);
                self.next - 1
            }
        };
        self.slot_mut(seq).answer = Some((bytes, to));
    }

    /// Forgets the request with `key` (its answer will not be repeated).
    pub fn forget(&mut self, key: &ServerKey) {
        if let Some(seq) = self.index.get(key).copied() {
            self.clear(seq);
        }
    }

    /// Lets go of every answer past the window (their bytes are freed).
    pub fn expire(&mut self, now: Instant) {
        while self.oldest < self.next {
            let slot = self.slot(self.oldest);
            if slot.key.is_some() && now.saturating_duration_since(slot.at) < self.window {
                break;
            }
            self.clear(self.oldest);
            self.oldest += 1;
        }
    }

    fn slot(&self, seq: u64) -> &Slot<T> {
        &self.slots[(seq % self.capacity as u64) as usize]
    }

    fn slot_mut(&mut self, seq: u64) -> &mut Slot<T> {
        let n = self.capacity as u64;
        &mut self.slots[(seq % n) as usize]
    }

    /// Empties the slot `seq` maps to, and its index entry if it still points there (a later
    /// `begin` of the same key points elsewhere).
    fn clear(&mut self, seq: u64) {
        let n = self.capacity as u64;
        let slot = &mut self.slots[(seq % n) as usize];
        slot.answer = None;
        if let Some(key) = slot.key.take() {
            if let Some(&at) = self.index.get(&key) {
                if at % n == seq % n {
                    self.index.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Message;

    fn key(branch: &str) -> ServerKey {
        let raw = format!(
            "REGISTER sip:sb.test SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK{branch}\r\n\
             From: <sip:1001@sb.test>;tag=a\r\nTo: <sip:1001@sb.test>\r\nCall-ID: c\r\n\
             CSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n"
        );
        ServerKey::from_request(&Message::parse(Bytes::from(raw)).unwrap()).unwrap()
    }

    const WINDOW: Duration = Duration::from_secs(32);

    #[test]
    fn a_retransmission_is_absorbed_while_pending_then_gets_the_same_bytes() {
        let t0 = Instant::now();
        let mut a: RecentAnswers<u8> = RecentAnswers::new(8, WINDOW);
        let k = key("one");
        assert_eq!(a.handle_request(t0, &k), Seen::New);
        a.begin(t0, k.clone());
        assert_eq!(a.handle_request(t0, &k), Seen::Pending);
        let ok = Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n");
        a.handle_answer(t0, k.clone(), ok.clone(), 7);
        assert_eq!(a.len(), 1, "in the slot `begin` took");
        let t = t0 + Duration::from_millis(500);
        assert_eq!(a.handle_request(t, &k), Seen::Answered(ok, 7));
        assert_eq!(a.handle_request(t, &key("two")), Seen::New);
    }

    #[test]
    fn an_answer_past_the_window_is_new_again_and_expire_frees_it() {
        let t0 = Instant::now();
        let mut a: RecentAnswers<u8> = RecentAnswers::new(8, WINDOW);
        let k = key("one");
        a.begin(t0, k.clone());
        a.handle_answer(t0, k.clone(), Bytes::from_static(b"x"), 1);
        let late = t0 + WINDOW;
        assert!(matches!(
            a.handle_request(late - Duration::from_millis(1), &k),
            Seen::Answered(..)
        ));
        assert_eq!(a.handle_request(late, &k), Seen::New);
        a.begin(t0 + Duration::from_secs(1), key("two"));
        a.expire(late);
        assert_eq!(a.len(), 1, "the first is gone, the second not yet");
        a.expire(late + Duration::from_secs(1));
        assert!(a.is_empty());
    }

    #[test]
    fn a_full_ring_forgets_the_oldest_answer_and_never_holds_more_than_its_capacity() {
        let t0 = Instant::now();
        let mut a: RecentAnswers<u32> = RecentAnswers::new(4, WINDOW);
        let keys: Vec<ServerKey> = (0..10).map(|i| key(&format!("k{i}"))).collect();
        for (i, k) in keys.iter().enumerate() {
            // answered at once, without `begin`
            a.handle_answer(t0, k.clone(), Bytes::from(vec![i as u8]), i as u32);
            assert!(a.len() <= 4);
            assert_eq!(
                a.slots.len(),
                (i + 1).min(4),
                "slots are made as they are needed"
            );
        }
        for (i, k) in keys.iter().enumerate() {
            let seen = a.handle_request(t0, k);
            if i < 6 {
                assert_eq!(seen, Seen::New, "{i} was evicted");
            } else {
                assert_eq!(seen, Seen::Answered(Bytes::from(vec![i as u8]), i as u32));
            }
        }
        assert_eq!(a.capacity(), 4);
    }

    #[test]
    fn a_key_begun_again_a_whole_ring_later_takes_its_own_old_slot() {
        let t0 = Instant::now();
        let mut a: RecentAnswers<u8> = RecentAnswers::new(2, WINDOW);
        let (k, other) = (key("same"), key("other"));
        a.begin(t0, k.clone());
        a.begin(t0, other.clone());
        let t1 = t0 + WINDOW;
        a.begin(t1, k.clone());
        a.handle_answer(t1, k.clone(), Bytes::from_static(b"new"), 1);
        assert_eq!(
            a.handle_request(t1, &k),
            Seen::Answered(Bytes::from_static(b"new"), 1)
        );
        assert_eq!(a.len(), 2);
    }

    #[test]
    fn an_answer_for_a_request_whose_slot_was_taken_gets_a_new_one() {
        let t0 = Instant::now();
        let mut a: RecentAnswers<u8> = RecentAnswers::new(2, WINDOW);
        let (k1, k2, k3) = (key("one"), key("two"), key("three"));
        a.begin(t0, k1.clone());
        a.begin(t0, k2.clone());
        a.begin(t0, k3.clone());
        assert_eq!(
            a.handle_request(t0, &k1),
            Seen::New,
            "its slot went to the third"
        );
        let late = Bytes::from_static(b"late");
        a.handle_answer(t0, k1.clone(), late.clone(), 0);
        assert_eq!(a.handle_request(t0, &k1), Seen::Answered(late, 0));
        assert_eq!(a.handle_request(t0, &k2), Seen::New, "the oldest made room");
        assert_eq!(a.handle_request(t0, &k3), Seen::Pending);
    }

    #[test]
    fn the_same_key_begun_again_keeps_its_newest_slot_when_the_old_one_is_reused() {
        let t0 = Instant::now();
        let mut a: RecentAnswers<u8> = RecentAnswers::new(2, WINDOW);
        let k = key("again");
        a.begin(t0, k.clone());
        let t1 = t0 + WINDOW;
        assert_eq!(a.handle_request(t1, &k), Seen::New);
        a.begin(t1, k.clone());
        a.handle_answer(t1, k.clone(), Bytes::from_static(b"second"), 2);
        // the old slot of `k` is reused by another key: `k` keeps its newer slot
        a.begin(t1, key("other"));
        assert_eq!(
            a.handle_request(t1, &k),
            Seen::Answered(Bytes::from_static(b"second"), 2)
        );
        a.forget(&k);
        assert_eq!(a.handle_request(t1, &k), Seen::New);
        assert_eq!(a.len(), 1);
    }
}
