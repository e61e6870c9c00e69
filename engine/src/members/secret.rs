//! Secrets kept as salted hashes: verification codes and hot-desk PINs. SHA-256 of 16 random
//! bytes of salt and the secret; compared in time independent of where they differ. (A 4 to
//! 8 digit secret is short, so its real protection is the limits on tries, not the hash: a
//! copy of the store does not show the PINs, but could be searched.)

use sha2::{Digest, Sha256};

/// A PIN as stored: SHA-256 of a random salt and the PIN.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct PinHash {
    pub salt: [u8; 16],
    pub hash: [u8; 32],
}

impl PinHash {
    pub fn new(pin: &str, salt: [u8; 16]) -> PinHash {
        PinHash {
            salt,
            hash: hash(&salt, pin),
        }
    }

    pub fn matches(&self, pin: &str) -> bool {
        same(&hash(&self.salt, pin), &self.hash)
    }
}

/// SHA-256 of the salt and the secret.
pub fn hash(salt: &[u8; 16], secret: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(secret.as_bytes());
    h.finalize().into()
}

/// Equality in time independent of where the first difference is.
pub fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
