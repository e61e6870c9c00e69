//! The simulated user agents of a load run, sans-IO: each action of the schedule becomes a
//! flow (a REGISTER, a call's two sides, a MESSAGE, a subscription, a PUBLISH) built on the
//! engine's own transaction machines and digest code, so the load generator is no second SIP
//! stack. A flow takes the messages of its Call-ID and time, and returns what to send and
//! what to record ([`Out`]); the runner owns sockets, clocks and RTP.
//!
//! Every request goes to the target server (an outbound proxy, as a phone's would); Contact
//! and Via name the runner's socket, so the server reaches each simulated device there.

mod callee;
mod caller;
mod plan;
mod request;
pub mod sdp;
mod subscriber;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use switchboard_engine::entropy::Entropy;
use switchboard_engine::sip::digest::Challenge;
use switchboard_engine::sip::{HeaderName, Message};

pub use callee::Callee;
pub use caller::Caller;
pub use plan::{parse_plan, plan_media, plan_value, PLAN_HEADER};
pub use request::{Request, RequestSpec};
pub use sdp::{Audio, MEDIA_HEADER};
pub use subscriber::Subscriber;

use super::{Kind, Outcome};

/// Where the run talks to and from.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The server's `host:port` (Request-URIs of REGISTER and of new requests).
    pub server: String,
    /// The SIP domain of the simulated subscribers (`sip:number@domain`).
    pub domain: String,
    /// This socket's `host:port` (Via and Contact).
    pub local: SocketAddr,
}

/// A simulated device: its subscriber's credentials and the user part of its own Contact
/// (each device of a subscriber has its own, so the server keeps one binding per device).
#[derive(Debug, Clone)]
pub struct Identity {
    pub number: String,
    pub password: String,
    pub contact_user: String,
}

impl Identity {
    pub fn aor(&self, ep: &Endpoint) -> String {
        let mut s = String::with_capacity(5 + self.number.len() + ep.domain.len());
        self.push_aor(&mut s, ep);
        s
    }

    /// Appends `sip:<number>@<domain>`.
    pub(crate) fn push_aor(&self, s: &mut String, ep: &Endpoint) {
        s.push_str("sip:");
        s.push_str(&self.number);
        s.push('@');
        s.push_str(&ep.domain);
    }

    pub fn contact(&self, ep: &Endpoint) -> String {
        let mut s = String::with_capacity(30 + self.contact_user.len());
        s.push_str("<sip:");
        s.push_str(&self.contact_user);
        s.push('@');
        push_addr(&mut s, ep.local);
        s.push('>');
        s
    }
}

/// Appends `ip:port` as `SocketAddr`'s `Display` writes it (without its formatting
/// machinery for IPv4, the common case: Via and Contact of every request).
pub(crate) fn push_addr(s: &mut String, a: SocketAddr) {
    match a {
        SocketAddr::V4(v4) => {
            let mut buf = [0u8; 20];
            for (i, o) in v4.ip().octets().iter().enumerate() {
                if i > 0 {
                    s.push('.');
                }
                s.push_str(decimal(u64::from(*o), &mut buf));
            }
            s.push(':');
            s.push_str(decimal(u64::from(v4.port()), &mut buf));
        }
        SocketAddr::V6(_) => {
            use std::fmt::Write as _;
            let _ = write!(s, "{a}");
        }
    }
}

/// `n` in decimal, written at the end of `buf`.
pub(crate) fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // only ASCII digits were written
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

/// What a flow asks of the runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// Send these bytes to the server.
    Send(Bytes),
    /// A request of `kind` ended, `latency` after it was first sent.
    Done {
        kind: Kind,
        latency: Duration,
        outcome: Outcome,
    },
    /// A call leg is up: send RTP from this flow's media socket to `remote` (the other
    /// side's SDP: the phone itself, or a switch's relay). `peer`: the socket the other phone
    /// really sends from (its `X-Load-Media`), to tell direct packets from relayed ones.
    MediaStart {
        remote: SocketAddr,
        peer: Option<SocketAddr>,
    },
    /// The call leg ended: stop its RTP.
    MediaStop,
    /// The server acknowledged (2xx) the message with this load id.
    MessageAcked(u64),
    /// A NOTIFY arrived; `latency` from the PUBLISH that caused it when its note says.
    Notified { latency: Option<Duration> },
}

/// A Via value for this socket with a fresh branch (returned too).
pub(crate) fn via(ep: &Endpoint, e: &mut Entropy) -> (String, String) {
    let mut branch = String::with_capacity(23);
    branch.push_str("z9hG4bK");
    e.push_token(&mut branch, 16);
    let mut v = String::with_capacity(80);
    v.push_str("SIP/2.0/UDP ");
    push_addr(&mut v, ep.local);
    v.push_str(";branch=");
    v.push_str(&branch);
    v.push_str(";rport");
    (v, branch)
}

/// The credentials answering the challenge in `resp` (401 or 407), with its header name.
pub(crate) fn credentials(
    resp: &Message,
    method: &str,
    uri: &str,
    id: &Identity,
    e: &mut Entropy,
) -> Option<(&'static str, String)> {
    let (challenge, answer) = match resp.status() {
        Some(401) => (HeaderName::WwwAuthenticate, "Authorization"),
        Some(407) => (HeaderName::ProxyAuthenticate, "Proxy-Authorization"),
        _ => return None,
    };
    let ch = Challenge::parse(resp.header(challenge)?).ok()?;
    let cnonce = e.token(12);
    Some((
        answer,
        ch.answer(method, uri, &id.number, &id.password, &cnonce, 1),
    ))
}

/// The common head of a request this agent sends.
pub(crate) struct Head<'a> {
    pub method: &'a str,
    pub uri: &'a str,
    pub via: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub call_id: &'a str,
    pub cseq: u32,
}

/// The request's bytes, written straight into one buffer (the same bytes the engine's
/// `RequestBuilder` writes, without a format per line: every request of a run goes through
/// here).
pub(crate) fn build(h: &Head<'_>, extra: &[(&str, &str)], body: Option<(&str, &[u8])>) -> Bytes {
    let mut out = Vec::with_capacity(
        200 + h.uri.len()
            + h.via.len()
            + h.from.len()
            + h.to.len()
            + h.call_id.len()
            + extra
                .iter()
                .map(|(n, v)| n.len() + v.len() + 4)
                .sum::<usize>()
            + body.map_or(0, |(t, b)| t.len() + b.len() + 20),
    );
    let mut num = [0u8; 20];
    for part in [h.method, " ", h.uri, " SIP/2.0\r\n"] {
        out.extend_from_slice(part.as_bytes());
    }
    let cseq = decimal(u64::from(h.cseq), &mut num);
    let mut line = |name: &str, value: &[&str]| {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        value
            .iter()
            .for_each(|v| out.extend_from_slice(v.as_bytes()));
        out.extend_from_slice(b"\r\n");
    };
    line("Via", &[h.via]);
    line("Max-Forwards", &["70"]);
    line("From", &[h.from]);
    line("To", &[h.to]);
    line("Call-ID", &[h.call_id]);
    line("CSeq", &[cseq, " ", h.method]);
    for (n, v) in extra {
        line(n, &[v]);
    }
    match body {
        Some((ctype, b)) => {
            let len = decimal(b.len() as u64, &mut num);
            line("Content-Type", &[ctype]);
            line("Content-Length", &[len]);
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(b);
        }
        None => out.extend_from_slice(b"Content-Length: 0\r\n\r\n"),
    }
    Bytes::from(out)
}

/// Sends what a BYE's transaction emitted; when its final answer (or timeout) came, reports
/// it (`Kind::Bye`, latency from `sent`) and returns true.
pub(crate) fn drain_bye(
    t: &mut switchboard_engine::txn::ClientNonInvite,
    sent: Instant,
    now: Instant,
    out: &mut Vec<Out>,
) -> bool {
    use switchboard_engine::txn::{Event, Output};
    let mut result = None;
    while let Some(o) = t.poll_output() {
        match o {
            Output::Transmit(b) => out.push(Out::Send(b)),
            Output::Event(Event::Response(r)) if r.status() >= Some(200) => {
                let c = r.status().unwrap_or(0);
                result = Some(if (200..300).contains(&c) {
                    Outcome::Ok(c)
                } else {
                    Outcome::Failed(c)
                });
            }
            Output::Event(Event::Timeout) => result = Some(Outcome::Timeout),
            Output::Event(_) => {}
        }
    }
    let Some(outcome) = result else {
        return false;
    };
    out.push(Out::Done {
        kind: Kind::Bye,
        latency: now.saturating_duration_since(sent),
        outcome,
    });
    true
}

/// Microseconds since `epoch` as carried in a publication's note (`load-t=<µs>`), and back.
pub fn stamp(epoch: Instant, now: Instant) -> u64 {
    now.saturating_duration_since(epoch).as_micros() as u64
}

/// The `load-t=` stamp a NOTIFY body carries (the publication's send time, µs since the
/// run's start).
pub fn stamp_of(body: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(body).ok()?;
    let at = text.find("load-t=")? + 7;
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The latency a NOTIFY body's `load-t=` stamp gives, seen at `now`.
pub fn stamped_latency(body: &[u8], epoch: Instant, now: Instant) -> Option<Duration> {
    let sent = Duration::from_micros(stamp_of(body)?);
    Some(now.saturating_duration_since(epoch).saturating_sub(sent))
}

#[cfg(test)]
mod tests;
