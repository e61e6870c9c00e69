//! Session descriptions (SDP, RFC 8866, formerly RFC 4566) and the offer/answer model
//! (RFC 3264).
//!
//! [`Sdp::parse`] reads a body the way a switch must: tolerant of what it does not need.
//! Unknown attributes and unknown line types are kept verbatim, in order, and written back
//! where they were, so what the switch does not understand passes through. The lines the
//! model needs (`v=`, `o=`, `c=`, `b=`, `m=` and its port) must be well formed; a malformed one
//! is an [`SdpError`] naming its line. CRLF or bare LF in, CRLF out ([`Sdp`]'s `Display`).
//! Attribute values are parsed when asked ([`Media::rtpmaps`], [`Media::ptime`], ...): an
//! attribute the switch cannot read is skipped by its accessor, never an error, as real
//! bodies carry broken ones (RFC 4475's `a=rtpmap:31 LPC` has no clock rate).
//!
//! - [`negotiate`]: the answer to an offer, the outcome of our own offer, hold and resume;
//!   [`negotiate::Negotiated`] is what the media plane needs per audio stream.
//! - [`rewrite`]: pointing a body passing through at the switch's relay ports.
//! - [`crypto`]: SDES `a=crypto` lines (RFC 4568) of `RTP/SAVP` streams; [`Media::cryptos`].
//!
//! Guarantees: the body is at most [`MAX_BODY`] bytes, [`MAX_LINES`] lines and [`MAX_MEDIA`]
//! media sections, so a hostile body costs little; for every `s` that parses,
//! `Sdp::parse(s.to_string())` gives `s` again (as long as the written form stays within the
//! size limit: bare LF becomes CRLF).

pub mod crypto;
mod media;
pub mod negotiate;
mod parse;
pub mod rewrite;
mod write;

#[cfg(test)]
mod samples;

use std::net::IpAddr;

pub use media::{Direction, Media, MediaKind, Rtcp, RtpMap, TelephoneEvent};

/// The largest body [`Sdp::parse`] reads.
pub const MAX_BODY: usize = 16 * 1024;
/// The most non-empty lines a body may have.
pub const MAX_LINES: usize = 1024;
/// The most media sections (`m=` lines) a body may have.
pub const MAX_MEDIA: usize = 64;
/// The most formats one `m=` line may list (RTP has 128 payload types).
pub const MAX_FORMATS: usize = 128;

/// A session description: the session-level part and its media sections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sdp {
    /// `o=`: who made the description, and its version (RFC 8866 §5.2).
    pub origin: Origin,
    /// `s=`, verbatim (RFC 8866 §5.3 asks for one; a body without it is kept without it).
    pub session_name: Option<String>,
    /// The session-level lines after `v=`, `o=` and `s=`, in their order.
    pub lines: Vec<Line>,
    /// The media sections, in their order (their index is the `m=` line index of RFC 3264).
    pub media: Vec<Media>,
}

/// The `o=` line: `<username> <sess-id> <sess-version> IN <addrtype> <address>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    /// Kept as written: only compared, never computed with (it may not fit 64 bits).
    pub session_id: String,
    /// Raised by one for every changed description of the session (RFC 3264 §8).
    pub version: u64,
    pub addr_type: AddrType,
    /// Kept as written: an address or a host name, informational only.
    pub address: String,
}

impl Origin {
    /// An origin with username `-` and our address.
    pub fn new(session_id: u64, version: u64, address: IpAddr) -> Origin {
        Origin {
            username: "-".to_owned(),
            session_id: session_id.to_string(),
            version,
            addr_type: AddrType::of(address),
            address: address.to_string(),
        }
    }

    /// The same session one version later, for the next description the switch sends in it.
    pub fn next_version(&self) -> Origin {
        Origin {
            version: self.version.wrapping_add(1),
            ..self.clone()
        }
    }
}

/// The address type of `o=` and `c=` lines.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum AddrType {
    Ip4,
    Ip6,
}

impl AddrType {
    pub fn of(address: IpAddr) -> AddrType {
        match address {
            IpAddr::V4(_) => AddrType::Ip4,
            IpAddr::V6(_) => AddrType::Ip6,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AddrType::Ip4 => "IP4",
            AddrType::Ip6 => "IP6",
        }
    }
}

/// A `c=` line: `IN IP4 <address>` or `IN IP6 <address>`.
///
/// Only IP addresses: the switch resolves no names on the call-setup path, and a description
/// whose media goes to a host name is refused at parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub address: IpAddr,
    /// The multicast suffix after the address (`127/3` of `224.2.1.1/127/3`), verbatim.
    pub multicast: Option<String>,
}

impl Connection {
    pub fn new(address: IpAddr) -> Connection {
        Connection {
            address,
            multicast: None,
        }
    }

    /// `0.0.0.0` (or `::`): the RFC 2543 way to put a stream on hold (RFC 3264 §8.4), also
    /// what ICE agents write before they have a candidate.
    pub fn is_unspecified(&self) -> bool {
        self.address.is_unspecified()
    }
}

/// A `b=<bwtype>:<bandwidth>` line (RFC 8866 §5.8), in kbit/s for `AS` and `CT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bandwidth {
    pub kind: String,
    pub value: u64,
}

/// An `a=` line: `a=<name>` (a flag) or `a=<name>:<value>`, both kept verbatim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub value: Option<String>,
}

impl Attribute {
    pub fn flag(name: &str) -> Attribute {
        Attribute {
            name: name.to_owned(),
            value: None,
        }
    }

    pub fn new(name: &str, value: impl Into<String>) -> Attribute {
        Attribute {
            name: name.to_owned(),
            value: Some(value.into()),
        }
    }

    /// Attribute names compare without case (real bodies say `a=sendRecv` too).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// One line of a session or media section, other than the ones that open them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    Connection(Connection),
    Bandwidth(Bandwidth),
    Attribute(Attribute),
    /// Any other line (`i=`, `u=`, `e=`, `p=`, `t=`, `r=`, `z=`, `k=`, unknown types),
    /// verbatim: its type letter and its value.
    Other {
        kind: u8,
        value: String,
    },
}

impl Line {
    pub fn attribute(&self) -> Option<&Attribute> {
        match self {
            Line::Attribute(a) => Some(a),
            _ => None,
        }
    }
}

/// Why a body is not a session description the switch can use. Each names the (1-based)
/// line it stopped at; the text fits a Warning header of a 400 or 488.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SdpError {
    #[error("sdp body of {len} bytes is over the limit of {limit}")]
    TooLarge { len: usize, limit: usize },
    #[error("sdp body has more than {limit} lines")]
    TooManyLines { limit: usize },
    #[error("line {line}: more than {limit} media sections")]
    TooManyMedia { line: usize, limit: usize },
    #[error("line {line}: not UTF-8")]
    NotUtf8 { line: usize },
    #[error("line {line}: expected v=0")]
    Version { line: usize },
    #[error("line {line}: not a <type>=<value> line")]
    NotTypeValue { line: usize },
    #[error("line {line}: second {kind}= line in one section")]
    Duplicate { line: usize, kind: char },
    #[error("no o= line")]
    MissingOrigin,
    #[error("line {line}: bad o= line: {reason}")]
    Origin { line: usize, reason: &'static str },
    #[error("line {line}: bad c= line: {reason}")]
    Connection { line: usize, reason: &'static str },
    #[error("line {line}: bad b= line")]
    Bandwidth { line: usize },
    #[error("line {line}: bad m= line: {reason}")]
    Media { line: usize, reason: &'static str },
    #[error("line {line}: bad port {value:?}")]
    Port { line: usize, value: String },
    #[error("line {line}: media section without a connection address")]
    MissingConnection { line: usize },
}

impl Sdp {
    /// Reads a session description (see the module documentation for what it accepts).
    pub fn parse(body: &[u8]) -> Result<Sdp, SdpError> {
        parse::parse(body)
    }

    /// Appends the description, CRLF line ends, to `out`.
    pub fn write_to(&self, out: &mut String) {
        use std::fmt::Write;
        // writing into a String never fails
        write!(out, "{self}").expect("formatting into a String");
    }

    /// The session-level attributes, in order.
    pub fn attributes(&self) -> impl Iterator<Item = &Attribute> + '_ {
        self.lines.iter().filter_map(Line::attribute)
    }

    /// The session-level `c=` line.
    pub fn connection(&self) -> Option<&Connection> {
        self.lines.iter().find_map(|l| match l {
            Line::Connection(c) => Some(c),
            _ => None,
        })
    }

    /// The session-level direction attribute, if there is one.
    pub fn direction(&self) -> Option<Direction> {
        self.attributes().find_map(Direction::of)
    }

    /// The value of the first `t=` line (`0 0` for an unbounded session).
    pub fn timing(&self) -> Option<&str> {
        self.lines.iter().find_map(|l| match l {
            Line::Other { kind: b't', value } => Some(value.as_str()),
            _ => None,
        })
    }

    /// Where `media` is sent to: its own `c=` line, else the session's (RFC 8866 §5.7).
    pub fn connection_of<'a>(&'a self, media: &'a Media) -> Option<&'a Connection> {
        media.connection().or_else(|| self.connection())
    }

    /// The direction of `media`: its own attribute, else the session's, else sendrecv
    /// (RFC 3264 §5.1).
    pub fn direction_of(&self, media: &Media) -> Direction {
        media
            .direction()
            .or_else(|| self.direction())
            .unwrap_or(Direction::SendRecv)
    }
}

#[cfg(test)]
mod tests;
