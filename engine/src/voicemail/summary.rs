//! Message summaries: the body of a `message-summary` NOTIFY (RFC 3842), which lights a
//! phone's message lamp.
//!
//! ```text
//! Messages-Waiting: yes
//! Message-Account: sip:1002@switchboard.example
//! Voice-Message: 2/1 (0/0)
//! ```
//!
//! [`MessageSummary::render`] writes a body in the syntax of RFC 3842 §5.2 with CRLF line
//! ends and the urgent counts always present; [`parse`] reads one (for tests, fuzzing and
//! bodies from elsewhere). The parser follows the ABNF's rules for case (names and `yes`/`no`
//! in any case, RFC 5234 §2.3) and white space (`HCOLON`, `SLASH`, `LPAREN` and `RPAREN`
//! allow it, RFC 3261 §25.1), accepts bare LF line ends, skips header lines it does not know,
//! and leaves the optional message headers after the blank line (§5.2 `opt-msg-headers`)
//! unread. Counts above 2^32-1 are refused (§5.2 `msgcount`). Whatever `parse` accepts,
//! `render` writes back as a body `parse` reads as the same summary.

use std::fmt::Write as _;

use super::record::{Folder, VoicemailRecord};

/// The event package (RFC 3842 §3.1).
pub const EVENT_PACKAGE: &str = "message-summary";
/// The body's media type (RFC 3842 §3.5, registered in §7.2).
pub const CONTENT_TYPE: &str = "application/simple-message-summary";
/// The longest body `parse` reads.
pub const MAX_BODY: usize = 8192;

/// A message context class (RFC 3458 §6.2), the name of a summary line.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum MessageClass {
    Voice,
    Fax,
    Pager,
    Multimedia,
    Text,
    None,
}

impl MessageClass {
    pub const ALL: [MessageClass; 6] = [
        MessageClass::Voice,
        MessageClass::Fax,
        MessageClass::Pager,
        MessageClass::Multimedia,
        MessageClass::Text,
        MessageClass::None,
    ];

    /// The line's name as rendered (`Voice-Message`).
    pub fn header(self) -> &'static str {
        match self {
            MessageClass::Voice => "Voice-Message",
            MessageClass::Fax => "Fax-Message",
            MessageClass::Pager => "Pager-Message",
            MessageClass::Multimedia => "Multimedia-Message",
            MessageClass::Text => "Text-Message",
            MessageClass::None => "None",
        }
    }

    fn from_header(name: &str) -> Option<MessageClass> {
        MessageClass::ALL
            .into_iter()
            .find(|c| c.header().eq_ignore_ascii_case(name))
    }
}

/// The counts of one class: `new/old (new_urgent/old_urgent)` (RFC 3842 §5.2).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub new: u32,
    pub old: u32,
    pub new_urgent: u32,
    pub old_urgent: u32,
}

/// A message summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageSummary {
    /// `Messages-Waiting`: whether there are new messages.
    pub waiting: bool,
    /// `Message-Account`: the mailbox's URI.
    pub account: Option<String>,
    /// One line per class, in order, each class at most once.
    pub lines: Vec<(MessageClass, Counts)>,
}

/// Why a body is not a message summary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SummaryError {
    #[error("body of {len} bytes, at most {MAX_BODY}")]
    TooLong { len: usize },
    #[error("body is not utf-8")]
    NotUtf8,
    #[error("the first line is not messages-waiting")]
    NoStatus,
    #[error("messages-waiting is {0:?}, not yes or no")]
    BadStatus(String),
    #[error("line {line} is not a header")]
    Malformed { line: usize },
    #[error("message-account {0:?} is not a uri")]
    BadAccount(String),
    #[error("counts {value:?} on line {line} are not new/old (urgent new/urgent old)")]
    BadCounts { line: usize, value: String },
    #[error("{0} given twice")]
    Duplicate(&'static str),
}

impl MessageSummary {
    /// The summary of a voice mailbox: waiting while anything is new.
    pub fn voice(account: Option<&str>, new: u32, old: u32) -> MessageSummary {
        MessageSummary {
            waiting: new > 0,
            account: account.map(str::to_owned),
            lines: vec![(
                MessageClass::Voice,
                Counts {
                    new,
                    old,
                    ..Counts::default()
                },
            )],
        }
    }

    /// The summary of these messages of the mailbox `account`: new ones count as new, saved
    /// ones as old.
    pub fn of_mailbox(account: &str, messages: &[VoicemailRecord]) -> MessageSummary {
        let new = messages.iter().filter(|m| m.folder == Folder::New).count();
        let old = messages.len() - new;
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        MessageSummary::voice(Some(account), count(new), count(old))
    }

    /// The counts of a class, if the summary has its line.
    pub fn counts(&self, class: MessageClass) -> Option<Counts> {
        self.lines.iter().find(|l| l.0 == class).map(|l| l.1)
    }

    /// Appends the body (CRLF line ends).
    pub fn render(&self, out: &mut String) {
        let status = if self.waiting { "yes" } else { "no" };
        // writing to a String cannot fail
        let _ = write!(out, "Messages-Waiting: {status}\r\n");
        if let Some(a) = &self.account {
            let _ = write!(out, "Message-Account: {a}\r\n");
        }
        for (class, c) in &self.lines {
            let _ = write!(
                out,
                "{}: {}/{} ({}/{})\r\n",
                class.header(),
                c.new,
                c.old,
                c.new_urgent,
                c.old_urgent
            );
        }
    }

    /// The body as a new string.
    pub fn to_body(&self) -> String {
        let mut out = String::with_capacity(96);
        self.render(&mut out);
        out
    }
}

/// Reads a message-summary body (RFC 3842 §5.2).
pub fn parse(body: &[u8]) -> Result<MessageSummary, SummaryError> {
    if body.len() > MAX_BODY {
        return Err(SummaryError::TooLong { len: body.len() });
    }
    let text = std::str::from_utf8(body).map_err(|_| SummaryError::NotUtf8)?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let (name, value) = lines
        .next()
        .and_then(header)
        .ok_or(SummaryError::NoStatus)?;
    if !name.eq_ignore_ascii_case("Messages-Waiting") {
        return Err(SummaryError::NoStatus);
    }
    let waiting = if value.eq_ignore_ascii_case("yes") {
        true
    } else if value.eq_ignore_ascii_case("no") {
        false
    } else {
        return Err(SummaryError::BadStatus(value.to_owned()));
    };
    let mut summary = MessageSummary {
        waiting,
        account: None,
        lines: Vec::new(),
    };
    for (i, line) in lines.enumerate() {
        if line.is_empty() {
            // the optional message headers follow (§5.2 opt-msg-headers): not read
            break;
        }
        let number = i + 2;
        let (name, value) = header(line).ok_or(SummaryError::Malformed { line: number })?;
        if name.eq_ignore_ascii_case("Message-Account") {
            if summary.account.is_some() {
                return Err(SummaryError::Duplicate("message-account"));
            }
            if !is_uri(value) {
                return Err(SummaryError::BadAccount(value.to_owned()));
            }
            summary.account = Some(value.to_owned());
        } else if let Some(class) = MessageClass::from_header(name) {
            if summary.counts(class).is_some() {
                return Err(SummaryError::Duplicate(class.header()));
            }
            let counts = counts(value).ok_or_else(|| SummaryError::BadCounts {
                line: number,
                value: value.to_owned(),
            })?;
            summary.lines.push((class, counts));
        }
        // another header: an extension this reader does not know, skipped
    }
    Ok(summary)
}

/// `name HCOLON value`: a token, optional white space, `:`, the value trimmed.
fn header(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once(':')?;
    let name = name.trim_end_matches([' ', '\t']);
    let token = |b: u8| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return None;
    }
    Some((name, value.trim_matches([' ', '\t'])))
}

/// `Account-URI = SIP-URI / SIPS-URI / absoluteURI`: a scheme, `:`, and no white space.
fn is_uri(value: &str) -> bool {
    let Some((scheme, rest)) = value.split_once(':') else {
        return false;
    };
    let mut s = scheme.bytes();
    s.next().is_some_and(|b| b.is_ascii_alphabetic())
        && s.all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        && !rest.is_empty()
        && !value
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
}

/// `newmsgs SLASH oldmsgs [ LPAREN new-urgentmsgs SLASH old-urgentmsgs RPAREN ]`.
fn counts(value: &str) -> Option<Counts> {
    let mut c = Cursor(value.as_bytes());
    let new = c.count()?;
    c.symbol(b'/')?;
    let old = c.count()?;
    let mut counts = Counts {
        new,
        old,
        ..Counts::default()
    };
    if c.symbol(b'(').is_some() {
        counts.new_urgent = c.count()?;
        c.symbol(b'/')?;
        counts.old_urgent = c.count()?;
        c.symbol(b')')?;
    }
    c.skip_space();
    c.0.is_empty().then_some(counts)
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn skip_space(&mut self) {
        while let [b' ' | b'\t', rest @ ..] = self.0 {
            self.0 = rest;
        }
    }

    /// `msgcount = 1*DIGIT`, at most 2^32-1.
    fn count(&mut self) -> Option<u32> {
        self.skip_space();
        let digits = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let (n, rest) = self.0.split_at(digits);
        self.0 = rest;
        // ASCII digits only: the text is valid; too large a value fails here
        std::str::from_utf8(n).ok()?.parse().ok()
    }

    /// A separator with white space around it (`SWS "/" SWS`).
    fn symbol(&mut self, sym: u8) -> Option<()> {
        self.skip_space();
        let (&first, rest) = self.0.split_first()?;
        if first != sym {
            return None;
        }
        self.0 = rest;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voicemail::record::VoicemailId;

    fn counts(new: u32, old: u32, new_urgent: u32, old_urgent: u32) -> Counts {
        Counts {
            new,
            old,
            new_urgent,
            old_urgent,
        }
    }

    #[test]
    fn a_voice_mailbox_renders_as_rfc_3842_section_5_2_writes_it() {
        let s = MessageSummary::voice(Some("sip:1002@sb.example"), 2, 1);
        assert_eq!(
            s.to_body(),
            "Messages-Waiting: yes\r\n\
             Message-Account: sip:1002@sb.example\r\n\
             Voice-Message: 2/1 (0/0)\r\n"
        );
        assert_eq!(
            MessageSummary::voice(None, 0, 4).to_body(),
            "Messages-Waiting: no\r\nVoice-Message: 0/4 (0/0)\r\n"
        );
    }

    #[test]
    fn a_mailbox_counts_new_messages_as_new_and_saved_ones_as_old() {
        let m = |id, folder| VoicemailRecord {
            id: VoicemailId(id),
            caller: "1001".into(),
            received_unix: 0,
            duration_ms: 1000,
            folder,
            bytes: 0,
        };
        let s = MessageSummary::of_mailbox(
            "sip:1002@sb.example",
            &[m(1, Folder::Saved), m(2, Folder::New), m(3, Folder::Saved)],
        );
        assert!(s.waiting);
        assert_eq!(s.counts(MessageClass::Voice), Some(counts(1, 2, 0, 0)));
        let none = MessageSummary::of_mailbox("sip:1002@sb.example", &[m(1, Folder::Saved)]);
        assert!(!none.waiting, "the lamp goes off when nothing is new");
    }

    #[test]
    fn the_rfc_3842_example_bodies_parse() {
        // RFC 3842 §4: a summary with the optional message headers after the blank line
        let body = "Messages-Waiting: yes\r\n\
                    Message-Account: sip:alice@vmail.example.com\r\n\
                    Voice-Message: 4/8 (1/2)\r\n\
                    \r\n\
                    To: <alice@example.com>\r\n\
                    From: <bob@example.com>\r\n\
                    Subject: carpool tomorrow?\r\n";
        let s = parse(body.as_bytes()).unwrap();
        assert!(s.waiting);
        assert_eq!(s.account.as_deref(), Some("sip:alice@vmail.example.com"));
        assert_eq!(s.lines, [(MessageClass::Voice, counts(4, 8, 1, 2))]);
        let s =
            parse(b"Messages-Waiting: no\r\nVoice-Message: 0/0\r\nFax-Message: 1/3\r\n").unwrap();
        assert!(!s.waiting);
        assert_eq!(s.counts(MessageClass::Fax), Some(counts(1, 3, 0, 0)));
        assert_eq!(s.account, None);
    }

    #[test]
    fn case_white_space_and_bare_line_feeds_are_accepted() {
        let s = parse(
            b"messages-waiting :YES\nvoice-message:\t3 / 0 ( 1 /0 ) \nmessage-account: sips:b@c",
        )
        .unwrap();
        assert!(s.waiting);
        assert_eq!(s.counts(MessageClass::Voice), Some(counts(3, 0, 1, 0)));
        assert_eq!(s.account.as_deref(), Some("sips:b@c"));
        // an unknown header is skipped
        let s = parse(b"Messages-Waiting: no\r\nX-Thing: 9\r\nNone: 1/2\r\n").unwrap();
        assert_eq!(s.lines, [(MessageClass::None, counts(1, 2, 0, 0))]);
    }

    #[test]
    fn bodies_that_break_the_grammar_are_refused() {
        let table: &[(&[u8], SummaryError)] = &[
            (b"", SummaryError::NoStatus),
            (b"Voice-Message: 1/0\r\n", SummaryError::NoStatus),
            (
                b"Messages-Waiting: maybe",
                SummaryError::BadStatus("maybe".into()),
            ),
            (
                b"Messages-Waiting: yes\r\nno colon",
                SummaryError::Malformed { line: 2 },
            ),
            (
                b"Messages-Waiting: yes\r\n bad name: 1",
                SummaryError::Malformed { line: 2 },
            ),
            (
                b"Messages-Waiting: yes\r\nMessage-Account: alice",
                SummaryError::BadAccount("alice".into()),
            ),
            (
                b"Messages-Waiting: yes\r\nMessage-Account: sip:a b",
                SummaryError::BadAccount("sip:a b".into()),
            ),
            (
                b"Messages-Waiting: yes\r\nMessage-Account: sip:a\r\nMessage-Account: sip:b",
                SummaryError::Duplicate("message-account"),
            ),
            (
                b"Messages-Waiting: yes\r\nVoice-Message: 1/0\r\nvoice-message: 2/0",
                SummaryError::Duplicate("Voice-Message"),
            ),
            (
                b"Messages-Waiting: yes\r\nVoice-Message: 4294967296/0",
                SummaryError::BadCounts {
                    line: 2,
                    value: "4294967296/0".into(),
                },
            ),
        ];
        for (body, err) in table {
            assert_eq!(
                parse(body),
                Err(err.clone()),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        for value in [
            "1", "1/", "/1", "1/2 (3)", "1/2 (3/4", "1/2 3/4", "-1/2", "1/2 x",
        ] {
            let body = format!("Messages-Waiting: yes\r\nVoice-Message: {value}");
            assert!(
                matches!(parse(body.as_bytes()), Err(SummaryError::BadCounts { .. })),
                "{value}"
            );
        }
        assert_eq!(parse(&[0xff]), Err(SummaryError::NotUtf8));
        let long = vec![b'a'; MAX_BODY + 1];
        assert_eq!(
            parse(&long),
            Err(SummaryError::TooLong { len: MAX_BODY + 1 })
        );
        assert_eq!(
            parse(b"Messages-Waiting: maybe").unwrap_err().to_string(),
            "messages-waiting is \"maybe\", not yes or no"
        );
    }

    #[test]
    fn what_parse_accepts_renders_back_to_the_same_summary() {
        let bodies: &[&[u8]] = &[
            b"Messages-Waiting: yes\r\nMessage-Account: sip:a@b\r\nVoice-Message: 4/8 (1/2)\r\n",
            b"messages-waiting: no\nvoice-message: 0/0\ntext-message: 4294967295/1\n",
            b"Messages-Waiting: no",
        ];
        for body in bodies {
            let s = parse(body).unwrap();
            assert_eq!(parse(s.to_body().as_bytes()), Ok(s.clone()));
        }
        for class in MessageClass::ALL {
            assert_eq!(MessageClass::from_header(class.header()), Some(class));
        }
    }
}
