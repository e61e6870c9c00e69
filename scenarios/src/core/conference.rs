//! Conference participants of a load run (scenario `behaviours.conferences`): who dials which
//! room, in which codec, and what they say.
//!
//! Room r is the conference `loadconf-<r>` (dialled as `sip:conf-loadconf-<r>@<domain>`; a
//! name of its own, so it never shares its chat room with the `room` behaviour's `load-<r>`).
//! In each room the first `talkers` participants talk: each sends a steady tone of its own
//! frequency ([`talker_hz`]), so a listener can tell by frequency whom it hears and a talker
//! can tell whether it hears itself. With `probe`, the last participant of each room is the
//! probe: silent except a [`PROBE_BURST`] burst of [`PROBE_HZ`] at the start of every second,
//! whose arrival in the others' streams measures the delay through the bridge. Everybody else
//! sends silence (real G.711 or G.722 silence, 50 packets/s, as a phone without silence
//! suppression does). The probe bursts from `probe_settle` after its answer on
//! ([`PROBE_SETTLE`] unless the scenario says).
//!
//! Sans-IO: [`Participant::voice`] gives one second of the participant's audio, encoded in its
//! codec, 50 payloads the runner sends in a loop; the receive side is
//! `crate::core::stats::ParticipantMeter`.

use std::time::Duration;

use switchboard_engine::media::codec::Encoder;
use switchboard_engine::media::{Codec, FRAMES_PER_SEC};

use super::User;

/// Most talkers a room may have: their tones must stay apart and below the probe's.
pub const MAX_TALKERS: u32 = 12;

/// The probe's tone, above every talker's.
pub const PROBE_HZ: f32 = 3000.0;

/// How long the probe's burst lasts, at the start of each second.
pub const PROBE_BURST: Duration = Duration::from_millis(100);

/// The probe is silent this long after its call is answered, unless the scenario says
/// (`probe_settle_ms`): the bursts then measure the bridge in a conversation, not the
/// participant's setting up (its packets before the switch has joined it are not heard).
pub const PROBE_SETTLE: Duration = Duration::from_secs(2);

/// The level every tone is sent at: -12 dBFS (a full-scale sine is 0 dBFS), so three talkers
/// mixed stay below full scale.
pub const TONE_DBFS: f64 = -12.0;

/// The frequency talker `index` sends: 900 Hz, then every 150 Hz up to 2550 Hz. Clear of the
/// switch's join and leave tones (523 and 784 Hz) and mute tone (330 Hz), and 150 Hz apart:
/// six bins of a 100 ms Goertzel window.
pub fn talker_hz(index: u32) -> f32 {
    900.0 + 150.0 * index as f32
}

/// The user part of room `room`'s conference address.
pub fn room_user(room: u32) -> String {
    format!("conf-{}", room_name(room))
}

/// The name of room `room`'s conference.
pub fn room_name(room: u32) -> String {
    format!("loadconf-{room}")
}

/// What a participant sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Voice {
    /// A steady tone at [`talker_hz`] of this index.
    Talker(u32),
    /// Silence: a listener.
    Silent,
    /// Silence with a burst of [`PROBE_HZ`] at the start of every second.
    Probe,
}

/// One participant's call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    pub room: u32,
    /// Its place in the room (0-based): talkers first, the probe last.
    pub index: u32,
    pub user: User,
    pub codec: Codec,
    pub voice: Voice,
    /// The room's talkers (all send, whether in this participant's call or not), for the
    /// frequencies it listens for.
    pub talkers: u32,
    /// The room has a probe: listen for its bursts.
    pub probe: bool,
    /// A probe's silence once answered, before its first burst.
    pub probe_settle: Duration,
    /// How long it stays once answered.
    pub hold: Duration,
}

impl Participant {
    /// Its own tone, if it talks.
    pub fn own_hz(&self) -> Option<f32> {
        match self.voice {
            Voice::Talker(i) => Some(talker_hz(i)),
            Voice::Silent | Voice::Probe => None,
        }
    }

    /// The tones of the room's other talkers: what it should hear.
    pub fn others_hz(&self) -> Vec<f32> {
        (0..self.talkers)
            .filter(|&i| self.voice != Voice::Talker(i))
            .map(talker_hz)
            .collect()
    }

    /// Whether it listens for the probe's bursts (everybody in a probe's room but the probe).
    pub fn hears_probe(&self) -> bool {
        self.probe && self.voice != Voice::Probe
    }

    /// One second of its audio, encoded in its codec: [`FRAMES_PER_SEC`] payloads of
    /// `codec.frame_payload_bytes()` each, back to back. Sent in a loop: a tone of whole
    /// hertz has whole cycles in a second, so the loop has no jump. The second is encoded
    /// twice in a row and the second pass kept: a codec with state (G.722's ADPCM) then
    /// starts each loop from the state the loop itself ends in, where the switch's decoder
    /// is; from a fresh encoder the first 60 ms of each loop (the probe's burst) decoded
    /// about 6 dB weak, and the probe was heard a frame or two late.
    pub fn voice(&self) -> Vec<u8> {
        let rate = self.codec.sample_rate();
        let n = rate.frame_samples();
        let amplitude = 32767.0 * 10f64.powf(TONE_DBFS / 20.0);
        let burst_frames = (PROBE_BURST.as_millis() / 20) as usize;
        let mut enc = Encoder::new(self.codec);
        let bytes = self.codec.frame_payload_bytes();
        let mut out = vec![0u8; bytes * FRAMES_PER_SEC as usize];
        let mut pcm = vec![0i16; n];
        for _pass in 0..2 {
            self.encode_second(&mut enc, &mut pcm, &mut out, amplitude, burst_frames);
        }
        out
    }

    /// One pass of [`Participant::voice`] into `out`, with `enc` as the last pass left it.
    fn encode_second(
        &self,
        enc: &mut Encoder,
        pcm: &mut [i16],
        out: &mut [u8],
        amplitude: f64,
        burst_frames: usize,
    ) {
        let rate = self.codec.sample_rate();
        let n = rate.frame_samples();
        let bytes = self.codec.frame_payload_bytes();
        for (f, payload) in out.chunks_mut(bytes).enumerate() {
            let hz = match self.voice {
                Voice::Talker(i) => Some(talker_hz(i)),
                Voice::Probe if f < burst_frames => Some(PROBE_HZ),
                Voice::Probe | Voice::Silent => None,
            };
            for (i, s) in pcm.iter_mut().enumerate() {
                *s = hz.map_or(0, |hz| {
                    let t = (f * n + i) as f64 / f64::from(rate.hz());
                    (amplitude * (2.0 * std::f64::consts::PI * f64::from(hz) * t).sin()) as i16
                });
            }
            enc.encode(pcm, payload);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_engine::media::codec::Decoder;
    use switchboard_engine::media::tone::goertzel_power;

    fn participant(codec: Codec, voice: Voice) -> Participant {
        Participant {
            room: 0,
            index: 0,
            user: 0,
            codec,
            voice,
            talkers: 3,
            probe: true,
            probe_settle: PROBE_SETTLE,
            hold: Duration::from_secs(1),
        }
    }

    fn decoded(p: &Participant) -> Vec<i16> {
        let voice = p.voice();
        let mut dec = Decoder::new(p.codec);
        let n = p.codec.sample_rate().frame_samples();
        let mut out = vec![0i16; n * 50];
        for (payload, pcm) in voice
            .chunks(p.codec.frame_payload_bytes())
            .zip(out.chunks_mut(n))
        {
            dec.decode(payload, pcm);
        }
        out
    }

    fn dbfs(samples: &[i16], codec: Codec, hz: f32) -> f64 {
        10.0 * goertzel_power(samples, codec.sample_rate(), hz).log10()
    }

    #[test]
    fn a_talker_sends_a_second_of_its_own_tone_at_minus_12_dbfs_in_its_codec() {
        for codec in [Codec::Pcmu, Codec::Pcma, Codec::G722] {
            let p = participant(codec, Voice::Talker(2));
            assert_eq!(p.voice().len(), 50 * codec.frame_payload_bytes());
            let pcm = decoded(&p);
            let level = dbfs(&pcm[1000..], codec, talker_hz(2));
            assert!((level - TONE_DBFS).abs() < 1.0, "{codec}: {level}");
            assert!(dbfs(&pcm[1000..], codec, talker_hz(1)) < -40.0, "{codec}");
        }
    }

    #[test]
    fn the_loop_s_burst_decodes_whole_from_its_first_frame_on_every_pass_not_only_the_first() {
        // one decoder over three loops, as the switch decodes the phone's packets
        for codec in [Codec::Pcmu, Codec::G722] {
            let p = participant(codec, Voice::Probe);
            let voice = p.voice();
            let mut dec = Decoder::new(codec);
            let mut pcm = vec![0i16; codec.sample_rate().frame_samples()];
            for pass in 0..3 {
                for (f, payload) in voice.chunks(codec.frame_payload_bytes()).enumerate() {
                    dec.decode(payload, &mut pcm);
                    if pass > 0 && f < 5 {
                        let level = dbfs(&pcm, codec, PROBE_HZ);
                        // a fresh encoder per loop gave -18.2, -17.4, -16.3 dBFS here
                        assert!(level > -13.5, "{codec} pass {pass} frame {f}: {level:.1}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_probe_bursts_for_the_first_100_ms_of_each_second_and_is_silent_after() {
        let p = participant(Codec::G722, Voice::Probe);
        let pcm = decoded(&p);
        let n = 320;
        assert!(dbfs(&pcm[n..4 * n], Codec::G722, PROBE_HZ) > -14.0);
        assert!(dbfs(&pcm[6 * n..], Codec::G722, PROBE_HZ) < -60.0);
    }

    #[test]
    fn a_talker_listens_for_the_others_and_the_probe_for_everyone_but_itself() {
        let t = participant(Codec::Pcmu, Voice::Talker(1));
        assert_eq!(t.own_hz(), Some(1050.0));
        assert_eq!(t.others_hz(), vec![900.0, 1200.0]);
        assert!(t.hears_probe());
        let probe = participant(Codec::Pcmu, Voice::Probe);
        assert_eq!(probe.own_hz(), None);
        assert_eq!(probe.others_hz().len(), 3);
        assert!(!probe.hears_probe());
        assert!(talker_hz(MAX_TALKERS - 1) < PROBE_HZ - 300.0);
    }
}
