//! Secret tokens from the operating system's RNG, stored as SHA-256.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use tollgate_domain::ports::SecretGenerator;
use tollgate_domain::{SecretToken, TokenHash};

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Random secrets from `getrandom`. Tokens carry 256 bits of entropy, so a fast unsalted
/// SHA-256 is the right at-rest form: it cannot be brute-forced and allows an indexed lookup.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsSecrets;

/// A machine whose OS RNG fails cannot issue credentials safely; stopping is the only sound
/// answer, so this panics (the HTTP layer turns a panic into an opaque 500).
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    if let Err(e) = getrandom::fill(&mut buf) {
        panic!("operating system RNG failed: {e}");
    }
    buf
}

fn sha256_hex(input: &[u8]) -> String {
    Sha256::digest(input)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl SecretGenerator for OsSecrets {
    fn token(&self) -> SecretToken {
        let plaintext = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        let hash = self.hash(&plaintext);
        SecretToken { plaintext, hash }
    }

    fn hash(&self, token: &str) -> TokenHash {
        TokenHash::from_hex(sha256_hex(token.as_bytes()))
    }

    fn alphanumeric(&self, len: usize) -> String {
        let mut out = String::with_capacity(len);
        // Rejection sampling: 248 = 4 * 62, so accepted bytes map uniformly.
        while out.len() < len {
            for b in random_bytes::<64>() {
                if b < 248 && out.len() < len {
                    out.push(char::from(ALPHANUMERIC[usize::from(b % 62)]));
                }
            }
        }
        out
    }

    fn redemption_code(&self) -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn tokens_are_43_url_safe_characters_and_unique() {
        let s = OsSecrets;
        let tokens: HashSet<String> = (0..100).map(|_| s.token().plaintext).collect();
        assert_eq!(tokens.len(), 100);
        for t in &tokens {
            assert_eq!(t.len(), 43);
            assert!(
                t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            );
        }
    }

    #[test]
    fn the_stored_hash_is_the_sha256_of_the_plaintext() {
        let s = OsSecrets;
        let t = s.token();
        assert_eq!(t.hash, s.hash(&t.plaintext));
        // Known vector: SHA-256("abc").
        assert_eq!(
            s.hash("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn alphanumeric_has_the_requested_length_and_alphabet() {
        let s = OsSecrets;
        for len in [0, 1, 8, 24, 200] {
            let v = s.alphanumeric(len);
            assert_eq!(v.len(), len);
            assert!(v.bytes().all(|b| ALPHANUMERIC.contains(&b)));
        }
    }

    #[test]
    fn redemption_codes_are_32_lowercase_hex() {
        let c = OsSecrets.redemption_code();
        assert_eq!(c.len(), 32);
        assert!(
            c.chars()
                .all(|ch| ch.is_ascii_hexdigit() && !ch.is_ascii_uppercase())
        );
    }
}
