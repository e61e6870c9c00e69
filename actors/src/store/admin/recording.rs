//! The "record my calls" setting of a subscriber, shown and changed from the CLI (stopped
//! switch), the control socket and the HTTP API (running switch, through the store actor).
//! Only accounts have it: a number without one is refused like any other account operation.

use switchboard_engine::numbering::{Aor, NumberingPlan};
use switchboard_engine::store::RecordingSettings;

use crate::store::admin::accounts::{canonical, AccountError};
use crate::store::Store;

fn subscriber(store: &Store, plan: &NumberingPlan, number: &str) -> Result<Aor, AccountError> {
    let aor = canonical(plan, number)?;
    if store.account(&aor)?.is_none() {
        return Err(AccountError::Missing(aor.to_string()));
    }
    Ok(aor)
}

/// Whether `number`'s calls are recorded.
pub fn show(
    store: &Store,
    plan: &NumberingPlan,
    number: &str,
) -> Result<(Aor, bool), AccountError> {
    let aor = subscriber(store, plan, number)?;
    let on = store.record_calls(&aor)?;
    Ok((aor, on))
}

/// Turns recording of `number`'s calls on or off (from the next call on).
pub fn set(
    store: &Store,
    plan: &NumberingPlan,
    number: &str,
    enabled: bool,
    now: u64,
) -> Result<(Aor, bool), AccountError> {
    let aor = subscriber(store, plan, number)?;
    let settings = RecordingSettings {
        record_calls: enabled,
        changed_unix: now,
    };
    store.put_recording_settings(&aor, &settings)?;
    Ok((aor, enabled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_is_kept_per_account_in_canonical_form_and_only_for_accounts() {
        let d = std::env::temp_dir().join(format!("sb-rec-admin-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let s = Store::open(&d, 100, 8).unwrap();
        let p = NumberingPlan::new("KR").unwrap();
        crate::store::admin::accounts::add(&s, &p, "sb", "011-123-4567", "pw-1234", 1).unwrap();
        assert!(!show(&s, &p, "+82111234567").unwrap().1);
        let (aor, on) = set(&s, &p, "011-123-4567", true, 7).unwrap();
        assert_eq!((aor.as_str(), on), ("+82111234567", true));
        assert!(show(&s, &p, "0111234567").unwrap().1);
        assert_eq!(s.recording_settings(&aor).unwrap().changed_unix, 7);
        set(&s, &p, "+82111234567", false, 8).unwrap();
        assert!(!show(&s, &p, "011-123-4567").unwrap().1);
        assert!(matches!(
            set(&s, &p, "1009", true, 9),
            Err(AccountError::Missing(_))
        ));
        assert!(matches!(
            show(&s, &p, "#?!"),
            Err(AccountError::Number { .. })
        ));
    }
}
