//! `/api/redemption/*` (admin): enough of code management to seed the redeem path.

use actix_web::web;
use serde::Deserialize;
use tollgate_domain::PageRequest;

use super::auth::AdminAuth;
use super::dto::{PageBody, RedemptionItem};
use super::respond::{CompatError, CompatResult, ok, refuse};
use crate::client::ClientIp;
use crate::input::{Json, Query};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CreateBody {
    pub name: Option<String>,
    pub quota: Option<i64>,
    pub count: Option<i64>,
    /// Unix seconds; 0 or absent never expires.
    pub expired_time: Option<i64>,
}

/// `POST /api/redemption/`: mint 1..=100 codes; `data` is the list of keys, shown this once
/// in bulk (admins can list them again; see docs/security.md).
pub async fn create(
    state: web::Data<AppState>,
    auth: AdminAuth,
    ip: ClientIp,
    body: Json<CreateBody>,
) -> CompatResult {
    let body = body.into_inner();
    let keys = state
        .services
        .redemptions
        .create_batch(
            &auth.user,
            body.name.as_deref().unwrap_or_default(),
            body.quota.unwrap_or(0),
            body.count.unwrap_or(1),
            body.expired_time,
            ip.0,
        )
        .await
        .map_err(refuse(auth.locale, &state.info))?;
    Ok(ok(keys))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    pub p: Option<i64>,
    pub page_size: Option<i64>,
}

/// `GET /api/redemption/?p=&page_size=`: codes, newest first.
pub async fn list(
    state: web::Data<AppState>,
    auth: AdminAuth,
    query: Query<ListQuery>,
) -> CompatResult {
    let request = PageRequest::new(query.p, query.page_size);
    let page = state
        .services
        .redemptions
        .list(request)
        .await
        .map_err(|e| CompatError::internal(&e, auth.locale))?;
    Ok(ok(PageBody {
        items: page.items.iter().map(RedemptionItem::from).collect(),
        total: page.total,
        page: request.page(),
        page_size: request.size(),
    }))
}
