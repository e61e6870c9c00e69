//! Configuration of voicemail (`[voicemail]`): for now, how the switch speaks free text.

use serde::Deserialize;

use super::error::ConfigError;

/// `[voicemail]`: mailboxes, their prompts and the voice notices to landlines.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Voicemail {
    /// The text-to-speech backend for free text (a text message read out to a landline):
    /// `"espeak-ng"` or `"none"`. Menus and numbers use the embedded prompt set either way.
    pub tts: String,
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_parse_and_anything_else_is_refused() {
        let v = |tts: &str| Voicemail { tts: tts.into() };
        assert_eq!(v("espeak-ng").tts(), Tts::EspeakNg);
        assert_eq!(v("none").tts(), Tts::None);
        assert!(validate(&v("none")).is_ok());
        let e = validate(&v("festival")).unwrap_err().to_string();
        assert!(e.contains("voicemail.tts") && e.contains("festival"), "{e}");
        assert!(validate(&v("")).is_err());
    }
}
