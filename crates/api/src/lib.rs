//! Tollgate's HTTP surfaces (actix-web), configuration, startup and command-line interface.
//!
//! Handlers see domain services and ports only; `startup` is the one module that names
//! concrete adapters (the composition root).

// The `/api/status` object literal is larger than serde_json's default macro recursion allows.
#![recursion_limit = "256"]

pub mod cli;
mod client;
pub mod compat;
pub mod config;
mod credentials;
pub mod i18n;
pub mod input;
pub mod limits;
pub mod metrics;
pub mod openapi;
mod ops;
pub mod proxies;
pub mod refusals;
pub mod request_id;
pub mod rest;
pub mod startup;
pub mod state;
pub mod static_files;
pub mod telemetry;
mod turnstile;

pub use config::Settings;
pub use startup::Application;
