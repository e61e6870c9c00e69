//! The voicemail commands of the CLI on a running and on a stopped switch.

use super::*;

#[test]
fn the_cli_turns_voicemail_off_sets_the_pin_and_lists_on_a_running_and_a_stopped_switch() {
    let mut sw = switch("");
    let data = sw.data.clone();
    let vm = |args: &[&str]| {
        let mut all = vec!["voicemail"];
        all.extend_from_slice(args);
        cli(&all, Some(&data))
    };
    let (code, out, err) = vm(&["set", "1001", "off"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "1001\tvoicemail off\tno pin");
    let s = json(
        sw.http,
        "GET",
        "/v1/accounts/1001/voicemail/settings",
        &alice(),
        None,
    )
    .json();
    assert_eq!(
        s["enabled"], false,
        "the running switch's API sees what the CLI set"
    );
    let (code, _, err) = vm(&["pin", "1001", "123"]);
    assert_eq!(code, 1);
    assert!(err.contains("pin of 3 digits, at least 4"), "{err}");
    let (code, out, err) = vm(&["pin", "1001", "0815"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "1001\tvoicemail off\tpin set");
    let (code, _, err) = vm(&["list", "1009"]);
    assert_eq!(code, 1);
    assert!(err.contains("no account 1009"), "{err}");

    let a = import(
        sw.http,
        "1001",
        "010-1234-5678",
        &tone_wav(Format::int(16_000, 1, 16), 2.5, HZ as f64, DBFS),
    );
    let id = a.json()["id"].as_u64().unwrap();
    let (code, out, err) = vm(&["list", "1001", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["mailbox"],
        list(sw.http, "1001", &alice()),
        "the CLI shows what the API shows"
    );
    assert_eq!(v["settings"]["pin_set"], true);

    // the same on the stopped switch's data directory
    sw.stop();
    let (code, out, err) = vm(&["list", "1001"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1001\tvoicemail off\tpin set\t1 new, 0 saved");
    assert!(lines[1].starts_with(&format!("{id}\t")), "{out}");
    assert!(
        lines[1].ends_with("\t+82 10-1234-5678\t2.5 s\tnew"),
        "{out}"
    );
    let (code, _, err) = vm(&["set", "1001", "on"]);
    assert_eq!(code, 0, "{err}");
    sw.spawn();
    let s = json(
        sw.http,
        "GET",
        "/v1/accounts/1001/voicemail/settings",
        &alice(),
        None,
    )
    .json();
    assert_eq!(
        (s["enabled"].as_bool(), s["pin_set"].as_bool()),
        (Some(true), Some(true))
    );
}
