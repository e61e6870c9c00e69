//! Configuration of voicemail (`[voicemail]`): what a mailbox holds, how the switch speaks
//! free text, the voicemail number, the message lamps of phones that do not subscribe to them,
//! and how it calls a landline to read a text message out (the voice notices).

use std::time::Duration;

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
    /// The voicemail number (`*98`): dialled to listen, and a message-summary SUBSCRIBE to it
    /// watches the subscriber's own mailbox.
    pub number: String,
    /// Registered phones that did not subscribe to their mailbox's message-summary get an
    /// unsolicited NOTIFY of each change, and one when they register while messages wait.
    pub unsolicited_mwi: bool,
    /// Calls after the first one when a voice notice's call is busy, not answered, or hung
    /// up before the text was read.
    pub notice_retries: u32,
    /// Seconds between the end of one notice call and the next.
    pub notice_retry_secs: u64,
    /// Seconds a landline may ring before the notice call is given up as not answered.
    pub notice_ring_secs: u64,
    /// Messages (new and saved) a mailbox holds at most; then callers hear it is full.
    pub max_messages: u32,
    /// Minutes of messages a mailbox holds at most, all together.
    pub max_minutes: u32,
    /// The longest message, in seconds.
    pub max_message_secs: u32,
    /// Seconds a subscriber's phones ring before an unanswered call goes to the mailbox
    /// (when no no-answer forward is set).
    pub ring_secs: u16,
    /// Threads writing the messages being left (each message on one, by its id): every
    /// message's file is fsynced once a second, and several threads keep several fsyncs in
    /// flight.
    pub writer_threads: usize,
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

    /// How a voice notice is called again.
    pub fn notice_retries(&self) -> switchboard_engine::messaging::voice::Retries {
        switchboard_engine::messaging::voice::Retries {
            retries: self.notice_retries,
            after: Duration::from_secs(self.notice_retry_secs),
        }
    }

    /// How long a notice call rings.
    pub fn notice_ring(&self) -> Duration {
        Duration::from_secs(self.notice_ring_secs)
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
    let dialable = |c: char| c.is_ascii_digit() || c == '*' || c == '#';
    if v.number.is_empty() || v.number.len() > 16 || !v.number.chars().all(dialable) {
        return Err(ConfigError::Value {
            key: "voicemail.number",
            message: format!("{:?} is not 1 to 16 of 0-9, * and #", v.number),
        });
    }
    if v.notice_retries > MAX_NOTICE_RETRIES {
        return Err(ConfigError::Value {
            key: "voicemail.notice_retries",
            message: format!("{} is above {MAX_NOTICE_RETRIES}", v.notice_retries),
        });
    }
    if v.notice_retry_secs == 0 {
        return Err(ConfigError::Value {
            key: "voicemail.notice_retry_secs",
            message: "must be at least 1".into(),
        });
    }
    if !(1..=600).contains(&v.notice_ring_secs) {
        return Err(ConfigError::Value {
            key: "voicemail.notice_ring_secs",
            message: format!("{} is not between 1 and 600", v.notice_ring_secs),
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
    if !(1..=64).contains(&v.writer_threads) {
        return Err(ConfigError::Value {
            key: "voicemail.writer_threads",
            message: format!("{} is not 1 to 64", v.writer_threads),
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

/// The most calls after the first a notice may get: more would ring a landline all day.
const MAX_NOTICE_RETRIES: u32 = 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_parse_and_anything_else_is_refused() {
        let v = |tts: &str| Voicemail {
            tts: tts.into(),
            ..base()
        };
        assert_eq!(v("espeak-ng").tts(), Tts::EspeakNg);
        assert_eq!(v("none").tts(), Tts::None);
        assert!(validate(&v("none")).is_ok());
        let e = validate(&v("festival")).unwrap_err().to_string();
        assert!(e.contains("voicemail.tts") && e.contains("festival"), "{e}");
        assert!(validate(&v("")).is_err());
    }

    #[test]
    fn the_voicemail_number_must_be_dialable() {
        let v = |number: &str| Voicemail {
            tts: "none".into(),
            number: number.into(),
            ..notices()
        };
        assert!(validate(&v("*98")).is_ok());
        assert!(validate(&v("8000")).is_ok());
        for bad in ["", "vm", "*9 8", "12345678901234567"] {
            let e = validate(&v(bad)).unwrap_err().to_string();
            assert!(e.contains("voicemail.number"), "{bad:?}: {e}");
        }
    }

    fn base() -> Voicemail {
        Voicemail {
            enabled: true,
            max_messages: 100,
            max_minutes: 60,
            max_message_secs: 180,
            ring_secs: 20,
            tts: "none".into(),
            number: "*98".into(),
            unsolicited_mwi: true,
            notice_retries: 2,
            notice_retry_secs: 300,
            notice_ring_secs: 45,
            writer_threads: 4,
        }
    }

    fn notices() -> Voicemail {
        base()
    }

    fn limits() -> Voicemail {
        base()
    }

    #[test]
    fn notice_settings_out_of_range_are_refused_by_key() {
        let ok = notices();
        assert!(validate(&ok).is_ok());
        assert_eq!(ok.notice_retries().retries, 2);
        assert_eq!(ok.notice_retries().after, Duration::from_secs(300));
        assert_eq!(ok.notice_ring(), Duration::from_secs(45));
        let bad = [
            (
                Voicemail {
                    notice_retries: 11,
                    ..notices()
                },
                "voicemail.notice_retries",
            ),
            (
                Voicemail {
                    notice_retry_secs: 0,
                    ..notices()
                },
                "voicemail.notice_retry_secs",
            ),
            (
                Voicemail {
                    notice_ring_secs: 0,
                    ..notices()
                },
                "voicemail.notice_ring_secs",
            ),
        ];
        for (v, key) in bad {
            let e = validate(&v).unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
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
            Voicemail {
                writer_threads: 0,
                ..limits()
            },
        ] {
            let e = validate(&bad).unwrap_err().to_string();
            assert!(e.contains("voicemail."), "{e}");
        }
    }
}
