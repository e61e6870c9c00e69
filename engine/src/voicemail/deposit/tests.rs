//! A caller leaving a message, driven by hand: playback ends, keys, frame levels and time.

use super::*;

const SEC: Duration = Duration::from_secs(1);

fn digit(c: char) -> Digit {
    Digit::from_char(c).unwrap()
}

struct Run {
    d: Deposit,
    now: Instant,
    t0: Instant,
    log: Vec<Action>,
}

impl Run {
    fn new(config: DepositConfig) -> Run {
        let t0 = Instant::now();
        let mut r = Run {
            d: Deposit::new(t0, config),
            now: t0,
            t0,
            log: Vec::new(),
        };
        r.drain();
        r
    }

    fn drain(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some(a) = self.d.poll_action() {
            out.push(a);
        }
        self.log.extend(out.iter().cloned());
        out
    }

    fn last_play(&self) -> &Playback {
        self.log
            .iter()
            .rev()
            .find_map(|a| match a {
                Action::Play(p) => Some(p),
                _ => None,
            })
            .expect("something was played")
    }

    /// Lets `d` pass, then the playing playback ends.
    fn finish(&mut self, d: Duration) -> Vec<Action> {
        self.now += d;
        let id = self.last_play().id;
        self.d.handle_play_finished(self.now, id);
        self.drain()
    }

    fn key(&mut self, d: Duration, c: char) -> Vec<Action> {
        self.now += d;
        self.d.handle_digit(self.now, digit(c));
        self.drain()
    }

    fn speak(&mut self, d: Duration, dbfs: f64) {
        let end = self.now + d;
        while self.now < end {
            self.now += Duration::from_millis(20);
            self.d.handle_frame_level(self.now, dbfs);
            self.drain();
        }
    }

    /// Runs timeouts until `at`.
    fn wait_until(&mut self, at: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some(t) = self.d.poll_timeout().filter(|&t| t <= at) {
            self.now = t.max(self.now);
            self.d.handle_timeout(self.now);
            out.extend(self.drain());
        }
        out
    }

    /// Greeting and beep played to their end: recording now.
    fn start_recording(&mut self) {
        self.finish(3 * SEC);
        assert_eq!(self.last_play().items, [Audio::Beep]);
        assert_eq!(self.finish(SEC / 5), [Action::StartRecording]);
    }
}

fn stopped(actions: &[Action]) -> Option<Stopped> {
    actions.iter().find_map(|a| match a {
        Action::StopRecording(s) => Some(*s),
        _ => None,
    })
}

#[test]
fn the_greeting_is_the_own_one_else_the_name_else_the_number() {
    let none = Greetings::default();
    let name = none.with(Greeting::Name);
    let all = name.with(Greeting::Busy).with(Greeting::Unavailable);
    let names = |items: Vec<Audio>| Player::default().start(items).describe();
    assert_eq!(
        names(greeting(Reason::Unavailable, none, "12")),
        ["the-person-at", "digit-1", "digit-2", "is-not-available"]
    );
    assert_eq!(
        names(greeting(Reason::Busy, none, "12")),
        ["the-person-at", "digit-1", "digit-2", "is-busy"]
    );
    assert_eq!(
        names(greeting(Reason::Busy, name, "12")),
        ["[greeting name]", "is-busy"]
    );
    assert_eq!(
        names(greeting(
            Reason::Unavailable,
            name.with(Greeting::Busy),
            "12"
        )),
        ["[greeting name]", "is-not-available"]
    );
    assert_eq!(
        names(greeting(Reason::Busy, all, "12")),
        ["[greeting busy]"]
    );
    assert_eq!(
        names(greeting(Reason::Unavailable, all, "12")),
        ["[greeting unavailable]"]
    );
}

#[test]
fn a_caller_hears_greeting_and_beep_then_hangs_up_and_the_message_is_kept() {
    let mut r = Run::new(DepositConfig {
        number: "1002".into(),
        ..DepositConfig::default()
    });
    let first = r.last_play().describe();
    assert_eq!(first.first().map(String::as_str), Some("the-person-at"));
    assert_eq!(first.last().map(String::as_str), Some("leave-message"));
    r.start_recording();
    r.speak(3 * SEC, -20.0);
    r.d.handle_hangup(r.now);
    let out = r.drain();
    let s = stopped(&out).unwrap();
    assert_eq!(
        (s.reason, s.keep, s.length),
        (StopReason::HangUp, true, 3 * SEC)
    );
    assert!(!out.contains(&Action::HangUp), "the caller is gone already");
    assert!(r.d.is_done());
    assert_eq!(r.d.poll_timeout(), None);
    assert_eq!(r.d.stopped(), Some(s));
}

#[test]
fn a_hang_up_within_a_second_of_the_beep_keeps_nothing() {
    let mut r = Run::new(DepositConfig::default());
    r.start_recording();
    r.now += Duration::from_millis(900);
    r.d.handle_hangup(r.now);
    let s = stopped(&r.drain()).unwrap();
    assert!(!s.keep);
    // a hang-up during the greeting records nothing at all
    let mut r = Run::new(DepositConfig::default());
    r.now += SEC;
    r.d.handle_hangup(r.now);
    assert_eq!(r.drain(), []);
    assert!(r.d.is_done());
    assert!(!r.log.contains(&Action::StartRecording));
}

#[test]
fn pound_ends_the_recording_and_the_caller_hears_it_was_recorded() {
    let mut r = Run::new(DepositConfig::default());
    r.start_recording();
    r.speak(2 * SEC, -20.0);
    let out = r.key(Duration::ZERO, '#');
    let s = stopped(&out).unwrap();
    assert_eq!(
        (s.reason, s.keep, s.length),
        (StopReason::Key, true, 2 * SEC)
    );
    assert_eq!(r.last_play().describe(), ["message-recorded", "goodbye"]);
    assert_eq!(r.finish(SEC), [Action::HangUp]);
    assert!(r.d.is_done());
}

#[test]
fn pound_during_the_greeting_skips_to_the_beep() {
    let mut r = Run::new(DepositConfig::default());
    let greeting = r.last_play().id;
    let out = r.key(SEC, '#');
    assert!(matches!(&out[..], [Action::Play(p)] if p.items == [Audio::Beep]));
    // the greeting's late end changes nothing
    r.d.handle_play_finished(r.now, greeting);
    assert_eq!(r.drain(), []);
    assert_eq!(r.finish(SEC / 5), [Action::StartRecording]);
}

#[test]
fn other_keys_are_ignored_everywhere() {
    let mut r = Run::new(DepositConfig::default());
    for c in "0123456789*ABCD".chars() {
        assert_eq!(r.key(Duration::ZERO, c), [], "{c} in the greeting");
    }
    r.start_recording();
    for c in "0123456789*ABCD".chars() {
        assert_eq!(r.key(Duration::ZERO, c), [], "{c} while recording");
    }
    r.speak(2 * SEC, -20.0);
    r.key(Duration::ZERO, '#');
    assert_eq!(r.key(Duration::ZERO, '#'), [], "pound while saying goodbye");
}

#[test]
fn silence_ends_the_recording_and_the_silence_is_cut() {
    let mut r = Run::new(DepositConfig::default());
    r.start_recording();
    let start = r.now;
    r.speak(4 * SEC, -25.0);
    r.speak(3 * SEC, -70.0);
    assert!(stopped(&r.log).is_none());
    let out = r.wait_until(start + 20 * SEC);
    let s = stopped(&out).unwrap();
    assert_eq!((s.reason, s.keep), (StopReason::Silence, true));
    assert_eq!(s.length, 4 * SEC + crate::voicemail::capture::TAIL);
    assert_eq!(r.last_play().describe(), ["message-recorded", "goodbye"]);
}

#[test]
fn silence_from_the_start_keeps_nothing_and_says_only_goodbye() {
    let mut r = Run::new(DepositConfig::default());
    r.start_recording();
    let start = r.now;
    r.speak(6 * SEC, -80.0);
    let s = stopped(&r.log).expect("silence frames alone stop it");
    assert_eq!((s.reason, s.keep), (StopReason::Silence, false));
    assert_eq!(r.d.stopped(), Some(s));
    assert_eq!(r.last_play().describe(), ["goodbye"]);
    assert!(r.now >= start + 5 * SEC);
}

#[test]
fn the_length_limit_ends_the_recording_and_keeps_it() {
    let mut r = Run::new(DepositConfig {
        capture: CaptureLimits {
            max_length: 10 * SEC,
            ..CaptureLimits::default()
        },
        ..DepositConfig::default()
    });
    r.start_recording();
    let start = r.now;
    r.speak(12 * SEC, -20.0);
    let s = stopped(&r.log).unwrap();
    assert_eq!(
        (s.reason, s.keep, s.length),
        (StopReason::Limit, true, 10 * SEC)
    );
    assert!(r.now >= start + 10 * SEC);
    assert_eq!(r.last_play().describe(), ["message-recorded", "goodbye"]);
}

#[test]
fn a_goodbye_that_never_ends_is_cut_short_by_the_grace_time() {
    let mut r = Run::new(DepositConfig::default());
    r.start_recording();
    r.speak(2 * SEC, -20.0);
    r.key(Duration::ZERO, '#');
    let closing = r.now;
    let out = r.wait_until(closing + 60 * SEC);
    assert_eq!(out, [Action::HangUp]);
    assert_eq!(r.now, closing + DepositConfig::default().goodbye_grace);
    assert_eq!(r.d.poll_timeout(), None);
}

#[test]
fn a_full_mailbox_says_so_records_nothing_and_hangs_up() {
    let mut r = Run::new(DepositConfig {
        number: "7".into(),
        full: true,
        ..DepositConfig::default()
    });
    assert_eq!(
        r.last_play().describe(),
        [
            "the-person-at",
            "digit-7",
            "is-not-available",
            "mailbox-full",
            "goodbye"
        ]
    );
    assert_eq!(r.key(SEC, '#'), [], "no skipping to a beep");
    assert_eq!(r.finish(5 * SEC), [Action::HangUp]);
    assert!(!r.log.contains(&Action::StartRecording));
}

#[test]
fn the_call_limit_stops_everything_even_when_nothing_reports_back() {
    let mut r = Run::new(DepositConfig {
        max_call: 60 * SEC,
        ..DepositConfig::default()
    });
    // the greeting never reports its end
    let out = r.wait_until(r.t0 + 120 * SEC);
    assert_eq!(out, [Action::HangUp]);
    assert_eq!(r.now, r.t0 + 60 * SEC);
    // a recording in progress at the call limit is stopped first
    let mut r = Run::new(DepositConfig {
        max_call: 30 * SEC,
        capture: CaptureLimits {
            silence: None,
            ..CaptureLimits::default()
        },
        ..DepositConfig::default()
    });
    r.start_recording();
    let start = r.now;
    let out = r.wait_until(r.t0 + 120 * SEC);
    let s = stopped(&out).unwrap();
    assert_eq!(s.length, r.t0 + 30 * SEC - start);
    assert_eq!(out.last(), Some(&Action::HangUp));
    assert_eq!(out.iter().filter(|a| **a == Action::HangUp).count(), 1);
}

#[test]
fn a_hang_up_after_the_silence_ran_out_stops_the_recording_as_silence_did() {
    let mut r = Run::new(DepositConfig::default());
    r.start_recording();
    let start = r.now;
    r.speak(2 * SEC, -20.0);
    // 5 s of silence ran out at start + 7 s unseen; the caller hangs up at start + 9 s
    r.d.handle_hangup(start + 9 * SEC);
    let out = r.drain();
    assert_eq!(out.len(), 1, "no goodbye to a caller who is gone");
    let s = stopped(&out).unwrap();
    assert_eq!(s.reason, StopReason::Silence);
    assert_eq!(s.length, 2 * SEC + crate::voicemail::capture::TAIL);
}
