//! The members API: the people the operator signs up, the outside numbers they prove they
//! hold, and their hot-desk PIN.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `POST /v1/members` | admin | `{"name","email","country","numbers","reachable_at"?,"other_numbers"?,"hotdesk_pin"?}`: 201 |
//! | `GET /v1/members` | admin | `{"members":[...]}` |
//! | `GET /v1/members/{id}` | admin or the member | the member |
//! | `PATCH /v1/members/{id}` | admin | any of the `POST` fields: the member (phones signed in as a number it drops are signed out) |
//! | `DELETE /v1/members/{id}` | admin | 204; its claims are free again, its phones signed in by hot desk are signed out, its accounts stay |
//! | `PUT /v1/members/{id}/hotdesk-pin` | admin or the member | `{"pin"}` (4 to 8 digits): 204 |
//! | `POST /v1/members/{id}/numbers/{n}/verification` | admin or the member | `{"channel"?}`: a code to `{n}` by SMS or by a call: 202 |
//! | `POST /v1/members/{id}/numbers/{n}/verification/confirm` | admin or the member | `{"code"}`: the number, verified |
//!
//! "The member": HTTP Basic with one of its numbers on the switch and that account's
//! password. An account removed (`DELETE /v1/accounts/{number}`, the CLI) leaves its member's
//! `numbers`; a member left with none keeps its claims and reaches nobody until given one. `numbers` are accounts on the switch (each belongs to one member at most);
//! `reachable_at` is the member's PSTN number and `other_numbers` the ones it holds at other
//! providers: E.164 numbers outside the switch's own ranges, each claimed by one member at
//! most. `PATCH` with `"reachable_at": ""` drops that number. A claim routes calls and
//! messages to the member only once verified; a number claimed again (after being dropped, or
//! as the other kind) must be verified again.
//!
//! Codes: `[members] code_digits` digits, good for `code_valid_secs`, `code_attempts` wrong
//! tries; sent at most `accounts.otp_per_number` times per `otp_window_secs` and
//! `otp_min_interval_secs` apart (429 with Retry-After beyond that), counted with the other
//! one-time passwords sent to that number, whichever way they went. `"channel"` is `"sms"`
//! (through the notifier) or `"call"` (the switch calls the number and reads the code out
//! twice, digit by digit, through the voice notices: their trunk group, ring limit and
//! retries; the code is never written in clear); without it, a number the numbering plan
//! says is a fixed line gets a call and any other an SMS. An SMS to a fixed line is refused
//! (422 `cannot_text`), and so is a call when the switch has no speech backend (`[voicemail]
//! tts`, 422 `no_speech`).

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use switchboard_engine::members::{
    call_group, spoken_code, Channel, MemberDraft, MemberError, MemberId, MemberRecord, PinError,
    VerifyError,
};
use switchboard_engine::numbering::Aor;

use super::auth::{self, Caller};
use super::error::ApiError;
use crate::api::notifications::SendCode;
use crate::api::voice_notices::ReadOut;
use crate::clock::unix_now;
use crate::shared::Shared;
use crate::store::members::MemberStoreError;

type Data = web::Data<Arc<Shared>>;

/// `POST /v1/members`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    name: String,
    email: String,
    country: String,
    numbers: Vec<String>,
    reachable_at: Option<String>,
    #[serde(default)]
    other_numbers: Vec<String>,
    hotdesk_pin: Option<String>,
}

/// `PATCH /v1/members/{id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberChange {
    name: Option<String>,
    email: Option<String>,
    country: Option<String>,
    numbers: Option<Vec<String>>,
    reachable_at: Option<String>,
    other_numbers: Option<Vec<String>>,
    hotdesk_pin: Option<String>,
}

/// `PUT .../hotdesk-pin`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPin {
    pin: String,
}

/// `POST .../verification`; the body may be left out.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// `sms` or `call`; none: a call for a fixed line, an SMS for anything else.
    channel: Option<String>,
}

/// `POST .../verification/confirm`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Code {
    code: String,
}

/// A member as the API shows it.
#[derive(Serialize)]
struct MemberView {
    id: String,
    name: String,
    email: String,
    country: String,
    numbers: Vec<String>,
    reachable_at: Option<String>,
    other_numbers: Vec<String>,
    /// Every claimed outside number and whether it is verified.
    outside_numbers: Vec<OutsideView>,
    hotdesk_pin_set: bool,
    created_unix: u64,
}

#[derive(Serialize)]
struct OutsideView {
    number: String,
    kind: &'static str,
    verified: bool,
    verified_unix: Option<u64>,
}

fn view(id: MemberId, m: &MemberRecord) -> MemberView {
    let d = m.draft();
    MemberView {
        id: id.to_string(),
        name: d.name,
        email: d.email,
        country: d.country,
        numbers: d.numbers,
        reachable_at: d.reachable_at,
        other_numbers: d.other_numbers,
        outside_numbers: m.outside.iter().map(outside_view).collect(),
        hotdesk_pin_set: m.pin.is_some(),
        created_unix: m.created_unix,
    }
}

fn outside_view(o: &switchboard_engine::members::OutsideNumber) -> OutsideView {
    OutsideView {
        number: o.number.clone(),
        kind: o.kind.as_str(),
        verified: o.verification.is_verified(),
        verified_unix: o.verification.verified_unix,
    }
}

pub async fn create(
    req: HttpRequest,
    body: web::Json<NewMember>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let b = body.into_inner();
    let draft = MemberDraft {
        name: b.name,
        email: b.email,
        country: b.country,
        numbers: b.numbers,
        reachable_at: b.reachable_at,
        other_numbers: b.other_numbers,
    }
    .validate(&s.plan)
    .map_err(invalid)?;
    let pin = b.hotdesk_pin.map(checked_pin).transpose()?;
    let shared = s.clone();
    let (id, rec) = web::block(move || {
        let db = &shared.db;
        let (id, mut rec) = db.create_member(&draft, unix_now())?;
        if let Some(pin) = pin {
            rec = db.modify_member(id, |m| m.set_pin(&pin, salt()))?.1;
        }
        db.flush()?;
        Ok::<_, MemberStoreError>((id, rec))
    })
    .await?
    .map_err(refused)?;
    Ok(HttpResponse::Created().json(view(id, &rec)))
}

pub async fn list(req: HttpRequest, s: Data) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let members = s.db.members()?;
    let members: Vec<MemberView> = members.iter().map(|(id, m)| view(*id, m)).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "members": members })))
}

pub async fn show(
    req: HttpRequest,
    id: web::Path<String>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let (id, rec) = member_for(&req, &s, &id)?;
    Ok(HttpResponse::Ok().json(view(id, &rec)))
}

pub async fn change(
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<MemberChange>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let id = member_id(&id)?;
    let c = body.into_inner();
    let Some(current) = s.db.member(id)? else {
        return Err(no_member());
    };
    let mut d = current.draft();
    if let Some(v) = c.name {
        d.name = v;
    }
    if let Some(v) = c.email {
        d.email = v;
    }
    if let Some(v) = c.country {
        d.country = v;
    }
    if let Some(v) = c.numbers {
        d.numbers = v;
    }
    if let Some(v) = c.reachable_at {
        d.reachable_at = Some(v).filter(|v| !v.trim().is_empty());
    }
    if let Some(v) = c.other_numbers {
        d.other_numbers = v;
    }
    let draft = d.validate(&s.plan).map_err(invalid)?;
    let pin = c.hotdesk_pin.map(checked_pin).transpose()?;
    let shared = s.clone();
    let rec = web::block(move || {
        let pin_salt = salt();
        let (_, rec) = shared.db.modify_member(id, |m| {
            m.replace(draft.clone());
            if let Some(pin) = &pin {
                // checked above, so it is taken
                let _ = m.set_pin(pin, pin_salt);
            }
        })?;
        // a number the member no longer owns rings no phone signed in as it
        for n in current.numbers.iter().filter(|n| !rec.numbers.contains(n)) {
            for session in shared.db.hotdesk_phones(&Aor::from_canonical(n), 0)? {
                shared
                    .db
                    .hotdesk_sign_out(&Aor::from_canonical(&session.phone))?;
            }
        }
        shared.db.flush()?;
        Ok::<_, MemberStoreError>(rec)
    })
    .await?
    .map_err(refused)?;
    Ok(HttpResponse::Ok().json(view(id, &rec)))
}

pub async fn delete(
    req: HttpRequest,
    id: web::Path<String>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let id = member_id(&id)?;
    let shared = s.clone();
    let existed = web::block(move || {
        let existed = shared.db.delete_member(id)?;
        shared.db.flush()?;
        Ok::<_, MemberStoreError>(existed)
    })
    .await?
    .map_err(refused)?;
    if !existed {
        return Err(no_member());
    }
    Ok(HttpResponse::NoContent().finish())
}

pub async fn set_pin(
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<NewPin>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let (id, _) = member_for(&req, &s, &id)?;
    let pin = checked_pin(body.into_inner().pin)?;
    let shared = s.clone();
    web::block(move || {
        let pin_salt = salt();
        // the PIN was checked above, so it is taken
        let _ = shared.db.modify_member(id, |m| m.set_pin(&pin, pin_salt))?;
        shared.db.flush()?;
        Ok::<_, MemberStoreError>(())
    })
    .await?
    .map_err(refused)?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn send_code(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let (id, number) = path.into_inner();
    let (id, rec) = member_for(&req, &s, &id)?;
    let aor = claimed(&s, &rec, &number)?;
    let channel = channel_for(&s, &aor, &body)?;
    let now = unix_now();
    let rules = s.config.members.verification(&s.config.accounts);
    if let Some(c) = rec.claim(aor.as_str()) {
        c.verification
            .may_send(now, &rules)
            .map_err(verify_refused)?;
    }
    // counted with the other one-time passwords to this number
    if let Err(r) = s.security.abuse.otp(&aor) {
        return Err(ApiError::too_many_requests(
            "too_many_codes",
            "a code was sent to this number a short while ago; try again later",
            r.retry_after_secs(),
        ));
    }
    let code = crate::store::admin::accounts::fresh_otp(s.config.members.code_digits);
    let shared = s.clone();
    let (to, issued) = (aor.clone(), code.clone());
    let issued = web::block(move || {
        let code_salt = salt();
        let (r, _) = shared
            .db
            .modify_member(id, |m| match m.claim_mut(to.as_str()) {
                Some(c) => c.verification.issue(now, &rules, &issued, code_salt),
                None => Err(VerifyError::NoCode),
            })?;
        shared.db.flush()?;
        Ok::<_, MemberStoreError>(r)
    })
    .await?
    .map_err(refused)?;
    issued.map_err(verify_refused)?;
    match channel {
        Channel::Sms => text_code(&s, &aor, &code),
        Channel::Call => call_code(&s, &aor, &code).await?,
    }
    Ok(HttpResponse::Accepted().json(serde_json::json!({
        "status": "sent",
        "channel": channel.as_str(),
        "number": aor.as_str(),
        "expires_in_secs": s.config.members.code_valid_secs,
    })))
}

/// The channel a code to `aor` goes by: the one the body asks for, else the number's default;
/// one the switch cannot use for it is refused before a code is spent.
fn channel_for(s: &Shared, aor: &Aor, body: &[u8]) -> Result<Channel, ApiError> {
    let asked: CodeRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CodeRequest::default()
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request("bad_json", e.to_string()))?
    };
    let asked = asked
        .channel
        .map(|c| Channel::parse(&c))
        .transpose()
        .map_err(|e| ApiError::bad_request("bad_channel", e.to_string()))?;
    let channel = Channel::choose(&s.plan, aor, asked)
        .map_err(|e| ApiError::unprocessable("cannot_text", e.to_string()))?;
    if channel == Channel::Call && !s.reads_out_to_landlines() {
        return Err(ApiError::unprocessable(
            "no_speech",
            "reading a code out needs a speech backend ([voicemail] tts), which is off",
        ));
    }
    Ok(channel)
}

/// Sends `code` to `to` by SMS through the notifier.
fn text_code(s: &Shared, to: &Aor, code: &str) {
    let minutes = (s.config.members.code_valid_secs / 60).max(1);
    if let Some(n) = s.notifications.get() {
        n.code.do_send(SendCode {
            to: to.clone(),
            text: format!(
                "Your verification code is {code}. It links this number to your switchboard \
                 membership and expires in {minutes} minutes."
            ),
        });
    }
}

/// Has `code` read out to `to` by a call of the voice notices (kept in memory only).
async fn call_code(s: &Shared, to: &Aor, code: &str) -> Result<(), ApiError> {
    let Some(notices) = s.voice_notices.get() else {
        return Err(ApiError::unavailable(
            "calls that read codes are not running",
        ));
    };
    let (reply, accepted) = tokio::sync::oneshot::channel();
    notices.read_out.do_send(ReadOut {
        to: to.clone(),
        group: call_group(&s.plan, to),
        sender: String::new(),
        text: spoken_code(code),
        secret: true,
        reply,
    });
    match accepted.await {
        Ok(Ok(_)) => Ok(()),
        _ => Err(ApiError::unavailable(
            "the call that reads the code could not be placed; ask again later",
        )),
    }
}

pub async fn confirm(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<Code>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let (id, number) = path.into_inner();
    let (id, rec) = member_for(&req, &s, &id)?;
    let aor = claimed(&s, &rec, &number)?;
    let rules = s.config.members.verification(&s.config.accounts);
    let code = body.into_inner().code;
    let shared = s.clone();
    let to = aor.clone();
    let (r, rec) = web::block(move || {
        let now = unix_now();
        let r = shared
            .db
            .modify_member(id, |m| match m.claim_mut(to.as_str()) {
                Some(c) => c.verification.confirm(now, &rules, &code),
                None => Err(VerifyError::NoCode),
            })?;
        shared.db.flush()?;
        Ok::<_, MemberStoreError>(r)
    })
    .await?
    .map_err(refused)?;
    r.map_err(verify_refused)?;
    let claim = rec
        .claim(aor.as_str())
        .map(outside_view)
        .ok_or_else(|| ApiError::not_found("the member does not claim this number"))?;
    Ok(HttpResponse::Ok().json(claim))
}

/// Member `{id}` when the caller may see it: the operator, or the member (Basic credentials
/// of one of its numbers).
fn member_for(
    req: &HttpRequest,
    s: &Shared,
    id: &str,
) -> Result<(MemberId, MemberRecord), ApiError> {
    let caller = auth::caller(req, s)?;
    let id = member_id(id)?;
    let Some(rec) = s.db.member(id)? else {
        return Err(no_member());
    };
    match caller {
        Caller::Admin => Ok((id, rec)),
        Caller::Subscriber(aor) if rec.numbers.iter().any(|n| n == aor.as_str()) => Ok((id, rec)),
        Caller::Subscriber(_) => Err(ApiError::forbidden(
            "forbidden",
            "only the operator or the member itself",
        )),
    }
}

/// The canonical outside number `number` when the member claims it.
fn claimed(s: &Shared, rec: &MemberRecord, number: &str) -> Result<Aor, ApiError> {
    let aor = s
        .plan
        .canonical(number)
        .map_err(|_| ApiError::bad_request("bad_number", "not a phone number"))?;
    if rec.claim(aor.as_str()).is_none() {
        return Err(ApiError::not_found("the member does not claim this number"));
    }
    Ok(aor)
}

fn member_id(id: &str) -> Result<MemberId, ApiError> {
    id.parse().map_err(|_| no_member())
}

fn no_member() -> ApiError {
    ApiError::not_found("no such member")
}

fn checked_pin(pin: String) -> Result<String, ApiError> {
    if switchboard_engine::members::hotdesk::valid_pin(&pin) {
        Ok(pin)
    } else {
        Err(ApiError::bad_request(
            "bad_pin",
            PinError::Format.to_string(),
        ))
    }
}

/// Fresh random salt for a code or a PIN.
fn salt() -> [u8; 16] {
    rand::random()
}

fn invalid(e: MemberError) -> ApiError {
    ApiError::bad_request(e.code(), e.to_string())
}

fn refused(e: MemberStoreError) -> ApiError {
    match &e {
        MemberStoreError::NotFound => no_member(),
        MemberStoreError::NoAccount { .. } => ApiError::unprocessable("no_account", e.to_string()),
        MemberStoreError::NumberTaken { owner, .. } => {
            ApiError::conflict("number_taken", e.to_string()).with_field("member", owner.0)
        }
        MemberStoreError::Claimed { owner, .. } => {
            ApiError::conflict("number_claimed", e.to_string()).with_field("member", owner.0)
        }
        _ => ApiError::internal(e.to_string()),
    }
}

fn verify_refused(e: VerifyError) -> ApiError {
    let m = e.to_string();
    match e {
        VerifyError::AlreadyVerified => ApiError::conflict("already_verified", m),
        VerifyError::TooSoon { retry_after_secs } => {
            ApiError::too_many_requests("too_many_codes", m, retry_after_secs)
        }
        VerifyError::NoCode => ApiError::conflict("no_code", m),
        VerifyError::Expired => ApiError::unprocessable("code_expired", m),
        VerifyError::WrongCode { attempts_left } => {
            ApiError::unprocessable("wrong_code", m).with_field("attempts_left", attempts_left)
        }
        VerifyError::TooManyAttempts => ApiError::unprocessable("code_spent", m),
        _ => ApiError::unprocessable("not_verified", m),
    }
}
