//! The voicemail machines under any sequence of keys, playback ends, frame levels, hang-ups
//! and time. Neither may panic. The menu hangs up at most once and then says nothing more;
//! after a call back or the caller's hang-up only the clean-up of a greeting follows; it
//! plays, saves and deletes only messages of the mailbox that were not deleted, deletes each
//! at most once, and has a deadline exactly while the session runs. The deposit starts at
//! most one recording and stops each exactly once, and hangs up at most once, last.
//!
//! Input: the first byte sets up the menu (trusted, PIN, wrong PINs so far, full) and the
//! mailbox (0 to 7 messages with callers from a small set); then 2-byte records: byte 0 is
//! the input (low 4 bits a key, or with bit 4 another input chosen by the low bits: the end
//! of the playback playing, the end of an older one, a loud frame, a quiet frame, a hang-up,
//! a timeout at the deadline), byte 1 the time before it in units of 50 ms.

#![no_main]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use switchboard_engine::conference::Pin;
use switchboard_engine::media::dtmf::Digit;
use switchboard_engine::voicemail::deposit::{self, Deposit, DepositConfig, Reason};
use switchboard_engine::voicemail::menu::{self, Menu, MenuConfig};
use switchboard_engine::voicemail::{
    Folder, Greeting, Greetings, PlayId, VoicemailId, VoicemailRecord,
};

const CALLERS: [&str; 4] = ["1002", "+4930123", "anonymous", "alice"];

#[derive(Copy, Clone)]
enum Input {
    Key(Digit),
    Finished,
    FinishedOld,
    Level(f64),
    HangUp,
    Timeout,
}

fn inputs(records: &[u8]) -> Vec<(Input, Duration)> {
    records
        .chunks_exact(2)
        .map(|r| {
            let input = if r[0] & 0x10 == 0 {
                // the low 4 bits are an RFC 4733 event 0-15
                Input::Key(Digit::from_event(r[0] & 0x0f).unwrap())
            } else {
                match r[0] % 6 {
                    0 => Input::Finished,
                    1 => Input::FinishedOld,
                    2 => Input::Level(-20.0),
                    3 => Input::Level(-70.0),
                    4 => Input::HangUp,
                    _ => Input::Timeout,
                }
            };
            (input, Duration::from_millis(u64::from(r[1]) * 50))
        })
        .collect()
}

/// What the menu did so far, to check what it does next against.
struct MenuWatch {
    ids: HashSet<VoicemailId>,
    deleted: HashSet<VoicemailId>,
    playing: Option<PlayId>,
    older: Option<PlayId>,
    hung_up: bool,
    /// Called back, or the caller hung up: only clean-up may follow.
    over: bool,
}

impl MenuWatch {
    fn check(&mut self, m: &mut Menu) {
        while let Some(a) = m.poll_action() {
            assert!(!self.hung_up, "{a:?} after HangUp");
            if self.over {
                assert!(
                    matches!(a, menu::Action::StopRecording(_) | menu::Action::DiscardGreeting),
                    "{a:?} after the end"
                );
            }
            match &a {
                menu::Action::Play(p) => {
                    for id in p.messages() {
                        assert!(self.exists(id), "plays {id}");
                    }
                    self.older = self.playing.replace(p.id);
                }
                menu::Action::Save(id) => assert!(self.exists(*id), "saves {id}"),
                menu::Action::Delete(id) => {
                    assert!(self.ids.contains(id), "deletes {id}");
                    assert!(self.deleted.insert(*id), "deletes {id} twice");
                }
                menu::Action::HangUp => self.hung_up = true,
                menu::Action::CallBack(n) => {
                    assert!(!n.is_empty());
                    self.over = true;
                }
                _ => {}
            }
        }
        assert_eq!(m.poll_timeout().is_none(), m.is_done());
    }

    fn exists(&self, id: VoicemailId) -> bool {
        self.ids.contains(&id) && !self.deleted.contains(&id)
    }
}

fn run_menu(head: u8, mailbox: Vec<VoicemailRecord>, inputs: &[(Input, Duration)]) {
    let config = MenuConfig {
        trusted: head & 1 == 1,
        pin: (head & 2 == 2).then(|| Pin::parse("4711").unwrap()),
        pin_failures: u32::from(head >> 2 & 3) * 4,
        full: head & 0x80 != 0,
        now_unix: 1_709_651_100,
        ..MenuConfig::default()
    };
    let mut w = MenuWatch {
        ids: mailbox.iter().map(|m| m.id).collect(),
        deleted: HashSet::new(),
        playing: None,
        older: None,
        hung_up: false,
        over: false,
    };
    let t0 = Instant::now();
    let mut now = t0;
    let mut m = Menu::new(t0, config, mailbox);
    w.check(&mut m);
    for &(input, gap) in inputs {
        now += gap;
        match input {
            Input::Key(d) => m.handle_digit(now, d),
            Input::Finished => {
                if let Some(id) = w.playing {
                    m.handle_play_finished(now, id);
                }
            }
            Input::FinishedOld => {
                if let Some(id) = w.older {
                    m.handle_play_finished(now, id);
                }
            }
            Input::Level(db) => m.handle_frame_level(now, db),
            Input::HangUp => {
                if !m.is_done() {
                    w.over = true;
                }
                m.handle_hangup(now);
            }
            Input::Timeout => {
                if let Some(at) = m.poll_timeout() {
                    now = now.max(at);
                    m.handle_timeout(now);
                }
            }
        }
        w.check(&mut m);
    }
}

/// What the deposit did so far.
#[derive(Default)]
struct DepositWatch {
    playing: Option<PlayId>,
    started: u32,
    stopped: u32,
    hung_up: bool,
}

impl DepositWatch {
    fn check(&mut self, d: &mut Deposit) {
        while let Some(a) = d.poll_action() {
            assert!(!self.hung_up, "{a:?} after HangUp");
            match a {
                deposit::Action::Play(p) => self.playing = Some(p.id),
                deposit::Action::StartRecording => self.started += 1,
                deposit::Action::StopRecording(_) => {
                    self.stopped += 1;
                    assert_eq!(self.stopped, self.started, "a stop without a start");
                }
                deposit::Action::HangUp => {
                    self.hung_up = true;
                    assert_eq!(self.stopped, self.started, "hung up while recording");
                }
            }
        }
        assert!(self.started <= 1);
        assert_eq!(d.poll_timeout().is_none(), d.is_done());
        if d.is_done() {
            assert_eq!(self.stopped, self.started, "a recording left running");
        }
    }
}

fn run_deposit(head: u8, inputs: &[(Input, Duration)]) {
    let mut greetings = Greetings::default();
    greetings.set(Greeting::Name, head & 1 == 1);
    greetings.set(Greeting::Busy, head & 2 == 2);
    let config = DepositConfig {
        reason: if head & 4 == 4 {
            Reason::Busy
        } else {
            Reason::Unavailable
        },
        number: "1002".into(),
        greetings,
        full: head & 0x80 != 0,
        ..DepositConfig::default()
    };
    let t0 = Instant::now();
    let mut now = t0;
    let mut d = Deposit::new(t0, config);
    let mut w = DepositWatch::default();
    w.check(&mut d);
    for &(input, gap) in inputs {
        now += gap;
        match input {
            Input::Key(k) => d.handle_digit(now, k),
            Input::Finished | Input::FinishedOld => {
                if let Some(id) = w.playing {
                    d.handle_play_finished(now, id);
                }
            }
            Input::Level(db) => d.handle_frame_level(now, db),
            Input::HangUp => d.handle_hangup(now),
            Input::Timeout => {
                if let Some(at) = d.poll_timeout() {
                    now = now.max(at);
                    d.handle_timeout(now);
                }
            }
        }
        w.check(&mut d);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let Some((&shape, rest)) = rest.split_first() else {
        return;
    };
    // the mailbox: up to 7 messages; bit i of `shape` (from bit 3) marks message i saved
    let mailbox: Vec<VoicemailRecord> = (0..u64::from(shape & 7))
        .map(|i| VoicemailRecord {
            id: VoicemailId(i + 1),
            caller: CALLERS[(i as usize + usize::from(shape >> 6)) % CALLERS.len()].into(),
            received_unix: 1_709_651_100 - 600 * (7 - i),
            duration_ms: 4_000,
            folder: if shape >> 3 & (1 << i.min(4)) != 0 {
                Folder::Saved
            } else {
                Folder::New
            },
            bytes: 64_044,
        })
        .collect();
    let inputs = inputs(rest);
    run_menu(head, mailbox, &inputs);
    run_deposit(head, &inputs);
});
