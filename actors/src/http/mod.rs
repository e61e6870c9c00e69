//! The HTTP side (actix-web): health, Prometheus metrics, plugin reload and the forwarding
//! API. Errors are JSON: `{"code": "...", "message": "..."}` (`error.rs`, the one error type
//! every handler returns).
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `GET /healthz` | anyone | `{"status":"ok"}` |
//! | `GET /metrics` | anyone | OpenMetrics text |
//! | `GET /admin/plugins` | admin | the running plugin version |
//! | `POST /admin/plugins/reload` | admin | reload; 200 with the new version, 422 with the error |
//! | `GET /v1/accounts/{number}/forwarding` | admin or the subscriber | the settings |
//! | `PUT /v1/accounts/{number}/forwarding` | admin or the subscriber | replace them |
//! | `/v1/accounts...` | see `accounts.rs`, `reset.rs` | accounts, passwords, resets |
//! | `/v1/messages`, `/v1/accounts/{number}/messages` | see `messages.rs` | messages |
//! | `/v1/accounts/{number}/buddies`, `.../watchers` | see `buddies.rs` | buddy lists, grants |
//! | `/v1/rooms...` | see `rooms.rs` | chat rooms |
//! | `/v1/recordings...`, `/v1/accounts/{number}/recording` | see `recordings.rs` | recordings |
//! | `/v1/calls...` | see `calls.rs` | live and recently ended calls, media figures |
//! | `/v1/conferences...` | see `conferences.rs` | conferences, participants, moderation |
//! | `/v1/accounts/{number}/voicemail...` | see `voicemail.rs` | messages, greetings, settings |
//! | `GET /v1/bans`, `DELETE /v1/bans/{ip}` | admin, see `bans.rs` | flood bans |
//! | `GET /v1/registrations` | admin, see `registrations.rs` | every registered device |
//! | `/v1/analytics/...` | admin, see `analytics.rs` | per-day call tallies, record import |
//! | `GET /console` | anyone (its data: admin), see `console.rs` | the operator console |
//! | `/v1/members...` | see `members.rs` | members, outside-number verification, hot-desk PIN |
//! | `/v1/numbers...` | see `numbers.rs` | the number inventory, searches, holds |
//! | `/v1/orders...`, `POST /v1/payments/webhook` | see `orders.rs` | orders, payments, approval |
//! | `GET /v1/cdrs`, `/admin/tariffs...` | admin, see `cdrs.rs` | call records, tariff tables |
//! | `/v1/billing/{number}...` | see `billing.rs` | balances, top-ups, statements |
//!
//! The whole API is described in `docs/openapi.yaml`.
//!
//! Admin: `Authorization: Bearer <http.admin_token>`, or any client on a loopback address
//! when no token is configured. The subscriber: `Authorization: Basic` with the number and
//! the SIP password.
//!
//! This file declares the modules and routes; the handlers live in the files below, which
//! name nothing of this one. What they share: `error.rs` (the error every handler returns, a
//! leaf), `auth.rs` (who is calling; it names only `error.rs`) and `query.rs` (query values
//! read alike, such as a `number=` filter).

mod accounts;
mod analytics;
mod auth;
mod bans;
mod billing;
mod buddies;
mod calls;
mod cdrs;
mod conferences;
mod console;
mod error;
mod forwarding;
mod mailboxes;
mod members;
mod messages;
mod numbers;
mod orders;
mod presence;
mod query;
mod recordings;
mod registrations;
mod reset;
mod rooms;
mod voicemail;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

use crate::shared::Shared;
use error::ApiError;

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body("{\"status\":\"ok\"}")
}

async fn metrics(s: web::Data<Arc<Shared>>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(s.metrics.encode())
}

async fn plugins(req: HttpRequest, s: web::Data<Arc<Shared>>) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    Ok(HttpResponse::Ok().json(s.plugins.report()))
}

async fn reload(req: HttpRequest, s: web::Data<Arc<Shared>>) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let host = s.plugins.clone();
    match web::block(move || host.reload()).await? {
        Ok(report) => Ok(HttpResponse::Ok().json(report)),
        // the rejected version's error, and what keeps running
        Err(e) => Err(ApiError::unprocessable("plugin_rejected", e.to_string())
            .with_field("running", s.plugins.report())),
    }
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found("no such endpoint"))
}

/// The voicemail resources; `settings` and `greetings` before `{id}`, which would take them.
fn voicemail_routes(cfg: &mut web::ServiceConfig) {
    const BOX: &str = "/v1/accounts/{number}/voicemail";
    cfg.route(BOX, web::get().to(voicemail::list))
        .route(BOX, web::post().to(voicemail::import))
        .route(
            &format!("{BOX}/settings"),
            web::get().to(voicemail::settings),
        )
        .route(
            &format!("{BOX}/settings"),
            web::put().to(voicemail::put_settings),
        )
        .route(
            &format!("{BOX}/greetings/{{kind}}"),
            web::get().to(voicemail::greeting),
        )
        .route(
            &format!("{BOX}/greetings/{{kind}}"),
            web::put().to(voicemail::put_greeting),
        )
        .route(
            &format!("{BOX}/greetings/{{kind}}"),
            web::delete().to(voicemail::delete_greeting),
        )
        .route(&format!("{BOX}/{{id}}"), web::get().to(voicemail::audio))
        .route(&format!("{BOX}/{{id}}"), web::patch().to(voicemail::change))
        .route(
            &format!("{BOX}/{{id}}"),
            web::delete().to(voicemail::delete),
        );
}

/// The analytics API, the registrations list and the console.
fn analytics_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/analytics/days", web::get().to(analytics::days))
        .route(
            "/v1/analytics/countries",
            web::get().to(analytics::countries),
        )
        .route("/v1/analytics/trunks", web::get().to(analytics::trunks))
        .service(
            web::resource("/v1/analytics/records")
                .app_data(web::PayloadConfig::new(analytics::MAX_IMPORT_BYTES))
                .route(web::post().to(analytics::import)),
        )
        .route("/v1/registrations", web::get().to(registrations::list))
        .route("/console", web::get().to(console::page))
        .route("/console/app.js", web::get().to(console::script))
        .route("/console/app.css", web::get().to(console::style));
}

/// The members resources.
fn member_routes(cfg: &mut web::ServiceConfig) {
    const ONE: &str = "/v1/members/{id}";
    const VERIFY: &str = "/v1/members/{id}/numbers/{n}/verification";
    cfg.route("/v1/members", web::post().to(members::create))
        .route("/v1/members", web::get().to(members::list))
        .route(ONE, web::get().to(members::show))
        .route(ONE, web::patch().to(members::change))
        .route(ONE, web::delete().to(members::delete))
        .route(
            &format!("{ONE}/hotdesk-pin"),
            web::put().to(members::set_pin),
        )
        .route(VERIFY, web::post().to(members::send_code))
        .route(
            &format!("{VERIFY}/confirm"),
            web::post().to(members::confirm),
        );
}

/// The number shop's resources; `available`, `blocks` and `inventory` before `{number}`.
fn shop_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/numbers/inventory", web::post().to(numbers::load))
        .route("/v1/numbers/blocks", web::get().to(numbers::blocks))
        .route("/v1/numbers/available", web::get().to(numbers::available))
        .route("/v1/numbers/{n}", web::get().to(numbers::show))
        .route(
            "/v1/numbers/{number}/reservation",
            web::post().to(numbers::reserve),
        )
        .route("/v1/orders", web::post().to(orders::create))
        .route("/v1/orders", web::get().to(orders::list))
        .route("/v1/orders/{id}", web::get().to(orders::show))
        .route("/v1/orders/{id}/payment", web::post().to(orders::pay))
        .route("/v1/orders/{id}/approve", web::post().to(orders::approve))
        .route("/v1/orders/{id}/refuse", web::post().to(orders::refuse))
        .route("/v1/payments/webhook", web::post().to(orders::webhook));
}

/// Starts the HTTP server on an already bound listener.
pub fn start(
    listener: TcpListener,
    shared: Arc<Shared>,
) -> std::io::Result<actix_web::dev::Server> {
    let shop = crate::number_shop::NumberShop::open(
        shared.db.clone(),
        shared.plan.clone(),
        shared.config.numbers.clone(),
    )
    .map_err(|e| std::io::Error::other(format!("number shop: {e}")))?;
    let shop = Arc::new(shop);
    let _ = shared.number_shop.set(shop.clone());
    let shop = web::Data::from(shop);
    let data = web::Data::new(shared);
    let resets = web::Data::new(reset::ResetLimits::default());
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(resets.clone())
            .app_data(shop.clone())
            .app_data(
                web::JsonConfig::default()
                    // bodies must say application/json: a browser page cannot send that to
                    // another origin without a preflight, so no web page can drive the API
                    .limit(64 * 1024)
                    .error_handler(|e, _| {
                        ApiError::bad_request("bad_request", e.to_string()).into()
                    }),
            )
            .route("/healthz", web::get().to(healthz))
            .route("/metrics", web::get().to(metrics))
            .route("/admin/plugins", web::get().to(plugins))
            .route("/admin/plugins/reload", web::post().to(reload))
            .route("/v1/bans", web::get().to(bans::list))
            .route("/v1/cdrs", web::get().to(cdrs::list))
            .route("/v1/billing/{number}", web::get().to(billing::show))
            .route("/v1/billing/{number}", web::put().to(billing::replace))
            .route(
                "/v1/billing/{number}/topups",
                web::post().to(billing::top_up),
            )
            .route(
                "/v1/billing/{number}/adjustments",
                web::post().to(billing::adjust),
            )
            .route(
                "/v1/billing/{number}/statement",
                web::get().to(billing::statement),
            )
            .route(
                "/v1/billing/{number}/statements/{month}",
                web::get().to(billing::monthly),
            )
            .route("/admin/tariffs", web::get().to(cdrs::tariffs))
            .route(
                "/admin/tariffs/reload",
                web::post().to(cdrs::reload_tariffs),
            )
            .route("/v1/bans/{ip}", web::delete().to(bans::lift))
            .route(
                "/v1/accounts/{number}/forwarding",
                web::get().to(forwarding::show),
            )
            .route(
                "/v1/accounts/{number}/forwarding",
                web::put().to(forwarding::replace),
            )
            .route("/v1/accounts", web::post().to(accounts::create))
            .route("/v1/accounts/{number}", web::get().to(accounts::show))
            .route("/v1/accounts/{number}", web::delete().to(accounts::remove))
            .route(
                "/v1/accounts/{number}/bindings",
                web::get().to(accounts::bindings),
            )
            .route(
                "/v1/accounts/{number}/password",
                web::post().to(accounts::set_password),
            )
            .route(
                "/v1/accounts/{number}/password-reset",
                web::post().to(reset::reset),
            )
            .route(
                "/v1/accounts/{number}/messages",
                web::get().to(messages::list),
            )
            .route(
                "/v1/accounts/{number}/messages/{seq}",
                web::delete().to(messages::remove),
            )
            .route(
                "/v1/accounts/{number}/presence",
                web::get().to(presence::buddies),
            )
            .route("/v1/messages", web::post().to(messages::send))
            .route("/v1/messages/{id}", web::get().to(messages::status))
            .route(
                "/v1/accounts/{number}/buddies",
                web::get().to(buddies::list),
            )
            .route(
                "/v1/accounts/{number}/buddies",
                web::put().to(buddies::replace),
            )
            .route(
                "/v1/accounts/{number}/buddies",
                web::post().to(buddies::add),
            )
            .route(
                "/v1/accounts/{number}/buddies/{buddy}",
                web::delete().to(buddies::remove),
            )
            .route(
                "/v1/accounts/{number}/watchers",
                web::get().to(buddies::watchers),
            )
            .route(
                "/v1/accounts/{number}/watchers/{watcher}",
                web::put().to(buddies::decide),
            )
            .route(
                "/v1/accounts/{number}/watchers/{watcher}",
                web::delete().to(buddies::forget),
            )
            .route(
                "/v1/accounts/{number}/recording",
                web::get().to(recordings::show_setting),
            )
            .route(
                "/v1/accounts/{number}/recording",
                web::put().to(recordings::set_setting),
            )
            .configure(voicemail_routes)
            .configure(member_routes)
            .route("/v1/calls", web::get().to(calls::list))
            .route("/v1/calls/{id}", web::get().to(calls::show))
            .route("/v1/recordings", web::get().to(recordings::list))
            .route("/v1/recordings/{id}", web::get().to(recordings::show))
            .route("/v1/recordings/{id}", web::delete().to(recordings::delete))
            .route("/admin/messaging/sweep", web::post().to(messages::sweep))
            .route("/v1/rooms", web::post().to(rooms::create))
            .route("/v1/rooms", web::get().to(rooms::list))
            .route("/v1/rooms/{room}", web::get().to(rooms::show))
            .route("/v1/rooms/{room}", web::delete().to(rooms::delete))
            .route(
                "/v1/rooms/{room}/members",
                web::post().to(rooms::add_member),
            )
            .route(
                "/v1/rooms/{room}/members/{number}",
                web::delete().to(rooms::remove_member),
            )
            .route("/v1/rooms/{room}/topic", web::put().to(rooms::set_topic))
            .route("/v1/rooms/{room}/messages", web::get().to(rooms::history))
            .route("/v1/rooms/{room}/messages", web::post().to(rooms::post))
            .route("/v1/conferences", web::post().to(conferences::create))
            .route("/v1/conferences", web::get().to(conferences::list))
            .route("/v1/conferences/{name}", web::get().to(conferences::show))
            .route(
                "/v1/conferences/{name}",
                web::put().to(conferences::replace),
            )
            .route(
                "/v1/conferences/{name}",
                web::delete().to(conferences::delete),
            )
            .route(
                "/v1/conferences/{name}/participants/{id}",
                web::patch().to(conferences::set_muted),
            )
            .route(
                "/v1/conferences/{name}/participants/{id}",
                web::delete().to(conferences::remove),
            )
            .configure(analytics_routes)
            .configure(conferences::debug_routes)
            .configure(mailboxes::debug_routes)
            .configure(shop_routes)
            .default_service(web::to(not_found))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}
