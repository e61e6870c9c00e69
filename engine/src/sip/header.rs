//! Header field names (RFC 3261 §7.3, §20) with their compact forms (§7.3.3).
//!
//! Names compare case-insensitively. Known names map to a variant so lookups are integer
//! compares; everything else is `Other` and is found by its text.

/// A header field name known to Switchboard, or `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderName {
    Accept,
    AcceptContact,
    AllowEvents,
    Allow,
    Authorization,
    CallId,
    Contact,
    ContentEncoding,
    ContentLength,
    ContentType,
    CSeq,
    Date,
    Event,
    Expires,
    From,
    MaxForwards,
    MinExpires,
    ProxyAuthenticate,
    ProxyAuthorization,
    ProxyRequire,
    RecordRoute,
    ReferTo,
    ReferredBy,
    RejectContact,
    RequestDisposition,
    Require,
    Route,
    Server,
    SessionExpires,
    Subject,
    Supported,
    To,
    Unsupported,
    UserAgent,
    Via,
    WwwAuthenticate,
    Other,
}

impl HeaderName {
    /// Classifies a header name as written on the wire (full or compact form, any case).
    pub fn parse(name: &[u8]) -> HeaderName {
        use HeaderName::*;
        if name.len() == 1 {
            return match name[0].to_ascii_lowercase() {
                b'a' => AcceptContact,
                b'b' => ReferredBy,
                b'c' => ContentType,
                b'd' => RequestDisposition,
                b'e' => ContentEncoding,
                b'f' => From,
                b'i' => CallId,
                b'j' => RejectContact,
                b'k' => Supported,
                b'l' => ContentLength,
                b'm' => Contact,
                b'o' => Event,
                b'r' => ReferTo,
                b's' => Subject,
                b't' => To,
                b'u' => AllowEvents,
                b'v' => Via,
                b'x' => SessionExpires,
                _ => Other,
            };
        }
        // dispatch on length first so most names cost one or two comparisons
        let eq = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
        match name.len() {
            2 if eq("To") => To,
            3 if eq("Via") => Via,
            4 if eq("From") => From,
            4 if eq("Date") => Date,
            5 if eq("Route") => Route,
            5 if eq("Allow") => Allow,
            5 if eq("Event") => Event,
            6 if eq("Accept") => Accept,
            4 if eq("CSeq") => CSeq,
            7 if eq("Call-ID") => CallId,
            7 if eq("Contact") => Contact,
            7 if eq("Expires") => Expires,
            7 if eq("Require") => Require,
            7 if eq("Subject") => Subject,
            6 if eq("Server") => Server,
            8 if eq("Refer-To") => ReferTo,
            9 if eq("Supported") => Supported,
            10 if eq("User-Agent") => UserAgent,
            11 if eq("Min-Expires") => MinExpires,
            11 if eq("Referred-By") => ReferredBy,
            11 if eq("Unsupported") => Unsupported,
            12 if eq("Max-Forwards") => MaxForwards,
            12 if eq("Record-Route") => RecordRoute,
            12 if eq("Content-Type") => ContentType,
            12 if eq("Allow-Events") => AllowEvents,
            13 if eq("Authorization") => Authorization,
            13 if eq("Proxy-Require") => ProxyRequire,
            14 if eq("Content-Length") => ContentLength,
            14 if eq("Accept-Contact") => AcceptContact,
            14 if eq("Reject-Contact") => RejectContact,
            15 if eq("Session-Expires") => SessionExpires,
            16 if eq("Content-Encoding") => ContentEncoding,
            16 if eq("WWW-Authenticate") => WwwAuthenticate,
            18 if eq("Proxy-Authenticate") => ProxyAuthenticate,
            19 if eq("Proxy-Authorization") => ProxyAuthorization,
            19 if eq("Request-Disposition") => RequestDisposition,
            _ => Other,
        }
    }

    /// The canonical (full) spelling used when Switchboard writes this header.
    pub fn as_str(self) -> &'static str {
        use HeaderName::*;
        match self {
            Accept => "Accept",
            AcceptContact => "Accept-Contact",
            AllowEvents => "Allow-Events",
            Allow => "Allow",
            Authorization => "Authorization",
            CallId => "Call-ID",
            Contact => "Contact",
            ContentEncoding => "Content-Encoding",
            ContentLength => "Content-Length",
            ContentType => "Content-Type",
            CSeq => "CSeq",
            Date => "Date",
            Event => "Event",
            Expires => "Expires",
            From => "From",
            MaxForwards => "Max-Forwards",
            MinExpires => "Min-Expires",
            ProxyAuthenticate => "Proxy-Authenticate",
            ProxyAuthorization => "Proxy-Authorization",
            ProxyRequire => "Proxy-Require",
            RecordRoute => "Record-Route",
            ReferTo => "Refer-To",
            ReferredBy => "Referred-By",
            RejectContact => "Reject-Contact",
            RequestDisposition => "Request-Disposition",
            Require => "Require",
            Route => "Route",
            Server => "Server",
            SessionExpires => "Session-Expires",
            Subject => "Subject",
            Supported => "Supported",
            To => "To",
            Unsupported => "Unsupported",
            UserAgent => "User-Agent",
            Via => "Via",
            WwwAuthenticate => "WWW-Authenticate",
            Other => "",
        }
    }

    /// Headers whose values may be combined into one comma-separated line (RFC 3261 §7.3.1).
    /// Authorization-family headers are excluded: their values contain commas.
    pub fn is_list(self) -> bool {
        use HeaderName::*;
        matches!(
            self,
            Via | Contact
                | Route
                | RecordRoute
                | Allow
                | Supported
                | Require
                | ProxyRequire
                | Unsupported
                | Accept
                | AllowEvents
                | AcceptContact
                | RejectContact
        )
    }
}

#[cfg(test)]
mod tests {
    use super::HeaderName::{self, *};

    #[test]
    fn compact_and_full_forms_are_the_same_header() {
        for (c, full) in [
            ("i", "Call-ID"),
            ("m", "Contact"),
            ("l", "Content-Length"),
            ("c", "Content-Type"),
            ("f", "From"),
            ("t", "To"),
            ("v", "Via"),
            ("k", "Supported"),
            ("s", "Subject"),
            ("e", "Content-Encoding"),
            ("o", "Event"),
            ("r", "Refer-To"),
            ("b", "Referred-By"),
            ("u", "Allow-Events"),
        ] {
            assert_eq!(
                HeaderName::parse(c.as_bytes()),
                HeaderName::parse(full.as_bytes()),
                "{c}"
            );
            assert_ne!(HeaderName::parse(c.as_bytes()), Other, "{c}");
        }
    }

    #[test]
    fn names_compare_case_insensitively() {
        assert_eq!(HeaderName::parse(b"MaX-fOrWaRdS"), MaxForwards);
        assert_eq!(HeaderName::parse(b"cseq"), CSeq);
        assert_eq!(HeaderName::parse(b"CALL-ID"), CallId);
        assert_eq!(HeaderName::parse(b"NewFangledHeader"), Other);
    }

    #[test]
    fn canonical_spelling_parses_back_to_itself() {
        for h in [
            Via,
            From,
            To,
            CallId,
            CSeq,
            Contact,
            Route,
            RecordRoute,
            WwwAuthenticate,
            ProxyAuthorization,
            MaxForwards,
            MinExpires,
            ContentLength,
            UserAgent,
            Allow,
        ] {
            assert_eq!(HeaderName::parse(h.as_str().as_bytes()), h);
        }
    }
}
