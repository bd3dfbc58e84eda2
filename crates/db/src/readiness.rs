//! [`Readiness`] over sea-orm: the database answers `SELECT 1`.

use async_trait::async_trait;
use sea_orm::{ConnectionTrait as _, DatabaseConnection, Statement};
use tollgate_domain::RepoError;
use tollgate_domain::ports::Readiness;

use crate::error::unexpected;

/// [`Readiness`] over sea-orm.
#[derive(Debug, Clone)]
pub struct SeaReadiness {
    db: DatabaseConnection,
}

impl SeaReadiness {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl Readiness for SeaReadiness {
    async fn check(&self) -> Result<(), RepoError> {
        let stmt = Statement::from_string(self.db.get_database_backend(), "SELECT 1");
        self.db
            .query_one_raw(stmt)
            .await
            .map_err(|e| unexpected(e, "the database did not answer SELECT 1"))?;
        Ok(())
    }
}
