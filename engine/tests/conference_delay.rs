//! The delay a conference bridge adds, mouth to ear without the phones, on injected time: the
//! engine's parts wired as the switch wires them (each participant's `Session` following the
//! mixer's clock, its voice frames to the `Mixer` through a queue, the mix pushed back to its
//! session's feed at each mixer tick), phones sending 20 ms packets at every phase against
//! the mixer's clock. A talker bursts 1 kHz twice a second; the delay is from its sending the
//! first packet of a burst to a listener's session sending the first packet of the mix that
//! holds it: the input jitter buffer, the wait for the mixer's tick, the mix, no further
//! wait (the budget: at most 40 ms, jitter buffer plus one tick).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_engine::conference::{Format, Mixer, MixerConfig, ParticipantId};
use switchboard_engine::entropy::Entropy;
use switchboard_engine::media::codec::{Decoder, Encoder};
use switchboard_engine::media::rtp::{
    write_header, Header, PayloadType, RtpPacket, RtpTimestamp, Seq, Ssrc,
};
use switchboard_engine::media::session::{
    MixerClock, Session, SessionConfig, StreamConfig, MAX_TRANSMIT,
};
use switchboard_engine::media::tone::{goertzel_power, Level, Sound, Tone, ToneGenerator};
use switchboard_engine::media::{Codec, FrameSink, PayloadFeed, SampleRate, Side};

const BURST_HZ: f32 = 1000.0;
/// A burst of 5 frames every 25 frames (half a second).
const BURST_EVERY: u64 = 25;
const BURST_FRAMES: u64 = 5;

/// A participant's decoded voice frames, as its ring to the mixer holds them.
#[derive(Clone, Default)]
struct VoiceRing(Arc<Mutex<VecDeque<Vec<i16>>>>);

impl FrameSink for VoiceRing {
    fn frame(&mut self, side: Side, _rate: SampleRate, pcm: &[i16]) {
        if side == Side::Caller {
            self.0.lock().unwrap().push_back(pcm.to_vec());
        }
    }
}

/// A participant's mix payloads, as its ring from the mixer holds them.
#[derive(Clone, Default)]
struct MixRing(Arc<Mutex<VecDeque<Vec<u8>>>>);

impl PayloadFeed for MixRing {
    fn next(&mut self, buf: &mut [u8]) -> Option<usize> {
        let p = self.0.lock().unwrap().pop_front()?;
        buf[..p.len()].copy_from_slice(&p);
        Some(p.len())
    }
}

struct Party {
    id: ParticipantId,
    codec: Codec,
    phone: SocketAddr,
    session: Session,
    voice: VoiceRing,
    mix: MixRing,
    /// When its phone sends its first packet (then every 20 ms).
    phase: Duration,
    /// The network's delay for packet k, if it is not lost.
    network: Box<dyn FnMut(u64) -> Duration>,
    talks: bool,
    /// Talks all the time (a steady tone of its own), rather than in bursts.
    steady: Option<ToneGenerator>,
    encoder: Encoder,
    tone: ToneGenerator,
    seq: u16,
    /// Packets in flight: (arrival, bytes).
    flight: Vec<(Instant, Vec<u8>)>,
    /// What its session sent it: (time, packet).
    heard: Vec<(Instant, Vec<u8>)>,
}

impl Party {
    /// The phone's packet k, sent at `phase + 20k` ms: a burst frame or silence.
    fn packet(&mut self, k: u64) -> Vec<u8> {
        let n = self.codec.sample_rate().frame_samples();
        let mut pcm = vec![0i16; n];
        if let Some(g) = self.steady.as_mut() {
            g.generate(&mut pcm);
        } else if self.talks && k % BURST_EVERY < BURST_FRAMES {
            self.tone.generate(&mut pcm);
        }
        let mut payload = vec![0u8; self.codec.frame_payload_bytes()];
        let len = self.encoder.encode(&pcm, &mut payload);
        let units = self.codec.frame_timestamp_units();
        let h = Header::new(
            PayloadType::new(pt(self.codec)).unwrap(),
            Seq(self.seq),
            RtpTimestamp(9_000 + k as u32 * units),
            Ssrc(0x1000 + self.id.0),
        );
        self.seq = self.seq.wrapping_add(1);
        let mut bytes = vec![0u8; 12 + len];
        let h_len = write_header(&mut bytes, &h).unwrap();
        bytes[h_len..].copy_from_slice(&payload[..len]);
        bytes
    }

    fn drain(&mut self, now: Instant) {
        let mut buf = [0u8; MAX_TRANSMIT];
        while let Some(t) = self.session.poll_transmit(now, &mut buf) {
            assert_eq!(t.to, self.phone);
            self.heard.push((now, buf[..t.len].to_vec()));
        }
        while self.session.poll_event().is_some() {}
    }
}

fn pt(codec: Codec) -> u8 {
    match codec {
        Codec::G722 => 9,
        _ => 0,
    }
}

fn stream(remote: SocketAddr, codec: Codec) -> StreamConfig {
    StreamConfig {
        remote,
        remote_rtcp: SocketAddr::new(remote.ip(), remote.port() + 1),
        rtcp_mux: false,
        codec,
        payload_type: pt(codec),
        incoming_payload_type: pt(codec),
        telephone_event: None,
        incoming_telephone_event: None,
        sends: true,
        receives: true,
        srtp: None,
    }
}

/// A room of a talker (PCMU unless said), a PCMU listener and a G.722 listener, run for
/// `secs` seconds with the talker's phone sending at `phase` and its packets delayed by
/// `network`; with `follow`, the sessions follow the mixer's clock (else each keeps its own).
/// The delays of the bursts to each listener, and the talker's session.
struct Bridge {
    t0: Instant,
    clock: MixerClock,
    mixer: Mixer,
    parties: Vec<Party>,
}

impl Bridge {
    fn new(phase: Duration, network: Box<dyn FnMut(u64) -> Duration>, follow: bool) -> Bridge {
        Bridge::with_talker(Codec::Pcmu, phase, network, follow)
    }

    fn with_talker(
        talker_codec: Codec,
        phase: Duration,
        network: Box<dyn FnMut(u64) -> Duration>,
        follow: bool,
    ) -> Bridge {
        let members = vec![
            (talker_codec, phase, true),
            (Codec::Pcmu, Duration::from_millis(4), false),
            (Codec::G722, Duration::from_millis(13), false),
        ];
        Bridge::with_members(members, Vec::new(), network, follow)
    }

    /// A room of `members` (codec, phase, bursts), the first the bursting talker, plus
    /// `steady` talkers (codec, phase, tone Hz) that talk all the time.
    fn with_members(
        members: Vec<(Codec, Duration, bool)>,
        steady: Vec<(Codec, Duration, f32)>,
        network: Box<dyn FnMut(u64) -> Duration>,
        follow: bool,
    ) -> Bridge {
        let t0 = Instant::now();
        let clock = MixerClock {
            epoch: t0 + Duration::from_millis(7),
            lead: Duration::from_millis(5),
        };
        let mut mixer = Mixer::new(MixerConfig::new(members.len() + steady.len()));
        let mut parties = Vec::new();
        let talker = Tone::continuous(Sound::Single(BURST_HZ), Level::dbfs(-12.0));
        let mut network = Some(network);
        let everyone = members
            .into_iter()
            .map(|(c, p, t)| (c, p, t, None))
            .chain(steady.into_iter().map(|(c, p, hz)| (c, p, false, Some(hz))));
        for (i, (codec, phase, talks, steady)) in everyone.enumerate() {
            let id = ParticipantId(i as u32 + 1);
            let phone: SocketAddr = format!("192.0.2.{}:4000", i + 1).parse().unwrap();
            let mut session = Session::new(t0, SessionConfig::default(), Entropy::seeded(i as u64));
            session.configure(t0, Side::Caller, stream(phone, codec));
            if follow {
                session.set_mixer_clock(t0, Some(clock));
            }
            let (voice, mix) = (VoiceRing::default(), MixRing::default());
            session.set_sink(t0, Some(Box::new(voice.clone())));
            session.set_feed(t0, Side::Caller, Some(Box::new(mix.clone())));
            session.activate(t0);
            mixer.add(id, Format::of(codec)).unwrap();
            let network: Box<dyn FnMut(u64) -> Duration> = match network.take() {
                Some(n) if talks => n,
                n => {
                    network = n;
                    Box::new(|_| Duration::from_micros(300))
                }
            };
            parties.push(Party {
                id,
                codec,
                phone,
                session,
                voice,
                mix,
                phase,
                network,
                talks,
                steady: steady.map(|hz| {
                    let t = Tone::continuous(Sound::Single(hz), Level::dbfs(-12.0));
                    ToneGenerator::new(t, codec.sample_rate())
                }),
                encoder: Encoder::new(codec),
                tone: ToneGenerator::new(talker, codec.sample_rate()),
                seq: 100,
                flight: Vec::new(),
                heard: Vec::new(),
            });
        }
        Bridge {
            t0,
            clock,
            mixer,
            parties,
        }
    }

    /// Runs `secs` seconds in steps of 1 ms (every event falls on a whole millisecond but
    /// the network's; what arrived within a step is handled at its arrival time).
    fn run(&mut self, secs: u64) {
        let mut sent = vec![0u64; self.parties.len()];
        for ms in 0..secs * 1000 {
            let now = self.t0 + Duration::from_millis(ms);
            for (p, k) in self.parties.iter_mut().zip(sent.iter_mut()) {
                // the phone sends, the network delivers
                if now >= self.t0 + p.phase + Duration::from_millis(20 * *k) {
                    let bytes = p.packet(*k);
                    let at = self.t0 + p.phase + Duration::from_millis(20 * *k) + (p.network)(*k);
                    p.flight.push((at, bytes));
                    *k += 1;
                }
                p.flight.sort_by_key(|(at, _)| *at);
                while p.flight.first().is_some_and(|(at, _)| *at <= now) {
                    let (at, mut bytes) = p.flight.remove(0);
                    let len = bytes.len();
                    bytes.resize(2048, 0);
                    p.session
                        .handle_packet(at, Side::Caller, p.phone, false, &mut bytes, len);
                    p.drain(at);
                }
                // its frame tick
                while let Some(due) = p.session.poll_timeout().filter(|&d| d <= now) {
                    p.session.handle_timeout(due);
                    p.drain(due);
                }
            }
            if self.clock.mixer_tick_at_or_after(now) == now {
                self.mixer_tick(now);
            }
        }
    }

    /// The mixer's tick: the newest voice frame of each, the mix, each payload pushed.
    fn mixer_tick(&mut self, now: Instant) {
        for p in &mut self.parties {
            let newest = {
                let mut q = p.voice.0.lock().unwrap();
                let newest = q.pop_back();
                q.clear();
                newest
            };
            if let Some(frame) = newest {
                self.mixer.input(p.id, &frame);
            }
        }
        self.mixer.tick();
        for p in &mut self.parties {
            let payload = self.mixer.output(p.id).to_vec();
            p.mix.0.lock().unwrap().push_back(payload);
            p.session.handle_feed(now);
            p.drain(now);
        }
    }

    /// For each burst the talker sent (after the first second), the delay until listener
    /// `i` was sent the first packet of the mix that holds it.
    fn delays(&self, i: usize) -> Vec<Duration> {
        let talker = &self.parties[0];
        let p = &self.parties[i];
        let rate = p.codec.sample_rate();
        let mut decoder = Decoder::new(p.codec);
        let loud: Vec<Instant> = p
            .heard
            .iter()
            .filter_map(|(at, bytes)| {
                let packet = RtpPacket::parse(bytes).unwrap();
                let mut pcm = vec![0i16; rate.frame_samples()];
                let n = decoder.decode(packet.payload(), &mut pcm);
                let db = 10.0 * goertzel_power(&pcm[..n], rate, BURST_HZ).max(1e-12).log10();
                (db > -30.0).then_some(*at)
            })
            .collect();
        let mut out = Vec::new();
        let mut k = BURST_EVERY * 2;
        loop {
            let sent = self.t0 + talker.phase + Duration::from_millis(20 * k);
            let Some(&heard) = loud.iter().find(|&&at| at >= sent) else {
                break;
            };
            if heard > sent + Duration::from_millis(400) {
                break; // the run ended before this burst came through
            }
            out.push(heard - sent);
            k += BURST_EVERY;
        }
        out
    }
}

fn max_ms(d: &[Duration]) -> f64 {
    d.iter().max().unwrap().as_secs_f64() * 1e3
}

#[test]
fn a_burst_reaches_the_listeners_within_40_ms_whatever_the_talker_s_phase() {
    for phase in [0u64, 3, 6, 9, 12, 15, 18, 19] {
        let mut b = Bridge::new(
            Duration::from_millis(phase),
            Box::new(|_| Duration::from_micros(300)),
            true,
        );
        b.run(6);
        for (i, what) in [(1, "PCMU"), (2, "G.722")] {
            let d = b.delays(i);
            assert!(d.len() >= 9, "phase {phase} ms, {what}: bursts heard {d:?}");
            assert!(
                max_ms(&d) <= 40.0,
                "phase {phase} ms, {what}: delays {d:?} within 40 ms"
            );
        }
        let s = b.parties[0].session.stats();
        let talker = s.side(Side::Caller).unwrap();
        assert_eq!(talker.concealed, 0, "phase {phase} ms: {talker:?}");
        // packets on time: the buffer steers to its 2 ms guard and never grew once playing
        // (the gauges an operator reads, `switchboard_media_jitter_*`, show these figures)
        let j = b.parties[0].session.jitter_figures(Side::Caller).unwrap();
        assert!(
            j.target < Duration::from_millis(3),
            "phase {phase} ms: {j:?}"
        );
        assert!(j.grown <= 1, "phase {phase} ms: {j:?}");
        assert!(b.parties[0].session.jitter_figures(Side::Callee).is_none());
    }
}

#[test]
fn pcmu_and_g722_listeners_hear_a_burst_in_the_same_tick_whichever_rate_it_came_at() {
    // resampling between the rates and G.722's coding delay a burst by a few ms (the
    // resampler's half filter, the QMFs' 22 samples): well inside the burst's first frame,
    // so both listeners' first loud packet is the same tick's, from either kind of talker,
    // at every phase
    for talker in [Codec::Pcmu, Codec::G722] {
        for phase in [0u64, 5, 10, 15, 19] {
            let mut b = Bridge::with_talker(
                talker,
                Duration::from_millis(phase),
                Box::new(|_| Duration::from_micros(300)),
                true,
            );
            b.run(6);
            let (pcmu, g722) = (b.delays(1), b.delays(2));
            assert!(pcmu.len() >= 9, "{talker} at {phase} ms: {pcmu:?}");
            assert_eq!(pcmu, g722, "{talker} talker at {phase} ms");
            assert!(max_ms(&pcmu) <= 40.0, "{talker} at {phase} ms: {pcmu:?}");
        }
    }
}

#[test]
fn a_session_on_its_own_clock_holds_the_talker_a_frame_or_two_longer() {
    // the sessions' own clocks and the frame path's 40 ms jitter buffer floor (how the
    // bridge ran before it followed the mixer's clock): the same room, longer delays
    let mut own = Bridge::new(
        Duration::from_millis(9),
        Box::new(|_| Duration::from_micros(300)),
        false,
    );
    own.run(6);
    let mut follows = Bridge::new(
        Duration::from_millis(9),
        Box::new(|_| Duration::from_micros(300)),
        true,
    );
    follows.run(6);
    let (o, f) = (own.delays(1), follows.delays(1));
    assert!(max_ms(&f) <= 40.0 && max_ms(&o) >= 40.0, "{o:?} vs {f:?}");
    assert!(max_ms(&o) >= max_ms(&f) + 20.0, "{o:?} vs {f:?}");
}

#[test]
fn under_network_jitter_the_bridge_waits_longer_and_loses_little() {
    let mut e = Entropy::seeded(5);
    // up to 30 ms of jitter on every packet of the talker
    let jitter: Box<dyn FnMut(u64) -> Duration> =
        Box::new(move |_| Duration::from_micros(300 + e.next_u64() % 30_000));
    let mut b = Bridge::new(Duration::from_millis(5), jitter, true);
    b.run(10);
    let s = b.parties[0].session.stats();
    let talker = s.side(Side::Caller).unwrap();
    assert!(
        talker.concealed * 100 <= talker.rx_packets * 2,
        "at most 2 % of the talker's frames concealed: {talker:?}"
    );
    // the buffer's figures say so: its target follows the jitter up (guard + at least half
    // of the largest transit differences)
    let j = b.parties[0].session.jitter_figures(Side::Caller).unwrap();
    assert!(j.target >= Duration::from_millis(10), "{j:?}");
    for i in [1, 2] {
        let d = b.delays(i);
        assert!(d.len() >= 17, "every burst heard: {d:?}");
        // 30 ms of jitter, a frame of slack at most, the lead and the mix
        assert!(max_ms(&d) <= 80.0, "{d:?}");
    }
}

#[test]
fn a_room_of_ten_with_two_steady_talkers_hears_a_g722_probe_as_soon_as_a_pcmu_one() {
    // the load's room (`scenarios/conference_200.toml`): a probe, seven silent listeners of
    // both codecs, two steady talkers. In the load a G.722 probe is heard 20-40 ms later
    // than a PCMU one, even with two rooms on an idle switch (benches/README.md); on
    // injected time, with digital silence from the listeners, it is not: both in one tick
    let mut out = Vec::new();
    for probe in [Codec::Pcmu, Codec::G722] {
        let ms = Duration::from_millis;
        let members = vec![
            (probe, ms(9), true),
            (Codec::Pcmu, ms(4), false),
            (Codec::G722, ms(13), false),
            (Codec::Pcmu, ms(1), false),
            (Codec::G722, ms(7), false),
            (Codec::Pcmu, ms(11), false),
            (Codec::G722, ms(17), false),
            (Codec::G722, ms(3), false),
        ];
        let steady = vec![(Codec::Pcmu, ms(2), 400.0), (Codec::G722, ms(15), 600.0)];
        let mut b = Bridge::with_members(
            members,
            steady,
            Box::new(|_| Duration::from_micros(300)),
            true,
        );
        b.run(6);
        let (pcmu, g722) = (b.delays(1), b.delays(2));
        out.push((probe, pcmu, g722));
    }
    for (probe, pcmu, g722) in &out {
        assert!(
            pcmu.len() >= 9 && g722.len() >= 9,
            "{probe}: {pcmu:?} {g722:?}"
        );
        assert!(
            max_ms(pcmu) <= 40.0 && max_ms(g722) <= 40.0,
            "{probe}: {pcmu:?} {g722:?}"
        );
    }
    assert_eq!(
        out[0].1, out[1].1,
        "PCMU and G.722 probes, to the PCMU listener"
    );
    assert_eq!(
        out[0].2, out[1].2,
        "PCMU and G.722 probes, to the G.722 listener"
    );
}
