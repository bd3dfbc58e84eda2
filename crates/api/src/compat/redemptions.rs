//! `/api/redemption/*` (admin): New API's code management (docs/newapi-behaviour.md §8.1):
//! mint, list, search, read, edit, enable/disable, delete and delete the invalid ones. Every
//! write is audited; the rules live in `tollgate_domain::redemption_manage`.

use actix_web::web;
use serde::Deserialize;
use tollgate_domain::{Page, PageRequest, Redemption, RedemptionEdit};

use super::auth::AdminAuth;
use super::dto::{PageBody, RedemptionItem};
use super::respond::{CompatError, CompatResult, ok, ok_empty, refuse, refuse_now};
use crate::client::ClientIp;
use crate::i18n::Msg;
use crate::input::{Json, Path, Query};
use crate::openapi::CompatEnvelope;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = RedemptionCreateBody)]
#[serde(default)]
pub struct CreateBody {
    #[schema(max_length = 20)]
    pub name: Option<String>,
    pub quota: Option<i64>,
    #[schema(minimum = 1, maximum = 100)]
    pub count: Option<i64>,
    /// Unix seconds; 0 or absent never expires.
    pub expired_time: Option<i64>,
}

/// `POST /api/redemption/`: mint 1..=100 codes; `data` is the list of keys, shown this once
/// in bulk (admins can list them again; see docs/security.md).
#[utoipa::path(
    post,
    path = "/api/redemption/",
    tag = "compat: redemption",
    request_body = CreateBody,
    responses((status = 200, description = "`data` is the new keys, or refused", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    auth: AdminAuth,
    ip: ClientIp,
    body: Json<CreateBody>,
) -> CompatResult {
    let body = body.into_inner();
    let created = state
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
        .await;
    // The mint limit's message shows quota in the current display.
    match created {
        Ok(keys) => Ok(ok(keys)),
        Err(e) => Err(refuse_now(e, auth.locale, &state).await),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct ListQuery {
    pub p: Option<i64>,
    pub page_size: Option<i64>,
}

/// `GET /api/redemption/?p=&page_size=`: codes, newest first.
#[utoipa::path(
    get,
    path = "/api/redemption/",
    tag = "compat: redemption",
    params(ListQuery),
    responses((status = 200, description = "`data` is `{items, total, page, page_size}`", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
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
    Ok(ok(page_body(&page)))
}

fn page_body(page: &Page<Redemption>) -> PageBody<RedemptionItem> {
    PageBody {
        items: page.items.iter().map(RedemptionItem::from).collect(),
        total: page.total,
        page: page.request.page(),
        page_size: page.request.size(),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct SearchQuery {
    pub keyword: Option<String>,
    pub p: Option<i64>,
    pub page_size: Option<i64>,
}

/// `GET /api/redemption/search?keyword=&p=&page_size=`: live codes whose name starts with the
/// keyword, or whose id it is; newest first, paged like the list.
#[utoipa::path(
    get,
    path = "/api/redemption/search",
    tag = "compat: redemption",
    params(SearchQuery),
    responses((status = 200, description = "`data` is `{items, total, page, page_size}`", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn search(
    state: web::Data<AppState>,
    auth: AdminAuth,
    query: Query<SearchQuery>,
) -> CompatResult {
    let request = PageRequest::new(query.p, query.page_size);
    let page = state
        .services
        .redemptions
        .search(
            &auth.user,
            query.keyword.as_deref().unwrap_or_default(),
            request,
        )
        .await
        .map_err(refuse(auth.locale, &state.info))?;
    Ok(ok(page_body(&page)))
}

/// `GET /api/redemption/{id}`: one live code (the console's edit form).
#[utoipa::path(
    get,
    path = "/api/redemption/{id}",
    tag = "compat: redemption",
    params(("id" = i64, Path, description = "The code's id")),
    responses((status = 404, description = "The id is not a non-negative integer: New API's 404 JSON, as for an unknown path", body = CompatEnvelope), (status = 200, description = "`data` is the code", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn get(state: web::Data<AppState>, auth: AdminAuth, id: Path<i64>) -> CompatResult {
    let code = state
        .services
        .redemptions
        .get(&auth.user, id.into_inner())
        .await
        .map_err(refuse(auth.locale, &state.info))?;
    Ok(ok(RedemptionItem::from(&code)))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct UpdateQuery {
    pub status_only: Option<String>,
}

/// The console sends the whole code back on an edit (`key`, `created_time`, ... are ignored)
/// and `{id, status}` with `?status_only=true`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = RedemptionUpdateBody)]
#[serde(default)]
pub struct UpdateBody {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub quota: Option<i64>,
    /// Unix seconds; 0 never expires; absent keeps the current expiry.
    pub expired_time: Option<i64>,
    pub status: Option<i64>,
}

/// `PUT /api/redemption/`: edit name, quota and expiry; with `?status_only=true` (or `1`) only
/// the status, 1 or 2. `data` is the code as stored afterwards (the console reads
/// `data.status`).
#[utoipa::path(
    put,
    path = "/api/redemption/",
    tag = "compat: redemption",
    params(UpdateQuery),
    request_body = UpdateBody,
    responses((status = 200, description = "`data` is the code afterwards, or refused", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    auth: AdminAuth,
    ip: ClientIp,
    query: Query<UpdateQuery>,
    body: Json<UpdateBody>,
) -> CompatResult {
    let status_only = match query.status_only.as_deref().map(str::trim) {
        None | Some("" | "false" | "0") => false,
        Some("true" | "1") => true,
        Some(_) => return Err(CompatError::fail(Msg::InvalidParams, auth.locale)),
    };
    let body = body.into_inner();
    // No id matches no code.
    let id = body.id.unwrap_or(0);
    let service = &state.services.redemptions;
    let updated = if status_only {
        let Some(status) = body.status else {
            return Err(CompatError::fail(Msg::RedemptionStatusInvalid, auth.locale));
        };
        service.set_status(&auth.user, id, status, ip.0).await
    } else {
        let edit = RedemptionEdit {
            name: body.name,
            quota: body.quota,
            expires_at: body.expired_time,
        };
        service.edit(&auth.user, id, &edit, ip.0).await
    }
    .map_err(refuse(auth.locale, &state.info))?;
    Ok(ok(RedemptionItem::from(&updated)))
}

/// `DELETE /api/redemption/{id}` (the console adds a trailing slash): soft-deletes one code.
#[utoipa::path(
    delete,
    path = "/api/redemption/{id}",
    tag = "compat: redemption",
    params(("id" = i64, Path, description = "The code's id")),
    responses((status = 404, description = "The id is not a non-negative integer: New API's 404 JSON, as for an unknown path", body = CompatEnvelope), (status = 200, description = "Deleted, or refused", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn delete(
    state: web::Data<AppState>,
    auth: AdminAuth,
    ip: ClientIp,
    id: Path<i64>,
) -> CompatResult {
    state
        .services
        .redemptions
        .delete(&auth.user, id.into_inner(), ip.0)
        .await
        .map_err(refuse(auth.locale, &state.info))?;
    Ok(ok_empty())
}

/// `DELETE /api/redemption/invalid`: soft-deletes every used, disabled or expired code;
/// `data` is how many.
#[utoipa::path(
    delete,
    path = "/api/redemption/invalid",
    tag = "compat: redemption",
    responses((status = 200, description = "`data` is how many codes were deleted", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn delete_invalid(
    state: web::Data<AppState>,
    auth: AdminAuth,
    ip: ClientIp,
) -> CompatResult {
    let count = state
        .services
        .redemptions
        .delete_invalid(&auth.user, ip.0)
        .await
        .map_err(refuse(auth.locale, &state.info))?;
    Ok(ok(count))
}
