//! Voice notices: a text message to a landline, delivered as a call that reads it out.
//!
//! A landline cannot take a text, so a MESSAGE that routing sends to the PSTN trunk group for
//! a fixed-line number (`landline_target`) is accepted like a stored message (202 with its
//! `Message-ID`) and kept as a `VoiceNoticeRecord` in `VOICE_NOTICES_TREE`, keyed by the
//! sequence number its id starts with (`notice_key`, `seq_of_message_id`). The switch then
//! calls the number through the group, plays `read_twice` of the spoken text (a moment of
//! silence, the text, a pause, the text again) and hangs up. `attempts` decides when to call
//! again (busy, no answer, a hang-up before the text was read) and what the notice came to;
//! the record keeps that outcome for the sender to read.
//!
//! No I/O here: the actors speak the text, place the calls and write the records.

pub mod attempts;

pub use attempts::{NoticeAction, NoticeAttempts, Retries};

use std::time::Duration;

use crate::media::SampleRate;
use crate::numbering::{Aor, AorKind, NumberingPlan};
use crate::routing::PSTN_GROUP;
use crate::store::{self, RecordError};

/// Tree of voice notices: `notice_key(seq)` -> `VoiceNoticeRecord`.
pub const VOICE_NOTICES_TREE: &str = "voice_notices";

/// The longest text read out, in bytes: about a minute and a half of speech, said twice.
/// A longer one is refused (`TOO_LONG`) rather than kept on the line for minutes.
pub const MAX_SPOKEN_TEXT: usize = 1200;

/// What the sender of a text too long to read out is answered.
pub const TOO_LONG: (u16, &str) = (413, "Too Long To Read Out");

/// Silence before the first reading, so the callee has the phone at the ear.
pub const LEAD_IN: Duration = Duration::from_millis(500);

/// The pause between the two readings.
pub const PAUSE: Duration = Duration::from_secs(1);

/// The number a MESSAGE is read out to instead of sent: routing chose the PSTN group for it
/// and the plan says it is a fixed line (it cannot receive texts).
pub fn landline_target(plan: &NumberingPlan, group: &str, number: &str) -> Option<Aor> {
    if group != PSTN_GROUP {
        return None;
    }
    let aor = Aor::from_canonical(number);
    (aor.kind() == AorKind::E164 && plan.is_landline(&aor)).then_some(aor)
}

/// Why a call of a notice, or the notice itself, did not deliver it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum Cause {
    /// The line was busy (486, 600).
    Busy,
    /// Nobody answered: the ring limit ran out (our CANCEL, 487), or the far end said so
    /// (408, 480).
    NoAnswer,
    /// Answered, then hung up before the text was read to its end once.
    HungUp,
    /// The far end refused the call for good (404, 484, 603, any other final).
    Rejected,
    /// Every trunk of the group failed (5xx, or silence).
    TrunkFailed,
    /// The text could not be spoken (the synthesizer failed).
    NotSpoken,
    /// The switch could not place the call (no trunk in the group, no media port).
    Unplaceable,
}

impl Cause {
    /// The cause of a final response above 299 to the notice's INVITE (after trunk
    /// failover): busy, no answer, a failed trunk, or a refusal.
    pub fn of_final(code: u16) -> Cause {
        match code {
            486 | 600 => Cause::Busy,
            408 | 480 | 487 => Cause::NoAnswer,
            500..=599 => Cause::TrunkFailed,
            _ => Cause::Rejected,
        }
    }

    /// Whether another call may do better later: busy, no answer, hung up early.
    pub fn is_retried(self) -> bool {
        matches!(self, Cause::Busy | Cause::NoAnswer | Cause::HungUp)
    }

    /// Its name in the API, the metrics and the logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Busy => "busy",
            Cause::NoAnswer => "no_answer",
            Cause::HungUp => "hung_up",
            Cause::Rejected => "rejected",
            Cause::TrunkFailed => "trunk_failed",
            Cause::NotSpoken => "not_spoken",
            Cause::Unplaceable => "unplaceable",
        }
    }
}

/// A call (or notice) that did not deliver: why, and the SIP status that said so (0: none,
/// such as a hang-up or a text that could not be spoken).
#[derive(Copy, Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Failure {
    pub cause: Cause,
    pub code: u16,
}

impl Failure {
    pub fn new(cause: Cause, code: u16) -> Failure {
        Failure { cause, code }
    }

    /// A final response above 299 to the INVITE.
    pub fn of_final(code: u16) -> Failure {
        Failure::new(Cause::of_final(code), code)
    }
}

/// What one call of a notice came to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AttemptResult {
    /// Answered, and the text was read out to its end (at least once).
    Delivered,
    Failed(Failure),
}

/// Where a notice stands.
#[derive(Copy, Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum NoticeState {
    /// Being called, or waiting to be called again; `last`: why the last call did not
    /// deliver it (none yet: no call ended).
    Pending { last: Option<Failure> },
    /// Answered and read out.
    Delivered,
    /// No call will deliver it.
    Failed(Failure),
}

impl NoticeState {
    /// `pending`, `delivered` or `failed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            NoticeState::Pending { .. } => "pending",
            NoticeState::Delivered => "delivered",
            NoticeState::Failed(_) => "failed",
        }
    }

    pub fn is_pending(&self) -> bool {
        matches!(self, NoticeState::Pending { .. })
    }
}

/// A text message to a landline, kept with its delivery by voice.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct VoiceNoticeRecord {
    /// The `Message-ID` the sender was answered with (`super::message_id`).
    pub id: String,
    /// The landline: a canonical E.164 number.
    pub to: String,
    /// The trunk group the calls go through.
    pub group: String,
    /// The sender for people: a canonical number or a SIP URI.
    pub sender: String,
    /// The text read out.
    pub text: String,
    /// When the switch accepted it (milliseconds since the Unix epoch).
    pub accepted_unix_ms: u64,
    /// Calls that ended so far.
    pub attempts: u32,
    pub state: NoticeState,
    /// When `state` or `attempts` last changed (milliseconds since the Unix epoch).
    pub updated_unix_ms: u64,
}

impl VoiceNoticeRecord {
    /// The stored bytes: the store's version byte, then bincode.
    pub fn encode(&self) -> Vec<u8> {
        store::encode(self)
    }

    /// Reads every version written so far (1, the first); refuses others.
    pub fn decode(bytes: &[u8]) -> Result<VoiceNoticeRecord, RecordError> {
        store::decode(bytes)
    }
}

/// The key of notice `seq` in `VOICE_NOTICES_TREE`: big-endian, so a scan is in acceptance
/// order.
pub fn notice_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// The sequence number of a notice key.
pub fn seq_of_key(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

/// The sequence number a message id (`super::message_id`) starts with.
pub fn seq_of_message_id(id: &str) -> Option<u64> {
    let (hex, rest) = id.split_once('.')?;
    if hex.is_empty() || hex.len() > 16 || rest.is_empty() {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

/// `text` with its numbers spelled digit by digit for a synthesizer (`+82 10-1234` reads
/// "plus 8 2 1 0, 1 2 3 4"): a phone number or a one-time password read as one large number
/// means nothing to a listener. Everything else is left as it is.
pub fn spell_digits(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() * 2);
    for (i, &c) in chars.iter().enumerate() {
        let next_digit = chars.get(i + 1).is_some_and(char::is_ascii_digit);
        let prev_digit = i > 0 && chars[i - 1].is_ascii_digit();
        match c {
            '0'..='9' => {
                out.push(c);
                if next_digit {
                    out.push(' ');
                }
            }
            '+' if next_digit => out.push_str("plus "),
            '-' if prev_digit && next_digit => out.push_str(", "),
            _ => out.push(c),
        }
    }
    out
}

/// What a notice call plays: `LEAD_IN` of silence, the spoken text, a `PAUSE`, the text
/// again, all at the speech's `rate`.
pub fn read_twice(speech: &[i16], rate: SampleRate) -> Vec<i16> {
    let samples = |d: Duration| (d.as_millis() as usize) * rate.hz() as usize / 1000;
    let (lead, pause) = (samples(LEAD_IN), samples(PAUSE));
    let mut out = Vec::with_capacity(lead + pause + 2 * speech.len());
    out.resize(lead, 0);
    out.extend_from_slice(speech);
    out.resize(out.len() + pause, 0);
    out.extend_from_slice(speech);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> NumberingPlan {
        NumberingPlan::new("KR").unwrap()
    }

    #[test]
    fn only_fixed_lines_routed_to_the_pstn_group_are_read_out() {
        let plan = plan();
        let seoul = landline_target(&plan, "pstn", "+82221234567");
        assert_eq!(seoul, Some(Aor::from_canonical("+82221234567")));
        assert_eq!(
            landline_target(&plan, "pstn", "+821012345678"),
            None,
            "a mobile"
        );
        assert_eq!(
            landline_target(&plan, "carrier-b", "+82221234567"),
            None,
            "another provider's trunk takes texts its own way"
        );
        assert_eq!(
            landline_target(&plan, "pstn", "0221234567"),
            None,
            "not E.164"
        );
    }

    #[test]
    fn final_codes_map_to_causes_and_only_busy_no_answer_and_hang_ups_are_retried() {
        let cases = [
            (486, Cause::Busy),
            (600, Cause::Busy),
            (408, Cause::NoAnswer),
            (480, Cause::NoAnswer),
            (487, Cause::NoAnswer),
            (503, Cause::TrunkFailed),
            (404, Cause::Rejected),
            (603, Cause::Rejected),
        ];
        for (code, cause) in cases {
            assert_eq!(Cause::of_final(code), cause, "{code}");
        }
        let retried: Vec<Cause> = [
            Cause::Busy,
            Cause::NoAnswer,
            Cause::HungUp,
            Cause::Rejected,
            Cause::TrunkFailed,
            Cause::NotSpoken,
            Cause::Unplaceable,
        ]
        .into_iter()
        .filter(|c| c.is_retried())
        .collect();
        assert_eq!(retried, [Cause::Busy, Cause::NoAnswer, Cause::HungUp]);
    }

    #[test]
    fn records_round_trip_and_ids_give_back_their_sequence() {
        let id = super::super::message_id(0x2a, "k3x9", "sb.example");
        assert_eq!(seq_of_message_id(&id), Some(0x2a));
        assert_eq!(seq_of_message_id("zz.x@h"), None);
        assert_eq!(seq_of_message_id("2a"), None);
        assert_eq!(seq_of_message_id(".x@h"), None);
        let rec = VoiceNoticeRecord {
            id,
            to: "+82221234567".into(),
            group: "pstn".into(),
            sender: "+821099990000".into(),
            text: "the office is closed today".into(),
            accepted_unix_ms: 1_700_000_000_000,
            attempts: 2,
            state: NoticeState::Failed(Failure::new(Cause::Busy, 486)),
            updated_unix_ms: 1_700_000_060_000,
        };
        assert_eq!(VoiceNoticeRecord::decode(&rec.encode()), Ok(rec.clone()));
        let mut bytes = rec.encode();
        bytes[0] = 9;
        assert_eq!(
            VoiceNoticeRecord::decode(&bytes),
            Err(RecordError::Version(9))
        );
        assert_eq!(seq_of_key(&notice_key(77)), Some(77));
        assert!(notice_key(2) < notice_key(256), "keys sort by sequence");
    }

    #[test]
    fn numbers_are_spelled_digit_by_digit_and_words_are_left_alone() {
        assert_eq!(
            spell_digits("+82 10-1234-5678"),
            "plus 8 2 1 0, 1 2 3 4, 5 6 7 8"
        );
        assert_eq!(
            spell_digits("your password is 482913."),
            "your password is 4 8 2 9 1 3."
        );
        assert_eq!(
            spell_digits("see you at 7 - or later"),
            "see you at 7 - or later"
        );
        assert_eq!(spell_digits("C++ and -3"), "C++ and -3");
        assert_eq!(spell_digits(""), "");
    }

    #[test]
    fn the_text_is_read_twice_after_a_lead_in_with_a_pause_between() {
        let rate = SampleRate::new(22_050).unwrap();
        let speech: Vec<i16> = (1..=441).map(|i| i as i16).collect();
        let played = read_twice(&speech, rate);
        let (lead, pause) = (11_025, 22_050);
        assert_eq!(played.len(), lead + 441 + pause + 441);
        assert!(played[..lead].iter().all(|&s| s == 0));
        assert_eq!(&played[lead..lead + 441], &speech[..]);
        assert!(played[lead + 441..lead + 441 + pause]
            .iter()
            .all(|&s| s == 0));
        assert_eq!(&played[lead + 441 + pause..], &speech[..]);
    }
}
