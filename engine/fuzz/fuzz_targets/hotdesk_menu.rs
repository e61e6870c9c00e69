//! The hot-desk voice menu under any sequence of keys, playback ends, sign-in outcomes and
//! time. It may not panic; every sign-in it asks for carries a number of digits (an optional
//! `+`) and a PIN the PIN rules accept, at most `attempts` of them per call, each answered
//! before the next; it hangs up at most once and then asks for nothing more; it has a
//! deadline exactly while it waits for keys or for its last words.
//!
//! Input: 2-byte records: byte 0 is the input (low 4 bits a key, or with bit 4 another input
//! chosen by the low bits: the end of the playback playing, the end of an older one, a sign-in
//! outcome, a timeout at the deadline), byte 1 the time before it in units of 100 ms.

#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use switchboard_engine::media::dtmf::Digit;
use switchboard_engine::members::hotdesk::valid_pin;
use switchboard_engine::members::{HotDeskAction, HotDeskMenu, HotDeskMenuConfig, SignInOutcome};
use switchboard_engine::voicemail::PlayId;

const OUTCOMES: [SignInOutcome; 4] = [
    SignInOutcome::SignedIn,
    SignInOutcome::Refused,
    SignInOutcome::Locked,
    SignInOutcome::Failed,
];

fuzz_target!(|data: &[u8]| {
    let config = HotDeskMenuConfig::default();
    let mut now = Instant::now();
    let mut m = HotDeskMenu::new(now, config);
    let (mut playing, mut older): (Option<PlayId>, Option<PlayId>) = (None, None);
    let (mut sign_ins, mut checking, mut hung_up) = (0u32, false, false);
    for r in data.chunks_exact(2) {
        now += Duration::from_millis(u64::from(r[1]) * 100);
        if r[0] & 0x10 == 0 {
            m.handle_digit(now, Digit::from_event(r[0] & 0x0f).unwrap());
        } else {
            match r[0] % 4 {
                0 => {
                    if let Some(id) = playing {
                        m.handle_play_finished(now, id);
                    }
                }
                1 => {
                    if let Some(id) = older {
                        m.handle_play_finished(now, id);
                    }
                }
                2 => {
                    if checking {
                        checking = false;
                        m.handle_sign_in(now, OUTCOMES[usize::from(r[0] >> 5) % 4]);
                    }
                }
                _ => {
                    if let Some(t) = m.poll_timeout() {
                        now = now.max(t);
                        m.handle_timeout(now);
                    }
                }
            }
        }
        while let Some(a) = m.poll_action() {
            assert!(!hung_up, "{a:?} after HangUp");
            match a {
                HotDeskAction::Play(p) => {
                    older = playing.replace(p.id);
                }
                HotDeskAction::StopPlaying => {}
                HotDeskAction::SignIn { number, pin } => {
                    assert!(!checking, "a sign-in before the last one was answered");
                    checking = true;
                    sign_ins += 1;
                    assert!(sign_ins <= config.attempts, "more sign-ins than tries");
                    let digits = number.strip_prefix('+').unwrap_or(&number);
                    assert!(!digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()));
                    assert!(digits.len() <= 17);
                    assert!(valid_pin(&pin));
                }
                HotDeskAction::HangUp => hung_up = true,
            }
        }
        assert_eq!(m.is_done(), hung_up);
        if hung_up || checking {
            assert_eq!(m.poll_timeout(), None, "no deadline while checking or after the end");
        } else {
            assert!(m.poll_timeout().is_some(), "a deadline while it waits");
        }
    }
});
