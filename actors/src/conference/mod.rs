//! Conference bridges: the actors and the thread that make several calls one conversation.
//!
//! - `directory`: [`ConferenceDirectory`], one actor starting a ConferenceBridge per active
//!   conference name, on demand, with the operator's stored settings;
//! - `bridge`: [`ConferenceBridge`], the participants' state, moderation and join/leave
//!   tones; supervised by going back to its snapshot after a failed command;
//! - `mixer`: the mixer thread ([`MixerHandle`]): every 20 ms while anyone is in a
//!   conference, the engine's N-1 `Mixer` per room;
//! - `rings`: the two SPSC rings of each participant between its media thread and the mixer
//!   thread (voice in, mix out).
//!
//! A participant's call (CallLeg, the switch as the answering party) asks the bridge for the
//! PIN policy, runs the PIN entry itself, joins, and puts the ring ends it gets into its
//! media session (`set_sink`, `set_feed`). Messages in `api::conference`.

mod bridge;
pub mod directory;
mod messages;
pub mod mixer;
pub mod rings;

pub use bridge::ConferenceBridge;
pub use directory::ConferenceDirectory;
pub use mixer::MixerHandle;

use switchboard_engine::conference::{Limits, Pin, PinConfig};
use switchboard_engine::store::ConferenceRecord;

use crate::api::conference::ConferenceSettings;

/// The settings a stored record gives, with `attempts` PIN entries (`[conference]`). A PIN
/// that no longer parses is dropped with the record's other fields kept.
pub fn settings_of(rec: &ConferenceRecord, attempts: u32) -> ConferenceSettings {
    let pin = |p: &Option<String>| p.as_deref().and_then(|p| Pin::parse(p).ok());
    ConferenceSettings {
        pins: PinConfig {
            participant: pin(&rec.pin),
            moderator: pin(&rec.moderator_pin),
            attempts,
            ..PinConfig::default()
        },
        limits: Limits {
            max_participants: rec.max_participants as usize,
        },
        record: rec.record,
    }
}
