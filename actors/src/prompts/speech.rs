//! The text-to-speech seam: free text (a text message read out to a landline) to mono 16-bit
//! samples, by the backend `[voicemail] tts` names: `espeak-ng` ([`EspeakNg`]) or `none`
//! ([`NoSpeech`]).
//!
//! [`Speech::speak`] blocks while the synthesizer runs (espeak-ng: well under a second for a
//! text message, never longer than its timeout): call it from a blocking thread (a
//! `SyncArbiter`, `spawn_blocking`), never from a signalling actor. [`select`] builds the
//! configured backend and checks that it runs; `serve` calls it at start-up, so a missing
//! program stops the start with a clear error instead of failing the first notice.
//!
//! The text reaches espeak-ng on its standard input, never through a shell or its argument
//! list, so no text is taken for an option.

use std::io::{self, Cursor, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_engine::media::{wav, SampleRate};

use crate::config::Tts;

/// Speaks text.
pub trait Speech: Send + Sync {
    /// The audio of `text`: mono 16-bit samples at the returned rate (one the frame path
    /// plays, [`SampleRate::new`]).
    fn speak(&self, text: &str) -> Result<(SampleRate, Vec<i16>), SpeechError>;
}

/// Why text was not spoken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpeechError {
    #[error("text to speech is off ([voicemail] tts = \"none\")")]
    Off,
    #[error(
        "text to speech: {program} not found; install espeak-ng (Debian: apt-get install \
         espeak-ng) or set [voicemail] tts = \"none\""
    )]
    Missing { program: String },
    #[error("text to speech: cannot run {program}: {source}")]
    Spawn { program: String, source: io::Error },
    #[error("text to speech: {program} took longer than {after:?} and was stopped")]
    Timeout { program: String, after: Duration },
    #[error("text to speech: {program} failed ({status}): {stderr}")]
    Failed {
        program: String,
        status: ExitStatus,
        stderr: String,
    },
    #[error("text to speech: {program} gave no usable audio: {message}")]
    Audio { program: String, message: String },
    #[error("text to speech: {len} bytes of text, at most {max} are spoken")]
    TooLong { len: usize, max: usize },
    #[error("text to speech: no text to speak")]
    Empty,
}

/// The backend `tts` names, checked to run: a missing program is [`SpeechError::Missing`].
pub fn select(tts: Tts) -> Result<Arc<dyn Speech>, SpeechError> {
    match tts {
        Tts::None => Ok(Arc::new(NoSpeech)),
        Tts::EspeakNg => {
            let espeak = EspeakNg::new();
            espeak.check()?;
            Ok(Arc::new(espeak))
        }
    }
}

/// No speech: every text is [`SpeechError::Off`].
#[derive(Copy, Clone, Debug, Default)]
pub struct NoSpeech;

impl Speech for NoSpeech {
    fn speak(&self, _text: &str) -> Result<(SampleRate, Vec<i16>), SpeechError> {
        Err(SpeechError::Off)
    }
}

/// The `espeak-ng` program (eSpeak NG), run once per text with the same voice and speed as
/// the prompt set (`actors/prompts/render.sh`); its WAV comes back on standard output.
#[derive(Clone, Debug)]
pub struct EspeakNg {
    program: PathBuf,
    timeout: Duration,
}

impl EspeakNg {
    /// The program, looked up in `PATH`.
    pub const PROGRAM: &'static str = "espeak-ng";
    /// The voice of the prompt set.
    pub const VOICE: &'static str = "en-us";
    /// Words per minute, as the prompt set.
    pub const WORDS_PER_MINUTE: u32 = 160;
    /// How long one text may take, start to exit.
    pub const TIMEOUT: Duration = Duration::from_secs(10);
    /// The longest text spoken, in bytes (a long text message is 1600 characters). Far below
    /// a pipe's buffer (64 KiB on Linux), so writing it never waits for the program to read.
    pub const MAX_TEXT: usize = 4096;
    /// The most audio read back: 4096 bytes of text take about four minutes to say, some
    /// 11 MB at espeak-ng's 22 050 Hz.
    const MAX_OUTPUT: u64 = 32 << 20;
    /// The most of the program's error output kept for an error.
    const MAX_STDERR: u64 = 2048;

    pub fn new() -> EspeakNg {
        EspeakNg::with_program(Self::PROGRAM)
    }

    /// eSpeak NG at another path.
    pub fn with_program(program: impl Into<PathBuf>) -> EspeakNg {
        EspeakNg {
            program: program.into(),
            timeout: Self::TIMEOUT,
        }
    }

    /// The same with another timeout.
    pub fn with_timeout(self, timeout: Duration) -> EspeakNg {
        EspeakNg { timeout, ..self }
    }

    /// Whether the program runs (`--version` succeeds within the timeout).
    pub fn check(&self) -> Result<(), SpeechError> {
        self.run(&["--version"], b"").map(|_| ())
    }

    fn name(&self) -> String {
        self.program.display().to_string()
    }

    /// Runs the program with `args`, `input` on its standard input, and returns its standard
    /// output once it exits with success.
    fn run(&self, args: &[&str], input: &[u8]) -> Result<Vec<u8>, SpeechError> {
        let deadline = Instant::now() + self.timeout;
        let mut child = Command::new(&self.program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| match source.kind() {
                io::ErrorKind::NotFound => SpeechError::Missing {
                    program: self.name(),
                },
                _ => SpeechError::Spawn {
                    program: self.name(),
                    source,
                },
            })?;
        // all three are piped just above
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            unreachable!("the child's standard streams are piped")
        };
        // fits the pipe (MAX_TEXT): returns at once; a program that exits without reading
        // makes it fail, and its exit status says why
        let _ = stdin.write_all(input);
        drop(stdin);

        let (tx, rx) = mpsc::channel();
        let reader = move || {
            let mut out = Vec::new();
            let mut err = Vec::new();
            let read = stdout.take(Self::MAX_OUTPUT + 1).read_to_end(&mut out);
            // past the limit the program is stopped without waiting for its error output
            if read.is_ok() && out.len() as u64 <= Self::MAX_OUTPUT {
                let _ = stderr.take(Self::MAX_STDERR).read_to_end(&mut err);
            }
            let _ = tx.send(read.map(|_| (out, err)));
        };
        if let Err(source) = std::thread::Builder::new()
            .name("tts-read".into())
            .spawn(reader)
        {
            stop(&mut child);
            return Err(SpeechError::Spawn {
                program: self.name(),
                source,
            });
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        let (out, err) = match rx.recv_timeout(wait) {
            Ok(Ok(read)) => read,
            Ok(Err(source)) => {
                stop(&mut child);
                return Err(SpeechError::Spawn {
                    program: self.name(),
                    source,
                });
            }
            Err(_) => {
                // the reader ends once the killed program's pipes close
                stop(&mut child);
                return Err(self.timed_out());
            }
        };
        if out.len() as u64 > Self::MAX_OUTPUT {
            stop(&mut child);
            return Err(SpeechError::Audio {
                program: self.name(),
                message: format!("more than {} bytes", Self::MAX_OUTPUT),
            });
        }
        // its output is closed: the program is exiting
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2))
                }
                Ok(None) => {
                    stop(&mut child);
                    return Err(self.timed_out());
                }
                Err(source) => {
                    stop(&mut child);
                    return Err(SpeechError::Spawn {
                        program: self.name(),
                        source,
                    });
                }
            }
        };
        if !status.success() {
            return Err(SpeechError::Failed {
                program: self.name(),
                status,
                stderr: String::from_utf8_lossy(&err).trim().to_owned(),
            });
        }
        Ok(out)
    }

    fn timed_out(&self) -> SpeechError {
        SpeechError::Timeout {
            program: self.name(),
            after: self.timeout,
        }
    }

    /// The samples of a WAV file espeak-ng wrote to a pipe.
    fn decode(&self, mut bytes: Vec<u8>) -> Result<(SampleRate, Vec<i16>), SpeechError> {
        let audio = |message: String| SpeechError::Audio {
            program: self.name(),
            message,
        };
        let layout = wav::parse(&bytes).map_err(|e| audio(e.to_string()))?;
        // a WAV written to a pipe cannot know its length: espeak-ng's header counts
        // 0x7ffff000 bytes; count what arrived instead, in whole samples
        if let Some(fix) = layout.repair(bytes.len() as u64) {
            bytes.truncate(fix.file_len as usize);
            for (at, field) in fix.writes {
                let at = at as usize;
                bytes[at..at + field.len()].copy_from_slice(&field);
            }
        }
        let reader = hound::WavReader::new(Cursor::new(bytes)).map_err(|e| audio(e.to_string()))?;
        let spec = reader.spec();
        if spec.channels != 1 || spec.bits_per_sample != 16 {
            return Err(audio(format!(
                "{} channels of {} bits, not mono 16-bit",
                spec.channels, spec.bits_per_sample
            )));
        }
        let rate = SampleRate::new(spec.sample_rate)
            .ok_or_else(|| audio(format!("{} Hz is no frame-path rate", spec.sample_rate)))?;
        let samples = reader
            .into_samples::<i16>()
            .collect::<Result<Vec<i16>, _>>()
            .map_err(|e| audio(e.to_string()))?;
        if samples.is_empty() {
            return Err(audio("no samples".into()));
        }
        Ok((rate, samples))
    }
}

impl Default for EspeakNg {
    fn default() -> EspeakNg {
        EspeakNg::new()
    }
}

impl Speech for EspeakNg {
    fn speak(&self, text: &str) -> Result<(SampleRate, Vec<i16>), SpeechError> {
        if text.trim().is_empty() {
            return Err(SpeechError::Empty);
        }
        if text.len() > Self::MAX_TEXT {
            return Err(SpeechError::TooLong {
                len: text.len(),
                max: Self::MAX_TEXT,
            });
        }
        let speed = Self::WORDS_PER_MINUTE.to_string();
        let args = ["-v", Self::VOICE, "-s", &speed, "--stdout", "--stdin"];
        let wav = self.run(&args, text.as_bytes())?;
        self.decode(wav)
    }
}

/// Kills a program this module started and reaps it.
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    use switchboard_engine::media::tone::block_dbfs;

    /// An executable shell script `name` with `body` in a fresh directory.
    fn script(name: &str, body: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sb-speech-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// A mono 16-bit WAV of `samples` at `hz`, its sizes as a pipe writer leaves them.
    fn streamed_wav(hz: u32, samples: &[i16]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: hz,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(Cursor::new(&mut bytes), spec).unwrap();
        for &s in samples {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
        bytes[4..8].copy_from_slice(&0x7ffff024u32.to_le_bytes());
        bytes[40..44].copy_from_slice(&0x7ffff000u32.to_le_bytes());
        bytes
    }

    #[test]
    fn espeak_ng_speaks_one_two_three_audibly_for_about_a_second() {
        let espeak = EspeakNg::new();
        if let Err(SpeechError::Missing { .. }) = espeak.check() {
            // .ci/run installs it: there it must be
            assert!(
                std::env::var_os("CI").is_none(),
                "espeak-ng is not installed in CI"
            );
            eprintln!("skipped: espeak-ng is not installed (Debian: apt-get install espeak-ng)");
            return;
        }
        let (rate, samples) = espeak.speak("one two three").unwrap();
        let secs = samples.len() as f64 / rate.hz() as f64;
        // three short words at 160 words a minute, with espeak-ng's pauses
        assert!((0.6..=3.0).contains(&secs), "{secs:.2} s");
        let level = block_dbfs(&samples);
        assert!(level > -40.0, "{level:.1} dBFS");
        // more words take longer
        let (_, longer) = espeak
            .speak("one two three four five six seven eight nine ten")
            .unwrap();
        assert!(
            longer.len() > samples.len() * 2,
            "{} against {}",
            longer.len(),
            samples.len()
        );
    }

    #[test]
    fn a_text_that_looks_like_an_option_is_spoken_not_obeyed() {
        let espeak = EspeakNg::new();
        if espeak.check().is_err() {
            eprintln!("skipped: espeak-ng is not installed");
            return;
        }
        // as an argument, `--version` would print the version and no audio
        let (_, samples) = espeak.speak("--version").unwrap();
        assert!(block_dbfs(&samples) > -40.0);
    }

    #[test]
    fn a_missing_program_is_a_clear_error_before_and_when_speaking() {
        let espeak = EspeakNg::with_program("/nonexistent/bin/espeak-ng");
        let e = espeak.check().unwrap_err();
        assert!(matches!(e, SpeechError::Missing { .. }), "{e:?}");
        let message = e.to_string();
        assert!(
            message.contains("/nonexistent/bin/espeak-ng not found")
                && message.contains("apt-get install espeak-ng")
                && message.contains("tts = \"none\""),
            "{message}"
        );
        let e = espeak.speak("hello").unwrap_err();
        assert!(matches!(e, SpeechError::Missing { .. }), "{e:?}");
    }

    #[test]
    fn none_speaks_nothing_and_says_it_is_off() {
        let speech = select(Tts::None).unwrap();
        let e = speech.speak("hello").unwrap_err();
        assert!(matches!(e, SpeechError::Off), "{e:?}");
        assert!(e.to_string().contains("tts = \"none\""));
    }

    #[test]
    fn a_stream_header_is_read_as_the_samples_that_arrived() {
        let espeak = EspeakNg::new();
        let samples: Vec<i16> = (0..2205).map(|i| ((i * 37) % 2000 - 1000) as i16).collect();
        let mut bytes = streamed_wav(22_050, &samples);
        bytes.push(0x12); // half a sample, cut off
        let (rate, got) = espeak.decode(bytes).unwrap();
        assert_eq!(rate.hz(), 22_050);
        assert_eq!(got, samples);
    }

    #[test]
    fn audio_that_is_not_mono_16_bit_at_a_usable_rate_is_refused() {
        let espeak = EspeakNg::new();
        let e = espeak.decode(streamed_wav(11_025, &[1, 2, 3])).unwrap_err();
        assert!(e.to_string().contains("11025 Hz"), "{e}");
        let e = espeak.decode(streamed_wav(16_000, &[])).unwrap_err();
        assert!(e.to_string().contains("no samples"), "{e}");
        let e = espeak.decode(b"Sorry, no WAV today".to_vec()).unwrap_err();
        assert!(matches!(e, SpeechError::Audio { .. }), "{e:?}");
    }

    #[test]
    fn a_hanging_program_is_stopped_at_the_timeout() {
        let hang = script("hang", "exec sleep 30");
        let espeak = EspeakNg::with_program(&hang).with_timeout(Duration::from_millis(300));
        let t0 = Instant::now();
        let e = espeak.speak("hello").unwrap_err();
        assert!(matches!(e, SpeechError::Timeout { .. }), "{e:?}");
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        remove(&hang);
    }

    #[test]
    fn a_failing_program_reports_its_status_and_error_output() {
        let fail = script("fail", "echo 'voice en-us not found' >&2; exit 3");
        let e = EspeakNg::with_program(&fail).speak("hello").unwrap_err();
        let message = e.to_string();
        assert!(matches!(e, SpeechError::Failed { .. }), "{e:?}");
        assert!(
            message.contains("voice en-us not found") && message.contains('3'),
            "{message}"
        );
        remove(&fail);
    }

    #[test]
    fn the_text_arrives_on_standard_input_whole() {
        // a stand-in that answers a WAV header and then the text itself as the samples
        let echo = script("echo", "cat \"$(dirname \"$0\")/header.wav\" -");
        std::fs::write(echo.with_file_name("header.wav"), streamed_wav(16_000, &[])).unwrap();
        let text = "-v xx; $(echo no) `id` 'quoted' \"both\"\nsecond line";
        assert_eq!(text.len() % 2, 0, "whole samples");
        let (_, samples) = EspeakNg::with_program(&echo).speak(text).unwrap();
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        assert_eq!(bytes, text.as_bytes());
        remove(&echo);
    }

    #[test]
    fn empty_or_overlong_text_is_refused_before_running_anything() {
        let espeak = EspeakNg::with_program("/nonexistent/bin/espeak-ng");
        assert!(matches!(espeak.speak(" \n"), Err(SpeechError::Empty)));
        let long = "a".repeat(EspeakNg::MAX_TEXT + 1);
        assert!(matches!(
            espeak.speak(&long),
            Err(SpeechError::TooLong { .. })
        ));
    }

    fn remove(script: &Path) {
        let _ = std::fs::remove_dir_all(script.parent().unwrap());
    }
}
