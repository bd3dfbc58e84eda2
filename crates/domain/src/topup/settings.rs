//! The payment options, under New API's key names. Root sets them through the options API;
//! the three secrets are never listed back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::options::{OptionError, invalid, to_json};
use crate::payment::{Decimal, EpayMerchant, ProviderSecret};

/// One entry of `PayMethods`: how the console shows an Epay method. `min_topup` is display
/// only, as in New API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayMethod {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_topup: Option<String>,
}

/// Every payment option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentSettings {
    /// `PayAddress`: the Epay gateway's base URL.
    pub pay_address: String,
    /// `EpayId`.
    pub epay_id: String,
    /// `EpayKey` (secret).
    pub epay_key: String,
    /// `Price`: shop currency per USD of quota, for Epay.
    pub price: Decimal,
    /// `MinTopUp`, in USD units.
    pub min_topup: i64,
    /// `TopupGroupRatio`: group -> price ratio.
    pub topup_group_ratio: BTreeMap<String, Decimal>,
    /// `PayMethods`.
    pub pay_methods: Vec<PayMethod>,
    /// `ServerAddress`: this server's public base URL (return URLs, default callback).
    pub server_address: String,
    /// `CustomCallbackAddress`: the base URL of the notify callback when set.
    pub custom_callback_address: String,
    /// `payment_setting.amount_options`: the console's preset amounts.
    pub amount_options: Vec<i64>,
    /// `payment_setting.amount_discount`: requested amount -> price factor.
    pub amount_discount: BTreeMap<i64, Decimal>,
    /// `StripeApiSecret` (secret; `sk_` or `rk_`).
    pub stripe_api_secret: String,
    /// `StripeWebhookSecret` (secret).
    pub stripe_webhook_secret: String,
    /// `StripePriceId`.
    pub stripe_price_id: String,
    /// `StripeUnitPrice`: what one unit costs at Stripe, for the preview.
    pub stripe_unit_price: Decimal,
    /// `StripeMinTopUp`, in units.
    pub stripe_min_topup: i64,
    /// `StripePromotionCodesEnabled`.
    pub stripe_promotion_codes_enabled: bool,
    /// `TopupRebatePercent`: the inviter's share of an invitee's settled top-up, 0 to 100.
    pub topup_rebate_percent: Decimal,
}

impl Default for PaymentSettings {
    fn default() -> Self {
        let method = |name: &str, kind: &str, color: &str, min: Option<&str>| PayMethod {
            name: name.to_owned(),
            kind: kind.to_owned(),
            color: Some(color.to_owned()),
            min_topup: min.map(str::to_owned),
        };
        Self {
            pay_address: String::new(),
            epay_id: String::new(),
            epay_key: String::new(),
            price: Decimal::new(73, 1),
            min_topup: 1,
            topup_group_ratio: ["default", "vip", "svip"]
                .into_iter()
                .map(|g| (g.to_owned(), Decimal::ONE))
                .collect(),
            pay_methods: vec![
                method("支付宝", "alipay", "rgba(var(--semi-blue-5), 1)", None),
                method("微信", "wxpay", "rgba(var(--semi-green-5), 1)", None),
                method("自定义1", "custom1", "black", Some("50")),
            ],
            server_address: String::new(),
            custom_callback_address: String::new(),
            amount_options: vec![10, 20, 50, 100, 200, 500],
            amount_discount: BTreeMap::new(),
            stripe_api_secret: String::new(),
            stripe_webhook_secret: String::new(),
            stripe_price_id: String::new(),
            stripe_unit_price: Decimal::new(80, 1),
            stripe_min_topup: 1,
            stripe_promotion_codes_enabled: false,
            topup_rebate_percent: Decimal::ZERO,
        }
    }
}

/// The keys whose values are secrets: accepted on write, never listed.
pub const SECRET_KEYS: [&str; 3] = ["EpayKey", "StripeApiSecret", "StripeWebhookSecret"];

/// The payment option keys, in display order.
pub const KEYS: [&str; 18] = [
    "PayAddress",
    "EpayId",
    "EpayKey",
    "Price",
    "MinTopUp",
    "TopupGroupRatio",
    "PayMethods",
    "ServerAddress",
    "CustomCallbackAddress",
    "payment_setting.amount_options",
    "payment_setting.amount_discount",
    "StripeApiSecret",
    "StripeWebhookSecret",
    "StripePriceId",
    "StripeUnitPrice",
    "StripeMinTopUp",
    "StripePromotionCodesEnabled",
    "TopupRebatePercent",
];

fn parse_decimal(key: &str, v: &str) -> Result<Decimal, OptionError> {
    match v.trim().parse::<Decimal>() {
        Ok(d) if d > Decimal::ZERO => Ok(d.normalize()),
        _ => Err(invalid(key, "must be a positive decimal number")),
    }
}

fn parse_units(key: &str, v: &str) -> Result<i64, OptionError> {
    match v.trim().parse::<i64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(invalid(key, "must be a positive integer")),
    }
}

/// An absolute http(s) base URL without a trailing `/`, or empty.
fn parse_base_url(key: &str, v: &str) -> Result<String, OptionError> {
    let v = v.trim().trim_end_matches('/');
    if v.is_empty() {
        return Ok(String::new());
    }
    match url::Url::parse(v) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.query().is_none()
                && u.fragment().is_none()
                && u.username().is_empty()
                && u.password().is_none() =>
        {
            Ok(v.to_owned())
        }
        _ => Err(invalid(
            key,
            "must be an http(s) URL without credentials, query or fragment",
        )),
    }
}

fn parse_token(key: &str, v: &str) -> Result<String, OptionError> {
    let v = v.trim();
    if v.len() > 255 || v.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid(
            key,
            "must be at most 255 characters without spaces",
        ));
    }
    Ok(v.to_owned())
}

fn decimal_map_json<K: Serialize>(map: &BTreeMap<K, Decimal>) -> String {
    let object: serde_json::Map<String, serde_json::Value> = map
        .iter()
        .map(|(k, v)| {
            let key = serde_json::to_value(k)
                .ok()
                .map(|k| match k {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                })
                .unwrap_or_default();
            let number = serde_json::from_str::<serde_json::Value>(&v.normalize().to_string())
                .unwrap_or(serde_json::Value::Null);
            (key, number)
        })
        .collect();
    serde_json::Value::Object(object).to_string()
}

/// A JSON object of positive decimal numbers (written as JSON numbers or strings).
fn parse_decimal_map(key: &str, v: &str) -> Result<BTreeMap<String, Decimal>, OptionError> {
    let raw: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(v).map_err(|e| invalid(key, format!("invalid JSON: {e}")))?;
    raw.into_iter()
        .map(|(k, value)| {
            let text = match &value {
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::String(s) => s.clone(),
                _ => String::new(),
            };
            let d = parse_decimal(key, &text)
                .map_err(|_| invalid(key, format!("{k}: must be a positive decimal number")))?;
            Ok((k, d))
        })
        .collect()
}

impl PaymentSettings {
    /// The value of every non-secret key as text, in [`KEYS`] order.
    pub fn to_map(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PayAddress", self.pay_address.clone()),
            ("EpayId", self.epay_id.clone()),
            ("Price", self.price.normalize().to_string()),
            ("MinTopUp", self.min_topup.to_string()),
            ("TopupGroupRatio", decimal_map_json(&self.topup_group_ratio)),
            ("PayMethods", to_json(&self.pay_methods)),
            ("ServerAddress", self.server_address.clone()),
            (
                "CustomCallbackAddress",
                self.custom_callback_address.clone(),
            ),
            (
                "payment_setting.amount_options",
                to_json(&self.amount_options),
            ),
            (
                "payment_setting.amount_discount",
                decimal_map_json(&self.amount_discount),
            ),
            ("StripePriceId", self.stripe_price_id.clone()),
            (
                "StripeUnitPrice",
                self.stripe_unit_price.normalize().to_string(),
            ),
            ("StripeMinTopUp", self.stripe_min_topup.to_string()),
            (
                "StripePromotionCodesEnabled",
                self.stripe_promotion_codes_enabled.to_string(),
            ),
            (
                "TopupRebatePercent",
                self.topup_rebate_percent.normalize().to_string(),
            ),
        ]
    }

    /// The three secrets as text, for storage only (never for a reply).
    pub fn secrets(&self) -> [(&'static str, String); 3] {
        [
            ("EpayKey", self.epay_key.clone()),
            ("StripeApiSecret", self.stripe_api_secret.clone()),
            ("StripeWebhookSecret", self.stripe_webhook_secret.clone()),
        ]
    }

    /// Applies one payment key; `None` when `key` is not a payment key.
    pub fn set(&mut self, key: &str, value: &str) -> Option<Result<(), OptionError>> {
        Some(self.try_set(key, value)?.map(|next| *self = next))
    }

    fn try_set(&self, key: &str, value: &str) -> Option<Result<Self, OptionError>> {
        let mut next = self.clone();
        let outcome = (|| {
            match key {
                "PayAddress" => next.pay_address = parse_base_url(key, value)?,
                "EpayId" => next.epay_id = parse_token(key, value)?,
                "EpayKey" => next.epay_key = parse_token(key, value)?,
                "Price" => next.price = parse_decimal(key, value)?,
                "MinTopUp" => next.min_topup = parse_units(key, value)?,
                "TopupGroupRatio" => next.topup_group_ratio = parse_decimal_map(key, value)?,
                "PayMethods" => {
                    let methods: Vec<PayMethod> = serde_json::from_str(value)
                        .map_err(|e| invalid(key, format!("invalid JSON: {e}")))?;
                    if methods.iter().any(|m| {
                        m.kind.is_empty()
                            || m.kind == "stripe"
                            || m.kind
                                .chars()
                                .any(|c| !c.is_ascii_alphanumeric() && c != '_')
                    }) {
                        return Err(invalid(
                            key,
                            "every method needs a type of letters, digits or _ (not stripe)",
                        ));
                    }
                    next.pay_methods = methods;
                }
                "ServerAddress" => next.server_address = parse_base_url(key, value)?,
                "CustomCallbackAddress" => {
                    next.custom_callback_address = parse_base_url(key, value)?;
                }
                "payment_setting.amount_options" => {
                    let options: Vec<i64> = serde_json::from_str(value)
                        .map_err(|e| invalid(key, format!("invalid JSON: {e}")))?;
                    if options.iter().any(|a| *a < 1) {
                        return Err(invalid(key, "amounts must be positive integers"));
                    }
                    next.amount_options = options;
                }
                "payment_setting.amount_discount" => {
                    let raw = parse_decimal_map(key, value)?;
                    let mut map = BTreeMap::new();
                    for (k, d) in raw {
                        let amount = k
                            .parse::<i64>()
                            .ok()
                            .filter(|a| *a >= 1)
                            .ok_or_else(|| invalid(key, format!("{k} is not an amount")))?;
                        if d > Decimal::ONE {
                            return Err(invalid(key, format!("{k}: a discount is at most 1")));
                        }
                        map.insert(amount, d);
                    }
                    next.amount_discount = map;
                }
                "StripeApiSecret" => {
                    let v = parse_token(key, value)?;
                    if !(v.is_empty() || v.starts_with("sk_") || v.starts_with("rk_")) {
                        return Err(invalid(key, "must start with sk_ or rk_"));
                    }
                    next.stripe_api_secret = v;
                }
                "StripeWebhookSecret" => next.stripe_webhook_secret = parse_token(key, value)?,
                "StripePriceId" => next.stripe_price_id = parse_token(key, value)?,
                "StripeUnitPrice" => next.stripe_unit_price = parse_decimal(key, value)?,
                "StripeMinTopUp" => next.stripe_min_topup = parse_units(key, value)?,
                "StripePromotionCodesEnabled" => {
                    next.stripe_promotion_codes_enabled = match value.trim() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(invalid(key, "must be true or false")),
                    };
                }
                "TopupRebatePercent" => {
                    let d = value
                        .trim()
                        .parse::<Decimal>()
                        .ok()
                        .filter(|d| *d >= Decimal::ZERO && *d <= Decimal::ONE_HUNDRED)
                        .ok_or_else(|| invalid(key, "must be a number from 0 to 100"))?;
                    next.topup_rebate_percent = d.normalize();
                }
                _ => return Err(OptionError::UnknownKey(key.to_owned())),
            }
            Ok(())
        })();
        match outcome {
            Err(OptionError::UnknownKey(_)) => None,
            Err(e) => Some(Err(e)),
            Ok(()) => Some(Ok(next)),
        }
    }

    /// The Epay merchant, when `PayAddress`, `EpayId` and `EpayKey` are all set.
    pub fn epay_merchant(&self) -> Option<EpayMerchant> {
        let set = !self.pay_address.is_empty() && !self.epay_id.is_empty();
        (set && !self.epay_key.is_empty()).then(|| EpayMerchant {
            address: self.pay_address.clone(),
            pid: self.epay_id.clone(),
            key: ProviderSecret::new(self.epay_key.clone()),
        })
    }

    /// Stripe is on when the API secret, the webhook secret and the price are all set.
    pub fn stripe_enabled(&self) -> bool {
        !self.stripe_api_secret.is_empty()
            && !self.stripe_webhook_secret.is_empty()
            && !self.stripe_price_id.is_empty()
    }

    /// The base URL of notify callbacks: `CustomCallbackAddress`, else `ServerAddress`.
    pub fn callback_address(&self) -> &str {
        if self.custom_callback_address.is_empty() {
            &self.server_address
        } else {
            &self.custom_callback_address
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_key_round_trips_and_secrets_are_not_listed() {
        let mut s = PaymentSettings::default();
        s.set("EpayKey", "k3y").unwrap().unwrap();
        s.set(
            "payment_setting.amount_discount",
            r#"{"100": 0.9, "200": "0.85"}"#,
        )
        .unwrap()
        .unwrap();
        s.set("TopupGroupRatio", r#"{"default": 1, "vip": 1.25}"#)
            .unwrap()
            .unwrap();
        let map = s.to_map();
        assert!(
            map.iter()
                .all(|(k, v)| !SECRET_KEYS.contains(k) && v != "k3y")
        );
        let mut copy = PaymentSettings::default();
        for (k, v) in map.iter().chain(s.secrets().iter()) {
            copy.set(k, v).unwrap().unwrap();
        }
        assert_eq!(copy, s);
        assert_eq!(
            copy.amount_discount,
            BTreeMap::from([
                (100, "0.9".parse().unwrap()),
                (200, "0.85".parse().unwrap())
            ])
        );
    }

    #[test]
    fn invalid_values_are_refused_and_change_nothing() {
        let mut s = PaymentSettings::default();
        let before = s.clone();
        for (key, value) in [
            ("Price", "0"),
            ("Price", "-1"),
            ("Price", "abc"),
            ("MinTopUp", "0"),
            ("PayAddress", "ftp://pay.example.com"),
            ("PayAddress", "https://u:p@pay.example.com"),
            ("PayAddress", "https://pay.example.com/?a=1"),
            ("TopupGroupRatio", r#"{"default": -1}"#),
            ("TopupGroupRatio", "[]"),
            ("PayMethods", r#"[{"name":"x","type":"a b"}]"#),
            ("PayMethods", r#"[{"name":"x","type":"stripe"}]"#),
            ("payment_setting.amount_options", "[0]"),
            ("payment_setting.amount_discount", r#"{"x": 0.9}"#),
            ("payment_setting.amount_discount", r#"{"10": 1.5}"#),
            ("StripeApiSecret", "pk_live_x"),
            ("StripeMinTopUp", "-3"),
            ("TopupRebatePercent", "101"),
            ("EpayId", "a b"),
        ] {
            assert!(
                matches!(s.set(key, value), Some(Err(_))),
                "{key}={value} accepted"
            );
            assert_eq!(s, before, "{key}={value} changed something");
        }
        assert!(s.set("NoSuchKey", "1").is_none());
    }

    #[test]
    fn epay_and_stripe_are_enabled_only_when_fully_configured() {
        let mut s = PaymentSettings::default();
        assert!(s.epay_merchant().is_none() && !s.stripe_enabled());
        s.set("PayAddress", "https://pay.example.com/")
            .unwrap()
            .unwrap();
        s.set("EpayId", "1001").unwrap().unwrap();
        assert!(s.epay_merchant().is_none());
        s.set("EpayKey", "secret").unwrap().unwrap();
        let m = s.epay_merchant().unwrap();
        assert_eq!(
            (m.address.as_str(), m.pid.as_str()),
            ("https://pay.example.com", "1001")
        );
        for (k, v) in [
            ("StripeApiSecret", "sk_test_1"),
            ("StripeWebhookSecret", "whsec_1"),
        ] {
            s.set(k, v).unwrap().unwrap();
            assert!(!s.stripe_enabled());
        }
        s.set("StripePriceId", "price_1").unwrap().unwrap();
        assert!(s.stripe_enabled());
    }
}
