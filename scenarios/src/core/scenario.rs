//! Load scenario files (`scenarios/*.toml`, documented field by field in
//! `scenarios/README.md`).
//!
//! A scenario names a population of simulated subscribers, the behaviours mixed in one run
//! (registrations, calls, messages, presence, chat rooms, conferences, voicemail), phases with
//! durations and load factors, pass/fail thresholds and a seed. [`parse`] turns text into a
//! [`Scenario`] or the first problem found, with the line and dotted field name
//! ([`ScenarioError`]); nothing is sent for a file that does not parse. Parsing is pure: it takes the file's text (and
//! [`parse_with`] a reader of the population's CSV); no files, no clock, no network. The
//! runner reads the files (`crate::runner::file`).

mod build;
mod conference;
mod read;
#[cfg(test)]
mod tests;
mod voicemail;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use switchboard_engine::media::Codec;

use super::{CallMedia, Kind, User};

/// A parsed, validated scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Short name, shown in reports.
    pub name: String,
    pub description: String,
    /// Seed of every random choice: the same file and seed give the same actions.
    pub seed: u64,
    /// `host:port` of the switch, unless `--target` overrides it.
    pub target: Option<String>,
    /// SIP domain of From/To URIs; `None`: the target's host.
    pub domain: Option<String>,
    pub population: Population,
    pub behaviours: Behaviours,
    /// In order, at least one.
    pub phases: Vec<Phase>,
    pub thresholds: Thresholds,
}

/// The simulated subscribers. Users `0..online_users()` are online (registered before the
/// first phase when `register_first`); the last `offline_users` never register unless
/// `behaviours.register.include_offline_from_phase` brings them online.
#[derive(Debug, Clone, PartialEq)]
pub struct Population {
    pub count: u32,
    /// Number of user 0 (`"100000"`, `"+821012340000"`): user i is `first + i` with the same
    /// width and leading `+`. Empty when the population comes from a CSV.
    pub first: String,
    /// `number,password` lines, relative to the scenario file; read by the runner.
    pub csv: Option<PathBuf>,
    /// The CSV's accounts (empty without a CSV): user i is `accounts[i]`.
    pub accounts: Vec<Account>,
    /// Password template, `{n}` replaced by the number (unused with a CSV).
    pub password: String,
    /// Devices (contacts) per subscriber.
    pub devices: u32,
    /// Expires of each REGISTER.
    pub register_expires: Duration,
    /// A registered device re-registers every `refresh` × `register_expires`.
    pub refresh: f64,
    /// Every online user's devices register before the first phase (not counted in phases).
    pub register_first: bool,
    /// REGISTERs per second of that first registration (sent 200 at a time, every
    /// `200 / rate` seconds).
    pub register_first_rate: u32,
    /// The last `offline_users` users: recipients of offline messages.
    pub offline_users: u32,
}

/// One subscriber of a CSV population.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub number: String,
    pub password: String,
}

/// The behaviours of a run; each present one runs in every phase unless the phase lists
/// others.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Behaviours {
    pub register: Option<RegisterB>,
    pub call: Option<CallB>,
    pub message: Option<MessageB>,
    pub presence: Option<PresenceB>,
    pub room: Option<RoomB>,
    pub conferences: Option<ConferencesB>,
    pub voicemail: Option<VoicemailB>,
}

/// A behaviour's name, as listed in `phases.behaviours`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Behaviour {
    Register,
    Call,
    Message,
    Presence,
    Room,
    Conferences,
    Voicemail,
}

/// How hard a behaviour runs, before phase factors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    pub drive: Drive,
    /// At the start of a phase whose level differs from the previous phase's end (and at the
    /// start of the run), the level moves linearly from the old level to the new one over
    /// this time.
    pub ramp: Duration,
}

/// Open or closed loop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Drive {
    /// Open loop: this many per second (Poisson arrivals), whatever the answers.
    Rate(f64),
    /// Closed loop: this many in flight; the runner starts one when one ends.
    Concurrency(u32),
}

/// Registrations beyond the automatic refreshes.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterB {
    /// Re-registrations of random online devices; `None`: refreshes only.
    pub load: Option<Load>,
    /// From the start of this phase (index into `phases`) the offline users register and count
    /// as online.
    pub include_offline_from_phase: Option<usize>,
    /// Their REGISTERs are spread evenly over this time from the phase's start.
    pub include_offline_spread: Duration,
}

/// Calls between online users.
#[derive(Debug, Clone, PartialEq)]
pub struct CallB {
    pub load: Load,
    /// Shares of answered, busy and unanswered calls (they sum to 1).
    pub answer: f64,
    pub busy: f64,
    pub no_answer: f64,
    /// Ring time (also the caller's wait before CANCEL when nobody answers).
    pub ring: Between,
    pub hold: Between,
    /// Probability that the callee, not the caller, sends the BYE.
    pub callee_hangs_up: f64,
    /// G.711 audio both ways at 50 packets/s while answered.
    pub rtp: bool,
    /// What the phones put in their SDP (`media`, with `nat_address`); `Nat` only with `rtp`.
    pub media: CallMedia,
}

/// MESSAGEs from online users.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageB {
    pub load: Load,
    /// Share sent to offline users (stored by the switch, delivered on their REGISTER).
    pub offline_share: f64,
    pub body_bytes: u32,
}

/// Presence subscriptions (the load) and PUBLISH churn.
#[derive(Debug, Clone, PartialEq)]
pub struct PresenceB {
    pub load: Load,
    /// Presentities each watcher has: online watcher w watches the next `subscriptions`
    /// online users (w+1, w+2, ... wrapping).
    pub subscriptions: u32,
    pub expires: Duration,
    /// PUBLISHes per second (open loop, scaled by the phases like the load).
    pub publish_rate: f64,
}

/// Chat room posts.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomB {
    pub load: Load,
    /// Rooms `load-0` .. `load-<rooms-1>`.
    pub rooms: u32,
    /// Members of each room, joined by the runner before the first phase
    /// ([`Scenario::room_members`]).
    pub members_per_room: u32,
}

/// Conference participants: every room's participants dial in (spread over `join`), talk or
/// listen with RTP, and hang up after their hold time (then dial again while the run lasts).
/// Room r's participants are the users from r × `participants`
/// ([`Scenario::conference_user`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ConferencesB {
    /// Rooms `loadconf-0` .. `loadconf-<rooms-1>`.
    pub rooms: u32,
    /// Participants per room.
    pub participants: u32,
    /// Participants per room that talk (a steady tone each); at most
    /// `crate::core::conference::MAX_TALKERS`.
    pub talkers: u32,
    /// Each codec's share of the participants (PCMU, PCMA, G.722), summing to 1, in the
    /// order the file gives them.
    pub codecs: Vec<(Codec, f64)>,
    /// The first joins are spread evenly over this time from the start of the first phase
    /// that runs conferences.
    pub join: Duration,
    /// How long a participant stays; `None`: to the end of the run.
    pub hold: Option<Between>,
    /// The last participant of each room is a probe (bursts that measure the delay through
    /// the bridge).
    pub probe: bool,
    /// How long a probe stays silent once answered before its first burst.
    pub probe_settle: Duration,
}

/// Callers leaving voice messages: caller k (online user k) calls the mailbox of offline user
/// k ([`Scenario::voicemail_mailbox`]), which the switch answers at once (nobody registered
/// it), hears the greeting and the beep, talks (a tone) and hangs up after its hold time, then
/// calls again while a whole call still fits in the run. The first calls are spread over
/// `join`.
#[derive(Debug, Clone, PartialEq)]
pub struct VoicemailB {
    /// Callers, each with a mailbox of its own.
    pub callers: u32,
    /// The first calls are spread evenly over this time from the start of the first phase
    /// that runs voicemail.
    pub join: Duration,
    /// From the answer to the caller's BYE: greeting, beep and message.
    pub hold: Between,
}

/// A duration picked uniformly in `min..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Between {
    pub min: Duration,
    pub max: Duration,
}

/// A stretch of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub name: String,
    pub duration: Duration,
    /// Multiplies every behaviour's rate or concurrency.
    pub factor: f64,
    /// The factor grows (or falls) linearly from `factor` to this over the phase.
    pub ramp_to: Option<f64>,
    /// Behaviours running in this phase; `None`: all of them. Refreshes always run.
    pub behaviours: Option<Vec<Behaviour>>,
}

/// Pass/fail limits; `None` is not checked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Thresholds {
    /// Minimum share of requests with the expected outcome.
    pub success_ratio: Option<f64>,
    /// Maximum latency percentiles per request type.
    pub latency: BTreeMap<Kind, Percentiles>,
    /// Maximum acknowledged messages never delivered (0 when the run sends messages and the
    /// file does not say).
    pub lost_messages: Option<u64>,
    /// Maximum share of RTP packets lost, and arriving too late for the jitter buffer.
    pub rtp_loss_ratio: Option<f64>,
    pub rtp_late_ratio: Option<f64>,
    /// Minimum share of RTP legs whose packets all came from the switch's relay.
    pub rtp_anchored_ratio: Option<f64>,
    /// Conference participants: minimum share of joins answered with audio flowing, maximum
    /// share of the mix's packets lost and late, minimum share of listeners hearing another
    /// talker, maximum participants hearing their own voice (0 when the run has talkers and
    /// the file does not say), maximum 99th percentile of the probe's delay.
    pub conference_join_ratio: Option<f64>,
    pub conference_loss_ratio: Option<f64>,
    pub conference_late_ratio: Option<f64>,
    pub conference_heard_ratio: Option<f64>,
    pub conference_self_heard: Option<u64>,
    pub conference_delay_p99: Option<Duration>,
}

/// Latency limits of one request type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Percentiles {
    pub p50: Option<Duration>,
    pub p95: Option<Duration>,
    pub p99: Option<Duration>,
}

/// Why a scenario was rejected: the line (1-based, when known), the dotted field and what is
/// wrong. Displays as `line 12: behaviours.call.answer: must be between 0 and 1, found 1.5`;
/// callers prefix the file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub line: Option<usize>,
    /// Dotted path (`behaviours.call.answer`, `phases[1].duration_secs`); empty for errors of
    /// the whole file (unreadable, not TOML).
    pub field: String,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// Parses and validates a scenario. A file with `population.csv` is rejected here (use
/// [`parse_with`], given a reader of the CSV).
pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    parse_with(text, |_| {
        Err("a CSV population needs the scenario loaded from a file".into())
    })
}

/// Parses and validates a scenario; `read_csv` returns the text of `population.csv` (the
/// path as written in the file) or why it cannot.
pub fn parse_with(
    text: &str,
    read_csv: impl FnOnce(&Path) -> Result<String, String>,
) -> Result<Scenario, ScenarioError> {
    build::scenario(text, read_csv)
}

impl Scenario {
    /// The sum of the phases' durations.
    pub fn duration(&self) -> Duration {
        self.phases.iter().map(|p| p.duration).sum()
    }

    /// The most requests a second the runner starts, at the highest phase factor, when the
    /// scenario is registrations and messages only, open loop (refreshes and a message's
    /// delivery to its recipient included). `None` for everything else: calls, conferences
    /// and voicemail carry RTP, rooms and presence fan out, a closed loop follows the server.
    pub fn signalling_peak_rate(&self) -> Option<f64> {
        let b = &self.behaviours;
        let fans_out_or_media = b.call.is_some()
            || b.conferences.is_some()
            || b.voicemail.is_some()
            || b.room.is_some()
            || b.presence.is_some();
        if fans_out_or_media {
            return None;
        }
        let factor = self
            .phases
            .iter()
            .map(|p| p.factor.max(p.ramp_to.unwrap_or(0.0)))
            .fold(0.0, f64::max);
        let mut rate = 0.0;
        for (beh, per_action) in [(Behaviour::Register, 1.0), (Behaviour::Message, 2.0)] {
            match b.load(beh).map(|l| l.drive) {
                Some(Drive::Rate(r)) => rate += r * factor * per_action,
                Some(Drive::Concurrency(_)) => return None,
                None => {}
            }
        }
        let devices = f64::from(self.population.count) * f64::from(self.population.devices);
        let refresh = self.population.refresh_interval().as_secs_f64();
        if refresh > 0.0 {
            rate += devices / refresh;
        }
        Some(rate)
    }

    /// The SIP domain: `domain`, else the host of `target` (the `--target` given, else the
    /// file's).
    pub fn domain_for<'a>(&'a self, target: Option<&'a str>) -> Option<&'a str> {
        let target = target.or(self.target.as_deref())?;
        let host = target.rsplit_once(':').map_or(target, |(h, _)| h);
        self.domain.as_deref().or(Some(host))
    }

    /// The user who is participant `index` of conference room `room`: users
    /// `room × participants + index`.
    pub fn conference_user(&self, room: u32, index: u32) -> User {
        let p = self
            .behaviours
            .conferences
            .as_ref()
            .map_or(0, |c| c.participants);
        room * p + index
    }

    /// The mailbox voicemail caller `caller` leaves its messages in: the offline user
    /// `online_users() + caller`.
    pub fn voicemail_mailbox(&self, caller: User) -> User {
        self.population.online_users() + caller
    }

    /// The members of room `room` (`load-<room>`): `members_per_room` consecutive online
    /// users from `room × members_per_room`, wrapping. Empty without a room behaviour.
    pub fn room_members(&self, room: u32) -> Vec<User> {
        let Some(r) = &self.behaviours.room else {
            return Vec::new();
        };
        let online = self.population.online_users();
        (0..r.members_per_room)
            .map(|j| {
                ((u64::from(room) * u64::from(r.members_per_room) + u64::from(j))
                    % u64::from(online)) as User
            })
            .collect()
    }
}

impl Population {
    /// The number (user part) of `user`.
    pub fn number(&self, user: User) -> String {
        if let Some(a) = self.accounts.get(user as usize) {
            return a.number.clone();
        }
        let (plus, digits) = split_plus(&self.first);
        // validated at parse: digits only, and first + count - 1 keeps the width
        let base: u128 = digits.parse().unwrap_or(0);
        let width = digits.len();
        format!("{plus}{:0width$}", base + u128::from(user))
    }

    /// The password of `user`.
    pub fn password(&self, user: User) -> String {
        if let Some(a) = self.accounts.get(user as usize) {
            return a.password.clone();
        }
        self.password.replace("{n}", &self.number(user))
    }

    /// Users registered during the run from the start: `0..online_users()`.
    pub fn online_users(&self) -> u32 {
        self.count - self.offline_users
    }

    /// Whether `user` is one of the reserved offline users.
    pub fn is_offline(&self, user: User) -> bool {
        user >= self.online_users()
    }

    /// Time between a device's refreshes: `refresh` × `register_expires`.
    pub fn refresh_interval(&self) -> Duration {
        self.register_expires.mul_f64(self.refresh)
    }
}

impl Behaviour {
    pub const ALL: [Behaviour; 7] = [
        Behaviour::Register,
        Behaviour::Call,
        Behaviour::Message,
        Behaviour::Presence,
        Behaviour::Room,
        Behaviour::Conferences,
        Behaviour::Voicemail,
    ];

    /// Its name in scenario files (`register`, `call`, `message`, `presence`, `room`,
    /// `conferences`, `voicemail`).
    pub fn name(self) -> &'static str {
        match self {
            Behaviour::Register => "register",
            Behaviour::Call => "call",
            Behaviour::Message => "message",
            Behaviour::Presence => "presence",
            Behaviour::Room => "room",
            Behaviour::Conferences => "conferences",
            Behaviour::Voicemail => "voicemail",
        }
    }

    pub fn from_name(s: &str) -> Option<Behaviour> {
        Behaviour::ALL.into_iter().find(|b| b.name() == s)
    }
}

impl Behaviours {
    /// The load of `b`, if present and driven (`register` may have none; `conferences` and
    /// `voicemail` have their own timing).
    pub fn load(&self, b: Behaviour) -> Option<Load> {
        match b {
            Behaviour::Register => self.register.as_ref().and_then(|r| r.load),
            Behaviour::Call => self.call.as_ref().map(|c| c.load),
            Behaviour::Message => self.message.as_ref().map(|m| m.load),
            Behaviour::Presence => self.presence.as_ref().map(|p| p.load),
            Behaviour::Room => self.room.as_ref().map(|r| r.load),
            Behaviour::Conferences | Behaviour::Voicemail => None,
        }
    }

    /// Whether `b` is in the file.
    pub fn has(&self, b: Behaviour) -> bool {
        match b {
            Behaviour::Register => self.register.is_some(),
            Behaviour::Call => self.call.is_some(),
            Behaviour::Message => self.message.is_some(),
            Behaviour::Presence => self.presence.is_some(),
            Behaviour::Room => self.room.is_some(),
            Behaviour::Conferences => self.conferences.is_some(),
            Behaviour::Voicemail => self.voicemail.is_some(),
        }
    }
}

impl Phase {
    /// Whether `b` runs in this phase.
    pub fn runs(&self, b: Behaviour) -> bool {
        match &self.behaviours {
            None => true,
            Some(list) => list.contains(&b),
        }
    }
}

fn split_plus(s: &str) -> (&str, &str) {
    match s.strip_prefix('+') {
        Some(rest) => ("+", rest),
        None => ("", s),
    }
}
