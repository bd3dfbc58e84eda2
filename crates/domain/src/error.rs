//! Errors shared by repository ports.

/// A repository failure that is not a business outcome (connection lost, corrupt row, ...).
///
/// Business outcomes have their own variants in the use-case error enums; this type is only
/// the escape hatch, and its message is never shown to a client.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct RepoError(#[from] pub anyhow::Error);

impl RepoError {
    pub fn msg(message: impl std::fmt::Display + std::fmt::Debug + Send + Sync + 'static) -> Self {
        Self(anyhow::Error::msg(message))
    }
}
