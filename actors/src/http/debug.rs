//! Test hooks of debug builds (release builds compile this file out, like the
//! `X-Switchboard-Fault` header): `POST /admin/debug/recordings` records a synthetic call
//! through the real recorder, so the end-to-end tests can list, fetch, delete and crash
//! recordings before calls are wired to it.
//!
//! Body: `{"caller","callee","seconds"?,"caller_hz"?,"callee_hz"?,"caller_rate"?,
//! "callee_rate"?}`. A thread plays a tone for each side (440 Hz and 1 kHz at 8 kHz by
//! default) into the recording's tap, one frame per side every 20 ms of wall time, for
//! `seconds` (default 1), then finishes it. Answers 201 `{"id"}` once recording started.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use switchboard_engine::media::tone::{Level, Sound, Tone, ToneGenerator};
use switchboard_engine::media::{FrameSink, SampleRate, Side, FRAME, MAX_FRAME_SAMPLES};

use super::auth;
use super::error::ApiError;
use crate::recording::RecordingMeta;
use crate::shared::Shared;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FakeCall {
    caller: String,
    callee: String,
    seconds: Option<f64>,
    caller_hz: Option<f32>,
    callee_hz: Option<f32>,
    caller_rate: Option<u32>,
    callee_rate: Option<u32>,
}

pub async fn record(
    req: HttpRequest,
    body: web::Json<FakeCall>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let call = body.into_inner();
    let number = |n: &str| {
        s.plan
            .canonical(n)
            .map_err(|_| ApiError::bad_request("bad_number", "not a phone number or name"))
    };
    let rate = |hz: Option<u32>| {
        SampleRate::new(hz.unwrap_or(8_000))
            .ok_or_else(|| ApiError::bad_request("bad_rate", "not a frame-path sample rate"))
    };
    let sides = [
        (
            Side::Caller,
            rate(call.caller_rate)?,
            call.caller_hz.unwrap_or(440.0),
        ),
        (
            Side::Callee,
            rate(call.callee_rate)?,
            call.callee_hz.unwrap_or(1000.0),
        ),
    ];
    let meta = RecordingMeta {
        caller: number(&call.caller)?,
        callee: number(&call.callee)?,
        call_id: format!("debug-{}", rand::random::<u64>()),
        started: SystemTime::now(),
    };
    let ticks = (call.seconds.unwrap_or(1.0).clamp(0.0, 3600.0) * 50.0).round() as u64;
    let recorder = s.recorder.clone();
    let (id, mut tap) = recorder.start(meta)?;
    std::thread::Builder::new()
        .name("debug-call".into())
        .spawn(move || {
            let mut tones = sides.map(|(side, rate, hz)| {
                let tone = Tone::continuous(Sound::Single(hz), Level::dbfs(-10.0));
                (side, rate, ToneGenerator::new(tone, rate))
            });
            let mut pcm = [0i16; MAX_FRAME_SAMPLES];
            let t0 = Instant::now();
            for tick in 0..ticks {
                for (side, rate, tone) in &mut tones {
                    let frame = &mut pcm[..rate.frame_samples()];
                    tone.generate(frame);
                    tap.frame(*side, *rate, frame);
                }
                // paced by absolute deadlines: no drift from the work of a tick
                let next = t0 + FRAME * (tick as u32 + 1);
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            recorder.finish(id);
            drop(tap);
        })
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "id": id.0 })))
}
