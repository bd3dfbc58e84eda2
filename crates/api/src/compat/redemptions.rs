//! `/api/redemption/*` (admin): enough of code management to seed the redeem path.

use actix_web::{HttpRequest, web};
use serde::Deserialize;
use tollgate_domain::{CreateRedemptionsError, PageRequest};

use super::auth::AdminAuth;
use super::dto::{PageBody, RedemptionItem};
use super::respond::{CompatError, CompatResult, ok};
use crate::i18n::{Msg, format_quota, mint_limit_exceeded};
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
    req: HttpRequest,
    body: Json<CreateBody>,
) -> CompatResult {
    let body = body.into_inner();
    let locale = auth.locale;
    let result = state
        .redemptions
        .create_batch(
            &auth.user,
            body.name.as_deref().unwrap_or_default(),
            body.quota.unwrap_or(0),
            body.count.unwrap_or(1),
            body.expired_time,
            crate::client::peer_ip(&req),
        )
        .await;
    match result {
        Ok(keys) => Ok(ok(keys)),
        Err(e) => Err(match e {
            CreateRedemptionsError::InvalidName { .. } => {
                CompatError::fail(Msg::RedemptionNameLength, locale)
            }
            CreateRedemptionsError::CountTooSmall => {
                CompatError::fail(Msg::RedemptionCountTooSmall, locale)
            }
            CreateRedemptionsError::CountTooLarge { .. } => {
                CompatError::fail(Msg::RedemptionCountTooLarge, locale)
            }
            CreateRedemptionsError::InvalidQuota => {
                CompatError::fail(Msg::RedemptionQuotaInvalid, locale)
            }
            CreateRedemptionsError::ExpiryInPast => {
                CompatError::fail(Msg::RedemptionExpiryInPast, locale)
            }
            CreateRedemptionsError::Forbidden => {
                CompatError::fail(Msg::InsufficientPrivileges, locale)
            }
            CreateRedemptionsError::CodeCollision => {
                CompatError::fail(Msg::RedemptionGenerateFailed, locale)
            }
            CreateRedemptionsError::Unexpected(e) => CompatError::internal(&e, locale),
            CreateRedemptionsError::TotalTooLarge => {
                CompatError::fail(Msg::RedemptionTotalTooLarge, locale)
            }
            CreateRedemptionsError::MintLimitExceeded { remaining, .. } => {
                let info = &state.info;
                let left = format_quota(
                    remaining,
                    info.quota_per_unit,
                    &info.quota_display_type,
                    locale,
                );
                CompatError::fail_text(mint_limit_exceeded(&left, locale))
            }
        }),
    }
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
