//! The voicemail menu driven by hand: keys, playback ends and time, with what it asks for.

mod browse;
mod login;
mod main_menu;
mod pin;
mod settings;

use std::time::{Duration, Instant};

use super::{Action, Menu, MenuConfig};
use crate::conference::Pin;
use crate::media::dtmf::Digit;
use crate::voicemail::play::Playback;
use crate::voicemail::record::{Folder, VoicemailId, VoicemailRecord};

const SEC: Duration = Duration::from_secs(1);
/// 2024-03-05 15:05:00 UTC.
const NOW_UNIX: u64 = 1_709_651_100;

fn pin(s: &str) -> Pin {
    Pin::parse(s).unwrap()
}

fn config() -> MenuConfig {
    MenuConfig {
        pin: Some(pin("4711")),
        now_unix: NOW_UNIX,
        ..MenuConfig::default()
    }
}

fn trusted() -> MenuConfig {
    MenuConfig {
        trusted: true,
        ..config()
    }
}

fn msg(id: u64, caller: &str, ago_secs: u64, folder: Folder) -> VoicemailRecord {
    VoicemailRecord {
        id: VoicemailId(id),
        caller: caller.into(),
        received_unix: NOW_UNIX - ago_secs,
        duration_ms: 5_000,
        folder,
        bytes: 80_044,
    }
}

/// Two new messages (ids 2 and 1, 1 the older) and one saved (id 3).
fn mailbox() -> Vec<VoicemailRecord> {
    vec![
        msg(2, "1003", 60, Folder::New),
        msg(3, "+4930123", 7200, Folder::Saved),
        msg(1, "1002", 600, Folder::New),
    ]
}

struct Run {
    m: Menu,
    now: Instant,
    t0: Instant,
    log: Vec<Action>,
}

impl Run {
    fn new(config: MenuConfig, messages: Vec<VoicemailRecord>) -> Run {
        let t0 = Instant::now();
        let mut r = Run {
            m: Menu::new(t0, config, messages),
            now: t0,
            t0,
            log: Vec::new(),
        };
        r.drain();
        r
    }

    /// A trusted session on `mailbox()` whose main menu has been said.
    fn at_main() -> Run {
        let mut r = Run::new(trusted(), mailbox());
        r.finish(SEC);
        r
    }

    fn drain(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some(a) = self.m.poll_action() {
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

    /// What the latest playback says.
    fn said(&self) -> Vec<String> {
        self.last_play().describe()
    }

    /// Lets `d` pass, then the latest playback ends.
    fn finish(&mut self, d: Duration) -> Vec<Action> {
        self.now += d;
        let id = self.last_play().id;
        self.m.handle_play_finished(self.now, id);
        self.drain()
    }

    /// Lets `d` pass, then `c` is pressed.
    fn key(&mut self, d: Duration, c: char) -> Vec<Action> {
        self.now += d;
        self.m.handle_digit(self.now, Digit::from_char(c).unwrap());
        self.drain()
    }

    /// Presses each key of `s`, half a second apart.
    fn keys(&mut self, s: &str) -> Vec<Action> {
        let mut out = Vec::new();
        for c in s.chars() {
            out.extend(self.key(SEC / 2, c));
        }
        out
    }

    /// Runs every timeout due until `at`; `now` ends at the last one run.
    fn wait_until(&mut self, at: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some(t) = self.m.poll_timeout().filter(|&t| t <= at) {
            self.now = t.max(self.now);
            self.m.handle_timeout(self.now);
            out.extend(self.drain());
        }
        out
    }

    fn wait(&mut self, d: Duration) -> Vec<Action> {
        let at = self.now + d;
        self.wait_until(at)
    }

    fn count(&self, wanted: &Action) -> usize {
        self.log.iter().filter(|a| *a == wanted).count()
    }
}

/// The clip names of the main menu's choices.
const MAIN_CHOICES: [&str; 6] = [
    "menu-new",
    "menu-saved",
    "menu-greetings",
    "menu-pin",
    "menu-repeat",
    "menu-end",
];

fn ends_with(said: &[String], tail: &[&str]) -> bool {
    said.len() >= tail.len()
        && said[said.len() - tail.len()..]
            .iter()
            .zip(tail)
            .all(|(a, b)| a == b)
}

fn starts_with(said: &[String], head: &[&str]) -> bool {
    said.len() >= head.len() && said.iter().zip(head).all(|(a, b)| a == b)
}

fn plays(actions: &[Action]) -> Vec<&Playback> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Play(p) => Some(p),
            _ => None,
        })
        .collect()
}
