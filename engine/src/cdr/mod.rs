//! Call detail records: the one record every call (on-net and off-net) ends with.
//!
//! A [`CallRecord`] is built by the CallLeg when its call is over, from what the switch saw:
//! the parties as dialed and as routed, the trunk, the times of setup, answer and end, the
//! outcome and its SIP cause, the media mode and the routing plugin's version. Off-net calls
//! are rated into [`CallRecord::charge`] before the record is written. The record is the input
//! of the durable CDR log, of its CSV / JSON-lines exports and of the per-day analytics.
//!
//! Times are milliseconds since the Unix epoch, given by the caller (the engine reads no clock);
//! money is in integer minor units of its currency (cents), never floating point.
//!
//! The parties are text as people write numbers: [`party`] makes it from a URI's user part
//! with its escapes decoded (`6200-6200#082`, not `6200-6200%23082`), and
//! [`CallRecord::involves`] finds a number among them however it was spelled.
//!
//! Stored in the sled tree [`CDR_TREE`] under its id (big-endian), encoded with the store's one
//! bincode configuration and version byte ([`CallRecord::encode`]); `export` writes it as CSV
//! or JSON lines.

pub mod export;

use std::fmt::Write;

use crate::numbering::is_separator;
use crate::sip::Uri;

/// The tree of the durable CDR log: id (big-endian u64) to record.
pub const CDR_TREE: &str = "cdrs";

/// How a call ended, as an operator reads it in a record or a chart (ASR counts `Answered`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum Outcome {
    /// A 2xx was received: the call was talked (its duration may still be zero).
    Answered,
    /// The callee was busy (486, 600).
    Busy,
    /// Nobody answered before the ring time or the caller gave up (408, 480, 487 after ringing).
    NoAnswer,
    /// The caller cancelled before any answer and before ringing.
    Cancelled,
    /// The switch or the callee refused the call (403, 404, 402, 484, 488...).
    Rejected,
    /// Something failed: no route, trunk down, 5xx, media timeout before the answer.
    Failed,
}

impl Outcome {
    /// The word used in exports and the API (`answered`, `busy`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Busy => "busy",
            Outcome::NoAnswer => "no-answer",
            Outcome::Cancelled => "cancelled",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
        }
    }

    /// The outcome of a call that ended with final status `status` (0: no final answer,
    /// the caller cancelled), `rang` telling whether a 180/183 had been seen.
    pub fn from_status(status: u16, rang: bool) -> Outcome {
        match status {
            200..=299 => Outcome::Answered,
            486 | 600 => Outcome::Busy,
            408 | 480 => Outcome::NoAnswer,
            0 | 487 if rang => Outcome::NoAnswer,
            0 | 487 => Outcome::Cancelled,
            400..=499 | 603..=699 => Outcome::Rejected,
            _ => Outcome::Failed,
        }
    }
}

/// How the media of a call flowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum MediaMode {
    /// The phones sent media to each other (or the call never had media).
    Direct,
    /// Through the switch's relay.
    Anchored,
}

impl MediaMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaMode::Direct => "direct",
            MediaMode::Anchored => "anchored",
        }
    }
}

/// What an off-net call costs, as rated against a tariff table.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Charge {
    /// The tariff table used (its name).
    pub table: String,
    /// The destination prefix that matched (the longest).
    pub prefix: String,
    /// Seconds billed after the increments were applied.
    pub billed_secs: u32,
    /// The amount, in minor units of `currency` (cents).
    pub amount_minor: i64,
    /// ISO 4217 code (`EUR`, `KRW`...).
    pub currency: String,
}

/// One call's record.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct CallRecord {
    /// The record's id: unique in the switch's log, given by the writer in order.
    pub id: u64,
    /// The caller's Call-ID (the first leg's).
    pub call_id: String,
    /// The caller as identified (canonical number, or the From user of a trunk caller).
    pub caller: String,
    /// The callee as dialed (the Request-URI user of the first INVITE).
    pub dialed: String,
    /// The callee as routed (canonical number, or the number sent to a trunk), when routed.
    pub routed: Option<String>,
    /// The trunk the call left or entered by, when it did.
    pub trunk: Option<String>,
    /// The destination's country (ISO 3166 alpha-2) when the numbering plan knows it.
    pub country: Option<String>,
    pub setup_unix_ms: u64,
    pub answer_unix_ms: Option<u64>,
    pub end_unix_ms: u64,
    pub outcome: Outcome,
    /// The final SIP status (0 when the caller cancelled before any) and why the call ended
    /// (`hung up by the caller`, `media timeout`, `credit exhausted`...).
    pub cause: u16,
    pub reason: String,
    pub media: MediaMode,
    /// The routing plugin's version that decided the call.
    pub plugin_version: u64,
    /// What the call costs, for rated (off-net) calls.
    pub charge: Option<Charge>,
}

impl CallRecord {
    /// The stored form (version byte, bincode).
    pub fn encode(&self) -> Vec<u8> {
        crate::store::encode(self)
    }

    /// A record from its stored form.
    pub fn decode(bytes: &[u8]) -> Result<CallRecord, crate::store::RecordError> {
        crate::store::decode(bytes)
    }

    /// Whether `number` is one of the parties (caller, as dialed or as routed). A dial string
    /// (digits, `+`, `*`, `#` and the separators people write) matches however a party spelled
    /// it: `6200-7777#082` is a record's `62007777#082`, and also the `6200-7777%23082` of a
    /// record written before parties were decoded.
    pub fn involves(&self, number: &str) -> bool {
        if number.is_empty() {
            return false;
        }
        let parties = [
            self.caller.as_str(),
            self.dialed.as_str(),
            self.routed.as_deref().unwrap_or(""),
        ];
        parties.contains(&number)
            || is_dial_string(number) && parties.iter().any(|p| same_symbols(p, number))
    }

    /// Talked time: from the answer to the end, zero for calls never answered.
    pub fn duration_ms(&self) -> u64 {
        self.answer_unix_ms
            .map_or(0, |a| self.end_unix_ms.saturating_sub(a))
    }
}

/// A party as a record keeps it: the user part of `uri` (empty when it has none) with its
/// escapes decoded (RFC 3261 §19.1.2: `6200-6200%23082` is `6200-6200#082`), except for `%`
/// itself and control characters, which stay escaped (`%25`, `%0A`): a record's text reads
/// back without ambiguity and stays one line of its CSV day file. Escapes that decode to no
/// UTF-8 are replaced (U+FFFD), as [`Uri::user_unescaped`] does.
pub fn party(uri: &Uri<'_>) -> String {
    let Some(user) = uri.user_unescaped() else {
        return String::new();
    };
    if !user.contains(|c: char| c == '%' || c.is_control()) {
        return user.into_owned();
    }
    let mut out = String::with_capacity(user.len() + 8);
    for c in user.chars() {
        if c == '%' || c.is_control() {
            let mut utf8 = [0; 4];
            for b in c.encode_utf8(&mut utf8).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Digits with `+ * #` and separators, at least one digit.
fn is_dial_string(s: &str) -> bool {
    s.bytes().any(|c| c.is_ascii_digit())
        && s.bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'+' | b'*' | b'#') || is_separator(c))
}

/// Whether `a` and `b` write the same symbols once their escapes are decoded and their
/// separators left out.
fn same_symbols(a: &str, b: &str) -> bool {
    symbols(a).eq(symbols(b))
}

/// The bytes of `s` with `%XX` escapes decoded, separators left out.
fn symbols(s: &str) -> impl Iterator<Item = u8> + '_ {
    let b = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || loop {
        let c = *b.get(i)?;
        let escaped = (c == b'%')
            .then(|| Some(hex(*b.get(i + 1)?)? << 4 | hex(*b.get(i + 2)?)?))
            .flatten();
        let (c, len) = escaped.map_or((c, 1), |d| (d, 3));
        i += len;
        if !is_separator(c) {
            return Some(c);
        }
    })
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_of(uri: &str) -> String {
        party(&Uri::parse(uri).unwrap())
    }

    #[test]
    fn a_party_is_the_user_part_with_its_escapes_decoded() {
        assert_eq!(user_of("sip:6200-6200%23082@h"), "6200-6200#082");
        assert_eq!(user_of("sip:%2B82111234567@h;user=phone"), "+82111234567");
        assert_eq!(user_of("sip:alice@h"), "alice");
        assert_eq!(user_of("sip:h"), "");
        assert_eq!(user_of("tel:+82-11-123"), "+82-11-123");
    }

    #[test]
    fn a_party_keeps_percent_and_control_characters_escaped() {
        assert_eq!(user_of("sip:a%0Ab%0d%00c@h"), "a%0Ab%0D%00c");
        assert_eq!(user_of("sip:100%25@h"), "100%25");
        assert_eq!(user_of("sip:caf%C3%A9@h"), "café");
        let p = user_of("sip:x%C2%85y@h");
        assert_eq!(p, "x%C2%85y", "a C1 control (NEL) is escaped whole");
    }

    fn with_parties(caller: &str, dialed: &str, routed: Option<&str>) -> CallRecord {
        CallRecord {
            id: 1,
            call_id: "c".into(),
            caller: caller.into(),
            dialed: dialed.into(),
            routed: routed.map(Into::into),
            trunk: None,
            country: None,
            setup_unix_ms: 0,
            answer_unix_ms: None,
            end_unix_ms: 0,
            outcome: Outcome::Busy,
            cause: 486,
            reason: String::new(),
            media: MediaMode::Direct,
            plugin_version: 0,
            charge: None,
        }
    }

    #[test]
    fn an_enterprise_number_is_found_however_it_was_dialled() {
        let spaced = with_parties("+82111230001", "6200-7777#082", Some("ent-62007777-082"));
        let packed = with_parties("+82111230001", "62007777#082", None);
        let legacy = with_parties("+82111230001", "6200-7777%23082", None);
        for r in [&spaced, &packed, &legacy] {
            for asked in ["6200-7777#082", "62007777#082", "6200 7777 #082"] {
                assert!(r.involves(asked), "{asked} in {r:?}");
            }
            assert!(!r.involves("6200-7778#082"), "another number: {r:?}");
            assert!(!r.involves("62007777#08"), "a shorter one: {r:?}");
            assert!(
                r.involves("+82 11 123 0001"),
                "the caller spelled with spaces"
            );
        }
        assert!(spaced.involves("ent-62007777-082"), "as routed");
    }

    #[test]
    fn names_match_only_as_written() {
        let r = with_parties("alice.smith", "bob", None);
        assert!(r.involves("alice.smith") && r.involves("bob"));
        assert!(!r.involves("alicesmith"), "a name is no dial string");
        assert!(!r.involves(""), "nothing is no party");
    }

    #[test]
    fn a_cancel_after_ringing_is_no_answer_and_before_it_is_cancelled() {
        assert_eq!(Outcome::from_status(487, true), Outcome::NoAnswer);
        assert_eq!(Outcome::from_status(0, false), Outcome::Cancelled);
        assert_eq!(Outcome::from_status(486, true), Outcome::Busy);
        assert_eq!(Outcome::from_status(404, false), Outcome::Rejected);
        assert_eq!(Outcome::from_status(503, false), Outcome::Failed);
        assert_eq!(Outcome::from_status(200, true), Outcome::Answered);
    }

    #[test]
    fn duration_runs_from_the_answer_to_the_end() {
        let mut r = CallRecord {
            id: 1,
            call_id: "c".into(),
            caller: "+1".into(),
            dialed: "2".into(),
            routed: None,
            trunk: None,
            country: None,
            setup_unix_ms: 1_000,
            answer_unix_ms: Some(3_000),
            end_unix_ms: 63_500,
            outcome: Outcome::Answered,
            cause: 200,
            reason: "hung up by the caller".into(),
            media: MediaMode::Direct,
            plugin_version: 1,
            charge: None,
        };
        assert_eq!(r.duration_ms(), 60_500);
        r.answer_unix_ms = None;
        assert_eq!(r.duration_ms(), 0);
    }
}
