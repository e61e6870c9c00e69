//! SRTP key derivation (RFC 3711 §4.3) with the key derivation rate 0 (SDES's default,
//! RFC 4568 §6.3.1): each session key is the AES-CM keystream of the master key, started at
//! the master salt XOR the key's label (§4.3.1), so it is derived once per master key.

use aes::cipher::KeyInit;
use aes::Aes128;

use super::cipher::{apply_keystream, SessionKeys};
use super::{MasterKey, MASTER_SALT_LEN};

/// The labels of §4.3.2 (SRTP) and §4.3.2's SRTCP counterparts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Label {
    RtpCipher = 0,
    RtpAuth = 1,
    RtpSalt = 2,
    RtcpCipher = 3,
    RtcpAuth = 4,
    RtcpSalt = 5,
}

/// The session keys for SRTP, then for SRTCP.
pub(super) fn session_keys(master: &MasterKey) -> (SessionKeys, SessionKeys) {
    let prf = Aes128::new(&master.key.into());
    let keys = |cipher, auth, salt| {
        let mut k = [0u8; 16];
        let mut a = [0u8; 20];
        let mut s = [0u8; MASTER_SALT_LEN];
        derive(&prf, &master.salt, cipher, &mut k);
        derive(&prf, &master.salt, auth, &mut a);
        derive(&prf, &master.salt, salt, &mut s);
        SessionKeys::new(&k, s, &a)
    };
    (
        keys(Label::RtpCipher, Label::RtpAuth, Label::RtpSalt),
        keys(Label::RtcpCipher, Label::RtcpAuth, Label::RtcpSalt),
    )
}

/// `out.len()` bytes of the key with `label`: `x = key_id XOR master_salt`, with `key_id =
/// label || r` and `r = 0` (rate 0), so the label lands 48 bits up (byte 7 of the salt); the
/// key is the keystream from `x * 2^16`.
pub(super) fn derive(prf: &Aes128, salt: &[u8; MASTER_SALT_LEN], label: Label, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..MASTER_SALT_LEN].copy_from_slice(salt);
    iv[7] ^= label as u8;
    out.fill(0);
    apply_keystream(prf, &iv, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::srtp::tests::hex;

    #[test]
    fn rfc3711_b3_the_session_keys_are_the_test_vectors() {
        let master = MasterKey::from_slice(&hex(
            "E1F97A0D3E018BE0D64FA32C06DE41390EC675AD498AFEEBB6960B3AABE6",
        ))
        .unwrap();
        let prf = Aes128::new(&master.key.into());
        let mut key = [0u8; 16];
        derive(&prf, &master.salt, Label::RtpCipher, &mut key);
        assert_eq!(key.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
        let mut salt = [0u8; 14];
        derive(&prf, &master.salt, Label::RtpSalt, &mut salt);
        assert_eq!(salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
        // B.3 lists 94 bytes of the authentication key; SHA1-HMAC takes the first 20
        let mut auth = [0u8; 94];
        derive(&prf, &master.salt, Label::RtpAuth, &mut auth);
        assert_eq!(
            auth.to_vec(),
            hex("CEBE321F6FF7716B6FD4AB49AF256A15\
                 6D38BAA48F0A0ACF3C34E2359E6CDBCE\
                 E049646C43D9327AD175578EF7227098\
                 6371C10C9A369AC2F94A8C5FBCDDDC25\
                 6D6E919A48B610EF17C2041E47403576\
                 6B68642C59BBFC2F34DB60DBDFB2")
        );
    }
}
