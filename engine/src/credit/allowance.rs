//! How long a balance lasts under a rate: the largest talked time, on the rate's increment
//! boundaries, whose price (`Rate::price`, connection fee included, rounded up once to the
//! minor unit) fits in the balance.
//!
//! Exact integer arithmetic, no search: the price of `b` billed seconds is
//! `ceil((connection * 60 + per_minute * b) / (60 * FIXED_PER_MINOR))` minor units, and
//! `ceil(x / d) <= a` holds exactly when `x <= a * d`, so the largest `b` is a division; it is
//! then brought down to the last increment boundary (`first`, `first + k * next`).

use crate::tariff::{Rate, FIXED_PER_MINOR};

/// The longest allowance given at once (a day): a free destination does not make a prepaid
/// call endless.
pub const MAX_ALLOWANCE_SECS: u32 = 86_400;

/// The talked seconds `available` minor units pay for at `rate`: a whole number of
/// increments (the first one, then `next` ones), or `None` when even the first increment
/// (connection fee included) costs more than `available`.
pub fn talk_allowance(rate: &Rate, available: i64) -> Option<u32> {
    let first = rate.increments.first_secs.max(1);
    let next = rate.increments.next_secs.max(1);
    if available < 0 {
        return None;
    }
    // in 1/60 of a Fixed unit, as Rate::price counts
    let budget = i128::from(available) * 60 * i128::from(FIXED_PER_MINOR)
        - i128::from(rate.connection.0) * 60;
    let per_sec = i128::from(rate.per_minute.0);
    if budget < per_sec * i128::from(first) {
        return None;
    }
    if per_sec == 0 {
        return Some(MAX_ALLOWANCE_SECS.max(first));
    }
    let most = budget / per_sec;
    let steps = (most - i128::from(first)) / i128::from(next);
    let secs = i128::from(first) + steps * i128::from(next);
    let cap = i128::from(MAX_ALLOWANCE_SECS.max(first));
    if secs <= cap {
        return Some(secs as u32);
    }
    // the cap itself, brought down to a boundary
    let steps = (cap - i128::from(first)) / i128::from(next);
    Some((i128::from(first) + steps * i128::from(next)) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tariff::{Fixed, Increments};

    fn rate(per_minute: u64, connection: u64, first: u32, next: u32) -> Rate {
        Rate {
            per_minute: Fixed(per_minute),
            connection: Fixed(connection),
            increments: Increments {
                first_secs: first,
                next_secs: next,
            },
            currency: "EUR".into(),
        }
    }

    /// The answer by walking the boundaries one by one.
    fn by_walking(r: &Rate, available: i64) -> Option<u32> {
        let (first, next) = (r.increments.first_secs, r.increments.next_secs);
        let mut best = None;
        let mut b = first;
        while b <= MAX_ALLOWANCE_SECS && r.price(b).amount_minor <= available {
            best = Some(b);
            b += next;
        }
        best
    }

    #[test]
    fn sixty_sixty_lasts_whole_minutes_after_the_connection_fee() {
        // 10 cents a minute, 5 cents to connect
        let r = rate(100_000, 50_000, 60, 60);
        assert_eq!(talk_allowance(&r, 14), None, "the first minute costs 15");
        assert_eq!(talk_allowance(&r, 15), Some(60));
        assert_eq!(talk_allowance(&r, 24), Some(60));
        assert_eq!(talk_allowance(&r, 25), Some(120));
        assert_eq!(talk_allowance(&r, 105), Some(600));
    }

    #[test]
    fn thirty_six_lasts_a_half_minute_then_six_seconds_at_a_time() {
        // 12 cents a minute (0.2 a second), 1 cent to connect
        let r = rate(120_000, 10_000, 30, 6);
        assert_eq!(r.price(30).amount_minor, 7);
        assert_eq!(talk_allowance(&r, 6), None);
        assert_eq!(talk_allowance(&r, 7), Some(30));
        // 36 s cost 1 + 7.2 = 8.2, up to 9: 8 cents still pay only 30 s
        assert_eq!(talk_allowance(&r, 8), Some(30));
        assert_eq!(talk_allowance(&r, 9), Some(36));
        assert_eq!(talk_allowance(&r, 10), Some(42), "42 s cost 9.4, up to 10");
    }

    #[test]
    fn one_one_lasts_every_second_the_balance_pays() {
        // 60 cents a minute (1 a second), 2 cents to connect
        let r = rate(600_000, 20_000, 1, 1);
        assert_eq!(talk_allowance(&r, 2), None);
        assert_eq!(talk_allowance(&r, 3), Some(1));
        assert_eq!(talk_allowance(&r, 4), Some(2));
        assert_eq!(talk_allowance(&r, 62), Some(60));
        assert_eq!(
            talk_allowance(&r, -5),
            None,
            "an overdrawn balance pays nothing"
        );
    }

    #[test]
    fn a_balance_equal_to_a_price_pays_that_time_exactly() {
        for r in [
            rate(100_000, 50_000, 60, 60),
            rate(120_000, 10_000, 30, 6),
            rate(600_000, 20_000, 1, 1),
            rate(15_000, 5_000, 1, 1),
        ] {
            for secs in [
                r.increments.first_secs,
                r.increments.first_secs + r.increments.next_secs * 7,
            ] {
                let price = r.price(secs).amount_minor;
                let lasts = talk_allowance(&r, price).unwrap();
                assert!(lasts >= secs, "{r:?}: {price} pays {secs} s, got {lasts}");
                assert_eq!(
                    r.price(lasts).amount_minor,
                    price,
                    "the longest time at that price"
                );
                let less = talk_allowance(&r, price - 1);
                assert!(
                    less.is_none_or(|l| l < secs),
                    "one cent less pays less time"
                );
            }
        }
    }

    #[test]
    fn the_division_agrees_with_walking_the_increments() {
        let rates = [
            rate(100_000, 50_000, 60, 60),
            rate(120_000, 10_000, 30, 6),
            rate(600_000, 20_000, 1, 1),
            rate(7_500, 0, 1, 1),
            rate(15_000, 5_000, 1, 1),
            rate(85_000, 5_000, 30, 6),
        ];
        for r in &rates {
            for available in (-3..300).chain([999, 1_000, 1_001]) {
                assert_eq!(
                    talk_allowance(r, available),
                    by_walking(r, available),
                    "{r:?} with {available}"
                );
            }
        }
    }

    #[test]
    fn a_free_destination_lasts_the_longest_allowance() {
        let r = rate(0, 0, 60, 60);
        assert_eq!(talk_allowance(&r, 0), Some(MAX_ALLOWANCE_SECS));
        let r = rate(0, 30_000, 60, 60);
        assert_eq!(talk_allowance(&r, 2), None, "the fee alone is 3 cents");
        let r = rate(1, 0, 60, 60);
        assert_eq!(talk_allowance(&r, i64::MAX / 2), Some(MAX_ALLOWANCE_SECS));
    }
}
