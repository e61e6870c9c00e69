//! Records of call recordings: what was recorded (`RecordingRecord` in `RECORDINGS_TREE`,
//! keyed by the id as 8 big-endian bytes, so a scan is in start order), an index by number
//! (`RECORDINGS_BY_NUMBER_TREE`: `number 0x00 id` with no value, one key per party, so a
//! number's recordings are one prefix scan), and each subscriber's "record my calls" setting
//! (`RecordingSettings` in `RECORDING_SETTINGS_TREE`, keyed by canonical address).
//!
//! Both records carry a leading version byte; `RecordingRecord::decode` and
//! `RecordingSettings::decode` read every version written so far (1, the first) and refuse
//! others. An address with no settings record does not have its calls recorded, so data
//! directories made before recording existed read as "off" everywhere.

use super::{RecordError, RECORD_VERSION};

/// Tree of recordings: `id_key(id)` -> `RecordingRecord`.
pub const RECORDINGS_TREE: &str = "recordings";
/// Tree indexing recordings by party: `number_key(number, id)` -> empty.
pub const RECORDINGS_BY_NUMBER_TREE: &str = "recordings_by_number";
/// Tree of per-subscriber settings: canonical address -> `RecordingSettings`.
pub const RECORDING_SETTINGS_TREE: &str = "recording_settings";

/// The version byte of recording records and settings.
pub const RECORDING_VERSION: u8 = RECORD_VERSION;

/// A recording's id: from the store's persistent id generator, so ids grow with start time
/// and are never reused.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, bincode::Encode, bincode::Decode,
)]
pub struct RecordingId(pub u64);

impl RecordingId {
    /// Its key in `RECORDINGS_TREE`.
    pub fn key(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// The id a `RECORDINGS_TREE` key holds.
    pub fn from_key(key: &[u8]) -> Option<RecordingId> {
        Some(RecordingId(u64::from_be_bytes(key.try_into().ok()?)))
    }

    /// The name of its audio file in the recordings directory.
    pub fn file_name(self) -> String {
        format!("{}.wav", self.0)
    }

    /// The id of an audio file's name (`17.wav`), if it is one.
    pub fn from_file_name(name: &str) -> Option<RecordingId> {
        let digits = name.strip_suffix(".wav")?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().map(RecordingId)
    }
}

impl std::fmt::Display for RecordingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for RecordingId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<RecordingId, Self::Err> {
        s.parse().map(RecordingId)
    }
}

/// Whether the audio of a recording is still being written.
#[derive(Copy, Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum RecordingState {
    /// The recorder is writing it (or was, when the switch stopped without finishing it:
    /// start-up repairs the file and marks it done).
    InProgress,
    /// The file is complete and its header counts every sample in it.
    Done,
}

impl RecordingState {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingState::InProgress => "in_progress",
            RecordingState::Done => "done",
        }
    }
}

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct RecordingRecord {
    pub id: RecordingId,
    /// Canonical number of the caller (the file's left channel).
    pub caller: String,
    /// Canonical number of the callee (the right channel).
    pub callee: String,
    /// The SIP Call-ID of the recorded call.
    pub call_id: String,
    /// When recording started, milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
    /// The audio's length; 0 while in progress.
    pub duration_ms: u64,
    /// The file's size in bytes; 0 while in progress.
    pub bytes: u64,
    pub state: RecordingState,
}

impl RecordingRecord {
    /// Whether `number` (canonical) is the caller or the callee.
    pub fn is_party(&self, number: &str) -> bool {
        self.caller == number || self.callee == number
    }

    /// The stored bytes (version `RECORDING_VERSION`).
    pub fn encode(&self) -> Vec<u8> {
        super::encode(self)
    }

    /// Reads a record of any version written so far.
    pub fn decode(bytes: &[u8]) -> Result<RecordingRecord, RecordError> {
        match bytes.first() {
            Some(&RECORDING_VERSION) => super::decode(bytes),
            Some(&other) => Err(RecordError::Version(other)),
            None => Err(RecordError::Empty),
        }
    }
}

/// A subscriber's recording settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct RecordingSettings {
    /// "Record my calls": every call this subscriber makes or takes is recorded.
    pub record_calls: bool,
    /// When it last changed, seconds since the Unix epoch.
    pub changed_unix: u64,
}

impl RecordingSettings {
    /// The stored bytes (version `RECORDING_VERSION`).
    pub fn encode(&self) -> Vec<u8> {
        super::encode(self)
    }

    /// Reads settings of any version written so far.
    pub fn decode(bytes: &[u8]) -> Result<RecordingSettings, RecordError> {
        match bytes.first() {
            Some(&RECORDING_VERSION) => super::decode(bytes),
            Some(&other) => Err(RecordError::Version(other)),
            None => Err(RecordError::Empty),
        }
    }
}

/// The index key of recording `id` under one of its parties.
pub fn number_key(number: &str, id: RecordingId) -> Vec<u8> {
    let mut k = number_prefix(number);
    k.extend_from_slice(&id.key());
    k
}

/// The prefix of every index key of `number`.
pub fn number_prefix(number: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(number.len() + 9);
    k.extend_from_slice(number.as_bytes());
    k.push(0);
    k
}

/// The recording an index key of `number` names.
pub fn id_of_number_key(number: &str, key: &[u8]) -> Option<RecordingId> {
    RecordingId::from_key(key.strip_prefix(number_prefix(number).as_slice())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> RecordingRecord {
        RecordingRecord {
            id: RecordingId(42),
            caller: "1001".into(),
            callee: "+82111234567".into(),
            call_id: "a84b4c76e66710".into(),
            started_unix_ms: 1_700_000_000_123,
            duration_ms: 61_020,
            bytes: 3_905_324,
            state: RecordingState::Done,
        }
    }

    #[test]
    fn recordings_round_trip_behind_their_version_byte() {
        let r = record();
        let bytes = r.encode();
        assert_eq!(bytes[0], RECORDING_VERSION);
        assert_eq!(RecordingRecord::decode(&bytes).unwrap(), r);
        let s = RecordingSettings {
            record_calls: true,
            changed_unix: 9,
        };
        let bytes = s.encode();
        assert_eq!(bytes[0], RECORDING_VERSION);
        assert_eq!(RecordingSettings::decode(&bytes).unwrap(), s);
    }

    #[test]
    fn unknown_versions_and_damaged_records_are_refused() {
        let mut bytes = record().encode();
        bytes[0] = 2;
        assert_eq!(
            RecordingRecord::decode(&bytes),
            Err(RecordError::Version(2))
        );
        assert_eq!(RecordingRecord::decode(&[]), Err(RecordError::Empty));
        let bytes = record().encode();
        assert!(matches!(
            RecordingRecord::decode(&bytes[..bytes.len() - 1]),
            Err(RecordError::Corrupt(_))
        ));
        let mut bytes = RecordingSettings::default().encode();
        bytes[0] = 0;
        assert_eq!(
            RecordingSettings::decode(&bytes),
            Err(RecordError::Version(0))
        );
    }

    #[test]
    fn a_number_index_scan_sees_its_recordings_in_id_order_and_no_other_numbers() {
        let mut keys = [
            number_key("1001", RecordingId(300)),
            number_key("1001", RecordingId(2)),
            number_key("10011", RecordingId(1)),
        ];
        keys.sort();
        let prefix = number_prefix("1001");
        let ids: Vec<_> = keys
            .iter()
            .filter(|k| k.starts_with(&prefix))
            .map(|k| id_of_number_key("1001", k).unwrap())
            .collect();
        assert_eq!(ids, [RecordingId(2), RecordingId(300)]);
        assert_eq!(
            id_of_number_key("1001", &number_key("10011", RecordingId(1))),
            None
        );
    }

    #[test]
    fn ids_name_their_files_and_only_those_names_are_ids() {
        assert_eq!(RecordingId(17).file_name(), "17.wav");
        assert_eq!(RecordingId::from_file_name("17.wav"), Some(RecordingId(17)));
        for name in [
            "17.wav.tmp",
            ".wav",
            "x7.wav",
            "+1.wav",
            "17.WAV",
            "99999999999999999999.wav",
        ] {
            assert_eq!(RecordingId::from_file_name(name), None, "{name}");
        }
        assert_eq!("17".parse::<RecordingId>().unwrap(), RecordingId(17));
        assert_eq!(
            RecordingId::from_key(&RecordingId(17).key()),
            Some(RecordingId(17))
        );
        assert!(
            RecordingId(2).key() < RecordingId(256).key(),
            "keys sort by id"
        );
    }

    #[test]
    fn parties_are_caller_and_callee_only() {
        let r = record();
        assert!(r.is_party("1001"));
        assert!(r.is_party("+82111234567"));
        assert!(!r.is_party("1002"));
    }
}
