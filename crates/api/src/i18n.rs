//! The message catalogue of the compat and REST surfaces, in zh-CN and en. The texts live in
//! `crates/api/locales/<tag>.json`, one flat `"Key": "text"` object per locale, so a
//! translator edits data, not Rust; `build.rs` checks them and generates the typed access
//! included below (decision: `docs/adr/0013-message-catalogue.md`):
//!
//! - a key without placeholders is a [`Msg`] variant, read with [`Msg::text`];
//! - a key with `{placeholders}` is a function of its placeholders (in alphabetical order)
//!   and the locale, `TransferMinimum` → [`transfer_minimum`]`(min, locale)`;
//! - a key missing from one locale, an empty text or placeholders that differ between the
//!   locales fail the build, and a call site naming a missing key does not compile.
//!
//! Chinese texts are New API's exact strings: clients may match on them.

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

include!(concat!(env!("OUT_DIR"), "/messages.rs"));

/// A quota amount as New API's messages show it (`LogQuota`): dollars with six decimals for
/// the USD display, otherwise whole quota points. Exact integer arithmetic, no floats.
pub fn format_quota(quota: i64, per_unit: i64, display_type: &str, locale: Locale) -> String {
    if display_type == "USD" && per_unit > 0 {
        let micros = i128::from(quota) * 1_000_000 / i128::from(per_unit);
        let sign = if micros < 0 { "-" } else { "" };
        let micros = micros.unsigned_abs();
        let amount = format!("{sign}{}.{:06}", micros / 1_000_000, micros % 1_000_000);
        quota_usd(amount, locale)
    } else {
        quota_points(quota, locale)
    }
}

/// The build script's checker, compiled again so its refusals are unit-tested.
#[cfg(test)]
#[path = "../build/catalogue.rs"]
mod catalogue;

#[cfg(test)]
mod tests;
