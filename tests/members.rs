//! Members end to end: made over HTTP, an outside number verified by the code the notifier
//! sent (the `log` gateway's `sms.log`), then calls and messages to it reaching the member's
//! registered phone while an unverified one reaches nobody; hot desk signing a second phone
//! in with `*55<number>*<pin>` (it rings for the member's number and presents it), out with
//! `*56`, a wrong PIN refused, and a session kept across a restart. Removing an account takes
//! it off its member (calls to the member's outside number ring its other number, the phone
//! signed in as the removed one is signed out); deleting a member frees its outside numbers
//! and leaves its accounts.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::ua::{Proto, Ua};
use common::{fresh_ip, http, wait_for_sms, Options, Switch};
use switchboard_engine::sip::{Message, Method};

const PW: &str = "test-password";
/// The member's PSTN number as typed, and canonical.
const MOBILE: &str = "010-1234-5678";
const MOBILE_E164: &str = "+821012345678";
/// A number the member holds at another provider, never verified.
const OTHER_E164: &str = "+827012345678";

fn switch(accounts: &[&str]) -> Switch {
    let sw = Switch::with(Options {
        // numbers outside +8211 are the PSTN's or another provider's
        config: "[numbering]\nown_ranges = [\"+8211\"]\n".into(),
        ..Options::default()
    });
    for a in accounts {
        sw.add_account(a, PW);
    }
    sw
}

async fn registered(sw: &Switch, user: &str) -> Ua {
    let mut ua = Ua::new(sw.sip, user, PW, Proto::Udp).await;
    assert_eq!(
        ua.register(600).await.status(),
        Some(200),
        "{user} registers"
    );
    ua
}

fn post(sw: &Switch, path: &str, body: &str) -> (u16, serde_json::Value) {
    let (code, out) = http(sw.http, "POST", path, &[], Some(body));
    (code, serde_json::from_str(&out).unwrap_or_default())
}

/// Makes a member owning 1001 and returns its id.
fn member(sw: &Switch, extra: &str) -> String {
    let body = format!(
        r#"{{"name":"Kim Minji","email":"minji@example.com","country":"KR","numbers":["1001"]{extra}}}"#
    );
    let (code, m) = post(sw, "/v1/members", &body);
    assert_eq!(code, 201, "{m}");
    m["id"].as_str().unwrap().to_owned()
}

/// The six-digit code in the `n`th SMS the notifier sent to `to`.
fn code_sent(sw: &Switch, n: usize, to: &str) -> String {
    let sms = wait_for_sms(&sw.data, n);
    assert_eq!(sms[n - 1]["to"], to);
    let text = sms[n - 1]["text"].as_str().unwrap();
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a six-digit code")
        .to_owned()
}

/// Dials a hot-desk code and goes through the switch's answer (200, ACK, its BYE); the final
/// response.
async fn dial(ua: &mut Ua, code: &str) -> Message {
    let mut call = ua.invite(code).await;
    let r = ua.invite_outcome(&mut call).await;
    if r.status() == Some(200) {
        let bye = ua.expect_request(Method::Bye).await;
        ua.reply(&bye, 200);
    }
    r
}

/// A call from `caller` to `to` that `callee` gets (and turns down with 486).
async fn rings(caller: &mut Ua, to: &str, callee: &mut Ua) -> Message {
    let mut call = caller.invite(to).await;
    let inv = callee.expect_request(Method::Invite).await;
    callee.reply(&inv, 486);
    assert_eq!(caller.invite_outcome(&mut call).await.status(), Some(486));
    inv
}

#[tokio::test]
async fn a_verified_outside_number_reaches_the_member_and_an_unverified_one_nobody() {
    let sw = switch(&["1001", "1002"]);
    let mut member_phone = registered(&sw, "1001").await;
    let mut caller = registered(&sw, "1002").await;
    let id = member(
        &sw,
        &format!(r#","reachable_at":"{MOBILE}","other_numbers":["+82 70 1234 5678"]"#),
    );

    // clear refusals
    let (code, e) = post(
        &sw,
        "/v1/members",
        r#"{"name":"X","email":"x@example.com","country":"KR","numbers":["1002"],"reachable_at":"010-1234-5678"}"#,
    );
    assert_eq!(
        (code, e["code"].as_str()),
        (409, Some("number_claimed")),
        "{e}"
    );
    let (code, e) = post(
        &sw,
        "/v1/members",
        r#"{"name":"X","email":"nobody","country":"KR","numbers":["1002"]}"#,
    );
    assert_eq!((code, e["code"].as_str()), (400, Some("bad_email")), "{e}");
    let (code, e) = post(
        &sw,
        "/v1/members",
        r#"{"name":"X","email":"x@example.com","country":"KR","numbers":["1009"]}"#,
    );
    assert_eq!((code, e["code"].as_str()), (422, Some("no_account")), "{e}");

    // before verification, the number routes as any outside number: the member never rings
    let mut call = caller.invite(MOBILE_E164).await;
    let r = caller.invite_outcome(&mut call).await;
    assert!(
        r.status().is_some_and(|s| s >= 400),
        "refused: {:?}",
        r.status()
    );
    assert!(member_phone
        .maybe_request(Method::Invite, Duration::from_millis(500))
        .await
        .is_none());

    // the code goes out by SMS to the number claimed
    let verify = format!("/v1/members/{id}/numbers/{MOBILE_E164}/verification");
    let (code, body) = post(&sw, &verify, "{}");
    assert_eq!(code, 202, "{body}");
    let sent = code_sent(&sw, 1, MOBILE_E164);
    let wrong = if sent == "000000" { "111111" } else { "000000" };
    let (code, e) = post(
        &sw,
        &format!("{verify}/confirm"),
        &format!(r#"{{"code":"{wrong}"}}"#),
    );
    assert_eq!((code, e["code"].as_str()), (422, Some("wrong_code")), "{e}");
    assert_eq!(e["attempts_left"], 4);
    let (code, v) = post(
        &sw,
        &format!("{verify}/confirm"),
        &format!(r#"{{"code":"{sent}"}}"#),
    );
    assert_eq!((code, v["verified"].as_bool()), (200, Some(true)), "{v}");
    let (code, e) = post(&sw, &verify, "{}");
    assert_eq!((code, e["code"].as_str()), (409, Some("already_verified")));

    // now a call and a text to it reach the member's phone
    let inv = rings(&mut caller, MOBILE_E164, &mut member_phone).await;
    assert!(inv.request_uri().is_some(), "an INVITE");
    let (sent, got) = tokio::join!(caller.text(MOBILE_E164, "hello member"), async {
        let m = member_phone.expect_request(Method::Message).await;
        member_phone.reply(&m, 200);
        m
    });
    assert_eq!(sent.status(), Some(200));
    assert_eq!(got.body(), b"hello member");

    // the provider number, claimed but never verified, reaches nobody
    let r = caller.text(OTHER_E164, "not for the member").await;
    assert!(r.status().is_some_and(|s| s >= 400), "{:?}", r.status());
    assert!(member_phone
        .maybe_request(Method::Message, Duration::from_millis(500))
        .await
        .is_none());

    let (code, m) = http(sw.http, "GET", &format!("/v1/members/{id}"), &[], None);
    let m: serde_json::Value = serde_json::from_str(&m).unwrap();
    assert_eq!(code, 200);
    assert_eq!(m["outside_numbers"][0]["verified"], true);
    assert_eq!(m["outside_numbers"][1]["number"], OTHER_E164);
    assert_eq!(m["outside_numbers"][1]["verified"], false);
}

#[tokio::test]
async fn a_call_from_a_trunk_to_a_verified_number_reaches_the_member() {
    let gw = SocketAddr::new(fresh_ip(), 5080);
    let sw = Switch::with(Options {
        config: format!(
            "[numbering]\nown_ranges = [\"+8211\"]\n\n[[trunks]]\nname = \"carrier\"\n\
             group = \"pstn\"\naddress = \"{gw}\"\n"
        ),
        ..Options::default()
    });
    sw.add_account("1001", PW);
    let mut member_phone = registered(&sw, "1001").await;
    let mut carrier = Ua::at(sw.sip, gw, "carrier").await;
    let id = member(&sw, &format!(r#","reachable_at":"{MOBILE}""#));

    // unverified: the carrier's call is not ours to take (no transit), the member never rings
    let sdp = carrier.sdp();
    let mut call = carrier.invite_with(MOBILE_E164, &sdp, false).await;
    let r = carrier.invite_outcome(&mut call).await;
    assert_eq!(r.status(), Some(403));
    assert!(member_phone
        .maybe_request(Method::Invite, Duration::from_millis(300))
        .await
        .is_none());

    let verify = format!("/v1/members/{id}/numbers/{MOBILE_E164}/verification");
    assert_eq!(post(&sw, &verify, "{}").0, 202);
    let code = code_sent(&sw, 1, MOBILE_E164);
    let (status, v) = post(
        &sw,
        &format!("{verify}/confirm"),
        &format!(r#"{{"code":"{code}"}}"#),
    );
    assert_eq!(status, 200, "{v}");

    let mut call = carrier.invite_with(MOBILE_E164, &sdp, false).await;
    let inv = member_phone.expect_request(Method::Invite).await;
    member_phone.reply(&inv, 486);
    assert_eq!(carrier.invite_outcome(&mut call).await.status(), Some(486));
}

#[tokio::test]
async fn hot_desk_rings_a_second_phone_until_it_signs_out() {
    let mut sw = switch(&["1001", "1002", "1003"]);
    let mut own_phone = registered(&sw, "1001").await;
    let mut caller = registered(&sw, "1002").await;
    let mut desk = registered(&sw, "1003").await;
    member(&sw, r#","hotdesk_pin":"2468""#);

    let r = dial(&mut desk, "*551001*1357").await;
    assert_eq!(r.status(), Some(403), "a wrong PIN is refused");
    assert!(
        own_phone
            .maybe_request(Method::Invite, Duration::from_millis(200))
            .await
            .is_none(),
        "nothing rings for a code"
    );
    let r = dial(&mut desk, "*551001*2468").await;
    assert_eq!(
        (r.status(), r.reason()),
        (Some(200), Some("Hot Desk Signed In"))
    );

    // the member's number rings both phones
    let mut call = caller.invite("1001").await;
    let at_desk = desk.expect_request(Method::Invite).await;
    let at_own = own_phone.expect_request(Method::Invite).await;
    desk.reply(&at_desk, 486);
    own_phone.reply(&at_own, 486);
    assert_eq!(caller.invite_outcome(&mut call).await.status(), Some(486));

    // the desk phone presents the member's number
    let inv = rings(&mut desk, "1002", &mut caller).await;
    let pai = inv
        .header_by_name("P-Asserted-Identity")
        .expect("P-Asserted-Identity");
    assert!(pai.contains("sip:1001@"), "{pai}");

    // the session survives a restart
    assert_eq!(sw.stop(), Some(0));
    sw.spawn();
    let mut call = caller.invite("1001").await;
    let at_desk = desk.expect_request(Method::Invite).await;
    let at_own = own_phone.expect_request(Method::Invite).await;
    desk.reply(&at_desk, 486);
    own_phone.reply(&at_own, 486);
    assert_eq!(caller.invite_outcome(&mut call).await.status(), Some(486));

    let r = dial(&mut desk, "*56").await;
    assert_eq!(
        (r.status(), r.reason()),
        (Some(200), Some("Hot Desk Signed Out"))
    );
    rings(&mut caller, "1001", &mut own_phone).await;
    assert!(
        desk.maybe_request(Method::Invite, Duration::from_millis(500))
            .await
            .is_none(),
        "the desk phone no longer rings for the member"
    );
}

#[tokio::test]
async fn a_removed_account_leaves_its_member_and_a_deleted_member_frees_its_claims() {
    let sw = switch(&["1001", "1002", "1003", "1004"]);
    let mut own_phone = registered(&sw, "1001").await;
    let mut caller = registered(&sw, "1002").await;
    let mut desk = registered(&sw, "1003").await;
    let (status, m) = post(
        &sw,
        "/v1/members",
        &format!(
            r#"{{"name":"Kim Minji","email":"minji@example.com","country":"KR",
                "numbers":["1004","1001"],"reachable_at":"{MOBILE}","hotdesk_pin":"2468"}}"#
        ),
    );
    assert_eq!(status, 201, "{m}");
    let id = m["id"].as_str().unwrap().to_owned();
    let verify = format!("/v1/members/{id}/numbers/{MOBILE_E164}/verification");
    assert_eq!(post(&sw, &verify, "{}").0, 202);
    let code = code_sent(&sw, 1, MOBILE_E164);
    let (status, v) = post(
        &sw,
        &format!("{verify}/confirm"),
        &format!(r#"{{"code":"{code}"}}"#),
    );
    assert_eq!(status, 200, "{v}");
    let r = dial(&mut desk, "*551004*2468").await;
    assert_eq!(r.status(), Some(200), "the desk phone signs in as 1004");

    // the member's first number goes
    let (status, body) = http(sw.http, "DELETE", "/v1/accounts/1004", &[], None);
    assert_eq!(status, 204, "{body}");
    let (status, _) = http(sw.http, "DELETE", "/v1/accounts/1004", &[], None);
    assert_eq!(status, 404, "gone already");
    let (_, m) = http(sw.http, "GET", &format!("/v1/members/{id}"), &[], None);
    let m: serde_json::Value = serde_json::from_str(&m).unwrap();
    assert_eq!(m["numbers"], serde_json::json!(["1001"]), "{m}");

    // the outside number now rings the member's remaining number, and not the desk phone
    rings(&mut caller, MOBILE_E164, &mut own_phone).await;
    assert!(
        desk.maybe_request(Method::Invite, Duration::from_millis(500))
            .await
            .is_none(),
        "the phone signed in as 1004 was signed out"
    );
    let r = dial(&mut desk, "*551004*2468").await;
    assert_eq!(r.status(), Some(403), "no member owns 1004 now");

    // deleting the member frees its outside number and keeps its account
    let (status, _) = http(sw.http, "DELETE", &format!("/v1/members/{id}"), &[], None);
    assert_eq!(status, 204);
    let mut call = caller.invite(MOBILE_E164).await;
    let r = caller.invite_outcome(&mut call).await;
    assert!(r.status().is_some_and(|s| s >= 400), "{:?}", r.status());
    assert!(own_phone
        .maybe_request(Method::Invite, Duration::from_millis(500))
        .await
        .is_none());
    let (status, e) = post(
        &sw,
        "/v1/members",
        &format!(
            r#"{{"name":"Lee","email":"lee@example.com","country":"KR","numbers":["1001"],"reachable_at":"{MOBILE}"}}"#
        ),
    );
    assert_eq!(status, 201, "the number and the claim are free again: {e}");
    assert_eq!(e["outside_numbers"][0]["verified"], false, "{e}");
    rings(&mut caller, "1001", &mut own_phone).await;
}
