use super::*;
use crate::core::conference::{talker_hz, Voice, PROBE_BURST};
use switchboard_engine::media::codec::Encoder;
use switchboard_engine::media::Codec;

const SWITCH: &str = "127.0.0.1:20000";

fn participant(codec: Codec, voice: Voice, probe: bool) -> Participant {
    Participant {
        room: 3,
        index: 0,
        user: 0,
        codec,
        voice,
        talkers: 3,
        probe,
        probe_settle: crate::core::conference::PROBE_SETTLE,
        hold: Duration::from_secs(10),
    }
}

/// Encoded frames of the tones `hz` mixed at -12 dBFS each, as the switch would send.
struct Mix {
    codec: Codec,
    enc: Encoder,
    seq: u16,
    sample: u64,
}

impl Mix {
    fn new(codec: Codec) -> Mix {
        Mix {
            codec,
            enc: Encoder::new(codec),
            seq: 0,
            sample: 0,
        }
    }

    fn packet(&mut self, hz: &[f32]) -> Vec<u8> {
        let rate = self.codec.sample_rate();
        let n = rate.frame_samples();
        let pcm: Vec<i16> = (0..n as u64)
            .map(|i| {
                let t = (self.sample + i) as f64 / f64::from(rate.hz());
                hz.iter()
                    .map(|&f| 8231.0 * (2.0 * std::f64::consts::PI * f64::from(f) * t).sin())
                    .sum::<f64>() as i16
            })
            .collect();
        self.sample += n as u64;
        let mut p = vec![0u8; 12 + self.codec.frame_payload_bytes()];
        p[0] = 0x80;
        p[1] = self.codec.static_payload_type().unwrap();
        p[2..4].copy_from_slice(&self.seq.to_be_bytes());
        let ts = u32::from(self.seq) * 160;
        p[4..8].copy_from_slice(&ts.to_be_bytes());
        p[8..12].copy_from_slice(&7u32.to_be_bytes());
        self.enc.encode(&pcm, &mut p[12..]);
        self.seq += 1;
        p
    }
}

/// Feeds `secs` of 50 packets/s whose tones `hz(frame)` gives; returns the frames at
/// which the meter saw a probe onset.
fn feed(
    m: &mut ParticipantMeter,
    mix: &mut Mix,
    frames: std::ops::Range<u64>,
    hz: impl Fn(u64) -> Vec<f32>,
) -> Vec<u64> {
    let from = SWITCH.parse().unwrap();
    let mut onsets = Vec::new();
    for f in frames {
        let p = mix.packet(&hz(f));
        if m.handle_packet(Duration::from_millis(20 * f), from, &p) {
            onsets.push(f);
        }
    }
    onsets
}

#[test]
fn a_listener_hearing_two_talkers_hears_the_others_in_every_window() {
    for codec in [Codec::Pcmu, Codec::G722] {
        let mut m = ParticipantMeter::new(
            &participant(codec, Voice::Silent, false),
            SWITCH.parse().unwrap(),
        );
        let mut mix = Mix::new(codec);
        feed(&mut m, &mut mix, 0..250, |_| {
            vec![talker_hz(0), talker_hz(2)]
        });
        let c = m.counts();
        assert_eq!(c.windows, 4, "{codec}: one a second after the first");
        assert_eq!(c.heard_windows, 4, "{codec}");
        assert!(c.heard() && !c.heard_itself() && c.should_hear && !c.talks);
        assert_eq!(
            (c.rtp.received, c.rtp.expected, c.missing_frames),
            (250, 250, 0)
        );
    }
}

#[test]
fn a_talker_whose_own_tone_comes_back_hears_itself() {
    let p = participant(Codec::Pcmu, Voice::Talker(1), false);
    let mut m = ParticipantMeter::new(&p, SWITCH.parse().unwrap());
    let mut mix = Mix::new(Codec::Pcmu);
    feed(&mut m, &mut mix, 0..150, |_| {
        vec![talker_hz(0), talker_hz(1)]
    });
    let c = m.counts();
    assert!(c.talks && c.heard() && c.heard_itself(), "{c:?}");
    assert_eq!(c.self_windows, c.windows);
}

#[test]
fn silence_or_a_stranger_tone_is_not_hearing_the_others() {
    let p = participant(Codec::Pcmu, Voice::Talker(0), false);
    let mut m = ParticipantMeter::new(&p, SWITCH.parse().unwrap());
    let mut mix = Mix::new(Codec::Pcmu);
    // silence for two seconds, then only a tone no talker of the room sends
    feed(&mut m, &mut mix, 0..100, |_| vec![]);
    feed(&mut m, &mut mix, 100..200, |_| vec![440.0]);
    let c = m.counts();
    assert_eq!(c.windows, 3);
    assert_eq!((c.heard_windows, c.self_windows), (0, 0));
    assert!(!c.heard());
}

#[test]
fn each_probe_burst_after_silence_is_one_onset_on_its_first_frame() {
    let p = participant(Codec::G722, Voice::Silent, true);
    let mut m = ParticipantMeter::new(&p, SWITCH.parse().unwrap());
    let mut mix = Mix::new(Codec::G722);
    let burst = PROBE_BURST.as_millis() as u64 / 20;
    // a burst at frame 7 of every second, over a steady talker: the first comes before
    // 200 ms of quiet (it may have begun before the call did) and is no onset
    let onsets = feed(&mut m, &mut mix, 0..200, |f| {
        let mut hz = vec![talker_hz(0)];
        if (7..7 + burst).contains(&(f % 50)) {
            hz.push(PROBE_HZ);
        }
        hz
    });
    assert_eq!(onsets, vec![57, 107, 157]);
    m.record_delay(Duration::from_millis(30), Duration::from_millis(34));
    m.record_lateness(Duration::from_millis(4));
    m.set_probe_codec(Some(Codec::Pcmu));
    let c = m.counts();
    assert_eq!((c.delays.count(), c.delays_read.count()), (1, 1));
    assert_eq!((c.codec, c.probe_codec), (Codec::G722, Some(Codec::Pcmu)));
    let mut t = RoomTotals::default();
    t.add_participant(&c);
    t.add_participant(&c);
    assert_eq!(t.by_codec.len(), 1);
    let pair = &t.by_codec[0];
    assert_eq!((pair.probe, pair.listener), (Codec::Pcmu, Codec::G722));
    assert_eq!((pair.delays.count(), pair.lateness.count()), (2, 2));
    assert!(pair.delays_read.percentile(50.0) > pair.delays.percentile(50.0));
}

#[test]
fn a_tick_the_switch_skipped_is_a_missing_frame_not_a_lost_packet() {
    let p = participant(Codec::Pcmu, Voice::Silent, false);
    let mut m = ParticipantMeter::new(&p, SWITCH.parse().unwrap());
    let from: SocketAddr = SWITCH.parse().unwrap();
    let mut mix = Mix::new(Codec::Pcmu);
    for f in 0..20u64 {
        let mut pkt = mix.packet(&[900.0]);
        // from frame 10 on, the timestamps are one frame further on
        if f >= 10 {
            let ts = (f as u32 + 1) * 160;
            pkt[4..8].copy_from_slice(&ts.to_be_bytes());
        }
        m.handle_packet(Duration::from_millis(20 * f), from, &pkt);
    }
    let c = m.counts();
    assert_eq!((c.rtp.expected, c.rtp.received), (20, 20));
    assert_eq!((c.missing_frames, c.timestamp_jumps), (1, 0));
}
