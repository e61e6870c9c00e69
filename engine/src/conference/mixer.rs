//! The N-1 mix of one conference, one 20 ms tick at a time.
//!
//! The caller (the mixer thread) gives each participant's decoded frame with `input`, calls
//! `tick`, and takes each participant's encoded payload with `output`. A participant hears
//! everyone in the mix but themselves, at their own sample rate, in their own codec.
//!
//! How a tick works (the research's recommended design, as Asterisk's `bridge_softmix` with
//! several rates at once):
//!
//! 1. Talk detection ([`super::Vad`]) on every participant's frame; a participant with no
//!    frame this tick is silent. A muted participant never talks.
//! 2. Talkers: at most `max_talkers` talking participants go into the mix, the loudest, with
//!    hysteresis (a talker in the mix is only replaced by one 6 dB louder, so the set does not
//!    flap); everyone else counts as silent.
//! 3. One mix per sample rate in use (a "bus"), summed in `i32`. A talker's frame goes into
//!    the bus of its own rate as it is. The talkers of each rate, summed, reach the other
//!    buses through resamplers chained along the rates in use (8 -> 16 -> 48 kHz and back
//!    down, see `chain`): one resampling per pair of neighbouring rates and direction, not per
//!    talker, and none from a rate where nobody talks once its filter has emptied.
//! 4. Each bus saturates to `i16`: the full mix, which every participant outside the mix
//!    hears. All of them of one format (rate and codec) share one payload: one encode per
//!    format per tick, whatever the room's size.
//! 5. Each talker hears its bus minus its own frame, subtracted in `i32` before saturating
//!    (N-1), encoded by its own encoder: one private encode per talker. A talker alone hears
//!    silence; everyone else hears that talker.
//!
//! Announcements (`announce`: the join and leave tones) play to the whole room over the
//! conversation: each bus adds the tone, generated at its rate, to its sum, so everyone hears
//! it, talkers in their N-1 mixes too, in the payloads they already share; nobody stops
//! hearing the others while it plays, and a newcomer is heard at once.
//!
//! A participant keeps its own encoder for the ticks it is a talker; the shared encoder of
//! its format serves it the other ticks. For G.722, whose encoder carries ADPCM state, the
//! switch between the two streams may click once at the listener's decoder: accepted, as it
//! happens only when someone starts or stops talking.
//!
//! Everything is allocated by `new` and `add` (frames, payloads, encoders, buses and
//! resamplers for a new rate); `input`, `tick`, `output`, `set_muted`, `announce` and
//! `remove` allocate nothing. Changes between ticks take effect at the next tick. With no participant `tick`
//! does nothing, and the mixer thread can stop ticking.

mod chain;
mod payloads;
mod select;
#[cfg(test)]
mod tests;

use rustc_hash::FxHashMap;

use super::vad::{Vad, VadConfig, MIN_LEVEL_DBFS};
use crate::media::codec::Encoder;
use crate::media::tone::{Tone, ToneGenerator};
use crate::media::{Codec, SampleRate, MAX_FRAME_SAMPLES};
use chain::Chain;

/// What a participant sends and hears: the rate of its decoded frames (and of the mix it
/// hears) and the codec its mix is encoded in. The rate is the codec's.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Format {
    pub rate: SampleRate,
    pub codec: Codec,
}

impl Format {
    /// The format of a participant whose stream is `codec`.
    pub fn of(codec: Codec) -> Format {
        Format {
            rate: codec.sample_rate(),
            codec,
        }
    }
}

/// A participant of a mixer, numbered by the caller.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(pub u32);

impl std::fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The talkers mixed when nobody said: the loudest three (Red5 Pro's mix-minus and the
/// research's recommendation).
pub const DEFAULT_MAX_TALKERS: usize = 3;

/// The fixed sizes of a mixer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MixerConfig {
    /// Participants at once.
    pub capacity: usize,
    /// Talkers in the mix at once.
    pub max_talkers: usize,
    pub vad: VadConfig,
}

impl MixerConfig {
    /// Room for `capacity` participants, the loudest three talkers mixed, default talk
    /// detection.
    pub fn new(capacity: usize) -> MixerConfig {
        MixerConfig {
            capacity,
            max_talkers: DEFAULT_MAX_TALKERS,
            vad: VadConfig::default(),
        }
    }
}

/// Counters of the work a mixer did.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct MixerStats {
    /// Ticks that mixed (ticks with no participant are not counted).
    pub ticks: u64,
    /// Payloads encoded once for every participant outside the mix of one format.
    pub shared_encodes: u64,
    /// Payloads encoded for one talker (its N-1 mix).
    pub private_encodes: u64,
    /// Frames resampled to another rate: sums of the talkers at one rate (and of what reached
    /// that rate from beyond it), one per link of the chain of rates that carries audio.
    pub resampled_frames: u64,
}

/// Why a mixer refused a participant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MixerError {
    #[error("mixer is full ({capacity} participants)")]
    Full { capacity: usize },
    #[error("participant {id} is already in the mixer")]
    Duplicate { id: ParticipantId },
    #[error("rate {rate} is not the rate of {codec}")]
    RateMismatch { rate: SampleRate, codec: Codec },
}

/// The N-1 mixer of one conference.
pub struct Mixer {
    config: MixerConfig,
    /// `capacity` places; a participant keeps its place until removed.
    slots: Vec<Option<Slot>>,
    /// Where each participant is: `input` and `output` look it up for every participant every
    /// tick, so with a hash quicker than SipHash (the ids are the caller's, not the network's).
    index: FxHashMap<ParticipantId, usize>,
    present: usize,
    buses: Vec<Bus>,
    groups: Vec<Group>,
    chain: Chain,
    /// The places of the talkers in the mix (at most `max_talkers`).
    talkers: Vec<usize>,
    /// A frame of room for N-1 mixes.
    scratch: Vec<i16>,
    stats: MixerStats,
}

/// One participant.
struct Slot {
    id: ParticipantId,
    format: Format,
    bus: usize,
    group: usize,
    /// This tick's frame at the participant's rate.
    frame: Vec<i16>,
    /// A frame came since the last tick.
    fresh: bool,
    /// `frame` holds zeros already (no frame came).
    zeroed: bool,
    muted: bool,
    vad: Vad,
    /// In the mix this tick.
    mixed: bool,
    /// For the ticks it is a talker: its own N-1 mix.
    encoder: Encoder,
    payload: Vec<u8>,
    payload_len: usize,
    heard: Heard,
}

/// Which payload a participant hears after a tick.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Heard {
    /// Nothing yet (added since the last tick).
    Nothing,
    /// Its format's shared payload.
    Shared,
    /// Its own.
    Private,
}

/// The mix at one rate.
struct Bus {
    rate: SampleRate,
    /// Participants at this rate.
    listeners: usize,
    /// Mixed even with no listener (for a recording at this rate).
    held: bool,
    /// Mixed at the last tick.
    mixed: bool,
    /// The talkers at this rate, summed.
    own: Vec<i32>,
    /// `own` holds a talker this tick (else it is stale).
    own_live: bool,
    /// What came from the buses of lower rates, and whether anything did this tick.
    up: Vec<i32>,
    up_live: bool,
    /// What came from the buses of higher rates, and whether anything did.
    down: Vec<i32>,
    down_live: bool,
    /// Everything: `own + up + down`, and the announcement playing.
    sum: Vec<i32>,
    mix: Vec<i16>,
    /// The announcement playing to the room, at this rate.
    tone: Option<ToneGenerator>,
    tone_frame: Vec<i16>,
}

/// The participants of one format, and the payload they share when outside the mix.
struct Group {
    format: Format,
    bus: usize,
    members: usize,
    encoder: Encoder,
    payload: Vec<u8>,
    len: usize,
}

impl Mixer {
    /// A mixer with room for `config.capacity` participants (allocated now).
    pub fn new(config: MixerConfig) -> Mixer {
        Mixer {
            config,
            slots: (0..config.capacity).map(|_| None).collect(),
            index: FxHashMap::with_capacity_and_hasher(config.capacity, Default::default()),
            present: 0,
            buses: Vec::new(),
            groups: Vec::new(),
            chain: Chain::new(),
            talkers: Vec::with_capacity(config.max_talkers),
            scratch: vec![0; MAX_FRAME_SAMPLES],
            stats: MixerStats::default(),
        }
    }

    /// Adds a participant, heard and hearing from the next tick. Allocates its buffers, and
    /// the bus and resamplers of a rate not in use yet.
    pub fn add(&mut self, id: ParticipantId, format: Format) -> Result<(), MixerError> {
        if self.index.contains_key(&id) {
            return Err(MixerError::Duplicate { id });
        }
        if format.rate != format.codec.sample_rate() {
            return Err(MixerError::RateMismatch {
                rate: format.rate,
                codec: format.codec,
            });
        }
        let Some(place) = self.slots.iter().position(Option::is_none) else {
            return Err(MixerError::Full {
                capacity: self.config.capacity,
            });
        };
        let bus = self.bus_of(format.rate);
        let group = match self.groups.iter().position(|g| g.format == format) {
            Some(g) => g,
            None => {
                self.groups.push(Group {
                    format,
                    bus,
                    members: 0,
                    encoder: Encoder::new(format.codec),
                    payload: vec![0; format.codec.frame_payload_bytes()],
                    len: 0,
                });
                self.groups.len() - 1
            }
        };
        self.buses[bus].listeners += 1;
        self.groups[group].members += 1;
        self.slots[place] = Some(Slot {
            id,
            format,
            bus,
            group,
            frame: vec![0; format.rate.frame_samples()],
            fresh: false,
            zeroed: true,
            muted: false,
            vad: Vad::new(self.config.vad),
            mixed: false,
            encoder: Encoder::new(format.codec),
            payload: vec![0; format.codec.frame_payload_bytes()],
            payload_len: 0,
            heard: Heard::Nothing,
        });
        self.index.insert(id, place);
        self.present += 1;
        Ok(())
    }

    /// Removes a participant (nothing if unknown): not heard from the next tick on.
    pub fn remove(&mut self, id: ParticipantId) {
        let Some(place) = self.index.remove(&id) else {
            return;
        };
        let Some(slot) = self.slots[place].take() else {
            return;
        };
        self.present -= 1;
        self.buses[slot.bus].listeners -= 1;
        self.groups[slot.group].members -= 1;
        self.talkers.retain(|&t| t != place);
    }

    /// Mutes or unmutes a participant: a muted participant is never mixed (it still hears).
    pub fn set_muted(&mut self, id: ParticipantId, muted: bool) {
        if let Some(slot) = self.slot_mut(id) {
            slot.muted = muted;
        }
    }

    /// The participant's decoded 20 ms frame at its own rate for the next tick (no call:
    /// silence). A shorter frame is padded with silence, a longer one cut.
    pub fn input(&mut self, id: ParticipantId, pcm: &[i16]) {
        let Some(slot) = self.slot_mut(id) else {
            return;
        };
        let n = pcm.len().min(slot.frame.len());
        slot.frame[..n].copy_from_slice(&pcm[..n]);
        slot.frame[n..].fill(0);
        slot.fresh = true;
        slot.zeroed = false;
    }

    /// Keeps the full mix at `rate` computed every tick even while no participant is at that
    /// rate (a recording of the conference at `rate`), or stops doing so. Allocates the bus
    /// the first time.
    pub fn hold_mix(&mut self, rate: SampleRate, held: bool) {
        let bus = self.bus_of(rate);
        self.buses[bus].held = held;
    }

    /// Plays `tone` once to everyone in the room, over the mix, from the next tick (in place
    /// of one still playing). Nothing with nobody in the room.
    pub fn announce(&mut self, tone: Tone) {
        if self.present == 0 {
            return;
        }
        for bus in &mut self.buses {
            bus.tone = Some(ToneGenerator::new(tone, bus.rate));
        }
    }

    /// Whether an announcement is playing.
    pub fn announcing(&self) -> bool {
        self.buses.iter().any(|b| b.tone.is_some())
    }

    /// Mixes one 20 ms tick; afterwards `output(id)` is what `id` hears, encoded.
    pub fn tick(&mut self) {
        if self.present == 0 {
            return;
        }
        let Mixer {
            config,
            slots,
            buses,
            groups,
            chain,
            talkers,
            scratch,
            stats,
            ..
        } = self;
        stats.ticks += 1;

        // 1. this tick's frames and who talks in them
        for slot in slots.iter_mut().flatten() {
            if !slot.fresh && !slot.zeroed {
                slot.frame.fill(0);
                slot.zeroed = true;
            }
            slot.fresh = false;
            slot.vad.update(&slot.frame);
        }

        // 2. the talkers in the mix
        select::choose(talkers, config.max_talkers, slots.len(), |i| {
            let s = slots[i].as_ref()?;
            (s.vad.talking() && !s.muted).then(|| s.vad.loudness())
        });
        for slot in slots.iter_mut().flatten() {
            slot.mixed = false;
        }
        for &t in talkers.iter() {
            if let Some(s) = slots[t].as_mut() {
                s.mixed = true;
            }
        }

        // 3. the buses in use, and the talkers of each rate summed
        for bus in buses.iter_mut() {
            bus.mixed = bus.listeners > 0 || bus.held;
            bus.own_live = false;
        }
        for &t in talkers.iter() {
            let Some(slot) = slots[t].as_ref() else {
                continue;
            };
            let bus = &mut buses[slot.bus];
            if bus.own_live {
                add(&mut bus.own, &slot.frame);
            } else {
                for (o, &x) in bus.own.iter_mut().zip(&slot.frame) {
                    *o = i32::from(x);
                }
                bus.own_live = true;
            }
        }

        // 4. each rate's talkers to the other rates, along the chain
        chain.run(buses, stats);

        // 5. the full mix of each bus
        for bus in buses.iter_mut().filter(|b| b.mixed) {
            bus.sum_up();
        }

        // 6, 7. one shared payload per format for everyone outside the mix, a private N-1
        // payload per talker
        payloads::encode(slots, groups, buses, talkers, scratch, stats);
    }

    /// What `id` hears, encoded in its codec: the payload of the last tick (empty before the
    /// first tick after `add`, and for an unknown participant). Participants outside the mix
    /// of one format get the same bytes, from the same buffer.
    pub fn output(&self, id: ParticipantId) -> &[u8] {
        let Some(slot) = self.slot(id) else {
            return &[];
        };
        match slot.heard {
            Heard::Nothing => &[],
            Heard::Shared => {
                let g = &self.groups[slot.group];
                &g.payload[..g.len]
            }
            Heard::Private => &slot.payload[..slot.payload_len],
        }
    }

    /// Whether `id` talks (its voice detector says so and it is not muted), mixed or not.
    pub fn talking(&self, id: ParticipantId) -> bool {
        self.slot(id).is_some_and(|s| s.vad.talking() && !s.muted)
    }

    /// Whether `id` was one of the talkers in the last tick's mix.
    pub fn in_mix(&self, id: ParticipantId) -> bool {
        self.slot(id).is_some_and(|s| s.mixed)
    }

    pub fn is_muted(&self, id: ParticipantId) -> bool {
        self.slot(id).is_some_and(|s| s.muted)
    }

    pub fn format(&self, id: ParticipantId) -> Option<Format> {
        self.slot(id).map(|s| s.format)
    }

    /// The level of `id`'s last frame in dBFS (muted or not), [`MIN_LEVEL_DBFS`] for silence
    /// or an unknown participant.
    pub fn level_dbfs(&self, id: ParticipantId) -> f32 {
        self.slot(id).map_or(MIN_LEVEL_DBFS, |s| s.vad.level_dbfs())
    }

    /// The full mix at `rate` of the last tick (every talker, for a recording), if that rate
    /// was mixed.
    pub fn mix(&self, rate: SampleRate) -> Option<&[i16]> {
        self.buses
            .iter()
            .find(|b| b.rate == rate && b.mixed)
            .map(|b| &b.mix[..])
    }

    /// Participants present.
    pub fn len(&self) -> usize {
        self.present
    }

    pub fn is_empty(&self) -> bool {
        self.present == 0
    }

    pub fn config(&self) -> &MixerConfig {
        &self.config
    }

    pub fn stats(&self) -> MixerStats {
        self.stats
    }

    fn slot(&self, id: ParticipantId) -> Option<&Slot> {
        let place = *self.index.get(&id)?;
        self.slots[place].as_ref().filter(|s| s.id == id)
    }

    fn slot_mut(&mut self, id: ParticipantId) -> Option<&mut Slot> {
        let place = *self.index.get(&id)?;
        self.slots[place].as_mut().filter(|s| s.id == id)
    }

    /// The bus of `rate`, made (with its resamplers to and from every other bus) if new.
    fn bus_of(&mut self, rate: SampleRate) -> usize {
        if let Some(b) = self.buses.iter().position(|b| b.rate == rate) {
            return b;
        }
        let new = self.buses.len();
        self.chain.add_bus((new, rate), &self.buses);
        self.buses.push(Bus::new(rate));
        new
    }
}

impl Bus {
    fn new(rate: SampleRate) -> Bus {
        Bus {
            rate,
            listeners: 0,
            held: false,
            mixed: false,
            own: vec![0; rate.frame_samples()],
            own_live: false,
            up: vec![0; rate.frame_samples()],
            up_live: false,
            down: vec![0; rate.frame_samples()],
            down_live: false,
            sum: vec![0; rate.frame_samples()],
            mix: vec![0; rate.frame_samples()],
            tone: None,
            tone_frame: vec![0; rate.frame_samples()],
        }
    }

    /// `sum = own + up + down` of the parts that carry audio this tick, and `mix`, the sum
    /// saturated to 16 bits.
    fn sum_up(&mut self) {
        let parts = [
            (self.own_live, &self.own),
            (self.up_live, &self.up),
            (self.down_live, &self.down),
        ];
        let mut live = parts.iter().filter(|(live, _)| *live).map(|(_, p)| p);
        match live.next() {
            Some(first) => self.sum.copy_from_slice(first),
            None => self.sum.fill(0),
        }
        for part in live {
            for (s, &x) in self.sum.iter_mut().zip(part.iter()) {
                *s += x;
            }
        }
        if let Some(tone) = &mut self.tone {
            tone.generate(&mut self.tone_frame);
            add(&mut self.sum, &self.tone_frame);
            if tone.is_finished() {
                self.tone = None;
            }
        }
        for (m, &s) in self.mix.iter_mut().zip(&self.sum) {
            *m = saturate(s);
        }
    }
}

impl std::fmt::Debug for Mixer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mixer")
            .field("config", &self.config)
            .field("participants", &self.present)
            .field(
                "rates",
                &self.buses.iter().map(|b| b.rate).collect::<Vec<_>>(),
            )
            .field("stats", &self.stats)
            .finish()
    }
}

fn add(sum: &mut [i32], frame: &[i16]) {
    for (s, &x) in sum.iter_mut().zip(frame) {
        *s += i32::from(x);
    }
}

fn saturate(x: i32) -> i16 {
    x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}
