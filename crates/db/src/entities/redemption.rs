//! The `redemptions` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "redemptions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub created_by: i64,
    pub code: String,
    pub status: i32,
    pub name: String,
    pub quota: i64,
    pub created_at: i64,
    pub redeemed_at: Option<i64>,
    pub used_by: Option<i64>,
    pub expires_at: Option<i64>,
    pub deleted_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
