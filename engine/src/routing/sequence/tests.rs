use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::flow::Transport;
use crate::numbering::NumberFormat;
use crate::trunk::{Trunk, TrunkCredentials};

fn sub(a: &str) -> Destination {
    Destination::Subscriber(Aor::from_canonical(a))
}

fn addr(a: &str) -> Target {
    Target::Address(sub(a))
}

fn deliver(a: &str, otherwise: Fallbacks) -> Decision {
    Decision::Deliver {
        aor: Aor::from_canonical(a),
        otherwise,
    }
}

fn forward(a: &str) -> Decision {
    Decision::Forward {
        target: addr(a),
        reason: DiversionReason::Unconditional,
    }
}

fn trunks() -> Trunks {
    let t = |name: &str, port: u16, creds: bool| Trunk {
        name: name.into(),
        group: "pstn".into(),
        remote: SocketAddr::from(([127, 0, 0, 1], port)),
        transport: Transport::Udp,
        credentials: creds.then(|| TrunkCredentials {
            username: "sb".into(),
            password: "pw".into(),
        }),
        format: NumberFormat::default(),
        no_response: Duration::from_secs(5),
    };
    Trunks::new(vec![t("gw-a", 5080, true), t("gw-b", 5081, false)])
}

fn to_trunk(group: &str) -> Decision {
    Decision::Trunk {
        group: group.into(),
        number: "+12125551234".into(),
    }
}

fn seq(first: &str) -> RouteSequence {
    RouteSequence::new(true, first.into(), crate::forwarding::MAX_HOPS)
}

fn route_to(a: &str) -> Step {
    Step::Route {
        destination: sub(a),
        announce: true,
    }
}

#[test]
fn a_plain_delivery_locates_then_forks() {
    let t0 = Instant::now();
    let mut s = seq("1001");
    assert_eq!(
        s.decided(deliver("1001", Fallbacks::default()), &trunks()),
        Step::Locate {
            aor: Aor::from_canonical("1001")
        }
    );
    assert_eq!(s.located(t0, true, 2), Step::Fork);
    assert_eq!(s.poll_timeout(), None, "no no-answer forward, no timer");
    s.answered();
    assert!(s.is_done());
    assert_eq!(
        s.failed(486, &trunks()),
        Step::Wait,
        "nothing after the answer"
    );
    assert_eq!(s.history_headers("sb"), "");
}

#[test]
fn unconditional_forwards_are_followed_hop_by_hop_and_recorded() {
    let t0 = Instant::now();
    let mut s = seq("1001");
    assert_eq!(s.decided(forward("1002"), &trunks()), route_to("1002"));
    assert_eq!(s.decided(forward("1003"), &trunks()), route_to("1003"));
    assert!(matches!(
        s.decided(deliver("1003", Fallbacks::default()), &trunks()),
        Step::Locate { .. }
    ));
    assert_eq!(s.located(t0, true, 1), Step::Fork);
    let hist: Vec<&str> = s.history().iter().map(|h| h.address.as_str()).collect();
    assert_eq!(hist, ["1001", "1002"]);
    let h = s.history_headers("sb");
    assert!(
        h.contains("<sip:1003@sb;cause=302>;index=1.1.1;mp=1.1"),
        "{h}"
    );
    assert!(
        h.contains("Diversion: <sip:1002@sb>;reason=unconditional"),
        "{h}"
    );
}

#[test]
fn busy_devices_send_the_call_to_the_busy_forward() {
    let t0 = Instant::now();
    let mut s = seq("1001");
    let fb = Fallbacks {
        busy: Some(addr("1002")),
        ..Default::default()
    };
    s.decided(deliver("1001", fb), &trunks());
    s.located(t0, true, 1);
    assert_eq!(s.failed(486, &trunks()), route_to("1002"));
    assert_eq!(s.history()[0].reason, DiversionReason::UserBusy);
    s.decided(deliver("1002", Fallbacks::default()), &trunks());
    s.located(t0, true, 1);
    assert_eq!(
        s.failed(486, &trunks()),
        Step::Seal,
        "no busy forward at 1002"
    );
}

#[test]
fn a_declined_or_not_found_answer_without_a_fallback_is_final() {
    let t0 = Instant::now();
    let mut s = seq("1001");
    let fb = Fallbacks {
        no_answer: Some((addr("1003"), Duration::from_secs(10))),
        ..Default::default()
    };
    s.decided(deliver("1001", fb), &trunks());
    s.located(t0, true, 1);
    assert_eq!(s.failed(404, &trunks()), Step::Seal);
    assert_eq!(s.decided(forward("1004"), &trunks()), Step::Wait);
}

#[test]
fn unanswered_devices_are_cancelled_after_the_ring_time_then_forwarded() {
    let t0 = Instant::now();
    let mut s = seq("1001");
    let fb = Fallbacks {
        no_answer: Some((addr("1003"), Duration::from_secs(10))),
        ..Default::default()
    };
    s.decided(deliver("1001", fb), &trunks());
    assert_eq!(s.located(t0, true, 2), Step::Fork);
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    assert_eq!(s.handle_timeout(t0 + Duration::from_secs(5)), Step::Wait);
    assert_eq!(s.handle_timeout(t0 + Duration::from_secs(10)), Step::Cancel);
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(s.failed(487, &trunks()), route_to("1003"));
    assert_eq!(s.history()[0].reason, DiversionReason::NoAnswer);
}

#[test]
fn a_cancel_by_the_caller_is_not_a_no_answer() {
    let t0 = Instant::now();
    let mut s = seq("1001");
    let fb = Fallbacks {
        no_answer: Some((addr("1003"), Duration::from_secs(10))),
        ..Default::default()
    };
    s.decided(deliver("1001", fb), &trunks());
    s.located(t0, true, 1);
    // a 487 without our no-answer cancel: the caller hung up
    assert_eq!(s.failed(487, &trunks()), Step::Seal);
}

#[test]
fn phones_answering_no_answer_themselves_are_forwarded_too() {
    let t0 = Instant::now();
    let mut s = seq("1001");
    let fb = Fallbacks {
        no_answer: Some((addr("1003"), Duration::from_secs(30))),
        ..Default::default()
    };
    s.decided(deliver("1001", fb), &trunks());
    s.located(t0, true, 1);
    assert_eq!(s.failed(480, &trunks()), route_to("1003"));
}

#[test]
fn unreachable_subscribers_forward_or_answer_480_or_404() {
    let t0 = Instant::now();
    let fb = Fallbacks {
        unreachable: Some(addr("1009")),
        ..Default::default()
    };
    let mut s = seq("1001");
    s.decided(deliver("1001", fb), &trunks());
    assert_eq!(s.located(t0, true, 0), route_to("1009"));
    assert_eq!(s.history()[0].reason, DiversionReason::Unavailable);

    let mut s = seq("1001");
    s.decided(deliver("1001", Fallbacks::default()), &trunks());
    assert_eq!(
        s.located(t0, true, 0),
        Step::Respond {
            code: 480,
            reason: "Temporarily Unavailable".into()
        }
    );
    let mut s = seq("1001");
    s.decided(deliver("1001", Fallbacks::default()), &trunks());
    assert_eq!(
        s.located(t0, false, 0),
        Step::Respond {
            code: 404,
            reason: "Not Found".into()
        }
    );
}

#[test]
fn forwarding_loops_are_cut() {
    let mut s = seq("1001");
    s.decided(forward("1002"), &trunks());
    assert_eq!(
        s.decided(forward("1001"), &trunks()),
        Step::Respond {
            code: 482,
            reason: "Loop Detected".into()
        }
    );
    let mut s = seq("1001");
    assert!(matches!(
        s.decided(forward("1001"), &trunks()),
        Step::Respond { code: 482, .. }
    ));

    // busy at 1001 -> 1002, busy at 1002 -> 1001: the caller hears busy
    let t0 = Instant::now();
    let mut s = seq("1001");
    let busy_to = |a: &str| Fallbacks {
        busy: Some(addr(a)),
        ..Default::default()
    };
    s.decided(deliver("1001", busy_to("1002")), &trunks());
    s.located(t0, true, 1);
    assert_eq!(s.failed(486, &trunks()), route_to("1002"));
    s.decided(deliver("1002", busy_to("1001")), &trunks());
    s.located(t0, true, 1);
    assert_eq!(s.failed(486, &trunks()), Step::Seal);
}

#[test]
fn at_most_max_hops_forwards() {
    let mut s = seq("n0");
    for i in 1..=crate::forwarding::MAX_HOPS {
        assert_eq!(
            s.decided(forward(&format!("n{i}")), &trunks()),
            route_to(&format!("n{i}"))
        );
    }
    assert_eq!(
        s.decided(forward("n99"), &trunks()),
        Step::Respond {
            code: 483,
            reason: "Too Many Hops".into()
        }
    );
}

#[test]
fn trunks_fail_over_on_timeouts_and_server_errors_only() {
    let t = trunks();
    let mut s = seq("+12125551234");
    let d = to_trunk("pstn");
    assert_eq!(
        s.decided(d.clone(), &t),
        Step::Trunk {
            trunk: TrunkId(0),
            request_uri: "sip:+12125551234@127.0.0.1:5080;user=phone".into(),
            authenticate: false
        }
    );
    assert_eq!(
        s.failed(503, &t),
        Step::Trunk {
            trunk: TrunkId(1),
            request_uri: "sip:+12125551234@127.0.0.1:5081;user=phone".into(),
            authenticate: false
        }
    );
    assert_eq!(s.failed(408, &t), Step::Seal, "no third trunk");

    let mut s = seq("+12125551234");
    s.decided(d.clone(), &t);
    assert_eq!(s.failed(486, &t), Step::Seal, "busy is the callee's answer");
    let mut s = seq("+12125551234");
    s.decided(d, &t);
    assert!(matches!(
        s.failed(408, &t),
        Step::Trunk {
            trunk: TrunkId(1),
            ..
        }
    ));
}

#[test]
fn a_challenging_trunk_gets_credentials_once() {
    let t = trunks();
    let mut s = seq("+12125551234");
    s.decided(to_trunk("gw-a"), &t);
    assert!(matches!(
        s.failed(407, &t),
        Step::Trunk {
            trunk: TrunkId(0),
            authenticate: true,
            ..
        }
    ));
    assert_eq!(
        s.failed(407, &t),
        Step::Respond {
            code: 500,
            reason: "Trunk Authentication Failed".into()
        }
    );
    // a trunk without credentials cannot answer: the next one is tried
    let mut s = seq("+12125551234");
    s.decided(to_trunk("pstn"), &t);
    assert!(matches!(
        s.failed(401, &t),
        Step::Trunk {
            trunk: TrunkId(0),
            authenticate: true,
            ..
        }
    ));
    assert!(matches!(
        s.failed(401, &t),
        Step::Trunk {
            trunk: TrunkId(1),
            authenticate: false,
            ..
        }
    ));
}

#[test]
fn an_unknown_trunk_group_is_a_configuration_error() {
    let mut s = seq("+12125551234");
    assert_eq!(
        s.decided(
            Decision::Trunk {
                group: "nowhere".into(),
                number: "1".into()
            },
            &trunks()
        ),
        Step::Respond {
            code: 500,
            reason: "Trunk Not Configured".into()
        }
    );
}

#[test]
fn forwards_to_foreign_uris_and_rejections() {
    let mut s = seq("1001");
    assert_eq!(
        s.decided(
            Decision::Forward {
                target: Target::Uri("sip:bob@other.example".into()),
                reason: DiversionReason::Deflection
            },
            &trunks()
        ),
        Step::External {
            uri: "sip:bob@other.example".into(),
            announce: true
        }
    );
    let mut s = seq("1001");
    assert_eq!(
        s.decided(
            Decision::Reject {
                code: 603,
                reason: "Decline".into()
            },
            &trunks()
        ),
        Step::Respond {
            code: 603,
            reason: "Decline".into()
        }
    );
    assert_eq!(s.decided(forward("1002"), &trunks()), Step::Wait);
}

#[test]
fn messages_are_not_announced_and_have_no_ring_timer() {
    let t0 = Instant::now();
    let mut s = RouteSequence::new(false, "1001".into(), 5);
    assert_eq!(
        s.decided(forward("1002"), &trunks()),
        Step::Route {
            destination: sub("1002"),
            announce: false
        }
    );
    let fb = Fallbacks {
        no_answer: Some((addr("1003"), Duration::from_secs(10))),
        ..Default::default()
    };
    s.decided(deliver("1002", fb), &trunks());
    s.located(t0, true, 1);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn after_the_ring_time_any_answer_of_the_cancelled_devices_goes_to_the_no_answer_target() {
    let t0 = Instant::now();
    for code in [487, 486, 488, 403] {
        let mut s = seq("1001");
        let fb = Fallbacks {
            busy: Some(addr("1009")),
            no_answer: Some((addr("1003"), Duration::from_secs(10))),
            ..Default::default()
        };
        s.decided(deliver("1001", fb), &trunks());
        s.located(t0, true, 2);
        assert_eq!(s.handle_timeout(t0 + Duration::from_secs(10)), Step::Cancel);
        assert_eq!(s.failed(code, &trunks()), route_to("1003"), "{code}");
    }
}

#[test]
fn a_stale_nonce_gets_the_credentials_once_more() {
    let t = trunks();
    let mut s = seq("+12125551234");
    s.decided(to_trunk("gw-a"), &t);
    // before any credentials were sent, stale means nothing special
    assert!(matches!(
        s.stale(401, &t),
        Step::Trunk {
            trunk: TrunkId(0),
            authenticate: true,
            ..
        }
    ));
    assert!(matches!(
        s.stale(401, &t),
        Step::Trunk {
            trunk: TrunkId(0),
            authenticate: true,
            ..
        }
    ));
    assert_eq!(
        s.stale(401, &t),
        Step::Respond {
            code: 500,
            reason: "Trunk Authentication Failed".into()
        },
        "a second stale answer is a refusal"
    );
}

#[test]
fn the_mailbox_takes_a_busy_unanswered_or_unreachable_call_and_ends_the_sequence() {
    let t0 = Instant::now();
    let ring = Duration::from_secs(5);
    let vm = Fallbacks::default().or_voicemail(ring);
    // busy
    let mut s = seq("1001");
    s.decided(deliver("1001", vm.clone()), &trunks());
    assert_eq!(s.located(t0, true, 1), Step::Fork);
    assert_eq!(
        s.failed(486, &trunks()),
        Step::Voicemail {
            reason: DiversionReason::UserBusy
        }
    );
    assert!(s.is_done());
    assert_eq!(s.failed(486, &trunks()), Step::Wait);
    // not answered: the ring time runs out, the devices are cancelled
    let mut s = seq("1001");
    s.decided(deliver("1001", vm.clone()), &trunks());
    s.located(t0, true, 1);
    assert_eq!(s.poll_timeout(), Some(t0 + ring));
    assert_eq!(s.handle_timeout(t0 + ring), Step::Cancel);
    assert_eq!(
        s.failed(487, &trunks()),
        Step::Voicemail {
            reason: DiversionReason::NoAnswer
        }
    );
    assert_eq!(s.poll_timeout(), None);
    // no device registered
    let mut s = seq("1001");
    s.decided(deliver("1001", vm), &trunks());
    assert_eq!(
        s.located(t0, true, 0),
        Step::Voicemail {
            reason: DiversionReason::Unavailable
        }
    );
    // a forward that was set keeps its place; the mailbox takes only the rest
    let own = Fallbacks {
        busy: Some(addr("1002")),
        ..Fallbacks::default()
    }
    .or_voicemail(ring);
    assert_eq!(own.busy, Some(addr("1002")));
    assert_eq!(own.unreachable, Some(Target::Voicemail));
    // forwarding every call to the mailbox
    let mut s = seq("1001");
    assert_eq!(
        s.decided(
            Decision::Forward {
                target: Target::Voicemail,
                reason: DiversionReason::Unconditional
            },
            &trunks()
        ),
        Step::Voicemail {
            reason: DiversionReason::Unconditional
        }
    );
}
