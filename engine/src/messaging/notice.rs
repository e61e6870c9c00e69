//! The SMS that tells the owner of an offline number that messages wait for them.
//!
//! `Coalescer` turns a burst of queued messages into one notice per number: a notice is due
//! `window` after the first message of the burst, and never sooner than `min_interval` after
//! the number's previous one (messages queued meanwhile join it). `SmsText` writes the text:
//! the sender, the message itself when it is short (a preview when it is not), and how to sign
//! in; the one-time password is passed in, never made here (it needs an OS random source).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use crate::numbering::Aor;

/// A notice that is due: one SMS to `aor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub aor: Aor,
    /// Messages the notice stands for.
    pub count: u32,
    /// Who sent the first of them (as people read it).
    pub sender: String,
    /// The first message's text, when it is text (up to the SMS limit plus one character).
    pub text: Option<String>,
}

struct Pending {
    notice: Notice,
}

/// Coalesces and rate-limits notices per number.
pub struct Coalescer {
    window: Duration,
    min_interval: Duration,
    keep_chars: usize,
    pending: HashMap<Aor, Pending>,
    /// When each pending notice is due, earliest first (a notice's time never changes once
    /// it is pending, so every entry here is live).
    deadlines: BinaryHeap<Reverse<(Instant, Aor)>>,
    last_sent: HashMap<Aor, Instant>,
    /// Rate-limit entries older than this are dropped when it passes.
    next_prune: Option<Instant>,
}

impl Coalescer {
    /// `keep_chars`: how much of a message's text to keep (the SMS limit plus one, so a
    /// message just over the limit is known to be over it).
    pub fn new(window: Duration, min_interval: Duration, keep_chars: usize) -> Coalescer {
        Coalescer {
            window,
            min_interval,
            keep_chars,
            pending: HashMap::new(),
            deadlines: BinaryHeap::new(),
            last_sent: HashMap::new(),
            next_prune: None,
        }
    }

    /// A message was queued for `aor`.
    pub fn queued(&mut self, now: Instant, aor: &Aor, sender: &str, text: Option<&str>) {
        if let Some(p) = self.pending.get_mut(aor) {
            p.notice.count += 1;
            return;
        }
        let earliest = self
            .last_sent
            .get(aor)
            .map_or(now, |&t| t + self.min_interval);
        let due = (now + self.window).max(earliest);
        let text = text.map(|t| t.chars().take(self.keep_chars).collect());
        self.deadlines.push(Reverse((due, aor.clone())));
        self.pending.insert(
            aor.clone(),
            Pending {
                notice: Notice {
                    aor: aor.clone(),
                    count: 1,
                    sender: sender.to_owned(),
                    text,
                },
            },
        );
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.peek().map(|Reverse((t, _))| *t)
    }

    /// The notices due at `now`; each number's rate limit starts again from now.
    pub fn due(&mut self, now: Instant) -> Vec<Notice> {
        if self.next_prune.is_none_or(|t| t <= now) {
            let keep = self.min_interval;
            self.last_sent
                .retain(|_, t| now.saturating_duration_since(*t) < keep);
            self.next_prune = Some(now + keep);
        }
        let mut out = Vec::new();
        while let Some(Reverse((t, _))) = self.deadlines.peek() {
            if *t > now {
                break;
            }
            let Some(Reverse((_, aor))) = self.deadlines.pop() else {
                break;
            };
            if let Some(p) = self.pending.remove(&aor) {
                self.last_sent.insert(aor, now);
                out.push(p.notice);
            }
        }
        out.sort_by(|a, b| a.aor.cmp(&b.aor));
        out
    }

    /// Numbers with a notice waiting.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

/// How an SMS is written.
#[derive(Debug, Clone, Copy)]
pub struct SmsText {
    /// A message this long or shorter is carried whole.
    pub max_chars: usize,
    /// Characters of a longer message shown.
    pub preview_chars: usize,
}

impl SmsText {
    /// The SMS for `n`; `sender` is the sender as people read it (`+82 10-1234-5678`), `otp`
    /// the one-time password of a dynamic account nobody claimed yet.
    pub fn compose(&self, n: &Notice, sender: &str, otp: Option<&str>) -> String {
        let mut s = if n.count == 1 {
            format!("You have a message from {sender}")
        } else {
            format!("You have {} messages, the first from {sender}", n.count)
        };
        match &n.text {
            Some(t) if t.chars().count() <= self.max_chars => {
                s.push_str(": ");
                s.push_str(t);
            }
            Some(t) => {
                s.push_str(": ");
                s.extend(t.chars().take(self.preview_chars));
                s.push('…');
            }
            None => s.push('.'),
        }
        match otp {
            Some(p) => {
                s.push_str("  Sign in with your number; your password is ");
                s.push_str(p);
            }
            None => s.push_str("  Sign in with your number to read it."),
        }
        s
    }

    /// The SMS telling a subscriber a voice message was left: who called (as people read
    /// it), when (UTC) and how long the message is.
    pub fn voicemail(&self, caller: &str, received_unix: u64, duration_ms: u64) -> String {
        let days = (received_unix / 86_400) as i64;
        let (y, m, d) = super::wire::civil_from_days(days);
        let secs = received_unix % 86_400;
        let length = duration_ms.div_ceil(1000);
        format!(
            "New voicemail from {caller} on {y:04}-{m:02}-{d:02} at {:02}:{:02} UTC, {}:{:02} long. Call your mailbox to listen.",
            secs / 3600,
            secs / 60 % 60,
            length / 60,
            length % 60
        )
    }

    /// The SMS carrying a password-reset code.
    pub fn reset(&self, code: &str, valid_minutes: u64) -> String {
        format!(
            "Your password reset code is {code}. Sign in with it within {valid_minutes} minutes, then set a new password."
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aor(s: &str) -> Aor {
        Aor::from_canonical(s)
    }

    #[test]
    fn a_voicemail_notice_says_who_when_and_how_long() {
        let t = SmsText {
            max_chars: 160,
            preview_chars: 60,
        };
        let s = t.voicemail("+82 10-1234-5678", 1_700_000_000, 3_020);
        assert_eq!(
            s,
            "New voicemail from +82 10-1234-5678 on 2023-11-14 at 22:13 UTC, 0:04 long. \
             Call your mailbox to listen."
        );
        assert!(t
            .voicemail("anonymous", 0, 125_000)
            .contains("1970-01-01 at 00:00 UTC, 2:05"));
    }

    #[test]
    fn a_burst_makes_one_notice_after_the_window() {
        let t = Instant::now();
        let mut c = Coalescer::new(Duration::from_secs(2), Duration::from_secs(60), 161);
        let a = aor("+821011112222");
        c.queued(t, &a, "+821033334444", Some("first"));
        c.queued(t + Duration::from_millis(500), &a, "x", Some("second"));
        c.queued(
            t + Duration::from_millis(900),
            &aor("+821055556666"),
            "y",
            None,
        );
        assert_eq!(c.poll_timeout(), Some(t + Duration::from_secs(2)));
        assert!(c.due(t + Duration::from_millis(1999)).is_empty());
        let due = c.due(t + Duration::from_secs(2));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].count, 2);
        assert_eq!(due[0].sender, "+821033334444");
        assert_eq!(due[0].text.as_deref(), Some("first"));
        assert_eq!(c.pending(), 1);
    }

    #[test]
    fn a_number_gets_at_most_one_notice_per_interval() {
        let t = Instant::now();
        let mut c = Coalescer::new(Duration::from_secs(2), Duration::from_secs(60), 161);
        let a = aor("+821011112222");
        c.queued(t, &a, "s", None);
        assert_eq!(c.due(t + Duration::from_secs(2)).len(), 1);
        let sent = t + Duration::from_secs(2);
        c.queued(sent + Duration::from_secs(10), &a, "s", None);
        c.queued(sent + Duration::from_secs(20), &a, "s", None);
        assert_eq!(c.poll_timeout(), Some(sent + Duration::from_secs(60)));
        assert!(c.due(sent + Duration::from_secs(59)).is_empty());
        let due = c.due(sent + Duration::from_secs(60));
        assert_eq!(due[0].count, 2);
    }

    #[test]
    fn short_messages_are_carried_whole_and_long_ones_cut() {
        let w = SmsText {
            max_chars: 20,
            preview_chars: 8,
        };
        let mut n = Notice {
            aor: aor("+821011112222"),
            count: 1,
            sender: "+821012345678".into(),
            text: Some("see you at 7".into()),
        };
        assert_eq!(
            w.compose(&n, "+82 10-1234-5678", Some("482913")),
            "You have a message from +82 10-1234-5678: see you at 7  Sign in with your number; your password is 482913"
        );
        n.text = Some("한국어 메시지는 여기서 잘리지 않고 길어집니다".into());
        n.count = 3;
        let s = w.compose(&n, "+82 10-1234-5678", None);
        assert!(
            s.starts_with("You have 3 messages, the first from +82 10-1234-5678: 한국어 메시지는…"),
            "{s}"
        );
        assert!(s.ends_with("Sign in with your number to read it."), "{s}");
        n.text = None;
        assert!(w.compose(&n, "x", None).contains("from x."));
    }
}
