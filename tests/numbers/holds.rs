//! One client holds at most `max_holds_per_source` numbers at once, until a hold becomes an
//! order or runs out.

use super::*;

/// A reservation of `number` refused for holding too many: when to try again (Retry-After).
fn too_many_holds(sw: &Switch, number: &str) -> u64 {
    let path = format!("/v1/numbers/{number}/reservation");
    let (status, head, body) = http_raw(sw.http, "POST", &path, None);
    let e: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    assert_eq!(
        (status, e["code"].as_str()),
        (429, Some("too_many_holds")),
        "{number}: {e}"
    );
    assert_eq!(e["limit"], 2, "{e}");
    head.lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("retry-after")
                .then(|| value.trim().parse().ok())?
        })
        .expect("a Retry-After")
}

#[tokio::test]
async fn one_client_holds_at_most_its_share_until_a_hold_becomes_an_order_or_runs_out() {
    let provider = Provider::start();
    let sw = shop_with(&provider, "max_holds_per_source = 2\nhold_secs = 3\n");
    let hold = |n: u32| {
        post(
            &sw,
            &format!("/v1/numbers/02-6200-62{n:02}-082/reservation"),
            "",
        )
    };
    let (status, first) = hold(0);
    assert_eq!(status, 201, "{first}");
    assert_eq!(hold(1).0, 201);

    // the third is refused, with the reason and when to try again, and stays for sale
    let retry = too_many_holds(&sw, "02-6200-6202-082");
    assert!((1..=3).contains(&retry), "Retry-After: {retry}");
    let free = keys(&get(&sw, "/v1/numbers/available?kind=personal&limit=100"));
    assert!(free.contains(&"+82262006202".to_owned()), "{free:?}");
    assert!(!free.contains(&"+82262006201".to_owned()), "held");

    // a hold that becomes an order frees its place
    let order = serde_json::json!({
        "number": "02-6200-6200-082",
        "token": first["token"],
        "password": PW,
    });
    let (status, order) = post(&sw, "/v1/orders", &order.to_string());
    assert_eq!(status, 201, "{order}");
    assert_eq!(hold(2).0, 201);
    let retry = too_many_holds(&sw, "02-6200-6203-082");

    // and so does one that runs out
    std::thread::sleep(std::time::Duration::from_secs(retry));
    let (status, again) = hold(3);
    assert_eq!(status, 201, "{again}");
}
