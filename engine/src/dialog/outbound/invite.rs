//! The INVITEs of a call the switch places (RFC 3261 §8.1.1): what each of them is made of,
//! checked once when the call starts, so the first INVITE and the one answering a challenge
//! (§22.2: a new CSeq and branch, the same Call-ID and From tag) differ only in those.
//!
//! The values of a `Dial` come from configuration and chat rooms, not from the network, but
//! a value that is no SIP (a From without its `>`, a header value with a line break) must
//! not produce a request a peer cannot read: `new` refuses it, and `invite` builds only
//! requests that parse and validate.

use bytes::Bytes;

use super::Dial;
use crate::dialog::event::DialogError;
use crate::dialog::state::{contact_of, strip_brackets, ALLOW};
use crate::entropy::Entropy;
use crate::flow::Transport;
use crate::proxy::local::uri_ip;
use crate::proxy::Local;
use crate::sip::{lex, validate, Message, NameAddr, RequestBuilder, Uri};

/// What every INVITE of the call is made of.
#[derive(Debug)]
pub(super) struct InviteParts {
    pub(super) local: Local,
    pub(super) transport: Transport,
    pub(super) request_uri: String,
    route: Vec<String>,
    /// From with our tag.
    from: String,
    to: String,
    pub(super) call_id: String,
    /// Our offer.
    pub(super) sdp: Bytes,
    headers: Vec<(String, String)>,
}

impl InviteParts {
    /// The parts of `dial`, with our From tag and a Call-ID from `entropy`.
    pub(super) fn new(
        dial: &Dial<'_>,
        local: &Local,
        entropy: &mut Entropy,
    ) -> Result<InviteParts, DialogError> {
        Uri::parse(dial.request_uri).map_err(|_| DialogError::Invalid("Request-URI"))?;
        NameAddr::parse(dial.from).map_err(|_| DialogError::Invalid("From"))?;
        NameAddr::parse(dial.to).map_err(|_| DialogError::Invalid("To"))?;
        // a line break in a value would end the header (or the head) early
        let one_line = |s: &str| !s.contains(['\r', '\n']);
        let headers_ok = dial
            .headers
            .iter()
            .all(|(n, v)| lex::is_token(n) && one_line(v))
            && dial.route.iter().all(|r| one_line(r));
        if !headers_ok {
            return Err(DialogError::Invalid("headers"));
        }
        if dial
            .call_id
            .is_some_and(|c| c.is_empty() || !one_line(c) || c.contains(' '))
        {
            return Err(DialogError::Invalid("Call-ID"));
        }
        let tag = entropy.token(10);
        let from = if dial.from.contains('<') {
            format!("{};tag={tag}", dial.from.trim())
        } else {
            format!("<{}>;tag={tag}", dial.from.trim())
        };
        Ok(InviteParts {
            local: local.clone(),
            transport: dial.transport,
            request_uri: dial.request_uri.to_owned(),
            route: dial.route.iter().map(|r| r.trim().to_owned()).collect(),
            from,
            to: dial.to.trim().to_owned(),
            call_id: match dial.call_id {
                Some(c) => c.to_owned(),
                None => format!("{}@{}", entropy.token(20), local.host),
            },
            sdp: Bytes::copy_from_slice(dial.sdp.as_bytes()),
            headers: dial
                .headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        })
    }

    /// Where the INVITEs go first: the URI of the first Route, else the Request-URI (§8.1.2).
    pub(super) fn next_hop(&self) -> &str {
        self.route
            .first()
            .map_or(self.request_uri.as_str(), |r| strip_brackets(r))
    }

    /// The INVITE with CSeq `seq`, `branch` in our Via and the credentials `auth` (header
    /// name and value); `None` if it would not parse or validate (a value given to `new`
    /// broke it in a way `new` does not see, such as a Route that is no name-addr).
    pub(super) fn invite(
        &self,
        seq: u32,
        branch: &str,
        auth: Option<&(&str, String)>,
    ) -> Option<Message> {
        let mut b = RequestBuilder::new("INVITE", &self.request_uri);
        let toward = uri_ip(self.next_hop());
        b.push_header("Via", &self.local.via_to(self.transport, toward, branch));
        b.push_header("Max-Forwards", "70");
        for r in &self.route {
            b.push_header("Route", r);
        }
        b.push_header("From", &self.from);
        b.push_header("To", &self.to);
        b.push_header("Call-ID", &self.call_id);
        b.push_header("CSeq", &format!("{seq} INVITE"));
        b.push_header(
            "Contact",
            &contact_of(&self.local, self.transport, self.next_hop()),
        );
        b.push_header("Allow", ALLOW);
        if let Some((name, value)) = auth {
            b.push_header(name, value);
        }
        for (name, value) in &self.headers {
            b.push_header(name, value);
        }
        let m = Message::parse(b.build(Some(("application/sdp", &self.sdp)))).ok()?;
        validate::request(&m).ok()?;
        Some(m)
    }
}
