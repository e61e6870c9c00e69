//! Choosing the best final response of a fork (RFC 3261 §16.7 step 6).
//!
//! 6xx beats everything; otherwise the lowest class wins. Within 4xx the responses a caller
//! can act on come first (401, 407, 415, 420, 484 as the RFC asks), then what a phone user
//! should hear (busy before unavailable before not found), and timeouts last.

/// Whether `candidate` is a better final response than `current`.
pub fn better(candidate: u16, current: u16) -> bool {
    rank(candidate) < rank(current)
}

/// Lower is better.
fn rank(code: u16) -> (u8, u8) {
    let class = match code / 100 {
        6 => 0,
        3 => 1,
        4 => 2,
        5 => 3,
        _ => 4,
    };
    let within = match code {
        401 | 407 => 0,
        415 | 420 | 484 => 1,
        486 | 600 => 2,
        603 => 3,
        480 => 4,
        404 | 604 => 5,
        403 => 6,
        487 => 8,
        408 => 9,
        503 => 9,
        _ => 7,
    };
    (class, within)
}

/// The code to send upstream for a best response `code` (§16.7 step 6: a 503 from a branch
/// becomes 500, so the caller does not treat this proxy as overloaded).
pub fn upstream_code(code: u16) -> u16 {
    if code == 503 {
        500
    } else {
        code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn best(codes: &[u16]) -> u16 {
        let mut b = codes[0];
        for &c in &codes[1..] {
            if better(c, b) {
                b = c;
            }
        }
        b
    }

    #[test]
    fn six_hundreds_win_over_everything_final() {
        assert_eq!(best(&[486, 603, 302]), 603);
    }

    #[test]
    fn lowest_class_wins_otherwise() {
        assert_eq!(best(&[503, 486, 302]), 302);
        assert_eq!(best(&[503, 404]), 404);
    }

    #[test]
    fn within_4xx_busy_beats_unavailable_beats_timeout() {
        assert_eq!(best(&[408, 480, 486]), 486);
        assert_eq!(best(&[408, 480]), 480);
        assert_eq!(best(&[487, 408]), 487);
        assert_eq!(best(&[486, 407]), 407);
    }

    #[test]
    fn a_503_goes_upstream_as_500() {
        assert_eq!(upstream_code(503), 500);
        assert_eq!(upstream_code(486), 486);
    }
}
