//! User-Agents of SIP scanners (SIPVicious's `friendly-scanner`, `sipcli`, ...): a request
//! that names one is a scan, and bans its source at once.
//!
//! Matching is a case-insensitive substring of the User-Agent header value, so
//! `friendly-scanner 0.9` and `SIPVicious/0.3` match `friendly-scanner` and `sipvicious`.

/// The scanner User-Agents of the default configuration.
pub const DEFAULT_SCANNERS: [&str; 7] = [
    "friendly-scanner",
    "sipvicious",
    "sipcli",
    "VaxSIPUserAgent",
    "iWar",
    "sundayddr",
    "pplsip",
];

/// A list of scanner User-Agent fragments.
#[derive(Debug, Clone, Default)]
pub struct ScannerAgents {
    /// Lower case, empty ones left out.
    needles: Vec<String>,
}

impl ScannerAgents {
    pub fn new<S: AsRef<str>>(agents: &[S]) -> ScannerAgents {
        ScannerAgents {
            needles: agents
                .iter()
                .map(|a| a.as_ref().trim().to_ascii_lowercase())
                .filter(|a| !a.is_empty())
                .collect(),
        }
    }

    /// The fragment `user_agent` contains, if it is a scanner's.
    pub fn matches(&self, user_agent: &str) -> Option<&str> {
        if self.needles.is_empty() {
            return None;
        }
        // no allocation: this runs for every request that names its agent
        let ua = user_agent.as_bytes();
        self.needles
            .iter()
            .find(|n| {
                ua.windows(n.len())
                    .any(|w| w.eq_ignore_ascii_case(n.as_bytes()))
            })
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanner_agents_match_in_any_case_and_phones_do_not() {
        let s = ScannerAgents::new(&DEFAULT_SCANNERS);
        assert_eq!(s.matches("friendly-scanner"), Some("friendly-scanner"));
        assert_eq!(s.matches("SIPVicious 0.3.4"), Some("sipvicious"));
        assert_eq!(s.matches("vaxsipuseragent/3.1"), Some("vaxsipuseragent"));
        assert_eq!(s.matches("Linphone/5.2 (belle-sip/5.2)"), None);
        assert_eq!(s.matches("baresip v3.10.0 (x86_64/linux)"), None);
    }

    #[test]
    fn an_empty_list_matches_nothing() {
        let s = ScannerAgents::new(&["", "  "]);
        assert_eq!(s.matches("friendly-scanner"), None);
    }
}
