//! The hot-desk voice menu: `*55` dialed alone. The switch answers and asks, by prompt clips,
//! for the number to sign in as, then `#`, then the PIN, then `#`; then its owner checks them
//! as it checks `*55<number>*<pin>` and says how it went.
//!
//! How to drive it: [`HotDeskMenu::new`] when the call is answered (the first prompt plays),
//! [`HotDeskMenu::handle_digit`] for every key (RFC 4733 or SIP INFO), the end of each playback
//! with [`HotDeskMenu::handle_play_finished`], the deadlines of [`HotDeskMenu::poll_timeout`],
//! and the owner's check with [`HotDeskMenu::handle_sign_in`]; [`HotDeskMenu::poll_action`]
//! says what to play, when to check ([`HotDeskAction::SignIn`]) and when to hang up.
//!
//! An entry ends with `#`, or with a pause of `inter_digit` after a key; nothing keyed within
//! `first_digit` of its prompt ends it empty. A key stops the prompt playing. An empty or
//! malformed number is asked again; a PIN is asked for every number, and a wrong one, an
//! unknown number and a malformed PIN all hear the same words, so nothing tells which it was.
//! Each failed sign-in costs one of `attempts`; when they are used up, or hot desk is locked
//! for the number, the switch says so and goodbye and hangs up.
//!
//! Guarantee: [`HotDeskAction::SignIn`] carries only a number of digits (an optional leading
//! `+` aside, at most what `*55` takes) and a PIN of 4 to 8 digits, and comes at most
//! `attempts` times per call.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::hotdesk::{valid_pin, MAX_NUMBER_DIGITS};
use crate::media::dtmf::Digit;
use crate::prompt::clip::{self, Clip};
use crate::voicemail::{Audio, PlayId, Playback};

/// How the menu waits and how often it lets a caller try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HotDeskMenuConfig {
    /// From a prompt's start to the first key.
    pub first_digit: Duration,
    /// Between keys: a longer pause ends the entry.
    pub inter_digit: Duration,
    /// Sign-ins a call may try.
    pub attempts: u32,
    /// The longest the last words may take before the switch hangs up anyway.
    pub closing: Duration,
}

impl Default for HotDeskMenuConfig {
    /// 15 s for the first key (the prompt included), 5 s between keys, 3 tries.
    fn default() -> HotDeskMenuConfig {
        HotDeskMenuConfig {
            first_digit: Duration::from_secs(15),
            inter_digit: Duration::from_secs(5),
            attempts: 3,
            closing: Duration::from_secs(15),
        }
    }
}

/// What the owner does for the menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HotDeskAction {
    /// Play this, replacing what plays; report its end.
    Play(Playback),
    /// Stop what plays (its end is not awaited).
    StopPlaying,
    /// Check the PIN of the member owning `number` and sign the phone in; answer with
    /// [`HotDeskMenu::handle_sign_in`].
    SignIn { number: String, pin: String },
    /// Hang up: the menu is over.
    HangUp,
}

/// What the owner's check came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInOutcome {
    /// The phone is signed in (and that is on disk).
    SignedIn,
    /// No member owns the number, or the PIN is wrong or not set.
    Refused,
    /// Hot desk is locked for the number after wrong PINs.
    Locked,
    /// The check could not be made (the store failed).
    Failed,
}

/// Keys of one entry.
#[derive(Debug, Clone)]
struct Entry {
    keys: String,
    /// A key that does not belong (`*`, a letter, too many digits) was pressed.
    invalid: bool,
    /// The prompt started, or the last key came.
    last: Instant,
    /// A key stopped the prompt already.
    stopped: bool,
}

impl Entry {
    fn new(now: Instant) -> Entry {
        Entry {
            keys: String::new(),
            invalid: false,
            last: now,
            stopped: false,
        }
    }

    fn due(&self, config: &HotDeskMenuConfig) -> Instant {
        if self.keys.is_empty() && !self.invalid {
            self.last + config.first_digit
        } else {
            self.last + config.inter_digit
        }
    }
}

#[derive(Debug, Clone)]
enum State {
    Number(Entry),
    Pin {
        number: String,
        entry: Entry,
    },
    /// The owner checks.
    Checking,
    /// The last words play; then the switch hangs up.
    Closing {
        play: PlayId,
        until: Instant,
    },
    Done,
}

/// One call's hot-desk menu.
#[derive(Debug)]
pub struct HotDeskMenu {
    config: HotDeskMenuConfig,
    state: State,
    failures: u32,
    next_play: u32,
    actions: VecDeque<HotDeskAction>,
}

impl HotDeskMenu {
    /// The menu of a call answered at `now`: it asks for the number.
    pub fn new(now: Instant, config: HotDeskMenuConfig) -> HotDeskMenu {
        let mut m = HotDeskMenu {
            config,
            state: State::Done,
            failures: 0,
            next_play: 0,
            actions: VecDeque::new(),
        };
        m.ask_number(now, Vec::new());
        m
    }

    /// A key was pressed at `now`.
    pub fn handle_digit(&mut self, now: Instant, digit: Digit) {
        self.handle_timeout(now);
        let max = match &self.state {
            State::Number(_) => MAX_NUMBER_DIGITS,
            State::Pin { .. } => *super::hotdesk::PIN_DIGITS.end(),
            _ => return,
        };
        let key = digit.as_char();
        let (State::Number(entry) | State::Pin { entry, .. }) = &mut self.state else {
            return;
        };
        if !entry.stopped {
            entry.stopped = true;
            self.actions.push_back(HotDeskAction::StopPlaying);
        }
        if key == '#' {
            return self.entered(now);
        }
        let number_start = matches!(self.state, State::Number(_)) && key == '*';
        let (State::Number(entry) | State::Pin { entry, .. }) = &mut self.state else {
            return;
        };
        entry.last = now;
        let digits = entry.keys.trim_start_matches('+').len();
        if key.is_ascii_digit() && digits < max {
            entry.keys.push(key);
        } else if number_start && entry.keys.is_empty() {
            // `*` first: a `+` (international form), as phones without a `+` key write it
            entry.keys.push('+');
        } else {
            entry.invalid = true;
        }
    }

    /// Playback `id` ended at `now`.
    pub fn handle_play_finished(&mut self, now: Instant, id: PlayId) {
        if matches!(self.state, State::Closing { play, .. } if play == id) {
            self.hang_up();
        }
        self.handle_timeout(now);
    }

    /// The owner's check of the last [`HotDeskAction::SignIn`] came to `outcome`.
    pub fn handle_sign_in(&mut self, now: Instant, outcome: SignInOutcome) {
        if !matches!(self.state, State::Checking) {
            return;
        }
        match outcome {
            SignInOutcome::SignedIn => self.close(
                now,
                vec![
                    Audio::Clip(clip::HOTDESK_SIGNED_IN),
                    Audio::Clip(clip::GOODBYE),
                ],
            ),
            SignInOutcome::Refused => self.failed(now, vec![Audio::Clip(clip::HOTDESK_WRONG)]),
            SignInOutcome::Locked => self.close(
                now,
                vec![
                    Audio::Clip(clip::HOTDESK_LOCKED),
                    Audio::Clip(clip::GOODBYE),
                ],
            ),
            SignInOutcome::Failed => self.close(now, vec![Audio::Clip(clip::GOODBYE)]),
        }
    }

    /// Ends an entry that waited too long, or the last words that took too long.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(due) = self.poll_timeout() else {
            return;
        };
        if now < due {
            return;
        }
        if matches!(self.state, State::Closing { .. }) {
            return self.hang_up();
        }
        self.entered(now);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Number(e) | State::Pin { entry: e, .. } => Some(e.due(&self.config)),
            State::Closing { until, .. } => Some(*until),
            State::Checking | State::Done => None,
        }
    }

    pub fn poll_action(&mut self) -> Option<HotDeskAction> {
        self.actions.pop_front()
    }

    /// Whether the menu is over (the owner was told to hang up).
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The entry at hand ended (`#`, a pause, or nothing keyed).
    fn entered(&mut self, now: Instant) {
        match std::mem::replace(&mut self.state, State::Checking) {
            State::Number(e) => {
                let digits = e.keys.strip_prefix('+').unwrap_or(&e.keys);
                if e.invalid || digits.is_empty() {
                    // nothing to check a PIN against: the number again, costing a try
                    self.state = State::Number(e);
                    return self.failed(now, Vec::new());
                }
                self.state = State::Pin {
                    number: e.keys,
                    entry: Entry::new(now),
                };
                self.play(vec![Audio::Clip(clip::ENTER_PIN)]);
            }
            State::Pin { number, entry } => {
                if entry.invalid || !valid_pin(&entry.keys) {
                    // no PIN a member could have: refused alike, nothing checked
                    return self.failed(now, vec![Audio::Clip(clip::HOTDESK_WRONG)]);
                }
                self.actions.push_back(HotDeskAction::SignIn {
                    number,
                    pin: entry.keys,
                });
            }
            other => self.state = other,
        }
    }

    /// A try failed: `words`, then the number again, or goodbye once the tries are used up.
    fn failed(&mut self, now: Instant, mut words: Vec<Audio>) {
        self.failures += 1;
        if self.failures >= self.config.attempts.max(1) {
            words.push(Audio::Clip(clip::GOODBYE));
            return self.close(now, words);
        }
        self.ask_number(now, words);
    }

    fn ask_number(&mut self, now: Instant, mut words: Vec<Audio>) {
        self.state = State::Number(Entry::new(now));
        words.push(Audio::Clip(clip::HOTDESK_NUMBER));
        self.play(words);
    }

    fn close(&mut self, now: Instant, words: Vec<Audio>) {
        let play = self.play(words);
        self.state = State::Closing {
            play,
            until: now + self.config.closing,
        };
    }

    fn hang_up(&mut self) {
        self.state = State::Done;
        self.actions.push_back(HotDeskAction::HangUp);
    }

    fn play(&mut self, items: Vec<Audio>) -> PlayId {
        let id = PlayId(self.next_play);
        self.next_play = self.next_play.wrapping_add(1);
        self.actions
            .push_back(HotDeskAction::Play(Playback { id, items }));
        id
    }
}

/// The clips of a playback (tests and logs).
pub fn clips_of(p: &Playback) -> Vec<Clip> {
    p.items
        .iter()
        .filter_map(|a| match a {
            Audio::Clip(c) => Some(*c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(m: &mut HotDeskMenu, now: Instant, s: &str) {
        for c in s.chars() {
            m.handle_digit(now, Digit::from_char(c).unwrap());
        }
    }

    /// Every action waiting, with playbacks as their clips' names.
    fn drain(m: &mut HotDeskMenu) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(a) = m.poll_action() {
            out.push(match a {
                HotDeskAction::Play(p) => {
                    let names: Vec<&str> = clips_of(&p).iter().map(|c| c.name()).collect();
                    format!("play {}", names.join(" "))
                }
                HotDeskAction::StopPlaying => "stop".into(),
                HotDeskAction::SignIn { number, pin } => format!("sign in {number} {pin}"),
                HotDeskAction::HangUp => "hang up".into(),
            });
        }
        out
    }

    /// The id of the last playback asked for.
    fn last_play(m: &mut HotDeskMenu) -> PlayId {
        let mut id = None;
        while let Some(a) = m.poll_action() {
            if let HotDeskAction::Play(p) = a {
                id = Some(p.id);
            }
        }
        id.expect("a playback")
    }

    #[test]
    fn the_number_then_the_pin_are_keyed_and_a_good_sign_in_says_so_and_hangs_up() {
        let t = Instant::now();
        let mut m = HotDeskMenu::new(t, HotDeskMenuConfig::default());
        assert_eq!(drain(&mut m), ["play hotdesk-number"]);
        keys(&mut m, t, "1001#");
        assert_eq!(drain(&mut m), ["stop", "play enter-pin"]);
        keys(&mut m, t, "2468#");
        assert_eq!(drain(&mut m), ["stop", "sign in 1001 2468"]);
        assert_eq!(m.poll_timeout(), None, "the owner checks");
        m.handle_sign_in(t, SignInOutcome::SignedIn);
        let bye = m.poll_action();
        let Some(HotDeskAction::Play(p)) = bye else {
            panic!("{bye:?}")
        };
        assert_eq!(
            clips_of(&p),
            [clip::HOTDESK_SIGNED_IN, clip::GOODBYE],
            "the words, then goodbye"
        );
        m.handle_play_finished(t, PlayId(p.id.0 + 1));
        assert!(!m.is_done(), "another playback's end is not this one's");
        m.handle_play_finished(t, p.id);
        assert_eq!(drain(&mut m), ["hang up"]);
        assert!(m.is_done());
    }

    #[test]
    fn a_pause_ends_an_entry_and_star_first_is_a_plus() {
        let t = Instant::now();
        let c = HotDeskMenuConfig::default();
        let mut m = HotDeskMenu::new(t, c);
        keys(&mut m, t, "*8211");
        assert_eq!(m.poll_timeout(), Some(t + c.inter_digit));
        m.handle_timeout(t + c.inter_digit);
        drain(&mut m);
        keys(&mut m, t + c.inter_digit, "1234");
        m.handle_timeout(t + c.inter_digit * 2);
        assert_eq!(drain(&mut m), ["stop", "sign in +8211 1234"]);

        // at most as many digits as `*55` takes
        let mut m = HotDeskMenu::new(t, c);
        keys(&mut m, t, &format!("*{}#", "1".repeat(MAX_NUMBER_DIGITS)));
        assert_eq!(
            drain(&mut m),
            ["play hotdesk-number", "stop", "play enter-pin"]
        );
        let mut m = HotDeskMenu::new(t, c);
        keys(
            &mut m,
            t,
            &format!("{}#", "1".repeat(MAX_NUMBER_DIGITS + 1)),
        );
        assert_eq!(
            drain(&mut m),
            ["play hotdesk-number", "stop", "play hotdesk-number"],
            "one digit too many: the number again"
        );
    }

    #[test]
    fn wrong_tries_hear_the_same_words_and_the_last_one_says_goodbye() {
        let t = Instant::now();
        let mut m = HotDeskMenu::new(t, HotDeskMenuConfig::default());
        drain(&mut m);
        // a wrong PIN, as the owner found
        keys(&mut m, t, "1001#2222#");
        drain(&mut m);
        m.handle_sign_in(t, SignInOutcome::Refused);
        assert_eq!(drain(&mut m), ["play hotdesk-wrong hotdesk-number"]);
        // a PIN no member can have: the same words, and nothing checked
        keys(&mut m, t, "1001#12#");
        assert_eq!(
            drain(&mut m),
            [
                "stop",
                "play enter-pin",
                "stop",
                "play hotdesk-wrong hotdesk-number"
            ]
        );
        // the third try is the last
        keys(&mut m, t, "1001#3333#");
        drain(&mut m);
        m.handle_sign_in(t, SignInOutcome::Refused);
        assert_eq!(drain(&mut m), ["play hotdesk-wrong goodbye"]);
        keys(&mut m, t, "1001#");
        assert_eq!(drain(&mut m), Vec::<String>::new(), "no more keys count");
        // the last words are cut short if they take too long
        m.handle_timeout(t + HotDeskMenuConfig::default().closing);
        assert_eq!(drain(&mut m), ["hang up"]);
    }

    #[test]
    fn nothing_keyed_costs_a_try_and_a_locked_number_ends_the_call() {
        let t = Instant::now();
        let c = HotDeskMenuConfig::default();
        let mut m = HotDeskMenu::new(t, c);
        drain(&mut m);
        m.handle_timeout(t + c.first_digit);
        assert_eq!(drain(&mut m), ["play hotdesk-number"], "asked again");
        let t2 = t + c.first_digit;
        keys(&mut m, t2, "1#");
        drain(&mut m);
        keys(&mut m, t2, "12345678");
        keys(&mut m, t2, "9");
        keys(&mut m, t2, "#");
        assert_eq!(
            drain(&mut m),
            ["stop", "play hotdesk-wrong hotdesk-number"],
            "a ninth PIN digit spoils the entry"
        );
        let mut m = HotDeskMenu::new(t, c);
        keys(&mut m, t, "1001#2468#");
        drain(&mut m);
        m.handle_sign_in(t, SignInOutcome::Locked);
        let id = last_play(&mut m);
        m.handle_play_finished(t, id);
        assert_eq!(drain(&mut m), ["hang up"]);
    }
}
