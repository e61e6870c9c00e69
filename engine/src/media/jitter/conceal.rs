//! Packet loss concealment by repetition: the last good frame again, fading out.

use crate::media::MAX_FRAME_SAMPLES;

/// Frames of repetition before silence (60 ms).
const FADE_FRAMES: u32 = 3;

/// Fills `Missing` frames from the last good decoded frame: each repetition is 6 dB quieter
/// than the one before (gain 1/2, 1/4, then a ramp to 0), with the gain ramped across the
/// frame so no step is heard; from the fourth missing frame on, silence. The first good frame
/// after a loss fades back in from where the concealment left off.
///
/// The frame buffer is allocated once in `new`; `good_frame` and `conceal` only copy.
#[derive(Clone, Debug)]
pub struct Concealment {
    last: Box<[i16]>,
    len: usize,
    /// Missing frames in a row so far.
    repeats: u32,
}

impl Default for Concealment {
    fn default() -> Self {
        Concealment::new()
    }
}

impl Concealment {
    pub fn new() -> Concealment {
        Concealment {
            last: vec![0; MAX_FRAME_SAMPLES].into_boxed_slice(),
            len: 0,
            repeats: 0,
        }
    }

    /// Notes a frame decoded from a received packet (at most `MAX_FRAME_SAMPLES` samples are
    /// kept). After a loss it is faded in, in place, from the concealment's last gain to full.
    pub fn good_frame(&mut self, pcm: &mut [i16]) {
        // remember it as decoded: a later concealment repeats the frame, not the fade-in
        self.len = pcm.len().min(self.last.len());
        self.last[..self.len].copy_from_slice(&pcm[..self.len]);
        if self.repeats > 0 && !pcm.is_empty() {
            let from = gain_after(self.repeats);
            ramp(pcm, from, 1.0);
        }
        self.repeats = 0;
    }

    /// Writes the concealment for one missing frame into `out` (its whole length: the last
    /// frame repeated over it, or silence if there was none).
    pub fn conceal(&mut self, out: &mut [i16]) {
        let from = gain_after(self.repeats);
        self.repeats = self.repeats.saturating_add(1);
        let to = gain_after(self.repeats);
        if self.len == 0 || from == 0.0 {
            out.fill(0);
            return;
        }
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.last[i % self.len];
        }
        ramp(out, from, to);
    }

    /// Missing frames in a row so far.
    pub fn repeats(&self) -> u32 {
        self.repeats
    }
}

/// The gain at the end of the `n`th missing frame: 1, 1/2, 1/4, then 0.
fn gain_after(n: u32) -> f32 {
    if n >= FADE_FRAMES {
        0.0
    } else {
        1.0 / (1u32 << n) as f32
    }
}

/// Scales `pcm` by a gain moving linearly from `from` to `to` across it.
fn ramp(pcm: &mut [i16], from: f32, to: f32) {
    let step = (to - from) / pcm.len() as f32;
    for (i, s) in pcm.iter_mut().enumerate() {
        let g = from + step * (i + 1) as f32;
        *s = (f32::from(*s) * g).round() as i16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peak(pcm: &[i16]) -> i16 {
        pcm.iter().map(|s| s.saturating_abs()).max().unwrap_or(0)
    }

    #[test]
    fn repetitions_fade_by_6_db_and_turn_silent_after_60_ms() {
        let mut c = Concealment::new();
        let mut frame = vec![10_000i16; 160];
        c.good_frame(&mut frame);
        assert_eq!(frame, vec![10_000i16; 160], "a good frame is untouched");
        let mut out = vec![1i16; 160];
        let mut ends = Vec::new();
        for _ in 0..5 {
            c.conceal(&mut out);
            ends.push((out[0], out[159]));
        }
        // frame 1 ramps 1 -> 1/2, frame 2 1/2 -> 1/4, frame 3 1/4 -> 0, then silence
        assert_eq!(ends[0].1, 5_000);
        assert_eq!(ends[1].1, 2_500);
        assert_eq!(ends[2].1, 0);
        assert!(ends[0].0 > 9_900 && ends[1].0 > 4_900 && ends[2].0 > 2_400);
        assert_eq!(ends[3], (0, 0));
        assert_eq!(ends[4], (0, 0));
        assert_eq!(c.repeats(), 5);
    }

    #[test]
    fn the_first_good_frame_after_a_loss_fades_in() {
        let mut c = Concealment::new();
        c.good_frame(&mut vec![8_000i16; 160]);
        let mut out = vec![0i16; 160];
        c.conceal(&mut out);
        let mut next = vec![8_000i16; 160];
        c.good_frame(&mut next);
        assert!(next[0] < 4_100 && next[0] >= 4_000, "{}", next[0]);
        assert_eq!(next[159], 8_000);
        assert_eq!(c.repeats(), 0);
        c.conceal(&mut out);
        // the frame is repeated as decoded (8000), not as faded in (4025 at the start)
        assert_eq!(out[0], 7_975);
    }

    #[test]
    fn without_a_good_frame_concealment_is_silence() {
        let mut c = Concealment::new();
        let mut out = vec![7i16; 320];
        c.conceal(&mut out);
        assert_eq!(peak(&out), 0);
        // a shorter remembered frame repeats over a longer output
        let mut c = Concealment::new();
        c.good_frame(&mut [100i16, -100]);
        let mut out = vec![0i16; 4];
        c.conceal(&mut out);
        assert_eq!(out[0], 88);
        assert!(out[1] < 0);
    }
}
