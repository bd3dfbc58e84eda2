//! Reply shapes of the REST surface for the OpenAPI document. The handlers build `data` from
//! the DTOs named here (`UserResponse`, `TokensResponse`, ...); the envelope and the few
//! `json!` objects are described by the types below, which `crate::openapi`'s tests check
//! against real replies.

use serde::Serialize;
use utoipa::ToSchema;

use super::handlers::{TokensResponse, UserResponse};

/// A success: `code` is the HTTP status, `timestamp` RFC 3339 UTC.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct RestOk<T> {
    pub code: u16,
    pub message: String,
    pub data: T,
    pub timestamp: String,
}

/// A success without data (`data` is `null`).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct RestDone {
    pub code: u16,
    pub message: String,
    /// Always `null`.
    pub data: serde_json::Value,
    pub timestamp: String,
}

/// A failure: `message` in the request's language, `error` a short English detail.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct RestFailure {
    pub code: u16,
    pub message: String,
    pub error: String,
    pub timestamp: String,
}

/// `data` of a login: the tokens, or, for a user with 2FA, the challenge for
/// `POST /api/v1/auth/login/2fa`.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum LoginData {
    Tokens(Box<TokensResponse>),
    SecondFactor(SecondFactorRequired),
}

/// The password was right and the account has 2FA: no token yet.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct SecondFactorRequired {
    /// Always `true`.
    pub require_2fa: bool,
    pub challenge: String,
}

/// `data` of `POST /api/v1/users/2fa/setup`: shown this once.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct TwoFactorSetup {
    pub secret: String,
    pub otpauth_url: String,
    /// The QR code of `otpauth_url`, a PNG data URL.
    pub qr_code_image: String,
    pub backup_codes: Vec<String>,
}

/// `data` of `POST /api/v1/users/2fa/backup-codes`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct BackupCodes {
    pub backup_codes: Vec<String>,
}

/// `data` of `GET /api/v1/admin/users/2fa/stats`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct TwoFactorStats {
    pub total_users: u64,
    pub enabled_users: u64,
    /// A percentage with one decimal, as New API writes it (`"12.5%"`).
    pub enabled_rate: String,
}

/// `data` of `GET /api/v1/admin/users`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct UsersPage {
    pub users: Vec<UserResponse>,
    pub pagination: super::admin::Pagination,
}

/// `data` of `GET /api/v1/admin/audit`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct AuditPage {
    pub entries: Vec<super::admin::AuditItem>,
    pub pagination: super::admin::Pagination,
}
