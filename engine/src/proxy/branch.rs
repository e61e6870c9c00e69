//! Branch identifiers and loop detection (RFC 3261 §16.3 step 4, §16.6 step 8, §16.11).
//!
//! A branch Switchboard generates is `z9hG4bKsb<random>.<loop hash>`, where the loop hash
//! covers the fields that identify the request as received (Request-URI, From and To tags,
//! Call-ID, CSeq number, Proxy-Require, Proxy-Authorization). A request arriving with one of
//! our Via values whose hash equals the hash of the request itself has looped; a different
//! hash means it spiralled (for example after the Request-URI was retargeted). Credentials for
//! our own realm are left out of the hash: the switch consumes them and does not forward
//! them, so a looped request arrives without them.

use crate::entropy::Entropy;
use crate::sip::{HeaderName, Message};

use super::local::Local;

/// Prefix of every branch Switchboard generates.
pub const PREFIX: &str = "z9hG4bKsb";

/// A fresh branch for forwarding `req` (as received).
pub fn generate(entropy: &mut Entropy, req: &Message, realm: &str) -> String {
    let mut b = String::with_capacity(PREFIX.len() + 21);
    b.push_str(PREFIX);
    entropy.push_token(&mut b, 12);
    b.push('.');
    b.push_str(&format!("{:08x}", loop_hash(req, realm)));
    b
}

/// A branch for a request the switch originates as a user agent (a call it places, its own
/// BYE): no loop hash, since such a request reaching our proxy is at its first hop, not
/// looping (`is_loop` skips branches without one).
pub fn originated(entropy: &mut Entropy) -> String {
    let mut b = String::with_capacity(PREFIX.len() + 16);
    b.push_str(PREFIX);
    entropy.push_token(&mut b, 16);
    b
}

/// The branch for forwarding an ACK for 2xx (or any request) statelessly: derived from the
/// incoming branch so retransmissions get the same one (§16.11).
pub fn stateless(req: &Message, realm: &str) -> String {
    let incoming = req
        .top_via()
        .and_then(|v| v.branch().map(str::to_owned))
        .unwrap_or_default();
    let mut h = Fnv::new();
    h.write(incoming.as_bytes());
    h.write(req.call_id().unwrap_or("").as_bytes());
    format!("{PREFIX}{:016x}.{:08x}", h.finish(), loop_hash(req, realm))
}

/// Hash of the identity of a request for loop detection (credentials for `realm` left out).
pub fn loop_hash(req: &Message, realm: &str) -> u32 {
    let mut h = Fnv::new();
    h.write(req.request_uri_str().unwrap_or("").as_bytes());
    h.write(b"\0");
    h.write(req.from_tag().unwrap_or("").as_bytes());
    h.write(b"\0");
    h.write(req.to_tag().unwrap_or("").as_bytes());
    h.write(b"\0");
    h.write(req.call_id().unwrap_or("").as_bytes());
    h.write(b"\0");
    h.write(
        req.cseq()
            .map(|c| c.seq)
            .unwrap_or(0)
            .to_be_bytes()
            .as_slice(),
    );
    for v in req.header_lines(HeaderName::ProxyRequire) {
        h.write(v.as_bytes());
    }
    for v in req.header_lines(HeaderName::ProxyAuthorization) {
        let ours = crate::sip::digest::Credentials::parse(v).is_ok_and(|c| c.realm == realm);
        if !ours {
            h.write(v.as_bytes());
        }
    }
    let x = h.finish();
    (x ^ (x >> 32)) as u32
}

/// Whether `req` has looped back to us (§16.3 step 4).
pub fn is_loop(req: &Message, local: &Local) -> bool {
    let mut hash = None;
    for via in req.vias() {
        if !local.is_our_sent_by(via.host(), via.port()) {
            continue;
        }
        let Some(b) = via.branch() else { continue };
        let Some(suffix) = b
            .strip_prefix(PREFIX)
            .and_then(|r| r.rsplit_once('.'))
            .map(|x| x.1)
        else {
            continue;
        };
        let h: &String =
            hash.get_or_insert_with(|| format!("{:08x}", loop_hash(req, &local.realm)));
        if suffix == h.as_str() {
            return true;
        }
    }
    false
}

/// 64-bit FNV-1a: small, deterministic, no allocation.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, b: &[u8]) {
        for &c in b {
            self.0 ^= c as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Transport;
    use crate::sip::Forward;
    use bytes::Bytes;

    fn invite(uri: &str) -> Message {
        let s = format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\r\n\
To: <sip:1001@sb>\r\nFrom: <sip:1002@sb>;tag=f\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse(Bytes::from(s)).unwrap()
    }

    #[test]
    fn a_request_forwarded_back_to_us_unchanged_is_a_loop() {
        let local = Local::new("127.0.0.1", 5060, "sb");
        let mut e = Entropy::seeded(1);
        let inv = invite("sip:1001@sb");
        assert!(!is_loop(&inv, &local));
        let b = generate(&mut e, &inv, "sb");
        let fwd = Forward::request()
            .push_via(&local.via(Transport::Udp, &b))
            .to_bytes(&inv);
        let back = Message::parse(fwd).unwrap();
        assert!(is_loop(&back, &local));
    }

    #[test]
    fn a_loop_is_found_after_our_credentials_were_dropped() {
        let local = Local::new("127.0.0.1", 5060, "sb");
        let mut e = Entropy::seeded(1);
        let raw = String::from_utf8(invite("sip:1001@sb").as_bytes().to_vec()).unwrap().replacen(
            "\r\n",
            "\r\nProxy-Authorization: Digest username=\"1002\", realm=\"sb\", nonce=\"n\", uri=\"sip:1001@sb\", response=\"r\"\r\n",
            1,
        );
        let inv = Message::parse(Bytes::from(raw)).unwrap();
        let b = generate(&mut e, &inv, "sb");
        let fwd = Forward::request()
            .push_via(&local.via(Transport::Udp, &b))
            .drop_credentials("sb")
            .to_bytes(&inv);
        let back = Message::parse(fwd).unwrap();
        assert!(back.header(HeaderName::ProxyAuthorization).is_none());
        assert!(is_loop(&back, &local));
    }

    #[test]
    fn a_retargeted_request_spirals_instead() {
        let local = Local::new("127.0.0.1", 5060, "sb");
        let mut e = Entropy::seeded(1);
        let inv = invite("sip:1001@sb");
        let b = generate(&mut e, &inv, "sb");
        let fwd = Forward::request()
            .request_uri("sip:1001@192.0.2.9")
            .push_via(&local.via(Transport::Udp, &b))
            .to_bytes(&inv);
        assert!(!is_loop(&Message::parse(fwd).unwrap(), &local));
    }

    #[test]
    fn a_request_the_switch_originates_is_no_loop_when_it_reaches_our_proxy() {
        let local = Local::new("127.0.0.1", 5060, "sb");
        let mut e = Entropy::seeded(1);
        let b = originated(&mut e);
        assert!(b.starts_with(PREFIX) && !b.contains('.'), "{b}");
        assert_ne!(b, originated(&mut e));
        let s = format!(
            "INVITE sip:1001@sb SIP/2.0\r\nVia: {}\r\nTo: <sip:1001@sb>\r\n\
From: <sip:conf-a@sb>;tag=f\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
            local.via(Transport::Udp, &b)
        );
        assert!(!is_loop(&Message::parse(Bytes::from(s)).unwrap(), &local));
    }

    #[test]
    fn branches_are_unique_and_stateless_ones_repeat() {
        let inv = invite("sip:1001@sb");
        let mut e = Entropy::seeded(1);
        assert_ne!(generate(&mut e, &inv, "sb"), generate(&mut e, &inv, "sb"));
        assert!(generate(&mut e, &inv, "sb").starts_with("z9hG4bK"));
        assert_eq!(stateless(&inv, "sb"), stateless(&inv, "sb"));
    }
}
