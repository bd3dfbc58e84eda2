//! Operational endpoints: liveness and readiness.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

/// The process is up and serving HTTP.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The process can serve requests: the database answers, and so does Redis when the
/// key-value store is there (`"kv": "in-process"` otherwise).
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
