//! Operational endpoints: liveness, readiness and metrics.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::openapi::{Collector, Routes, TrailingSlash};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig, doc: &Collector) {
    Routes::new("", TrailingSlash::Exact, doc)
        .op::<__path_healthz>(web::route().to(healthz))
        .op::<__path_readyz>(web::route().to(readyz))
        .op::<crate::metrics::__path_scrape>(web::route().to(crate::metrics::scrape))
        .register(cfg);
}

/// `{"status": "ok"}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct Health {
    status: String,
}

/// What `/readyz` checked: `database` is `ok` or `unreachable`; `kv` is `ok`, `unreachable` or
/// `in-process` (no Redis configured).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct Readiness {
    /// `ok` or `unavailable`.
    status: String,
    database: String,
    kv: String,
}

/// The process is up and serving HTTP.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "Serving", body = Health))
)]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The process can serve requests: the database answers, and so does Redis when the
/// key-value store is there (`"kv": "in-process"` otherwise).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "The database or Redis does not answer", body = Readiness)
    )
)]
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let services = &state.services;
    let database = match services.readiness.check().await {
        Ok(()) => "ok",
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed: database");
            "unreachable"
        }
    };
    let kv = match &services.kv_readiness {
        None => "in-process",
        Some(redis) => match redis.check().await {
            Ok(()) => "ok",
            Err(e) => {
                tracing::warn!(error = format!("{:#}", e.0), "readiness check failed: kv");
                "unreachable"
            }
        },
    };
    if database == "unreachable" || kv == "unreachable" {
        HttpResponse::ServiceUnavailable()
            .json(json!({"status": "unavailable", "database": database, "kv": kv}))
    } else {
        HttpResponse::Ok().json(json!({"status": "ok", "database": database, "kv": kv}))
    }
}
