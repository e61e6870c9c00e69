//! The seeded schedule of a scenario: which [`Action`] happens when.
//!
//! Open-loop behaviours (`rate`) arrive as a Poisson process whose rate follows the phases:
//! rate × level, the level being the phase's `factor` (growing linearly to `ramp_to` over the
//! phase) and moving linearly from the previous phase's level over the behaviour's
//! `ramp_secs`. Arrivals come from thinning (Lewis and Shedler) with one bound per phase.
//! Registered devices refresh evenly spread: the devices registered before the first phase
//! refresh at `interval × (j + 1) / devices` (interval = `refresh` × expires), one device after
//! another, so the refresh load is flat. Offline users brought online
//! (`include_offline_from_phase`) register spread over `include_offline_secs` from that
//! phase's start, then refresh the same way. The schedule never unregisters.
//!
//! Conference participants (`behaviours.conferences`) follow their own timing: participant
//! slot k (room `k % rooms`, place `k / rooms`, so the rooms fill side by side) first dials
//! at `join × k / slots` from the start of the first phase that runs conferences, stays its
//! hold time (drawn in order of the joins, or to the end of the run), and dials again when it
//! has hung up, unless the run is over (a phase without conferences puts it off to the next
//! phase with them). Phase factors do not scale conferences. Voicemail callers
//! (`behaviours.voicemail`) are timed the same way (first calls spread over `join`, the next
//! a second after hanging up), but only while a call of the longest hold still fits in the
//! run, so no message is cut by its end.
//!
//! Closed-loop behaviours (`concurrency`) are not timed here: the runner keeps
//! [`Schedule::concurrency_at`] of them in flight and takes each new one from
//! [`Schedule::next_closed`].
//!
//! Every stream (each behaviour's arrivals, each behaviour's choices, each closed loop) has its
//! own generator seeded from the scenario's seed, so the same file and seed give the same
//! actions, and a closed loop's actions do not depend on when the runner asks for them. No
//! clock: times are offsets from the start of the run.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use switchboard_engine::entropy::Entropy;

use super::scenario::{Behaviour, Drive, Phase, Scenario};
use super::{Action, CallPlan, Kind, User};

/// The actions of one run of a scenario, in time order.
#[derive(Debug, Clone)]
pub struct Schedule {
    sc: Scenario,
    /// Phase boundaries in seconds: phase i is `ends[i-1]..ends[i]`.
    ends: Vec<f64>,
    streams: Vec<Stream>,
    cursors: Vec<Cursor>,
    heap: BinaryHeap<Reverse<(u64, u64, Source)>>,
    seq: u64,
    closed: Vec<(Kind, Entropy)>,
    /// When the offline users count as online (all registered), if ever.
    online_from: Option<f64>,
    /// Hold times of conference participants, drawn in order of their joins.
    conference_holds: Entropy,
    /// Hold times of voicemail calls, drawn in order of the calls.
    voicemail_holds: Entropy,
}

/// The kinds of open-loop streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Stream(usize),
    Cursor(usize),
    /// Conference participant slot k dials.
    Conference(u32),
    /// Voicemail caller k calls its mailbox.
    Voicemail(u32),
}

#[derive(Debug, Clone)]
struct Stream {
    kind: Kind,
    behaviour: Behaviour,
    rate: f64,
    ramp: f64,
    timing: Entropy,
    choices: Entropy,
}

/// Registrations on a fixed grid: the j-th is device `first_device + j % devices` at
/// `start + (j % devices) × step + (j / devices) × period`; at most `limit` of them.
#[derive(Debug, Clone)]
struct Cursor {
    start: f64,
    step: f64,
    period: f64,
    first_device: u64,
    devices: u64,
    limit: u64,
    j: u64,
}

impl Schedule {
    /// The schedule of `scenario` under its seed.
    pub fn new(scenario: &Scenario) -> Schedule {
        let sc = scenario.clone();
        let mut ends = Vec::with_capacity(sc.phases.len());
        let mut t = 0.0;
        for p in &sc.phases {
            t += p.duration.as_secs_f64();
            ends.push(t);
        }
        let seed = sc.seed;
        let mut streams = Vec::new();
        let mut closed = Vec::new();
        let b = &sc.behaviours;
        let entries = [
            (Behaviour::Register, Kind::Register),
            (Behaviour::Call, Kind::Call),
            (Behaviour::Message, Kind::Message),
            (Behaviour::Presence, Kind::Subscribe),
            (Behaviour::Room, Kind::RoomPost),
        ];
        for (salt, (behaviour, kind)) in (1u64..).zip(entries) {
            let Some(load) = b.load(behaviour) else {
                continue;
            };
            match load.drive {
                Drive::Rate(rate) => streams.push(Stream {
                    kind,
                    behaviour,
                    rate,
                    ramp: load.ramp.as_secs_f64(),
                    timing: stream_rng(seed, salt),
                    choices: stream_rng(seed, salt + 100),
                }),
                Drive::Concurrency(_) => closed.push((kind, stream_rng(seed, salt + 200))),
            }
        }
        if let Some(p) = &b.presence {
            if p.publish_rate > 0.0 {
                streams.push(Stream {
                    kind: Kind::Publish,
                    behaviour: Behaviour::Presence,
                    rate: p.publish_rate,
                    ramp: p.load.ramp.as_secs_f64(),
                    timing: stream_rng(seed, 50),
                    choices: stream_rng(seed, 150),
                });
            }
        }
        let pop = &sc.population;
        let period = pop.refresh_interval().as_secs_f64();
        let devices = u64::from(pop.devices);
        let mut cursors = Vec::new();
        if pop.register_first {
            let n = u64::from(pop.online_users()) * devices;
            let step = period / n as f64;
            cursors.push(Cursor::new(step, step, period, 0, n, u64::MAX));
        }
        let mut online_from = None;
        let bring = b.register.as_ref().and_then(|r| {
            let i = r.include_offline_from_phase?;
            let start = if i == 0 { 0.0 } else { ends[i - 1] };
            Some((start, r.include_offline_spread.as_secs_f64().min(period)))
        });
        if let Some((start, spread)) = bring {
            let first = u64::from(pop.online_users()) * devices;
            let m = u64::from(pop.offline_users) * devices;
            let step = spread / m as f64;
            cursors.push(Cursor::new(start, step, f64::INFINITY, first, m, m));
            cursors.push(Cursor::new(
                start + period,
                step,
                period,
                first,
                m,
                u64::MAX,
            ));
            online_from = Some(start + spread);
        }
        let mut s = Schedule {
            sc,
            ends,
            streams,
            cursors,
            heap: BinaryHeap::new(),
            seq: 0,
            closed,
            online_from,
            conference_holds: stream_rng(seed, 60),
            voicemail_holds: stream_rng(seed, 70),
        };
        for i in 0..s.streams.len() {
            if let Some(t) = s.arrival(i, 0.0) {
                s.push(t, Source::Stream(i));
            }
        }
        for i in 0..s.cursors.len() {
            if let Some(t) = s.cursors[i].time() {
                s.push(t, Source::Cursor(i));
            }
        }
        s.queue_conferences();
        s.queue_voicemail();
        s
    }

    /// The scenario scheduled.
    pub fn scenario(&self) -> &Scenario {
        &self.sc
    }

    /// Registrations before the first phase (every device of every online user, when
    /// `register_first`); room joins are the runner's ([`Scenario::room_members`]).
    pub fn initial(&self) -> Vec<Action> {
        let pop = &self.sc.population;
        if !pop.register_first {
            return Vec::new();
        }
        (0..pop.online_users())
            .flat_map(|user| (0..pop.devices).map(move |device| Action::Register { user, device }))
            .collect()
    }

    /// The length of the run: the sum of the phases.
    pub fn duration(&self) -> Duration {
        self.sc.duration()
    }

    /// The phase running at `t` (and its index); `None` from the end of the run.
    pub fn phase_at(&self, t: Duration) -> Option<(usize, &Phase)> {
        let i = self.phase_index(t.as_secs_f64())?;
        Some((i, &self.sc.phases[i]))
    }

    /// The next action of the closed-loop behaviour recorded under `kind` (`register`, `call`,
    /// `message`, `subscribe`, `room_post`), from its own seeded stream: the n-th call gives the
    /// same action whenever it is made. `None` if that behaviour is not a closed loop. Closed
    /// loops see the population as at the start (offline users stay offline).
    pub fn next_closed(&mut self, kind: Kind) -> Option<Action> {
        let online = self.sc.population.online_users();
        let i = self.closed.iter().position(|(k, _)| *k == kind)?;
        let mut rng = self.closed[i].1.clone();
        let action = draw(&self.sc, kind, &mut rng, online);
        self.closed[i].1 = rng;
        Some(action)
    }

    /// How many actions of the closed-loop behaviour under `kind` should be in flight at `t`:
    /// its concurrency × the level at `t`, rounded; 0 when it is not a closed loop.
    pub fn concurrency_at(&self, kind: Kind, t: Duration) -> u32 {
        let Some(b) = behaviour_of(kind) else {
            return 0;
        };
        let Some(load) = self.sc.behaviours.load(b) else {
            return 0;
        };
        let Drive::Concurrency(c) = load.drive else {
            return 0;
        };
        let level = self.level(b, load.ramp.as_secs_f64(), t.as_secs_f64());
        (f64::from(c) * level).round() as u32
    }

    /// The level (multiplier of the rate or concurrency) of behaviour `b` at `t`.
    pub fn level_at(&self, b: Behaviour, t: Duration) -> f64 {
        let ramp = self
            .sc
            .behaviours
            .load(b)
            .map_or(0.0, |l| l.ramp.as_secs_f64());
        self.level(b, ramp, t.as_secs_f64())
    }

    /// Queues `source` at `t`, unless the run is over by then.
    fn push(&mut self, t: f64, source: Source) {
        if t >= self.ends.last().copied().unwrap_or(0.0) {
            return;
        }
        self.seq += 1;
        let nanos = (t * 1e9).round() as u64;
        self.heap.push(Reverse((nanos, self.seq, source)));
    }

    fn phase_index(&self, t: f64) -> Option<usize> {
        if t < 0.0 {
            return None;
        }
        self.ends.iter().position(|&end| t < end)
    }

    fn start(&self, i: usize) -> f64 {
        if i == 0 {
            0.0
        } else {
            self.ends[i - 1]
        }
    }

    /// Phase i's own level of `b`, `tau` seconds into it.
    fn own(&self, b: Behaviour, i: usize, tau: f64) -> f64 {
        let p = &self.sc.phases[i];
        if !p.runs(b) {
            return 0.0;
        }
        let to = p.ramp_to.unwrap_or(p.factor);
        p.factor + (to - p.factor) * (tau / p.duration.as_secs_f64()).min(1.0)
    }

    fn previous_level(&self, b: Behaviour, i: usize) -> f64 {
        if i == 0 {
            0.0
        } else {
            self.own(b, i - 1, self.sc.phases[i - 1].duration.as_secs_f64())
        }
    }

    fn level(&self, b: Behaviour, ramp: f64, t: f64) -> f64 {
        let Some(i) = self.phase_index(t) else {
            return 0.0;
        };
        let tau = t - self.start(i);
        let own = self.own(b, i, tau);
        let prev = self.previous_level(b, i);
        if ramp > 0.0 && tau < ramp && (prev - self.own(b, i, 0.0)).abs() > 1e-12 {
            prev + (own - prev) * tau / ramp
        } else {
            own
        }
    }

    /// The largest level of `b` in phase i: the level is linear pieces between these.
    fn bound(&self, b: Behaviour, i: usize) -> f64 {
        let p = &self.sc.phases[i];
        if !p.runs(b) && self.previous_level(b, i) == 0.0 {
            return 0.0;
        }
        let own = p.factor.max(p.ramp_to.unwrap_or(0.0));
        own.max(self.previous_level(b, i))
    }

    /// The first arrival of stream i after `t`, by thinning with the phase's bound.
    fn arrival(&mut self, i: usize, mut t: f64) -> Option<f64> {
        loop {
            let phase = self.phase_index(t)?;
            let end = self.ends[phase];
            let (b, rate, ramp) = {
                let s = &self.streams[i];
                (s.behaviour, s.rate, s.ramp)
            };
            let bound = rate * self.bound(b, phase);
            if bound <= 0.0 {
                t = end;
                continue;
            }
            let s = &mut self.streams[i];
            let candidate = t + exponential(&mut s.timing) / bound;
            let accept = unit(&mut s.timing) * bound;
            if candidate >= end {
                t = end;
                continue;
            }
            if accept < rate * self.level(b, ramp, candidate) {
                return Some(candidate);
            }
            t = candidate;
        }
    }

    /// Users `0..n` are online at `t`.
    fn online_at(&self, t: f64) -> u32 {
        let pop = &self.sc.population;
        match self.online_from {
            Some(from) if t >= from => pop.count,
            _ => pop.online_users(),
        }
    }

    fn draw_open(&mut self, i: usize, online: u32) -> Action {
        let kind = self.streams[i].kind;
        let mut rng = self.streams[i].choices.clone();
        let action = draw(&self.sc, kind, &mut rng, online);
        self.streams[i].choices = rng;
        action
    }
}

/// The open-loop actions and their offsets from the start of the run, in time order.
impl Iterator for Schedule {
    type Item = (Duration, Action);

    /// The next open-loop action and its offset from the start of the run; `None` once the run
    /// is over. Offsets never decrease.
    fn next(&mut self) -> Option<(Duration, Action)> {
        let Reverse((nanos, _, source)) = self.heap.pop()?;
        let t = nanos as f64 / 1e9;
        let action = match source {
            Source::Stream(i) => {
                let online = self.online_at(t);
                let action = self.draw_open(i, online);
                if let Some(next) = self.arrival(i, t) {
                    self.push(next, source);
                }
                action
            }
            Source::Cursor(i) => {
                let index = self.cursors[i].device();
                self.cursors[i].j += 1;
                if let Some(next) = self.cursors[i].time() {
                    self.push(next, source);
                }
                let devices = u64::from(self.sc.population.devices);
                Action::Register {
                    // index < count × devices: both fit u32
                    user: (index / devices) as User,
                    device: (index % devices) as u32,
                }
            }
            Source::Conference(k) => self.conference(k, t),
            Source::Voicemail(k) => self.voicemail(k, t),
        };
        Some((Duration::from_nanos(nanos), action))
    }
}

impl Cursor {
    fn new(start: f64, step: f64, period: f64, first: u64, devices: u64, limit: u64) -> Cursor {
        Cursor {
            start,
            step,
            period,
            first_device: first,
            devices,
            limit,
            j: 0,
        }
    }

    /// When the next registration is, if any.
    fn time(&self) -> Option<f64> {
        if self.devices == 0 || self.j >= self.limit {
            return None;
        }
        let round = self.j / self.devices;
        let mut t = self.start + (self.j % self.devices) as f64 * self.step;
        if round > 0 {
            t += round as f64 * self.period;
        }
        t.is_finite().then_some(t)
    }

    /// The device index (user × devices + device) of the next registration.
    fn device(&self) -> u64 {
        self.first_device + self.j % self.devices
    }
}

/// The behaviour whose actions are recorded under `kind`.
fn behaviour_of(kind: Kind) -> Option<Behaviour> {
    match kind {
        Kind::Register => Some(Behaviour::Register),
        Kind::Call => Some(Behaviour::Call),
        Kind::Message => Some(Behaviour::Message),
        Kind::Subscribe | Kind::Publish => Some(Behaviour::Presence),
        Kind::RoomPost => Some(Behaviour::Room),
        Kind::Conference => Some(Behaviour::Conferences),
        Kind::Voicemail => Some(Behaviour::Voicemail),
        Kind::Bye | Kind::Notify => None,
    }
}

/// One action of `kind` with users `0..online` online (validation made sure the behaviours
/// have the users they need).
fn draw(sc: &Scenario, kind: Kind, rng: &mut Entropy, online: u32) -> Action {
    let b = &sc.behaviours;
    let pop = &sc.population;
    match kind {
        Kind::Call => {
            // present: kind comes from a stream of this behaviour
            let c = b.call.as_ref().expect("call stream without call behaviour");
            let (caller, callee) = two_users(rng, online);
            let u = unit(rng);
            let ring = between(rng, c.ring.min, c.ring.max);
            let plan = if u < c.answer {
                CallPlan::Answer {
                    ring,
                    hold: between(rng, c.hold.min, c.hold.max),
                    callee_hangs_up: unit(rng) < c.callee_hangs_up,
                }
            } else if u < c.answer + c.busy {
                CallPlan::Busy { ring }
            } else {
                CallPlan::NoAnswer { ring }
            };
            Action::Call {
                caller,
                callee,
                plan,
                rtp: c.rtp.then_some(c.media),
            }
        }
        Kind::Message => {
            let m = b
                .message
                .as_ref()
                .expect("message stream without message behaviour");
            let offline = pop.count - online;
            if offline > 0 && unit(rng) < m.offline_share {
                Action::Message {
                    from: below(rng, online),
                    to: online + below(rng, offline),
                    online: false,
                }
            } else {
                let (from, to) = two_users(rng, online);
                Action::Message {
                    from,
                    to,
                    online: true,
                }
            }
        }
        Kind::Subscribe => {
            let p = b
                .presence
                .as_ref()
                .expect("presence stream without presence behaviour");
            let watcher = below(rng, online);
            let k = below(rng, p.subscriptions);
            Action::Subscribe {
                watcher,
                presentity: ((u64::from(watcher) + 1 + u64::from(k)) % u64::from(online)) as User,
                expires: p.expires,
            }
        }
        Kind::Publish => Action::Publish {
            user: below(rng, online),
            variant: rng.next_u64() as u32,
        },
        Kind::RoomPost => {
            let r = b.room.as_ref().expect("room stream without room behaviour");
            let room = below(rng, r.rooms);
            let j = below(rng, r.members_per_room);
            let member = (u64::from(room) * u64::from(r.members_per_room) + u64::from(j))
                % u64::from(pop.online_users());
            Action::RoomPost {
                room,
                member: member as User,
            }
        }
        Kind::Register | Kind::Bye | Kind::Notify | Kind::Conference | Kind::Voicemail => {
            Action::Register {
                user: below(rng, online),
                device: below(rng, pop.devices),
            }
        }
    }
}

/// An independent generator per stream: splitmix64 of the seed and a salt.
fn stream_rng(seed: u64, salt: u64) -> Entropy {
    let mut z = seed.wrapping_add(salt.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    Entropy::seeded(z ^ (z >> 31))
}

/// Uniform in [0, 1).
fn unit(rng: &mut Entropy) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Exponential with mean 1.
fn exponential(rng: &mut Entropy) -> f64 {
    -(1.0 - unit(rng)).ln()
}

/// Uniform in `0..n` (`n` > 0).
fn below(rng: &mut Entropy, n: u32) -> u32 {
    ((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as u32
}

/// Two different users of `0..n` (`n` ≥ 2).
fn two_users(rng: &mut Entropy, n: u32) -> (User, User) {
    let a = below(rng, n);
    let b = below(rng, n - 1);
    (a, if b >= a { b + 1 } else { b })
}

fn between(rng: &mut Entropy, min: Duration, max: Duration) -> Duration {
    min + (max - min).mul_f64(unit(rng))
}

mod conference;
#[cfg(test)]
mod tests;
mod voicemail;
