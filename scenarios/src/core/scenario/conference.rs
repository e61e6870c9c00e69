//! The conference part of a scenario: `[behaviours.conferences]` and the `conference_*`
//! thresholds (`scenarios/README.md`).

use std::time::Duration;

use switchboard_engine::media::Codec;

use super::build::{between_ms, need_users, secs, MAX_SECS};
use super::read::{Res, Tbl};
use super::{Behaviours, ConferencesB, Population, Thresholds};
use crate::core::conference::{MAX_TALKERS, PROBE_SETTLE};

/// `[behaviours.conferences]` of `behaviours`, if there: sizes checked against each other and
/// the population, codec shares summing to 1.
pub(super) fn behaviour(behaviours: &Tbl<'_>, pop: &Population) -> Res<Option<ConferencesB>> {
    let keys = [
        "rooms",
        "participants",
        "talkers",
        "codecs",
        "join_secs",
        "hold_ms",
        "probe",
        "probe_settle_ms",
    ];
    let Some(t) = behaviours.table("conferences", &keys)? else {
        return Ok(None);
    };
    let t = &t;
    let rooms = t.u32_in("rooms", 1, 10_000)?.unwrap_or(1);
    let participants = t.required("participants", t.u32_in("participants", 2, 1000)?)?;
    let talkers = t.u32_in("talkers", 0, MAX_TALKERS)?.unwrap_or(1);
    let probe = t.bool("probe")?.unwrap_or(false);
    let probe_settle = t
        .int_in("probe_settle_ms", 0, 60_000)?
        .map_or(PROBE_SETTLE, |ms| Duration::from_millis(ms as u64));
    if talkers > participants {
        let m = format!("{talkers} talkers but {participants} participants per room");
        return Err(t.err("talkers", m));
    }
    if probe && talkers == participants {
        let m = "the probe is a participant of its own: needs participants > talkers";
        return Err(t.err("probe", m));
    }
    need_users(
        t,
        Some("participants"),
        pop,
        u64::from(rooms) * u64::from(participants),
        &format!("{rooms} rooms of {participants}"),
    )?;
    let codecs = match t.table("codecs", &["PCMU", "PCMA", "G722"])? {
        None => vec![(Codec::Pcmu, 1.0)],
        Some(c) => {
            let mut shares = Vec::new();
            for name in c.keys() {
                // check_known let only these three through
                let codec = match name {
                    "PCMA" => Codec::Pcma,
                    "G722" => Codec::G722,
                    _ => Codec::Pcmu,
                };
                let share = c.f64_in(name, 0.0, 1.0)?.unwrap_or(0.0);
                shares.push((codec, share));
            }
            let sum: f64 = shares.iter().map(|(_, s)| s).sum();
            if (sum - 1.0).abs() > 1e-6 {
                return Err(t.err("codecs", format!("shares must sum to 1, found {sum}")));
            }
            shares
        }
    };
    let hold = match t.pair("hold_ms")? {
        None => None,
        Some(_) => {
            let h = between_ms(t, "hold_ms", [0, 0])?;
            if h.min < Duration::from_secs(1) {
                return Err(t.err("hold_ms", "at least 1000 ms: a participant must be heard"));
            }
            Some(h)
        }
    };
    Ok(Some(ConferencesB {
        rooms,
        participants,
        talkers,
        codecs,
        join: secs(t.f64_in("join_secs", 0.0, MAX_SECS)?.unwrap_or(1.0)),
        hold,
        probe,
        probe_settle,
    }))
}

/// The `conference_*` thresholds: only with `behaviours.conferences` (the delay only with its
/// probe).
pub(super) fn thresholds(t: &Tbl<'_>, b: &Behaviours, out: &mut Thresholds) -> Res<()> {
    out.conference_join_ratio = t.f64_in("conference_join_ratio", 0.0, 1.0)?;
    out.conference_loss_ratio = t.f64_in("conference_loss_ratio", 0.0, 1.0)?;
    out.conference_late_ratio = t.f64_in("conference_late_ratio", 0.0, 1.0)?;
    out.conference_heard_ratio = t.f64_in("conference_heard_ratio", 0.0, 1.0)?;
    out.conference_self_heard = t
        .int_in("conference_self_heard", 0, i64::MAX)?
        .map(|n| n as u64);
    out.conference_delay_p99 = t
        .f64_in("conference_delay_p99_ms", 0.0, MAX_SECS * 1000.0)?
        .map(|x| secs(x / 1000.0));
    for key in t
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("conference_"))
    {
        match &b.conferences {
            None => return Err(t.err(key, "needs behaviours.conferences")),
            Some(c) if key == "conference_delay_p99_ms" && !c.probe => {
                return Err(t.err(key, "needs behaviours.conferences.probe = true"));
            }
            Some(_) => {}
        }
    }
    Ok(())
}
