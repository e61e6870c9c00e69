//! Hot desk: any registered phone of the network signs in as a member by dialing
//! `*55<number>*<pin>` (the member's number on the switch and its hot-desk PIN), and out by
//! dialing `*56`. While signed in, and until [`HotDeskSession::until_unix`]
//! (`[hotdesk] max_hours`), calls to the member's number ring that phone too and calls from it
//! present the member's number.
//!
//! `*55` dialed alone answers with a voice menu that asks the number and the PIN by keys
//! (`super::hotdesk_menu`) and signs in the same way.
//!
//! [`HotDeskCode::parse`] reads the dial string (a Request-URI user, unescaped); the PIN is
//! kept as a salted hash ([`PinHash`]) and wrong PINs lock hot desk out like a mailbox
//! (`voicemail::lockout`'s rules: after `failures` wrong ones in a row, for `first`, twice as
//! long each further round, up to `longest`). Time is a parameter.

use std::time::Duration;

use super::record::MemberRecord;
use super::secret::PinHash;
use crate::voicemail::PinLockout;

/// Dialed to sign a phone in: `*55<number>*<pin>`.
pub const SIGN_IN: &str = "*55";
/// Dialed to sign a phone out: `*56`.
pub const SIGN_OUT: &str = "*56";
/// Shortest and longest hot-desk PIN, in digits.
pub const PIN_DIGITS: std::ops::RangeInclusive<usize> = 4..=8;
/// Most digits of the number in a sign-in (E.164 has 15, national forms a few more).
pub(super) const MAX_NUMBER_DIGITS: usize = 17;

/// A hot-desk dial string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HotDeskCode {
    /// `*55<number>*<pin>`: the number as dialed (digits, an optional leading `+`).
    SignIn { number: String, pin: String },
    /// `*55` alone: the voice menu asks for the number and the PIN.
    Menu,
    /// `*56`.
    SignOut,
}

/// Why a hot-desk dial string is refused. Carries nothing of the input: it holds a PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HotDeskParseError {
    #[error("hot desk needs the number and the PIN: *55<number>*<pin>")]
    Incomplete,
    #[error("the number of a hot-desk sign-in is not a phone number")]
    BadNumber,
    #[error("a hot-desk PIN is 4 to 8 digits")]
    BadPin,
    #[error("*56 takes nothing after it")]
    Trailing,
}

impl HotDeskCode {
    /// The hot-desk code `user` dials; `None` when it is no hot-desk code at all (it does not
    /// start with `*55` or `*56`). Separators people type (`-`, `.`, spaces) are ignored in
    /// the number.
    pub fn parse(user: &str) -> Option<Result<HotDeskCode, HotDeskParseError>> {
        let s = user.trim();
        if let Some(rest) = s.strip_prefix(SIGN_OUT) {
            return Some(if rest.trim().is_empty() {
                Ok(HotDeskCode::SignOut)
            } else {
                Err(HotDeskParseError::Trailing)
            });
        }
        let rest = s.strip_prefix(SIGN_IN)?;
        if rest.trim().is_empty() {
            return Some(Ok(HotDeskCode::Menu));
        }
        Some(sign_in(rest))
    }
}

fn sign_in(rest: &str) -> Result<HotDeskCode, HotDeskParseError> {
    let Some((number, pin)) = rest.rsplit_once('*') else {
        return Err(HotDeskParseError::Incomplete);
    };
    let number: String = number
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.'))
        .collect();
    if number.is_empty() {
        return Err(HotDeskParseError::Incomplete);
    }
    let digits = number.strip_prefix('+').unwrap_or(&number);
    if digits.is_empty()
        || digits.len() > MAX_NUMBER_DIGITS
        || !digits.bytes().all(|c| c.is_ascii_digit())
    {
        return Err(HotDeskParseError::BadNumber);
    }
    let pin = pin.trim();
    if !valid_pin(pin) {
        return Err(HotDeskParseError::BadPin);
    }
    Ok(HotDeskCode::SignIn {
        number,
        pin: pin.to_owned(),
    })
}

/// Whether `pin` may be a hot-desk PIN: 4 to 8 ASCII digits.
pub fn valid_pin(pin: &str) -> bool {
    PIN_DIGITS.contains(&pin.len()) && pin.bytes().all(|c| c.is_ascii_digit())
}

/// Why a PIN is not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    #[error("a hot-desk PIN is 4 to 8 digits")]
    Format,
    #[error("the member has no hot-desk PIN")]
    NotSet,
    #[error("hot desk is locked after wrong PINs until {until_unix}")]
    Locked { until_unix: u64 },
    #[error("wrong PIN")]
    Wrong {
        /// This wrong PIN started a lockout.
        locked: bool,
    },
}

impl MemberRecord {
    /// Sets the hot-desk PIN (`salt`: fresh random bytes); the count of wrong ones starts
    /// again.
    pub fn set_pin(&mut self, pin: &str, salt: [u8; 16]) -> Result<(), PinError> {
        if !valid_pin(pin) {
            return Err(PinError::Format);
        }
        self.pin = Some(PinHash::new(pin, salt));
        self.pin_failures = 0;
        self.pin_locked_until_unix = 0;
        Ok(())
    }

    /// Checks a PIN keyed at `now_unix`: a right one clears the count of wrong ones, a wrong
    /// one counts toward the lockout. While locked out, no PIN is looked at.
    pub fn check_pin(
        &mut self,
        now_unix: u64,
        lockout: &PinLockout,
        pin: &str,
    ) -> Result<(), PinError> {
        let Some(stored) = &self.pin else {
            return Err(PinError::NotSet);
        };
        if now_unix < self.pin_locked_until_unix {
            return Err(PinError::Locked {
                until_unix: self.pin_locked_until_unix,
            });
        }
        if stored.matches(pin) {
            self.pin_failures = 0;
            self.pin_locked_until_unix = 0;
            return Ok(());
        }
        self.pin_failures = self.pin_failures.saturating_add(1);
        let n = lockout.failures.max(1);
        let locked = self.pin_failures.is_multiple_of(n);
        if locked {
            let round = self.pin_failures / n;
            self.pin_locked_until_unix = now_unix.saturating_add(lockout.length(round).as_secs());
        }
        Err(PinError::Wrong { locked })
    }
}

/// A phone signed in as a member.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct HotDeskSession {
    /// The member's id.
    pub member: u64,
    /// The member's number the phone answers for (canonical).
    pub number: String,
    /// The phone's own number (canonical): its registered devices ring.
    pub phone: String,
    pub since_unix: u64,
    pub until_unix: u64,
}

impl HotDeskSession {
    /// A session from `now_unix` for at most `max`.
    pub fn start(
        member: u64,
        number: &str,
        phone: &str,
        now_unix: u64,
        max: Duration,
    ) -> HotDeskSession {
        HotDeskSession {
            member,
            number: number.to_owned(),
            phone: phone.to_owned(),
            since_unix: now_unix,
            until_unix: now_unix.saturating_add(max.as_secs()),
        }
    }

    /// Whether the session holds at `now_unix`.
    pub fn is_live(&self, now_unix: u64) -> bool {
        now_unix < self.until_unix
    }

    pub fn encode(&self) -> Vec<u8> {
        crate::store::encode(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<HotDeskSession, crate::store::RecordError> {
        crate::store::decode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::members::record::MemberDraft;

    const T: u64 = 1_700_000_000;

    fn member() -> MemberRecord {
        let plan = crate::numbering::NumberingPlan::new("KR").unwrap();
        let d = MemberDraft {
            name: "Lee".into(),
            email: "lee@example.com".into(),
            country: "KR".into(),
            numbers: vec!["1001".into()],
            ..MemberDraft::default()
        };
        MemberRecord::new(d.validate(&plan).unwrap(), T)
    }

    fn lockout() -> PinLockout {
        PinLockout {
            failures: 3,
            first: Duration::from_secs(60),
            longest: Duration::from_secs(3600),
        }
    }

    #[test]
    fn dial_strings_are_read_and_others_left_alone() {
        assert_eq!(
            HotDeskCode::parse("*551001*1234"),
            Some(Ok(HotDeskCode::SignIn {
                number: "1001".into(),
                pin: "1234".into()
            }))
        );
        assert_eq!(
            HotDeskCode::parse("*55+82-11-1234-5678*87654321"),
            Some(Ok(HotDeskCode::SignIn {
                number: "+821112345678".into(),
                pin: "87654321".into()
            }))
        );
        assert_eq!(HotDeskCode::parse("*56"), Some(Ok(HotDeskCode::SignOut)));
        assert_eq!(
            HotDeskCode::parse("*561"),
            Some(Err(HotDeskParseError::Trailing))
        );
        assert_eq!(HotDeskCode::parse("*55"), Some(Ok(HotDeskCode::Menu)));
        assert_eq!(
            HotDeskCode::parse("*551001"),
            Some(Err(HotDeskParseError::Incomplete))
        );
        assert_eq!(
            HotDeskCode::parse("*55*1234"),
            Some(Err(HotDeskParseError::Incomplete))
        );
        assert_eq!(
            HotDeskCode::parse("*551001*12"),
            Some(Err(HotDeskParseError::BadPin))
        );
        assert_eq!(
            HotDeskCode::parse("*551001*12a4"),
            Some(Err(HotDeskParseError::BadPin))
        );
        assert_eq!(
            HotDeskCode::parse("*55ab*1234"),
            Some(Err(HotDeskParseError::BadNumber))
        );
        assert_eq!(
            HotDeskCode::parse("*5510*01*1234"),
            Some(Err(HotDeskParseError::BadNumber))
        );
        assert_eq!(HotDeskCode::parse("*721002"), None);
        assert_eq!(HotDeskCode::parse("1001"), None);
    }

    #[test]
    fn the_pin_is_stored_hashed_and_checked() {
        let mut m = member();
        assert_eq!(m.check_pin(T, &lockout(), "1234"), Err(PinError::NotSet));
        assert_eq!(m.set_pin("12", [1; 16]), Err(PinError::Format));
        m.set_pin("1234", [1; 16]).unwrap();
        let stored = m.pin.clone().unwrap();
        assert!(!stored.hash.windows(4).any(|w| w == b"1234"));
        assert_ne!(PinHash::new("1234", [2; 16]).hash, stored.hash, "salted");
        m.check_pin(T, &lockout(), "1234").unwrap();
    }

    #[test]
    fn wrong_pins_lock_hot_desk_out_and_each_lockout_is_longer() {
        let mut m = member();
        m.set_pin("1234", [1; 16]).unwrap();
        let l = lockout();
        assert_eq!(
            m.check_pin(T, &l, "0000"),
            Err(PinError::Wrong { locked: false })
        );
        assert_eq!(
            m.check_pin(T, &l, "0000"),
            Err(PinError::Wrong { locked: false })
        );
        assert_eq!(
            m.check_pin(T, &l, "0000"),
            Err(PinError::Wrong { locked: true })
        );
        assert_eq!(
            m.check_pin(T + 59, &l, "1234"),
            Err(PinError::Locked { until_unix: T + 60 }),
            "even the right PIN waits"
        );
        for _ in 0..2 {
            assert!(m.check_pin(T + 60, &l, "9999").is_err());
        }
        assert_eq!(
            m.check_pin(T + 60, &l, "9999"),
            Err(PinError::Wrong { locked: true })
        );
        assert_eq!(
            m.pin_locked_until_unix,
            T + 180,
            "the second lockout is twice as long"
        );
        m.check_pin(T + 180, &l, "1234").unwrap();
        assert_eq!(m.pin_failures, 0);
        assert_eq!(
            m.check_pin(T + 181, &l, "0000"),
            Err(PinError::Wrong { locked: false })
        );
        m.set_pin("5678", [3; 16]).unwrap();
        assert_eq!(m.pin_failures, 0, "a new PIN starts the count again");
    }

    #[test]
    fn a_session_ends_at_its_time_limit() {
        let s = HotDeskSession::start(1, "1001", "1002", T, Duration::from_secs(12 * 3600));
        assert!(s.is_live(T));
        assert!(s.is_live(T + 12 * 3600 - 1));
        assert!(!s.is_live(T + 12 * 3600));
        assert_eq!(HotDeskSession::decode(&s.encode()).unwrap(), s);
    }
}
