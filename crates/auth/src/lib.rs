//! Credential adapters of the `tollgate-domain` ports: argon2id password hashing
//! ([`Argon2Hasher`], `PasswordHasher`), the HS256 JWT codec of the `/api/v1` access tokens
//! ([`JwtCodec`], `AccessTokenCodec`: algorithm pinned; issuer, audience, lifetime, `nbf` and
//! session checked), secret tokens stored as SHA-256 ([`OsSecrets`], `SecretGenerator`), and
//! the system clock ([`SystemClock`], `Clock`), and TOTP with backup codes ([`TotpRs`],
//! `TotpEngine`).
//! Must not depend on web, database or network crates.

mod clock;
mod jwt;
mod password;
mod secrets;
mod totp;

pub use clock::SystemClock;
pub use jwt::JwtCodec;
pub use password::Argon2Hasher;
pub use secrets::OsSecrets;
pub use totp::TotpRs;
