//! Buying a number: a golden number found, held, paid and then ringing the buyer's phone;
//! enterprise orders waiting for the operator's approval, a refused one freeing its number.

use super::*;

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
