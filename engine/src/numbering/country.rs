//! The country a destination lies in, for call records and the analytics' per-country rows:
//! ISO 3166 alpha-2 codes from libphonenumber's metadata (the `phonenumber` crate).

use super::Destination;

/// The country (`KR`, `US`...) of an E.164 number (`+82...`), when the metadata knows it.
pub fn country_of_e164(e164: &str) -> Option<String> {
    let n = phonenumber::parse(None, e164).ok()?;
    n.country().id().map(|id| id.as_ref().to_owned())
}

/// The main country of calling code `code` (`82` → `KR`; `1` → `US`).
pub fn country_of_code(code: u16) -> Option<String> {
    phonenumber::metadata::DATABASE
        .by_code(&code)?
        .into_iter()
        .find(|m| m.is_main_country_for_code())
        .or_else(|| {
            phonenumber::metadata::DATABASE
                .by_code(&code)?
                .into_iter()
                .next()
        })
        .map(|m| m.id().to_owned())
}

/// The country of a classified destination: its E.164 number's, an enterprise number's
/// calling code's; `None` for the switch's own subscribers' private names, directories and
/// feature codes (numbers of the switch's ranges in E.164 get their country too).
pub fn country_of(destination: &Destination) -> Option<String> {
    match destination {
        Destination::Subscriber(a) | Destination::Pstn(a) => a
            .as_str()
            .starts_with('+')
            .then(|| country_of_e164(a.as_str()))?,
        Destination::Personal { e164, .. } | Destination::Provider { e164, .. } => {
            country_of_e164(e164.as_str())
        }
        Destination::Enterprise { country, .. } => country_of_code(*country),
        Destination::Directory { .. } | Destination::Feature(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numbering::Aor;

    #[test]
    fn e164_numbers_name_their_country() {
        assert_eq!(country_of_e164("+82262006200").as_deref(), Some("KR"));
        assert_eq!(country_of_e164("+442079460000").as_deref(), Some("GB"));
        assert_eq!(country_of_e164("+12125550100").as_deref(), Some("US"));
        assert_eq!(country_of_e164("not a number"), None);
    }

    #[test]
    fn an_enterprise_number_lies_in_its_calling_codes_main_country() {
        let d = Destination::Enterprise {
            local: "62006200".into(),
            country: 82,
        };
        assert_eq!(country_of(&d).as_deref(), Some("KR"));
        assert_eq!(country_of_code(1).as_deref(), Some("US"));
        assert_eq!(country_of_code(0), None);
    }

    #[test]
    fn private_names_have_no_country() {
        assert_eq!(
            country_of(&Destination::Subscriber(Aor("1001".into()))),
            None
        );
        assert_eq!(
            country_of(&Destination::Pstn(Aor("+4930123456".into()))).as_deref(),
            Some("DE")
        );
    }
}
