//! `switchboard account import FILE`: many subscribers at once, on a stopped switch.
//!
//! The file holds `number,password` lines, the format the load runner's `population.csv`
//! reads: blank lines, `#` comments and a `number,password` header are skipped. Each account
//! is added as `account add` adds it (HA1 values for every user-name spelling, the password
//! forgotten), but the store is flushed once at the end instead of once per account, so a
//! million accounts take about a minute rather than a million fsyncs.
//!
//! Guarantees: when it returns `Ok`, every added account is on disk. An account that already
//! exists is left as it is and counted in `existing`. A bad line (no comma, a number the
//! numbering plan refuses, a password outside 4..=128 characters) stops the import with its
//! line number; the accounts before it are flushed and stay. A running switch holds the store
//! locked: stop it first (a million accounts through its control socket would be a million
//! flushes).

use std::io::BufRead;

use switchboard_actors::store::admin::accounts::{self, AccountError};
use switchboard_actors::store::Store;
use switchboard_engine::numbering::NumberingPlan;

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Imported {
    pub added: u64,
    pub existing: u64,
}

/// One line of the file: `None` for a line to skip (blank, comment, header).
pub fn parse_line(line: &str) -> Option<Result<(&str, &str), String>> {
    let line = line.trim_end_matches(['\r', '\n']);
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "number,password" {
        return None;
    }
    Some(match line.split_once(',') {
        Some((number, password)) => Ok((number.trim(), password)),
        None => Err("expected number,password".to_owned()),
    })
}

/// Adds the accounts of `lines` to `store`, then flushes it once.
pub fn import(
    store: &Store,
    plan: &NumberingPlan,
    realm: &str,
    lines: impl BufRead,
    now: u64,
) -> Result<Imported, String> {
    let mut done = Imported::default();
    let result = add_all(store, plan, realm, lines, now, &mut done);
    store.flush().map_err(|e| e.to_string())?;
    result.map(|()| done)
}

fn add_all(
    store: &Store,
    plan: &NumberingPlan,
    realm: &str,
    lines: impl BufRead,
    now: u64,
    done: &mut Imported,
) -> Result<(), String> {
    for (i, line) in lines.lines().enumerate() {
        let line = line.map_err(|e| e.to_string())?;
        let Some(parsed) = parse_line(&line) else {
            continue;
        };
        let at = |e: String| format!("line {}: {e} ({} added before it)", i + 1, done.added);
        let (number, password) = parsed.map_err(at)?;
        match accounts::add(store, plan, realm, number, password, now) {
            Ok(_) => done.added += 1,
            Err(AccountError::Exists(_)) => done.existing += 1,
            Err(e) => return Err(at(e.to_string())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_blank_lines_and_the_header_are_skipped() {
        assert_eq!(parse_line(""), None);
        assert_eq!(parse_line("   "), None);
        assert_eq!(parse_line("# exported 2026-12-06"), None);
        assert_eq!(parse_line("number,password"), None);
        assert_eq!(parse_line("number,password\r"), None);
    }

    #[test]
    fn a_line_splits_at_the_first_comma_and_keeps_the_password_whole() {
        assert_eq!(
            parse_line(" 100001 ,pw,with,commas\r"),
            Some(Ok(("100001", "pw,with,commas")))
        );
        assert!(parse_line("100001").unwrap().is_err());
    }

    fn fresh_store(name: &str) -> (std::path::PathBuf, Store) {
        let dir = std::env::temp_dir().join(format!(
            "sb-import-{name}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        let store = Store::open(&dir, 500, 8).unwrap();
        (dir, store)
    }

    #[test]
    fn every_line_becomes_an_account_and_existing_ones_are_counted_not_changed() {
        let (dir, store) = fresh_store("ok");
        let plan = NumberingPlan::new("KR").unwrap();
        let text = "number,password\n100001,pw-100001\n# a comment\n\n100002,pw-100002\n";
        let done = import(&store, &plan, "lab", text.as_bytes(), 7).unwrap();
        assert_eq!(
            done,
            Imported {
                added: 2,
                existing: 0
            }
        );
        let again = import(&store, &plan, "lab", "100002,other\n".as_bytes(), 8).unwrap();
        assert_eq!(
            again,
            Imported {
                added: 0,
                existing: 1
            }
        );
        let listed = accounts::list(&store).unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().all(|a| a.created_unix == 7), "{listed:?}");
        drop(store);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_bad_line_stops_the_import_with_its_number_and_keeps_what_came_before() {
        let (dir, store) = fresh_store("bad");
        let plan = NumberingPlan::new("KR").unwrap();
        let text = "100001,pw-100001\n100002,abc\n100003,pw-100003\n";
        let e = import(&store, &plan, "lab", text.as_bytes(), 7).unwrap_err();
        assert!(e.starts_with("line 2: password"), "{e}");
        assert!(e.contains("1 added before it"), "{e}");
        assert_eq!(accounts::list(&store).unwrap().len(), 1);
        drop(store);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
