//! The plan a caller gives its simulated callee in the INVITE (`X-Load-Plan`): answer, busy
//! or no answer, ring and hold times, who hangs up, and whether the call carries audio (and
//! what the phones write in their SDP). The same run then behaves the same against any server
//! that passes unknown headers on.

use std::time::Duration;

use crate::core::{CallMedia, CallPlan};

/// The header carrying the plan to the callee.
pub const PLAN_HEADER: &str = "X-Load-Plan";

/// The audio a plan header asks for: `;rtp=1` for audio, with `;nat=<ip>` when the phones
/// write that address in their SDP; `None`: signalling only.
pub fn plan_media(v: &str) -> Option<CallMedia> {
    let mut parts = v.split(';').map(str::trim);
    if !parts.clone().any(|p| p == "rtp=1") {
        return None;
    }
    let nat = parts.find_map(|p| p.strip_prefix("nat=")?.parse().ok());
    Some(nat.map_or(CallMedia::Direct, CallMedia::Nat))
}

/// The parameters a plan header carries for `media` (appended to [`plan_value`]).
pub(super) fn media_params(media: Option<CallMedia>) -> String {
    match media {
        None => String::new(),
        Some(CallMedia::Direct) => ";rtp=1".into(),
        Some(CallMedia::Nat(ip)) => format!(";rtp=1;nat={ip}"),
    }
}

/// `plan` as the header value the callee reads (`answer;ring=..;hold=..;by=caller`).
pub fn plan_value(plan: &CallPlan) -> String {
    match plan {
        CallPlan::Answer {
            ring,
            hold,
            callee_hangs_up,
        } => format!(
            "answer;ring={};hold={};by={}",
            ring.as_millis(),
            hold.as_millis(),
            if *callee_hangs_up { "callee" } else { "caller" }
        ),
        CallPlan::Busy { ring } => format!("busy;ring={}", ring.as_millis()),
        CallPlan::NoAnswer { ring } => format!("noanswer;ring={}", ring.as_millis()),
    }
}

/// Reads a plan header value back.
pub fn parse_plan(v: &str) -> Option<CallPlan> {
    let mut parts = v.split(';');
    let what = parts.next()?.trim();
    let (mut ring, mut hold, mut by_callee) = (Duration::ZERO, Duration::ZERO, false);
    for p in parts {
        let (k, val) = p.split_once('=')?;
        match k.trim() {
            "ring" => ring = Duration::from_millis(val.trim().parse().ok()?),
            "hold" => hold = Duration::from_millis(val.trim().parse().ok()?),
            "by" => by_callee = val.trim() == "callee",
            _ => {}
        }
    }
    Some(match what {
        "answer" => CallPlan::Answer {
            ring,
            hold,
            callee_hangs_up: by_callee,
        },
        "busy" => CallPlan::Busy { ring },
        "noanswer" => CallPlan::NoAnswer { ring },
        _ => return None,
    })
}
