//! The number shop's inventory API: loading blocks, searching, holding a number.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `POST /v1/numbers/inventory` | admin | `{"inventory": "<inventory file text>"}`: classes and blocks |
//! | `GET /v1/numbers/blocks` | admin | the loaded blocks and price classes |
//! | `GET /v1/numbers/available` | anyone | free numbers: `country`, `kind`, `pattern`, `after`, `limit` |
//! | `POST /v1/numbers/{number}/reservation` | anyone | holds it: 201 with a token, 409 when taken, 429 past the client's holds |
//!
//! `country` is a calling code (`82`) or an ISO country (`KR`); `kind` is `personal`,
//! `enterprise` or `range`; `pattern` follows `switchboard_engine::inventory::Pattern`
//! (`777`, `^62`, `082$`, `7?7`, `~4`). Pages are in number order; `next` is the `after` of
//! the next page. In a path, the `#` of an enterprise number is written `%23`.
//!
//! One client (its address: an IPv4 address, or the /64 of an IPv6 one) has at most
//! `[numbers] max_holds_per_source` holds running; past that a reservation answers 429
//! `too_many_holds` with Retry-After (when its first hold runs out). A hold that runs out or
//! becomes an order frees its place.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use switchboard_engine::inventory::{DeskError, Filter, NumberKind, Pattern};
use switchboard_engine::numbering::NumberingPlan;

use super::auth;
use super::error::ApiError;
use crate::number_shop::{token, NumberShop, ShopError};
use crate::shared::Shared;

/// The HTTP answer to a shop failure.
pub fn shop_error(e: ShopError) -> ApiError {
    let message = e.to_string();
    match e {
        ShopError::Desk(d) => match d {
            DeskError::NoSuchNumber | DeskError::NoSuchOrder => ApiError::not_found(message),
            DeskError::Taken => ApiError::conflict("taken", message),
            DeskError::NoHold => ApiError::conflict("no_hold", message),
            DeskError::TooManyHolds {
                limit,
                retry_after_secs,
            } => ApiError::too_many_requests("too_many_holds", message, retry_after_secs)
                .with_field("limit", limit),
            DeskError::Order(_) => ApiError::conflict("order_closed", message),
            _ => ApiError::unprocessable("bad_inventory", message),
        },
        ShopError::Inventory(_) => ApiError::unprocessable("bad_inventory", message),
        ShopError::Signature(_) => ApiError::new(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "bad_signature",
            message,
        ),
        ShopError::Provider(_) => ApiError::new(
            actix_web::http::StatusCode::BAD_GATEWAY,
            "payment_provider",
            message,
        ),
        _ => ApiError::internal(message),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryBody {
    inventory: String,
}

pub async fn load(
    req: HttpRequest,
    body: web::Json<InventoryBody>,
    s: web::Data<Arc<Shared>>,
    shop: web::Data<NumberShop>,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let text = body.into_inner().inventory;
    let report = web::block(move || shop.load(&text))
        .await?
        .map_err(shop_error)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "classes": report.classes,
        "blocks": report.blocks,
        "added": report.added,
        "present": report.present,
    })))
}

pub async fn blocks(
    req: HttpRequest,
    s: web::Data<Arc<Shared>>,
    shop: web::Data<NumberShop>,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let view = web::block(move || {
        shop.with_desk(|d, _| {
            let blocks: Vec<_> = d
                .blocks()
                .iter()
                .map(|b| {
                    serde_json::json!({
                        "id": b.id,
                        "kind": b.line.kind.as_str(),
                        "class": b.line.class,
                        "count": b.line.count,
                        "first": b.line.first,
                        "country": b.country,
                        "added": b.added,
                    })
                })
                .collect();
            let classes: Vec<_> = d
                .classes()
                .map(|c| {
                    serde_json::json!({
                        "name": c.name,
                        "price_minor": c.price.minor,
                        "currency": c.price.currency,
                    })
                })
                .collect();
            serde_json::json!({ "blocks": blocks, "classes": classes, "numbers": d.stock().len() })
        })
    })
    .await?
    .map_err(shop_error)?;
    Ok(HttpResponse::Ok().json(view))
}

/// `GET /v1/numbers/{n}` (admin): one number of the stock and what it is doing: `free`,
/// `held` (until), `ordered` (order), `assigned` (order), `quarantine` (for sale again at).
pub async fn show(
    req: HttpRequest,
    number: web::Path<String>,
    s: web::Data<Arc<Shared>>,
    shop: web::Data<NumberShop>,
) -> Result<HttpResponse, ApiError> {
    use switchboard_engine::inventory::SlotState;
    auth::admin(&req, &s)?;
    let written = number.into_inner();
    let view = web::block(move || {
        shop.with_desk(|d, now| {
            let key = d.key_of(shop.plan(), &written)?;
            let slot = d.stock().get(&key)?;
            let (state, extra) = match &slot.state {
                SlotState::Held { until, .. } if *until > now => {
                    ("held", serde_json::json!({ "until_unix": until.0 }))
                }
                SlotState::Free | SlotState::Held { .. } => ("free", serde_json::json!({})),
                SlotState::Ordered { order } => ("ordered", serde_json::json!({ "order": order })),
                SlotState::Assigned { order } => {
                    ("assigned", serde_json::json!({ "order": order }))
                }
                SlotState::Aging { until } if *until > now => {
                    ("quarantine", serde_json::json!({ "until_unix": until.0 }))
                }
                SlotState::Aging { .. } => ("free", serde_json::json!({})),
            };
            let mut v = serde_json::json!({
                "key": slot.listed.key,
                "display": slot.listed.display,
                "kind": slot.listed.kind.as_str(),
                "country": slot.listed.country,
                "class": slot.listed.class,
                "state": state,
            });
            if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
                v.extend(extra.clone());
            }
            Some(v)
        })
    })
    .await?
    .map_err(shop_error)?;
    match view {
        Some(v) => Ok(HttpResponse::Ok().json(v)),
        None => Err(ApiError::not_found("no such number in the stock")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    country: Option<String>,
    kind: Option<String>,
    pattern: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

/// A calling code (`82`) or an ISO 3166 country (`KR`).
fn calling_code(s: &str) -> Option<u16> {
    if s.bytes().all(|c| c.is_ascii_digit()) {
        return s.parse().ok().filter(|c| (1..=999).contains(c));
    }
    NumberingPlan::new(s)
        .ok()
        .map(|p| p.calling_code())
        .filter(|c| *c != 0)
}

pub async fn available(
    q: web::Query<SearchQuery>,
    shop: web::Data<NumberShop>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let country = match q.country.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(
            calling_code(c)
                .ok_or_else(|| ApiError::bad_request("bad_country", "unknown country"))?,
        ),
        None => None,
    };
    let kind = match q.kind.as_deref().filter(|k| !k.is_empty()) {
        Some(k) => Some(NumberKind::parse(k).ok_or_else(|| {
            ApiError::bad_request("bad_kind", "kind is personal, enterprise or range")
        })?),
        None => None,
    };
    let pattern = match q.pattern.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => Some(
            Pattern::parse(p).map_err(|e| ApiError::bad_request("bad_pattern", e.to_string()))?,
        ),
        None => None,
    };
    let limit = q.limit.unwrap_or(20).clamp(1, shop.config().page_max);
    let filter = Filter {
        country,
        kind,
        pattern,
    };
    let view = web::block(move || {
        shop.with_desk(|d, now| {
            let page = d.search(now, &filter, q.after.as_deref(), limit);
            let numbers: Vec<_> = page
                .numbers
                .iter()
                .map(|l| {
                    serde_json::json!({
                        "number": l.display,
                        "key": l.key,
                        "kind": l.kind.as_str(),
                        "country": l.country,
                        "class": l.class,
                    })
                })
                .collect();
            let next = page.next.clone();
            let mut numbers = numbers;
            for n in &mut numbers {
                let class = n["class"].as_str().unwrap_or_default().to_owned();
                if let Some(c) = d.class(&class) {
                    n["price_minor"] = c.price.minor.into();
                    n["currency"] = c.price.currency.clone().into();
                }
            }
            serde_json::json!({ "numbers": numbers, "next": next })
        })
    })
    .await?
    .map_err(shop_error)?;
    Ok(HttpResponse::Ok().json(view))
}

/// The client a hold is counted for: its IPv4 address, or the /64 of its IPv6 address (one
/// subscriber's network); an IPv4 address mapped into IPv6 counts as itself.
pub fn hold_source(ip: Option<IpAddr>) -> String {
    match ip.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "unknown".to_owned(),
    }
}

pub async fn reserve(
    req: HttpRequest,
    number: web::Path<String>,
    shop: web::Data<NumberShop>,
) -> Result<HttpResponse, ApiError> {
    // `#` of an enterprise number travels as %23, which the router leaves encoded
    let written = number.into_inner().replace("%23", "#");
    let source = hold_source(req.peer_addr().map(|a| a.ip()));
    let hold = web::block(move || {
        shop.with_desk(|d, now| {
            let key = d
                .key_of(shop.plan(), &written)
                .ok_or(DeskError::NoSuchNumber)?;
            d.reserve(now, &key, token(32), &source)
        })
    })
    .await?
    .map_err(shop_error)?
    .map_err(|e| shop_error(e.into()))?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "number": hold.number,
        "token": hold.token,
        "expires_unix": hold.until.0,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_count_per_ipv4_address_and_per_ipv6_network() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(hold_source(ip("192.0.2.7")), "192.0.2.7");
        assert_eq!(hold_source(ip("::ffff:192.0.2.7")), "192.0.2.7");
        assert_eq!(
            hold_source(ip("2001:db8:1:2:aaaa::1")),
            hold_source(ip("2001:db8:1:2:bbbb::9")),
            "one /64"
        );
        assert_ne!(
            hold_source(ip("2001:db8:1:2::1")),
            hold_source(ip("2001:db8:1:3::1"))
        );
        assert_eq!(hold_source(None), "unknown");
    }
}
