//! Online top-up on the compat surface: Epay and Stripe prices and orders (outside the
//! envelope, as New API's console expects), the providers' callbacks (plain text for Epay,
//! status codes for Stripe), and the order lists and manual completion.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tollgate_domain::PageRequest;
use tollgate_domain::payment::PaymentProvider;
use tollgate_domain::services::{NotifyError, TopUpError};
use tollgate_domain::topup::{TopUp, TopUpFilter, TopUpStatus};
use tollgate_domain::user::UserId;

use super::auth::{AdminAuth, UserAuth};
use super::doc::EpayNotifyQuery;
use super::dto::PageBody;
use super::respond::{CompatError, CompatResult, ok, refuse};
use crate::client::ClientIp;
use crate::input::{Json, Query};
use crate::metrics;
use crate::openapi::{CompatEnvelope, PriceReply};
use crate::state::AppState;

/// The largest Stripe webhook body.
pub const WEBHOOK_LIMIT: usize = 1024 * 1024;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct AmountBody {
    pub amount: i64,
    /// Parsed and ignored, as in New API.
    pub top_up_code: Option<String>,
    pub payment_method: Option<String>,
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
}

/// `{message: "error", data: <text>}`: the refusal of the price and order routes, which the
/// console reads outside the envelope.
fn price_error(e: TopUpError, auth_locale: crate::i18n::Locale, state: &AppState) -> HttpResponse {
    let refusal = CompatError::refused(&e, auth_locale, &state.info);
    if refusal.status() == StatusCode::INTERNAL_SERVER_ERROR {
        return actix_web::ResponseError::error_response(&refusal);
    }
    HttpResponse::Ok().json(json!({"message": "error", "data": refusal.message()}))
}

/// `POST /api/user/amount {amount}`: `data` is the Epay price, a string with two decimals.
#[utoipa::path(
    post,
    path = "/api/user/amount",
    tag = "compat: top-up",
    request_body = AmountBody,
    responses((status = 200, description = "The Epay price, outside the envelope", body = PriceReply), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn epay_amount(
    state: web::Data<AppState>,
    auth: UserAuth,
    body: Json<AmountBody>,
) -> HttpResponse {
    match state
        .services
        .topups
        .quote_epay(&auth.user, body.amount)
        .await
    {
        Ok(q) => {
            HttpResponse::Ok().json(json!({"message": "success", "data": format!("{:.2}", q.pay)}))
        }
        Err(e) => price_error(e, auth.locale, &state),
    }
}

/// `POST /api/user/pay {amount, payment_method}`: a pending order and the signed purchase
/// the console submits to `url`.
#[utoipa::path(
    post,
    path = "/api/user/pay",
    tag = "compat: top-up",
    request_body = AmountBody,
    responses((status = 200, description = "The order and the gateway's form, outside the envelope", body = PriceReply), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope), (status = 429, description = "Too many requests: New API's request limits answer an empty body, login throttling and the sign-up limit a refusal; `Retry-After` says when to retry")),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn epay_pay(
    state: web::Data<AppState>,
    auth: UserAuth,
    body: Json<AmountBody>,
) -> HttpResponse {
    let method = body.payment_method.as_deref().unwrap_or_default();
    match state
        .services
        .topups
        .start_epay(&auth.user, body.amount, method)
        .await
    {
        Ok(p) => {
            HttpResponse::Ok().json(json!({"message": "success", "data": p.params, "url": p.url}))
        }
        Err(e) => price_error(e, auth.locale, &state),
    }
}

/// `POST /api/user/stripe/amount {amount}`.
#[utoipa::path(
    post,
    path = "/api/user/stripe/amount",
    tag = "compat: top-up",
    request_body = AmountBody,
    responses((status = 200, description = "The Stripe price, outside the envelope", body = PriceReply), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn stripe_amount(
    state: web::Data<AppState>,
    auth: UserAuth,
    body: Json<AmountBody>,
) -> HttpResponse {
    match state.services.topups.quote_stripe(body.amount).await {
        Ok(q) => {
            HttpResponse::Ok().json(json!({"message": "success", "data": format!("{:.2}", q.pay)}))
        }
        Err(e) => price_error(e, auth.locale, &state),
    }
}

/// `POST /api/user/stripe/pay {amount, payment_method: "stripe", success_url?, cancel_url?}`:
/// `data.pay_link` is the Checkout Session's URL. A redirect off this server is a 400.
#[utoipa::path(
    post,
    path = "/api/user/stripe/pay",
    tag = "compat: top-up",
    request_body = AmountBody,
    responses((status = 200, description = "`data.pay_link`, outside the envelope", body = PriceReply), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope), (status = 429, description = "Too many requests: New API's request limits answer an empty body, login throttling and the sign-up limit a refusal; `Retry-After` says when to retry")),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn stripe_pay(
    state: web::Data<AppState>,
    auth: UserAuth,
    body: Json<AmountBody>,
) -> HttpResponse {
    let b = body.into_inner();
    let started = state
        .services
        .topups
        .start_stripe(
            &auth.user,
            b.amount,
            b.payment_method.as_deref().unwrap_or_default(),
            b.success_url.as_deref(),
            b.cancel_url.as_deref(),
        )
        .await;
    match started {
        Ok(link) => {
            HttpResponse::Ok().json(json!({"message": "success", "data": {"pay_link": link}}))
        }
        Err(e @ (TopUpError::UntrustedSuccessUrl | TopUpError::UntrustedCancelUrl)) => {
            let refusal = CompatError::refused(&e, auth.locale, &state.info);
            HttpResponse::BadRequest().json(json!({"message": refusal.message(), "data": null}))
        }
        Err(e) => price_error(e, auth.locale, &state),
    }
}

/// Answers the Epay gateway: `success` only when the order is credited (now or before).
async fn answer_epay(
    state: &AppState,
    params: &BTreeMap<String, String>,
    ip: ClientIp,
) -> HttpResponse {
    let outcome = state.services.topups.epay_notify(params, ip.0).await;
    metrics::payment_callback(PaymentProvider::Epay, &outcome);
    let text = match outcome {
        Ok(_) => "success",
        Err(NotifyError::Unexpected(e)) => {
            tracing::error!(error = ?e, "an Epay notification failed");
            "fail"
        }
        Err(_) => "fail",
    };
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(text)
}

/// `GET /api/user/epay/notify?...`: the gateway's notification in the query.
#[utoipa::path(
    get,
    path = "/api/user/epay/notify",
    tag = "compat: top-up",
    params(EpayNotifyQuery),
    responses((status = 200, description = "Plain text `success` once the signed notification is verified, else `fail`", body = String, content_type = "text/plain"))
)]
pub async fn epay_notify_get(
    state: web::Data<AppState>,
    ip: ClientIp,
    query: Result<web::Query<BTreeMap<String, String>>, actix_web::Error>,
) -> HttpResponse {
    let params = query.map(web::Query::into_inner).unwrap_or_default();
    answer_epay(&state, &params, ip).await
}

/// `POST /api/user/epay/notify`: the notification as a form body.
#[utoipa::path(
    post,
    path = "/api/user/epay/notify",
    tag = "compat: top-up",
    request_body(content = EpayNotifyQuery, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Plain text `success` once the signed notification is verified, else `fail`", body = String, content_type = "text/plain"))
)]
pub async fn epay_notify_post(
    state: web::Data<AppState>,
    ip: ClientIp,
    form: Result<web::Form<BTreeMap<String, String>>, actix_web::Error>,
) -> HttpResponse {
    // A body that is not a form is a notification that cannot verify: the gateway gets
    // Epay's `fail` (and retries), never an actix 4xx in another format.
    let params = form.map(web::Form::into_inner).unwrap_or_else(|e| {
        tracing::debug!(error = %e, "an Epay notification without a readable form");
        BTreeMap::new()
    });
    answer_epay(&state, &params, ip).await
}

/// `POST /api/stripe/webhook`: 400 when the signature or the event is refused, 200 once it
/// verified (a refused settlement is recorded, and Stripe need not retry it).
#[utoipa::path(
    post,
    path = "/api/stripe/webhook",
    tag = "compat: top-up",
    request_body(content = Object, description = "A Stripe event, signed in `Stripe-Signature`", content_type = "application/json"),
    responses((status = 200, description = "The event verified"), (status = 400, description = "The signature or the event was refused"))
)]
pub async fn stripe_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    ip: ClientIp,
    body: web::Bytes,
) -> HttpResponse {
    let signature = req
        .headers()
        .get("Stripe-Signature")
        .and_then(|v| v.to_str().ok());
    let outcome = state
        .services
        .topups
        .stripe_webhook(&body, signature, ip.0)
        .await;
    metrics::payment_callback(PaymentProvider::Stripe, &outcome);
    match outcome {
        Ok(_) => HttpResponse::Ok().json(json!({"received": true})),
        Err(NotifyError::Webhook(e)) => {
            HttpResponse::BadRequest().json(json!({"error": e.to_string()}))
        }
        Err(NotifyError::NotConfigured) => {
            HttpResponse::BadRequest().json(json!({"error": "Stripe is not configured"}))
        }
        Err(NotifyError::Unexpected(e)) => {
            tracing::error!(error = ?e, "a Stripe webhook failed");
            HttpResponse::InternalServerError().json(json!({"error": "internal error"}))
        }
        Err(e) => HttpResponse::Ok().json(json!({"received": true, "refused": e.to_string()})),
    }
}

/// One order as the console lists it (New API's `top_ups` row, plus our columns).
#[derive(Debug, Serialize)]
pub struct TopUpItem {
    pub id: i64,
    pub user_id: i64,
    pub amount: i64,
    /// The price charged, a number with two decimals.
    pub money: f64,
    pub trade_no: String,
    pub payment_method: String,
    pub payment_provider: &'static str,
    pub credited_quota: i64,
    pub create_time: i64,
    pub complete_time: i64,
    pub status: &'static str,
    pub failure_reason: String,
}

impl From<&TopUp> for TopUpItem {
    fn from(t: &TopUp) -> Self {
        Self {
            id: t.id,
            user_id: t.user_id.get(),
            amount: t.amount,
            money: tollgate_domain::payment::display_number(t.money),
            trade_no: t.trade_no.clone(),
            payment_method: t.payment_method.clone(),
            payment_provider: t.provider.as_str(),
            credited_quota: t.credited_quota,
            create_time: t.created_at,
            complete_time: t.completed_at.unwrap_or(0),
            status: t.status.as_str(),
            failure_reason: t.failure_reason.clone().unwrap_or_default(),
        }
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct OrdersQuery {
    pub p: Option<i64>,
    pub page_size: Option<i64>,
    /// A part of the trade number.
    pub keyword: Option<String>,
    pub user_id: Option<i64>,
    pub status: Option<String>,
    pub provider: Option<String>,
}

fn page_body(page: tollgate_domain::Page<TopUp>, request: PageRequest) -> PageBody<TopUpItem> {
    PageBody {
        items: page.items.iter().map(TopUpItem::from).collect(),
        total: page.total,
        page: request.page(),
        page_size: request.size(),
    }
}

/// `GET /api/user/topup/self?p=&page_size=`: the user's own orders, newest first.
#[utoipa::path(
    get,
    path = "/api/user/topup/self",
    tag = "compat: top-up",
    params(OrdersQuery),
    responses((status = 200, description = "`data` is `{items, total, page, page_size}`", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn list_own(
    state: web::Data<AppState>,
    auth: UserAuth,
    query: Query<OrdersQuery>,
) -> CompatResult {
    let request = PageRequest::new(query.p, query.page_size);
    let page = state
        .services
        .topups
        .list_own(&auth.user, request)
        .await
        .map_err(refuse(auth.locale, &state.info))?;
    Ok(ok(page_body(page, request)))
}

/// `GET /api/user/topup?p=&page_size=&keyword=&user_id=&status=&provider=` (admin).
#[utoipa::path(
    get,
    path = "/api/user/topup",
    tag = "compat: top-up",
    params(OrdersQuery),
    responses((status = 200, description = "`data` is `{items, total, page, page_size}`", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn list_all(
    state: web::Data<AppState>,
    auth: AdminAuth,
    query: Query<OrdersQuery>,
) -> CompatResult {
    let q = query.into_inner();
    let request = PageRequest::new(q.p, q.page_size);
    let filter = TopUpFilter {
        user_id: q.user_id.map(UserId::new),
        status: q.status.as_deref().and_then(TopUpStatus::parse),
        provider: q.provider.as_deref().and_then(PaymentProvider::parse),
        trade_no: q.keyword,
    };
    let page = state
        .services
        .topups
        .list_all(&auth.user, &filter, request)
        .await
        .map_err(refuse(auth.locale, &state.info))?;
    Ok(ok(page_body(page, request)))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct CompleteBody {
    pub trade_no: String,
}

/// `POST /api/user/topup/complete {trade_no}` (admin): settles a pending order by hand;
/// an order already settled answers success and credits nothing.
#[utoipa::path(
    post,
    path = "/api/user/topup/complete",
    tag = "compat: top-up",
    request_body = CompleteBody,
    responses((status = 200, description = "Settled (or already settled), or refused", body = CompatEnvelope), (status = 401, description = "Not logged in, or `New-Api-User` missing or not the caller", body = CompatEnvelope)),
    security(("session" = [], "new_api_user" = []), ("access_token" = [], "new_api_user" = []))
)]
pub async fn complete(
    state: web::Data<AppState>,
    auth: AdminAuth,
    ip: ClientIp,
    body: Json<CompleteBody>,
) -> CompatResult {
    if body.trade_no.trim().is_empty() {
        return Err(CompatError::fail(
            crate::i18n::Msg::InvalidParams,
            auth.locale,
        ));
    }
    tracing::info!(actor = %auth.user.id, ip = ?ip.0, trade_no = %body.trade_no, "manual top-up completion");
    state
        .services
        .topups
        .complete_by_admin(&auth.user, &body.trade_no)
        .await
        .map_err(refuse(auth.locale, &state.info))?;
    Ok(ok(serde_json::Value::Null))
}
