//! What the voicemail machines ask their owner to play, and how they learn it has ended.
//!
//! A [`Playback`] is a list of [`Audio`] items played one after another (prompt clips, a
//! subscriber's greeting, a message, the beep) under one [`PlayId`]. A new playback replaces
//! whatever plays; the owner reports the end of the whole list with the id it was given, so
//! an end that crosses a newer playback (reported late) is told apart and ignored.

use super::record::{Greeting, VoicemailId};
use crate::prompt::{Clip, Phrase};

/// The id of one playback, unique within a machine.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlayId(pub u32);

/// One item of a playback.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Audio {
    /// A clip of the prompt set.
    Clip(Clip),
    /// The subscriber's recorded greeting of this kind.
    Greeting(Greeting),
    /// The greeting just recorded in this call, not kept yet.
    NewGreeting,
    /// A message of the mailbox.
    Message(VoicemailId),
    /// The "record after the tone" beep (`media::tone::Tone::BEEP`).
    Beep,
}

/// Audio to play in order, replacing what plays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Playback {
    pub id: PlayId,
    pub items: Vec<Audio>,
}

impl Playback {
    /// The names of its clips, other items as `[greeting]`, `[message 7]`, `[beep]` (logs and
    /// tests).
    pub fn describe(&self) -> Vec<String> {
        self.items
            .iter()
            .map(|a| match a {
                Audio::Clip(c) => c.name().to_owned(),
                Audio::Greeting(g) => format!("[greeting {}]", g.as_str()),
                Audio::NewGreeting => "[new greeting]".to_owned(),
                Audio::Message(id) => format!("[message {id}]"),
                Audio::Beep => "[beep]".to_owned(),
            })
            .collect()
    }

    /// The messages it plays.
    pub fn messages(&self) -> impl Iterator<Item = VoicemailId> + '_ {
        self.items.iter().filter_map(|a| match a {
            Audio::Message(id) => Some(*id),
            _ => None,
        })
    }
}

/// Appends a phrase's clips.
pub(crate) fn say(items: &mut Vec<Audio>, phrase: &Phrase) {
    items.extend(phrase.clips().iter().map(|&c| Audio::Clip(c)));
}

/// Hands out playback ids and knows which one plays.
#[derive(Clone, Debug, Default)]
pub(crate) struct Player {
    next: u32,
    playing: Option<PlayId>,
}

impl Player {
    /// A playback of `items`, now the one playing.
    pub(crate) fn start(&mut self, items: Vec<Audio>) -> Playback {
        let id = PlayId(self.next);
        self.next = self.next.wrapping_add(1);
        self.playing = Some(id);
        Playback { id, items }
    }

    /// Whether `id` is the playback playing: then it is over now.
    pub(crate) fn finished(&mut self, id: PlayId) -> bool {
        if self.playing == Some(id) {
            self.playing = None;
            true
        } else {
            false
        }
    }

    /// Forgets the playback playing (it was stopped); `true` if there was one.
    pub(crate) fn stop(&mut self) -> bool {
        self.playing.take().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::clip;

    #[test]
    fn only_the_playback_playing_finishes() {
        let mut p = Player::default();
        let a = p.start(vec![Audio::Beep]);
        let b = p.start(vec![Audio::Clip(clip::GOODBYE)]);
        assert_ne!(a.id, b.id);
        assert!(
            !p.finished(a.id),
            "a replaced playback's late end is ignored"
        );
        assert!(p.finished(b.id));
        assert!(!p.finished(b.id), "an end counts once");
        assert!(!p.stop());
        p.start(vec![]);
        assert!(p.stop());
        assert!(!p.stop(), "nothing plays after a stop");
    }

    #[test]
    fn a_playback_describes_its_items() {
        let mut items = vec![Audio::Greeting(Greeting::Name)];
        say(&mut items, &Phrase::of(&[clip::IS_BUSY]));
        items.extend([
            Audio::Beep,
            Audio::Message(VoicemailId(7)),
            Audio::NewGreeting,
        ]);
        let p = Player::default().start(items);
        assert_eq!(
            p.describe(),
            [
                "[greeting name]",
                "is-busy",
                "[beep]",
                "[message 7]",
                "[new greeting]"
            ]
        );
        assert_eq!(p.messages().collect::<Vec<_>>(), [VoicemailId(7)]);
    }
}
