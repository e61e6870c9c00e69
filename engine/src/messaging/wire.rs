//! The MESSAGE a device receives for a queued message.
//!
//! It carries the sender's From (with a tag of this delivery), the time the switch accepted
//! the message (`Date`, RFC 3261 §20.17) and its stable `Message-ID`: a device that got the
//! same message twice (the switch crashed between the device's 2xx and the removal) sees the
//! same identifier and can drop the copy.

use bytes::Bytes;

use super::StoredMessage;
use crate::sip::RequestBuilder;

/// The header carrying a message's stable identifier.
pub const MESSAGE_ID: &str = "Message-ID";

/// Where and how one delivery attempt is sent.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The device's registered contact.
    pub request_uri: &'a str,
    /// Our Via value, branch included.
    pub via: &'a str,
    /// The number's address, for To.
    pub to: &'a str,
    pub call_id: &'a str,
    pub cseq: u32,
    pub from_tag: &'a str,
}

/// The request for `m`.
pub fn request(d: &Delivery<'_>, m: &StoredMessage) -> Bytes {
    let from = format!("{};tag={}", m.from, d.from_tag);
    let cseq = format!("{} MESSAGE", d.cseq);
    let date = http_date(m.accepted_unix_ms / 1000);
    let b = RequestBuilder::new("MESSAGE", d.request_uri)
        .header("Via", d.via)
        .header("Max-Forwards", "70")
        .header("From", &from)
        .header("To", d.to)
        .header("Call-ID", d.call_id)
        .header("CSeq", &cseq)
        .header("Date", &date)
        .header(MESSAGE_ID, &m.id);
    // a chat room post says where it stands in the room's order
    let b = match crate::chat::seq_of_id(&m.id) {
        Some(seq) => b.header(crate::chat::ROOM_SEQ, &seq.to_string()),
        None => b,
    };
    b.build(Some((&m.content_type, &m.body)))
}

/// A From header value without its `tag` parameter (kept for later deliveries, which add a
/// tag of their own).
pub fn without_tag(from: &str) -> String {
    // parameters start after the closing '>' of a name-addr, or anywhere in an addr-spec
    let params_at = from.rfind('>').map_or(0, |i| i + 1);
    let (head, params) = from.split_at(params_at);
    let mut out = head.to_owned();
    for p in params.split(';') {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        if params_at == 0 && out.is_empty() {
            // an addr-spec: its first piece is the URI itself
            out.push_str(p);
            continue;
        }
        let name = p.split('=').next().unwrap_or("").trim();
        if !name.eq_ignore_ascii_case("tag") {
            out.push(';');
            out.push_str(p);
        }
    }
    out.trim().to_owned()
}

/// An RFC 1123 date (`Tue, 01 Dec 2026 09:48:44 GMT`) for seconds since the Unix epoch: the
/// Date of delivered messages and of REGISTER responses.
pub fn http_date(unix: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix / 86_400;
    let secs = unix % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// `http_date` of the current second, formatted once per second: a REGISTER's 200 carries a
/// Date, and a storm answers thousands a second.
#[derive(Debug, Default)]
pub struct DateCache {
    unix: Option<u64>,
    text: String,
}

impl DateCache {
    /// The date of `unix`, formatted again only when the second changed.
    pub fn at(&mut self, unix: u64) -> &str {
        if self.unix != Some(unix) {
            self.unix = Some(unix);
            self.text = http_date(unix);
        }
        &self.text
    }
}

/// An RFC 3339 timestamp in UTC (`2026-12-01T09:48:44Z`) for seconds since the Unix epoch:
/// times in the HTTP API's JSON.
pub fn rfc3339(unix: u64) -> String {
    let (y, m, d) = civil_from_days((unix / 86_400) as i64);
    let secs = unix % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Year, month (1-12) and day of a day count since 1970-01-01 (H. Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Message;

    #[test]
    fn timestamps_are_rfc_3339_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400 + 3_661), "2000-02-29T01:01:01Z");
        assert_eq!(rfc3339(1_796_118_524), "2026-12-01T09:48:44Z");
    }

    #[test]
    fn dates_are_rfc_1123() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(1_796_118_524), "Tue, 01 Dec 2026 09:48:44 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(http_date(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 GMT");
        let mut cache = DateCache::default();
        assert_eq!(cache.at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(cache.at(1_796_118_524), "Tue, 01 Dec 2026 09:48:44 GMT");
        assert_eq!(cache.at(1_796_118_524), "Tue, 01 Dec 2026 09:48:44 GMT");
        assert_eq!(cache.at(1_796_118_525), "Tue, 01 Dec 2026 09:48:45 GMT");
    }

    #[test]
    fn from_values_lose_only_their_tag() {
        assert_eq!(
            without_tag("\"Kim\" <sip:+821012345678@h;user=phone>;tag=abc;x=1"),
            "\"Kim\" <sip:+821012345678@h;user=phone>;x=1"
        );
        assert_eq!(without_tag("sip:alice@h;tag=9"), "sip:alice@h");
        assert_eq!(without_tag("<sip:a@h>"), "<sip:a@h>");
    }

    #[test]
    fn the_delivery_request_parses_and_carries_id_date_and_body() {
        let m = StoredMessage {
            id: "1f.abc@switchboard.local".into(),
            from: "\"Kim\" <sip:+821012345678@switchboard.local>".into(),
            sender: "+821012345678".into(),
            content_type: "text/plain;charset=UTF-8".into(),
            body: "안녕하세요".as_bytes().to_vec(),
            accepted_unix_ms: 1_796_118_524_123,
            expires_unix: 0,
        };
        let d = Delivery {
            request_uri: "sip:phone@127.0.0.1:5062",
            via: "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx;rport",
            to: "<sip:+821099998888@switchboard.local>",
            call_id: "dlv1",
            cseq: 7,
            from_tag: "t1",
        };
        let msg = Message::parse(request(&d, &m)).unwrap();
        assert_eq!(
            msg.header_by_name("Message-ID"),
            Some("1f.abc@switchboard.local")
        );
        assert_eq!(
            msg.header_by_name("Date"),
            Some("Tue, 01 Dec 2026 09:48:44 GMT")
        );
        assert_eq!(msg.from_tag(), Some("t1"));
        assert_eq!(msg.body(), "안녕하세요".as_bytes());
        assert_eq!(msg.header_by_name("CSeq"), Some("7 MESSAGE"));
    }
}
