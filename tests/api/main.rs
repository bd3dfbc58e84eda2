//! Black-box tests: each test starts the real server on port 0 with its own scratch database
//! (SQLite by default; PostgreSQL when `TEST_DATABASE_URL` is set, else MySQL/MariaDB when
//! `TEST_MYSQL_URL` is set) and talks HTTP to it.

// A test harness: failing loudly on a broken fixture is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod helpers;
mod reply;

mod admin;
mod admin_matrix;
mod admin_races;
mod audit_scope;
mod auth_order;
mod auth_table;
mod bad_input;
mod client_ip;
mod console_redemption;
mod console_replay;
mod headers;
mod health;
mod login;
mod metrics;
mod mint_cap;
mod openapi;
mod options;
mod owner_proof;
mod payment_fakes;
mod rate_limits;
mod redeem;
mod redemption_admin;
mod redemption_manage;
mod refresh_reuse;
mod register;
mod rest_auth;
mod rest_helpers;
mod rest_jwt;
mod rest_profile;
mod root_self_edit;
mod self_service;
mod setup;
mod signup_limits;
mod site;
mod static_files;
mod status;
mod throttle;
mod topups;
mod turnstile;
mod two_factor;
mod unverified_email;
mod usernames;
