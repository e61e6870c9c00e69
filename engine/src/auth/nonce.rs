//! Stateless nonces and nonce-count replay windows.
//!
//! A nonce is `base64url(issued_at || HMAC-SHA256(key, issued_at)[..12])`: the server can
//! check that it issued a nonce and how old it is without storing it. Replay protection is the
//! nonce count: for each (nonce, cnonce) the highest `nc` seen is kept until the nonce expires,
//! and a request must carry a higher one.

use std::collections::HashMap;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Issues and checks nonces.
#[derive(Clone)]
pub struct Nonces {
    key: [u8; 32],
    lifetime: Duration,
}

/// The state of a presented nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Issued by us and within its lifetime; carries the issue time.
    Fresh { issued_at: u64 },
    /// Issued by us but expired: answer with `stale=true` if the digest is otherwise right.
    Stale,
    /// Not ours.
    Forged,
}

const MAC_LEN: usize = 12;

impl Nonces {
    /// `key` is a secret from the OS random source (never a seeded generator).
    pub fn new(key: [u8; 32], lifetime: Duration) -> Nonces {
        Nonces { key, lifetime }
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A nonce for `now` (seconds since the epoch).
    pub fn issue(&self, now: u64) -> String {
        let mut raw = [0u8; 8 + MAC_LEN];
        raw[..8].copy_from_slice(&now.to_be_bytes());
        raw[8..].copy_from_slice(&self.mac(now)[..MAC_LEN]);
        base64url(&raw)
    }

    pub fn check(&self, nonce: &str, now: u64) -> NonceCheck {
        let Some(raw) = unbase64url(nonce) else {
            return NonceCheck::Forged;
        };
        if raw.len() != 8 + MAC_LEN {
            return NonceCheck::Forged;
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&raw[..8]);
        let issued_at = u64::from_be_bytes(ts);
        let mac = self.mac(issued_at);
        // constant-time compare of the MAC
        let diff = mac[..MAC_LEN]
            .iter()
            .zip(&raw[8..])
            .fold(0u8, |a, (x, y)| a | (x ^ y));
        if diff != 0 {
            return NonceCheck::Forged;
        }
        if issued_at > now + 5 {
            return NonceCheck::Forged;
        }
        if now.saturating_sub(issued_at) > self.lifetime.as_secs() {
            return NonceCheck::Stale;
        }
        NonceCheck::Fresh { issued_at }
    }

    fn mac(&self, ts: u64) -> [u8; 32] {
        // HMAC accepts keys of any length
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("hmac key length");
        m.update(&ts.to_be_bytes());
        m.finalize().into_bytes().into()
    }
}

/// Highest nonce count seen per (nonce, cnonce), for one user.
#[derive(Debug, Default, Clone)]
pub struct ReplayWindow {
    seen: HashMap<(Box<str>, Box<str>), (u32, u64)>,
}

impl ReplayWindow {
    /// Accepts `nc` if it is higher than any seen for this nonce and cnonce, and records it.
    /// `issued_at` lets `prune` forget entries whose nonce has expired.
    pub fn accept(&mut self, nonce: &str, cnonce: &str, nc: u32, issued_at: u64) -> bool {
        match self.seen.get_mut(&(Box::from(nonce), Box::from(cnonce))) {
            Some((last, _)) if nc <= *last => false,
            Some((last, _)) => {
                *last = nc;
                true
            }
            None => {
                self.seen
                    .insert((nonce.into(), cnonce.into()), (nc, issued_at));
                true
            }
        }
    }

    /// Drops entries for nonces older than `lifetime`.
    pub fn prune(&mut self, now: u64, lifetime: Duration) {
        self.seen
            .retain(|_, (_, issued)| now.saturating_sub(*issued) <= lifetime.as_secs());
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64url(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..chunk.len() + 1 {
            out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn unbase64url(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nonces() -> Nonces {
        Nonces::new([7; 32], Duration::from_secs(300))
    }

    #[test]
    fn issued_nonces_check_fresh_then_stale() {
        let n = nonces();
        let nonce = n.issue(1000);
        assert_eq!(n.check(&nonce, 1000), NonceCheck::Fresh { issued_at: 1000 });
        assert_eq!(n.check(&nonce, 1300), NonceCheck::Fresh { issued_at: 1000 });
        assert_eq!(n.check(&nonce, 1301), NonceCheck::Stale);
    }

    #[test]
    fn nonces_depend_only_on_time() {
        let n = nonces();
        assert_eq!(n.issue(1000), n.issue(1000));
        assert_ne!(n.issue(1000), n.issue(1001));
    }

    #[test]
    fn tampered_or_foreign_nonces_are_forged() {
        let n = nonces();
        let nonce = n.issue(1000);
        let other = Nonces::new([8; 32], Duration::from_secs(300));
        assert_eq!(other.check(&nonce, 1000), NonceCheck::Forged);
        let mut t = nonce.into_bytes();
        t[3] = if t[3] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            n.check(std::str::from_utf8(&t).unwrap(), 1000),
            NonceCheck::Forged
        );
        assert_eq!(n.check("not base64!", 1000), NonceCheck::Forged);
        assert_eq!(
            n.check(&n.issue(2000), 1000),
            NonceCheck::Forged,
            "from the future"
        );
    }

    #[test]
    fn nonce_counts_must_increase_per_cnonce() {
        let mut w = ReplayWindow::default();
        assert!(w.accept("n", "c1", 1, 0));
        assert!(!w.accept("n", "c1", 1, 0), "replay");
        assert!(w.accept("n", "c1", 2, 0));
        assert!(
            w.accept("n", "c2", 1, 0),
            "another device with the same nonce"
        );
        w.prune(400, Duration::from_secs(300));
        assert!(w.is_empty());
    }
}
