//! Deterministic entropy for tags, branches, Call-IDs and cnonces.
//!
//! Machines never read the OS for randomness: they are given an `Entropy` at construction, so
//! tests replay exactly with a fixed seed while the actors seed from the operating system.
//! The generator is wyrand (64-bit state, passes BigCrush); it is not a cryptographic source
//! and is never used for secrets such as nonce keys or passwords.

/// A seeded pseudo-random source.
#[derive(Debug, Clone)]
pub struct Entropy {
    state: u64,
}

impl Entropy {
    pub fn seeded(seed: u64) -> Entropy {
        Entropy {
            state: seed ^ 0x2d35_8dcc_aa6c_78a5,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0xa076_1d64_78bd_642f);
        let t = (self.state as u128).wrapping_mul((self.state ^ 0xe703_7ed1_a0b4_28db) as u128);
        ((t >> 64) as u64) ^ (t as u64)
    }

    /// Appends `n` characters of a URL- and SIP-token-safe alphabet.
    pub fn push_token(&mut self, out: &mut String, n: usize) {
        const ALPHABET: &[u8; 62] =
            b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut bits = 0u64;
        let mut left = 0;
        for _ in 0..n {
            if left == 0 {
                bits = self.next_u64();
                left = 10;
            }
            out.push(ALPHABET[(bits % 62) as usize] as char);
            bits /= 62;
            left -= 1;
        }
    }

    /// A fresh token of `n` characters.
    pub fn token(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        self.push_token(&mut s, n);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_different_seed_different_sequence() {
        let mut a = Entropy::seeded(7);
        let mut b = Entropy::seeded(7);
        let mut c = Entropy::seeded(8);
        let xa: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let xb: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        let xc: Vec<u64> = (0..4).map(|_| c.next_u64()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
    }

    #[test]
    fn tokens_use_only_token_characters() {
        let mut e = Entropy::seeded(1);
        let t = e.token(40);
        assert_eq!(t.len(), 40);
        assert!(t.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(t, e.token(40));
    }
}
