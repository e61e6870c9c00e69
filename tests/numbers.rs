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

#[path = "numbers/holds.rs"]
mod holds;
#[path = "numbers/purchase.rs"]
mod purchase;
#[path = "numbers/quarantine.rs"]
mod quarantine;

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
