//! The number shop end to end: the operator loads an inventory, a buyer searches, holds and
//! orders a number, pays through a payment provider (a local one speaking the protocol of
//! docs/payments.md, signing its webhooks), the operator approves enterprise orders, and the
//! buyer's phone registers with the number it bought and receives a call on it. One client
//! holds at most `max_holds_per_source` numbers at once.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use common::ua::{Proto, Ua};
use common::{http, http_raw, Options, Switch};
use serde_json::Value;
use switchboard_engine::inventory::webhook::sign;
use switchboard_engine::sip::Method;

const SECRET: &str = "test-webhook-secret-0123";
const PW: &str = "bought-pw-1234";

const INVENTORY: &str = "class standard 10000 KRW\\nclass golden 500000 KRW\\n\
block personal standard 100 02-6200-6200-082\\n\
block personal golden 1 02-6200-7777-082\\n\
block enterprise golden 2 6200-7777#082\\n";

/// A payment provider on loopback: it answers `POST /payments` with a payment id and a
/// redirect URL, remembers the request, and on `complete` sends the switch the signed
/// `payment.succeeded` webhook of that payment.
struct Provider {
    addr: SocketAddr,
    /// payment id -> the create-payment request body
    payments: Arc<Mutex<HashMap<String, Value>>>,
}

impl Provider {
    fn start() -> Provider {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let payments: Arc<Mutex<HashMap<String, Value>>> = Arc::default();
        let seen = payments.clone();
        std::thread::spawn(move || {
            for (n, conn) in listener.incoming().enumerate() {
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                assert!(line.starts_with("POST /payments "), "{line}");
                let mut len = 0;
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    if h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            len = v.trim().parse().unwrap();
                        }
                    }
                }
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                let req: Value = serde_json::from_slice(&body).unwrap();
                let id = format!("pay-{n}");
                seen.lock().unwrap().insert(id.clone(), req);
                let answer = serde_json::json!({
                    "payment_id": id,
                    "redirect_url": format!("http://{addr}/checkout/{id}"),
                })
                .to_string();
                write!(
                    conn,
                    "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                )
                .unwrap();
            }
        });
        Provider { addr, payments }
    }

    /// The create-payment request of `payment`.
    fn request(&self, payment: &str) -> Value {
        self.payments.lock().unwrap()[payment].clone()
    }

    /// The webhook body saying `payment` succeeded.
    fn succeeded(&self, payment: &str) -> String {
        let r = self.request(payment);
        serde_json::json!({
            "event": "payment.succeeded",
            "payment_id": payment,
            "order_id": r["order_id"],
            "amount_minor": r["amount_minor"],
            "currency": r["currency"],
        })
        .to_string()
    }

    /// Sends `body` to the switch signed with `secret`; the status and the answer.
    fn deliver(&self, sw: &Switch, body: &str, secret: &str) -> (u16, Value) {
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let sig = sign(secret.as_bytes(), ts, body.as_bytes());
        let (status, answer) = http(
            sw.http,
            "POST",
            "/v1/payments/webhook",
            &[
                ("Payment-Timestamp", &ts.to_string()),
                ("Payment-Signature", &sig),
            ],
            Some(body),
        );
        (status, serde_json::from_str(&answer).unwrap_or(Value::Null))
    }

    /// The provider pays `payment`: the signed webhook.
    fn complete(&self, sw: &Switch, payment: &str) -> (u16, Value) {
        self.deliver(sw, &self.succeeded(payment), SECRET)
    }
}

fn shop(provider: &Provider) -> Switch {
    shop_with(provider, "")
}

/// A shop whose config ends with `extra` (TOML).
fn shop_with(provider: &Provider, extra: &str) -> Switch {
    let sw = Switch::with(Options {
        config: format!(
            "[numbers]\nprovider = \"http\"\nprovider_url = \"http://{}\"\n\
             webhook_secret = \"{SECRET}\"\nreturn_url = \"https://shop.example/orders/{{order}}\"\n\
             {extra}",
            provider.addr
        ),
        ..Default::default()
    });
    let (status, body) = http(
        sw.http,
        "POST",
        "/v1/numbers/inventory",
        &[],
        Some(&format!("{{\"inventory\": \"{INVENTORY}\"}}")),
    );
    assert_eq!(status, 200, "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["added"], 103);
    sw
}

fn get(sw: &Switch, path: &str) -> Value {
    let (status, body) = http(sw.http, "GET", path, &[], None);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn post(sw: &Switch, path: &str, body: &str) -> (u16, Value) {
    let (status, body) = http(sw.http, "POST", path, &[], Some(body));
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// Holds `number` (as written in a path) and orders it with `PW`; the order.
fn buy(sw: &Switch, number: &str) -> Value {
    let (status, hold) = post(sw, &format!("/v1/numbers/{number}/reservation"), "");
    assert_eq!(status, 201, "{hold}");
    let order = serde_json::json!({
        "number": number.replace("%23", "#"),
        "token": hold["token"],
        "password": PW,
    });
    let (status, order) = post(sw, "/v1/orders", &order.to_string());
    assert_eq!(status, 201, "{order}");
    order
}

fn keys(page: &Value) -> Vec<String> {
    page["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["key"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_golden_number_is_found_held_paid_and_then_rings_the_buyers_phone() {
    let provider = Provider::start();
    let sw = shop(&provider);
    const GOLDEN: &str = "+82262007777";

    // search: runs of four, personal numbers of Korea
    let page = get(
        &sw,
        "/v1/numbers/available?country=KR&kind=personal&pattern=~4",
    );
    assert_eq!(keys(&page), [GOLDEN]);
    assert_eq!(page["numbers"][0]["price_minor"], 500_000);
    let paged = get(&sw, "/v1/numbers/available?kind=personal&limit=40");
    assert_eq!(keys(&paged).len(), 40);
    assert!(paged["next"].is_string());
    let (status, _) = http(
        sw.http,
        "GET",
        "/v1/numbers/available?pattern=7-7",
        &[],
        None,
    );
    assert_eq!(status, 400, "a pattern outside the syntax");

    let order = buy(&sw, "02-6200-7777-082");
    let id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(order["state"], "awaiting_payment");
    assert_eq!(order["account"], GOLDEN);
    let payment = order["payment_id"].as_str().unwrap().to_owned();
    assert!(order["redirect_url"].as_str().unwrap().ends_with(&payment));
    let asked = provider.request(&payment);
    assert_eq!(asked["order_id"], id.as_str());
    assert_eq!(asked["amount_minor"], 500_000);
    assert_eq!(asked["currency"], "KRW");
    assert_eq!(
        asked["return_url"],
        format!("https://shop.example/orders/{id}")
    );
    // held and ordered: no longer offered, and nobody else may hold it
    assert!(keys(&get(&sw, "/v1/numbers/available?pattern=~4&kind=personal")).is_empty());
    let (status, _) = post(&sw, "/v1/numbers/02-6200-7777-082/reservation", "");
    assert_eq!(status, 409);

    // a webhook signed with another secret is refused and changes nothing
    let body = provider.succeeded(&payment);
    let (status, _) = provider.deliver(&sw, &body, "not-the-shared-secret");
    assert_eq!(status, 401);
    let (status, _) = http(
        sw.http,
        "POST",
        "/v1/payments/webhook",
        &[
            ("Payment-Timestamp", "1"),
            ("Payment-Signature", "sha256=00"),
        ],
        Some(&body),
    );
    assert_eq!(status, 401, "an old timestamp");
    assert_eq!(
        get(&sw, &format!("/v1/orders/{id}"))["state"],
        "awaiting_payment"
    );
    let (status, _) = http(sw.http, "GET", &format!("/v1/accounts/{GOLDEN}"), &[], None);
    assert_eq!(status, 404, "no account before payment");

    // the provider's webhook, delivered twice: assigned once
    let (status, first) = provider.complete(&sw, &payment);
    assert_eq!((status, first["step"].as_str()), (200, Some("assigned")));
    let (status, again) = provider.complete(&sw, &payment);
    assert_eq!((status, again["step"].as_str()), (200, Some("duplicate")));
    let done = get(&sw, &format!("/v1/orders/{id}"));
    assert_eq!(done["state"], "assigned");
    assert_eq!(done["payments"].as_array().unwrap().len(), 1);
    assert_eq!(
        get(&sw, &format!("/v1/accounts/{GOLDEN}"))["number"],
        GOLDEN
    );

    // the buyer's phone registers with the number and the password of the order
    let mut phone = Ua::new(sw.sip, GOLDEN, PW, Proto::Udp).await;
    assert_eq!(phone.register(600).await.status(), Some(200));
    sw.add_account("1002", "caller-pw");
    let mut caller = Ua::new(sw.sip, "1002", "caller-pw", Proto::Udp).await;
    assert_eq!(caller.register(600).await.status(), Some(200));
    let mut out = caller.invite("02-6200-7777").await;
    let inv = phone.expect_request(Method::Invite).await;
    phone.accept(&inv).await;
    let ok = caller.invite_outcome(&mut out).await;
    assert_eq!(ok.status(), Some(200), "the bought number answers");
}

#[tokio::test]
async fn enterprise_orders_wait_for_approval_and_a_refused_one_frees_its_number() {
    let provider = Provider::start();
    // both enterprise numbers also have a configured branch: a sold number's account wins
    // over it, an unsold number still reaches its branch
    let mut sw = shop_with(
        &provider,
        "[[numbering.branches]]\nlocal = \"6200-7777\"\ncountry = 82\nsubscriber = \"1003\"\n\
         [[numbering.branches]]\nlocal = \"6200-7778\"\ncountry = 82\nsubscriber = \"1003\"\n",
    );
    sw.add_account("1002", "caller-pw");
    sw.add_account("1003", "branch-pw");
    let mut caller = Ua::new(sw.sip, "1002", "caller-pw", Proto::Udp).await;
    assert_eq!(caller.register(600).await.status(), Some(200));
    let mut branch = Ua::new(sw.sip, "1003", "branch-pw", Proto::Udp).await;
    assert_eq!(branch.register(600).await.status(), Some(200));

    // before the sale the configured branch answers the number
    let mut out = caller.invite("6200-7777%23082").await;
    let inv = branch.expect_request(Method::Invite).await;
    branch.accept(&inv).await;
    let ok = caller.invite_outcome(&mut out).await;
    assert_eq!(ok.status(), Some(200), "the branch answers before the sale");

    let approved = buy(&sw, "6200-7777%23082");
    let refused = buy(&sw, "6200-7778%23082");
    assert_eq!(approved["state"], "pending");
    let pending = get(&sw, "/v1/orders?state=pending");
    assert_eq!(pending["orders"].as_array().unwrap().len(), 2);

    // paid first, approved second: assigned on approval
    let a = approved["id"].as_str().unwrap();
    let (status, paid) = provider.complete(&sw, approved["payment_id"].as_str().unwrap());
    assert_eq!((status, paid["step"].as_str()), (200, Some("progressed")));
    assert_eq!(paid["state"], "pending");
    let (status, done) = post(&sw, &format!("/v1/orders/{a}/approve"), "");
    assert_eq!((status, done["step"].as_str()), (200, Some("assigned")));
    let account = done["order"]["account"].as_str().unwrap().to_owned();
    assert_eq!(account, "ent-62007777-082");
    assert_eq!(
        get(&sw, &format!("/v1/accounts/{account}"))["number"],
        account
    );
    let mut phone = Ua::new(sw.sip, &account, PW, Proto::Udp).await;
    assert_eq!(phone.register(600).await.status(), Some(200));

    // sold: a call dialed in either spelling, and a text, reach the buyer's phone
    for dialed in ["6200-7777%23082", "62007777%23082"] {
        let mut out = caller.invite(dialed).await;
        let inv = phone.expect_request(Method::Invite).await;
        phone.accept(&inv).await;
        let ok = caller.invite_outcome(&mut out).await;
        assert_eq!(ok.status(), Some(200), "{dialed}: the sold number answers");
    }
    let (sent, _) = tokio::join!(caller.text("6200-7777%23082", "hello"), async {
        let m = phone.expect_request(Method::Message).await;
        phone.reply(&m, 200);
    });
    assert_eq!(
        sent.status(),
        Some(200),
        "the text reached the buyer's phone"
    );
    // a call the buyer refuses: its record names the account reached and the number's country
    let mut out = caller.invite("6200-7777%23082").await;
    let inv = phone.expect_request(Method::Invite).await;
    phone.reply(&inv, 486);
    assert_eq!(caller.invite_outcome(&mut out).await.status(), Some(486));
    let mut line = String::new();
    assert!(
        common::eventually(std::time::Duration::from_secs(5), || {
            let (status, body) = http(sw.http, "GET", "/v1/cdrs?format=jsonl", &[], None);
            assert_eq!(status, 200, "{body}");
            line = body
                .lines()
                .find(|l| l.contains("\"outcome\":\"busy\""))
                .unwrap_or_default()
                .to_owned();
            !line.is_empty()
        }),
        "no record of the refused call"
    );
    assert!(line.contains("\"routed\":\"ent-62007777-082\""), "{line}");
    assert!(line.contains("\"country\":\"KR\""), "{line}");
    // the number as dialled, `#` and all (the Request-URI's `%23` decoded), and the export
    // finds it by the number however it is spelled, with `#` sent as `%23` in the query
    assert!(line.contains("\"dialed\":\"6200-7777#082\""), "{line}");
    let export = |number: &str| {
        let path = format!("/v1/cdrs?format=jsonl&number={number}");
        let (status, body) = http(sw.http, "GET", &path, &[], None);
        assert_eq!(status, 200, "{body}");
        body
    };
    for asked in ["6200-7777%23082", "62007777%23082", "ent-62007777-082"] {
        let found = export(asked);
        assert!(found.lines().any(|l| l == line), "{asked}: {found}");
    }
    assert!(
        !export("6200-7778%23082").contains("\"dialed\""),
        "no record of a number nobody dialled"
    );
    let stray = branch
        .maybe_request(Method::Invite, std::time::Duration::from_millis(200))
        .await;
    assert!(
        stray.is_none(),
        "the branch no longer rings for the sold number"
    );
    drop(phone);

    // refused: the number is for sale again, and a payment arriving later is only recorded
    let r = refused["id"].as_str().unwrap();
    let (status, no) = post(
        &sw,
        &format!("/v1/orders/{r}/refuse"),
        r#"{"reason":"kept for the operator"}"#,
    );
    assert_eq!((status, no["step"].as_str()), (200, Some("released")));
    assert_eq!(no["order"]["refusal"], "kept for the operator");
    let (status, late) = provider.complete(&sw, refused["payment_id"].as_str().unwrap());
    assert_eq!((status, late["step"].as_str()), (200, Some("recorded")));
    let after = get(&sw, &format!("/v1/orders/{r}"));
    assert_eq!(after["state"], "refused");
    assert_eq!(after["payments"][0]["counted"], false);
    let free = keys(&get(&sw, "/v1/numbers/available?kind=enterprise"));
    assert_eq!(free, ["62007778#082"]);
    let (status, _) = http(sw.http, "GET", "/v1/accounts/ent-62007778-082", &[], None);
    assert_eq!(status, 404);
    // unsold: routed by its configured branch as before
    let mut out = caller.invite("6200-7778%23082").await;
    let inv = branch.expect_request(Method::Invite).await;
    branch.accept(&inv).await;
    let ok = caller.invite_outcome(&mut out).await;
    assert_eq!(
        ok.status(),
        Some(200),
        "the unsold number reaches its branch"
    );

    // the operator's manual payment on a personal order of the same switch
    let personal = buy(&sw, "02-6200-6200-082");
    let p = personal["id"].as_str().unwrap();
    let (status, manual) = post(
        &sw,
        &format!("/v1/orders/{p}/payment"),
        r#"{"amount_minor":10000,"currency":"KRW","reference":"bank-42"}"#,
    );
    assert_eq!(
        (status, manual["step"].as_str()),
        (200, Some("assigned")),
        "{manual}"
    );
    let blocks = get(&sw, "/v1/numbers/blocks");
    assert_eq!(blocks["blocks"].as_array().unwrap().len(), 3);
    assert_eq!(blocks["numbers"], 103);

    // killed and started again: every answered change is still there
    sw.kill();
    sw.spawn();
    assert_eq!(get(&sw, &format!("/v1/orders/{a}"))["state"], "assigned");
    assert_eq!(get(&sw, &format!("/v1/orders/{r}"))["state"], "refused");
    assert_eq!(get(&sw, &format!("/v1/orders/{p}"))["state"], "assigned");
    let free = keys(&get(&sw, "/v1/numbers/available?kind=enterprise"));
    assert_eq!(free, ["62007778#082"]);
    let (status, again) = provider.complete(&sw, approved["payment_id"].as_str().unwrap());
    assert_eq!((status, again["step"].as_str()), (200, Some("duplicate")));
    let mut phone = Ua::new(sw.sip, &account, PW, Proto::Udp).await;
    assert_eq!(phone.register(600).await.status(), Some(200));
}

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
