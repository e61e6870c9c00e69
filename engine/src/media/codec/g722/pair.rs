//! Two independent streams encoded side by side: a conference mixer encodes the wideband
//! format's shared payload and a wideband talker's own N-1 mix in the same tick. One G.722
//! encoder is a chain of dependent steps per sample (each sample's prediction needs the last
//! one's adaptation), so a processor with room for more runs two encoders' chains at once when
//! their steps are interleaved: same integer steps, same octets as two `encode` calls.

use super::{G722Encoder, QMF_BLOCK};

impl G722Encoder {
    /// Encodes `pcm_a` with `a` and `pcm_b` with `b`, as `a.encode(pcm_a, out_a)` and
    /// `b.encode(pcm_b, out_b)` would (the same octets, the same state after); returns the
    /// octets each wrote.
    pub fn encode_pair(
        a: &mut G722Encoder,
        pcm_a: &[i16],
        out_a: &mut [u8],
        b: &mut G722Encoder,
        pcm_b: &[i16],
        out_b: &mut [u8],
    ) -> (usize, usize) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has AVX2
            return unsafe { encode_pair_avx2(a, pcm_a, out_a, b, pcm_b, out_b) };
        }
        encode_pair_frames(a, pcm_a, out_a, b, pcm_b, out_b)
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn encode_pair_avx2(
    a: &mut G722Encoder,
    pcm_a: &[i16],
    out_a: &mut [u8],
    b: &mut G722Encoder,
    pcm_b: &[i16],
    out_b: &mut [u8],
) -> (usize, usize) {
    encode_pair_frames(a, pcm_a, out_a, b, pcm_b, out_b)
}

#[inline(always)]
fn encode_pair_frames(
    a: &mut G722Encoder,
    pcm_a: &[i16],
    out_a: &mut [u8],
    b: &mut G722Encoder,
    pcm_b: &[i16],
    out_b: &mut [u8],
) -> (usize, usize) {
    let na = (pcm_a.len() / 2).min(out_a.len());
    let nb = (pcm_b.len() / 2).min(out_b.len());
    let both = na.min(nb);
    let (mut xla, mut xha) = ([0i32; QMF_BLOCK], [0i32; QMF_BLOCK]);
    let (mut xlb, mut xhb) = ([0i32; QMF_BLOCK], [0i32; QMF_BLOCK]);
    let mut done = 0;
    while done < both {
        let m = (both - done).min(QMF_BLOCK);
        a.qmf.analyze_block(
            &pcm_a[2 * done..2 * (done + m)],
            &mut xla[..m],
            &mut xha[..m],
        );
        b.qmf.analyze_block(
            &pcm_b[2 * done..2 * (done + m)],
            &mut xlb[..m],
            &mut xhb[..m],
        );
        let outs = out_a[done..done + m]
            .iter_mut()
            .zip(&mut out_b[done..done + m]);
        for (k, (oa, ob)) in outs.enumerate() {
            // the two streams' steps interleaved: neither waits on the other
            *oa = a.encode_bands(xla[k], xha[k]);
            *ob = b.encode_bands(xlb[k], xhb[k]);
        }
        done += m;
    }
    // a longer one finishes alone (frames of a tick have the same length)
    if na > both {
        a.encode_frame(&pcm_a[2 * both..], &mut out_a[both..na]);
    }
    if nb > both {
        b.encode_frame(&pcm_b[2 * both..], &mut out_b[both..nb]);
    }
    (na, nb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speechlike(seed: u32, n: usize) -> Vec<i16> {
        let mut x = seed;
        (0..n)
            .map(|i| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let tone = (i as f64 * 0.07 * (1.0 + f64::from(seed % 7))).sin() * 9000.0;
                (tone + f64::from((x >> 16) as i16) * 0.2) as i16
            })
            .collect()
    }

    #[test]
    fn a_pair_encodes_as_two_single_encodes_do() {
        let (mut a1, mut b1) = (G722Encoder::new(), G722Encoder::new());
        let (mut a2, mut b2) = (G722Encoder::new(), G722Encoder::new());
        // frames of a conference tick, then unequal lengths and an odd sample
        for (frame, (la, lb)) in [(320, 320), (320, 320), (320, 320), (640, 320), (321, 100)]
            .iter()
            .enumerate()
        {
            let pa = speechlike(frame as u32 * 2 + 1, *la);
            let pb = speechlike(frame as u32 * 2 + 2, *lb);
            let (mut oa1, mut ob1) = (vec![0u8; 400], vec![0u8; 400]);
            let (mut oa2, mut ob2) = (vec![0u8; 400], vec![0u8; 400]);
            let na1 = a1.encode(&pa, &mut oa1);
            let nb1 = b1.encode(&pb, &mut ob1);
            let (na2, nb2) =
                G722Encoder::encode_pair(&mut a2, &pa, &mut oa2, &mut b2, &pb, &mut ob2);
            assert_eq!((na1, nb1), (na2, nb2));
            assert_eq!(oa1[..na1], oa2[..na2], "frame {frame}, stream a");
            assert_eq!(ob1[..nb1], ob2[..nb2], "frame {frame}, stream b");
        }
        // and the state carried: the next single encodes agree too
        let p = speechlike(99, 320);
        let (mut o1, mut o2) = (vec![0u8; 160], vec![0u8; 160]);
        a1.encode(&p, &mut o1);
        a2.encode(&p, &mut o2);
        assert_eq!(o1, o2);
        b1.encode(&p, &mut o1);
        b2.encode(&p, &mut o2);
        assert_eq!(o1, o2);
    }

    #[test]
    fn the_plain_pair_matches_the_dispatched_one() {
        let pa = speechlike(5, 320);
        let pb = speechlike(6, 320);
        let (mut a1, mut b1) = (G722Encoder::new(), G722Encoder::new());
        let (mut a2, mut b2) = (G722Encoder::new(), G722Encoder::new());
        let (mut oa1, mut ob1, mut oa2, mut ob2) = ([0u8; 160], [0u8; 160], [0u8; 160], [0u8; 160]);
        encode_pair_frames(&mut a1, &pa, &mut oa1, &mut b1, &pb, &mut ob1);
        G722Encoder::encode_pair(&mut a2, &pa, &mut oa2, &mut b2, &pb, &mut ob2);
        assert_eq!((oa1, ob1), (oa2, ob2));
    }
}
