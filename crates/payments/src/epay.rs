//! Epay ("易支付"): the MD5 signature rule and the order-query API of the gateway.
//!
//! The purchase form and the notify callback are signed with [`epay_sign`]; reconciliation asks
//! the gateway `GET {PayAddress}/api.php?act=order&pid=&key=&out_trade_no=` (the common
//! "彩虹易支付" API), whose JSON reply is
//! `{"code":1,"msg":"..","trade_no":"..","out_trade_no":"..","type":"alipay","pid":"..",
//! "money":"10.00","status":1}`: `code` other than 1 means the gateway does not know the order,
//! `status` 1 is paid and 0 unpaid. The merchant key is a query parameter of that request, so
//! nothing here prints the request URL.

use std::collections::BTreeMap;
use std::str::FromStr as _;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use md5::{Digest as _, Md5};
use serde_json::Value;
use tollgate_domain::compare::constant_time_eq;
use tollgate_domain::payment::{
    Decimal, EpayGateway, EpayMerchant, ProviderOrderState, ProviderSecret,
};
use url::Url;

use crate::{http_client, read_body, transport_error};

const PROVIDER: &str = "the Epay gateway";

/// The signature of `params` under `key`: every parameter except `sign` and `sign_type` whose
/// value is not empty, in byte order of the keys, joined as `k=v&k=v` with raw (not
/// URL-encoded) values, the key appended with no separator, MD5, lowercase hex.
pub fn epay_sign(params: &BTreeMap<String, String>, key: &ProviderSecret) -> String {
    let mut hasher = Md5::new();
    let mut first = true;
    // A BTreeMap<String, _> iterates in byte order of its keys already.
    for (k, v) in params {
        if k == "sign" || k == "sign_type" || v.is_empty() {
            continue;
        }
        if !first {
            hasher.update(b"&");
        }
        first = false;
        hasher.update(k.as_bytes());
        hasher.update(b"=");
        hasher.update(v.as_bytes());
    }
    hasher.update(key.expose().as_bytes());
    hex::encode(hasher.finalize())
}

/// Whether `params["sign"]` is [`epay_sign`] of `params` (constant-time; a missing or empty
/// `sign` is `false`).
pub fn epay_verify(params: &BTreeMap<String, String>, key: &ProviderSecret) -> bool {
    match params.get("sign") {
        Some(sign) if !sign.is_empty() => {
            constant_time_eq(sign.as_bytes(), epay_sign(params, key).as_bytes())
        }
        _ => false,
    }
}

/// The Epay adapter: [`epay_sign`]/[`epay_verify`] and the order query over HTTP.
#[derive(Debug, Clone)]
pub struct EpayClient {
    http: reqwest::Client,
    timeout: Duration,
}

impl EpayClient {
    /// A client whose every call gives up after `timeout` ([`crate::DEFAULT_TIMEOUT`] is the
    /// usual value). Fails only if the TLS stack cannot be set up.
    pub fn new(timeout: Duration) -> anyhow::Result<Self> {
        Ok(Self {
            http: http_client(timeout)?,
            timeout,
        })
    }
}

#[async_trait::async_trait]
impl EpayGateway for EpayClient {
    fn sign(&self, params: &BTreeMap<String, String>, key: &ProviderSecret) -> String {
        epay_sign(params, key)
    }

    fn verify(&self, params: &BTreeMap<String, String>, key: &ProviderSecret) -> bool {
        epay_verify(params, key)
    }

    #[tracing::instrument(skip_all, fields(trade_no = %trade_no))]
    async fn query_order(
        &self,
        merchant: &EpayMerchant,
        trade_no: &str,
    ) -> anyhow::Result<ProviderOrderState> {
        let url = order_query_url(&merchant.address)?;
        let reply = self
            .http
            .get(url)
            .query(&[
                ("act", "order"),
                ("pid", merchant.pid.as_str()),
                ("key", merchant.key.expose()),
                ("out_trade_no", trade_no),
            ])
            .send()
            .await
            .map_err(|e| transport_error(PROVIDER, self.timeout, e))?;
        let status = reply.status();
        let body = read_body(PROVIDER, self.timeout, reply).await?;
        if !status.is_success() {
            bail!("{PROVIDER} answered the order query with HTTP {status}");
        }
        let state = parse_order_reply(&body, trade_no)?;
        tracing::debug!(?state, "epay order query answered");
        Ok(state)
    }
}

/// `{address}/api.php`. The address is not echoed in errors: it could carry credentials.
fn order_query_url(address: &str) -> anyhow::Result<Url> {
    let mut url = Url::parse(address.trim())
        .map_err(|_| anyhow!("the Epay address (PayAddress) is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        bail!("the Epay address (PayAddress) is not an http(s) URL");
    }
    if url.query().is_some() || url.fragment().is_some() {
        bail!("the Epay address (PayAddress) must not have a query or fragment");
    }
    url.path_segments_mut()
        .map_err(|()| anyhow!("the Epay address (PayAddress) is not an http(s) URL"))?
        .pop_if_empty()
        .push("api.php");
    Ok(url)
}

/// Reads the order-query reply about `trade_no`.
fn parse_order_reply(body: &[u8], trade_no: &str) -> anyhow::Result<ProviderOrderState> {
    let reply: Value = serde_json::from_slice(body)
        .map_err(|_| anyhow!("{PROVIDER}'s order reply is not JSON"))?;
    let code = integer_field(&reply, "code")
        .with_context(|| format!("{PROVIDER}'s order reply has no readable `code`"))?;
    if code != 1 {
        // The gateway answers `code` -1 with a `msg` for an unknown order (and for a wrong
        // pid/key, which it does not tell apart).
        tracing::debug!(code, msg = ?reply.get("msg"), "epay does not know the order");
        return Ok(ProviderOrderState::Unknown);
    }
    match reply.get("out_trade_no") {
        Some(Value::String(s)) if s == trade_no => {}
        Some(Value::Null) | None => {}
        Some(_) => bail!("{PROVIDER}'s order reply is about another order"),
    }
    let status = integer_field(&reply, "status")
        .with_context(|| format!("{PROVIDER}'s order reply has no readable `status`"))?;
    match status {
        0 => Ok(ProviderOrderState::Unpaid),
        1 => Ok(ProviderOrderState::Paid {
            money: money_field(&reply)?,
        }),
        other => bail!("{PROVIDER}'s order reply has an unknown status {other}"),
    }
}

/// An integer given as a JSON integer or as a string of one (`1` or `"1"`).
fn integer_field(reply: &Value, name: &str) -> Option<i64> {
    match reply.get(name)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `money` as an exact decimal. Only a JSON string is accepted: a JSON number would already have
/// gone through `f64` in the parser.
fn money_field(reply: &Value) -> anyhow::Result<Decimal> {
    let text = match reply.get("money") {
        Some(Value::String(s)) => s.trim(),
        _ => bail!("{PROVIDER}'s order reply has no `money` string"),
    };
    let money = Decimal::from_str(text)
        .map_err(|_| anyhow!("{PROVIDER}'s order reply has an unreadable `money`"))?;
    if money.is_sign_negative() {
        bail!("{PROVIDER}'s order reply has a negative `money`");
    }
    Ok(money)
}

#[cfg(test)]
mod tests;
