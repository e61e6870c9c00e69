//! The resamplers of a mixer: for each ordered pair of rates in use (buses), one resampler
//! per talker the mix may hold, handed from talker to talker.
//!
//! A talker keeps its resampler while it stays in the mix (the filter's history is its own
//! audio); a talker entering the mix takes a free one, reset, so nothing of the previous
//! talker comes out. There are `max_talkers` per pair and never more talkers than that, so a
//! talker always finds one. All are made when a rate first appears (setup); handing them
//! over allocates nothing.

use crate::media::resample::FrameResampler;
use crate::media::SampleRate;

/// Every pool of a mixer.
pub(super) struct Pools {
    pools: Vec<Pool>,
}

/// The resamplers from one bus's rate to another's.
struct Pool {
    from: usize,
    to: usize,
    units: Vec<Unit>,
}

struct Unit {
    /// The place of the talker this resampler serves.
    owner: Option<usize>,
    resampler: FrameResampler,
}

impl Pools {
    pub(super) fn new() -> Pools {
        Pools { pools: Vec::new() }
    }

    /// Makes the pools both ways between a new bus and each existing one, `per_pair`
    /// resamplers each.
    pub(super) fn add_bus(
        &mut self,
        new: (usize, SampleRate),
        existing: impl Iterator<Item = (usize, SampleRate)>,
        per_pair: usize,
    ) {
        let pool = |from: (usize, SampleRate), to: (usize, SampleRate)| Pool {
            from: from.0,
            to: to.0,
            units: (0..per_pair)
                .map(|_| Unit {
                    owner: None,
                    resampler: FrameResampler::new(from.1, to.1),
                })
                .collect(),
        };
        for other in existing {
            self.pools.push(pool(other, new));
            self.pools.push(pool(new, other));
        }
    }

    /// Frees the resamplers of place `place` (its participant left).
    pub(super) fn release(&mut self, place: usize) {
        self.release_unless(|owner, _| owner != place);
    }

    /// Frees every resampler whose `keep(owner place, target bus)` is false.
    pub(super) fn release_unless(&mut self, keep: impl Fn(usize, usize) -> bool) {
        for pool in &mut self.pools {
            for unit in &mut pool.units {
                if unit.owner.is_some_and(|o| !keep(o, pool.to)) {
                    unit.owner = None;
                }
            }
        }
    }

    /// Resamples talker `talker`'s frame from bus `from`'s rate to bus `to`'s into `out`;
    /// returns the samples written (`None` if there is no such pair, or every resampler of
    /// the pair serves another talker, which a mix within `max_talkers` never sees).
    pub(super) fn resample(
        &mut self,
        talker: usize,
        (from, to): (usize, usize),
        frame: &[i16],
        out: &mut [i16],
    ) -> Option<usize> {
        let pool = self
            .pools
            .iter_mut()
            .find(|p| p.from == from && p.to == to)?;
        let units = &mut pool.units;
        let at = match units.iter().position(|u| u.owner == Some(talker)) {
            Some(at) => at,
            None => {
                let at = units.iter().position(|u| u.owner.is_none())?;
                units[at].owner = Some(talker);
                units[at].resampler.reset();
                at
            }
        };
        Some(units[at].resampler.process(frame, out))
    }
}
