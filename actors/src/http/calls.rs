//! The calls API: the switch's live calls and the recently ended ones, with each anchored
//! call's live media figures.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `GET /v1/calls?state=live\|ended&number=` | admin, a subscriber | `{"calls": [...]}` |
//! | `GET /v1/calls/{id}` | admin, a party | the call, with its media figures when anchored |
//!
//! A call shows its state (`setup`, `answered`, `ended`), times, media mode (`direct` or
//! `anchored`) and the reason it is anchored (`nat: sdp 10.0.0.7 != source 198.51.100.4`,
//! `policy`, `plugin`, `recording`, `transcoding`), whether it is transcoded, its recording,
//! the reason it ended, and per leg its number, codec, SDP address and the address its media
//! was latched to. `GET /v1/calls/{id}` of an anchored live call adds per leg what the relay
//! measured: packets and bytes each way, packets expected from the RTP sequence numbers, lost,
//! the loss ratio, interarrival jitter (RFC 3550 A.8), concealed frames and dropped packets.
//!
//! The operator sees every call; a subscriber (HTTP Basic) sees the calls they take part in.
//! A call that does not exist and one the asker may not see answer the same 404.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use switchboard_engine::media::session::SideStats;
use switchboard_engine::media::Side;

use super::auth::{self, Caller};
use super::error::ApiError;
use super::query;
use crate::api::media::MediaSessionId;
use crate::calls::CallView;
use crate::shared::Shared;

type Data = web::Data<Arc<Shared>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// `live` (the default) or `ended`.
    state: Option<String>,
    number: Option<String>,
}

/// What the relay measured of one leg.
#[derive(Serialize)]
struct LegMedia {
    side: &'static str,
    codec: String,
    /// What the leg hears: `relay`, `transcode`, `source` (the switch plays to it), `silent`.
    hears: &'static str,
    latched: Option<String>,
    packets_received: u64,
    bytes_received: u64,
    packets_sent: u64,
    bytes_sent: u64,
    packets_relayed: u64,
    packets_expected: u64,
    packets_lost: i64,
    loss_ratio: f64,
    jitter_ms: f64,
    frames_concealed: u64,
    dropped_spoofed: u64,
    dropped_invalid: u64,
    dropped_inactive: u64,
    /// The leg speaks SRTP with the switch.
    srtp: bool,
    /// SRTP or SRTCP packets dropped: failed authentication, replays.
    dropped_srtp: u64,
}

impl LegMedia {
    fn of(side: Side, s: &SideStats) -> LegMedia {
        let loss_ratio = if s.expected > 0 {
            (s.lost.max(0) as f64 / s.expected as f64).min(1.0)
        } else {
            0.0
        };
        LegMedia {
            side: side_name(side),
            codec: s.codec.to_string(),
            hears: s.hears.as_str(),
            latched: s.latched.map(|a| a.to_string()),
            packets_received: s.rx_packets,
            bytes_received: s.rx_bytes,
            packets_sent: s.tx_packets,
            bytes_sent: s.tx_bytes,
            packets_relayed: s.relayed,
            packets_expected: s.expected,
            packets_lost: s.lost,
            loss_ratio,
            jitter_ms: s.jitter_ms,
            frames_concealed: s.concealed,
            dropped_spoofed: s.spoofed,
            dropped_invalid: s.invalid,
            dropped_inactive: s.inactive,
            srtp: s.srtp_active,
            dropped_srtp: s.srtp,
        }
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Caller => "caller",
        Side::Callee => "callee",
    }
}

pub async fn list(
    req: HttpRequest,
    filter: web::Query<Filter>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let by = auth::caller(&req, &s)?;
    let number = query::number_filter(&s, filter.number.as_deref())?;
    let mut calls = match filter.state.as_deref() {
        None | Some("live") => s.calls.list(),
        Some("ended") => s.calls.ended(),
        Some(_) => return Err(ApiError::bad_request("bad_state", "state is live or ended")),
    };
    calls.retain(|c| may_see(&by, c) && number.as_ref().is_none_or(|n| c.is_party(n.as_str())));
    Ok(HttpResponse::Ok().json(serde_json::json!({ "calls": calls })))
}

pub async fn show(
    req: HttpRequest,
    id: web::Path<String>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let by = auth::caller(&req, &s)?;
    let call = id
        .parse::<u64>()
        .ok()
        .and_then(|id| s.calls.get(id))
        .filter(|c| may_see(&by, c))
        .ok_or_else(no_such_call)?;
    let mut body = serde_json::to_value(&call).map_err(|e| ApiError::internal(e.to_string()))?;
    if let Some(session) = call.session {
        // the session may have closed since: the call is shown without its figures
        if let Ok(stats) = s.media.stats(MediaSessionId(session)).await {
            let media: Vec<LegMedia> = [Side::Caller, Side::Callee]
                .into_iter()
                .filter_map(|side| stats.side(side).map(|st| LegMedia::of(side, st)))
                .collect();
            body["media_stats"] = serde_json::json!({
                "legs": media,
                "recording_tap": stats.sink,
            });
        }
    }
    Ok(HttpResponse::Ok().json(body))
}

fn may_see(by: &Caller, call: &CallView) -> bool {
    match by {
        Caller::Admin => true,
        Caller::Subscriber(me) => call.is_party(me.as_str()),
    }
}

fn no_such_call() -> ApiError {
    ApiError::not_found("no such call")
}
