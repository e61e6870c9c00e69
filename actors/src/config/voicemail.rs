//! Configuration of voicemail (`[voicemail]`): how the switch speaks free text, the voicemail
//! number, and the message lamps of phones that do not subscribe to them.

use serde::Deserialize;

use super::error::ConfigError;

/// `[voicemail]`: mailboxes, their prompts and the voice notices to landlines.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Voicemail {
    /// The text-to-speech backend for free text (a text message read out to a landline):
    /// `"espeak-ng"` or `"none"`. Menus and numbers use the embedded prompt set either way.
    pub tts: String,
    /// The voicemail number (`*98`): dialled to listen, and a message-summary SUBSCRIBE to it
    /// watches the subscriber's own mailbox.
    pub number: String,
    /// Registered phones that did not subscribe to their mailbox's message-summary get an
    /// unsolicited NOTIFY of each change, and one when they register while messages wait.
    pub unsolicited_mwi: bool,
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
    let dialable = |c: char| c.is_ascii_digit() || c == '*' || c == '#';
    if v.number.is_empty() || v.number.len() > 16 || !v.number.chars().all(dialable) {
        return Err(ConfigError::Value {
            key: "voicemail.number",
            message: format!("{:?} is not 1 to 16 of 0-9, * and #", v.number),
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
            number: "*98".into(),
            unsolicited_mwi: true,
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
            unsolicited_mwi: true,
        };
        assert!(validate(&v("*98")).is_ok());
        assert!(validate(&v("8000")).is_ok());
        for bad in ["", "vm", "*9 8", "12345678901234567"] {
            let e = validate(&v(bad)).unwrap_err().to_string();
            assert!(e.contains("voicemail.number"), "{bad:?}: {e}");
        }
    }
}
