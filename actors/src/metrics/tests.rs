use super::*;

#[test]
fn exposition_has_the_counters_with_labels() {
    let m = Metrics::new();
    m.request(switchboard_engine::sip::Method::Invite);
    m.sent(b"SIP/2.0 486 Busy Here\r\n");
    m.calls
        .get_or_create(&OutcomeLabel { outcome: "busy" })
        .inc();
    m.active_calls.set(3);
    let text = m.encode();
    assert!(
        text.contains("switchboard_sip_requests_received_total{method=\"INVITE\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("switchboard_sip_responses_sent_total{code=\"486\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("switchboard_calls_total{outcome=\"busy\"} 1"),
        "{text}"
    );
    assert!(text.contains("switchboard_active_calls 3"), "{text}");
}
