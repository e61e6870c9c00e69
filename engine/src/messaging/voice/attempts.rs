//! The calls of one voice notice: when to call, when to call again, and what the notice came
//! to.
//!
//! A notice is called once its text is spoken (`begin`); a call that ends busy, unanswered or
//! hung up before the text was read is followed by another after `Retries::after`, up to
//! `Retries::retries` more calls; any other failure ends the notice at once. Drive it with the
//! result of each call (`handle_result`) and the deadline it gives (`poll_timeout`,
//! `handle_timeout`); take `NoticeAction`s from `poll_action`.
//!
//! A notice picked up again after a restart starts with the calls it already made
//! (`NoticeAttempts::new`): it is called at once if it has calls left, and ends with the last
//! call's failure otherwise.
//!
//! Invariant: `Finished` is emitted once, last; no `Dial` while a call is out.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{AttemptResult, Cause, Failure, NoticeState};

/// How often a notice is called again, and how long after the last call.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Retries {
    /// Calls after the first one.
    pub retries: u32,
    /// The wait between the end of one call and the next.
    pub after: Duration,
}

/// What the driving actor does next.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum NoticeAction {
    /// Place call number `attempt` (1 for the first) and report its result.
    Dial { attempt: u32 },
    /// Write down that `attempts` calls ended and the notice waits for the next one.
    Waiting { attempts: u32, last: Failure },
    /// The notice is over: its final state after `attempts` calls.
    Finished { state: NoticeState, attempts: u32 },
}

/// The calls of one notice.
#[derive(Debug)]
pub struct NoticeAttempts {
    retries: Retries,
    /// Calls that ended.
    attempts: u32,
    /// A call is out.
    dialing: bool,
    next_at: Option<Instant>,
    last: Option<Failure>,
    finished: bool,
    out: VecDeque<NoticeAction>,
}

impl NoticeAttempts {
    /// A notice with `attempts` calls already made (0 for a new one), the last of them ending
    /// in `last`.
    pub fn new(retries: Retries, attempts: u32, last: Option<Failure>) -> NoticeAttempts {
        NoticeAttempts {
            retries,
            attempts,
            dialing: false,
            next_at: None,
            last,
            finished: false,
            out: VecDeque::new(),
        }
    }

    /// The text is spoken: the first call (or the next, for a notice picked up again) goes
    /// now.
    pub fn begin(&mut self, now: Instant) {
        if self.finished || self.dialing || self.next_at.is_some() {
            return;
        }
        if self.calls_left() {
            self.next_at = Some(now);
            self.handle_timeout(now);
        } else {
            let last = self.last.unwrap_or(Failure::new(Cause::NoAnswer, 0));
            self.finish(NoticeState::Failed(last));
        }
    }

    /// The notice cannot be called at all (its text could not be spoken).
    pub fn give_up(&mut self, failure: Failure) {
        if !self.finished {
            self.next_at = None;
            self.finish(NoticeState::Failed(failure));
        }
    }

    /// Call number `attempt` ended with `result`; a result for any other call is ignored.
    pub fn handle_result(&mut self, now: Instant, attempt: u32, result: AttemptResult) {
        if self.finished || !self.dialing || attempt != self.attempts + 1 {
            return;
        }
        self.dialing = false;
        self.attempts = attempt;
        match result {
            AttemptResult::Delivered => self.finish(NoticeState::Delivered),
            AttemptResult::Failed(f) => {
                self.last = Some(f);
                if f.cause.is_retried() && self.calls_left() {
                    self.next_at = Some(now + self.retries.after);
                    self.out.push_back(NoticeAction::Waiting {
                        attempts: self.attempts,
                        last: f,
                    });
                } else {
                    self.finish(NoticeState::Failed(f));
                }
            }
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_at
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.next_at.is_some_and(|t| t <= now) {
            self.next_at = None;
            self.dialing = true;
            self.out.push_back(NoticeAction::Dial {
                attempt: self.attempts + 1,
            });
        }
    }

    pub fn poll_action(&mut self) -> Option<NoticeAction> {
        self.out.pop_front()
    }

    /// Calls that ended so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    fn calls_left(&self) -> bool {
        self.attempts <= self.retries.retries
    }

    fn finish(&mut self, state: NoticeState) {
        self.finished = true;
        self.out.push_back(NoticeAction::Finished {
            state,
            attempts: self.attempts,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_AFTER_A_MINUTE: Retries = Retries {
        retries: 2,
        after: Duration::from_secs(60),
    };

    fn actions(n: &mut NoticeAttempts) -> Vec<NoticeAction> {
        std::iter::from_fn(|| n.poll_action()).collect()
    }

    fn busy() -> AttemptResult {
        AttemptResult::Failed(Failure::of_final(486))
    }

    #[test]
    fn a_notice_answered_at_the_first_call_is_delivered() {
        let t0 = Instant::now();
        let mut n = NoticeAttempts::new(TWO_AFTER_A_MINUTE, 0, None);
        assert!(
            actions(&mut n).is_empty(),
            "nothing before the text is spoken"
        );
        n.begin(t0);
        assert_eq!(actions(&mut n), [NoticeAction::Dial { attempt: 1 }]);
        assert_eq!(n.poll_timeout(), None, "no deadline while a call is out");
        n.handle_result(t0, 1, AttemptResult::Delivered);
        assert_eq!(
            actions(&mut n),
            [NoticeAction::Finished {
                state: NoticeState::Delivered,
                attempts: 1
            }]
        );
        assert!(n.is_finished());
    }

    #[test]
    fn busy_is_called_again_after_the_wait_and_the_retry_can_deliver() {
        let t0 = Instant::now();
        let mut n = NoticeAttempts::new(TWO_AFTER_A_MINUTE, 0, None);
        n.begin(t0);
        actions(&mut n);
        let t1 = t0 + Duration::from_secs(20);
        n.handle_result(t1, 1, busy());
        assert_eq!(
            actions(&mut n),
            [NoticeAction::Waiting {
                attempts: 1,
                last: Failure::new(Cause::Busy, 486)
            }]
        );
        let at = n.poll_timeout().unwrap();
        assert_eq!(at - t1, Duration::from_secs(60));
        n.handle_timeout(at - Duration::from_millis(1));
        assert!(actions(&mut n).is_empty(), "not before its time");
        n.handle_timeout(at);
        assert_eq!(actions(&mut n), [NoticeAction::Dial { attempt: 2 }]);
        n.handle_result(at, 2, AttemptResult::Delivered);
        assert_eq!(
            actions(&mut n),
            [NoticeAction::Finished {
                state: NoticeState::Delivered,
                attempts: 2
            }]
        );
    }

    #[test]
    fn when_every_call_fails_the_notice_fails_with_the_last_cause() {
        let t0 = Instant::now();
        let mut n = NoticeAttempts::new(TWO_AFTER_A_MINUTE, 0, None);
        n.begin(t0);
        let results = [
            busy(),
            AttemptResult::Failed(Failure::new(Cause::HungUp, 0)),
            AttemptResult::Failed(Failure::of_final(487)),
        ];
        let mut t = t0;
        let mut dials = 0;
        for (i, r) in results.into_iter().enumerate() {
            for a in actions(&mut n) {
                if let NoticeAction::Dial { attempt } = a {
                    assert_eq!(attempt as usize, i + 1);
                    dials += 1;
                }
            }
            n.handle_result(t, i as u32 + 1, r);
            if let Some(at) = n.poll_timeout() {
                t = at;
                n.handle_timeout(t);
            }
        }
        assert_eq!(dials, 3, "the first call and two retries");
        assert_eq!(
            actions(&mut n),
            [NoticeAction::Finished {
                state: NoticeState::Failed(Failure::new(Cause::NoAnswer, 487)),
                attempts: 3
            }]
        );
        assert_eq!(n.poll_timeout(), None);
    }

    #[test]
    fn a_refusal_ends_the_notice_without_retries() {
        let t0 = Instant::now();
        let mut n = NoticeAttempts::new(TWO_AFTER_A_MINUTE, 0, None);
        n.begin(t0);
        actions(&mut n);
        n.handle_result(t0, 1, AttemptResult::Failed(Failure::of_final(404)));
        assert_eq!(
            actions(&mut n),
            [NoticeAction::Finished {
                state: NoticeState::Failed(Failure::new(Cause::Rejected, 404)),
                attempts: 1
            }]
        );
        assert_eq!(n.poll_timeout(), None);
    }

    #[test]
    fn stale_or_repeated_results_change_nothing() {
        let t0 = Instant::now();
        let mut n = NoticeAttempts::new(TWO_AFTER_A_MINUTE, 0, None);
        n.handle_result(t0, 1, AttemptResult::Delivered);
        assert!(actions(&mut n).is_empty(), "no call was out");
        n.begin(t0);
        actions(&mut n);
        n.handle_result(t0, 2, AttemptResult::Delivered);
        assert!(actions(&mut n).is_empty(), "not the call that is out");
        n.handle_result(t0, 1, busy());
        actions(&mut n);
        n.handle_result(t0, 1, AttemptResult::Delivered);
        assert!(actions(&mut n).is_empty(), "that call had ended");
        n.begin(t0);
        assert!(
            actions(&mut n).is_empty(),
            "begin while waiting dials nothing"
        );
    }

    #[test]
    fn a_notice_picked_up_again_calls_at_once_or_fails_with_its_last_cause() {
        let t0 = Instant::now();
        let last = Failure::new(Cause::Busy, 486);
        let mut n = NoticeAttempts::new(TWO_AFTER_A_MINUTE, 1, Some(last));
        n.begin(t0);
        assert_eq!(actions(&mut n), [NoticeAction::Dial { attempt: 2 }]);

        let mut spent = NoticeAttempts::new(TWO_AFTER_A_MINUTE, 3, Some(last));
        spent.begin(t0);
        assert_eq!(
            actions(&mut spent),
            [NoticeAction::Finished {
                state: NoticeState::Failed(last),
                attempts: 3
            }]
        );
    }

    #[test]
    fn no_retries_means_one_call() {
        let t0 = Instant::now();
        let once = Retries {
            retries: 0,
            after: Duration::from_secs(1),
        };
        let mut n = NoticeAttempts::new(once, 0, None);
        n.begin(t0);
        actions(&mut n);
        n.handle_result(t0, 1, busy());
        assert!(matches!(
            actions(&mut n)[..],
            [NoticeAction::Finished {
                state: NoticeState::Failed(_),
                attempts: 1
            }]
        ));
    }

    #[test]
    fn a_text_that_cannot_be_spoken_fails_the_notice_before_any_call() {
        let mut n = NoticeAttempts::new(TWO_AFTER_A_MINUTE, 0, None);
        n.give_up(Failure::new(Cause::NotSpoken, 0));
        assert_eq!(
            actions(&mut n),
            [NoticeAction::Finished {
                state: NoticeState::Failed(Failure::new(Cause::NotSpoken, 0)),
                attempts: 0
            }]
        );
        n.give_up(Failure::new(Cause::NotSpoken, 0));
        n.begin(Instant::now());
        assert!(actions(&mut n).is_empty(), "finished once");
    }
}
