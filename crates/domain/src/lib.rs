//! Tollgate's domain: entities, value objects, business rules, ports and services.
//!
//! This crate must not depend on any IO crate (sea-orm, sqlx, actix-web, reqwest, redis,
//! lettre, config). CI enforces that with `cargo tree`. Adapters implement the traits in
//! [`ports`]; the composition root in `tollgate-api` wires them into the services.

pub mod audit;
pub mod compare;
pub mod error;
pub mod groups;
pub mod hierarchy;
pub mod kv;
pub mod ledger;
pub mod options;
pub mod page;
pub mod payment;
pub mod ports;
pub mod public_url;
pub mod rate_limit;
pub mod redemption;
pub mod redemption_manage;
pub mod services;
pub mod session;
pub mod site;
pub mod throttle;
pub mod topup;
pub mod turnstile;
pub mod two_factor;
pub mod user;
pub mod user_settings;

pub use error::RepoError;
pub use ledger::{Account, Imbalance, LedgerEntry, LedgerKind, MoneyError};
pub use page::{Page, PageRequest};
pub use redemption::{
    CreateRedemptionsError, MintCap, NewRedemption, NewRedemptionBatch, RedeemError, Redeemed,
    Redemption, RedemptionStatus,
};
pub use redemption_manage::{
    ManageRedemptionError, RedemptionChanges, RedemptionEdit, RedemptionQuery,
};
pub use session::{
    ActiveSession, NewSession, Rotation, SecretToken, SessionId, SessionKind, TokenHash,
};
pub use user::{
    Affiliate, AvatarUrl, Balances, DisplayName, Email, FieldError, Invitation, NewUser,
    NotificationEmail, Password, Phone, ProfileChanges, Remark, Role, User, UserId, UserStatus,
    Username,
};
