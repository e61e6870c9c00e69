//! The hot-desk voice menu end to end (real SIP, real RTP, keys by RFC 4733): a registered
//! phone dials `*55` alone, the switch answers and speaks, the phone keys the member's number
//! and `#`, a wrong PIN and `#` (asked again), then the number and the right PIN; the switch
//! says so and hangs up, and from then on a call to the member's number rings that phone
//! too. A trunk's call to `*55` is refused like any feature code.
//!
//! The prompts are speech and are not listened for, only heard.

mod common;

use std::time::{Duration, Instant};

use common::media::{PATIENCE, PW};
use common::rtp::{remote_of, RtpPhone};
use common::ua::{Call, Proto, Ua};
use common::{http, Options, Switch};
use switchboard_actors::prompts::PromptSet;
use switchboard_engine::media::Codec;
use switchboard_engine::sip::{Message, Method};

/// The member's number and hot-desk PIN.
const MEMBER: &str = "1001";
const PIN: &str = "2468";
/// The desk phone.
const DESK: &str = "1003";

fn switch() -> Switch {
    let sw = Switch::with(Options::default());
    for a in [MEMBER, "1002", DESK] {
        sw.add_account(a, PW);
    }
    let body = format!(
        r#"{{"name":"Kim Minji","email":"minji@example.com","country":"KR",
            "numbers":["{MEMBER}"],"hotdesk_pin":"{PIN}"}}"#
    );
    let (code, out) = http(sw.http, "POST", "/v1/members", &[], Some(&body));
    assert_eq!(code, 201, "{out}");
    sw
}

async fn registered(sw: &Switch, user: &str) -> Ua {
    let mut ua = Ua::new(sw.sip, user, PW, Proto::Udp).await;
    assert_eq!(ua.register(600).await.status(), Some(200), "{user}");
    ua
}

/// `ua` dials `*55` with `rtp`'s media; the switch answers and speaks.
async fn dial_menu(ua: &mut Ua, rtp: &mut RtpPhone) -> Call {
    let offer = rtp.sdp(&[Codec::Pcmu], rtp.local().ip());
    let mut call = ua.invite_sdp("*55", &offer).await;
    let ok = ua.invite_outcome(&mut call).await;
    assert_eq!(ok.status(), Some(200), "the switch answers *55: {ok:?}");
    let remote = remote_of(ok.body(), &[Codec::Pcmu]).expect("with its media");
    rtp.start_towards(&remote, 660.0);
    assert!(
        rtp.wait_heard(Duration::from_millis(500), PATIENCE).await,
        "the menu speaks"
    );
    call
}

/// How long the prompt set's `clips` take, one after another.
fn spoken(clips: &[&str]) -> Duration {
    clips
        .iter()
        .map(|c| {
            PromptSet::embedded()
                .duration(c)
                .expect("a clip of the set")
        })
        .sum()
}

/// Waits for the switch's BYE of `call` (answered); how long after `since` it came.
async fn hung_up(ua: &mut Ua, call: &Call, since: Instant) -> Duration {
    let cid = call.call_id.clone();
    let bye = ua
        .recv_where(PATIENCE, move |m| {
            m.method() == Some(Method::Bye) && m.call_id() == Some(cid.as_str())
        })
        .await
        .expect("the switch hangs up");
    let after = since.elapsed();
    ua.reply(&bye, 200);
    after
}

/// Keys `digits`, then lets the switch answer for `settle`.
async fn keys(rtp: &RtpPhone, digits: &str, settle: Duration) {
    rtp.send_digits(digits);
    tokio::time::sleep(settle).await;
}

/// A call from `caller` to `to`; the INVITEs `phones` got (each turns it down with 486).
async fn ring(caller: &mut Ua, to: &str, phones: &mut [&mut Ua]) -> Vec<Message> {
    let mut call = caller.invite(to).await;
    let mut got = Vec::new();
    for p in phones.iter_mut() {
        let inv = p.expect_request(Method::Invite).await;
        p.reply(&inv, 486);
        got.push(inv);
    }
    assert_eq!(caller.invite_outcome(&mut call).await.status(), Some(486));
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn star_55_alone_asks_the_number_and_pin_by_keys_and_signs_the_phone_in() {
    let sw = switch();
    let mut own = registered(&sw, MEMBER).await;
    let mut caller = registered(&sw, "1002").await;
    let mut desk = registered(&sw, DESK).await;
    let mut rtp = RtpPhone::bind(desk.local.ip());

    let call = dial_menu(&mut desk, &mut rtp).await;
    // a wrong PIN first: the number is asked again, nothing is signed in
    keys(&rtp, &format!("{MEMBER}#"), Duration::from_millis(800)).await;
    keys(&rtp, "1357#", Duration::from_millis(1500)).await;
    keys(&rtp, &format!("{MEMBER}#"), Duration::from_millis(800)).await;
    let keyed = Instant::now();
    keys(&rtp, &format!("{PIN}#"), Duration::ZERO).await;
    // the switch says the phone is signed in, and goodbye, before it hangs up
    let words = spoken(&["hotdesk-signed-in", "goodbye"]);
    let took = hung_up(&mut desk, &call, keyed).await;
    rtp.stop();
    assert!(
        words <= took && took <= words + Duration::from_secs(5),
        "hung up {took:?} after the PIN, for {words:?} of last words"
    );

    // the member's number now rings the desk phone too, and the desk presents it
    ring(&mut caller, MEMBER, &mut [&mut desk, &mut own]).await;
    let inv = ring(&mut desk, "1002", &mut [&mut caller]).await;
    let pai = inv[0]
        .header_by_name("P-Asserted-Identity")
        .expect("P-Asserted-Identity");
    assert!(pai.contains(&format!("sip:{MEMBER}@")), "{pai}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_wrong_tries_end_the_menu_and_sign_nothing_in() {
    let sw = switch();
    let mut own = registered(&sw, MEMBER).await;
    let mut caller = registered(&sw, "1002").await;
    let mut desk = registered(&sw, DESK).await;
    let mut rtp = RtpPhone::bind(desk.local.ip());

    let call = dial_menu(&mut desk, &mut rtp).await;
    let mut keyed = Instant::now();
    for pin in ["1111", "2222", "3333"] {
        keys(&rtp, &format!("{MEMBER}#"), Duration::from_millis(800)).await;
        keyed = Instant::now();
        keys(&rtp, &format!("{pin}#"), Duration::from_millis(1500)).await;
    }
    let words = spoken(&["hotdesk-wrong", "goodbye"]);
    let took = hung_up(&mut desk, &call, keyed).await;
    rtp.stop();
    assert!(
        words <= took && took <= words + Duration::from_secs(5),
        "goodbye after the third wrong try: hung up {took:?} after it, for {words:?} of words"
    );

    ring(&mut caller, MEMBER, &mut [&mut own]).await;
    assert!(
        desk.maybe_request(Method::Invite, Duration::from_millis(500))
            .await
            .is_none(),
        "the desk phone is not signed in"
    );
}
