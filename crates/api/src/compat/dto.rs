//! Response bodies of the compat surface: explicit allow-lists, so no secret can leak.

use serde::Serialize;
use serde_json::{Value, json};
use tollgate_domain::{Redemption, Role, User};

/// The fields of New API's user object that every view shares (docs/newapi-behaviour.md §2.1):
/// identity, balances and invitation counters. No secret is among them.
#[derive(Debug, Serialize)]
pub struct NewApiUser {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: i32,
    pub status: i32,
    pub email: String,
    // External identities arrive with the OAuth work; no account is bound today.
    pub github_id: &'static str,
    pub discord_id: &'static str,
    pub oidc_id: &'static str,
    pub wechat_id: &'static str,
    pub telegram_id: &'static str,
    pub linux_do_id: &'static str,
    pub group: String,
    pub quota: i64,
    pub used_quota: i64,
    pub request_count: i64,
    pub aff_code: String,
    pub aff_count: i64,
    pub aff_quota: i64,
    pub aff_history_quota: i64,
    pub inviter_id: i64,
}

impl From<&User> for NewApiUser {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.get(),
            username: u.username.clone(),
            display_name: u.display_name.to_string(),
            role: u.role.code(),
            status: u.status.code(),
            email: u.email.as_deref().unwrap_or_default().to_owned(),
            github_id: "",
            discord_id: "",
            oidc_id: "",
            wechat_id: "",
            telegram_id: "",
            linux_do_id: "",
            group: u.group.clone(),
            quota: u.balances.quota,
            used_quota: u.balances.used_quota,
            request_count: u.balances.request_count,
            aff_code: u.affiliate.code.clone().unwrap_or_default(),
            aff_count: u.affiliate.count,
            aff_quota: u.affiliate.quota,
            aff_history_quota: u.affiliate.history_quota,
            inviter_id: u.affiliate.inviter_id.map_or(0, |i| i.get()),
        }
    }
}

/// The user object of `GET /api/user/self` and of the login reply (docs/newapi-behaviour.md §5.1).
#[derive(Debug, Serialize)]
pub struct SelfUser {
    #[serde(flatten)]
    pub user: NewApiUser,
    /// The raw settings JSON string; the console runs `JSON.parse` on it.
    pub setting: String,
    pub stripe_customer: &'static str,
    pub sidebar_modules: String,
    pub permissions: Value,
    /// Always empty: the token is stored hashed and shown only by `GET /api/user/token`.
    /// The key is present because third-party clients (All API Hub) expect it.
    pub access_token: &'static str,
}

impl From<&User> for SelfUser {
    fn from(u: &User) -> Self {
        Self {
            user: NewApiUser::from(u),
            setting: u.setting.clone(),
            stripe_customer: "",
            sidebar_modules: u.sidebar_modules(),
            permissions: permissions(u.role),
            access_token: "",
        }
    }
}

/// What the console may show, by role (docs/newapi-behaviour.md §5.1).
fn permissions(role: Role) -> Value {
    match role {
        Role::Root => json!({"sidebar_settings": false, "sidebar_modules": {}}),
        Role::Admin => {
            json!({"sidebar_settings": true, "sidebar_modules": {"admin": {"setting": false}}})
        }
        Role::User => json!({"sidebar_settings": true, "sidebar_modules": {"admin": false}}),
    }
}

/// A redemption code as New API's admin console lists it (`key`, unix times, 0 = unset).
#[derive(Debug, Serialize)]
pub struct RedemptionItem {
    pub id: i64,
    pub user_id: i64,
    pub key: String,
    pub status: i32,
    pub name: String,
    pub quota: i64,
    pub created_time: i64,
    pub redeemed_time: i64,
    pub used_user_id: i64,
    pub expired_time: i64,
}

impl From<&Redemption> for RedemptionItem {
    fn from(r: &Redemption) -> Self {
        Self {
            id: r.id,
            user_id: r.created_by.get(),
            key: r.code.clone(),
            status: r.status.code(),
            name: r.name.clone(),
            quota: r.quota,
            created_time: r.created_at,
            redeemed_time: r.redeemed_at.unwrap_or(0),
            used_user_id: r.used_by.map_or(0, |u| u.get()),
            expired_time: r.expires_at.unwrap_or(0),
        }
    }
}

/// `{items, total, page, page_size}` of the compat list endpoints.
#[derive(Debug, Serialize)]
pub struct PageBody<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
}
