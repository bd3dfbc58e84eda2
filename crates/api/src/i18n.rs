//! The message catalogue of the compat surface, in zh-CN and en (spec Appendix B). Chinese
//! texts are New API's exact strings: clients may match on them.

/// A supported message language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    ZhCn,
    En,
}

impl Locale {
    pub fn parse(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "zh" => Some(Locale::ZhCn),
            "en" => Some(Locale::En),
            _ => None,
        }
    }

    /// The best supported language of an `Accept-Language` header, by q-value, else `default`.
    pub fn negotiate(header: Option<&str>, default: Locale) -> Locale {
        let Some(header) = header else {
            return default;
        };
        let mut best: Option<(f32, Locale)> = None;
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or_default();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(locale) = Locale::parse(tag)
                && q > 0.0
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, locale));
            }
        }
        best.map_or(default, |(_, l)| l)
    }
}

/// Every user-visible message of the compat surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Msg {
    InvalidParams,
    UsernameLength,
    UsernameCharacters,
    PasswordLength,
    PasswordLoginDisabled,
    RegisterDisabled,
    PasswordRegisterDisabled,
    UsernameOrPasswordEmpty,
    InvalidCredentials,
    UsernameTaken,
    DatabaseError,
    NotLoggedIn,
    InvalidAccessToken,
    InvalidUserInfo,
    NewApiUserMissing,
    NewApiUserMalformed,
    NewApiUserMismatch,
    UserBanned,
    InsufficientPrivileges,
    UserDeleted,
    TokenGenerationFailed,
    RedeemFailed,
    RedeemNoCode,
    RedeemInvalidCode,
    RedeemUsed,
    RedeemDisabled,
    RedeemExpired,
    RedeemOverflow,
    RedemptionNameLength,
    RedemptionCountTooSmall,
    RedemptionCountTooLarge,
    RedemptionQuotaInvalid,
    RedemptionExpiryInPast,
    RedemptionGenerateFailed,
    NotFound,
    Internal,
}

impl Msg {
    pub fn text(self, locale: Locale) -> &'static str {
        let (zh, en) = self.texts();
        match locale {
            Locale::ZhCn => zh,
            Locale::En => en,
        }
    }

    fn texts(self) -> (&'static str, &'static str) {
        use Msg::*;
        match self {
            InvalidParams => ("无效的参数", "Invalid parameters"),
            UsernameLength => (
                "输入不合法 用户名长度必须为1-20个字符",
                "Invalid input: username must be 1 to 20 characters",
            ),
            UsernameCharacters => (
                "输入不合法 用户名不能包含控制字符",
                "Invalid input: username must not contain control characters",
            ),
            PasswordLength => (
                "输入不合法 密码长度必须为8-128个字符",
                "Invalid input: password must be 8 to 128 characters",
            ),
            PasswordLoginDisabled => (
                "管理员关闭了密码登录",
                "Password login has been disabled by administrator",
            ),
            RegisterDisabled => (
                "管理员关闭了新用户注册",
                "New user registration has been disabled by administrator",
            ),
            PasswordRegisterDisabled => (
                "管理员关闭了通过密码进行注册，请使用第三方账户验证的形式进行注册",
                "Password registration has been disabled by administrator, please use third-party account verification to register",
            ),
            UsernameOrPasswordEmpty => ("用户名或密码为空", "Username or password is empty"),
            InvalidCredentials => (
                "用户名或密码错误，或用户已被封禁",
                "Username or password is incorrect, or user has been banned",
            ),
            UsernameTaken => (
                "用户名已存在，或已注销",
                "Username already exists or has been deleted",
            ),
            DatabaseError => (
                "数据库出错，请联系管理员",
                "Database error, please contact the administrator",
            ),
            NotLoggedIn => (
                "无权进行此操作，未登录且未提供 access token",
                "Unauthorized, not logged in and no access token provided",
            ),
            InvalidAccessToken => (
                "无权进行此操作，access token 无效",
                "Unauthorized, invalid access token",
            ),
            InvalidUserInfo => (
                "无权进行此操作，用户信息无效",
                "Unauthorized, invalid user info",
            ),
            NewApiUserMissing => (
                "无权进行此操作，未提供 New-Api-User",
                "Unauthorized, New-Api-User header not provided",
            ),
            NewApiUserMalformed => (
                "无权进行此操作，New-Api-User 格式错误",
                "Unauthorized, New-Api-User header format error",
            ),
            NewApiUserMismatch => (
                "无权进行此操作，New-Api-User 与登录用户不匹配",
                "Unauthorized, New-Api-User does not match logged in user",
            ),
            UserBanned => ("用户已被封禁", "User has been banned"),
            InsufficientPrivileges => (
                "无权进行此操作，权限不足",
                "Unauthorized, insufficient privileges",
            ),
            UserDeleted => ("用户已注销", "User has been deleted"),
            TokenGenerationFailed => (
                "生成令牌失败，请重试",
                "Failed to generate token, please retry",
            ),
            RedeemFailed => (
                "兑换失败，请稍后重试",
                "Redemption failed, please try again later",
            ),
            RedeemNoCode => (
                "兑换失败，未提供兑换码",
                "Redemption failed: no code provided",
            ),
            RedeemInvalidCode => ("兑换失败，无效的兑换码", "Redemption failed: invalid code"),
            RedeemUsed => (
                "兑换失败，该兑换码已被使用",
                "Redemption failed: code already used",
            ),
            RedeemDisabled => (
                "兑换失败，该兑换码已被禁用",
                "Redemption failed: code is disabled",
            ),
            RedeemExpired => (
                "兑换失败，该兑换码已过期",
                "Redemption failed: code has expired",
            ),
            RedeemOverflow => (
                "兑换失败，额度超出上限",
                "Redemption failed: the balance would exceed its limit",
            ),
            RedemptionNameLength => (
                "兑换码名称长度必须在1-20之间",
                "Redemption code name must be 1 to 20 characters",
            ),
            RedemptionCountTooSmall => ("兑换码个数必须大于0", "Count must be greater than 0"),
            RedemptionCountTooLarge => (
                "一次兑换码批量生成的个数不能大于 100",
                "At most 100 codes can be generated at once",
            ),
            RedemptionQuotaInvalid => ("兑换码额度必须大于0", "Quota must be greater than 0"),
            RedemptionExpiryInPast => (
                "过期时间不能早于当前时间",
                "Expiry time cannot be earlier than now",
            ),
            RedemptionGenerateFailed => ("生成失败", "Generation failed"),
            NotFound => ("未找到该接口", "Not found"),
            Internal => ("服务器内部错误", "Internal server error"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported_tag() {
        let zh = Locale::ZhCn;
        assert_eq!(Locale::negotiate(None, zh), zh);
        assert_eq!(Locale::negotiate(Some("en-US,en;q=0.9"), zh), Locale::En);
        assert_eq!(
            Locale::negotiate(Some("fr-FR, en;q=0.5, zh;q=0.8"), Locale::En),
            zh
        );
        assert_eq!(Locale::negotiate(Some("fr, de"), Locale::En), Locale::En);
        assert_eq!(Locale::negotiate(Some("en;q=0"), zh), zh);
        assert_eq!(Locale::negotiate(Some("zh-CN"), Locale::En), zh);
    }

    #[test]
    fn every_message_has_both_languages() {
        use Msg::*;
        for m in [
            InvalidParams,
            NotLoggedIn,
            RedeemUsed,
            RedemptionCountTooLarge,
            Internal,
        ] {
            assert!(!m.text(Locale::ZhCn).is_empty() && !m.text(Locale::En).is_empty());
            assert_ne!(m.text(Locale::ZhCn), m.text(Locale::En));
        }
    }

    #[test]
    fn auth_messages_are_new_apis_exact_strings() {
        assert_eq!(
            Msg::NotLoggedIn.text(Locale::ZhCn),
            "无权进行此操作，未登录且未提供 access token"
        );
        assert_eq!(Msg::UserBanned.text(Locale::ZhCn), "用户已被封禁");
    }
}
