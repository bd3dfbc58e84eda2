//! The registration and login bodies, shared by both surfaces, and the domain input each
//! becomes.

use serde::Deserialize;
use tollgate_domain::services::{LoginInput, RegisterInput};

use crate::client::{ClientIp, UserAgent};

/// Registration body. The compat console also sends `password2`, `wechat_verification_code`
/// and `aff_code: null`; unknown fields and nulls are accepted.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct RegisterBody {
    /// At most `Username::MAX_CHARS` characters.
    #[schema(required = true, min_length = 1, max_length = 20)]
    pub username: Option<String>,
    /// `Password::MIN_CHARS` to `Password::MAX_CHARS` characters.
    #[schema(required = true, min_length = 8, max_length = 128)]
    pub password: Option<String>,
    /// Never stored until it is verified (e-mail verification is not built yet), so nobody
    /// can squat an address they do not own; see `RegisterInput::email`.
    #[schema(max_length = 254)]
    pub email: Option<String>,
    pub aff_code: Option<String>,
}

impl RegisterBody {
    /// The registration it asks for, from the client at `ip`.
    pub fn into_input(self, ip: ClientIp) -> RegisterInput {
        RegisterInput {
            username: self.username.unwrap_or_default(),
            password: self.password.unwrap_or_default(),
            email: self.email,
            aff_code: self.aff_code,
            ip: ip.0,
        }
    }
}

/// Login body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct LoginBody {
    /// A username or an e-mail address.
    #[schema(required = true, min_length = 1)]
    pub username: Option<String>,
    #[schema(required = true, min_length = 1)]
    pub password: Option<String>,
}

impl LoginBody {
    /// The login it asks for, from the client at `ip` with `user_agent`.
    pub fn into_input(self, ip: ClientIp, user_agent: UserAgent) -> LoginInput {
        LoginInput {
            login: self.username.unwrap_or_default(),
            password: self.password.unwrap_or_default(),
            ip: ip.0,
            user_agent: user_agent.0,
        }
    }
}
