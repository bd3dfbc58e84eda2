//! The TOTP engine (RFC 6238: HMAC-SHA-1, 6 digits, 30 s steps, one step of skew either
//! side) over `totp-rs`, the `otpauth://` provisioning URL, its QR code, and random backup
//! codes. Secrets and codes come from the operating system's RNG.

use std::fmt::Write as _;

use anyhow::Context as _;
use tollgate_domain::two_factor::{
    BACKUP_CODE_ALPHABET, BACKUP_CODE_LEN, BackupCode, TOTP_DIGITS, TotpCode, TotpEngine,
    TotpSecret,
};
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Seconds per time step.
const STEP_SECS: u64 = 30;
/// Steps accepted either side of now (clock drift, a code typed at the end of its window).
const SKEW_STEPS: u16 = 1;
/// Bytes of a new secret: 160 bits, RFC 4226 §4's recommendation.
const SECRET_BYTES: usize = 20;

/// [`TotpEngine`] over `totp-rs`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TotpRs;

impl TotpRs {
    fn totp(secret: &TotpSecret) -> anyhow::Result<Totp> {
        let bytes = Secret::try_from_base32(secret.expose())
            .map_err(|_| anyhow::anyhow!("the stored TOTP secret is not base32"))?;
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(SKEW_STEPS)
            .with_step_duration(STEP_SECS)
            .with_secret(bytes)
            .build()
            .map_err(|e| anyhow::anyhow!("the stored TOTP secret is unusable: {e:?}"))
    }
}

/// Fills a buffer from the operating system's RNG.
fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("operating system RNG failed: {e}"))?;
    Ok(buf)
}

impl TotpEngine for TotpRs {
    fn new_secret(&self) -> anyhow::Result<TotpSecret> {
        let bytes: [u8; SECRET_BYTES] = random_bytes()?;
        Ok(TotpSecret::new(Secret::from(bytes).to_base32()))
    }

    fn verify(
        &self,
        secret: &TotpSecret,
        code: &TotpCode,
        now: i64,
    ) -> anyhow::Result<Option<i64>> {
        debug_assert_eq!(code.as_str().len(), TOTP_DIGITS);
        let now = u64::try_from(now).context("the clock is before 1970")?;
        let step = Self::totp(secret)?.check(code.as_str(), now);
        step.map(i64::try_from)
            .transpose()
            .context("a time step beyond i64")
    }

    fn provisioning_url(&self, secret: &TotpSecret, issuer: &str, account: &str) -> String {
        // The Key URI Format forbids a colon inside the issuer or the account name, even
        // percent-encoded (it separates the two in the label).
        let issuer = percent_encode(&issuer.replace(':', " "));
        let account = percent_encode(&account.replace(':', " "));
        format!(
            "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}\
             &algorithm=SHA1&digits={TOTP_DIGITS}&period={STEP_SECS}",
            secret = secret.expose(),
        )
    }

    fn qr_data_url(&self, url: &str) -> anyhow::Result<String> {
        let png = qrcodegen_image::draw_base64(url)
            .map_err(|_| anyhow::anyhow!("the provisioning URL is too long for a QR code"))?;
        Ok(format!("data:image/png;base64,{png}"))
    }

    fn backup_code(&self) -> anyhow::Result<BackupCode> {
        let mut code = String::with_capacity(BACKUP_CODE_LEN);
        // Rejection sampling: 252 = 7 * 36, so accepted bytes map uniformly.
        while code.len() < BACKUP_CODE_LEN {
            for b in random_bytes::<32>()? {
                if b < 252 && code.len() < BACKUP_CODE_LEN {
                    code.push(char::from(BACKUP_CODE_ALPHABET[usize::from(b % 36)]));
                }
            }
        }
        BackupCode::parse(&code).context("a generated backup code is malformed")
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters (so a space is `%20`,
/// never `+`, which authenticator apps would show literally).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests;
