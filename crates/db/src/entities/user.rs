//! The `users` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub display_name: String,
    pub role: i32,
    pub status: i32,
    pub email: Option<String>,
    pub user_group: String,
    pub quota: i64,
    pub used_quota: i64,
    pub request_count: i64,
    pub aff_code: Option<String>,
    pub aff_count: i64,
    pub aff_quota: i64,
    pub aff_history_quota: i64,
    pub inviter_id: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub setting: String,
    pub access_token_hash: Option<String>,
    pub phone: Option<String>,
    pub avatar: Option<String>,
    pub remark: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_login_at: Option<i64>,
    pub deleted_at: Option<i64>,
    /// The canonical key of the username (issue 7.6), unique; `NULL` only for rows that
    /// collided with an older row when the key was introduced.
    pub username_key: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
