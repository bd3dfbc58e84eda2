use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::*;
use crate::kv::Subscription;
use crate::ports::{
    MockAccessTokenCodec, MockAuditRepository, MockPasswordHasher, MockSessionRepository,
    MockUserRepository,
};
use crate::services::accounts::tests::{NOW, clock, secrets, user};
use crate::services::{CorePorts, RegistrationPolicy, SessionTtl, TwoFactorPorts};
use crate::session::SessionId;
use crate::two_factor::{MockTotpEngine, MockTwoFactorRepository, TotpSecret, TwoFactorRecord};
use crate::user::Role;

const ALICE: i64 = 5;
/// The challenge every login gets (the mocked generator's only token).
const CHALLENGE: &str = "plain-token";

/// A key-value store in a map: no expiry (the HTTP tests cover it), atomic per call.
#[derive(Default)]
struct MapStore(Mutex<HashMap<String, String>>);

impl MapStore {
    fn keys(&self) -> Vec<(String, String)> {
        let map = self.0.lock().unwrap();
        map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

#[async_trait]
impl KeyValueStore for MapStore {
    async fn incr(&self, key: &str, by: i64, _: u64) -> anyhow::Result<i64> {
        let mut map = self.0.lock().unwrap();
        let n = map.get(key).map_or(0, |v| v.parse().unwrap()) + by;
        map.insert(key.to_owned(), n.to_string());
        Ok(n)
    }
    async fn get(&self, key: &str) -> anyhow::Result<Option<String>> {
        Ok(self.0.lock().unwrap().get(key).cloned())
    }
    async fn set(&self, key: &str, value: &str, _: u64) -> anyhow::Result<()> {
        self.0
            .lock()
            .unwrap()
            .insert(key.to_owned(), value.to_owned());
        Ok(())
    }
    async fn set_if_absent(&self, key: &str, value: &str, _: u64) -> anyhow::Result<bool> {
        let mut map = self.0.lock().unwrap();
        if map.contains_key(key) {
            return Ok(false);
        }
        map.insert(key.to_owned(), value.to_owned());
        Ok(true)
    }
    async fn take(&self, key: &str) -> anyhow::Result<Option<String>> {
        Ok(self.0.lock().unwrap().remove(key))
    }
    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.0.lock().unwrap().remove(key);
        Ok(())
    }
    async fn ttl(&self, key: &str) -> anyhow::Result<Option<u64>> {
        Ok(self.0.lock().unwrap().contains_key(key).then_some(60))
    }
    async fn publish(&self, _: &str, _: &str) -> anyhow::Result<()> {
        Ok(())
    }
    async fn subscribe(&self, _: &str) -> anyhow::Result<Box<dyn Subscription>> {
        anyhow::bail!("not used")
    }
}

struct Mocks {
    users: MockUserRepository,
    sessions: MockSessionRepository,
    repo: MockTwoFactorRepository,
    engine: MockTotpEngine,
    codec: MockAccessTokenCodec,
}

impl Mocks {
    /// Alice's password is `password1`; her 2FA is on or off; "123456" is the code of step
    /// 42, accepted once.
    fn new(two_factor_on: bool) -> Self {
        let mut users = MockUserRepository::new();
        users
            .expect_find_credentials()
            .returning(|_| Ok(Some((user(ALICE, Role::User), "hash".into()))));
        users
            .expect_find_by_id()
            .returning(|id| Ok(Some(user(id.get(), Role::User))));
        users.expect_record_login().returning(|_, _| Ok(()));
        let mut repo = MockTwoFactorRepository::new();
        repo.expect_find().returning(move |id| {
            Ok(two_factor_on.then(|| TwoFactorRecord {
                user_id: id,
                secret: TotpSecret::new("SECRET"),
                enabled: true,
                last_step: None,
                created_at: NOW,
                updated_at: NOW,
            }))
        });
        let claimed = Mutex::new(false);
        repo.expect_claim_step().returning(move |_, _, _| {
            let mut c = claimed.lock().unwrap();
            Ok(!std::mem::replace(&mut *c, true))
        });
        let mut engine = MockTotpEngine::new();
        engine
            .expect_verify()
            .returning(|_, code, _| Ok((code.as_str() == "123456").then_some(42)));
        Self {
            users,
            sessions: MockSessionRepository::new(),
            repo,
            engine,
            codec: MockAccessTokenCodec::new(),
        }
    }

    fn flow(self, kv: Arc<MapStore>) -> LoginFlow {
        let mut hasher = MockPasswordHasher::new();
        hasher
            .expect_verify()
            .returning(|pw, _| Ok(pw == "password1"));
        let users: Arc<dyn crate::ports::UserRepository> = Arc::new(self.users);
        let mut audit = MockAuditRepository::new();
        audit.expect_record().returning(|_| Ok(()));
        let auth = AuthService::new(
            CorePorts {
                users: users.clone(),
                sessions: Arc::new(self.sessions),
                hasher: Arc::new(hasher),
                secrets: Arc::new(secrets()),
                clock: Arc::new(clock()),
                audit: Arc::new(audit),
            },
            Arc::new(self.codec),
            Arc::new(crate::options::StaticOptions::with(
                RegistrationPolicy::default(),
                crate::groups::GroupSettings::default(),
            )),
            SessionTtl {
                web_secs: 3600,
                refresh_secs: 7200,
            },
        );
        let two_factor = TwoFactorService::new(TwoFactorPorts {
            repo: Arc::new(self.repo),
            engine: Arc::new(self.engine),
            hasher: Arc::new(MockPasswordHasher::new()),
            users,
            clock: Arc::new(clock()),
            issuer: "Tollgate".into(),
        });
        LoginFlow::new(
            Arc::new(auth),
            Arc::new(two_factor),
            kv,
            Arc::new(secrets()),
            PendingLoginPolicy::default(),
        )
    }

    /// Every web session the flow opens.
    fn sessions_opened(mut self, times: usize) -> Self {
        self.sessions
            .expect_create()
            .times(times)
            .returning(|_| Ok(SessionId::new(11)));
        self
    }
}

fn input() -> LoginInput {
    LoginInput {
        login: "alice".into(),
        password: "password1".into(),
        ip: Some("127.0.0.1".into()),
        user_agent: None,
    }
}

#[tokio::test]
async fn without_2fa_the_password_opens_the_session() {
    let kv = Arc::new(MapStore::default());
    let flow = Mocks::new(false).sessions_opened(1).flow(kv.clone());
    match flow.login(input()).await.unwrap() {
        LoginStep::Done(outcome) => assert_eq!(outcome.session_token, "plain-token"),
        LoginStep::SecondFactor { .. } => panic!("no second factor expected"),
    }
    assert!(kv.keys().is_empty());
}

#[tokio::test]
async fn with_2fa_the_password_opens_nothing_and_the_store_never_holds_the_challenge() {
    let kv = Arc::new(MapStore::default());
    let flow = Mocks::new(true).sessions_opened(0).flow(kv.clone());
    let LoginStep::SecondFactor { challenge } = flow.login(input()).await.unwrap() else {
        panic!("a second factor is required");
    };
    assert_eq!(challenge, CHALLENGE);
    let keys = kv.keys();
    assert_eq!(keys.len(), 1);
    let (key, value) = &keys[0];
    assert_eq!(key, "2fa:pending:h(plain-token)");
    assert!(!value.contains(CHALLENGE), "{value}");
    // A wrong password is the login's refusal, and leaves nothing pending.
    let kv = Arc::new(MapStore::default());
    let flow = Mocks::new(true).sessions_opened(0).flow(kv.clone());
    let wrong = LoginInput {
        password: "nope".into(),
        ..input()
    };
    assert!(matches!(
        flow.login(wrong).await,
        Err(LoginError::InvalidCredentials)
    ));
    assert!(kv.keys().is_empty());
}

#[tokio::test]
async fn the_code_opens_one_session_and_the_pending_login_is_spent() {
    let kv = Arc::new(MapStore::default());
    let flow = Mocks::new(true).sessions_opened(1).flow(kv.clone());
    let LoginStep::SecondFactor { challenge } = flow.login(input()).await.unwrap() else {
        panic!("a second factor is required");
    };
    assert!(matches!(
        flow.complete(&challenge, "", &input()).await,
        Err(SecondFactorLoginError::MissingCode)
    ));
    let outcome = flow
        .complete(&challenge, "123 456", &input())
        .await
        .unwrap();
    assert_eq!(outcome.user.id, UserId::new(ALICE));
    assert!(kv.keys().is_empty(), "nothing left behind: {:?}", kv.keys());
    assert!(matches!(
        flow.complete(&challenge, "123456", &input()).await,
        Err(SecondFactorLoginError::Expired)
    ));
}

#[tokio::test]
async fn five_wrong_codes_end_the_pending_login_before_a_sixth_is_checked() {
    let kv = Arc::new(MapStore::default());
    let mut m = Mocks::new(true);
    // The engine sees exactly five codes.
    m.engine = MockTotpEngine::new();
    m.engine
        .expect_verify()
        .times(5)
        .returning(|_, _, _| Ok(None));
    let flow = m.sessions_opened(0).flow(kv.clone());
    let LoginStep::SecondFactor { challenge } = flow.login(input()).await.unwrap() else {
        panic!("a second factor is required");
    };
    for _ in 0..5 {
        assert!(matches!(
            flow.complete(&challenge, "000000", &input()).await,
            Err(SecondFactorLoginError::Code(TwoFactorError::WrongCode))
        ));
    }
    assert!(kv.keys().is_empty(), "{:?}", kv.keys());
    assert!(matches!(
        flow.complete(&challenge, "123456", &input()).await,
        Err(SecondFactorLoginError::Expired)
    ));
}

#[tokio::test]
async fn a_challenge_belongs_to_the_surface_that_started_it() {
    let kv = Arc::new(MapStore::default());
    let flow = Mocks::new(true).sessions_opened(0).flow(kv.clone());
    let LoginStep::SecondFactor { challenge } = flow.login(input()).await.unwrap() else {
        panic!("a second factor is required");
    };
    assert!(matches!(
        flow.complete_api(&challenge, "123456", &input()).await,
        Err(SecondFactorLoginError::Expired)
    ));
    assert!(matches!(
        flow.complete_api("", "123456", &input()).await,
        Err(SecondFactorLoginError::Expired)
    ));
}
