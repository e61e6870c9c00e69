//! The prompt set: the switch's recorded English words and sentences (digits, numbers, times,
//! days, the voicemail menus), and the text-to-speech seam for free text ([`speech`]).
//!
//! The clips are WAV files in `actors/prompts/en/`, one per line of `clips.txt`
//! (`id<TAB>text`), spoken by espeak-ng through `actors/prompts/render.sh` (16 kHz mono 16-bit,
//! silence trimmed) and committed. `actors/build.rs` embeds every listed clip in the binary,
//! so `serve` needs no file and no synthesizer for them. [`PromptSet::embedded`] parses them
//! once into shared sample buffers; [`PromptSet::clip`] gives one as a [`Source::Pcm`] to play
//! on a side of a media session. A sentence is several clips played one after another (the
//! next on `PlayFinished`); ids are kebab-case (`digit-7`, `n-20`, `press-1-new`).
//!
//! Guarantee (tested): every clip listed in `clips.txt` is embedded, parses as 16 kHz mono
//! 16-bit, is audible (above -40 dBFS) and lasts 0.2 s to 6 s.

pub mod speech;

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use switchboard_engine::media::session::Source;
use switchboard_engine::media::SampleRate;

/// Every clip of `actors/prompts/en/clips.txt` with the bytes of its WAV file, in list order.
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

    /// The prompt set built into the binary, parsed on first use.
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
    use switchboard_engine::media::tone::block_dbfs;

    /// The ids `clips.txt` lists, in order.
    fn listed() -> Vec<&'static str> {
        include_str!("../../prompts/en/clips.txt")
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| l.split_once('\t').expect("id<TAB>text").0)
            .collect()
    }

    #[test]
    fn every_listed_clip_is_embedded_audible_and_of_a_sensible_length() {
        let set = PromptSet::embedded();
        let ids = listed();
        assert!(
            ids.len() >= 80,
            "the list holds the voicemail prompts: {}",
            ids.len()
        );
        assert_eq!(set.len(), ids.len(), "one embedded clip per listed id");
        for id in ids {
            let Some(Source::Pcm { samples, rate }) = set.clip(id) else {
                panic!("clip {id} is embedded as PCM");
            };
            assert_eq!(rate, SampleRate::WIDE, "{id}");
            let secs = samples.len() as f64 / rate.hz() as f64;
            assert!((0.2..=6.0).contains(&secs), "{id} lasts {secs:.2} s");
            let level = block_dbfs(&samples);
            assert!(level > -40.0, "{id} is audible: {level:.1} dBFS");
        }
    }

    #[test]
    fn the_menu_words_are_there_and_an_unknown_id_is_not() {
        let set = PromptSet::embedded();
        for id in [
            "digit-7",
            "n-20",
            "n-90",
            "press-1-new",
            "enter-pin",
            "goodbye",
            "pm",
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
