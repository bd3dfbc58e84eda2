//! argon2id password hashing (docs/security.md, "Passwords"), off the async workers.

use std::sync::Arc;

use anyhow::Context;
use argon2::{Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _};
use async_trait::async_trait;
use tokio::sync::Semaphore;
use tollgate_domain::Password;
use tollgate_domain::ports::PasswordHasher;

/// Hashes with argon2id. Each hash costs ~20 ms of CPU and 19 MiB of memory, so it runs on
/// tokio's blocking pool behind a semaphore the size of the machine's cores: a login storm
/// queues here instead of starving the async workers or exhausting memory.
pub struct Argon2Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// A real hash of a random password, verified against when the user is unknown so that
    /// "no such user" costs as much as "wrong password".
    dummy_hash: String,
}

impl Argon2Hasher {
    /// OWASP parameters (argon2 0.6 defaults: m=19456 KiB, t=2, p=1), with one permit per core.
    pub fn new() -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_params(Params::default(), cores)
    }

    pub fn with_params(params: Params, max_parallel: usize) -> anyhow::Result<Self> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("os rng failed: {e}"))?;
        let dummy_hash = hash_blocking(&params, &seed)?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(max_parallel.max(1))),
            dummy_hash,
        })
    }

    async fn run<T, F>(&self, job: F) -> anyhow::Result<T>
    where
        F: FnOnce() -> anyhow::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .context("password hasher closed")?;
        tokio::task::spawn_blocking(job)
            .await
            .context("password hashing task failed")?
    }
}

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params.clone(),
    )
}

fn hash_blocking(params: &Params, password: &[u8]) -> anyhow::Result<String> {
    argon2(params)
        .hash_password(password)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
}

/// Verifies against a PHC string; parameters come from the string itself, so hashes made
/// with older parameters keep verifying. Anything unparseable verifies the dummy and fails.
fn verify_blocking(params: &Params, password: &[u8], hash: Option<&str>, dummy: &str) -> bool {
    let parsed = hash
        .filter(|h| !h.is_empty())
        .and_then(|h| PasswordHash::new(h).ok());
    match parsed {
        Some(h) => argon2(params).verify_password(password, &h).is_ok(),
        None => {
            if let Ok(d) = PasswordHash::new(dummy) {
                let _ = argon2(params).verify_password(password, &d);
            }
            false
        }
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> anyhow::Result<String> {
        let params = self.params.clone();
        let password = password.expose().as_bytes().to_vec();
        self.run(move || hash_blocking(&params, &password)).await
    }

    async fn verify(&self, password: &str, hash: Option<String>) -> anyhow::Result<bool> {
        let params = self.params.clone();
        let password = password.as_bytes().to_vec();
        let dummy = self.dummy_hash.clone();
        self.run(move || Ok(verify_blocking(&params, &password, hash.as_deref(), &dummy)))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Argon2Hasher {
        Argon2Hasher::with_params(Params::new(256, 1, 1, None).unwrap(), 2).unwrap()
    }

    #[tokio::test]
    async fn default_parameters_are_owasp_argon2id() {
        let hasher = Argon2Hasher::new().unwrap();
        let hash = hasher
            .hash(&Password::parse("correct horse").unwrap())
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
    }

    #[tokio::test]
    async fn the_right_password_verifies_and_a_wrong_one_does_not() {
        let hasher = cheap();
        let hash = hasher
            .hash(&Password::parse("correct horse").unwrap())
            .await
            .unwrap();
        assert!(
            hasher
                .verify("correct horse", Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(!hasher.verify("correct horsf", Some(hash)).await.unwrap());
    }

    #[tokio::test]
    async fn unknown_users_empty_and_garbage_hashes_never_verify() {
        let hasher = cheap();
        assert!(!hasher.verify("anything", None).await.unwrap());
        assert!(!hasher.verify("", Some(String::new())).await.unwrap());
        assert!(!hasher.verify("x", Some("not-a-phc".into())).await.unwrap());
    }

    #[tokio::test]
    async fn salts_differ_between_hashes_of_the_same_password() {
        let hasher = cheap();
        let p = Password::parse("same password").unwrap();
        assert_ne!(
            hasher.hash(&p).await.unwrap(),
            hasher.hash(&p).await.unwrap()
        );
    }
}
