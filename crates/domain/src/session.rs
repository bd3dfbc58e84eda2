//! Server-side sessions (docs/security.md, "Sessions"): the client holds a random 256-bit token,
//! the store keeps only its hash.

use std::fmt;

use crate::user::UserId;

/// A session's database id: the `sid` of the access tokens issued for a refresh session, and
/// what a password change keeps while revoking the others. Not a secret (the token is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(i64);

impl SessionId {
    pub const fn new(id: i64) -> Self {
        Self(id)
    }

    pub const fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The SHA-256 (hex) of a secret token. Safe to store and log-free by construction: it is
/// only ever compared, never shown.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn from_hex(hex: impl Into<String>) -> Self {
        Self(hex.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(<redacted>)")
    }
}

/// A freshly generated secret: the plaintext goes to the client once, the hash to the store.
#[derive(Clone)]
pub struct SecretToken {
    pub plaintext: String,
    pub hash: TokenHash,
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(<redacted>)")
    }
}

/// What a session row is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// The compat surface's `session` cookie.
    Web,
    /// A `/api/v1` refresh token; its id is the `sid` of the access tokens issued for it.
    Refresh,
}

impl SessionKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "web" => Some(SessionKind::Web),
            "refresh" => Some(SessionKind::Refresh),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Web => "web",
            SessionKind::Refresh => "refresh",
        }
    }
}

/// A session to store.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: TokenHash,
    pub user_id: UserId,
    pub kind: SessionKind,
    pub created_at: i64,
    pub expires_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Written in the same transaction (the login's audit record).
    pub audit: Option<crate::audit::AuditEntry>,
}

/// A live (not revoked, not expired) session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub kind: SessionKind,
    /// When the session was created (the login), unix seconds.
    pub created_at: i64,
}

/// What presenting a refresh token for rotation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: the session now holds the new hash.
    Rotated(ActiveSession),
    /// The token was already rotated (a replay, RFC 9700 §4.14.2): its session, which was
    /// active, has been revoked with [`refresh_reuse_audit`] in the same transaction.
    Reused {
        session_id: SessionId,
        user_id: UserId,
    },
    /// Unknown, or belongs to a session that is no longer active: nothing changed.
    Invalid,
}

/// The audit record of a detected refresh-token replay: the session's user is both actor
/// (its token was presented) and target.
pub fn refresh_reuse_audit(
    session_id: SessionId,
    user_id: UserId,
    at: i64,
    ip: Option<String>,
) -> crate::audit::AuditEntry {
    use crate::audit::{AuditAction, AuditEntry};
    AuditEntry::new(
        AuditAction::RefreshTokenReused,
        Some(user_id),
        Some(user_id),
        at,
    )
    .change(
        serde_json::Value::Null,
        serde_json::json!({"session": session_id.get(), "reason": "refresh_token_reuse"}),
    )
    .from_ip(ip)
}
