//! Private sea-orm entities mirroring `migration/`. They never appear in a public signature.

pub(crate) mod app_secret;
pub(crate) mod audit;
pub(crate) mod ledger;
pub(crate) mod option;
pub(crate) mod redemption;
pub(crate) mod refresh_token_use;
pub(crate) mod session;
pub(crate) mod top_up;
pub(crate) mod two_factor;
pub(crate) mod two_factor_backup_code;
pub(crate) mod user;
