//! The call analytics in the store: one `DayRecord` per UTC day (`analytics::day_key`) and
//! the high-water record id, in one tree. The analytics holder (the `analytics` module) is the
//! only writer; it saves the days that changed and the high-water mark in one atomic batch,
//! so after a crash the stored days and the mark agree (the records above the mark are the
//! ones to replay).

use switchboard_engine::analytics::{day_key, DayRecord, HIGH_WATER_KEY};

use super::{Store, StoreError};

impl Store {
    /// Writes days (replacing their earlier records) and the high-water id, atomically
    /// (applied in memory; durable at the next flush).
    pub fn put_analytics(
        &self,
        days: &[DayRecord],
        high_water: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for d in days {
            batch.insert(
                &day_key(switchboard_engine::analytics::Day(d.day))[..],
                d.encode(),
            );
        }
        if let Some(h) = high_water {
            batch.insert(HIGH_WATER_KEY, &h.to_be_bytes()[..]);
        }
        self.analytics.apply_batch(batch)?;
        Ok(())
    }

    /// Every stored day in date order, and the high-water id. A day that does not decode is
    /// skipped, and logged.
    pub fn analytics(&self) -> Result<(Vec<DayRecord>, Option<u64>), StoreError> {
        let mut days = Vec::new();
        let mut high_water = None;
        for item in self.analytics.iter() {
            let (k, v) = item?;
            if &k[..] == HIGH_WATER_KEY {
                high_water = <[u8; 8]>::try_from(&v[..]).ok().map(u64::from_be_bytes);
                continue;
            }
            match DayRecord::decode(&v) {
                Ok(d) => days.push(d),
                Err(e) => {
                    tracing::error!(key = ?&k[..], error = %e, "unreadable analytics day skipped")
                }
            }
        }
        Ok((days, high_water))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_engine::analytics::TallyRecord;

    fn day(n: u32, calls: u64) -> DayRecord {
        DayRecord {
            day: n,
            total: TallyRecord {
                calls,
                ..Default::default()
            },
            countries: vec![(
                Some("KR".into()),
                TallyRecord {
                    calls,
                    ..Default::default()
                },
            )],
            trunks: Vec::new(),
        }
    }

    #[test]
    fn days_are_replaced_by_their_latest_save_and_come_back_in_date_order() {
        let dir = std::env::temp_dir().join(format!("sb-analytics-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, 100, 8).unwrap();
        assert_eq!(store.analytics().unwrap(), (Vec::new(), None));
        store
            .put_analytics(&[day(300, 1), day(20, 4)], Some(9))
            .unwrap();
        store.put_analytics(&[day(300, 2)], None).unwrap();
        let (days, hw) = store.analytics().unwrap();
        assert_eq!(days, [day(20, 4), day(300, 2)]);
        assert_eq!(hw, Some(9), "a save without a mark keeps the last one");
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
