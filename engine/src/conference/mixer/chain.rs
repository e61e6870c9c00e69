//! How the talkers of each rate reach the buses of the other rates: a resampler per ordered
//! pair of rates, run on the sum of the talkers at a rate (resampling is linear: the sum of
//! the resampled frames is the resampled sum), and chained through the rates in use.
//!
//! The buses in use, by rate, form a ladder (8, 16, 48 kHz). Going up, each bus receives
//! from the bus just below it that bus's own talkers plus everything that bus received from
//! below; going down, likewise from the bus just above. A talker's audio so reaches every
//! other rate, through the rates between (8 kHz to 48 kHz by way of 16 kHz, both filters
//! flat over the narrower band), and never comes back to its own bus: what goes down only
//! ever came from above, what goes up only from below, so each talker's N-1 mix is still its
//! bus minus its own frame. Three rates take four resamplings a tick however many talk (the
//! six direct pairs would take six, two of them 8 <-> 48 kHz, as dear as any), two rates two.
//!
//! A resampler whose input is silent (no talker at or beyond its source rate) runs once more
//! to let its filter's tail out, then rests; one between rates that are no longer next to each
//! other in use (the rate between came back, or the last participant of a rate left) forgets
//! what it held. All are made when a rate first appears (setup); a tick allocates nothing.

use super::{Bus, MixerStats};
use crate::media::resample::FrameResampler;
use crate::media::SampleRate;

/// Every resampler of a mixer, and the buses in order of rate.
pub(super) struct Chain {
    links: Vec<Link>,
    /// Bus indices, lowest rate first.
    order: Vec<usize>,
    /// One frame of room for a link's input: the source bus's talkers and what it received.
    input: Vec<i32>,
}

/// The resampler from one bus's rate to another's.
struct Link {
    from: usize,
    to: usize,
    resampler: FrameResampler,
    /// Part of this tick's chain.
    used: bool,
}

/// Which way a pass of the chain goes.
#[derive(Copy, Clone)]
enum Way {
    Up,
    Down,
}

impl Chain {
    pub(super) fn new() -> Chain {
        Chain {
            links: Vec::new(),
            order: Vec::new(),
            input: vec![0; crate::media::MAX_FRAME_SAMPLES],
        }
    }

    /// Makes the resamplers both ways between a new bus and each existing one, and puts the
    /// bus in its place in the ladder.
    pub(super) fn add_bus(&mut self, new: (usize, SampleRate), buses: &[Bus]) {
        for (other, bus) in buses.iter().enumerate() {
            for (from, to) in [(other, new.0), (new.0, other)] {
                let rate = |b| if b == new.0 { new.1 } else { bus.rate };
                self.links.push(Link {
                    from,
                    to,
                    resampler: FrameResampler::new(rate(from), rate(to)),
                    used: false,
                });
            }
        }
        let at = self
            .order
            .partition_point(|&b| buses.get(b).is_some_and(|b| b.rate < new.1));
        self.order.insert(at, new.0);
    }

    /// Fills each mixed bus's `up` and `down` frames (and their `*_live` flags) from the
    /// buses' `own` frames: the up pass, then the down pass.
    pub(super) fn run(&mut self, buses: &mut [Bus], stats: &mut MixerStats) {
        for link in &mut self.links {
            link.used = false;
        }
        self.pass(buses, Way::Up, stats);
        self.pass(buses, Way::Down, stats);
        // a pair no longer next to each other in the ladder starts afresh when it is again
        for link in self.links.iter_mut().filter(|l| !l.used) {
            link.resampler.reset();
        }
    }

    fn pass(&mut self, buses: &mut [Bus], way: Way, stats: &mut MixerStats) {
        let mut previous: Option<usize> = None;
        let len = self.order.len();
        for k in 0..len {
            let to = match way {
                Way::Up => self.order[k],
                Way::Down => self.order[len - 1 - k],
            };
            if !buses[to].mixed {
                continue;
            }
            let Some(from) = previous.replace(to) else {
                // the first bus of the pass receives nothing this way
                buses[to].set_received(way, false);
                continue;
            };
            let Some(link) = self.links.iter_mut().find(|l| l.from == from && l.to == to) else {
                // every pair of buses has its link (add_bus)
                continue;
            };
            link.used = true;
            let source = &buses[from];
            let (received, received_live) = source.received(way);
            let live = source.own_live || received_live;
            if !live && link.resampler.is_quiet() {
                buses[to].set_received(way, false);
                continue;
            }
            let n = source.rate.frame_samples();
            let input = &mut self.input[..n];
            match (source.own_live, received_live) {
                (true, true) => {
                    for ((i, &o), &r) in input.iter_mut().zip(&source.own).zip(received) {
                        *i = o + r;
                    }
                }
                (true, false) => input.copy_from_slice(&source.own),
                (false, true) => input.copy_from_slice(received),
                (false, false) => input.fill(0),
            }
            let target = &mut buses[to];
            link.resampler.process_wide(input, target.received_mut(way));
            target.set_received(way, true);
            stats.resampled_frames += 1;
        }
    }
}

impl Bus {
    fn received(&self, way: Way) -> (&[i32], bool) {
        match way {
            Way::Up => (&self.up, self.up_live),
            Way::Down => (&self.down, self.down_live),
        }
    }

    fn received_mut(&mut self, way: Way) -> &mut [i32] {
        match way {
            Way::Up => &mut self.up,
            Way::Down => &mut self.down,
        }
    }

    fn set_received(&mut self, way: Way, live: bool) {
        match way {
            Way::Up => self.up_live = live,
            Way::Down => self.down_live = live,
        }
    }
}
