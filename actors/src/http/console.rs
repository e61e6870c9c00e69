//! The operator console: one page, its script and its style, built into the binary
//! (`console/`), no build step and nothing loaded from elsewhere.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `GET /console` | anyone | the page (it holds no data) |
//! | `GET /console/app.js`, `GET /console/app.css` | anyone | its script and style |
//!
//! The page asks for the admin token (or takes it from the URL fragment, `#token=...`, which
//! never reaches a server), keeps it in the tab's sessionStorage and sends it as `Bearer` to
//! the admin API: `/v1/analytics/*`, `/v1/calls`, `/v1/registrations`, `/v1/bans`. A switch
//! without a token serves the API to loopback clients, and so the console too. The content
//! security policy allows only the switch's own script and style (no inline code), and no
//! framing. The page shows subscribers' numbers (live calls, registrations) with their middle
//! masked by the rule of the logs' redaction (`numbering::Redacted`): a screen seen by others
//! does not list who calls whom.

use actix_web::http::header;
use actix_web::HttpResponse;

const PAGE: &str = include_str!("console/index.html");
const SCRIPT: &str = include_str!("console/app.js");
const STYLE: &str = include_str!("console/app.css");

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                      connect-src 'self'; img-src 'self' data:; form-action 'self'; \
                      frame-ancestors 'none'; base-uri 'none'";

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

pub async fn page() -> HttpResponse {
    asset("text/html; charset=utf-8", PAGE)
}

pub async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

pub async fn style() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLE)
}
