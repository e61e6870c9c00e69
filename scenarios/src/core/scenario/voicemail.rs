//! The voicemail part of a scenario: `[behaviours.voicemail]` (`scenarios/README.md`).

use std::time::Duration;

use super::build::{between_ms, need_users, secs, MAX_SECS};
use super::read::{Res, Tbl};
use super::{Population, VoicemailB};

/// `[behaviours.voicemail]` of `behaviours`, if there: a caller (an online user) and a mailbox
/// (an offline user, never registered) for each of `callers`, and a hold long enough for a
/// message to be kept. `offline_come_online`: the file brings the offline users online
/// (`include_offline_from_phase`), and then their phones, not their mailboxes, would answer.
pub(super) fn behaviour(
    behaviours: &Tbl<'_>,
    pop: &Population,
    offline_come_online: bool,
) -> Res<Option<VoicemailB>> {
    let Some(t) = behaviours.table("voicemail", &["callers", "join_secs", "hold_ms"])? else {
        return Ok(None);
    };
    let t = &t;
    let callers = t.required("callers", t.u32_in("callers", 1, 100_000)?)?;
    need_users(t, Some("callers"), pop, callers.into(), "callers")?;
    if pop.offline_users < callers {
        let m = format!(
            "{callers} callers need as many mailboxes: population.offline_users is {}",
            pop.offline_users
        );
        return Err(t.err("callers", m));
    }
    if offline_come_online {
        let m = "the mailboxes are the offline users, who must stay unregistered: \
                 not with behaviours.register.include_offline_from_phase";
        return Err(t.err("callers", m));
    }
    let hold = between_ms(t, "hold_ms", [20_000, 30_000])?;
    if hold.min < Duration::from_secs(2) {
        let m = "at least 2000 ms: the greeting and a message of a second or more";
        return Err(t.err("hold_ms", m));
    }
    Ok(Some(VoicemailB {
        callers,
        join: secs(t.f64_in("join_secs", 0.0, MAX_SECS)?.unwrap_or(1.0)),
        hold,
    }))
}
