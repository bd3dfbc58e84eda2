//! `/api/v1/admin/*` (user management and the audit log; docs/api.md).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tollgate_domain::audit::{AuditAction, AuditFilter, AuditRecord};
use tollgate_domain::hierarchy::AdminOp;
use tollgate_domain::ports::MatchMode;
use tollgate_domain::services::{AdminError, UserListInput};
use tollgate_domain::{Page, PageRequest, UserId, UserStatus};

use super::auth::AdminBearer;
use super::envelope::{RestError, respond};
use super::handlers::UserResponse;
use super::schema::{RestDone, RestFailure, RestOk};
use super::time::rfc3339;
use crate::client::ClientIp;
use crate::i18n::{Locale, Msg};
use crate::input::{Json, Path, Query};
use crate::refusals::AdminRefusal;
use crate::state::AppState;

type RestResult = Result<HttpResponse, RestError>;

/// The REST refusal of an admin operation's error (`crate::refusals::AdminRefusal`; the
/// operation only changes compat wording).
fn admin_error(locale: Locale) -> impl FnOnce(AdminError) -> RestError {
    move |e| RestError::refused(&AdminRefusal(e, AdminOp::View), locale)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Pagination {
    page: u64,
    page_size: u64,
    total: u64,
    pages: u64,
}

fn pagination(request: PageRequest, total: u64) -> Pagination {
    Pagination {
        page: request.page(),
        page_size: request.size(),
        total,
        pages: total.div_ceil(request.size()),
    }
}

/// The query string of a paged listing.
trait ListQuery {
    type Filter;

    /// The filter and page it asks for, or why it is refused.
    fn parse(self) -> Result<(Self::Filter, PageRequest), &'static str>;
}

/// A paged listing: parses `query`, fetches that page (`fetch`), and answers
/// `{<key>: [shown items], pagination}`.
async fn list_page<Q, Item, Shown, Fut>(
    auth: &AdminBearer,
    query: Q,
    key: &str,
    fetch: impl FnOnce(Q::Filter, PageRequest) -> Fut,
    show: impl Fn(&Item) -> Shown,
) -> RestResult
where
    Q: ListQuery,
    Fut: Future<Output = Result<Page<Item>, AdminError>>,
    Shown: Serialize,
{
    let locale = auth.locale;
    let (filter, request) = query
        .parse()
        .map_err(|e| RestError::bad_request(locale, e))?;
    let page = fetch(filter, request).await.map_err(admin_error(locale))?;
    let items: Vec<Shown> = page.items.iter().map(show).collect();
    Ok(respond(
        StatusCode::OK,
        Msg::RestOk,
        locale,
        json!({key: items, "pagination": pagination(request, page.total)}),
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct UsersQuery {
    pub page: Option<i64>,
    pub page_size: Option<i64>,
    pub search: Option<String>,
    /// 1 enabled, 0 disabled.
    #[param(minimum = 0, maximum = 1)]
    pub status: Option<i32>,
    /// `prefix` (default, indexed) or `contains` (a scan).
    #[serde(rename = "match")]
    #[param(pattern = "^(prefix|contains)$")]
    pub match_mode: Option<String>,
}

/// `GET /api/v1/admin/users?page=&page_size=&search=&status=` (admin): users below the
/// admin's role (and itself), newest first.
#[utoipa::path(
    get,
    path = "/api/v1/admin/users",
    tag = "rest: admin",
    params(UsersQuery),
    responses((status = 200, description = "A page of users", body = RestOk<super::schema::UsersPage>), (status = 400, description = "A malformed body or query, or a value the rules refuse", body = RestFailure), (status = 401, description = "No valid bearer token", body = RestFailure), (status = 403, description = "Not an admin, or the hierarchy forbids it", body = RestFailure)),
    security(("bearer" = []))
)]
pub async fn list_users(
    auth: AdminBearer,
    state: web::Data<AppState>,
    q: Query<UsersQuery>,
) -> RestResult {
    let (admin, actor) = (&state.services.admin, &auth.user);
    let fetch = move |input, request| admin.list(actor, input, request);
    list_page(&auth, q.into_inner(), "users", fetch, |u| {
        UserResponse::from(u)
    })
    .await
}

impl ListQuery for UsersQuery {
    type Filter = UserListInput;

    fn parse(self) -> Result<(UserListInput, PageRequest), &'static str> {
        let status = match self.status {
            None => None,
            Some(1) => Some(UserStatus::Enabled),
            Some(0) => Some(UserStatus::Disabled),
            Some(_) => return Err("status must be 0 or 1"),
        };
        let match_mode = match self.match_mode.as_deref() {
            None | Some("prefix") => MatchMode::Prefix,
            Some("contains") => MatchMode::Contains,
            Some(_) => return Err("match must be prefix or contains"),
        };
        let input = UserListInput {
            keyword: self.search,
            match_mode,
            group: None,
            status,
            // Deleted users are gone on this surface (404 on every route), so not listed.
            live_only: true,
        };
        Ok((input, PageRequest::new(self.page, self.page_size)))
    }
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct StatusBody {
    /// 1 enabled, 0 disabled.
    #[schema(required = true, minimum = 0, maximum = 1)]
    pub status: Option<i32>,
}

/// `PUT /api/v1/admin/users/{id}/status {status: 0|1}` (admin). Disabling revokes the user's
/// sessions, refresh tokens and access token at once.
#[utoipa::path(
    put,
    path = "/api/v1/admin/users/{id}/status",
    tag = "rest: admin",
    params(("id" = i64, Path, description = "The user's id")),
    request_body = StatusBody,
    responses((status = 200, description = "Changed", body = RestDone), (status = 400, description = "A malformed body or query, or a value the rules refuse", body = RestFailure), (status = 401, description = "No valid bearer token", body = RestFailure), (status = 403, description = "Not an admin, or the hierarchy forbids it", body = RestFailure), (status = 404, description = "No such user", body = RestFailure), (status = 409, description = "The status cannot change that way", body = RestFailure)),
    security(("bearer" = []))
)]
pub async fn set_status(
    ip: ClientIp,
    auth: AdminBearer,
    state: web::Data<AppState>,
    id: Path<i64>,
    body: Json<StatusBody>,
) -> RestResult {
    let locale = auth.locale;
    let op = match body.status {
        Some(1) => AdminOp::Enable,
        Some(0) => AdminOp::Disable,
        _ => return Err(RestError::bad_request(locale, "status must be 0 or 1")),
    };
    state
        .services
        .admin
        .manage(&auth.user, UserId::new(id.into_inner()), op, ip.0)
        .await
        .map_err(admin_error(locale))?;
    Ok(respond(StatusCode::OK, Msg::RestUpdated, locale, ()))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct AuditQuery {
    pub page: Option<i64>,
    pub page_size: Option<i64>,
    pub actor: Option<i64>,
    pub target: Option<i64>,
    pub action: Option<String>,
    /// Unix seconds, inclusive.
    pub from: Option<i64>,
    pub to: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditItem {
    id: i64,
    actor_id: Option<i64>,
    target_id: Option<i64>,
    action: &'static str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    ip: Option<String>,
    created_at: String,
}

impl From<&AuditRecord> for AuditItem {
    fn from(r: &AuditRecord) -> Self {
        let e = &r.entry;
        Self {
            id: r.id,
            actor_id: e.actor_id.map(UserId::get),
            target_id: e.target_id.map(UserId::get),
            action: e.action.as_str(),
            before: e.before.clone(),
            after: e.after.clone(),
            ip: e.ip.clone(),
            created_at: rfc3339(e.at),
        }
    }
}

/// `GET /api/v1/admin/audit?actor=&target=&action=&from=&to=&page=&page_size=` (admin):
/// entries about users below the admin's role, about the admin, or about no user.
#[utoipa::path(
    get,
    path = "/api/v1/admin/audit",
    tag = "rest: admin",
    params(AuditQuery),
    responses((status = 200, description = "A page of audit entries", body = RestOk<super::schema::AuditPage>), (status = 400, description = "A malformed body or query, or a value the rules refuse", body = RestFailure), (status = 401, description = "No valid bearer token", body = RestFailure), (status = 403, description = "Not an admin, or the hierarchy forbids it", body = RestFailure)),
    security(("bearer" = []))
)]
pub async fn audit(
    auth: AdminBearer,
    state: web::Data<AppState>,
    q: Query<AuditQuery>,
) -> RestResult {
    let (admin, actor) = (&state.services.admin, &auth.user);
    let fetch = move |filter, request| admin.audit_log(actor, filter, request);
    list_page(&auth, q.into_inner(), "entries", fetch, |r| {
        AuditItem::from(r)
    })
    .await
}

impl ListQuery for AuditQuery {
    type Filter = AuditFilter;

    fn parse(self) -> Result<(AuditFilter, PageRequest), &'static str> {
        let action = match self.action.as_deref() {
            None | Some("") => None,
            Some(a) => Some(AuditAction::parse(a).ok_or("unknown action")?),
        };
        let filter = AuditFilter {
            actor_id: self.actor.map(UserId::new),
            target_id: self.target.map(UserId::new),
            action,
            from: self.from,
            to: self.to,
            ..Default::default()
        };
        Ok((filter, PageRequest::new(self.page, self.page_size)))
    }
}
