//! How a verification code reaches an outside number: by SMS through the notifier, or by a
//! call that reads it out (the voice notices of `messaging::voice`).
//!
//! [`Channel::choose`] takes what the member asked for (or nothing) and what the numbering
//! plan says of the number: a fixed line ([`NumberingPlan::is_landline`], the test voice
//! notices use to tell a landline) takes no SMS, so it gets a call unless asked otherwise and
//! an SMS asked for it is refused; any other number gets an SMS unless a call is asked for.
//! [`spoken_code`] is the text the call reads, each digit on its own so a listener can write
//! it down (the call reads it twice, `messaging::voice::read_twice`); [`call_group`] is the
//! trunk group the call leaves through, the one plain routing picks for the number.
//!
//! Guarantee: a code is never offered by SMS to a number the plan calls a fixed line.

use crate::numbering::{Aor, Destination, NumberingPlan};
use crate::routing::PSTN_GROUP;

/// How a code is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Sms,
    /// A call that reads the code out.
    Call,
}

/// Why a channel cannot be used for a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    #[error("not a channel: {0:?} (sms or call)")]
    Unknown(String),
    #[error("{number} is a fixed line, which takes no SMS; ask for a call")]
    LandlineSms { number: String },
}

impl Channel {
    /// Reads `sms` or `call`.
    pub fn parse(s: &str) -> Result<Channel, ChannelError> {
        match s {
            "sms" => Ok(Channel::Sms),
            "call" => Ok(Channel::Call),
            _ => Err(ChannelError::Unknown(s.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Call => "call",
        }
    }

    /// The channel for a code to `number` (E.164): `asked`, or by default a call for a fixed
    /// line and an SMS for anything else. An SMS asked for a fixed line is refused.
    pub fn choose(
        plan: &NumberingPlan,
        number: &Aor,
        asked: Option<Channel>,
    ) -> Result<Channel, ChannelError> {
        let landline = plan.is_landline(number);
        match asked {
            Some(Channel::Sms) if landline => Err(ChannelError::LandlineSms {
                number: number.as_str().to_owned(),
            }),
            Some(c) => Ok(c),
            None if landline => Ok(Channel::Call),
            None => Ok(Channel::Sms),
        }
    }
}

/// What a call says for `code`: `Your Switchboard code is 4, 8, 1, 9, 0, 2.` Only the code's
/// digits are read, each as a word of its own.
pub fn spoken_code(code: &str) -> String {
    let digits: Vec<String> = code
        .chars()
        .filter(char::is_ascii_digit)
        .map(String::from)
        .collect();
    format!("Your Switchboard code is {}.", digits.join(", "))
}

/// The trunk group a call to outside number `number` leaves through: another provider's own
/// trunk for its numbers, the PSTN group for the rest.
pub fn call_group(plan: &NumberingPlan, number: &Aor) -> String {
    match plan.classify(number.as_str()) {
        Ok(Destination::Provider { provider, .. }) => provider,
        _ => PSTN_GROUP.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numbering::{NumberFormat, Provider};

    fn plan() -> NumberingPlan {
        NumberingPlan::new("KR")
            .unwrap()
            .with_own_ranges(vec!["+8211".into()])
            .with_provider(Provider {
                name: "carrier-b".into(),
                prefixes: vec!["+8270".into()],
                format: NumberFormat::default(),
            })
    }

    const SEOUL: &str = "+82221234567";
    const MOBILE: &str = "+821012345678";

    #[test]
    fn a_fixed_line_gets_a_call_and_a_mobile_an_sms_unless_asked_otherwise() {
        let p = plan();
        let (seoul, mobile) = (Aor::from_canonical(SEOUL), Aor::from_canonical(MOBILE));
        assert_eq!(Channel::choose(&p, &seoul, None), Ok(Channel::Call));
        assert_eq!(Channel::choose(&p, &mobile, None), Ok(Channel::Sms));
        assert_eq!(
            Channel::choose(&p, &mobile, Some(Channel::Call)),
            Ok(Channel::Call),
            "a mobile may be called"
        );
        assert_eq!(
            Channel::choose(&p, &seoul, Some(Channel::Call)),
            Ok(Channel::Call)
        );
        assert_eq!(
            Channel::choose(&p, &seoul, Some(Channel::Sms)),
            Err(ChannelError::LandlineSms {
                number: SEOUL.into()
            })
        );
    }

    #[test]
    fn channels_read_back_as_written_and_others_are_named() {
        for c in [Channel::Sms, Channel::Call] {
            assert_eq!(Channel::parse(c.as_str()), Ok(c));
        }
        assert_eq!(
            Channel::parse("fax"),
            Err(ChannelError::Unknown("fax".into()))
        );
        assert_eq!(
            Channel::parse("SMS"),
            Err(ChannelError::Unknown("SMS".into()))
        );
    }

    #[test]
    fn the_code_is_read_digit_by_digit() {
        assert_eq!(
            spoken_code("481902"),
            "Your Switchboard code is 4, 8, 1, 9, 0, 2."
        );
        assert_eq!(spoken_code(" 0 7x"), "Your Switchboard code is 0, 7.");
    }

    #[test]
    fn a_provider_number_is_called_through_its_trunk_and_the_rest_through_the_pstn() {
        let p = plan();
        assert_eq!(
            call_group(&p, &Aor::from_canonical("+827012345678")),
            "carrier-b"
        );
        assert_eq!(call_group(&p, &Aor::from_canonical(SEOUL)), PSTN_GROUP);
        assert_eq!(call_group(&p, &Aor::from_canonical(MOBILE)), PSTN_GROUP);
    }
}
