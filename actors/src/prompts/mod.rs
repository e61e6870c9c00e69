//! The prompt set: the switch's recorded English words and sentences (digits, numbers, times,
//! days, the voicemail menus), and the text-to-speech seam for free text ([`speech`]).
//!
//! The clips are the engine's (`switchboard_engine::prompt::CLIPS`, ids such as `digit-7`,
//! `n-20`, `menu-new`). `actors/prompts/en/clips.txt` is their script, exactly
//! `prompt::script()` (`id<TAB>text` lines; a test fails when the two differ and says how to
//! regenerate the file); `actors/prompts/render.sh` speaks each line with espeak-ng into a
//! WAV beside it (16 kHz mono 16-bit, silence trimmed), and the WAVs are committed.
//! `actors/build.rs` embeds every listed clip in the binary, so `serve` needs no file and no
//! synthesizer for them. [`PromptSet::embedded`] parses them once into shared sample buffers;
//! [`PromptSet::clip`] gives one as a [`Source::Pcm`] to play on a side of a media session. A
//! sentence is several clips played one after another (the next on `PlayFinished`).
//!
//! Guarantee (tested): the embedded set is exactly the engine's clips, each parsing as 16 kHz
//! mono 16-bit, audible (above -40 dBFS) and 0.1 s to 6 s long; digits, "goodbye" and a
//! sentence are checked to sound like speech (silent ends, voiced, rising and falling, as long
//! as their syllables take to say).

pub mod speech;

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use switchboard_engine::media::session::Source;
use switchboard_engine::media::SampleRate;

/// Every clip of `actors/prompts/en/clips.txt` (the engine's clips) with the bytes of its WAV
/// file, in list order.
static EMBEDDED: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/prompt_clips.rs"));

/// Clips by id, as samples at [`PromptSet::RATE`].
#[derive(Debug)]
pub struct PromptSet {
    clips: HashMap<&'static str, Arc<[i16]>>,
}

/// Why a clip is not a prompt.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PromptError {
    #[error("prompt {id} is not a WAV file: {message}")]
    Wav { id: &'static str, message: String },
    #[error(
        "prompt {id} is {channels} channels of {bits} bits at {hz} Hz, not 16 kHz mono 16-bit"
    )]
    Format {
        id: &'static str,
        channels: u16,
        bits: u16,
        hz: u32,
    },
}

impl PromptSet {
    /// The rate of every clip.
    pub const RATE: SampleRate = SampleRate::WIDE;

    /// How many clips are built into the binary (without parsing them).
    pub fn embedded_count() -> usize {
        EMBEDDED.len()
    }

    /// The prompt set built into the binary, parsed on first use (start-up does not wait
    /// for it: the first call that plays a prompt does).
    pub fn embedded() -> &'static PromptSet {
        static SET: OnceLock<PromptSet> = OnceLock::new();
        SET.get_or_init(|| {
            // the embedded files are ours and fixed at build time; the test
            // `every_listed_clip_is_embedded_audible_and_of_a_sensible_length` parses each
            PromptSet::parse(EMBEDDED).expect("the embedded prompt set parses")
        })
    }

    /// Parses WAV files (16 kHz mono 16-bit PCM) given by id.
    pub fn parse(files: &[(&'static str, &[u8])]) -> Result<PromptSet, PromptError> {
        let clips = files
            .iter()
            .map(|&(id, bytes)| Ok((id, read_clip(id, bytes)?)))
            .collect::<Result<_, PromptError>>()?;
        Ok(PromptSet { clips })
    }

    /// The clip `id`, to play once; `None` for an id the set does not hold.
    pub fn clip(&self, id: &str) -> Option<Source> {
        self.clips.get(id).map(|samples| Source::Pcm {
            samples: samples.clone(),
            rate: Self::RATE,
        })
    }

    /// The samples of clip `id`.
    pub fn samples(&self, id: &str) -> Option<&Arc<[i16]>> {
        self.clips.get(id)
    }

    /// How long clip `id` plays.
    pub fn duration(&self, id: &str) -> Option<Duration> {
        let n = self.clips.get(id)?.len() as u64;
        Some(Duration::from_micros(
            n * 1_000_000 / Self::RATE.hz() as u64,
        ))
    }

    /// Whether the set holds clip `id`.
    pub fn contains(&self, id: &str) -> bool {
        self.clips.contains_key(id)
    }

    /// The ids of all clips, in no particular order.
    pub fn ids(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.clips.keys().copied()
    }

    pub fn len(&self) -> usize {
        self.clips.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clips.is_empty()
    }
}

fn read_clip(id: &'static str, bytes: &[u8]) -> Result<Arc<[i16]>, PromptError> {
    let wav_error = |e: hound::Error| PromptError::Wav {
        id,
        message: e.to_string(),
    };
    let reader = hound::WavReader::new(Cursor::new(bytes)).map_err(wav_error)?;
    let spec = reader.spec();
    if spec.channels != 1
        || spec.bits_per_sample != 16
        || spec.sample_format != hound::SampleFormat::Int
        || spec.sample_rate != PromptSet::RATE.hz()
    {
        return Err(PromptError::Format {
            id,
            channels: spec.channels,
            bits: spec.bits_per_sample,
            hz: spec.sample_rate,
        });
    }
    reader
        .into_samples::<i16>()
        .collect::<Result<Arc<[i16]>, _>>()
        .map_err(wav_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use switchboard_engine::entropy::Entropy;
    use switchboard_engine::media::tone::block_dbfs;
    use switchboard_engine::prompt::{script, CLIPS};

    /// Set (to anything) to rewrite `clips.txt` from the engine's script instead of comparing.
    const WRITE_CLIPS: &str = "SWITCHBOARD_WRITE_CLIPS";

    #[test]
    fn clips_txt_is_the_script_of_the_engine_clips() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/en/clips.txt");
        let script = script();
        if std::env::var_os(WRITE_CLIPS).is_some() {
            std::fs::write(&path, &script).unwrap();
        }
        let listed = std::fs::read_to_string(&path).unwrap();
        if listed == script {
            return;
        }
        let (mut theirs, mut ours) = (listed.lines(), script.lines());
        let (line, file, engine) = (1..)
            .map(|n| (n, theirs.next(), ours.next()))
            .find(|(_, a, b)| a != b)
            .expect("texts that differ differ in a line");
        panic!(
            "{} is not switchboard_engine::prompt::script(): line {line} is {file:?}, the \
             engine says {engine:?}.\nRegenerate it with `{WRITE_CLIPS}=1 cargo test -p \
             switchboard-actors --lib clips_txt`, render with actors/prompts/render.sh and \
             commit both.",
            path.display()
        );
    }

    #[test]
    fn every_engine_clip_is_embedded_audible_and_of_a_sensible_length() {
        let set = PromptSet::embedded();
        for clip in CLIPS {
            let id = clip.name();
            let Some(Source::Pcm { samples, rate }) = set.clip(id) else {
                panic!("clip {id} is embedded as PCM");
            };
            assert_eq!(rate, SampleRate::WIDE, "{id}");
            let secs = samples.len() as f64 / rate.hz() as f64;
            assert!((0.1..=6.0).contains(&secs), "{id} lasts {secs:.2} s");
            let level = block_dbfs(&samples);
            assert!(level > -40.0, "{id} is audible: {level:.1} dBFS");
        }
        // and nothing else: every embedded clip is one the engine can ask for
        assert_eq!(set.len(), CLIPS.len());
    }

    #[test]
    fn the_menu_words_are_there_and_an_unknown_id_is_not() {
        let set = PromptSet::embedded();
        for id in [
            "digit-7",
            "n-20",
            "n-90",
            "menu-new",
            "enter-pin",
            "goodbye",
            "p-m",
        ] {
            assert!(set.contains(id), "{id}");
        }
        assert!(set.clip("press-5-nothing").is_none());
        assert!(set.duration("nope").is_none());
        // a sentence takes longer to say than a word
        let word = set.duration("at").unwrap();
        let sentence = set.duration("leave-message").unwrap();
        assert!(sentence > word * 3, "{sentence:?} against {word:?}");
    }

    /// What a machine hears in a clip at 16 kHz.
    #[derive(Debug)]
    struct Heard {
        /// The loudest of the first and last 20 ms, in dBFS.
        ends_dbfs: f64,
        /// From the first to the last 10 ms frame above -35 dBFS.
        spoken_secs: f64,
        /// The loudest frame of that span over its tenth quietest: syllables rise and fall.
        range_db: f64,
        /// The share of those loud frames that are voiced: 30 ms that repeat at a speaking
        /// pitch (70 to 400 Hz, normalized autocorrelation above 0.6).
        voiced: f64,
    }

    const FRAME: usize = 160;

    fn hear(samples: &[i16]) -> Heard {
        let levels: Vec<f64> = samples
            .chunks_exact(FRAME)
            .map(|f| block_dbfs(f).max(-100.0))
            .collect();
        let loud: Vec<usize> = (0..levels.len()).filter(|&i| levels[i] > -35.0).collect();
        let (Some(&first), Some(&last)) = (loud.first(), loud.last()) else {
            return Heard {
                ends_dbfs: -100.0,
                spoken_secs: 0.0,
                range_db: 0.0,
                voiced: 0.0,
            };
        };
        let mut span = levels[first..=last].to_vec();
        span.sort_by(f64::total_cmp);
        let edge = 2 * FRAME;
        let ends = [&samples[..edge], &samples[samples.len() - edge..]];
        let voiced = loud
            .iter()
            .filter(|&&i| is_voiced(&samples[i * FRAME..]))
            .count();
        Heard {
            ends_dbfs: ends.map(block_dbfs).into_iter().fold(-100.0, f64::max),
            spoken_secs: (last - first + 1) as f64 * FRAME as f64 / 16_000.0,
            range_db: span[span.len() - 1] - span[span.len() / 10],
            voiced: voiced as f64 / loud.len() as f64,
        }
    }

    /// Whether the 30 ms from the start of `from` repeat with a period of a voice's pitch.
    fn is_voiced(from: &[i16]) -> bool {
        const HALF: usize = 240;
        if from.len() < 2 * HALF {
            return false;
        }
        let x = |k: usize| from[k] as f64;
        let energy = |at: usize| (at..at + HALF).map(|k| x(k) * x(k)).sum::<f64>();
        let e0 = energy(0);
        // lags of 40 to 228 samples: 400 Hz down to 70 Hz at 16 kHz
        (40..=228).any(|lag| {
            let e1 = energy(lag);
            let dot = (0..HALF).map(|k| x(k) * x(k + lag)).sum::<f64>();
            e0 > 0.0 && e1 > 0.0 && dot / (e0 * e1).sqrt() > 0.6
        })
    }

    /// Whether `heard` sounds like `syllables` syllables said once, and if not, why.
    fn speech_of(heard: &Heard, syllables: u32) -> Result<(), String> {
        let n = syllables as f64;
        // a syllable takes 0.15 to 0.35 s at a telephone pace
        let (shortest, longest) = (0.15 * n, 0.2 + 0.35 * n);
        if heard.ends_dbfs > -60.0 {
            return Err(format!(
                "it starts or ends loud: {:.1} dBFS",
                heard.ends_dbfs
            ));
        }
        if !(shortest..=longest).contains(&heard.spoken_secs) {
            return Err(format!(
                "{:.2} s of sound for {syllables} syllables, not {shortest:.2} to {longest:.2}",
                heard.spoken_secs
            ));
        }
        if heard.range_db < 8.0 {
            return Err(format!("its level is flat: {:.1} dB", heard.range_db));
        }
        if heard.voiced < 0.4 {
            return Err(format!("{:.0} % of it is voiced", heard.voiced * 100.0));
        }
        Ok(())
    }

    #[test]
    fn digits_goodbye_and_a_sentence_sound_like_speech_of_their_length() {
        let set = PromptSet::embedded();
        let syllables = [2, 1, 1, 1, 1, 1, 1, 2, 1, 1]; // zero, one, two, ... nine
        let mut clips: Vec<(String, u32)> = (0..10)
            .map(|d| (format!("digit-{d}"), syllables[d]))
            .collect();
        clips.push(("goodbye".into(), 2));
        // "Please leave a message after the tone. When you are done, hang up or press pound."
        clips.push(("leave-message".into(), 18));
        for (id, syllables) in clips {
            let heard = hear(set.samples(&id).unwrap());
            if let Err(why) = speech_of(&heard, syllables) {
                panic!("{id} does not sound like speech: {why} ({heard:?})");
            }
        }
    }

    /// `samples` with 40 ms of silence before and after, as the prompt set has.
    fn padded(samples: impl Iterator<Item = i16>) -> Vec<i16> {
        let pad = std::iter::repeat_n(0, 640);
        pad.clone().chain(samples).chain(pad).collect()
    }

    #[test]
    fn a_steady_tone_noise_or_silence_does_not_sound_like_speech() {
        let tone = padded((0..8000).map(|i| {
            (10_000.0 * (i as f64 * 440.0 / 16_000.0 * std::f64::consts::TAU).sin()) as i16
        }));
        let why = speech_of(&hear(&tone), 1).unwrap_err();
        assert!(why.contains("flat"), "{why}");
        // noise that rises and falls like a syllable, with no pitch in it
        let mut entropy = Entropy::seeded(7);
        let noise = padded((0..8000).map(|i| {
            let envelope = (i as f64 / 8000.0 * std::f64::consts::PI).sin();
            (((entropy.next_u64() >> 52) as f64 - 2048.0) * 4.0 * envelope) as i16
        }));
        let why = speech_of(&hear(&noise), 1).unwrap_err();
        assert!(why.contains("voiced"), "{why}");
        let why = speech_of(&hear(&padded(std::iter::repeat_n(0, 8000))), 1).unwrap_err();
        assert!(why.contains("0.00 s of sound"), "{why}");
        // a word cut off mid-way starts loud
        let digit = PromptSet::embedded().samples("digit-1").unwrap();
        let why = speech_of(&hear(&digit[digit.len() / 2..]), 1).unwrap_err();
        assert!(why.contains("starts or ends loud"), "{why}");
    }

    #[test]
    fn a_clip_shares_its_samples_instead_of_copying_them() {
        let set = PromptSet::embedded();
        let (Some(Source::Pcm { samples: a, .. }), Some(Source::Pcm { samples: b, .. })) =
            (set.clip("goodbye"), set.clip("goodbye"))
        else {
            panic!("goodbye is PCM");
        };
        assert!(Arc::ptr_eq(&a, &b));
        assert!(Arc::ptr_eq(&a, set.samples("goodbye").unwrap()));
    }

    #[test]
    fn a_clip_at_another_rate_or_not_a_wav_is_refused_by_name() {
        let mut wav = Vec::new();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(Cursor::new(&mut wav), spec).unwrap();
        for i in 0..800 {
            w.write_sample((i % 100) as i16 * 100).unwrap();
        }
        w.finalize().unwrap();
        let e = PromptSet::parse(&[("narrow", &wav)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("narrow") && e.contains("8000 Hz"), "{e}");
        let e = PromptSet::parse(&[("junk", b"RIFF nonsense")])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("prompt junk is not a WAV file"), "{e}");
    }
}
