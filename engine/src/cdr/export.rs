//! Call records as text: one CSV line or one JSON line per record, and the UTC day a record
//! belongs to (its day file, `<data>/cdr/2026-12-06.csv`).
//!
//! CSV columns, in order ([`CSV_HEADER`]): `id, call_id, caller, dialed, routed, trunk,
//! country, setup, answer, end, duration_ms, outcome, cause, reason, media, plugin_version,
//! charge_table, charge_prefix, billed_secs, amount_minor, currency`. Times are Unix
//! milliseconds; absent values are empty. Fields holding a comma, a quote or a line break are
//! quoted (RFC 4180 §2); no record's field holds a line break (parties keep control characters
//! escaped, [`super::party`]), so every record is exactly one line. Pure functions writing into
//! a caller's `String`.

use std::fmt::Write;

use super::CallRecord;

/// The first line of a CSV export or day file.
pub const CSV_HEADER: &str = "id,call_id,caller,dialed,routed,trunk,country,setup_unix_ms,\
answer_unix_ms,end_unix_ms,duration_ms,outcome,cause,reason,media,plugin_version,\
charge_table,charge_prefix,billed_secs,amount_minor,currency\n";

/// Appends `r` as one CSV line (with its line break) to `out`.
pub fn write_csv(r: &CallRecord, out: &mut String) {
    let c = r.charge.as_ref();
    let _ = write!(out, "{},", r.id);
    csv_field(&r.call_id, out);
    csv_field(&r.caller, out);
    csv_field(&r.dialed, out);
    csv_field(r.routed.as_deref().unwrap_or(""), out);
    csv_field(r.trunk.as_deref().unwrap_or(""), out);
    csv_field(r.country.as_deref().unwrap_or(""), out);
    let _ = write!(out, "{},", r.setup_unix_ms);
    if let Some(a) = r.answer_unix_ms {
        let _ = write!(out, "{a}");
    }
    let _ = write!(
        out,
        ",{},{},{},{},",
        r.end_unix_ms,
        r.duration_ms(),
        r.outcome.as_str(),
        r.cause
    );
    csv_field(&r.reason, out);
    let _ = write!(out, "{},{},", r.media.as_str(), r.plugin_version);
    csv_field(c.map_or("", |c| c.table.as_str()), out);
    csv_field(c.map_or("", |c| c.prefix.as_str()), out);
    if let Some(c) = c {
        let _ = write!(out, "{},{},", c.billed_secs, c.amount_minor);
        csv_last(&c.currency, out);
    } else {
        out.push_str(",,");
    }
    out.push('\n');
}

/// Appends `r` as one JSON object on one line (with its line break) to `out`.
pub fn write_json(r: &CallRecord, out: &mut String) {
    let _ = write!(out, "{{\"id\":{},\"call_id\":", r.id);
    json_str(&r.call_id, out);
    out.push_str(",\"caller\":");
    json_str(&r.caller, out);
    out.push_str(",\"dialed\":");
    json_str(&r.dialed, out);
    out.push_str(",\"routed\":");
    json_opt(r.routed.as_deref(), out);
    out.push_str(",\"trunk\":");
    json_opt(r.trunk.as_deref(), out);
    out.push_str(",\"country\":");
    json_opt(r.country.as_deref(), out);
    let _ = write!(
        out,
        ",\"setup_unix_ms\":{},\"answer_unix_ms\":",
        r.setup_unix_ms
    );
    match r.answer_unix_ms {
        Some(a) => {
            let _ = write!(out, "{a}");
        }
        None => out.push_str("null"),
    }
    let _ = write!(
        out,
        ",\"end_unix_ms\":{},\"duration_ms\":{},\"outcome\":\"{}\",\"cause\":{},\"reason\":",
        r.end_unix_ms,
        r.duration_ms(),
        r.outcome.as_str(),
        r.cause
    );
    json_str(&r.reason, out);
    let _ = write!(
        out,
        ",\"media\":\"{}\",\"plugin_version\":{},\"charge\":",
        r.media.as_str(),
        r.plugin_version
    );
    match &r.charge {
        Some(c) => {
            out.push_str("{\"table\":");
            json_str(&c.table, out);
            out.push_str(",\"prefix\":");
            json_str(&c.prefix, out);
            let _ = write!(
                out,
                ",\"billed_secs\":{},\"amount_minor\":{},\"currency\":",
                c.billed_secs, c.amount_minor
            );
            json_str(&c.currency, out);
            out.push('}');
        }
        None => out.push_str("null"),
    }
    out.push_str("}\n");
}

/// The UTC day of `unix_ms` as `YYYY-MM-DD` (the proleptic Gregorian calendar).
pub fn utc_day(unix_ms: u64) -> String {
    let days = (unix_ms / 86_400_000) as i64;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The Unix milliseconds of the start of UTC day `YYYY-MM-DD`, if it is one.
pub fn day_start_ms(day: &str) -> Option<u64> {
    let b = day.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = day[0..4].parse().ok()?;
    let m: u32 = day[5..7].parse().ok()?;
    let d: u32 = day[8..10].parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    if civil_from_days(days) != (y, m, d) || days < 0 {
        return None;
    }
    Some(days as u64 * 86_400_000)
}

/// The record id at the start of a CSV line, if the line is a complete record line.
pub fn csv_line_id(line: &str) -> Option<u64> {
    line.split(',').next()?.parse().ok()
}

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) to days since 1970-01-01 (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn csv_field(s: &str, out: &mut String) {
    csv_last(s, out);
    out.push(',');
}

fn csv_last(s: &str, out: &mut String) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn json_opt(s: Option<&str>, out: &mut String) {
    match s {
        Some(s) => json_str(s, out),
        None => out.push_str("null"),
    }
}

fn json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::super::{Charge, MediaMode, Outcome};
    use super::*;

    fn record() -> CallRecord {
        CallRecord {
            id: 7,
            call_id: "a,b\"c@h".into(),
            caller: "+15551000".into(),
            dialed: "0044207".into(),
            routed: Some("+44207".into()),
            trunk: Some("carrier".into()),
            country: None,
            setup_unix_ms: 1_000,
            answer_unix_ms: Some(2_000),
            end_unix_ms: 62_000,
            outcome: Outcome::Answered,
            cause: 200,
            reason: "hung up".into(),
            media: MediaMode::Direct,
            plugin_version: 3,
            charge: Some(Charge {
                table: "default".into(),
                prefix: "44".into(),
                billed_secs: 60,
                amount_minor: 12,
                currency: "EUR".into(),
            }),
        }
    }

    #[test]
    fn a_record_is_one_csv_line_with_every_column() {
        let mut s = String::new();
        write_csv(&record(), &mut s);
        assert_eq!(
            s,
            "7,\"a,b\"\"c@h\",+15551000,0044207,+44207,carrier,,1000,2000,62000,60000,answered,\
             200,hung up,direct,3,default,44,60,12,EUR\n"
        );
        assert_eq!(
            s.split(',').count() - 1,
            CSV_HEADER.split(',').count(),
            "one quoted comma"
        );
        assert_eq!(csv_line_id(&s), Some(7));
        let mut r = record();
        r.charge = None;
        r.answer_unix_ms = None;
        s.clear();
        write_csv(&r, &mut s);
        assert!(s.ends_with(",answered,200,hung up,direct,3,,,,,\n"), "{s}");
        assert!(s.contains(",1000,,62000,0,"), "{s}");
    }

    #[test]
    fn a_record_is_one_json_line_that_parses_back() {
        let mut s = String::new();
        let mut r = record();
        r.reason = "line\nbreak\u{1}".into();
        write_json(&r, &mut s);
        assert_eq!(s.matches('\n').count(), 1);
        assert!(s.ends_with("}\n"));
        assert!(s.contains("\"call_id\":\"a,b\\\"c@h\""), "{s}");
        assert!(s.contains("\"reason\":\"line\\nbreak\\u0001\""), "{s}");
        assert!(s.contains("\"charge\":{\"table\":\"default\",\"prefix\":\"44\",\"billed_secs\":60,\"amount_minor\":12,\"currency\":\"EUR\"}"), "{s}");
        assert!(s.contains("\"country\":null"));
    }

    #[test]
    fn decoded_parties_stay_one_quoted_csv_field_and_one_json_string() {
        use crate::sip::Uri;
        let party = |uri: &str| super::super::party(&Uri::parse(uri).unwrap());
        let mut r = record();
        r.call_id = "c@h".into();
        r.dialed = party("sip:6200-6200%23082@h");
        r.caller = party("sip:%22a%2Cb%22%0D%0A@h");
        let mut s = String::new();
        write_csv(&r, &mut s);
        assert!(
            s.starts_with("7,c@h,\"\"\"a,b\"\"%0D%0A\",6200-6200#082,+44207,"),
            "{s}"
        );
        assert_eq!(s.lines().count(), 1, "{s}");
        s.clear();
        write_json(&r, &mut s);
        assert!(
            s.contains("\"caller\":\"\\\"a,b\\\"%0D%0A\",\"dialed\":\"6200-6200#082\""),
            "{s}"
        );
        assert_eq!(s.lines().count(), 1, "{s}");
    }

    #[test]
    fn days_are_utc_calendar_days() {
        assert_eq!(utc_day(0), "1970-01-01");
        // 2026-12-06T23:59:59.999Z and the next millisecond
        let start = day_start_ms("2026-12-06").unwrap();
        assert_eq!(start, 1_796_515_200_000);
        assert_eq!(utc_day(start + 86_399_999), "2026-12-06");
        assert_eq!(utc_day(start + 86_400_000), "2026-12-07");
        assert_eq!(utc_day(day_start_ms("2024-02-29").unwrap()), "2024-02-29");
        assert_eq!(day_start_ms("2023-02-29"), None);
        assert_eq!(day_start_ms("2026-13-01"), None);
        assert_eq!(day_start_ms("20261206"), None);
    }
}
