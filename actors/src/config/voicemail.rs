//! Configuration of voicemail (`[voicemail]`): what a mailbox holds and how the switch speaks
//! free text.

use serde::Deserialize;

use super::error::ConfigError;

/// `[voicemail]`: mailboxes, their prompts and the voice notices to landlines.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Voicemail {
    /// Calls may go to subscribers' mailboxes at all (each subscriber's own setting, on by
    /// default, decides for their calls); `false`: no call goes to voicemail.
    pub enabled: bool,
    /// The text-to-speech backend for free text (a text message read out to a landline):
    /// `"espeak-ng"` or `"none"`. Menus and numbers use the embedded prompt set either way.
    pub tts: String,
    /// Messages (new and saved) a mailbox holds at most; then callers hear it is full.
    pub max_messages: u32,
    /// Minutes of messages a mailbox holds at most, all together.
    pub max_minutes: u32,
    /// The longest message, in seconds.
    pub max_message_secs: u32,
    /// Seconds a subscriber's phones ring before an unanswered call goes to the mailbox
    /// (when no no-answer forward is set).
    pub ring_secs: u16,
}

/// A text-to-speech backend the configuration can name.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Tts {
    /// The `espeak-ng` program, run once per text.
    EspeakNg,
    /// No speech: free text cannot be spoken.
    None,
}

impl Tts {
    /// The backend a `tts` value names.
    pub fn parse(s: &str) -> Option<Tts> {
        match s {
            "espeak-ng" => Some(Tts::EspeakNg),
            "none" => Some(Tts::None),
            _ => None,
        }
    }
}

impl Voicemail {
    /// The configured backend (validated at load).
    pub fn tts(&self) -> Tts {
        Tts::parse(&self.tts).unwrap_or(Tts::None)
    }
}

/// Checks the `[voicemail]` values that parse but cannot work.
pub(super) fn validate(v: &Voicemail) -> Result<(), ConfigError> {
    if Tts::parse(&v.tts).is_none() {
        return Err(ConfigError::Value {
            key: "voicemail.tts",
            message: format!("{:?} is not \"espeak-ng\" or \"none\"", v.tts),
        });
    }
    let positive = [
        ("voicemail.max_messages", v.max_messages),
        ("voicemail.max_minutes", v.max_minutes),
        ("voicemail.max_message_secs", v.max_message_secs),
    ];
    for (key, value) in positive {
        if value == 0 {
            return Err(ConfigError::Value {
                key,
                message: "must be at least 1".into(),
            });
        }
    }
    if !(5..=300).contains(&v.ring_secs) {
        return Err(ConfigError::Value {
            key: "voicemail.ring_secs",
            message: format!("{} is not 5 to 300 seconds", v.ring_secs),
        });
    }
    if v.max_message_secs < 2 {
        return Err(ConfigError::Value {
            key: "voicemail.max_message_secs",
            message: "must be at least 2 (messages under a second are not kept)".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_parse_and_anything_else_is_refused() {
        let v = |tts: &str| Voicemail {
            tts: tts.into(),
            ..limits()
        };
        assert_eq!(v("espeak-ng").tts(), Tts::EspeakNg);
        assert_eq!(v("none").tts(), Tts::None);
        assert!(validate(&v("none")).is_ok());
        let e = validate(&v("festival")).unwrap_err().to_string();
        assert!(e.contains("voicemail.tts") && e.contains("festival"), "{e}");
        assert!(validate(&v("")).is_err());
    }

    fn limits() -> Voicemail {
        Voicemail {
            enabled: true,
            tts: "none".into(),
            max_messages: 100,
            max_minutes: 60,
            max_message_secs: 180,
            ring_secs: 20,
        }
    }

    #[test]
    fn mailbox_limits_must_leave_room_for_a_message() {
        assert!(validate(&limits()).is_ok());
        for bad in [
            Voicemail {
                max_messages: 0,
                ..limits()
            },
            Voicemail {
                max_minutes: 0,
                ..limits()
            },
            Voicemail {
                max_message_secs: 1,
                ..limits()
            },
            Voicemail {
                ring_secs: 4,
                ..limits()
            },
        ] {
            let e = validate(&bad).unwrap_err().to_string();
            assert!(e.contains("voicemail."), "{e}");
        }
    }
}
