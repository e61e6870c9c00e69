//! SIP request methods (RFC 3261 §7.1 and extensions).

use std::fmt;

/// A request method. Extension methods Switchboard does not know are `Other`; their exact text
/// stays available from the message that carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Register,
    Options,
    Info,
    Update,
    Prack,
    Refer,
    Notify,
    Subscribe,
    Publish,
    Message,
    Other,
}

impl Method {
    /// Classifies a method token. Methods are case-sensitive (RFC 3261 §7.1).
    pub fn parse(s: &[u8]) -> Method {
        use Method::*;
        match s {
            b"INVITE" => Invite,
            b"ACK" => Ack,
            b"BYE" => Bye,
            b"CANCEL" => Cancel,
            b"REGISTER" => Register,
            b"OPTIONS" => Options,
            b"INFO" => Info,
            b"UPDATE" => Update,
            b"PRACK" => Prack,
            b"REFER" => Refer,
            b"NOTIFY" => Notify,
            b"SUBSCRIBE" => Subscribe,
            b"PUBLISH" => Publish,
            b"MESSAGE" => Message,
            _ => Other,
        }
    }

    /// The method token; `Other` has no fixed text.
    pub fn as_str(self) -> &'static str {
        use Method::*;
        match self {
            Invite => "INVITE",
            Ack => "ACK",
            Bye => "BYE",
            Cancel => "CANCEL",
            Register => "REGISTER",
            Options => "OPTIONS",
            Info => "INFO",
            Update => "UPDATE",
            Prack => "PRACK",
            Refer => "REFER",
            Notify => "NOTIFY",
            Subscribe => "SUBSCRIBE",
            Publish => "PUBLISH",
            Message => "MESSAGE",
            Other => "OTHER",
        }
    }

    /// Index for per-method counters.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Every method, in `index` order.
    pub const ALL: [Method; 15] = [
        Method::Invite,
        Method::Ack,
        Method::Bye,
        Method::Cancel,
        Method::Register,
        Method::Options,
        Method::Info,
        Method::Update,
        Method::Prack,
        Method::Refer,
        Method::Notify,
        Method::Subscribe,
        Method::Publish,
        Method::Message,
        Method::Other,
    ];
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Method;

    #[test]
    fn methods_are_case_sensitive() {
        assert_eq!(Method::parse(b"INVITE"), Method::Invite);
        assert_eq!(Method::parse(b"invite"), Method::Other);
    }

    #[test]
    fn index_matches_position_in_all() {
        for (i, m) in Method::ALL.iter().enumerate() {
            assert_eq!(m.index(), i);
        }
    }
}
