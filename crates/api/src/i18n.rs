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
    // Self-service (compat).
    SidebarUpdated,
    InvalidSidebar,
    DisplayNameLength,
    WrongOriginalPassword,
    CannotDeleteRoot,
    TransferSucceeded,
    TransferInsufficient,
    TransferOverflow,
    SettingsUpdated,
    InvalidNotifyType,
    ThresholdNotPositive,
    WebhookUrlEmpty,
    WebhookUrlInvalid,
    EmailInvalid,
    BarkUrlEmpty,
    BarkUrlInvalid,
    BarkUrlScheme,
    GotifyUrlEmpty,
    GotifyTokenEmpty,
    GotifyUrlInvalid,
    GotifyUrlScheme,
    UrlForbidden,
    // Admin (compat).
    NoPermissionView,
    NoPermissionUpdate,
    NoPermissionGrant,
    CannotCreateHigher,
    NoPermissionDelete,
    CannotDisableRoot,
    CannotDeleteRootUser,
    CannotDemoteRoot,
    AlreadyAdmin,
    AlreadyCommon,
    OnlyRootPromotes,
    UserNotFound,
    UnknownAction,
    RoleChangeRefused,
    StatusChangeRefused,
    UnknownGroup,
    RemarkLength,
    QuotaNegative,
    InvalidOption,
    // REST surface.
    RestOk,
    RestUpdated,
    RestRegistered,
    RestLoggedIn,
    RestRefreshed,
    RestLoggedOut,
    RestPasswordChanged,
    RestUnauthenticated,
    RestAuthFailed,
    RestBadRequest,
    RestForbidden,
    RestNotFound,
    RestUsernameTaken,
    RestEmailTaken,
    RestOldPasswordWrong,
    RestPasswordMismatch,
    RestAccountDisabled,
    UserChangedMeanwhile,
    // Issue 7.2, 7.3.
    RedemptionTotalTooLarge,
    RegisterRateLimited,
    UrlAmbiguous,
    RestEmailUnverified,
    UsernameUnsafe,
    // Issue 7.11: acts that need the owner (password or fresh login).
    OwnerProofRequired,
    OwnerProofWrongPassword,
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
                "输入不合法 用户名不能包含控制字符或@",
                "Invalid input: username must not contain control characters or @",
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
            SidebarUpdated => ("设置更新成功", "Settings updated successfully"),
            InvalidSidebar => (
                "输入不合法 侧边栏配置无效",
                "Invalid input: invalid sidebar configuration",
            ),
            DisplayNameLength => (
                "输入不合法 显示名称长度必须为1-20个字符",
                "Invalid input: display name must be 1 to 20 characters",
            ),
            WrongOriginalPassword => ("原密码错误", "Original password is incorrect"),
            CannotDeleteRoot => (
                "不能删除超级管理员账户",
                "Cannot delete super administrator account",
            ),
            TransferSucceeded => ("划转成功", "Transfer successful"),
            TransferInsufficient => (
                "划转失败 邀请额度不足！",
                "Transfer failed: invitation quota is insufficient!",
            ),
            TransferOverflow => (
                "划转失败 额度超出上限",
                "Transfer failed: the balance would exceed its limit",
            ),
            SettingsUpdated => ("设置已更新", "Settings updated"),
            InvalidNotifyType => ("无效的预警类型", "Invalid warning type"),
            ThresholdNotPositive => (
                "预警阈值必须大于0",
                "Warning threshold must be greater than 0",
            ),
            WebhookUrlEmpty => ("Webhook地址不能为空", "Webhook URL cannot be empty"),
            WebhookUrlInvalid => ("无效的Webhook地址", "Invalid Webhook URL"),
            EmailInvalid => ("无效的邮箱地址", "Invalid email address"),
            BarkUrlEmpty => ("Bark推送URL不能为空", "Bark URL cannot be empty"),
            BarkUrlInvalid => ("无效的Bark推送URL", "Invalid Bark URL"),
            BarkUrlScheme => (
                "Bark推送URL必须以http://或https://开头",
                "Bark URL must start with http:// or https://",
            ),
            GotifyUrlEmpty => (
                "Gotify服务器地址不能为空",
                "Gotify server URL cannot be empty",
            ),
            GotifyTokenEmpty => ("Gotify令牌不能为空", "Gotify token cannot be empty"),
            GotifyUrlInvalid => ("无效的Gotify服务器地址", "Invalid Gotify server URL"),
            GotifyUrlScheme => (
                "Gotify服务器地址必须以http://或https://开头",
                "Gotify server URL must start with http:// or https://",
            ),
            UrlForbidden => (
                "地址不能指向内网、本机或云元数据服务，且必须可以解析",
                "The URL must resolve and must not point to a private, local or metadata address",
            ),
            NoPermissionView => (
                "无权获取同级或更高等级用户的信息",
                "No permission to access users of same or higher level",
            ),
            NoPermissionUpdate => (
                "无权更新同权限等级或更高权限等级的用户信息",
                "No permission to update users of same or higher permission level",
            ),
            NoPermissionGrant => (
                "无权将其他用户权限等级提升到大于等于自己的权限等级",
                "Cannot raise another user's level to your own level or above",
            ),
            CannotCreateHigher => (
                "无法创建权限大于等于自己的用户",
                "Cannot create users with permission level equal to or higher than yourself",
            ),
            NoPermissionDelete => (
                "无权删除同权限等级或更高权限等级的用户",
                "No permission to delete users of same or higher level",
            ),
            CannotDisableRoot => (
                "无法禁用超级管理员用户",
                "Cannot disable super administrator user",
            ),
            CannotDeleteRootUser => (
                "无法删除超级管理员用户",
                "Cannot delete super administrator user",
            ),
            CannotDemoteRoot => (
                "无法降级超级管理员用户",
                "Cannot demote super administrator user",
            ),
            AlreadyAdmin => (
                "该用户已经是管理员",
                "This user is already an administrator",
            ),
            AlreadyCommon => ("该用户已经是普通用户", "This user is already a common user"),
            OnlyRootPromotes => (
                "普通管理员用户无法提升其他用户为管理员",
                "Regular administrators cannot promote other users to administrator",
            ),
            UserNotFound => ("用户不存在", "User does not exist"),
            UnknownAction => ("无效的操作", "Unknown action"),
            RoleChangeRefused => (
                "角色只能通过提升或降级操作修改",
                "The role changes only through promote and demote",
            ),
            StatusChangeRefused => (
                "状态只能通过启用或禁用操作修改",
                "The status changes only through enable and disable",
            ),
            UnknownGroup => ("分组不存在", "Unknown group"),
            RemarkLength => (
                "输入不合法 备注长度不能超过255个字符",
                "Invalid input: remark must be at most 255 characters",
            ),
            QuotaNegative => ("额度不能为负数", "Quota must not be negative"),
            InvalidOption => ("选项值无效", "Invalid option value"),
            RestOk => ("获取成功", "OK"),
            RestUpdated => ("更新成功", "Updated"),
            RestRegistered => ("注册成功", "Registered"),
            RestLoggedIn => ("登录成功", "Logged in"),
            RestRefreshed => ("令牌已刷新", "Tokens refreshed"),
            RestLoggedOut => ("已退出登录", "Logged out"),
            RestPasswordChanged => ("密码修改成功", "Password changed"),
            RestUnauthenticated => ("未认证", "Unauthenticated"),
            RestAuthFailed => ("认证失败", "Authentication failed"),
            RestBadRequest => ("请求参数错误", "Bad request"),
            RestForbidden => ("无权限", "Forbidden"),
            RestNotFound => ("资源不存在", "Not found"),
            RestUsernameTaken => ("用户名已存在", "Username already exists"),
            RestEmailTaken => ("邮箱已被注册", "Email already registered"),
            RestOldPasswordWrong => ("旧密码错误", "Old password is incorrect"),
            RestPasswordMismatch => ("两次输入的新密码不一致", "The new passwords do not match"),
            RestAccountDisabled => ("账户已被禁用", "Account disabled"),
            UserChangedMeanwhile => (
                "用户已被其他操作修改，请刷新后重试",
                "The user was changed meanwhile; reload and retry",
            ),
            RedemptionTotalTooLarge => (
                "兑换码总额度超出上限",
                "The batch's total quota is too large",
            ),
            RegisterRateLimited => (
                "注册过于频繁，请稍后再试",
                "Too many registrations, please try again later",
            ),
            UrlAmbiguous => (
                "地址不能包含用户信息（@）、反斜杠、空白、控制字符，主机部分不能使用百分号编码",
                "The URL must not contain user info (@), backslashes, whitespace or control \
                 characters, nor percent-encoding in the host",
            ),
            RestEmailUnverified => (
                "邮箱验证开放前不能设置邮箱",
                "The e-mail address cannot be set until e-mail verification is available",
            ),
            UsernameUnsafe => (
                "输入不合法 用户名不能包含不可见字符、双向控制字符、非ASCII符号，或混用易混淆的文字",
                "Invalid input: username must not contain invisible, bidirectional-control or \
                 non-ASCII symbol characters, nor mix look-alike scripts",
            ),
            OwnerProofRequired => (
                "此操作需要验证身份：请在请求中提供当前密码（password），或重新登录后 10 分钟内重试",
                "This action needs your current password (send it as `password`), or a login within the last 10 minutes",
            ),
            OwnerProofWrongPassword => ("密码错误", "Incorrect password"),
        }
    }
}

/// A quota amount as New API's messages show it (`LogQuota`): dollars with six decimals for
/// the USD display, otherwise whole quota points. Exact integer arithmetic, no floats.
pub fn format_quota(quota: i64, per_unit: i64, display_type: &str, locale: Locale) -> String {
    if display_type == "USD" && per_unit > 0 {
        let micros = i128::from(quota) * 1_000_000 / i128::from(per_unit);
        let sign = if micros < 0 { "-" } else { "" };
        let micros = micros.unsigned_abs();
        let amount = format!("{sign}{}.{:06}", micros / 1_000_000, micros % 1_000_000);
        match locale {
            Locale::ZhCn => format!("＄{amount} 额度"),
            Locale::En => format!("${amount} quota"),
        }
    } else {
        match locale {
            Locale::ZhCn => format!("{quota} 点额度"),
            Locale::En => format!("{quota} quota points"),
        }
    }
}

/// `划转失败 转移额度最小为{X}！` (spec §3.16).
pub fn transfer_minimum(min: &str, locale: Locale) -> String {
    match locale {
        Locale::ZhCn => format!("划转失败 转移额度最小为{min}！"),
        Locale::En => format!("Transfer failed: minimum transfer quota is {min}!"),
    }
}

/// A non-root admin's mint beyond `AdminMintQuotaDailyLimit` (issue 7.2); `remaining` is
/// formatted by [`format_quota`].
pub fn mint_limit_exceeded(remaining: &str, locale: Locale) -> String {
    match locale {
        Locale::ZhCn => format!("超出管理员 24 小时内的兑换码生成额度上限，剩余可生成 {remaining}"),
        Locale::En => {
            format!("Exceeds the administrators' minting limit per 24 hours; {remaining} left")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_formats_exactly_in_dollars_or_points() {
        assert_eq!(
            format_quota(500_000, 500_000, "USD", Locale::ZhCn),
            "＄1.000000 额度"
        );
        assert_eq!(
            format_quota(1, 500_000, "USD", Locale::En),
            "$0.000002 quota"
        );
        assert_eq!(
            format_quota(-750_000, 500_000, "USD", Locale::En),
            "$-1.500000 quota"
        );
        assert_eq!(
            format_quota(i64::MAX, 500_000, "USD", Locale::En),
            "$18446744073709.551614 quota"
        );
        assert_eq!(
            format_quota(42, 500_000, "TOKENS", Locale::ZhCn),
            "42 点额度"
        );
    }

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
