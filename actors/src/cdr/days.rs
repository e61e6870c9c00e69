//! The day files: every record of the CDR log as a CSV line in the file of the UTC day it
//! ended (`YYYY-MM-DD.csv`, a header first), in id order.
//!
//! Appended after the log is flushed and without fsync of their own: the log is the durable
//! truth and [`DayFiles::complete_from`] brings the files level with it at start. Because lines
//! are appended in id order, a file holds a prefix of its day's records (plus perhaps a partial
//! last line after a crash, which is cut off); the records after its last complete line are
//! the ones to append.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use switchboard_engine::cdr::export::{csv_line_id, utc_day, write_csv, CSV_HEADER};
use switchboard_engine::cdr::CallRecord;

use crate::store::cdr::CdrLog;

/// How much of a file's end is read to find its last line.
const TAIL: u64 = 64 * 1024;

pub struct DayFiles {
    dir: PathBuf,
    /// The file of the day written last.
    open: Option<(String, File)>,
    line: String,
}

impl DayFiles {
    pub fn new(dir: PathBuf) -> DayFiles {
        DayFiles {
            dir,
            open: None,
            line: String::new(),
        }
    }

    /// Appends `records` (in id order) to their days' files.
    pub fn append(&mut self, records: &[CallRecord]) -> io::Result<()> {
        let mut text = String::new();
        let mut day_of_text = String::new();
        for r in records {
            let day = utc_day(r.end_unix_ms);
            if day != day_of_text && !text.is_empty() {
                self.write(&day_of_text, &text)?;
                text.clear();
            }
            day_of_text = day;
            self.line.clear();
            write_csv(r, &mut self.line);
            text.push_str(&self.line);
        }
        if !text.is_empty() {
            self.write(&day_of_text, &text)?;
        }
        Ok(())
    }

    /// Cuts off partial last lines and appends every record of `log` its day file misses.
    /// Returns how many lines were appended.
    pub fn complete_from(&mut self, log: &CdrLog) -> io::Result<usize> {
        std::fs::create_dir_all(&self.dir)?;
        let mut last: HashMap<String, u64> = HashMap::new();
        let mut failure = None;
        let missing = log
            .tail_while(|r| {
                let day = utc_day(r.end_unix_ms);
                let have = match last.get(&day) {
                    Some(&id) => id,
                    None => match self.last_id(&day) {
                        Ok(id) => *last.entry(day).or_insert(id),
                        Err(e) => {
                            failure = Some(e);
                            return false;
                        }
                    },
                };
                r.id > have
            })
            .map_err(|e| io::Error::other(e.to_string()))?;
        if let Some(e) = failure {
            return Err(e);
        }
        self.append(&missing)?;
        Ok(missing.len())
    }

    /// The id of the last complete line of `day`'s file (0: none), a partial line after it cut
    /// off first.
    fn last_id(&self, day: &str) -> io::Result<u64> {
        let path = self.dir.join(format!("{day}.csv"));
        let mut f = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let len = f.metadata()?.len();
        let start = len.saturating_sub(TAIL);
        f.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::with_capacity((len - start) as usize);
        f.read_to_end(&mut buf)?;
        let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
            // not even the header is complete
            f.set_len(start)?;
            return Ok(0);
        };
        if end + 1 < buf.len() {
            f.set_len(start + end as u64 + 1)?;
        }
        let line_start = buf[..end]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = String::from_utf8_lossy(&buf[line_start..end]);
        Ok(csv_line_id(&line).unwrap_or(0))
    }

    fn write(&mut self, day: &str, text: &str) -> io::Result<()> {
        if self.open.as_ref().is_none_or(|(d, _)| d != day) {
            std::fs::create_dir_all(&self.dir)?;
            let path = self.dir.join(format!("{day}.csv"));
            let mut f = OpenOptions::new().create(true).append(true).open(path)?;
            if f.metadata()?.len() == 0 {
                f.write_all(CSV_HEADER.as_bytes())?;
            }
            self.open = Some((day.to_owned(), f));
        }
        let (_, f) = self.open.as_mut().expect("opened above");
        f.write_all(text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::record;
    use super::*;
    use crate::store::Store;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sb-cdr-days-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    const DAY: u64 = 1_796_515_200_000; // 2026-12-06

    #[test]
    fn a_day_file_is_completed_from_the_log_after_a_crash() {
        let data = tmp("complete");
        let store = Store::open(&data, 1000, 8).unwrap();
        let log = store.cdr_log().unwrap();
        // five records on two days in the log
        let recs: Vec<CallRecord> = (1..=5)
            .map(|id| {
                let end = if id <= 3 {
                    DAY + id
                } else {
                    DAY + 86_400_000 + id
                };
                CallRecord {
                    id,
                    ..record(&format!("c{id}"), end)
                }
            })
            .collect();
        log.append(&recs).unwrap();
        // the day files got the first two and half of the third before the crash
        let dir = data.join("cdr");
        let mut days = DayFiles::new(dir.clone());
        days.append(&recs[..2]).unwrap();
        let first = dir.join("2026-12-06.csv");
        let mut f = OpenOptions::new().append(true).open(&first).unwrap();
        f.write_all(b"3,c3,10").unwrap();
        drop(days);
        let mut days = DayFiles::new(dir.clone());
        assert_eq!(days.complete_from(&log).unwrap(), 3);
        let text = std::fs::read_to_string(&first).unwrap();
        let ids: Vec<u64> = text.lines().skip(1).filter_map(csv_line_id).collect();
        assert_eq!(ids, [1, 2, 3], "{text}");
        assert_eq!(text.lines().count(), 4);
        let second = std::fs::read_to_string(dir.join("2026-12-07.csv")).unwrap();
        let ids: Vec<u64> = second.lines().skip(1).filter_map(csv_line_id).collect();
        assert_eq!(ids, [4, 5]);
        assert!(second.starts_with(CSV_HEADER));
        // level with the log: a second start appends nothing
        let mut days = DayFiles::new(dir);
        assert_eq!(days.complete_from(&log).unwrap(), 0);
        assert_eq!(std::fs::read_to_string(&first).unwrap(), text);
    }
}
