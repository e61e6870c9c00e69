//! The SDP writer: `v=0`, `o=`, `s=`, the session lines, then each media section, every line
//! ended with CRLF (RFC 8866 §5). Verbatim lines are written as they were read.

use std::fmt::{self, Display, Formatter};

use super::{Attribute, Bandwidth, Connection, Line, Media, Origin, Sdp};

impl Display for Sdp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("v=0\r\n")?;
        write!(f, "o={}\r\n", self.origin)?;
        if let Some(name) = &self.session_name {
            write!(f, "s={name}\r\n")?;
        }
        for line in &self.lines {
            write!(f, "{line}\r\n")?;
        }
        for media in &self.media {
            write!(f, "{media}")?;
        }
        Ok(())
    }
}

impl Display for Origin {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} IN {} {}",
            self.username,
            self.session_id,
            self.version,
            self.addr_type.as_str(),
            self.address
        )
    }
}

/// The `m=` line and the lines of its section, each with its CRLF.
impl Display for Media {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.kind.as_str(), self.port)?;
        if let Some(n) = self.port_count {
            write!(f, "/{n}")?;
        }
        write!(f, " {}", self.proto)?;
        for format in &self.formats {
            write!(f, " {format}")?;
        }
        f.write_str("\r\n")?;
        for line in &self.lines {
            write!(f, "{line}\r\n")?;
        }
        Ok(())
    }
}

/// One line without its CRLF.
impl Display for Line {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Line::Connection(c) => write!(f, "c={c}"),
            Line::Bandwidth(b) => write!(f, "b={b}"),
            Line::Attribute(a) => write!(f, "a={a}"),
            Line::Other { kind, value } => write!(f, "{}={value}", char::from(*kind)),
        }
    }
}

/// `IN IP4 <address>[/<multicast suffix>]`
impl Display for Connection {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let family = super::AddrType::of(self.address).as_str();
        write!(f, "IN {family} {}", self.address)?;
        if let Some(suffix) = &self.multicast {
            write!(f, "/{suffix}")?;
        }
        Ok(())
    }
}

impl Display for Bandwidth {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

impl Display for Attribute {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(value) = &self.value {
            write!(f, ":{value}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdp::{AddrType, MediaKind};

    #[test]
    fn a_built_description_is_written_with_crlf_in_section_order() {
        let mut media = Media::new(MediaKind::Audio, 4000, "RTP/AVP", vec!["0".into()]);
        media.port_count = Some(2);
        media
            .lines
            .push(Line::Attribute(Attribute::flag("sendonly")));
        let sdp = Sdp {
            origin: Origin {
                username: "sw".into(),
                session_id: "42".into(),
                version: 7,
                addr_type: AddrType::Ip6,
                address: "2001:db8::1".into(),
            },
            session_name: None,
            lines: vec![
                Line::Connection(Connection::new("2001:db8::1".parse().unwrap())),
                Line::Bandwidth(Bandwidth {
                    kind: "AS".into(),
                    value: 64,
                }),
                Line::Other {
                    kind: b't',
                    value: "0 0".into(),
                },
            ],
            media: vec![media],
        };
        let text = sdp.to_string();
        assert_eq!(
            text,
            "v=0\r\no=sw 42 7 IN IP6 2001:db8::1\r\nc=IN IP6 2001:db8::1\r\nb=AS:64\r\n\
             t=0 0\r\nm=audio 4000/2 RTP/AVP 0\r\na=sendonly\r\n"
        );
        assert_eq!(Sdp::parse(text.as_bytes()).unwrap(), sdp);
    }
}
