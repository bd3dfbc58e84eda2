//! The `top_ups` table: online payment orders.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "top_ups")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub provider: String,
    pub payment_method: String,
    pub trade_no: String,
    pub amount: i64,
    pub money_cents: i64,
    pub credited_quota: i64,
    pub status: String,
    pub created_at: i64,
    pub completed_at: Option<i64>,
    pub failure_reason: Option<String>,
    pub provider_ref: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
