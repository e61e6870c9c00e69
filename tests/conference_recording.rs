//! A conference's mix recorded: with `record: true` the room is recorded while anyone is in,
//! listed with the call recordings, and its WAV holds every participant's tone (the room on
//! both channels), checked by frequency and level.

mod common;

use std::time::Duration;

use common::audio::stereo_wav;
use common::conference::{api, Member};
use common::media::{self};
use common::{eventually, http_raw};
use switchboard_engine::media::{Codec, SampleRate};

const TONES: [f32; 3] = [440.0, 1000.0, 1800.0];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mix_recording_holds_all_three_tones_on_both_channels() {
    let sw = media::switch("", &["1001", "1002", "1003"]);
    let (code, v) = api(
        &sw,
        None,
        "PUT",
        "/v1/conferences/rec",
        Some(r#"{"record":true}"#),
    );
    assert!(code == 200 || code == 201, "{code} {v}");
    let mut a = Member::dial(&sw, "1001", "rec", &[Codec::Pcmu], TONES[0]).await;
    let mut b = Member::dial(&sw, "1002", "rec", &[Codec::Pcmu], TONES[1]).await;
    let mut c = Member::dial(&sw, "1003", "rec", &[Codec::G722, Codec::Pcmu], TONES[2]).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for m in [&mut a, &mut b, &mut c] {
        m.hang_up().await;
    }
    let mut rec = serde_json::Value::Null;
    let done = eventually(Duration::from_secs(15), || {
        let (_, v) = api(&sw, None, "GET", "/v1/recordings", None);
        rec = v["recordings"]
            .as_array()
            .and_then(|l| l.iter().find(|r| r["caller"] == "conf-rec").cloned())
            .unwrap_or_default();
        rec["state"] == "done"
    });
    assert!(done, "the mix recording is listed and done: {rec}");
    let id = rec["id"].as_u64().unwrap();
    let (code, _, wav) = http_raw(sw.http, "GET", &format!("/v1/recordings/{id}"), None);
    assert_eq!(code, 200);
    let (left, right) = stereo_wav(&wav).expect("a stereo WAV");
    assert_eq!(left.sample_rate(), SampleRate::WIDE, "the room at 16 kHz");
    assert!(
        left.duration() >= Duration::from_millis(2000),
        "{:?}",
        left.duration()
    );
    // everyone talks once all three are in: the middle of the recording
    let middle = |ch: &common::audio::Audio| {
        let len = ch.duration();
        ch.skip(len / 2 - Duration::from_millis(500))
            .take(Duration::from_millis(800))
    };
    for (name, ch) in [("left", &left), ("right", &right)] {
        let m = middle(ch);
        for hz in TONES {
            let level = m.level_at(hz);
            assert!(
                level > -22.0,
                "the {name} channel holds {hz} Hz ({level:.1} dBFS): {}",
                m.describe(&TONES)
            );
        }
    }
}
