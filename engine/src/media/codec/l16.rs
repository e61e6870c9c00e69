//! L16 (RFC 3551 §4.5.11): uncompressed 16-bit signed samples in network byte order
//! (big-endian), two octets per sample, at any sample rate.

/// Writes `pcm` as big-endian octets; returns the octets written, `2 * min(pcm.len(),
/// out.len() / 2)`.
pub fn encode(pcm: &[i16], out: &mut [u8]) -> usize {
    let n = pcm.len().min(out.len() / 2);
    for (o, &s) in out.chunks_exact_mut(2).zip(&pcm[..n]) {
        o.copy_from_slice(&s.to_be_bytes());
    }
    2 * n
}

/// Reads big-endian samples; returns the samples written, `min(payload.len() / 2,
/// out.len())`. A trailing odd octet is not a sample and is ignored.
pub fn decode(payload: &[u8], out: &mut [i16]) -> usize {
    let n = (payload.len() / 2).min(out.len());
    for (o, b) in out[..n].iter_mut().zip(payload.chunks_exact(2)) {
        *o = i16::from_be_bytes([b[0], b[1]]);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_go_on_the_wire_most_significant_octet_first() {
        let mut out = [0u8; 6];
        assert_eq!(encode(&[0x1234, -2, i16::MIN], &mut out), 6);
        assert_eq!(out, [0x12, 0x34, 0xFF, 0xFE, 0x80, 0x00]);
        let mut back = [0i16; 3];
        assert_eq!(decode(&out, &mut back), 3);
        assert_eq!(back, [0x1234, -2, i16::MIN]);
    }

    #[test]
    fn a_trailing_odd_octet_or_a_short_buffer_limits_what_is_converted() {
        let mut back = [0i16; 4];
        assert_eq!(decode(&[0x00, 0x01, 0x7F], &mut back), 1);
        assert_eq!(back[0], 1);
        let mut out = [0u8; 3];
        assert_eq!(encode(&[1, 2], &mut out), 2);
        assert_eq!(out[..2], [0x00, 0x01]);
    }
}
