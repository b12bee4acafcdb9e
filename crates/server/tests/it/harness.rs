//! An in-process keyfleet (the real router, real stores) driven with `oneshot` requests.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use keyfleet_core::Ctx;
use keyfleet_core::access::Principal;
use keyfleet_core::clients::tokens::TokenKeys;
use keyfleet_domain::audit::{Actor, AuditQuery};
use keyfleet_domain::time::{Clock, ManualClock};
use keyfleet_server::config::{Overrides, Settings};
use keyfleet_server::state::AppState;
use keyfleet_store_tests::postgres::{ThrowawayDb, throwaway_postgres};
use serde_json::Value;
use tower::ServiceExt as _;

pub const ORIGIN: &str = "http://localhost:8080";
pub const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub state: AppState,
    router: Router,
    _db: Option<ThrowawayDb>,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts a problem document with this status and code.
    pub fn problem(&self, status: StatusCode, code: &str) -> Value {
        assert_eq!(self.status, status, "body: {}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.headers[header::CONTENT_TYPE], "application/problem+json");
        let v = self.json();
        assert_eq!(v["code"], code, "{v}");
        assert_eq!(v["status"], status.as_u16());
        v
    }

    /// The session cookie's `name=value`, from Set-Cookie.
    pub fn cookie(&self) -> String {
        let sc = self
            .headers
            .get(header::SET_COOKIE)
            .expect("Set-Cookie")
            .to_str()
            .unwrap();
        sc.split(';').next().unwrap().to_owned()
    }
}

impl TestApp {
    pub async fn new(backend: Backend, env: &[(&str, &str)]) -> Self {
        Self::with_clock(backend, env, None).await
    }

    /// The same, with a clock the test moves (`ManualClock::advance`).
    pub async fn with_clock(backend: Backend, env: &[(&str, &str)], clock: Option<Arc<ManualClock>>) -> Self {
        let (url, db) = match backend {
            Backend::Sqlite => ("sqlite::memory:".to_owned(), None),
            Backend::Postgres => {
                let (url, db) = throwaway_postgres().await;
                (url, Some(db))
            }
        };
        Self::on_url(url, db, env, clock).await
    }

    /// A keyfleet on the database at `url` (kept alive by `db`, if it is a throwaway one).
    pub async fn on_url(
        url: String,
        db: Option<ThrowawayDb>,
        env: &[(&str, &str)],
        clock: Option<Arc<ManualClock>>,
    ) -> Self {
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        vars.insert("KEYFLEET_MASTER_KEY".into(), MASTER_KEY.into());
        // Every test request comes from one address; the refusal tests make dozens of failed
        // sign-ins in a row. The limit's own tests set it low again.
        vars.insert("KEYFLEET_SIGNIN_FAILURES_PER_ADDRESS".into(), "100000".into());
        for (k, v) in env {
            vars.insert((*k).into(), (*v).into());
        }
        let settings = Settings::resolve(
            &Overrides {
                database_url: Some(url),
                ..Default::default()
            },
            &vars,
        )
        .unwrap();
        let mut state = keyfleet_server::serve::state(settings).await.unwrap();
        if let Some(clock) = clock {
            state.parts_mut().expect("the state is not shared yet").core.clock = clock as Arc<dyn Clock>;
        }
        let router = keyfleet_server::app::app(state.clone());
        Self { state, router, _db: db }
    }

    pub async fn send(&self, req: Request<Body>) -> Resp {
        self.send_from(req, "127.0.0.1:40000").await
    }

    pub async fn send_from(&self, mut req: Request<Body>, peer: &str) -> Resp {
        req.extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        Resp { status, headers, body }
    }

    pub async fn call(&self, method: Method, path: &str, auth: Auth<'_>, body: Option<Value>) -> Resp {
        self.send(request(method, path, auth, body)).await
    }

    /// A service context acting as the local CLI would.
    pub fn system(&self) -> Ctx<'_> {
        self.state.core.ctx(Actor::System, None)
    }

    pub async fn audit_count(&self) -> usize {
        self.state
            .stores
            .audit
            .list(&AuditQuery {
                limit: 100_000,
                ..Default::default()
            })
            .await
            .unwrap()
            .len()
    }

    pub async fn user_count(&self) -> u64 {
        self.state.stores.users.count_users().await.unwrap()
    }

    pub fn keys(&self) -> Arc<TokenKeys> {
        self.state.core.tokens.clone()
    }
}

/// How a request authenticates.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    None,
    /// A session cookie, sent with the right Origin on writes.
    Cookie(&'a str),
    /// A session cookie without any Origin header.
    CookieNoOrigin(&'a str),
    Bearer(&'a str),
}

pub fn request(method: Method, path: &str, auth: Auth<'_>, body: Option<Value>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path);
    match auth {
        Auth::None => {}
        Auth::Cookie(c) => b = b.header(header::COOKIE, c).header(header::ORIGIN, ORIGIN),
        Auth::CookieNoOrigin(c) => b = b.header(header::COOKIE, c),
        Auth::Bearer(t) => b = b.header(header::AUTHORIZATION, format!("Bearer {t}")),
    }
    match body {
        Some(v) => b
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(v.to_string()))
            .unwrap(),
        None => b.body(Body::empty()).unwrap(),
    }
}

/// Runs an async test body against both stores.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::harness::Backend::Sqlite).await
                }
                #[tokio::test]
                async fn postgres() {
                    super::$name($crate::harness::Backend::Postgres).await
                }
            }
        )*
    };
}

impl TestApp {
    /// Creates a user as the CLI would.
    pub async fn user(&self, username: &str, role: keyfleet_domain::user::Role) -> keyfleet_domain::user::User {
        use keyfleet_core::identity::users::{CreateUser, create};
        let input = CreateUser {
            username: username.into(),
            display_name: format!("{username} Example"),
            email: format!("{username}@example.com"),
            manager_email: None,
            shipping_address: None,
            role: Some(role),
        };
        create(&self.system(), &Principal::System, input).await.unwrap()
    }

    /// Issues a TAP as the CLI would; returns the code.
    pub async fn tap(&self, user: keyfleet_domain::UserId, one_time: bool) -> String {
        use keyfleet_core::identity::taps::issue;
        issue(&self.system(), &Principal::System, user, 60, one_time)
            .await
            .unwrap()
            .code
    }

    pub async fn tap_sign_in(&self, username: &str, code: &str) -> Resp {
        self.call(
            Method::POST,
            "/api/v1/auth/tap",
            Auth::None,
            Some(serde_json::json!({ "username": username, "code": code })),
        )
        .await
    }

    /// A worker signed in with a TAP: (user, cookie).
    pub async fn tap_session(&self, username: &str) -> (keyfleet_domain::user::User, String) {
        let user = self.user(username, keyfleet_domain::user::Role::Worker).await;
        let code = self.tap(user.id, true).await;
        let r = self.tap_sign_in(username, &code).await;
        assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
        (user, r.cookie())
    }

    /// A full session for a user (as a security-key sign-in will open), straight in the store.
    pub async fn full_session(&self, user: &keyfleet_domain::user::User) -> String {
        use keyfleet_domain::session::{SessionKind, SessionLifetimes, open};
        let l = SessionLifetimes {
            idle: std::time::Duration::from_secs(600),
            absolute: std::time::Duration::from_secs(3600),
        };
        let new = open(
            user.id,
            SessionKind::Full,
            l,
            None,
            self.state.now(),
            &mut rand_core::OsRng,
        );
        let audit = self.system().audit(keyfleet_domain::audit::Action::AuthWebauthn, None);
        self.state
            .stores
            .sessions
            .create_session(&new.session, &audit)
            .await
            .unwrap();
        format!("{}={}", keyfleet_domain::session::COOKIE_NAME, new.token)
    }

    /// Creates an API client with these scopes; returns (client_id, secret).
    pub async fn client(&self, scopes: &[&str]) -> (String, String) {
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        let c = keyfleet_core::clients::create(&self.system(), &Principal::System, "test client", &scopes)
            .await
            .unwrap();
        (c.client.client_id, c.secret)
    }

    /// Gets an access token with client_secret_post.
    pub async fn token(&self, client_id: &str, secret: &str, scope: Option<&str>) -> Resp {
        let mut form = format!("grant_type=client_credentials&client_id={client_id}&client_secret={secret}");
        if let Some(s) = scope {
            form.push_str(&format!("&scope={}", s.replace(' ', "+")));
        }
        let req = Request::builder()
            .method(Method::POST)
            .uri("/oauth2/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap();
        self.send(req).await
    }

    /// A bearer token for a new client with these scopes.
    pub async fn bearer(&self, scopes: &[&str]) -> String {
        let (id, secret) = self.client(scopes).await;
        let r = self.token(&id, &secret, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
        r.json()["access_token"].as_str().unwrap().to_owned()
    }
}
