//! The SDP reader: one pass over the lines, CRLF or bare LF, blank lines skipped.
//!
//! Typed lines (`o=`, `c=`, `b=`, `m=`) are split on ASCII whitespace, so runs of spaces are
//! read like single ones; everything else is kept verbatim.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::media::{is_rtp_proto, payload_type};
use super::{
    AddrType, Attribute, Bandwidth, Connection, Line, Media, MediaKind, Origin, Sdp, SdpError,
    MAX_BODY, MAX_FORMATS, MAX_LINES, MAX_MEDIA,
};

pub(super) fn parse(body: &[u8]) -> Result<Sdp, SdpError> {
    if body.len() > MAX_BODY {
        return Err(SdpError::TooLarge {
            len: body.len(),
            limit: MAX_BODY,
        });
    }
    let text = std::str::from_utf8(body).map_err(|e| SdpError::NotUtf8 {
        line: 1 + memchr::memchr_iter(b'\n', &body[..e.valid_up_to()]).count(),
    })?;

    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.is_empty());

    match lines.next() {
        Some((_, v)) if v.strip_prefix("v=").map(str::trim) == Some("0") => {}
        Some((line, _)) => return Err(SdpError::Version { line }),
        None => return Err(SdpError::Version { line: 1 }),
    }

    let mut origin = None;
    let mut session_name = None;
    let mut session = Vec::new();
    let mut media: Vec<Media> = Vec::new();
    // the m= line of the section being read, and whether it has its own c=
    let mut media_line = 0;
    let mut count = 1;
    for (line, text) in lines {
        count += 1;
        if count > MAX_LINES {
            return Err(SdpError::TooManyLines { limit: MAX_LINES });
        }
        let bytes = text.as_bytes();
        if bytes.len() < 2 || bytes[1] != b'=' || !bytes[0].is_ascii_alphabetic() {
            return Err(SdpError::NotTypeValue { line });
        }
        let (kind, value) = (bytes[0], &text[2..]);
        if kind == b'm' {
            if let Some(last) = media.last() {
                check_connection(&session, last, media_line)?;
            }
            if media.len() == MAX_MEDIA {
                return Err(SdpError::TooManyMedia {
                    line,
                    limit: MAX_MEDIA,
                });
            }
            media.push(parse_media(line, value)?);
            media_line = line;
            continue;
        }
        let section = match media.last_mut() {
            Some(m) => &mut m.lines,
            None => {
                match kind {
                    b'v' => return Err(SdpError::Duplicate { line, kind: 'v' }),
                    b'o' if origin.is_some() => {
                        return Err(SdpError::Duplicate { line, kind: 'o' })
                    }
                    b'o' => {
                        origin = Some(parse_origin(line, value)?);
                        continue;
                    }
                    b's' if session_name.is_some() => {
                        return Err(SdpError::Duplicate { line, kind: 's' })
                    }
                    b's' => {
                        session_name = Some(value.to_owned());
                        continue;
                    }
                    _ => {}
                }
                &mut session
            }
        };
        let parsed = parse_line(line, kind, value, section)?;
        section.push(parsed);
    }
    if let Some(last) = media.last() {
        check_connection(&session, last, media_line)?;
    }
    Ok(Sdp {
        origin: origin.ok_or(SdpError::MissingOrigin)?,
        session_name,
        lines: session,
        media,
    })
}

/// A line of a session or media section other than `v=`, `o=`, `s=` and `m=`.
fn parse_line(line: usize, kind: u8, value: &str, section: &[Line]) -> Result<Line, SdpError> {
    Ok(match kind {
        b'c' => {
            if section.iter().any(|l| matches!(l, Line::Connection(_))) {
                return Err(SdpError::Duplicate { line, kind: 'c' });
            }
            Line::Connection(parse_connection(line, value)?)
        }
        b'b' => {
            let (kind, value) = value
                .split_once(':')
                .and_then(|(k, v)| Some((k.trim(), v.trim().parse().ok()?)))
                .filter(|(k, _)| !k.is_empty() && !k.contains(char::is_whitespace))
                .ok_or(SdpError::Bandwidth { line })?;
            Line::Bandwidth(Bandwidth {
                kind: kind.to_owned(),
                value,
            })
        }
        b'a' => Line::Attribute(match value.split_once(':') {
            Some((name, value)) => Attribute::new(name, value),
            None => Attribute::flag(value),
        }),
        _ => Line::Other {
            kind,
            value: value.to_owned(),
        },
    })
}

/// RFC 8866 §5.7: every stream in use needs a `c=`, its own or the session's.
fn check_connection(session: &[Line], media: &Media, line: usize) -> Result<(), SdpError> {
    let has = |lines: &[Line]| lines.iter().any(|l| matches!(l, Line::Connection(_)));
    if media.port != 0 && !has(&media.lines) && !has(session) {
        return Err(SdpError::MissingConnection { line });
    }
    Ok(())
}

/// `o=<username> <sess-id> <sess-version> IN <addrtype> <address>`
fn parse_origin(line: usize, value: &str) -> Result<Origin, SdpError> {
    let bad = |reason| SdpError::Origin { line, reason };
    let Some([username, session_id, version, net, addr_type, address]) = fields(value) else {
        return Err(bad("expected six fields"));
    };
    Ok(Origin {
        username: username.to_owned(),
        session_id: session_id.to_owned(),
        version: version
            .parse()
            .map_err(|_| bad("session version is not a number"))?,
        addr_type: network(net, addr_type).ok_or(bad("network is not IN IP4 or IN IP6"))?,
        address: address.to_owned(),
    })
}

/// `c=IN <addrtype> <address>[/<ttl>][/<count>]`
fn parse_connection(line: usize, value: &str) -> Result<Connection, SdpError> {
    let bad = |reason| SdpError::Connection { line, reason };
    let Some([net, addr_type, address]) = fields(value) else {
        return Err(bad("expected three fields"));
    };
    let addr_type = network(net, addr_type).ok_or(bad("network is not IN IP4 or IN IP6"))?;
    let (address, multicast) = match address.split_once('/') {
        Some((a, suffix)) => (a, Some(suffix.to_owned())),
        None => (address, None),
    };
    let address = match addr_type {
        AddrType::Ip4 => address
            .parse::<Ipv4Addr>()
            .map(IpAddr::V4)
            .map_err(|_| bad("not an IPv4 address"))?,
        AddrType::Ip6 => address
            .parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| bad("not an IPv6 address"))?,
    };
    Ok(Connection { address, multicast })
}

/// Exactly `N` fields separated by ASCII whitespace.
fn fields<const N: usize>(value: &str) -> Option<[&str; N]> {
    let mut out = [""; N];
    let mut t = value.split_ascii_whitespace();
    for field in &mut out {
        *field = t.next()?;
    }
    t.next().is_none().then_some(out)
}

fn network(net: &str, addr_type: &str) -> Option<AddrType> {
    if !net.eq_ignore_ascii_case("IN") {
        return None;
    }
    match addr_type {
        t if t.eq_ignore_ascii_case("IP4") => Some(AddrType::Ip4),
        t if t.eq_ignore_ascii_case("IP6") => Some(AddrType::Ip6),
        _ => None,
    }
}

/// `m=<media> <port>[/<count>] <proto> <fmt> ...`
fn parse_media(line: usize, value: &str) -> Result<Media, SdpError> {
    let bad = |reason| SdpError::Media { line, reason };
    let mut t = value.split_ascii_whitespace();
    let (Some(kind), Some(port), Some(proto)) = (t.next(), t.next(), t.next()) else {
        return Err(bad("expected <media> <port> <proto> <formats>"));
    };
    let bad_port = || SdpError::Port {
        line,
        value: port.to_owned(),
    };
    let (number, count) = match port.split_once('/') {
        Some((p, n)) => (
            p,
            Some(n.parse().ok().filter(|&n| n > 0).ok_or_else(bad_port)?),
        ),
        None => (port, None),
    };
    let port = number.parse().map_err(|_| bad_port())?;
    let rtp = is_rtp_proto(proto);
    let mut formats = Vec::new();
    for f in t {
        if formats.len() == MAX_FORMATS {
            return Err(bad("too many formats"));
        }
        if rtp && payload_type(f).is_none() {
            return Err(bad("payload type is not a number from 0 to 127"));
        }
        formats.push(f.to_owned());
    }
    Ok(Media {
        kind: MediaKind::from_token(kind),
        port,
        port_count: count,
        proto: proto.to_owned(),
        formats,
        lines: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n";

    fn err(body: &str) -> SdpError {
        Sdp::parse(body.as_bytes()).expect_err(body)
    }

    fn with_head(rest: &str) -> SdpError {
        err(&format!("{HEAD}{rest}"))
    }

    #[test]
    fn malformed_lines_the_model_needs_name_their_line() {
        use SdpError::*;
        let cases: [(&str, SdpError); 14] = [
            (
                "m=audio x RTP/AVP 0\r\n",
                Port {
                    line: 6,
                    value: "x".into(),
                },
            ),
            (
                "m=audio 70000 RTP/AVP 0\r\n",
                Port {
                    line: 6,
                    value: "70000".into(),
                },
            ),
            (
                "m=audio 4000/0 RTP/AVP 0\r\n",
                Port {
                    line: 6,
                    value: "4000/0".into(),
                },
            ),
            (
                "m=audio 4000\r\n",
                Media {
                    line: 6,
                    reason: "expected <media> <port> <proto> <formats>",
                },
            ),
            (
                "m=audio 4000 RTP/AVP 0 128\r\n",
                Media {
                    line: 6,
                    reason: "payload type is not a number from 0 to 127",
                },
            ),
            (
                "m=audio 4000 RTP/AVP PCMU\r\n",
                Media {
                    line: 6,
                    reason: "payload type is not a number from 0 to 127",
                },
            ),
            (
                "m=audio 4000 RTP/AVP 0\r\nc=IN IP4 host.example\r\n",
                Connection {
                    line: 7,
                    reason: "not an IPv4 address",
                },
            ),
            (
                "m=audio 4000 RTP/AVP 0\r\nc=IN IP6 192.0.2.1\r\n",
                Connection {
                    line: 7,
                    reason: "not an IPv6 address",
                },
            ),
            (
                "m=audio 4000 RTP/AVP 0\r\nc=IN IP4\r\n",
                Connection {
                    line: 7,
                    reason: "expected three fields",
                },
            ),
            (
                "m=audio 4000 RTP/AVP 0\r\nc=TN RFC2543 x\r\n",
                Connection {
                    line: 7,
                    reason: "network is not IN IP4 or IN IP6",
                },
            ),
            ("c=IN IP4 192.0.2.2\r\n", Duplicate { line: 6, kind: 'c' }),
            ("b=AS\r\n", Bandwidth { line: 6 }),
            ("m =video 3227 RTP/AVP 31\r\n", NotTypeValue { line: 6 }),
            (
                "o=- 2 2 IN IP4 192.0.2.1\r\n",
                Duplicate { line: 6, kind: 'o' },
            ),
        ];
        for (rest, want) in cases {
            assert_eq!(with_head(rest), want, "{rest}");
        }
    }

    #[test]
    fn a_bad_origin_says_what_is_wrong() {
        for (o, reason) in [
            ("o=- 1 IN IP4 192.0.2.1", "expected six fields"),
            (
                "o=- 1 v2 IN IP4 192.0.2.1",
                "session version is not a number",
            ),
            (
                "o=- 1 99999999999999999999 IN IP4 a",
                "session version is not a number",
            ),
            (
                "o=- 1 2 IN IPX 192.0.2.1",
                "network is not IN IP4 or IN IP6",
            ),
        ] {
            let body = format!("v=0\r\n{o}\r\ns=-\r\n");
            assert_eq!(err(&body), SdpError::Origin { line: 2, reason }, "{o}");
        }
        assert_eq!(err("v=0\r\ns=-\r\nt=0 0\r\n"), SdpError::MissingOrigin);
    }

    #[test]
    fn a_body_must_start_with_version_zero() {
        assert_eq!(err(""), SdpError::Version { line: 1 });
        assert_eq!(err("\r\n\r\nv=1\r\n"), SdpError::Version { line: 3 });
        assert_eq!(
            err("o=- 1 1 IN IP4 192.0.2.1\r\n"),
            SdpError::Version { line: 1 }
        );
        assert_eq!(
            with_head("v=0\r\n"),
            SdpError::Duplicate { line: 6, kind: 'v' }
        );
    }

    #[test]
    fn a_stream_in_use_needs_a_connection_address_somewhere() {
        let body = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n\
                    m=audio 4000 RTP/AVP 0\r\nc=IN IP4 192.0.2.1\r\n\
                    m=video 0 RTP/AVP 31\r\nm=audio 4002 RTP/AVP 0\r\na=sendrecv\r\n";
        assert_eq!(err(body), SdpError::MissingConnection { line: 8 });
        let rejected_only = &body[..body.find("m=audio 4002").unwrap()];
        assert!(Sdp::parse(rejected_only.as_bytes()).is_ok());
    }

    #[test]
    fn limits_bound_what_a_hostile_body_costs() {
        let big = format!("{HEAD}{}", "a=x\r\n".repeat(MAX_BODY / 5));
        assert!(matches!(
            err(&big),
            SdpError::TooLarge {
                limit: MAX_BODY,
                ..
            }
        ));
        let many = format!("{HEAD}{}", "a=x\r\n".repeat(MAX_LINES));
        assert_eq!(err(&many), SdpError::TooManyLines { limit: MAX_LINES });
        let media = format!("{HEAD}{}", "m=audio 0 RTP/AVP 0\r\n".repeat(MAX_MEDIA + 1));
        assert_eq!(
            err(&media),
            SdpError::TooManyMedia {
                line: 6 + MAX_MEDIA,
                limit: MAX_MEDIA
            }
        );
        let pts: String = (0..=MAX_FORMATS).map(|_| " 0").collect();
        assert_eq!(
            with_head(&format!("m=audio 4000 RTP/AVP{pts}\r\n")),
            SdpError::Media {
                line: 6,
                reason: "too many formats"
            }
        );
    }

    #[test]
    fn invalid_utf8_is_refused_at_its_line() {
        let mut body = HEAD.as_bytes().to_vec();
        body.extend_from_slice(b"a=tool:caf\xe9\r\n");
        assert_eq!(Sdp::parse(&body), Err(SdpError::NotUtf8 { line: 6 }));
    }

    #[test]
    fn bare_lf_blank_lines_and_extra_spaces_read_like_crlf() {
        let lf = "v=0\no=-  1 1 IN IP4 192.0.2.1\ns=-\n\nc=IN IP4  192.0.2.1\nt=0 0\n\
                  m=audio  4000 RTP/AVP  0 8\na=rtpmap:0 PCMU/8000\n";
        let crlf = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
                    m=audio 4000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n";
        let sdp = Sdp::parse(lf.as_bytes()).unwrap();
        assert_eq!(sdp, Sdp::parse(crlf.as_bytes()).unwrap());
        assert_eq!(sdp.to_string(), crlf);
    }

    #[test]
    fn unknown_lines_and_attributes_are_kept_in_order() {
        let body = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\ni=a call\r\n\
                    c=IN IP4 224.2.1.1/127/3\r\nt=0 0\r\nx=vendor\r\na=weird:1:2\r\n\
                    m=audio 4000/2 RTP/AVP 0\r\nq=odd\r\na=flag\r\na=empty:\r\n";
        let sdp = Sdp::parse(body.as_bytes()).unwrap();
        assert_eq!(sdp.lines.len(), 5);
        assert_eq!(
            sdp.lines[0],
            Line::Other {
                kind: b'i',
                value: "a call".into()
            }
        );
        assert_eq!(
            sdp.connection().unwrap().multicast.as_deref(),
            Some("127/3")
        );
        assert_eq!(
            sdp.lines[4],
            Line::Attribute(Attribute::new("weird", "1:2"))
        );
        let m = &sdp.media[0];
        assert_eq!(m.port_count, Some(2));
        assert_eq!(
            m.lines[0],
            Line::Other {
                kind: b'q',
                value: "odd".into()
            }
        );
        assert_eq!(m.lines[2], Line::Attribute(Attribute::new("empty", "")));
        assert_eq!(sdp.to_string(), body);
    }
}
