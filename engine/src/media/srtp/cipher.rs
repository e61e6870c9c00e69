//! AES in counter mode (RFC 3711 §4.1.1) and the session keys of one of SRTP or SRTCP.

use aes::cipher::{InnerIvInit, KeyInit, StreamCipher, StreamCipherCoreWrapper};
use aes::Aes128;
use hmac::Hmac;
use sha1::Sha1;

use super::MASTER_SALT_LEN;

pub(super) type HmacSha1 = Hmac<Sha1>;

/// The keys derived for SRTP or for SRTCP (RFC 3711 §4.3.1): the cipher with its key
/// schedule expanded once, the session salt, and the HMAC with its key absorbed once (each
/// packet starts from a copy of it, which is a copy of two SHA-1 states, no allocation).
#[derive(Clone)]
pub(super) struct SessionKeys {
    pub(super) cipher: Aes128,
    pub(super) salt: [u8; MASTER_SALT_LEN],
    pub(super) mac: HmacSha1,
}

impl SessionKeys {
    pub(super) fn new(key: &[u8; 16], salt: [u8; MASTER_SALT_LEN], auth: &[u8; 20]) -> Self {
        SessionKeys {
            cipher: Aes128::new(key.into()),
            salt,
            // HMAC takes keys of any length
            mac: <HmacSha1 as KeyInit>::new_from_slice(auth).expect("hmac takes any key"),
        }
    }
}

/// The counter block a packet's keystream starts at (§4.1.1): `(k_s * 2^16) XOR (SSRC *
/// 2^64) XOR (i * 2^16)`, with `i` the 48-bit packet index (or the 31-bit SRTCP index).
pub(super) fn iv(salt: &[u8; MASTER_SALT_LEN], ssrc: u32, index: u64) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..MASTER_SALT_LEN].copy_from_slice(salt);
    for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
        *b ^= s;
    }
    // the index's low 48 bits land on bytes 8..14
    for (b, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
        *b ^= s;
    }
    iv
}

/// XORs `data` with the AES-CM keystream starting at counter block `iv` (the block counter
/// is the last 16 bits, big-endian; a packet is far below 2^16 blocks).
pub(super) fn apply_keystream(cipher: &Aes128, iv: &[u8; 16], data: &mut [u8]) {
    let core = ctr::CtrCore::<&Aes128, ctr::flavors::Ctr128BE>::inner_iv_init(cipher, iv.into());
    StreamCipherCoreWrapper::from_core(core).apply_keystream(data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::srtp::tests::hex;

    #[test]
    fn rfc3711_b2_the_keystream_of_index_0_ssrc_0_is_the_test_vector() {
        let key: [u8; 16] = hex("2B7E151628AED2A6ABF7158809CF4F3C").try_into().unwrap();
        let salt: [u8; 14] = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD").try_into().unwrap();
        let cipher = Aes128::new(&key.into());
        let iv = iv(&salt, 0, 0);
        assert_eq!(iv.to_vec(), hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000"));
        // the whole segment of B.2: 65282 blocks
        let mut stream = vec![0u8; 1_044_512];
        apply_keystream(&cipher, &iv, &mut stream);
        assert_eq!(
            stream[..48].to_vec(),
            hex("E03EAD0935C95E80E166B16DD92B4EB4\
                 D23513162B02D0F72A43A2FE4A5F97AB\
                 41E95B3BB0A2E8DD477901E4FCA894C0")
        );
        assert_eq!(
            stream[stream.len() - 48..].to_vec(),
            hex("EC8CDF7398607CB0F2D21675EA9EA1E4\
                 362B7C3C6773516318A077D7FC5073AE\
                 6A2CC3787889374FBEB4C81B17BA6C44")
        );
    }

    #[test]
    fn the_counter_block_takes_the_ssrc_and_the_index_where_the_rfc_puts_them() {
        let salt = [0u8; 14];
        let v = iv(&salt, 0xcafebabe, 0x0000_1234_5678_9abc);
        assert_eq!(v.to_vec(), hex("00000000CAFEBABE123456789ABC0000"));
    }
}
