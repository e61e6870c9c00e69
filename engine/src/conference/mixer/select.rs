//! Which talkers go into the mix: at most `max` of those talking, the loudest, with
//! hysteresis.
//!
//! The set changes as little as it can: a talker stays while it talks; a free place goes to
//! the loudest talker outside; a talker outside replaces the quietest one inside only when it
//! is [`HYSTERESIS`] louder (so two talkers of about the same level do not swap places every
//! few frames). Ties go to the lower place, so the choice is deterministic. Allocates nothing
//! (`mixed` never grows past `max`, the capacity it was made with).

/// How much louder (in smoothed power) a talker outside the mix must be to replace the
/// quietest one inside: 4 times, 6 dB.
pub(super) const HYSTERESIS: f32 = 4.0;

/// Updates `mixed` (places in the mix) among places `0..places`; `loudness(i)` is the smoothed
/// power of place `i` if it talks, `None` if it does not (silent, muted or empty).
pub(super) fn choose(
    mixed: &mut Vec<usize>,
    max: usize,
    places: usize,
    loudness: impl Fn(usize) -> Option<f32>,
) {
    mixed.retain(|&i| loudness(i).is_some());
    mixed.truncate(max);
    let loudest_outside = |mixed: &[usize]| {
        let mut best: Option<(usize, f32)> = None;
        for i in (0..places).filter(|i| !mixed.contains(i)) {
            if let Some(l) = loudness(i) {
                if best.is_none_or(|(_, b)| l > b) {
                    best = Some((i, l));
                }
            }
        }
        best
    };
    while mixed.len() < max {
        match loudest_outside(mixed) {
            Some((i, _)) => mixed.push(i),
            None => return,
        }
    }
    // each swap raises the quietest talker inside, so this ends within `max` rounds
    for _ in 0..max {
        let Some((challenger, level)) = loudest_outside(mixed) else {
            return;
        };
        let Some((k, quietest)) = mixed
            .iter()
            .enumerate()
            .filter_map(|(k, &i)| Some((k, loudness(i)?)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
        else {
            return;
        };
        if level > quietest * HYSTERESIS {
            mixed[k] = challenger;
        } else {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(mixed: &mut Vec<usize>, max: usize, levels: &[Option<f32>]) -> Vec<usize> {
        choose(mixed, max, levels.len(), |i| levels[i]);
        let mut out = mixed.clone();
        out.sort();
        out
    }

    #[test]
    fn the_loudest_talkers_fill_the_mix_and_silent_ones_stay_out() {
        let mut mixed = Vec::with_capacity(3);
        let levels = [Some(1.0), None, Some(9.0), Some(5.0), Some(7.0), None];
        assert_eq!(run(&mut mixed, 3, &levels), [2, 3, 4]);
        // fewer talkers than places
        let mut mixed = Vec::with_capacity(3);
        assert_eq!(run(&mut mixed, 3, &[None, Some(1.0), None]), [1]);
        // no place at all
        let mut mixed = Vec::new();
        assert_eq!(run(&mut mixed, 0, &[Some(1.0)]), Vec::<usize>::new());
    }

    #[test]
    fn a_talker_in_the_mix_is_replaced_only_by_one_6_db_louder() {
        let mut mixed = Vec::with_capacity(2);
        assert_eq!(
            run(&mut mixed, 2, &[Some(10.0), Some(8.0), Some(3.0)]),
            [0, 1]
        );
        // place 2 gets louder than place 1, but by less than 6 dB: no change
        assert_eq!(
            run(&mut mixed, 2, &[Some(10.0), Some(8.0), Some(30.0)]),
            [0, 1]
        );
        // more than 6 dB above the quietest inside: it takes that place
        assert_eq!(
            run(&mut mixed, 2, &[Some(10.0), Some(8.0), Some(33.0)]),
            [0, 2]
        );
    }

    #[test]
    fn a_talker_who_stops_leaves_its_place_to_the_loudest_outside() {
        let mut mixed = Vec::with_capacity(2);
        run(
            &mut mixed,
            2,
            &[Some(10.0), Some(8.0), Some(3.0), Some(5.0)],
        );
        assert_eq!(
            run(&mut mixed, 2, &[Some(10.0), None, Some(3.0), Some(5.0)]),
            [0, 3]
        );
    }

    #[test]
    fn several_much_louder_talkers_replace_the_whole_mix() {
        let mut mixed = Vec::with_capacity(2);
        run(&mut mixed, 2, &[Some(1.0), Some(1.0), None, None]);
        assert_eq!(
            run(
                &mut mixed,
                2,
                &[Some(1.0), Some(1.0), Some(50.0), Some(60.0)]
            ),
            [2, 3]
        );
    }

    #[test]
    fn equal_levels_go_to_the_lower_place() {
        let mut mixed = Vec::with_capacity(1);
        assert_eq!(run(&mut mixed, 1, &[None, Some(2.0), Some(2.0)]), [1]);
    }

    #[test]
    fn the_mix_never_grows_past_its_capacity() {
        let mut mixed = Vec::with_capacity(3);
        let cap = mixed.capacity();
        for k in 0..50 {
            let levels: Vec<Option<f32>> = (0..10)
                .map(|i| ((i * 7 + k) % 4 != 0).then_some(((i * 13 + k * 5) % 17) as f32))
                .collect();
            run(&mut mixed, 3, &levels);
            assert!(mixed.len() <= 3);
            assert_eq!(mixed.capacity(), cap);
        }
    }
}
