//! A destination number as gateways may log it above trace: the `+`, two leading digits and
//! the last four stay, the rest is masked (`+82******5678`).

use std::fmt;

/// Display wrapper of a phone number for logs.
#[derive(Clone, Copy)]
pub(crate) struct Destination<'a>(pub &'a str);

impl fmt::Display for Destination<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chars: Vec<char> = self.0.chars().collect();
        let head = if chars.first() == Some(&'+') { 3 } else { 2 };
        if chars.len() < head + 4 + 2 {
            // too short to show anything but the last digits without giving it all away
            let keep = chars.len().saturating_sub(4).min(2);
            let tail: String = chars[chars.len() - keep..].iter().collect();
            return write!(f, "{}{tail}", "*".repeat(chars.len() - keep));
        }
        let head_s: String = chars[..head].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        write!(f, "{head_s}{}{tail}", "*".repeat(chars.len() - head - 4))
    }
}

impl fmt::Debug for Destination<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_keeps_its_country_prefix_and_last_four_digits() {
        assert_eq!(Destination("+821012345678").to_string(), "+82******5678");
        assert_eq!(Destination("+14155550123").to_string(), "+14*****0123");
    }

    #[test]
    fn a_short_number_shows_at_most_two_digits() {
        assert_eq!(Destination("+1234567").to_string(), "******67");
        assert_eq!(Destination("1234").to_string(), "****");
        assert_eq!(Destination("").to_string(), "");
    }
}
