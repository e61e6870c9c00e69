//! A number whose account is removed: off sale during its quarantine, for sale again after.

use super::*;

/// Pays `order` by hand (the operator's manual payment); its account.
fn pay_by_hand(sw: &Switch, order: &Value) -> String {
    let id = order["id"].as_str().unwrap();
    let (status, step) = post(
        sw,
        &format!("/v1/orders/{id}/payment"),
        r#"{"amount_minor":10000,"currency":"KRW","reference":"bank-7"}"#,
    );
    assert_eq!(
        (status, step["step"].as_str()),
        (200, Some("assigned")),
        "{step}"
    );
    order["account"].as_str().unwrap().to_owned()
}

/// What `number` is doing (`GET /v1/numbers/{n}`).
fn state(sw: &Switch, number: &str) -> Value {
    get(sw, &format!("/v1/numbers/{number}"))
}

#[test]
fn a_sold_number_whose_account_is_removed_is_for_sale_again_after_its_quarantine() {
    const N: &str = "02-6200-6200-082";
    let provider = Provider::start();
    // no quarantine: back on sale as soon as the account goes
    let mut sw = shop_with(&provider, "quarantine_days = 0\n");
    assert_eq!(state(&sw, N)["state"], "free");
    let order = buy(&sw, N);
    let account = pay_by_hand(&sw, &order);
    let sold = state(&sw, N);
    assert_eq!(sold["state"], "assigned", "{sold}");
    assert_eq!(sold["order"], order["id"]);
    let (status, body) = http(
        sw.http,
        "DELETE",
        &format!("/v1/accounts/{account}"),
        &[],
        None,
    );
    assert_eq!(status, 204, "{body}");
    assert!(
        common::eventually(std::time::Duration::from_secs(10), || {
            state(&sw, N)["state"] == "free"
        }),
        "released at once without a quarantine: {}",
        state(&sw, N)
    );
    let id = order["id"].as_str().unwrap();
    assert_eq!(get(&sw, &format!("/v1/orders/{id}"))["state"], "assigned");

    // sold again; the account removed while the switch is down (the offline CLI): the shop
    // catches up at the next start
    let again = buy(&sw, N);
    let account = pay_by_hand(&sw, &again);
    assert_eq!(state(&sw, N)["state"], "assigned");
    sw.kill();
    let out = std::process::Command::new(common::BIN)
        .args(["account", "remove", &account, "--data"])
        .arg(&sw.data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sw.spawn();
    assert_eq!(state(&sw, N)["state"], "free", "released at start");
    let (status, _) = http(sw.http, "GET", "/v1/numbers/02-6200-6200-999", &[], None);
    assert_eq!(status, 404, "not in the stock");
}

#[test]
fn a_removed_account_keeps_its_number_off_sale_during_the_quarantine() {
    const N: &str = "02-6200-6200-082";
    let provider = Provider::start();
    let sw = shop(&provider);
    let order = buy(&sw, N);
    let account = pay_by_hand(&sw, &order);
    let (status, _) = http(
        sw.http,
        "DELETE",
        &format!("/v1/accounts/{account}"),
        &[],
        None,
    );
    assert_eq!(status, 204);
    assert!(common::eventually(
        std::time::Duration::from_secs(10),
        || state(&sw, N)["state"] == "quarantine"
    ));
    let until = state(&sw, N)["until_unix"].as_u64().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        (now + 89 * 86_400..=now + 90 * 86_400).contains(&until),
        "90 days of quarantine by default: {until}"
    );
    let (status, body) = post(&sw, &format!("/v1/numbers/{N}/reservation"), "");
    assert_eq!(status, 409, "{body}");
}
