//! Transaction matching (RFC 3261 §17.1.3 client side, §17.2.3 server side).
//!
//! A key is one shared byte string, so a lookup costs one hash of a short buffer, building a
//! key costs one allocation and cloning it (a table and its expiry queue) none. Server keys use the branch and sent-by when the branch carries
//! the magic cookie, and fall back to the RFC 2543 rule (Request-URI, From tag, Call-ID,
//! CSeq number, top Via) otherwise. ACK maps to its INVITE; CANCEL has transactions of its
//! own and `cancel_target` finds the INVITE it refers to.

use std::sync::Arc;

use crate::sip::{Message, Method};

/// Identifies a client transaction: the branch Switchboard generated and the CSeq method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey(Arc<[u8]>);

impl ClientKey {
    pub fn new(branch: &str, method: &str) -> ClientKey {
        let mut k = Vec::with_capacity(branch.len() + method.len() + 1);
        k.extend_from_slice(branch.as_bytes());
        k.push(0);
        k.extend_from_slice(method.as_bytes());
        ClientKey(Arc::from(k))
    }

    /// The key a response belongs to: its top Via branch and CSeq method.
    pub fn from_response(resp: &Message) -> Option<ClientKey> {
        let branch = resp.top_via()?.branch()?;
        let cseq = resp.cseq()?;
        Some(ClientKey::new(branch, cseq.method_str))
    }

    /// The key of a request Switchboard sends (top Via is its own).
    pub fn from_request(req: &Message) -> Option<ClientKey> {
        let branch = req.top_via()?.branch()?;
        Some(ClientKey::new(branch, req.method_str()?))
    }
}

/// Identifies a server transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerKey(Arc<[u8]>);

impl ServerKey {
    /// The key of the transaction a request belongs to (ACK → its INVITE).
    pub fn from_request(req: &Message) -> Option<ServerKey> {
        let method = match req.method()? {
            Method::Ack => "INVITE",
            _ => req.method_str()?,
        };
        Self::build(req, method)
    }

    /// The key of the INVITE transaction a CANCEL refers to (§9.2).
    pub fn cancel_target(cancel: &Message) -> Option<ServerKey> {
        Self::build(cancel, "INVITE")
    }

    fn build(req: &Message, method: &str) -> Option<ServerKey> {
        let via_text = req.header_values(crate::sip::HeaderName::Via).next()?;
        let via = req.top_via()?;
        let mut k = Vec::with_capacity(96);
        match via.branch() {
            Some(b) if b.starts_with(crate::sip::via::MAGIC_COOKIE) => {
                k.push(b'3');
                k.extend_from_slice(b.as_bytes());
                k.push(0);
                for c in via.host().bytes() {
                    k.push(c.to_ascii_lowercase());
                }
                k.push(b':');
                push_decimal(&mut k, via.port().unwrap_or(5060) as u32);
            }
            _ => {
                // RFC 2543 fallback (§17.2.3): To tag is left out so the ACK, which carries the
                // tag of our response, matches the INVITE that had none.
                k.push(b'2');
                k.extend_from_slice(req.request_uri_str()?.as_bytes());
                k.push(0);
                k.extend_from_slice(req.from_tag().unwrap_or("").as_bytes());
                k.push(0);
                k.extend_from_slice(req.call_id()?.as_bytes());
                k.push(0);
                push_decimal(&mut k, req.cseq()?.seq);
                k.push(0);
                k.extend_from_slice(via_text.as_bytes());
            }
        }
        k.push(0);
        k.extend_from_slice(method.as_bytes());
        Some(ServerKey(Arc::from(k)))
    }
}

/// Appends `n` in decimal (a key is built per datagram: no formatter, no string).
fn push_decimal(k: &mut Vec<u8>, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    k.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::builder::{ack_for, cancel_for};
    use crate::txn::testing::*;

    #[test]
    fn ack_and_retransmission_match_the_invite_and_cancel_does_not() {
        let inv = invite();
        let k = ServerKey::from_request(&inv).unwrap();
        assert_eq!(ServerKey::from_request(&invite()).unwrap(), k);
        let resp = response_to(&inv, 486);
        let ack = msg(std::str::from_utf8(&ack_for(&inv, &resp)).unwrap());
        assert_eq!(ServerKey::from_request(&ack).unwrap(), k);
        let cancel = msg(std::str::from_utf8(&cancel_for(&inv)).unwrap());
        assert_ne!(ServerKey::from_request(&cancel).unwrap(), k);
        assert_eq!(ServerKey::cancel_target(&cancel).unwrap(), k);
    }

    #[test]
    fn sent_by_distinguishes_equal_branches_from_different_hosts() {
        let a = invite();
        let text = String::from_utf8(a.as_bytes().to_vec()).unwrap();
        let b = msg(&text.replace("pc33.atlanta.com;branch", "other.example.com;branch"));
        assert_ne!(ServerKey::from_request(&a), ServerKey::from_request(&b));
        let c = msg(&text.replace("pc33.atlanta.com;branch", "PC33.ATLANTA.COM:5060;branch"));
        assert_eq!(ServerKey::from_request(&a), ServerKey::from_request(&c));
    }

    #[test]
    fn rfc2543_requests_match_on_their_identity_fields() {
        let text = String::from_utf8(invite().as_bytes().to_vec()).unwrap();
        let old = msg(&text.replace(";branch=z9hG4bKnashds8", ""));
        let k = ServerKey::from_request(&old).unwrap();
        let resp = response_to(&old, 404);
        let ack = msg(std::str::from_utf8(&ack_for(&old, &resp)).unwrap());
        assert_eq!(ServerKey::from_request(&ack).unwrap(), k);
        let other = msg(&text
            .replace(";branch=z9hG4bKnashds8", "")
            .replace("314159", "314160"));
        assert_ne!(ServerKey::from_request(&other).unwrap(), k);
    }

    #[test]
    fn decimals_are_written_as_to_string_writes_them() {
        for n in [0, 7, 10, 5060, 65535, 314159, u32::MAX] {
            let mut k = Vec::new();
            push_decimal(&mut k, n);
            assert_eq!(k, n.to_string().into_bytes());
        }
    }

    #[test]
    fn client_key_pairs_branch_with_method() {
        let inv = invite();
        let resp = response_to(&inv, 180);
        assert_eq!(
            ClientKey::from_response(&resp),
            ClientKey::from_request(&inv)
        );
        let cancel = msg(std::str::from_utf8(&cancel_for(&inv)).unwrap());
        assert_ne!(
            ClientKey::from_request(&cancel),
            ClientKey::from_request(&inv)
        );
    }
}
