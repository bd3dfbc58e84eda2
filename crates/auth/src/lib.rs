//! Credential adapters: argon2id password hashing, secret tokens, and the system clock.
//!
//! Implements `tollgate-domain` ports. Must not depend on web, database or network crates.

mod clock;
mod jwt;
mod password;
mod secrets;

pub use clock::SystemClock;
pub use jwt::JwtCodec;
pub use password::Argon2Hasher;
pub use secrets::OsSecrets;
