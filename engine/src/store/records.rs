//! The stored records: accounts (digest HA1 values, never passwords) and registrar bindings.

use std::net::SocketAddr;

use crate::flow::Transport;
use crate::presence::caps::Caps;

/// A subscriber account. Only HA1 values are kept, one per user-name spelling a phone may use.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct AccountRecord {
    /// The realm the HA1 values were computed for.
    pub realm: String,
    pub credentials: Vec<Credential>,
    pub created_unix: u64,
}

/// HA1 = H(username:realm:password) for one user-name spelling, in MD5 and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Credential {
    pub username: String,
    pub md5: [u8; 16],
    pub sha256: [u8; 32],
}

impl AccountRecord {
    /// The credential for a user name exactly as the phone sent it.
    pub fn credential(&self, username: &str) -> Option<&Credential> {
        self.credentials.iter().find(|c| c.username == username)
    }
}

/// All bindings of one address of record.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct BindingsRecord {
    pub bindings: Vec<BindingRecord>,
}

/// The version byte of bindings records: 2 since bindings carry their device's capabilities.
/// Records of version 1 (without them) are still read, as devices that declared nothing.
pub const BINDINGS_VERSION: u8 = 2;

impl BindingsRecord {
    /// How many bindings an encoded record holds, read from its length prefix without decoding
    /// the bindings (the store keeps a gauge of bindings on every write).
    pub fn count_encoded(bytes: &[u8]) -> Option<usize> {
        // version byte, then the Vec length as a fixed-width big-endian u64
        let len: [u8; 8] = bytes.get(1..9)?.try_into().ok()?;
        matches!(bytes.first(), Some(&1 | &BINDINGS_VERSION))
            .then(|| u64::from_be_bytes(len) as usize)
    }

    /// The stored bytes (version `BINDINGS_VERSION`).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = super::encode(self);
        out[0] = BINDINGS_VERSION;
        out
    }

    /// Reads a record of this version or of version 1.
    pub fn decode(bytes: &[u8]) -> Result<BindingsRecord, super::RecordError> {
        let (&version, body) = bytes.split_first().ok_or(super::RecordError::Empty)?;
        let mut v = Vec::with_capacity(bytes.len());
        v.push(super::RECORD_VERSION);
        v.extend_from_slice(body);
        match version {
            BINDINGS_VERSION => super::decode(&v),
            1 => {
                let old: BindingsRecordV1 = super::decode(&v)?;
                Ok(BindingsRecord {
                    bindings: old.bindings.into_iter().map(BindingRecord::from).collect(),
                })
            }
            other => Err(super::RecordError::Version(other)),
        }
    }
}

/// Bindings as version 1 stored them (no capabilities).
#[derive(bincode::Decode)]
struct BindingsRecordV1 {
    bindings: Vec<BindingRecordV1>,
}

#[derive(bincode::Decode)]
struct BindingRecordV1 {
    uri: String,
    q: Option<u16>,
    expires_at: u64,
    call_id: String,
    cseq: u32,
    instance: Option<String>,
    reg_id: Option<u32>,
    transport: Transport,
    source: SocketAddr,
    conn: Option<u64>,
}

impl From<BindingRecordV1> for BindingRecord {
    fn from(b: BindingRecordV1) -> BindingRecord {
        BindingRecord {
            uri: b.uri,
            q: b.q,
            expires_at: b.expires_at,
            call_id: b.call_id,
            cseq: b.cseq,
            instance: b.instance,
            reg_id: b.reg_id,
            transport: b.transport,
            source: b.source,
            conn: b.conn,
            caps: Caps::assumed(),
        }
    }
}

/// One registered contact (RFC 3261 §10.3).
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct BindingRecord {
    /// Contact URI as registered (without angle brackets).
    pub uri: String,
    /// q-value times 1000, when given.
    pub q: Option<u16>,
    /// Absolute expiry, seconds since the Unix epoch.
    pub expires_at: u64,
    pub call_id: String,
    pub cseq: u32,
    /// `+sip.instance` (RFC 5626), when given.
    pub instance: Option<String>,
    pub reg_id: Option<u32>,
    /// How the REGISTER arrived, to reach the device through the same flow.
    pub transport: Transport,
    pub source: SocketAddr,
    /// Stream connection the REGISTER arrived on (valid only while this process runs).
    pub conn: Option<u64>,
    /// What the device can take, from its Contact feature tags (RFC 3840).
    pub caps: Caps,
}

/// A dynamic account: made by the switch when its number was first messaged or called, kept
/// until its owner signs in (then this record goes and the account stays) or until
/// `expires_unix`, when it is removed with its queue.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct DynamicRecord {
    pub created_unix: u64,
    pub expires_unix: u64,
}

/// Why a one-time password was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum OtpPurpose {
    /// Sent with a message notice to a dynamic account nobody claimed yet.
    SignIn,
    /// Asked for with a password reset.
    Reset,
}

/// A one-time password: HA1 values like an account's, accepted besides the account's own
/// password until `expires_unix`. A newer one replaces it; setting a password removes it.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct OtpRecord {
    pub credentials: Vec<Credential>,
    pub purpose: OtpPurpose,
    pub expires_unix: u64,
}

impl OtpRecord {
    /// The record as an account for the digest check (same realm, these credentials).
    pub fn as_account(&self, realm: &str) -> AccountRecord {
        AccountRecord {
            realm: realm.to_owned(),
            credentials: self.credentials.clone(),
            created_unix: 0,
        }
    }
}
