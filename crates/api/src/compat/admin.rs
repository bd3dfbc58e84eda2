//! `/api/user/*` admin routes and `/api/group/` (docs/newapi-behaviour.md §6).

use actix_web::web;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tollgate_domain::hierarchy::AdminOp;
use tollgate_domain::ports::MatchMode;
use tollgate_domain::services::{AdminCreateInput, AdminError, AdminUpdateInput, UserListInput};
use tollgate_domain::{PageRequest, User, UserId};

use super::auth::AdminAuth;
use super::dto::{NewApiUser, PageBody};
use super::respond::{CompatError, CompatResult, ok, ok_empty, refuse};
use crate::client::ClientIp;
use crate::i18n::{Locale, Msg};
use crate::input::{Json, Path, Query};
use crate::openapi::CompatEnvelope;
use crate::refusals::AdminRefusal;
use crate::rest::rfc3339;
use crate::state::AppState;

/// A user as the admin console lists it: New API's `model.User` JSON, minus every secret
/// (no password hash, no access token, no settings, which hold the user's webhook secret).
#[derive(Debug, Serialize)]
pub struct AdminUser {
    #[serde(flatten)]
    pub user: NewApiUser,
    /// Always empty; the key exists because the console's edit form sends it back.
    pub password: &'static str,
    pub remark: String,
    pub created_at: i64,
    pub last_login_at: i64,
    /// `null` unless soft-deleted (the console greys rows whose `DeletedAt` is not null).
    #[serde(rename = "DeletedAt")]
    pub deleted_at: Option<String>,
}

impl From<&User> for AdminUser {
    fn from(u: &User) -> Self {
        Self {
            user: NewApiUser::from(u),
            password: "",
            remark: u.remark.as_deref().unwrap_or_default().to_owned(),
            created_at: u.created_at,
            last_login_at: u.last_login_at.unwrap_or(0),
            deleted_at: u.deleted_at.map(rfc3339),
        }
    }
}

fn page_body(page: tollgate_domain::Page<User>) -> PageBody<AdminUser> {
    PageBody {
        items: page.items.iter().map(AdminUser::from).collect(),
        total: page.total,
        page: page.request.page(),
        page_size: page.request.size(),
    }
}

/// The compat refusal of an admin operation's error (`crate::refusals::AdminRefusal`).
fn admin_error(
    state: &AppState,
    op: AdminOp,
    locale: Locale,
) -> impl FnOnce(AdminError) -> CompatError {
    move |e| CompatError::refused(&AdminRefusal(e, op), locale, &state.info)
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct ListQuery {
    pub p: Option<i64>,
    pub page_size: Option<i64>,
    /// New API's fallback aliases for the page size.
    pub ps: Option<i64>,
    pub size: Option<i64>,
    pub keyword: Option<String>,
    pub group: Option<String>,
}

impl ListQuery {
    fn page(&self) -> PageRequest {
        PageRequest::new(self.p, self.page_size.or(self.ps).or(self.size))
    }
}

/// `GET /api/user/?p=&page_size=` (admin): the users below the admin's role (and itself),
/// newest first, soft-deleted ones included.
#[utoipa::path(
    get,
    path = "/api/user/",
    tag = "compat: admin",
    params(ListQuery),
    responses((status = 200, description = "`data` is `{items, total, page, page_size}`", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn list(
    auth: AdminAuth,
    state: web::Data<AppState>,
    q: Query<ListQuery>,
) -> CompatResult {
    let page = state
        .services
        .admin
        .list(&auth.user, UserListInput::default(), q.page())
        .await
        .map_err(admin_error(&state, AdminOp::View, auth.locale))?;
    Ok(ok(page_body(page)))
}

/// `GET /api/user/search?keyword=&group=&p=&page_size=` (admin): New API's substring search
/// over username, display name and e-mail, and the id when the keyword is numeric.
#[utoipa::path(
    get,
    path = "/api/user/search",
    tag = "compat: admin",
    params(ListQuery),
    responses((status = 200, description = "`data` is `{items, total, page, page_size}`", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn search(
    auth: AdminAuth,
    state: web::Data<AppState>,
    q: Query<ListQuery>,
) -> CompatResult {
    let input = UserListInput {
        keyword: q.keyword.clone(),
        match_mode: MatchMode::Contains,
        group: q.group.clone(),
        status: None,
        live_only: false,
    };
    let page = state
        .services
        .admin
        .list(&auth.user, input, q.page())
        .await
        .map_err(admin_error(&state, AdminOp::View, auth.locale))?;
    Ok(ok(page_body(page)))
}

/// `GET /api/user/{id}` (admin).
#[utoipa::path(
    get,
    path = "/api/user/{id}",
    tag = "compat: admin",
    params(("id" = i64, Path, description = "The user's id")),
    responses((status = 404, description = "The id is not a non-negative integer: New API's 404 JSON, as for an unknown path", body = CompatEnvelope), (status = 200, description = "`data` is the user", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn get(auth: AdminAuth, state: web::Data<AppState>, id: Path<i64>) -> CompatResult {
    let user = state
        .services
        .admin
        .get(&auth.user, UserId::new(id.into_inner()))
        .await
        .map_err(admin_error(&state, AdminOp::View, auth.locale))?;
    Ok(ok(AdminUser::from(&user)))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = UserCreateBody)]
#[serde(default)]
pub struct CreateBody {
    pub username: Option<String>,
    pub password: Option<String>,
    pub display_name: Option<String>,
    pub role: Option<i32>,
}

/// `POST /api/user/` (admin): create a user with a role below the admin's own.
#[utoipa::path(
    post,
    path = "/api/user/",
    tag = "compat: admin",
    request_body = CreateBody,
    responses((status = 200, description = "Created, or refused", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn create(
    auth: AdminAuth,
    state: web::Data<AppState>,
    body: Json<CreateBody>,
) -> CompatResult {
    let locale = auth.locale;
    let body = body.into_inner();
    let input = AdminCreateInput {
        username: body.username.unwrap_or_default(),
        password: body.password.unwrap_or_default(),
        display_name: body.display_name,
        role: body.role,
    };
    state
        .services
        .admin
        .create_by_admin(&auth.user, input)
        .await
        .map_err(refuse(locale, &state.info))?;
    Ok(ok_empty())
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = UserUpdateBody)]
#[serde(default)]
pub struct UpdateBody {
    pub id: Option<i64>,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub password: Option<String>,
    pub group: Option<String>,
    pub quota: Option<i64>,
    pub remark: Option<String>,
    pub role: Option<i32>,
    pub status: Option<i32>,
}

/// `PUT /api/user/` (admin): applies every field it accepts or refuses the request. The
/// console sends the whole user; unchanged values change nothing, and `role`/`status` must
/// equal the current ones (they change through `manage`).
#[utoipa::path(
    put,
    path = "/api/user/",
    tag = "compat: admin",
    request_body = UpdateBody,
    responses((status = 200, description = "Updated, or refused", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn update(
    ip: ClientIp,
    auth: AdminAuth,
    state: web::Data<AppState>,
    body: Json<UpdateBody>,
) -> CompatResult {
    let body = body.into_inner();
    let Some(id) = body.id.filter(|id| *id > 0) else {
        return Err(CompatError::fail(Msg::InvalidParams, auth.locale));
    };
    let input = AdminUpdateInput {
        username: body.username,
        display_name: body.display_name,
        password: body.password,
        group: body.group,
        quota: body.quota,
        remark: body.remark,
        role: body.role,
        status: body.status,
    };
    state
        .services
        .admin
        .update(&auth.user, UserId::new(id), input, ip.0)
        .await
        .map_err(admin_error(&state, AdminOp::Update, auth.locale))?;
    Ok(ok_empty())
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ManageBody {
    pub id: Option<i64>,
    pub action: Option<String>,
}

/// The operation of a `manage` action.
fn manage_op(action: Option<&str>) -> Option<AdminOp> {
    Some(match action? {
        "disable" => AdminOp::Disable,
        "enable" => AdminOp::Enable,
        "delete" => AdminOp::Delete,
        "promote" => AdminOp::Promote,
        "demote" => AdminOp::Demote,
        _ => return None,
    })
}

/// `POST /api/user/manage {id, action}` (admin): `disable | enable | delete | promote |
/// demote`; `data` is the user's `{role, status}` afterwards. Unknown actions are refused.
#[utoipa::path(
    post,
    path = "/api/user/manage",
    tag = "compat: admin",
    request_body = ManageBody,
    responses((status = 200, description = "`data` is `{role, status}` afterwards, or refused", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn manage(
    ip: ClientIp,
    auth: AdminAuth,
    state: web::Data<AppState>,
    body: Json<ManageBody>,
) -> CompatResult {
    let locale = auth.locale;
    let body = body.into_inner();
    let Some(id) = body.id else {
        return Err(CompatError::fail(Msg::InvalidParams, locale));
    };
    let op = manage_op(body.action.as_deref())
        .ok_or_else(|| CompatError::fail(Msg::UnknownAction, locale))?;
    let user = state
        .services
        .admin
        .manage(&auth.user, UserId::new(id), op, ip.0)
        .await
        .map_err(admin_error(&state, op, locale))?;
    Ok(ok(
        json!({"role": user.role.code(), "status": user.status.code()}),
    ))
}

/// `DELETE /api/user/{id}` (admin): deletes the user row; ledger and audit history stay.
#[utoipa::path(
    delete,
    path = "/api/user/{id}",
    tag = "compat: admin",
    params(("id" = i64, Path, description = "The user's id")),
    responses((status = 404, description = "The id is not a non-negative integer: New API's 404 JSON, as for an unknown path", body = CompatEnvelope), (status = 200, description = "Deleted, or refused", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn hard_delete(
    ip: ClientIp,
    auth: AdminAuth,
    state: web::Data<AppState>,
    id: Path<i64>,
) -> CompatResult {
    state
        .services
        .admin
        .hard_delete(&auth.user, UserId::new(id.into_inner()), ip.0)
        .await
        .map_err(admin_error(&state, AdminOp::HardDelete, auth.locale))?;
    Ok(ok_empty())
}

/// `GET /api/group/` (admin): the group names, for the console's user editor.
#[utoipa::path(
    get,
    path = "/api/group/",
    tag = "compat: admin",
    responses((status = 200, description = "`data` is the group names", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn groups(auth: AdminAuth, state: web::Data<AppState>) -> CompatResult {
    let names = state
        .services
        .admin
        .group_names()
        .await
        .map_err(|e| CompatError::internal(&e, auth.locale))?;
    Ok(ok(names))
}
