//! Configuration of voicemail (`[voicemail]`): what a mailbox holds, how the switch speaks
//! free text, the voicemail number and how a subscriber signs in to listen (PIN attempts,
//! lockouts, whether their own phone needs the PIN), the message lamps of phones that do not
//! subscribe to them, and how it calls a landline to read a text message out (the voice
//! notices).

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
    /// A number anyone may dial to listen to a mailbox from any phone (a trunk's caller, an
    /// anonymous one, a colleague's phone): the switch asks for the mailbox number, then its
    /// PIN. Matched as dialed or by the numbering plan's canonical form; empty (the default):
    /// none.
    pub access_number: String,
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
    /// The PIN is asked also when a subscriber listens from their own phone (an
    /// authenticated call from their number); `false` lets their own phone in without it.
    /// A mailbox without a PIN lets its own phone in either way (to choose one).
    pub pin_from_own_phone: bool,
    /// PIN entries one call may make before the switch hangs up (1 to 10).
    pub pin_attempts: u32,
    /// Wrong PINs in a row, over any number of calls, that lock the mailbox (1 to 100).
    pub pin_failures: u32,
    /// How long the first lockout lasts, in seconds (1 to 86400); each further one in a row
    /// lasts twice as long, up to a day.
    pub pin_lockout_secs: u64,
    /// The subscribers' time zone for the times the menu says ("received today at 3 PM"),
    /// minutes east of UTC (-720 to 840).
    pub utc_offset_minutes: i32,
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

    /// When wrong PINs lock a mailbox, and for how long.
    pub fn pin_lockout(&self) -> switchboard_engine::voicemail::PinLockout {
        let first = Duration::from_secs(self.pin_lockout_secs);
        switchboard_engine::voicemail::PinLockout {
            failures: self.pin_failures,
            first,
            longest: first.max(LONGEST_LOCKOUT),
        }
    }
}

/// The longest PIN lockout (unless the first is longer).
const LONGEST_LOCKOUT: Duration = Duration::from_secs(24 * 3600);

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
    let access = &v.access_number;
    let number_char = |c: char| dialable(c) || c == '+' || c == '-';
    if access.len() > 32 || !access.chars().all(number_char) {
        return Err(ConfigError::Value {
            key: "voicemail.access_number",
            message: format!("{access:?} is not empty or up to 32 of 0-9, +, -, * and #"),
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
    let ranges: [(&'static str, i64, std::ops::RangeInclusive<i64>); 5] = [
        ("voicemail.pin_attempts", v.pin_attempts.into(), 1..=10),
        ("voicemail.pin_failures", v.pin_failures.into(), 1..=100),
        (
            "voicemail.pin_lockout_secs",
            i64::try_from(v.pin_lockout_secs).unwrap_or(i64::MAX),
            1..=86_400,
        ),
        (
            "voicemail.utc_offset_minutes",
            v.utc_offset_minutes.into(),
            -720..=840,
        ),
        (
            "voicemail.writer_threads",
            i64::try_from(v.writer_threads).unwrap_or(i64::MAX),
            1..=64,
        ),
    ];
    for (key, value, range) in ranges {
        if !range.contains(&value) {
            return Err(ConfigError::Value {
                key,
                message: format!("{value} is not {} to {}", range.start(), range.end()),
            });
        }
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

    #[test]
    fn the_access_number_is_empty_or_a_number() {
        let v = |access: &str| Voicemail {
            access_number: access.into(),
            ..base()
        };
        for ok in ["", "+8211990098", "02-1990-0098", "8000"] {
            assert!(validate(&v(ok)).is_ok(), "{ok:?}");
        }
        for bad in ["vm", "+82 11", &"1".repeat(33)] {
            let e = validate(&v(bad)).unwrap_err().to_string();
            assert!(e.contains("voicemail.access_number"), "{bad:?}: {e}");
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
            access_number: String::new(),
            unsolicited_mwi: true,
            notice_retries: 2,
            notice_retry_secs: 300,
            notice_ring_secs: 45,
            pin_from_own_phone: true,
            pin_attempts: 3,
            pin_failures: 10,
            pin_lockout_secs: 900,
            utc_offset_minutes: 0,
            writer_threads: 4,
        }
    }

    #[test]
    fn sign_in_settings_out_of_range_are_refused_by_key_and_make_the_lockout() {
        let ok = base();
        assert!(validate(&ok).is_ok());
        let l = ok.pin_lockout();
        assert_eq!(
            (l.failures, l.first, l.longest),
            (10, Duration::from_secs(900), LONGEST_LOCKOUT)
        );
        let bad = [
            (
                Voicemail {
                    pin_attempts: 0,
                    ..base()
                },
                "voicemail.pin_attempts",
            ),
            (
                Voicemail {
                    pin_failures: 101,
                    ..base()
                },
                "voicemail.pin_failures",
            ),
            (
                Voicemail {
                    pin_lockout_secs: 0,
                    ..base()
                },
                "voicemail.pin_lockout_secs",
            ),
            (
                Voicemail {
                    utc_offset_minutes: 900,
                    ..base()
                },
                "voicemail.utc_offset_minutes",
            ),
        ];
        for (v, key) in bad {
            let e = validate(&v).unwrap_err().to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
        let short = Voicemail {
            pin_lockout_secs: 2,
            ..base()
        };
        assert_eq!(short.pin_lockout().longest, LONGEST_LOCKOUT);
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
