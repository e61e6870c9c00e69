//! What a ConferenceBridge takes (joins, leaves, DTMF commands, moderation, the API's
//! questions) and what a participant's call hears back from it (`ConferenceNote`).
//!
//! Every command goes to the conference directory (`ToConference`), which starts the bridge
//! of the name on demand; the directory answers the API's questions about a conference no
//! bridge runs for itself, from the stored settings, without starting one. It also says
//! which conferences have a bridge now (`RunningConferences`).

use actix::{Message, Recipient};
use serde::Serialize;
use switchboard_engine::conference::{
    Command, ConferenceName, Limits, ParticipantId, PinConfig, Role,
};
use switchboard_engine::media::session::MixerClock;
use switchboard_engine::media::tone::Tone;
use switchboard_engine::media::{Codec, FrameSink, PayloadFeed};
use tokio::sync::oneshot;

use super::bell::FeedBell;

/// A command for the bridge of `name`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ToConference {
    pub name: ConferenceName,
    pub cmd: ConferenceCommand,
}

/// The names of the conferences that have a running bridge.
#[derive(Message)]
#[rtype(result = "Vec<ConferenceName>")]
pub struct RunningConferences;

/// Where conference work goes: the directory's recipients.
#[derive(Clone)]
pub struct ConferencesHandle {
    pub command: Recipient<ToConference>,
    pub running: Recipient<RunningConferences>,
}

/// The settings of a conference: who may join (PINs) and how many.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConferenceSettings {
    pub pins: PinConfig,
    pub limits: Limits,
    /// The mix is recorded while anyone is in the room.
    pub record: bool,
}

pub enum ConferenceCommand {
    /// What a caller must do before joining (the PIN policy); also says whether the room is
    /// full now.
    Admission { reply: oneshot::Sender<Admission> },
    /// A caller who passed the PIN (or was asked none) joins.
    Join(Box<JoinRequest>),
    /// A participant's call ended.
    Leave { id: ParticipantId },
    /// A participant keyed a command.
    Dtmf { id: ParticipantId, command: Command },
    /// Made over HTTP (or its settings replaced): the conference stays when empty. A
    /// running bridge takes the new settings at once (participants already in stay, even
    /// above a lower limit); the settings must be stored first, for a bridge started later.
    Create {
        settings: ConferenceSettings,
        reply: oneshot::Sender<Result<ConferenceView, ConferenceRefused>>,
    },
    /// The API's view (`None`: no such conference).
    View {
        reply: oneshot::Sender<Option<ConferenceView>>,
    },
    /// The operator (or a moderator) mutes or unmutes a participant.
    SetMuted {
        id: ParticipantId,
        muted: bool,
        reply: oneshot::Sender<Result<ParticipantView, ConferenceRefused>>,
    },
    /// The operator removes a participant (the switch hangs up its call).
    Remove {
        id: ParticipantId,
        reply: oneshot::Sender<Result<(), ConferenceRefused>>,
    },
    /// The operator ends the conference: every call is hung up and its settings go.
    Close {
        reply: oneshot::Sender<Result<(), ConferenceRefused>>,
    },
    /// Fails the bridge's handler on purpose (tests of its recovery; debug builds only).
    #[cfg(debug_assertions)]
    Fail,
}

/// What a caller must do before joining.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admission {
    pub pins: PinConfig,
    /// The room is full now.
    pub full: bool,
}

/// A caller joining.
pub struct JoinRequest {
    /// Who calls, as the switch knows them (a subscriber's address, or the caller's URI).
    pub who: String,
    pub role: Role,
    /// The codec of the caller's stream.
    pub codec: Codec,
    /// The call's media session, for loss figures.
    pub media: Option<u64>,
    /// Where the bridge tells the call what to do.
    pub leg: Recipient<ConferenceNote>,
    /// The feed bell of the caller's media thread, which the mixer rings after each tick.
    pub bell: Option<FeedBell>,
    pub reply: oneshot::Sender<Result<Joined, ConferenceRefused>>,
}

/// A caller is in: the media thread's ends of its rings go into its session.
pub struct Joined {
    pub id: ParticipantId,
    /// The session's sink: the caller's voice to the mixer.
    pub voice: Box<dyn FrameSink>,
    /// The session's feed: the mix the caller hears.
    pub mix: Box<dyn PayloadFeed>,
    /// The mixer's clock, which the session's frame tick follows.
    pub clock: MixerClock,
    /// Participants already there.
    pub others: usize,
}

/// What a participant's call is told.
#[derive(Message, Clone, Debug, PartialEq)]
#[rtype(result = "()")]
pub enum ConferenceNote {
    /// Play a tone to the participant (someone joined or left, muted, unmuted).
    Play(Tone),
    /// Hang up: removed, or the conference was closed.
    Hangup { reason: &'static str },
}

/// Why the bridge said no.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConferenceRefused {
    #[error("conference is full ({max} participants)")]
    Full { max: usize },
    #[error("no such conference")]
    NotFound,
    #[error("no such participant")]
    NoParticipant,
    #[error("the mixer is not running")]
    Mixer,
}

/// A conference as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConferenceView {
    pub name: String,
    /// Its SIP address: the bridge gives the user part (`conf-<name>`), the HTTP API the
    /// whole URI.
    pub address: String,
    pub pin_required: bool,
    pub moderator_pin: bool,
    pub max_participants: usize,
    pub record: bool,
    /// Made over HTTP: stays when empty.
    pub persistent: bool,
    pub participants: Vec<ParticipantView>,
}

impl ConferenceView {
    /// The view of conference `name` with `settings` and `participants`; `persistent`: made
    /// by the operator (stored).
    pub fn new(
        name: &ConferenceName,
        settings: &ConferenceSettings,
        persistent: bool,
        participants: Vec<ParticipantView>,
    ) -> ConferenceView {
        ConferenceView {
            name: name.as_str().to_owned(),
            address: name.user(),
            pin_required: settings.pins.participant.is_some(),
            moderator_pin: settings.pins.moderator.is_some(),
            max_participants: settings.limits.max_participants,
            record: settings.record,
            persistent,
            participants,
        }
    }
}

/// A participant as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParticipantView {
    pub id: u32,
    pub who: String,
    pub moderator: bool,
    pub muted: bool,
    pub talking: bool,
    pub codec: String,
    pub rate_hz: u32,
    /// Level of the participant's voice now, dBFS (-96 for silence).
    pub level_dbfs: f32,
    /// Voice frames that never reached the mix (late or dropped).
    pub frames_lost: u64,
    pub joined_unix_ms: u64,
}
