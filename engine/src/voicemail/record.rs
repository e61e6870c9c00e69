//! Records of voicemail: the messages of each mailbox and each subscriber's mailbox settings.
//!
//! - `VOICEMAILS_TREE`: one [`VoicemailRecord`] per message, keyed `number 0x00 id`
//!   ([`message_key`]), so a mailbox is one prefix scan in id order (ids grow with time);
//!   the audio is the file [`VoicemailId::file_name`] in the mailbox's directory.
//! - `VOICEMAILS_PENDING_TREE`: the same records, keyed the same, for messages being left
//!   right now (written before their audio file exists): what start-up needs to keep the
//!   audio a crash interrupted. A commit moves the record to `VOICEMAILS_TREE`.
//! - `VOICEMAIL_SETTINGS_TREE`: [`MailboxSettings`] per canonical address. An address with no
//!   record has voicemail on, no PIN and no greetings of its own
//!   (`MailboxSettings::default()`), so data directories made before voicemail read as that.
//!
//! Both carry a leading version byte and the store's one bincode configuration
//! (`crate::store::encode`); `decode` reads every version written so far and refuses others:
//! messages are at version 1, settings at [`SETTINGS_VERSION`] 2 (version 1 had no lockout
//! time and reads as unlocked). PINs are kept as digits, like conference PINs: keyed on a
//! phone's keypad, they are protected by the attempt limits and lockouts
//! (`lockout::PinLockout`), not by hashing.

use std::time::Duration;

use crate::conference::{Pin, PinError, MAX_PIN_LEN};
use crate::store::{self, RecordError, RECORD_VERSION};

/// Tree of messages: `message_key(number, id)` -> `VoicemailRecord`.
pub const VOICEMAILS_TREE: &str = "voicemails";
/// Tree of messages being left: `message_key(number, id)` -> `VoicemailRecord` (duration and
/// size still 0).
pub const VOICEMAILS_PENDING_TREE: &str = "voicemails_pending";
/// Tree of mailbox settings: canonical address -> `MailboxSettings`.
pub const VOICEMAIL_SETTINGS_TREE: &str = "voicemail_settings";

/// The version byte of voicemail records.
pub const VOICEMAIL_VERSION: u8 = RECORD_VERSION;

/// The version byte of mailbox settings: 2 since they carry the end of a PIN lockout.
pub const SETTINGS_VERSION: u8 = 2;

/// Wrong PINs in a row (over any number of calls) after which a mailbox is locked for a while
/// (`lockout::PinLockout`, the default of `[voicemail] pin_failures`).
pub const MAX_PIN_FAILURES: u32 = 10;

/// The shortest PIN a subscriber may choose.
pub const MIN_PIN_LEN: usize = 4;

/// A message's id: from the store's persistent id generator, so ids grow with time and are
/// never reused.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, bincode::Encode, bincode::Decode,
)]
pub struct VoicemailId(pub u64);

impl VoicemailId {
    /// The id as 8 big-endian bytes (the tail of its key).
    pub fn key(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    pub fn from_key(key: &[u8]) -> Option<VoicemailId> {
        Some(VoicemailId(u64::from_be_bytes(key.try_into().ok()?)))
    }

    /// The name of its audio file in the mailbox's directory.
    pub fn file_name(self) -> String {
        format!("{}.wav", self.0)
    }

    /// The id of an audio file's name (`17.wav`), if it is one.
    pub fn from_file_name(name: &str) -> Option<VoicemailId> {
        let digits = name.strip_suffix(".wav")?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().map(VoicemailId)
    }
}

impl std::fmt::Display for VoicemailId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for VoicemailId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<VoicemailId, Self::Err> {
        s.parse().map(VoicemailId)
    }
}

/// Where a message is: new (not heard yet: the phone's lamp is lit) or saved (heard or kept).
/// RFC 3842 counts them as new and old.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum Folder {
    New,
    Saved,
}

impl Folder {
    pub fn as_str(self) -> &'static str {
        match self {
            Folder::New => "new",
            Folder::Saved => "saved",
        }
    }

    /// The folder a name (`new`, `saved`) names.
    pub fn parse(s: &str) -> Option<Folder> {
        match s {
            "new" => Some(Folder::New),
            "saved" => Some(Folder::Saved),
            _ => None,
        }
    }
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct VoicemailRecord {
    pub id: VoicemailId,
    /// Canonical number of the caller, or `anonymous`.
    pub caller: String,
    /// When the caller started speaking, seconds since the Unix epoch.
    pub received_unix: u64,
    /// The audio's length.
    pub duration_ms: u64,
    pub folder: Folder,
    /// The audio file's size in bytes.
    pub bytes: u64,
}

impl VoicemailRecord {
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.duration_ms)
    }

    /// The stored bytes (version `VOICEMAIL_VERSION`).
    pub fn encode(&self) -> Vec<u8> {
        store::encode(self)
    }

    /// Reads a record of any version written so far.
    pub fn decode(bytes: &[u8]) -> Result<VoicemailRecord, RecordError> {
        decode_versioned(bytes)
    }
}

/// The key of message `id` in `VOICEMAILS_TREE`.
pub fn message_key(number: &str, id: VoicemailId) -> Vec<u8> {
    let mut k = mailbox_prefix(number);
    k.extend_from_slice(&id.key());
    k
}

/// The prefix of every message key of `number`'s mailbox.
pub fn mailbox_prefix(number: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(number.len() + 9);
    k.extend_from_slice(number.as_bytes());
    k.push(0);
    k
}

/// The message a key of `number`'s mailbox names.
pub fn id_of_message_key(number: &str, key: &[u8]) -> Option<VoicemailId> {
    VoicemailId::from_key(key.strip_prefix(mailbox_prefix(number).as_slice())?)
}

/// A subscriber's own greetings.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum Greeting {
    /// Heard by callers the subscriber did not answer (or could not be reached).
    Unavailable,
    /// Heard by callers who found the subscriber busy.
    Busy,
    /// The subscriber saying their name, used in the default greetings.
    Name,
}

impl Greeting {
    pub const ALL: [Greeting; 3] = [Greeting::Unavailable, Greeting::Busy, Greeting::Name];

    pub fn as_str(self) -> &'static str {
        match self {
            Greeting::Unavailable => "unavailable",
            Greeting::Busy => "busy",
            Greeting::Name => "name",
        }
    }

    /// The greeting a name (`unavailable`, `busy`, `name`) names.
    pub fn parse(s: &str) -> Option<Greeting> {
        Greeting::ALL.into_iter().find(|g| g.as_str() == s)
    }

    /// The name of its audio file in the mailbox's directory (`greeting-busy.wav`).
    pub fn file_name(self) -> String {
        format!("greeting-{}.wav", self.as_str())
    }

    fn bit(self) -> u8 {
        match self {
            Greeting::Unavailable => 1,
            Greeting::Busy => 2,
            Greeting::Name => 4,
        }
    }
}

/// Which greetings a subscriber recorded.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Greetings(u8);

impl Greetings {
    pub fn has(self, g: Greeting) -> bool {
        self.0 & g.bit() != 0
    }

    pub fn set(&mut self, g: Greeting, present: bool) {
        if present {
            self.0 |= g.bit();
        } else {
            self.0 &= !g.bit();
        }
    }

    /// These greetings and `g`.
    pub fn with(mut self, g: Greeting) -> Greetings {
        self.set(g, true);
        self
    }
}

/// A subscriber's mailbox settings.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct MailboxSettings {
    /// Calls the subscriber does not take go to the mailbox (on by default).
    pub enabled: bool,
    /// The PIN's digits, once the subscriber chose one.
    pub pin: Option<String>,
    /// The greetings recorded.
    pub greetings: Greetings,
    /// Wrong PINs keyed since the last right one or the last PIN change (lockouts do not
    /// reset it: each one after the first lasts longer).
    pub pin_failures: u32,
    /// When the settings last changed, seconds since the Unix epoch.
    pub changed_unix: u64,
    /// Until when the mailbox takes no PIN (a lockout after too many wrong ones), seconds
    /// since the Unix epoch; 0 when it never was locked or a right PIN came since.
    pub pin_locked_until_unix: u64,
}

/// Settings as version 1 stored them (no lockout time).
#[derive(bincode::Decode)]
struct MailboxSettingsV1 {
    enabled: bool,
    pin: Option<String>,
    greetings: Greetings,
    pin_failures: u32,
    changed_unix: u64,
}

impl Default for MailboxSettings {
    /// On, no PIN, no greetings.
    fn default() -> MailboxSettings {
        MailboxSettings {
            enabled: true,
            pin: None,
            greetings: Greetings::default(),
            pin_failures: 0,
            changed_unix: 0,
            pin_locked_until_unix: 0,
        }
    }
}

impl MailboxSettings {
    /// The PIN, if one is set (and stored well).
    pub fn pin(&self) -> Option<Pin> {
        self.pin.as_deref().and_then(|p| Pin::parse(p).ok())
    }

    /// The stored bytes (version [`SETTINGS_VERSION`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = store::encode(self);
        out[0] = SETTINGS_VERSION;
        out
    }

    /// Reads settings of this version or of version 1 (read as never locked).
    pub fn decode(bytes: &[u8]) -> Result<MailboxSettings, RecordError> {
        let (&version, body) = bytes.split_first().ok_or(RecordError::Empty)?;
        let mut v = Vec::with_capacity(bytes.len());
        v.push(RECORD_VERSION);
        v.extend_from_slice(body);
        match version {
            SETTINGS_VERSION => store::decode(&v),
            1 => {
                let old: MailboxSettingsV1 = store::decode(&v)?;
                Ok(MailboxSettings {
                    enabled: old.enabled,
                    pin: old.pin,
                    greetings: old.greetings,
                    pin_failures: old.pin_failures,
                    changed_unix: old.changed_unix,
                    pin_locked_until_unix: 0,
                })
            }
            other => Err(RecordError::Version(other)),
        }
    }
}

/// Why a new PIN was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NewPinError {
    #[error("pin of {len} digits, at least {MIN_PIN_LEN}")]
    TooShort { len: usize },
    #[error(transparent)]
    Pin(#[from] PinError),
}

/// A PIN a subscriber chose, checked against the mailbox rules: [`MIN_PIN_LEN`] to
/// [`MAX_PIN_LEN`] digits `0`-`9`.
pub fn new_pin(digits: &str) -> Result<Pin, NewPinError> {
    let pin = Pin::parse(digits)?;
    if digits.len() < MIN_PIN_LEN {
        return Err(NewPinError::TooShort { len: digits.len() });
    }
    debug_assert!(digits.len() <= MAX_PIN_LEN);
    Ok(pin)
}

fn decode_versioned<T: bincode::Decode<()>>(bytes: &[u8]) -> Result<T, RecordError> {
    match bytes.first() {
        Some(&VOICEMAIL_VERSION) => store::decode(bytes),
        Some(&other) => Err(RecordError::Version(other)),
        None => Err(RecordError::Empty),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> VoicemailRecord {
        VoicemailRecord {
            id: VoicemailId(42),
            caller: "+82111234567".into(),
            received_unix: 1_700_000_000,
            duration_ms: 3_020,
            folder: Folder::New,
            bytes: 96_684,
        }
    }

    #[test]
    fn records_and_settings_round_trip_behind_their_version_byte() {
        let r = record();
        let bytes = r.encode();
        assert_eq!(bytes[0], VOICEMAIL_VERSION);
        assert_eq!(VoicemailRecord::decode(&bytes), Ok(r.clone()));
        assert_eq!(r.duration(), Duration::from_millis(3_020));
        let s = MailboxSettings {
            enabled: false,
            pin: Some("4711".into()),
            greetings: Greetings::default().with(Greeting::Busy),
            pin_failures: 3,
            changed_unix: 9,
            pin_locked_until_unix: 1_700_000_900,
        };
        let bytes = s.encode();
        assert_eq!(bytes[0], SETTINGS_VERSION);
        assert_eq!(MailboxSettings::decode(&bytes), Ok(s));
    }

    #[test]
    fn settings_of_version_1_read_as_never_locked() {
        #[derive(bincode::Encode)]
        struct V1 {
            enabled: bool,
            pin: Option<String>,
            greetings: Greetings,
            pin_failures: u32,
            changed_unix: u64,
        }
        let old = store::encode(&V1 {
            enabled: true,
            pin: Some("4711".into()),
            greetings: Greetings::default().with(Greeting::Name),
            pin_failures: 2,
            changed_unix: 7,
        });
        assert_eq!(old[0], 1);
        assert_eq!(
            MailboxSettings::decode(&old),
            Ok(MailboxSettings {
                enabled: true,
                pin: Some("4711".into()),
                greetings: Greetings::default().with(Greeting::Name),
                pin_failures: 2,
                changed_unix: 7,
                pin_locked_until_unix: 0,
            })
        );
    }

    #[test]
    fn unknown_versions_and_damaged_records_are_refused() {
        let mut bytes = record().encode();
        bytes[0] = 2;
        assert_eq!(
            VoicemailRecord::decode(&bytes),
            Err(RecordError::Version(2))
        );
        assert_eq!(VoicemailRecord::decode(&[]), Err(RecordError::Empty));
        let bytes = record().encode();
        assert!(matches!(
            VoicemailRecord::decode(&bytes[..bytes.len() - 1]),
            Err(RecordError::Corrupt(_))
        ));
        let mut bytes = MailboxSettings::default().encode();
        bytes[0] = 3;
        assert_eq!(
            MailboxSettings::decode(&bytes),
            Err(RecordError::Version(3))
        );
    }

    #[test]
    fn a_mailbox_scan_sees_its_messages_in_id_order_and_no_other_mailbox() {
        let mut keys = [
            message_key("1001", VoicemailId(300)),
            message_key("1001", VoicemailId(2)),
            message_key("10011", VoicemailId(1)),
        ];
        keys.sort();
        let prefix = mailbox_prefix("1001");
        let ids: Vec<_> = keys
            .iter()
            .filter(|k| k.starts_with(&prefix))
            .map(|k| id_of_message_key("1001", k).unwrap())
            .collect();
        assert_eq!(ids, [VoicemailId(2), VoicemailId(300)]);
        assert_eq!(
            id_of_message_key("1001", &message_key("10011", VoicemailId(1))),
            None
        );
    }

    #[test]
    fn ids_name_their_files_and_only_those_names_are_ids() {
        assert_eq!(VoicemailId(17).file_name(), "17.wav");
        assert_eq!(VoicemailId::from_file_name("17.wav"), Some(VoicemailId(17)));
        for name in [
            "17.wav.tmp",
            ".wav",
            "x7.wav",
            "+1.wav",
            "greeting-busy.wav",
        ] {
            assert_eq!(VoicemailId::from_file_name(name), None, "{name}");
        }
        assert_eq!("17".parse::<VoicemailId>(), Ok(VoicemailId(17)));
        assert_eq!(VoicemailId(7).to_string(), "7");
    }

    #[test]
    fn folders_and_greetings_have_names_that_parse_back() {
        for f in [Folder::New, Folder::Saved] {
            assert_eq!(Folder::parse(f.as_str()), Some(f));
        }
        assert_eq!(Folder::parse("old"), None);
        for g in Greeting::ALL {
            assert_eq!(Greeting::parse(g.as_str()), Some(g));
        }
        assert_eq!(Greeting::parse("Busy"), None);
        assert_eq!(Greeting::Busy.file_name(), "greeting-busy.wav");
    }

    #[test]
    fn greetings_are_a_set() {
        let mut g = Greetings::default();
        assert!(Greeting::ALL.iter().all(|&k| !g.has(k)));
        g.set(Greeting::Name, true);
        g.set(Greeting::Unavailable, true);
        assert!(g.has(Greeting::Name) && g.has(Greeting::Unavailable));
        assert!(!g.has(Greeting::Busy));
        g.set(Greeting::Name, false);
        assert!(!g.has(Greeting::Name) && g.has(Greeting::Unavailable));
    }

    #[test]
    fn a_mailbox_without_settings_is_on_without_a_pin_and_unlocked() {
        let s = MailboxSettings::default();
        assert!(s.enabled);
        assert_eq!(s.pin(), None);
        assert_eq!(s.pin_locked_until_unix, 0);
        let with_pin = MailboxSettings {
            pin: Some("4711".into()),
            ..s
        };
        assert_eq!(
            with_pin.pin().map(|p| p.as_str().to_owned()),
            Some("4711".into())
        );
    }

    #[test]
    fn new_pins_have_four_to_sixteen_digits() {
        assert_eq!(
            new_pin("4711").map(|p| p.as_str().to_owned()),
            Ok("4711".into())
        );
        assert!(new_pin(&"9".repeat(16)).is_ok());
        assert_eq!(new_pin("471"), Err(NewPinError::TooShort { len: 3 }));
        assert_eq!(new_pin(""), Err(NewPinError::Pin(PinError::Empty)));
        assert_eq!(
            new_pin(&"1".repeat(17)),
            Err(NewPinError::Pin(PinError::TooLong { len: 17 }))
        );
        assert!(matches!(new_pin("47a1"), Err(NewPinError::Pin(_))));
        assert_eq!(
            new_pin("471").unwrap_err().to_string(),
            "pin of 3 digits, at least 4"
        );
    }
}
