//! First-run setup from the console (`POST /api/setup`, spec §7.10): while no root exists,
//! anyone who reaches the server may create it, once. New API's rules: a username of at most
//! 12 characters, a password of at least 8 equal to its confirmation, and a starting quota of
//! 100,000,000 (through the ledger). The adapter checks for a root again inside the insert's
//! transaction, so two simultaneous setups create one root.

use serde_json::{Value, json};

use super::{AccountService, NewAccount, RegisterError, create_user};
use crate::audit::{AuditAction, AuditEntry};
use crate::error::RepoError;
use crate::user::{CredentialRuleError, Password, Role, User, Username};

/// The quota the root created by setup starts with, as in New API.
pub const SETUP_ROOT_QUOTA: i64 = 100_000_000;

/// New API's limit on the setup username (registration allows more).
pub const SETUP_USERNAME_MAX_CHARS: usize = 12;

/// The console's setup form. New API's `SelfUseModeEnabled` and `DemoSiteEnabled` are not
/// here: Tollgate has neither mode, so the route accepts and ignores them.
#[derive(Debug, Clone, Default)]
pub struct SetupInput {
    pub username: String,
    pub password: String,
    pub confirm_password: String,
    /// The client's address, for the audit record.
    pub ip: Option<String>,
}

/// Why setup created nothing.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A root exists (or another setup just created one).
    #[error("the installation is already set up")]
    AlreadySetUp,
    #[error("the username must be at most {SETUP_USERNAME_MAX_CHARS} characters")]
    UsernameTooLong,
    #[error("the password and its confirmation differ")]
    PasswordMismatch,
    #[error(transparent)]
    InvalidInput(#[from] CredentialRuleError),
    /// A user registered before setup holds the name.
    #[error("the username is taken")]
    UsernameTaken,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<RepoError> for SetupError {
    fn from(e: RepoError) -> Self {
        Self::Unexpected(e.0)
    }
}

impl AccountService {
    /// Creates the first root from the console's setup form, audited as a creation with no
    /// actor; refused once a root exists.
    #[tracing::instrument(skip_all)]
    pub async fn setup_root(&self, input: SetupInput) -> Result<User, SetupError> {
        if self.users.root_exists().await? {
            return Err(SetupError::AlreadySetUp);
        }
        let username = Username::parse(&input.username)?;
        if username.as_str().chars().count() > SETUP_USERNAME_MAX_CHARS {
            return Err(SetupError::UsernameTooLong);
        }
        if input.password != input.confirm_password {
            return Err(SetupError::PasswordMismatch);
        }
        let password = Password::parse(&input.password)?;
        let audit = AuditEntry::new(AuditAction::UserCreated, None, None, self.clock.now())
            .change(
                Value::Null,
                json!({"username": username.as_str(), "role": Role::Root.code(), "by": "setup"}),
            )
            .from_ip(input.ip);
        let account = NewAccount {
            username,
            password: &password,
            role: Role::Root,
            email: None,
            initial_quota: SETUP_ROOT_QUOTA,
            invitation: None,
            audit: Some(audit),
        };
        let (users, hasher) = (&*self.users, &*self.hasher);
        let user = create_user(users, hasher, &*self.secrets, &*self.clock, account)
            .await
            .map_err(|e| match e {
                RegisterError::RootExists => SetupError::AlreadySetUp,
                RegisterError::UsernameTaken => SetupError::UsernameTaken,
                RegisterError::InvalidInput(rule) => SetupError::InvalidInput(rule),
                other => SetupError::Unexpected(anyhow::anyhow!(other)),
            })?;
        tracing::info!(user_id = %user.id, "root user created by setup");
        Ok(user)
    }
}
