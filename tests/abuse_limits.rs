//! Abuse limits at their boundaries: messages stored for numbers nobody signed up (per number
//! and per source per hour: the Nth is stored, the next is answered 503 Too Many Messages
//! with Retry-After), dynamic accounts per source per hour, and one-time-password SMS per
//! number (over HTTP 429 with Retry-After; in a notice, no new code).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::ua::{Proto, Ua};
use common::{fresh_ip, http, http_raw, sms_log, wait_for_sms, Options, Switch};
use switchboard_engine::sip::Message;

const STRANGER: &str = "sip:+821099990000@elsewhere.example";

fn switch(extra: &str) -> Switch {
    Switch::with(Options {
        config: format!(
            "[numbering]\nown_ranges = [\"+8210\"]\n[notify]\ncoalesce_ms = 300\nmin_interval_secs = 1\n[security]\ntrusted = []\n{extra}"
        ),
        ..Default::default()
    })
}

/// A sender outside the switch's domain on an address of its own.
async fn stranger(sw: &Switch) -> Ua {
    Ua::on(sw.sip, SocketAddr::new(fresh_ip(), 0), "stranger", "").await
}

async fn says(s: &mut Ua, to: &str) -> Message {
    s.message(to, Some(STRANGER), "text/plain", b"hello").await
}

fn retry_after(m: &Message) -> u64 {
    m.header_by_name("Retry-After")
        .and_then(|v| v.trim().parse().ok())
        .expect("a Retry-After")
}

/// The Retry-After of an HTTP answer's head.
fn http_retry_after(head: &str) -> u64 {
    head.lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("retry-after")
                .then(|| v.trim().parse().ok())?
        })
        .expect("a Retry-After header")
}

#[tokio::test]
async fn messages_for_numbers_nobody_signed_up_are_limited_per_number_then_per_source() {
    let sw = switch(
        "[messaging]\nunregistered_per_number_per_hour = 3\nunregistered_per_source_per_hour = 5\n",
    );
    let mut s = stranger(&sw).await;
    for k in 0..3 {
        assert_eq!(
            says(&mut s, "010-1234-5678").await.status(),
            Some(202),
            "message {k} to the number"
        );
    }
    let refused = says(&mut s, "010-1234-5678").await;
    assert_eq!(
        refused.status(),
        Some(503),
        "the 4th for the number in an hour"
    );
    assert_eq!(refused.reason(), Some("Too Many Messages"));
    assert!((3590..=3600).contains(&retry_after(&refused)));

    assert_eq!(says(&mut s, "010-2222-3333").await.status(), Some(202));
    assert_eq!(says(&mut s, "010-2222-3333").await.status(), Some(202));
    let refused = says(&mut s, "010-2222-3333").await;
    assert_eq!(refused.status(), Some(503), "the source's 6th in an hour");
    assert!(retry_after(&refused) > 3500);

    // another source still reaches that number (2 of its 3)
    let mut other = stranger(&sw).await;
    assert_eq!(says(&mut other, "010-2222-3333").await.status(), Some(202));
    // and a number whose owner signed up is not limited
    let (code, out) = http(
        sw.http,
        "POST",
        "/v1/accounts",
        &[],
        Some("{\"number\": \"010-7777-8888\", \"password\": \"pw-777888\"}"),
    );
    assert_eq!(code, 201, "{out}");
    assert_eq!(says(&mut s, "010-7777-8888").await.status(), Some(202));

    assert_eq!(
        sw.metric("switchboard_abuse_refusals_total{limit=\"unregistered_number\"}"),
        1.0
    );
    assert_eq!(
        sw.metric("switchboard_abuse_refusals_total{limit=\"unregistered_source\"}"),
        1.0
    );
}

#[tokio::test]
async fn a_source_makes_a_limited_number_of_dynamic_accounts_an_hour() {
    let sw = switch("[accounts]\ndynamic_per_source_per_hour = 2\n");
    let mut s = stranger(&sw).await;
    assert_eq!(says(&mut s, "010-1000-0001").await.status(), Some(202));
    assert_eq!(says(&mut s, "010-1000-0002").await.status(), Some(202));
    let refused = says(&mut s, "010-1000-0003").await;
    assert_eq!(refused.status(), Some(503), "a third dynamic account");
    assert!(retry_after(&refused) > 3500);
    let exists = |n: &str| http(sw.http, "GET", &format!("/v1/accounts/{n}"), &[], None).0;
    assert_eq!(exists("+821010000002"), 200);
    assert_eq!(exists("+821010000003"), 404, "not made");
    // a number that has its dynamic account already takes no new one
    assert_eq!(says(&mut s, "010-1000-0001").await.status(), Some(202));
    assert_eq!(
        sw.metric("switchboard_abuse_refusals_total{limit=\"dynamic_source\"}"),
        1.0
    );
}

#[test]
fn password_reset_codes_are_limited_per_number_and_spaced_apart() {
    let sw = switch(
        "[accounts]\notp_per_number = 3\notp_window_secs = 600\notp_min_interval_secs = 2\n",
    );
    let reset = |n: &str| {
        http_raw(
            sw.http,
            "POST",
            &format!("/v1/accounts/{n}/password-reset"),
            None,
        )
    };
    assert_eq!(reset("010-5555-0001").0, 202);
    let (code, head, _) = reset("010-5555-0001");
    assert_eq!(code, 429, "too soon after the first");
    assert!((1..=2).contains(&http_retry_after(&head)), "{head}");
    assert_eq!(reset("010-5555-0002").0, 202, "numbers apart");
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(reset("010-5555-0001").0, 202, "the second, 2 s later");
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(reset("010-5555-0001").0, 202, "the third");
    std::thread::sleep(Duration::from_millis(2100));
    let (code, head, _) = reset("010-5555-0001");
    assert_eq!(code, 429, "a fourth within ten minutes");
    let wait = http_retry_after(&head);
    assert!(
        (580..=600).contains(&wait),
        "until the first leaves the window: {wait}"
    );
    assert_eq!(
        sw.metric("switchboard_abuse_refusals_total{limit=\"otp\"}"),
        2.0
    );
}

#[tokio::test]
async fn a_notice_past_the_one_time_password_limit_carries_no_new_code() {
    let sw = switch("[accounts]\notp_per_number = 1\notp_min_interval_secs = 0\n");
    let mut s = stranger(&sw).await;
    assert_eq!(says(&mut s, "010-1234-5678").await.status(), Some(202));
    let sms = wait_for_sms(&sw.data, 1);
    let text = sms[0]["text"].as_str().unwrap().to_owned();
    assert!(text.contains("your password is "), "{text}");
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(says(&mut s, "010-1234-5678").await.status(), Some(202));
    let sms = wait_for_sms(&sw.data, 2);
    let second = sms[1]["text"].as_str().unwrap();
    assert!(!second.contains("password is"), "{second}");
    assert_eq!(
        sw.metric("switchboard_abuse_refusals_total{limit=\"otp\"}"),
        1.0
    );
    // the code of the first notice still signs the owner in
    let at = text.find("your password is ").unwrap() + 17;
    let otp: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let mut phone = Ua::new(sw.sip, "+821012345678", &otp, Proto::Udp).await;
    assert_eq!(phone.register(300).await.status(), Some(200));
    assert_eq!(sms_log(&sw.data).len(), 2);
}
