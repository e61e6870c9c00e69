//! Tones: call progress (ringback and busy by country), beeps, a confirmation chime, the
//! recorder warning tone and DTMF pairs, generated frame by frame at any [`SampleRate`]; and
//! a Goertzel detector that measures tones in a block of samples as a listener would hear
//! them.
//!
//! A [`Tone`] is a short list of [`Step`]s (a sound or silence for a duration) played once or
//! repeated: a cadence. [`ToneGenerator`] plays one into caller buffers, phase-continuous from
//! one call to the next (each sine is a unit phasor turned by a fixed rotation per sample and
//! renormalized once per call, so levels do not drift over hours). Nothing allocates.
//!
//! Call progress tones follow the national tone plans collected in the supplement to ITU-T
//! E.180 ("Various tones used in national networks"); see [`Ringback::for_country`] and
//! [`Busy::for_country`]. Levels are per frequency, in dBm0 or dBFS ([`Level`]).
//!
//! The detector ([`goertzel_power`], [`ToneDetector`], in `tone/detect.rs`) evaluates single
//! DFT terms at any frequency. Two tones closer than `1 / block duration` apart blur into each
//! other: measure 440 Hz against 480 Hz over 100 ms, not 20 ms.

use std::time::Duration;

use super::SampleRate;

mod detect;

pub use detect::{block_dbfs, goertzel_power, ToneDetector, ToneReport, MAX_DETECTOR_FREQS};

/// Full scale: the peak of the loudest sine a 16-bit sample holds.
pub(crate) const FULL_SCALE: f64 = 32767.0;

/// The level of each sine of a tone, as dBFS: 0 dBFS is a full-scale sine.
#[derive(Copy, Clone, Debug, PartialEq, PartialOrd)]
pub struct Level(f32);

impl Level {
    /// A sine at a full-scale sine's level plus `db` (negative: quieter).
    pub const fn dbfs(db: f32) -> Level {
        Level(db)
    }

    /// A level relative to the digital milliwatt. G.711 puts the theoretical maximum (a
    /// full-scale sine) at +3.17 dBm0 for µ-law and +3.14 dBm0 for A-law; the µ-law figure is
    /// used, so 0 dBm0 is -3.17 dBFS (0.03 dB off for A-law).
    pub const fn dbm0(db: f32) -> Level {
        Level(db - DBM0_TO_DBFS)
    }

    pub const fn as_dbfs(self) -> f32 {
        self.0
    }

    pub fn as_dbm0(self) -> f32 {
        self.0 + DBM0_TO_DBFS
    }

    /// The peak amplitude of a sine at this level, in 16-bit sample units.
    fn amplitude(self) -> f64 {
        FULL_SCALE * 10f64.powf(self.0 as f64 / 20.0)
    }
}

const DBM0_TO_DBFS: f32 = 3.17;

/// What a step of a tone sounds like. Frequencies are in Hz.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Sound {
    Silence,
    Single(f32),
    /// Two sines; the second gets the tone's twist on top of its level.
    Dual(f32, f32),
    /// A carrier amplitude-modulated by a low frequency at 90 % depth, peaking at the level
    /// (Japan's and India's ringback).
    Modulated {
        carrier: f32,
        by: f32,
    },
}

/// One step of a cadence.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Step {
    pub sound: Sound,
    pub duration: Duration,
}

impl Step {
    pub const fn new(sound: Sound, millis: u64) -> Step {
        Step {
            sound,
            duration: Duration::from_millis(millis),
        }
    }

    pub const fn silence(millis: u64) -> Step {
        Step::new(Sound::Silence, millis)
    }
}

/// The most steps a [`Tone`] holds.
pub const MAX_STEPS: usize = 6;

/// A tone: a cadence of steps at one level, played once or repeated. `Copy`, so it can be a
/// constant and travel in messages.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Tone {
    steps: [Step; MAX_STEPS],
    len: usize,
    level: Level,
    twist_db: f32,
    repeat: bool,
}

impl Tone {
    /// A cadence of up to [`MAX_STEPS`] steps (more is a programming error and panics).
    pub const fn new(steps: &[Step], level: Level, repeat: bool) -> Tone {
        assert!(steps.len() <= MAX_STEPS, "too many steps for a tone");
        let mut all = [Step::silence(0); MAX_STEPS];
        let mut i = 0;
        while i < steps.len() {
            all[i] = steps[i];
            i += 1;
        }
        Tone {
            steps: all,
            len: steps.len(),
            level,
            twist_db: 0.0,
            repeat,
        }
    }

    /// A sound without end.
    pub const fn continuous(sound: Sound, level: Level) -> Tone {
        Tone::new(&[Step::new(sound, 1000)], level, true)
    }

    /// The same tone with the second frequency of [`Sound::Dual`] steps `db` louder.
    pub const fn with_twist(mut self, db: f32) -> Tone {
        self.twist_db = db;
        self
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps[..self.len]
    }

    pub fn level(&self) -> Level {
        self.level
    }

    pub fn repeats(&self) -> bool {
        self.repeat
    }

    /// The length of one pass through the steps.
    pub fn cycle(&self) -> Duration {
        self.steps().iter().map(|s| s.duration).sum()
    }

    /// A short beep: 1 kHz for 200 ms, once (the voicemail "record after the tone" beep).
    pub const BEEP: Tone = Tone::new(
        &[Step::new(Sound::Single(1000.0), 200)],
        Level::dbm0(-10.0),
        false,
    );

    /// A confirmation chime: two rising tones, 660 Hz for 120 ms then 880 Hz for 180 ms
    /// (a perfect fifth up), once. Played when a feature code or setting took effect.
    pub const CHIME: Tone = Tone::new(
        &[
            Step::new(Sound::Single(660.0), 120),
            Step::new(Sound::Single(880.0), 180),
        ],
        Level::dbm0(-10.0),
        false,
    );

    /// The recorder warning tone: a 0.5 s burst of 1400 Hz every 15 s, as Federal Standard
    /// 1037C defines it for calls being recorded (US practice; the FCC's rule accepts
    /// 1260–1540 Hz every 15 s).
    pub const RECORDING: Tone = Tone::new(
        &[Step::new(Sound::Single(1400.0), 500), Step::silence(14_500)],
        Level::dbm0(-13.0),
        true,
    );

    /// The notice that a call is recorded, played to both sides when it is answered: two
    /// 400 ms bursts of the recorder-warning frequency (1400 Hz) 200 ms apart, once.
    pub const RECORDING_NOTICE: Tone = Tone::new(
        &[
            Step::new(Sound::Single(1400.0), 400),
            Step::silence(200),
            Step::new(Sound::Single(1400.0), 400),
        ],
        Level::dbm0(-13.0),
        false,
    );

    /// The DTMF pair of a keypad symbol (`0`-`9`, `*`, `#`, `A`-`D`) for `on`, once, followed
    /// by as much silence (ITU-T Q.23 frequencies; low group at -6 dBm0, high group 2 dB
    /// higher as usual to offset line loss).
    pub fn dtmf(symbol: char, on: Duration) -> Option<Tone> {
        let (low, high) = dtmf_pair(symbol)?;
        let mut t = Tone::new(
            &[Step::new(Sound::Dual(low, high), 0), Step::silence(0)],
            Level::dbm0(-6.0),
            false,
        )
        .with_twist(2.0);
        t.steps[0].duration = on;
        t.steps[1].duration = on;
        Some(t)
    }
}

/// The DTMF rows and columns (ITU-T Q.23): `(low, high)` in Hz of a keypad symbol.
pub fn dtmf_pair(symbol: char) -> Option<(f32, f32)> {
    const LOW: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
    const HIGH: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    const KEYS: [[char; 4]; 4] = [
        ['1', '2', '3', 'A'],
        ['4', '5', '6', 'B'],
        ['7', '8', '9', 'C'],
        ['*', '0', '#', 'D'],
    ];
    let symbol = symbol.to_ascii_uppercase();
    KEYS.iter().enumerate().find_map(|(row, keys)| {
        let col = keys.iter().position(|&k| k == symbol)?;
        Some((LOW[row], HIGH[col]))
    })
}

/// Ringback (ring tone heard by the caller) by ITU country calling code.
pub struct Ringback;

impl Ringback {
    /// The ringback of the country with calling code `cc` (1 for NANP, 44 for the UK, ...), or
    /// the ITU-T E.180 recommended 425 Hz, 1 s on, 4 s off where no national tone is known.
    ///
    /// From the E.180 supplement: NANP 440+480 Hz 2 s on 4 s off (at -19 dBm0 per frequency,
    /// the North American precise tone plan); UK 400+450 Hz 0.4 on 0.2 off 0.4 on 2 off;
    /// Japan 400 Hz modulated by 16 Hz, 1 on 2 off; Korea 440+480 Hz 1 on 2 off; China 450 Hz
    /// 1 on 4 off; France 440 Hz 1.5 on 3.5 off; Russia 425 Hz 0.8 on 3.2 off; India 400 Hz
    /// modulated by 25 Hz in the UK cadence; Germany, Italy and most of Europe 425 Hz 1 on 4
    /// off. Levels other than NANP's are ours: -10 dBm0 for one frequency, -13 dBm0 each
    /// for two.
    pub fn for_country(cc: u16) -> Tone {
        use Sound::*;
        let uk_cadence = |s: Sound| {
            Tone::new(
                &[
                    Step::new(s, 400),
                    Step::silence(200),
                    Step::new(s, 400),
                    Step::silence(2000),
                ],
                level_of(s),
                true,
            )
        };
        match cc {
            1 => Tone::new(
                &[Step::new(Dual(440.0, 480.0), 2000), Step::silence(4000)],
                Level::dbm0(-19.0),
                true,
            ),
            44 => uk_cadence(Dual(400.0, 450.0)),
            91 => uk_cadence(Modulated {
                carrier: 400.0,
                by: 25.0,
            }),
            81 => on_off(
                Modulated {
                    carrier: 400.0,
                    by: 16.0,
                },
                1000,
                2000,
            ),
            82 => on_off(Dual(440.0, 480.0), 1000, 2000),
            86 => on_off(Single(450.0), 1000, 4000),
            33 => on_off(Single(440.0), 1500, 3500),
            7 => on_off(Single(425.0), 800, 3200),
            _ => on_off(Single(425.0), 1000, 4000),
        }
    }
}

/// Busy tone by ITU country calling code.
pub struct Busy;

impl Busy {
    /// The busy tone of calling code `cc`, or E.180's 425 Hz 0.5 s on 0.5 s off: NANP and
    /// Korea 480+620 Hz 0.5/0.5 (NANP at -24 dBm0 per frequency); UK 400 Hz 0.375/0.375;
    /// Japan 400 Hz 0.5/0.5; China 450 Hz 0.35/0.35; France 440 Hz 0.5/0.5; Germany 425 Hz
    /// 0.48/0.48; Russia 425 Hz 0.4/0.4; India 400 Hz 0.75/0.75.
    pub fn for_country(cc: u16) -> Tone {
        use Sound::*;
        match cc {
            1 => Tone::new(
                &[Step::new(Dual(480.0, 620.0), 500), Step::silence(500)],
                Level::dbm0(-24.0),
                true,
            ),
            82 => on_off(Dual(480.0, 620.0), 500, 500),
            44 => on_off(Single(400.0), 375, 375),
            81 => on_off(Single(400.0), 500, 500),
            86 => on_off(Single(450.0), 350, 350),
            33 => on_off(Single(440.0), 500, 500),
            49 => on_off(Single(425.0), 480, 480),
            7 => on_off(Single(425.0), 400, 400),
            91 => on_off(Single(400.0), 750, 750),
            _ => on_off(Single(425.0), 500, 500),
        }
    }
}

fn level_of(sound: Sound) -> Level {
    match sound {
        Sound::Dual(..) => Level::dbm0(-13.0),
        _ => Level::dbm0(-10.0),
    }
}

fn on_off(sound: Sound, on_ms: u64, off_ms: u64) -> Tone {
    Tone::new(
        &[Step::new(sound, on_ms), Step::silence(off_ms)],
        level_of(sound),
        true,
    )
}

/// Plays a [`Tone`] at one sample rate into caller buffers.
#[derive(Clone, Debug)]
pub struct ToneGenerator {
    tone: Tone,
    rate: SampleRate,
    /// Index of the current step.
    step: usize,
    /// Samples left in the current step.
    left: u64,
    oscillators: [Phasor; 2],
    amplitudes: [f64; 2],
    finished: bool,
}

impl ToneGenerator {
    pub fn new(tone: Tone, rate: SampleRate) -> ToneGenerator {
        let mut g = ToneGenerator {
            tone,
            rate,
            step: 0,
            left: 0,
            oscillators: [Phasor::default(); 2],
            amplitudes: [0.0; 2],
            finished: false,
        };
        g.restart();
        g
    }

    /// From the first step again.
    pub fn restart(&mut self) {
        self.finished = self.tone.len == 0;
        self.enter(0);
    }

    pub fn tone(&self) -> &Tone {
        &self.tone
    }

    /// A tone played once has played all its steps (what follows is silence).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Fills `out` with the next samples of the tone (one 20 ms frame is
    /// `rate.frame_samples()` of them; any length works).
    pub fn generate(&mut self, out: &mut [i16]) {
        let mut i = 0;
        while i < out.len() {
            if self.finished {
                out[i..].fill(0);
                break;
            }
            if self.left == 0 {
                self.advance();
                continue;
            }
            let n = (out.len() - i).min(self.left as usize);
            self.render(&mut out[i..i + n]);
            self.left -= n as u64;
            i += n;
        }
        for o in &mut self.oscillators {
            o.renormalize();
        }
    }

    fn advance(&mut self) {
        let next = self.step + 1;
        if next < self.tone.len {
            self.enter(next);
        } else if self.tone.repeat && self.tone.cycle() > Duration::ZERO {
            self.enter(0);
        } else {
            self.finished = true;
        }
    }

    fn enter(&mut self, step: usize) {
        self.step = step;
        let Some(s) = self.tone.steps().get(step) else {
            return;
        };
        self.left = (s.duration.as_nanos() * self.rate.hz() as u128 / 1_000_000_000) as u64;
        let a = self.tone.level.amplitude();
        let hz = self.rate.hz() as f64;
        let (f, amplitudes) = match s.sound {
            Sound::Silence => ([0.0, 0.0], [0.0, 0.0]),
            Sound::Single(f) => ([f as f64, 0.0], [a, 0.0]),
            Sound::Dual(f1, f2) => (
                [f1 as f64, f2 as f64],
                [a, a * 10f64.powf(self.tone.twist_db as f64 / 20.0)],
            ),
            Sound::Modulated { carrier, by } => ([carrier as f64, by as f64], [a, MOD_DEPTH]),
        };
        self.oscillators = [Phasor::new(f[0], hz), Phasor::new(f[1], hz)];
        self.amplitudes = amplitudes;
    }

    fn render(&mut self, out: &mut [i16]) {
        let [a0, a1] = self.amplitudes;
        let sound = self.tone.steps[self.step].sound;
        let [o0, o1] = &mut self.oscillators;
        match sound {
            Sound::Silence => out.fill(0),
            Sound::Single(_) => out.iter_mut().for_each(|y| *y = to_sample(a0 * o0.next())),
            Sound::Dual(..) => out
                .iter_mut()
                .for_each(|y| *y = to_sample(a0 * o0.next() + a1 * o1.next())),
            Sound::Modulated { .. } => out.iter_mut().for_each(|y| {
                let envelope = (1.0 + a1 * o1.next()) / (1.0 + a1);
                *y = to_sample(a0 * envelope * o0.next());
            }),
        }
    }
}

const MOD_DEPTH: f64 = 0.9;

fn to_sample(x: f64) -> i16 {
    x.round().clamp(i16::MIN as f64, i16::MAX as f64) as i16
}

/// A unit phasor turned by a fixed angle per sample: `next` is the sine of the current phase.
#[derive(Copy, Clone, Debug, Default)]
struct Phasor {
    re: f64,
    im: f64,
    cos: f64,
    sin: f64,
}

impl Phasor {
    fn new(freq: f64, rate: f64) -> Phasor {
        let w = 2.0 * std::f64::consts::PI * freq / rate;
        Phasor {
            re: 1.0,
            im: 0.0,
            cos: w.cos(),
            sin: w.sin(),
        }
    }

    #[inline]
    fn next(&mut self) -> f64 {
        let y = self.im;
        let re = self.re * self.cos - self.im * self.sin;
        self.im = self.re * self.sin + self.im * self.cos;
        self.re = re;
        y
    }

    fn renormalize(&mut self) {
        let m = (self.re * self.re + self.im * self.im).sqrt();
        if m > 0.0 {
            self.re /= m;
            self.im /= m;
        }
    }
}

#[cfg(test)]
mod tests;
