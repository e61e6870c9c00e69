//! The HTTP side: health and Prometheus metrics (actix-web).

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{web, App, HttpResponse, HttpServer};

use crate::metrics::Metrics;

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body("{\"status\":\"ok\"}")
}

async fn metrics(m: web::Data<Arc<Metrics>>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(m.encode())
}

/// Starts the HTTP server on an already bound listener.
pub fn start(listener: TcpListener, m: Arc<Metrics>) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::new(m);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/healthz", web::get().to(healthz))
            .route("/metrics", web::get().to(metrics))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}
