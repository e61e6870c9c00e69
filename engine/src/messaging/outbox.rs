//! Delivering one number's queue to its registered devices, in the order it was accepted.
//!
//! One message is out at a time, sent to every device at once: the first 2xx delivers it (it
//! is then removed from the queue) and the next one goes. When no device took it, a message
//! some device may take later (no answer, 408, 480, 486, 5xx) is retried after a doubling
//! delay and holds the ones behind it back, so order is kept; one every device refused for
//! good (another 4xx, 6xx) is removed and counted, so it cannot block the queue forever. The
//! messages come from the store in batches (`Action::Load`); the driving actor does the I/O.
//!
//! Invariant: `Delivered` or `Refused` is emitted at most once per sequence number, and only
//! for the message at the head, so removals follow acceptance order.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::StoredMessage;

/// Retry delays: `initial`, doubling, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The delay before retry number `attempt` (1 for the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// What the driving actor does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Read up to the batch size of messages after `after` (`None`: from the start).
    Load { after: Option<u64> },
    /// Send the message `seq` (`Outbox::message`) to every registered device, then report how
    /// many requests went out with `sent`.
    Send { seq: u64 },
    /// A device took `seq`: remove it from the queue.
    Delivered { seq: u64 },
    /// Every device refused `seq` for good (`code`): remove it.
    Refused { seq: u64, code: u16 },
    /// Nothing left: the queue is empty (or no device is registered any more).
    Done,
}

struct Current {
    seq: u64,
    waiting: usize,
    retryable: bool,
    last_code: u16,
}

/// The delivery of one number's queue.
pub struct Outbox {
    backoff: Backoff,
    batch: usize,
    backlog: VecDeque<(u64, StoredMessage)>,
    current: Option<Current>,
    last_loaded: Option<u64>,
    loading: bool,
    exhausted: bool,
    attempts: u32,
    retry_at: Option<Instant>,
    done: bool,
    out: VecDeque<Action>,
}

/// Whether a device might take a message it did not take now (0: it never answered).
pub fn is_retryable(code: u16) -> bool {
    matches!(code, 0 | 408 | 480 | 486 | 500..=599)
}

impl Outbox {
    pub fn new(backoff: Backoff, batch: usize) -> Outbox {
        let mut o = Outbox {
            backoff,
            batch: batch.max(1),
            backlog: VecDeque::new(),
            current: None,
            last_loaded: None,
            loading: true,
            exhausted: false,
            attempts: 0,
            retry_at: None,
            done: false,
            out: VecDeque::new(),
        };
        o.out.push_back(Action::Load { after: None });
        o
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.out.pop_front()
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The batch size `Load` asks for.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The message the last `Send` named.
    pub fn message(&self, seq: u64) -> Option<&StoredMessage> {
        self.backlog
            .front()
            .filter(|(s, _)| *s == seq)
            .map(|(_, m)| m)
    }

    /// The answer to `Load`, in sequence order.
    pub fn loaded(&mut self, messages: Vec<(u64, StoredMessage)>) {
        if self.done {
            return;
        }
        self.loading = false;
        self.exhausted = messages.len() < self.batch;
        for (seq, m) in messages {
            if self.last_loaded.is_some_and(|l| seq <= l) {
                continue;
            }
            self.last_loaded = Some(seq);
            self.backlog.push_back((seq, m));
        }
        self.advance();
    }

    /// More messages were queued: read them once the backlog is through.
    pub fn kick(&mut self) {
        if self.done {
            return;
        }
        self.exhausted = false;
        self.advance();
    }

    /// `n` requests went out for `seq`; none means no device is left to deliver to.
    pub fn sent(&mut self, seq: u64, n: usize) {
        if n == 0 {
            return self.finish();
        }
        if let Some(c) = self.current.as_mut().filter(|c| c.seq == seq) {
            c.waiting = n;
            c.retryable = false;
            c.last_code = 0;
        }
    }

    /// A device's final answer to `seq` (0 when it never answered).
    pub fn response(&mut self, now: Instant, seq: u64, code: u16) {
        let Some(c) = self.current.as_mut().filter(|c| c.seq == seq) else {
            return;
        };
        if c.waiting == 0 {
            return;
        }
        if (200..300).contains(&code) {
            self.out.push_back(Action::Delivered { seq });
            return self.next();
        }
        c.waiting -= 1;
        c.retryable |= is_retryable(code);
        c.last_code = code;
        if c.waiting > 0 {
            return;
        }
        if c.retryable {
            self.attempts += 1;
            self.retry_at = Some(now + self.backoff.delay(self.attempts));
        } else {
            let code = c.last_code;
            self.out.push_back(Action::Refused { seq, code });
            self.next();
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.retry_at
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.retry_at.is_some_and(|t| t <= now) {
            self.retry_at = None;
            if let Some(c) = &self.current {
                self.out.push_back(Action::Send { seq: c.seq });
            }
        }
    }

    /// Retries waiting for their delay go now (a device just registered).
    pub fn retry_now(&mut self, now: Instant) {
        if self.retry_at.is_some() {
            self.retry_at = Some(now);
            self.handle_timeout(now);
        }
    }

    fn next(&mut self) {
        self.current = None;
        self.attempts = 0;
        self.retry_at = None;
        self.backlog.pop_front();
        self.advance();
    }

    fn advance(&mut self) {
        if self.current.is_some() || self.done {
            return;
        }
        if let Some((seq, _)) = self.backlog.front() {
            let seq = *seq;
            self.current = Some(Current {
                seq,
                waiting: 0,
                retryable: false,
                last_code: 0,
            });
            self.out.push_back(Action::Send { seq });
        } else if self.loading {
        } else if !self.exhausted {
            self.loading = true;
            self.out.push_back(Action::Load {
                after: self.last_loaded,
            });
        } else {
            self.finish();
        }
    }

    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            self.retry_at = None;
            self.out.push_back(Action::Done);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(n: u64) -> (u64, StoredMessage) {
        (
            n,
            StoredMessage {
                id: format!("{n}@h"),
                from: "<sip:a@h>".into(),
                sender: "a".into(),
                content_type: "text/plain".into(),
                body: format!("m{n}").into_bytes(),
                accepted_unix_ms: 0,
                expires_unix: 0,
            },
        )
    }

    fn drain(o: &mut Outbox) -> Vec<Action> {
        std::iter::from_fn(|| o.poll_action()).collect()
    }

    const B: Backoff = Backoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(8),
    };

    #[test]
    fn messages_go_one_at_a_time_in_order_and_batches_are_loaded_as_needed() {
        let t = Instant::now();
        let mut o = Outbox::new(B, 2);
        assert_eq!(drain(&mut o), [Action::Load { after: None }]);
        o.loaded(vec![msg(3), msg(5)]);
        assert_eq!(drain(&mut o), [Action::Send { seq: 3 }]);
        assert_eq!(o.message(3).unwrap().id, "3@h");
        o.sent(3, 2);
        o.response(t, 3, 480);
        assert!(
            drain(&mut o).is_empty(),
            "the other device may still take it"
        );
        o.response(t, 3, 200);
        assert_eq!(
            drain(&mut o),
            [Action::Delivered { seq: 3 }, Action::Send { seq: 5 }]
        );
        // a late answer for the delivered message changes nothing
        o.response(t, 3, 200);
        o.sent(5, 1);
        o.response(t, 5, 202);
        assert_eq!(
            drain(&mut o),
            [
                Action::Delivered { seq: 5 },
                Action::Load { after: Some(5) }
            ]
        );
        o.loaded(vec![msg(5), msg(9)]);
        assert_eq!(
            drain(&mut o),
            [Action::Send { seq: 9 }],
            "5 is not sent twice"
        );
        o.sent(9, 1);
        o.response(t, 9, 200);
        assert_eq!(
            drain(&mut o),
            [
                Action::Delivered { seq: 9 },
                Action::Load { after: Some(9) }
            ],
            "a full batch: there may be more"
        );
        o.loaded(vec![]);
        assert_eq!(
            drain(&mut o),
            [Action::Done],
            "a short batch: the queue is through"
        );
        assert!(o.is_done());
    }

    #[test]
    fn an_unanswered_message_is_retried_with_doubling_delays_and_holds_the_rest_back() {
        let t = Instant::now();
        let mut o = Outbox::new(B, 10);
        drain(&mut o);
        o.loaded(vec![msg(1), msg(2)]);
        let mut at = t;
        for (attempt, delay) in [1u64, 2, 4, 8, 8].into_iter().enumerate() {
            assert_eq!(
                drain(&mut o),
                [Action::Send { seq: 1 }],
                "attempt {attempt}"
            );
            o.sent(1, 1);
            o.response(at, 1, 0);
            assert_eq!(o.poll_timeout(), Some(at + Duration::from_secs(delay)));
            o.handle_timeout(at + Duration::from_millis(delay * 1000 - 1));
            assert!(drain(&mut o).is_empty(), "not before its time");
            at += Duration::from_secs(delay);
            o.handle_timeout(at);
        }
        assert_eq!(drain(&mut o), [Action::Send { seq: 1 }]);
        o.sent(1, 1);
        o.response(at, 1, 200);
        assert_eq!(
            drain(&mut o),
            [Action::Delivered { seq: 1 }, Action::Send { seq: 2 }]
        );
        // the next message starts over with the first delay
        o.sent(2, 1);
        o.response(at, 2, 503);
        assert_eq!(o.poll_timeout(), Some(at + Duration::from_secs(1)));
        o.retry_now(at);
        assert_eq!(drain(&mut o), [Action::Send { seq: 2 }]);
    }

    #[test]
    fn a_message_every_device_refuses_for_good_is_removed_and_the_next_goes() {
        let t = Instant::now();
        let mut o = Outbox::new(B, 10);
        drain(&mut o);
        o.loaded(vec![msg(1), msg(2)]);
        drain(&mut o);
        o.sent(1, 2);
        o.response(t, 1, 415);
        o.response(t, 1, 603);
        assert_eq!(
            drain(&mut o),
            [
                Action::Refused { seq: 1, code: 603 },
                Action::Send { seq: 2 }
            ]
        );
        // one device that may take it later keeps the message
        o.sent(2, 2);
        o.response(t, 2, 415);
        o.response(t, 2, 408);
        assert!(drain(&mut o).is_empty());
        assert!(o.poll_timeout().is_some());
    }

    #[test]
    fn no_device_left_or_a_kick_after_the_end_are_handled() {
        let t = Instant::now();
        let mut o = Outbox::new(B, 10);
        drain(&mut o);
        o.loaded(vec![msg(1)]);
        drain(&mut o);
        o.sent(1, 0);
        assert_eq!(drain(&mut o), [Action::Done]);
        o.kick();
        o.response(t, 1, 200);
        assert!(drain(&mut o).is_empty(), "a finished outbox stays finished");

        // a kick while idle reads the store again
        let mut o = Outbox::new(B, 10);
        drain(&mut o);
        o.loaded(vec![msg(4)]);
        drain(&mut o);
        o.kick();
        assert!(
            drain(&mut o).is_empty(),
            "busy with 4: reads again after it"
        );
        o.sent(4, 1);
        o.response(t, 4, 200);
        assert_eq!(
            drain(&mut o),
            [
                Action::Delivered { seq: 4 },
                Action::Load { after: Some(4) }
            ]
        );
    }
}
