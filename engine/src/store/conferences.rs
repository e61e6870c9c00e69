//! Conferences the operator made over HTTP: their settings, one record per name in
//! `CONFERENCES_TREE`, keyed by the conference name. A conference nobody made this way has no
//! record (its first caller makes it with defaults, and it goes with its last one).
//!
//! The record carries a leading version byte; `ConferenceRecord::decode` reads every version
//! written so far (1, the first) and refuses others. PINs are kept as the digits (they are
//! keyed on a phone's keypad, so they cannot be hashed against guessing any better than the
//! attempt limit already does; the data directory is the operator's).

use super::{RecordError, RECORD_VERSION};

/// Tree of conferences: name -> `ConferenceRecord`.
pub const CONFERENCES_TREE: &str = "conferences";

/// A conference's settings as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct ConferenceRecord {
    /// Digits a participant keys in to join; `None`: no PIN.
    pub pin: Option<String>,
    /// Digits that make the caller a moderator.
    pub moderator_pin: Option<String>,
    pub max_participants: u32,
    /// The mix is recorded while anyone is in.
    pub record: bool,
    /// When it was made (or last changed), seconds since the Unix epoch.
    pub changed_unix: u64,
}

impl ConferenceRecord {
    /// The stored bytes (version `RECORD_VERSION`).
    pub fn encode(&self) -> Vec<u8> {
        super::encode(self)
    }

    /// Reads a record of any version written so far.
    pub fn decode(bytes: &[u8]) -> Result<ConferenceRecord, RecordError> {
        match bytes.first() {
            Some(&RECORD_VERSION) => super::decode(bytes),
            Some(&other) => Err(RecordError::Version(other)),
            None => Err(RecordError::Empty),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_written_and_another_version_is_refused() {
        let r = ConferenceRecord {
            pin: Some("4321".into()),
            moderator_pin: None,
            max_participants: 12,
            record: true,
            changed_unix: 1_800_000_000,
        };
        let bytes = r.encode();
        assert_eq!(ConferenceRecord::decode(&bytes), Ok(r));
        let mut other = bytes.clone();
        other[0] = 9;
        assert_eq!(
            ConferenceRecord::decode(&other),
            Err(RecordError::Version(9))
        );
        assert_eq!(ConferenceRecord::decode(&[]), Err(RecordError::Empty));
    }
}
