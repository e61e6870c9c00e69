//! The number shop's orders: buying a held number, paying, the operator's approval, and the
//! payment provider's webhook (`docs/payments.md`).
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `POST /v1/orders` | the holder | `{"number","token","password"}`: 201, the order (and `redirect_url` with the http provider) |
//! | `GET /v1/orders/{id}` | whoever knows the id | the order |
//! | `GET /v1/orders?state=` | admin | orders: `pending`, `awaiting_payment`, `assigned`, `expired`, `refused` |
//! | `POST /v1/orders/{id}/payment` | admin | `{"amount_minor","currency","reference"}`: a payment the operator took |
//! | `POST /v1/orders/{id}/approve` | admin | approves an enterprise order |
//! | `POST /v1/orders/{id}/refuse` | admin | `{"reason"}`: refuses one; its number is for sale again |
//! | `POST /v1/payments/webhook` | the provider, signed | a payment's outcome |
//!
//! An order id is a 24-character secret: it is the buyer's handle on the order. The password
//! is kept only as HA1 values; when the order is paid (and approved, for enterprise numbers)
//! the number's account is written with it, so the buyer registers with the number and that
//! password.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use switchboard_engine::inventory::webhook::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use switchboard_engine::inventory::{
    Approval, DeskError, Order, OrderInput, OrderState, OrderStep, Price, UnixTime,
};
use switchboard_engine::numbering::Aor;

use super::auth;
use super::error::ApiError;
use super::numbers::shop_error;
use crate::api::extension::ExtCommand;
use crate::clock::unix_now;
use crate::number_shop::{token, NumberShop, ShopError};
use crate::shared::Shared;
use crate::store::admin::accounts::record;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    number: String,
    token: String,
    password: String,
}

fn view(o: &Order) -> serde_json::Value {
    let payments: Vec<_> = o
        .payments
        .iter()
        .map(|p| {
            serde_json::json!({
                "id": p.id,
                "amount_minor": p.amount.minor,
                "currency": p.amount.currency,
                "at_unix": p.at.0,
                "counted": p.counted,
                "note": p.note,
            })
        })
        .collect();
    serde_json::json!({
        "id": o.id,
        "number": o.display,
        "key": o.number,
        "kind": o.kind.as_str(),
        "account": o.account,
        "state": o.label(),
        "price_minor": o.price.minor,
        "currency": o.price.currency,
        "paid": o.paid,
        "approval": match o.approval {
            Approval::NotNeeded => "not_needed",
            Approval::Waiting => "waiting",
            Approval::Approved => "approved",
        },
        "refusal": match &o.state {
            OrderState::Refused { reason } => Some(reason.clone()),
            _ => None,
        },
        "created_unix": o.created.0,
        "pay_by_unix": o.pay_by.0,
        "payments": payments,
        "payment_id": o.provider_payment,
        "redirect_url": o.redirect_url,
    })
}

fn step_name(s: OrderStep) -> &'static str {
    match s {
        OrderStep::Assign => "assigned",
        OrderStep::Release => "released",
        OrderStep::Progressed => "progressed",
        OrderStep::Recorded => "recorded",
        OrderStep::Duplicate => "duplicate",
        OrderStep::Unchanged => "unchanged",
    }
}

pub async fn create(
    body: web::Json<NewOrder>,
    s: web::Data<Arc<Shared>>,
    shop: web::Data<NumberShop>,
) -> Result<HttpResponse, ApiError> {
    let NewOrder {
        number,
        token: hold,
        password,
    } = body.into_inner();
    if !(4..=128).contains(&password.chars().count()) || password.contains(['\r', '\n']) {
        return Err(ApiError::bad_request(
            "bad_password",
            "password must be 4 to 128 characters",
        ));
    }
    let realm = s.realm.clone();
    let shared = s.clone();
    let order = web::block(move || -> Result<Order, ShopError> {
        let order = shop.with_desk(|d, now| {
            let key = d
                .key_of(shop.plan(), &number)
                .ok_or(DeskError::NoSuchNumber)?;
            let listed = d
                .stock()
                .get(&key)
                .ok_or(DeskError::NoSuchNumber)?
                .listed
                .clone();
            let credentials = record(
                &shared.plan,
                &listed.account(),
                &realm,
                &password,
                unix_now(),
            );
            d.place(now, &key, &hold, token(24), credentials).cloned()
        })??;
        if !shop.config().uses_provider() {
            return Ok(order);
        }
        let (payment, redirect) = shop.create_payment(&order)?;
        shop.with_desk(|d, _| {
            d.set_provider_payment(&order.id, payment, redirect)?;
            Ok(d.order(&order.id).cloned().unwrap_or(order))
        })?
    })
    .await?
    .map_err(shop_error)?;
    Ok(HttpResponse::Created().json(view(&order)))
}

pub async fn show(
    id: web::Path<String>,
    shop: web::Data<NumberShop>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let order = web::block(move || shop.with_desk(|d, _| d.order(&id).cloned()))
        .await?
        .map_err(shop_error)?
        .ok_or_else(|| ApiError::not_found("no such order"))?;
    Ok(HttpResponse::Ok().json(view(&order)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
}

pub async fn list(
    req: HttpRequest,
    q: web::Query<ListQuery>,
    s: web::Data<Arc<Shared>>,
    shop: web::Data<NumberShop>,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let state = q.into_inner().state.filter(|s| !s.is_empty());
    let orders = web::block(move || {
        shop.with_desk(|d, _| {
            d.orders(state.as_deref())
                .into_iter()
                .map(view)
                .collect::<Vec<_>>()
        })
    })
    .await?
    .map_err(shop_error)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "orders": orders })))
}

/// Gives order `id` an input; on assignment writes its account and tells its Extension.
async fn drive(
    s: &Shared,
    shop: web::Data<NumberShop>,
    id: String,
    input: OrderInput,
) -> Result<(OrderStep, Order), ApiError> {
    let (step, order) = web::block(move || -> Result<(OrderStep, Order), ShopError> {
        let mut assigned = None;
        let out = shop.with_desk(|d, now| -> Result<_, ShopError> {
            let step = d.handle_order(now, &id, input)?;
            let order = d.order(&id).cloned().ok_or(DeskError::NoSuchOrder)?;
            if step == OrderStep::Assign {
                // the account before the order's record: a crash in between is repaired by
                // the next delivery, which assigns again
                assigned = Some(shop.write_account(&order)?);
            }
            Ok((step, order))
        })??;
        Ok(out)
    })
    .await?
    .map_err(shop_error)?;
    if step == OrderStep::Assign {
        s.to_extension(
            Aor::from_canonical(&order.account),
            ExtCommand::AccountChanged,
        );
    }
    Ok((step, order))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualPayment {
    amount_minor: u64,
    currency: String,
    reference: String,
}

pub async fn pay(
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<ManualPayment>,
    s: web::Data<Arc<Shared>>,
    shop: web::Data<NumberShop>,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let p = body.into_inner();
    if p.reference.is_empty() || p.reference.len() > 64 || !Price::is_currency(&p.currency) {
        return Err(ApiError::bad_request(
            "bad_payment",
            "a reference of 1 to 64 characters and a three-letter currency",
        ));
    }
    let input = OrderInput::Paid {
        payment: format!("manual-{}", p.reference),
        amount: Price {
            minor: p.amount_minor,
            currency: p.currency,
        },
    };
    let (step, order) = drive(&s, shop, id.into_inner(), input).await?;
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({ "step": step_name(step), "order": view(&order) })))
}

pub async fn approve(
    req: HttpRequest,
    id: web::Path<String>,
    s: web::Data<Arc<Shared>>,
    shop: web::Data<NumberShop>,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let (step, order) = drive(&s, shop, id.into_inner(), OrderInput::Approve).await?;
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({ "step": step_name(step), "order": view(&order) })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    reason: String,
}

pub async fn refuse(
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<Refusal>,
    s: web::Data<Arc<Shared>>,
    shop: web::Data<NumberShop>,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let reason = body.into_inner().reason;
    if reason.trim().is_empty() || reason.len() > 500 {
        return Err(ApiError::bad_request(
            "bad_reason",
            "a reason of 1 to 500 characters",
        ));
    }
    let (step, order) = drive(&s, shop, id.into_inner(), OrderInput::Refuse { reason }).await?;
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({ "step": step_name(step), "order": view(&order) })))
}

#[derive(Deserialize)]
pub struct WebhookEvent {
    event: String,
    payment_id: String,
    order_id: String,
    amount_minor: u64,
    currency: String,
}

pub async fn webhook(
    req: HttpRequest,
    body: web::Bytes,
    s: web::Data<Arc<Shared>>,
    shop: web::Data<NumberShop>,
) -> Result<HttpResponse, ApiError> {
    let secret = shop.config().webhook_secret.as_bytes();
    if secret.is_empty() {
        return Err(ApiError::not_found("no payment provider is configured"));
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    webhook::verify(
        secret,
        header(TIMESTAMP_HEADER).as_deref(),
        header(SIGNATURE_HEADER).as_deref(),
        &body,
        UnixTime(unix_now()),
    )
    .map_err(|e| shop_error(e.into()))?;
    let e: WebhookEvent = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("bad_webhook", e.to_string()))?;
    if e.event != "payment.succeeded" {
        // failures and other events change nothing: the order stays open until it expires
        return Ok(HttpResponse::Ok().json(serde_json::json!({ "step": "ignored" })));
    }
    if e.payment_id.is_empty() || e.payment_id.len() > 128 {
        return Err(ApiError::bad_request(
            "bad_webhook",
            "payment_id is 1 to 128 characters",
        ));
    }
    let input = OrderInput::Paid {
        payment: e.payment_id,
        amount: Price {
            minor: e.amount_minor,
            currency: e.currency,
        },
    };
    let (step, order) = drive(&s, shop, e.order_id, input).await?;
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({ "step": step_name(step), "state": order.label() })))
}
