//! Accounts without sign-up: dynamic accounts, one-time passwords by SMS, the accounts API,
//! password resets, expiry.

mod common;

use std::time::Duration;

use common::ua::{Proto, Ua};
use common::{basic, http, sms_log, wait_for_sms, Options, Switch};
use switchboard_engine::sip::Method;

const PW: &str = "pw-1234";
const OWNER: &str = "+821012345678";

fn switch(extra: &str) -> Switch {
    Switch::with(Options {
        config: format!(
            "[numbering]\nown_ranges = [\"+8210\", \"+822\"]\n[notify]\ncoalesce_ms = 300\nmin_interval_secs = 1\n{extra}"
        ),
        ..Default::default()
    })
}

/// A UA outside the switch's domain: anyone may message any number.
async fn stranger(sw: &Switch) -> Ua {
    Ua::new(sw.sip, "stranger", "", Proto::Udp).await
}

const STRANGER: &str = "sip:+821099990000@elsewhere.example";

/// The stranger sends `body` as text to `to`; the status of the answer.
async fn says(s: &mut Ua, to: &str, body: &[u8]) -> Option<u16> {
    s.message(to, Some(STRANGER), "text/plain", body)
        .await
        .status()
}

fn password_in(sms: &serde_json::Value) -> String {
    let text = sms["text"].as_str().unwrap();
    let at = text
        .find("your password is ")
        .expect("a password in the SMS")
        + 17;
    text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn a_message_to_a_number_nobody_signed_up_makes_an_account_its_owner_signs_in_to() {
    let sw = switch("");
    let mut s = stranger(&sw).await;
    assert_eq!(
        says(&mut s, "010-1234-5678", b"see you at 7").await,
        Some(202)
    );
    let sms = wait_for_sms(&sw.data, 1);
    assert_eq!(sms[0]["to"], OWNER);
    let text = sms[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("You have a message from +82 10-9999-0000: see you at 7"),
        "{text}"
    );
    let otp = password_in(&sms[0]);
    assert_eq!(otp.len(), 6);

    let (code, body) = http(sw.http, "GET", &format!("/v1/accounts/{OWNER}"), &[], None);
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["dynamic"], true);
    assert_eq!(v["queued"], 1);

    // the owner signs in with the number and the password from the SMS
    let mut phone = Ua::new(sw.sip, OWNER, &otp, Proto::Udp).await;
    assert_eq!(phone.register(300).await.status(), Some(200));
    let m = phone.expect_request(Method::Message).await;
    assert_eq!(m.body(), b"see you at 7");
    phone.reply(&m, 200);
    let (_, body) = http(sw.http, "GET", &format!("/v1/accounts/{OWNER}"), &[], None);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["dynamic"], false, "signing in claimed it");

    // and sets a password of their own, with the one-time one
    let (code, body) = http(
        sw.http,
        "POST",
        &format!("/v1/accounts/{OWNER}/password"),
        &[("Authorization", &basic(OWNER, &otp))],
        Some("{\"password\": \"my-own-pw\"}"),
    );
    assert_eq!(code, 204, "{body}");
    let mut old = Ua::new(sw.sip, OWNER, &otp, Proto::Udp).await;
    assert_eq!(
        old.register(300).await.status(),
        Some(403),
        "the one-time password ended"
    );
    let mut new = Ua::new(sw.sip, OWNER, "my-own-pw", Proto::Udp).await;
    assert_eq!(new.register(300).await.status(), Some(200));
    // later notices carry no password: the owner has their own (all devices signed off)
    assert_eq!(new.register_contact("*", Some(0)).await.status(), Some(200));
    assert_eq!(says(&mut s, "01012345678", b"again").await, Some(202));
    let sms = wait_for_sms(&sw.data, 2);
    let text = sms[1]["text"].as_str().unwrap();
    assert!(!text.contains("password is"), "{text}");
    assert!(
        text.ends_with("Sign in with your number to read it."),
        "{text}"
    );
}

#[tokio::test]
async fn a_burst_of_messages_makes_one_sms_and_long_ones_are_cut() {
    let sw = switch("");
    let mut s = stranger(&sw).await;
    let long = "a very long message ".repeat(12);
    for body in [long.as_str(), "two", "three"] {
        assert_eq!(
            says(&mut s, "01012345678", body.as_bytes()).await,
            Some(202)
        );
    }
    let sms = wait_for_sms(&sw.data, 1);
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(sms_log(&sw.data).len(), 1, "one SMS for the burst");
    let text = sms[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("You have 3 messages, the first from +82 10-9999-0000: a very long"),
        "{text}"
    );
    assert!(text.contains('…'), "cut to a preview: {text}");
    assert!(text.chars().count() < 200, "{text}");
}

#[tokio::test]
async fn password_reset_answers_alike_and_texts_a_code_only_to_real_accounts() {
    let sw = switch("[accounts]\nresets_per_source_per_hour = 4\n");
    let body = format!("{{\"number\": \"010-1111-2222\", \"password\": \"{PW}\"}}");
    let (code, out) = http(sw.http, "POST", "/v1/accounts", &[], Some(&body));
    assert_eq!(code, 201, "{out}");
    let (code, _) = http(sw.http, "POST", "/v1/accounts", &[], Some(&body));
    assert_eq!(code, 409);

    let reset = |n: &str| {
        http(
            sw.http,
            "POST",
            &format!("/v1/accounts/{n}/password-reset"),
            &[],
            None,
        )
    };
    let real = reset("010-1111-2222");
    let unknown = reset("010-3333-4444");
    assert_eq!(real.0, 202);
    assert_eq!(
        real, unknown,
        "the same answer whether or not the number exists"
    );
    let sms = wait_for_sms(&sw.data, 1);
    std::thread::sleep(Duration::from_millis(500));
    let all = sms_log(&sw.data);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(sms[0]["to"], "+821011112222");
    let text = sms[0]["text"].as_str().unwrap();
    let code: String = text
        .trim_start_matches("Your password reset code is ")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(code.len(), 6, "{text}");
    // the code signs in, and the old password still works (a stranger's reset locks no one out)
    for pw in [code.as_str(), PW] {
        let (status, _) = http(
            sw.http,
            "GET",
            "/v1/accounts/+821011112222",
            &[("Authorization", &basic("+821011112222", pw))],
            None,
        );
        assert_eq!(status, 200, "{pw}");
    }
    let (status, _) = http(
        sw.http,
        "GET",
        "/v1/accounts/+821011112222",
        &[("Authorization", &basic("+821011112222", "000000"))],
        None,
    );
    assert_eq!(status, 401);
    // a source asking too often is told to wait
    assert_eq!(reset("010-1111-2222").0, 202);
    assert_eq!(reset("010-1111-2222").0, 202);
    assert_eq!(reset("010-1111-2222").0, 429);
}

#[tokio::test]
async fn unclaimed_dynamic_accounts_expire_with_their_queue() {
    let sw = switch("[accounts]\ndynamic_expiry_days = 30\n");
    let mut s = stranger(&sw).await;
    assert_eq!(says(&mut s, "010-1234-5678", b"anyone?").await, Some(202));
    let otp = password_in(&wait_for_sms(&sw.data, 1)[0]);
    let sweep = |days: u64| {
        let (code, body) = http(
            sw.http,
            "POST",
            "/admin/messaging/sweep",
            &[],
            Some(&format!("{{\"now\": {}}}", unix_now() + days * 86_400)),
        );
        assert_eq!(code, 200);
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    };
    assert_eq!(sweep(29)["expired_accounts"].as_array().unwrap().len(), 0);
    let report = sweep(31);
    assert_eq!(report["expired_accounts"][0], OWNER);
    let (code, _) = http(sw.http, "GET", &format!("/v1/accounts/{OWNER}"), &[], None);
    assert_eq!(code, 404);
    assert_eq!(sw.metric("switchboard_messages_queued"), 0.0);
    assert_eq!(sw.metric("switchboard_dynamic_accounts"), 0.0);
    let mut phone = Ua::new(sw.sip, OWNER, &otp, Proto::Udp).await;
    assert_eq!(phone.register(300).await.status(), Some(403));
}

#[tokio::test]
async fn a_landline_gets_a_voice_notice_recorded_instead_of_an_sms() {
    let sw = switch("");
    let mut s = stranger(&sw).await;
    assert_eq!(
        says(&mut s, "02-2123-4567", b"hello office").await,
        Some(202)
    );
    assert!(common::eventually(Duration::from_secs(5), || sw.metric(
        "switchboard_notifications_total{outcome=\"voice_pending\"}"
    ) == 1.0));
    assert!(sms_log(&sw.data).is_empty());
}

#[tokio::test]
async fn the_messages_api_sends_as_an_account_and_lists_and_removes_the_queue() {
    let sw = switch("");
    sw.add_account("1001", PW);
    sw.add_account("1002", PW);
    let send = |auth: &str, body: &str| {
        http(
            sw.http,
            "POST",
            "/v1/messages",
            &[("Authorization", auth)],
            Some(body),
        )
    };
    let (code, _) = send(
        &basic("1001", "wrong"),
        "{\"to\": \"1002\", \"text\": \"hi\"}",
    );
    assert_eq!(code, 401);
    let (code, body) = send(
        &basic("1001", PW),
        "{\"to\": \"1002\", \"text\": \"hi there\"}",
    );
    assert_eq!(code, 202, "{body}");
    let sent: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(sent["status"], "queued");
    let (code, _) = send(
        &basic("1001", PW),
        "{\"to\": \"+12125551234\", \"text\": \"x\"}",
    );
    assert_eq!(code, 404, "the API reaches this switch's numbers only");

    let list = |auth: &str| {
        http(
            sw.http,
            "GET",
            "/v1/accounts/1002/messages",
            &[("Authorization", auth)],
            None,
        )
    };
    assert_eq!(list(&basic("1001", PW)).0, 401, "another account's queue");
    let (code, body) = list(&basic("1002", PW));
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let m = &v["messages"][0];
    assert_eq!(m["text"], "hi there");
    assert_eq!(m["sender"], "1001");
    assert_eq!(m["id"], sent["id"]);
    let seq = m["seq"].as_u64().unwrap();
    let (code, _) = http(
        sw.http,
        "DELETE",
        &format!("/v1/accounts/1002/messages/{seq}"),
        &[("Authorization", &basic("1002", PW))],
        None,
    );
    assert_eq!(code, 204);
    let (_, body) = list(&basic("1002", PW));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["messages"].as_array().unwrap().len(), 0);

    // sent to an online number, it is delivered from the queue
    let mut phone = Ua::new(sw.sip, "1002", PW, Proto::Udp).await;
    assert_eq!(phone.register(300).await.status(), Some(200));
    let (code, body) = send(&basic("1001", PW), "{\"to\": \"1002\", \"text\": \"live\"}");
    assert_eq!(code, 202);
    assert!(body.contains("delivering"), "{body}");
    let m = phone.expect_request(Method::Message).await;
    assert_eq!(m.body(), b"live");
    phone.reply(&m, 200);
}

#[tokio::test]
async fn an_offline_notice_goes_out_through_the_smpp_gateway_to_an_smsc() {
    let smsc = common::smsc::Smsc::start("switchboard", "smsc-pw");
    let sw = switch(&format!(
        "gateway = \"smpp\"\n[notify.smpp]\naddress = \"{}\"\nsystem_id = \"switchboard\"\npassword = \"smsc-pw\"\nsource_addr = \"Switchboard\"\n",
        smsc.address()
    ));
    let mut s = stranger(&sw).await;
    assert_eq!(
        says(&mut s, "010-1234-5678", "안녕하세요".as_bytes()).await,
        Some(202)
    );
    assert!(common::eventually(Duration::from_secs(10), || !smsc
        .submits()
        .is_empty()));
    let sub = &smsc.submits()[0];
    assert_eq!(sub.destination, "821012345678");
    assert_eq!(sub.destination_ton_npi, (1, 1));
    let text = sub.text.clone().unwrap();
    assert!(text.contains("안녕하세요"), "{text}");
    let otp: String = text
        .split("your password is ")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let mut phone = Ua::new(sw.sip, OWNER, &otp, Proto::Udp).await;
    assert_eq!(phone.register(300).await.status(), Some(200));
    assert!(
        sms_log(&sw.data).is_empty(),
        "nothing went to the log gateway"
    );
}

#[tokio::test]
async fn an_offline_notice_goes_out_through_the_http_gateway_as_json() {
    let provider = common::sms_http::SmsHttp::start(200);
    let sw = switch(&format!(
        "gateway = \"http\"\n[notify.http]\nurl = \"{}\"\ntoken = \"provider-token\"\nfrom = \"Switchboard\"\n",
        provider.url("/sms")
    ));
    let mut s = stranger(&sw).await;
    assert_eq!(says(&mut s, "010-1234-5678", b"ping").await, Some(202));
    assert!(common::eventually(Duration::from_secs(10), || !provider
        .received()
        .is_empty()));
    let got = &provider.received()[0];
    assert_eq!(got.path, "/sms");
    assert_eq!(got.header("authorization"), Some("Bearer provider-token"));
    assert_eq!(got.json["to"], OWNER);
    assert_eq!(got.json["from"], "Switchboard");
    assert!(got.json["text"]
        .as_str()
        .unwrap()
        .starts_with("You have a message from +82 10-9999-0000: ping"));
    assert_eq!(
        sw.metric("switchboard_notifications_total{outcome=\"sent\"}"),
        1.0
    );
}

#[tokio::test]
async fn a_call_to_a_number_nobody_signed_up_makes_its_account_and_hears_unavailable() {
    let sw = switch("");
    sw.add_account("1001", PW);
    let mut caller = Ua::new(sw.sip, "1001", PW, Proto::Udp).await;
    let mut call = caller.invite("010-1234-5678").await;
    let out = caller.invite_outcome(&mut call).await;
    assert_eq!(out.status(), Some(480), "unavailable, not unknown");
    let (code, body) = http(sw.http, "GET", &format!("/v1/accounts/{OWNER}"), &[], None);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"dynamic\":true"), "{body}");
    // a number outside our ranges gets no account
    let mut call = caller.invite("+12125551234").await;
    assert_ne!(caller.invite_outcome(&mut call).await.status(), Some(480));
    let (code, _) = http(sw.http, "GET", "/v1/accounts/+12125551234", &[], None);
    assert_eq!(code, 404);
}

#[tokio::test]
async fn ten_wrong_answers_revoke_a_one_time_password() {
    let sw = switch("");
    let mut s = stranger(&sw).await;
    assert_eq!(says(&mut s, "010-1234-5678", b"knock").await, Some(202));
    let otp = password_in(&wait_for_sms(&sw.data, 1)[0]);
    let wrong = if otp == "000000" { "111111" } else { "000000" };
    let mut guesser = Ua::new(sw.sip, OWNER, wrong, Proto::Udp).await;
    for _ in 0..10 {
        assert_eq!(guesser.register(300).await.status(), Some(403));
    }
    let mut owner = Ua::new(sw.sip, OWNER, &otp, Proto::Udp).await;
    assert_eq!(
        owner.register(300).await.status(),
        Some(403),
        "the right code no longer works once guessed at"
    );
    // and over HTTP the same: a reset brings a fresh code that works
    let (code, _) = http(
        sw.http,
        "POST",
        &format!("/v1/accounts/{OWNER}/password-reset"),
        &[],
        None,
    );
    assert_eq!(code, 202);
    let sms = wait_for_sms(&sw.data, 2);
    let text = sms[1]["text"].as_str().unwrap();
    let fresh: String = text
        .trim_start_matches("Your password reset code is ")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let mut owner = Ua::new(sw.sip, OWNER, &fresh, Proto::Udp).await;
    assert_eq!(owner.register(300).await.status(), Some(200));
}
