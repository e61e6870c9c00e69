//! Record formats and keys of the durable store.
//!
//! Only the actors open the database; this module says what the bytes are. Every value is one
//! version byte followed by bincode with one configuration store-wide (big-endian, fixed-width
//! integers) so records stay readable across releases: a reader refuses versions it does not
//! know instead of misreading them.

pub mod buddies;
pub mod conferences;
pub mod recordings;
pub mod records;
pub mod rooms;

pub use buddies::{Authorization, BuddyRecord, GrantState, WatchGrant};
pub use conferences::{ConferenceRecord, CONFERENCES_TREE};
pub use recordings::{
    RecordingId, RecordingRecord, RecordingSettings, RecordingState, RECORDINGS_BY_NUMBER_TREE,
    RECORDINGS_TREE, RECORDING_SETTINGS_TREE,
};
pub use records::{
    AccountRecord, BindingRecord, BindingsRecord, Credential, DynamicRecord, OtpPurpose, OtpRecord,
    BINDINGS_VERSION,
};
pub use rooms::{MemberRecord, RoomEntry, RoomRecord, ROOMS_TREE, ROOM_HISTORY_TREE};

/// Version byte written before every record.
pub const RECORD_VERSION: u8 = 1;

/// Tree holding accounts, keyed by canonical address.
pub const ACCOUNTS_TREE: &str = "accounts";
/// Tree holding registrar bindings, keyed by canonical address.
pub const BINDINGS_TREE: &str = "bindings";
/// Tree holding forwarding settings (`forwarding::ForwardingRecord`), keyed by canonical
/// address.
pub const FORWARDING_TREE: &str = "forwarding";
/// Tree marking dynamic accounts nobody claimed yet (`DynamicRecord`), keyed by canonical
/// address.
pub const DYNAMIC_TREE: &str = "dynamic";
/// Tree of one-time passwords (`OtpRecord`), keyed by canonical address.
pub const OTP_TREE: &str = "otp";
/// Tree of buddy list entries (`BuddyRecord`), keyed `owner 0x00 buddy` (`buddies::pair_key`).
pub const BUDDIES_TREE: &str = "buddies";
/// Tree of presence watch grants (`WatchGrant`), keyed `owner 0x00 watcher`.
pub const WATCH_GRANTS_TREE: &str = "watch_grants";

/// Why stored bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    #[error("empty record")]
    Empty,
    #[error("unknown record version {0}")]
    Version(u8),
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

/// The most bytes a record's decoding may claim: far above any record, far below what a
/// corrupt length prefix could ask for (without a limit, one asking for exabytes aborts the
/// process on the allocation instead of failing the read).
const MAX_RECORD_CLAIM: usize = 1 << 28;

fn config() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_big_endian()
        .with_fixed_int_encoding()
        .with_limit::<MAX_RECORD_CLAIM>()
}

/// Encodes a record with its version byte.
pub fn encode<T: bincode::Encode>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.push(RECORD_VERSION);
    // straight after the version byte: no second buffer and copy (a stored MESSAGE is encoded
    // on the queue writer's thread, once per message). Encoding into a Vec cannot fail for
    // these plain data types; if it did, the record is the version byte alone, as before.
    if bincode::encode_into_std_write(value, &mut out, config()).is_err() {
        out.truncate(1);
    }
    out
}

/// Decodes a record written by `encode`.
pub fn decode<T: bincode::Decode<()>>(bytes: &[u8]) -> Result<T, RecordError> {
    let (&version, body) = bytes.split_first().ok_or(RecordError::Empty)?;
    if version != RECORD_VERSION {
        return Err(RecordError::Version(version));
    }
    let (value, used) = bincode::decode_from_slice(body, config())
        .map_err(|e| RecordError::Corrupt(e.to_string()))?;
    if used != body.len() {
        return Err(RecordError::Corrupt(format!(
            "{} trailing bytes",
            body.len() - used
        )));
    }
    Ok(value)
}

/// The key of an address in the accounts and bindings trees.
pub fn aor_key(aor: &crate::numbering::Aor) -> &[u8] {
    aor.as_str().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_with_their_version() {
        let acc = AccountRecord {
            realm: "switchboard".into(),
            credentials: vec![Credential {
                username: "+82111234567".into(),
                md5: [1; 16],
                sha256: [2; 32],
            }],
            created_unix: 1_700_000_000,
        };
        let bytes = encode(&acc);
        assert_eq!(bytes[0], RECORD_VERSION);
        assert_eq!(decode::<AccountRecord>(&bytes).unwrap(), acc);
    }

    #[test]
    fn a_record_is_its_version_byte_then_the_bincode_body_as_stored_so_far() {
        let m = crate::messaging::StoredMessage {
            id: "1.abc@example.com".into(),
            from: "<sip:1002@example.com>".into(),
            sender: "1002".into(),
            content_type: "text/plain".into(),
            body: vec![b'x'; 300],
            accepted_unix_ms: 1_700_000_000_123,
            expires_unix: 1_700_604_800,
        };
        let mut expected = vec![RECORD_VERSION];
        expected.extend(bincode::encode_to_vec(&m, config()).unwrap());
        assert_eq!(encode(&m), expected);
    }

    #[test]
    fn the_binding_count_is_read_from_the_length_prefix() {
        let b = BindingRecord {
            uri: "sip:a@b".into(),
            q: None,
            expires_at: 1,
            call_id: "c".into(),
            cseq: 1,
            instance: None,
            reg_id: None,
            transport: crate::flow::Transport::Udp,
            source: "127.0.0.1:5060".parse().unwrap(),
            conn: None,
            caps: crate::presence::caps::Caps::AUDIO,
        };
        let rec = BindingsRecord {
            bindings: vec![b.clone(), b.clone(), b],
        };
        assert_eq!(BindingsRecord::count_encoded(&rec.encode()), Some(3));
        assert_eq!(BindingsRecord::decode(&rec.encode()).unwrap(), rec);
        assert_eq!(BindingsRecord::count_encoded(&[9, 0]), None);
    }

    #[test]
    fn bindings_of_version_1_are_read_as_devices_that_declared_nothing() {
        #[allow(clippy::type_complexity)]
        #[derive(bincode::Encode)]
        struct V1 {
            bindings: Vec<(
                String,
                Option<u16>,
                u64,
                String,
                u32,
                Option<String>,
                Option<u32>,
                crate::flow::Transport,
                std::net::SocketAddr,
                Option<u64>,
            )>,
        }
        let old = V1 {
            bindings: vec![(
                "sip:a@b".into(),
                Some(500),
                7,
                "c".into(),
                3,
                None,
                None,
                crate::flow::Transport::Udp,
                "127.0.0.1:5060".parse().unwrap(),
                None,
            )],
        };
        let bytes = encode(&old);
        assert_eq!(bytes[0], 1);
        let rec = BindingsRecord::decode(&bytes).unwrap();
        assert_eq!(rec.bindings[0].uri, "sip:a@b");
        assert_eq!(rec.bindings[0].q, Some(500));
        assert_eq!(rec.bindings[0].caps, crate::presence::caps::Caps::assumed());
        assert_eq!(BindingsRecord::count_encoded(&bytes), Some(1));
    }

    #[test]
    fn unknown_versions_and_corruption_are_refused() {
        let mut bytes = BindingsRecord::default().encode();
        bytes[0] = 9;
        assert_eq!(BindingsRecord::decode(&bytes), Err(RecordError::Version(9)));
        assert_eq!(decode::<BindingsRecord>(&[]), Err(RecordError::Empty));
        assert!(matches!(
            decode::<AccountRecord>(&[RECORD_VERSION, 0, 0]),
            Err(RecordError::Corrupt(_))
        ));
    }

    #[test]
    fn a_corrupt_length_prefix_is_refused_not_allocated() {
        // a string whose length says 0x5527... bytes: read as corrupt, not an abort
        let mut bytes = vec![RECORD_VERSION];
        bytes.extend_from_slice(&0x5527_0000_0000_0000u64.to_be_bytes());
        bytes.extend_from_slice(b"short");
        assert!(matches!(
            decode::<String>(&bytes),
            Err(RecordError::Corrupt(_))
        ));
    }
}
