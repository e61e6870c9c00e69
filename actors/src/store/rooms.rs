//! Chat rooms in the store: one `RoomRecord` per room and its history, one prefix of the
//! history tree per room in sequence order.
//!
//! The queue writer (`message_queue`) writes both, in the group commit that carries a post's
//! queue copies; reads (a room, a page of history, the last sequence number) may come from
//! any thread.

use switchboard_engine::store::rooms::{history_key, history_prefix, history_seq};
use switchboard_engine::store::{self, RoomEntry, RoomRecord};

use super::{decode, Store, StoreError};

impl Store {
    pub fn room(&self, name: &str) -> Result<Option<RoomRecord>, StoreError> {
        match self.rooms.get(name.as_bytes())? {
            Some(v) => Ok(Some(decode(name, &v)?)),
            None => Ok(None),
        }
    }

    /// Writes a room (applied in memory; durable at the next flush).
    pub fn put_room(&self, name: &str, rec: &RoomRecord) -> Result<(), StoreError> {
        self.rooms.insert(name.as_bytes(), store::encode(rec))?;
        Ok(())
    }

    /// Removes a room and its history; how many posts it had.
    pub fn remove_room(&self, name: &str) -> Result<u64, StoreError> {
        self.rooms.remove(name.as_bytes())?;
        let mut n = 0;
        for item in self.room_history.scan_prefix(history_prefix(name)) {
            let (k, _) = item?;
            self.room_history.remove(k)?;
            n += 1;
        }
        Ok(n)
    }

    /// Every room, by name.
    pub fn rooms(&self) -> Result<Vec<(String, RoomRecord)>, StoreError> {
        let mut out = Vec::new();
        for item in self.rooms.iter() {
            let (k, v) = item?;
            let name = String::from_utf8_lossy(&k).into_owned();
            let rec = decode(&name, &v)?;
            out.push((name, rec));
        }
        Ok(out)
    }

    /// The last sequence number in a room's history (0 when empty): the next post gets one
    /// more, across restarts.
    pub fn last_room_seq(&self, name: &str) -> Result<u64, StoreError> {
        let last = self
            .room_history
            .scan_prefix(history_prefix(name))
            .next_back();
        match last {
            Some(item) => Ok(history_seq(name, &item?.0).unwrap_or(0)),
            None => Ok(0),
        }
    }

    pub fn put_room_entry(&self, name: &str, e: &RoomEntry) -> Result<(), StoreError> {
        self.room_history
            .insert(history_key(name, e.seq), store::encode(e))?;
        Ok(())
    }

    pub fn remove_room_entry(&self, name: &str, seq: u64) -> Result<(), StoreError> {
        self.room_history.remove(history_key(name, seq))?;
        Ok(())
    }

    /// Up to `limit` posts of a room after sequence `after`, oldest first.
    pub fn room_history(
        &self,
        name: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<RoomEntry>, StoreError> {
        let prefix = history_prefix(name);
        let mut out = Vec::new();
        for item in self
            .room_history
            .range(history_key(name, after.saturating_add(1))..)
        {
            let (k, v) = item?;
            if !k.starts_with(&prefix) || out.len() >= limit {
                break;
            }
            out.push(decode(name, &v)?);
        }
        Ok(out)
    }

    /// The newest `cap` posts after sequence `after`, oldest first (what a rejoining member
    /// missed).
    pub fn room_history_tail(
        &self,
        name: &str,
        after: u64,
        cap: usize,
    ) -> Result<Vec<RoomEntry>, StoreError> {
        let start = history_key(name, after.saturating_add(1));
        let end = history_key(name, u64::MAX);
        let mut out = Vec::new();
        for item in self.room_history.range(start..=end).rev() {
            if out.len() >= cap {
                break;
            }
            out.push(decode(name, &item?.1)?);
        }
        out.reverse();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64) -> RoomEntry {
        RoomEntry {
            seq,
            sender: "1001".into(),
            display: "1001".into(),
            content_type: "text/plain".into(),
            body: format!("post {seq}").into_bytes(),
            accepted_unix_ms: seq,
        }
    }

    #[test]
    fn history_pages_and_tails_stay_in_order_and_in_their_room() {
        let dir = std::env::temp_dir().join(format!("sb-rooms-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = Store::open(&dir, 100, 8).unwrap();
        assert_eq!(s.last_room_seq("ops").unwrap(), 0);
        for seq in 1..=10 {
            s.put_room_entry("ops", &entry(seq)).unwrap();
        }
        s.put_room_entry("ops2", &entry(99)).unwrap();
        assert_eq!(s.last_room_seq("ops").unwrap(), 10);
        let page: Vec<u64> = s
            .room_history("ops", 3, 4)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(page, [4, 5, 6, 7]);
        let tail: Vec<u64> = s
            .room_history_tail("ops", 2, 3)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(tail, [8, 9, 10], "the newest kept");
        assert_eq!(s.remove_room("ops").unwrap(), 10);
        assert_eq!(s.last_room_seq("ops2").unwrap(), 99);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
