//! The mail outbox sent to a real SMTP server (aiosmtpd, started by each test: scripts/
//! aiosmtpd.sh installs it): STARTTLS with AUTH, implicit TLS, refusals then acceptance, the
//! server down then up, a process stopping between the SMTP transaction and its record, a
//! connection lost after the data, and a master-key rotation while messages wait. Every
//! test's logs are checked for the PIN. Both stores.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyfleet_core::access::Principal;
use keyfleet_core::mail::{self, MailRun, MailStep};
use keyfleet_domain::keyring::MAIL_BODIES;
use keyfleet_domain::mail::{MailKind, NewMail};
use keyfleet_domain::outbox::MailState;
use keyfleet_domain::shipment::{Shipment, ShipmentId, ShipmentState};
use keyfleet_domain::time::{Clock as _, ManualClock};
use keyfleet_server::mail::{SmtpSender, SmtpUrl};

use crate::harness::{Backend, TestApp};
use crate::webauthn_kit::audit_actions;

const PIN: &str = "PIN-738215";

/// A Python with aiosmtpd: `KEYFLEET_TEST_SMTPD_PYTHON`, else what scripts/aiosmtpd.sh
/// installs (once).
fn smtpd_python() -> String {
    if let Ok(p) = std::env::var("KEYFLEET_TEST_SMTPD_PYTHON") {
        return p;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("bash")
        .arg(root.join("scripts/aiosmtpd.sh"))
        .output()
        .expect("run scripts/aiosmtpd.sh");
    assert!(
        out.status.success(),
        "scripts/aiosmtpd.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A running aiosmtpd; stopped when dropped.
struct Smtpd {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Smtpd {
    fn start(dir: &Path, port: u16, args: &[&str]) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/smtp/smtpd.py");
        let mut child = Command::new(smtpd_python())
            .arg(script)
            .arg("--dir")
            .arg(dir)
            .args(["--port", &port.to_string()])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start aiosmtpd");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("aiosmtpd did not start: {line:?}"));
        Smtpd {
            child,
            dir: dir.to_owned(),
            port,
        }
    }

    /// The messages it accepted, in order.
    fn messages(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
    }

    fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "keyfleet-mail-{name}-{}-{}",
        std::process::id(),
        rand_core::RngCore::next_u64(&mut rand_core::OsRng)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Everything logged on this test's thread (the tests run on tokio's current-thread
/// runtime), at every level.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        tracing::info!("log capture starts");
        (logs, guard)
    }

    fn assert_clean(&self) {
        let text = String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned();
        assert!(text.contains("log capture starts"), "the capture works");
        assert!(!text.contains(PIN), "a PIN in the logs:\n{text}");
        assert!(!text.contains("s3cret-pass"), "the SMTP password in the logs");
    }
}

struct Env {
    app: TestApp,
    clock: Arc<ManualClock>,
}

impl Env {
    async fn new(b: Backend) -> Self {
        let clock = Arc::new(ManualClock::new(keyfleet_server::state::now()));
        let app = TestApp::with_clock(b, &[], Some(clock.clone())).await;
        Env { app, clock }
    }

    /// A registered shipment of a new user.
    async fn shipment(&self, username: &str) -> ShipmentId {
        let user = self.app.user(username, keyfleet_domain::user::Role::Worker).await;
        let s = Shipment::placed(
            ShipmentId::new_random(&mut rand_core::OsRng),
            user.id,
            "nfc-key".into(),
            ShipmentState::Registered,
            None,
            self.clock.now(),
        );
        let ctx = self.app.system();
        self.app
            .state
            .stores
            .shipments
            .create_shipment(&s, &ctx.audit(keyfleet_domain::audit::Action::ShipmentOrder, None))
            .await
            .unwrap();
        s.id
    }

    /// Queues a PIN mail as the connector does: body sealed under the master key with the
    /// row's AAD.
    async fn queue(&self, shipment: Option<ShipmentId>) -> String {
        let id = format!(
            "{:016x}{:016x}",
            rand_core::RngCore::next_u64(&mut rand_core::OsRng),
            rand_core::RngCore::next_u64(&mut rand_core::OsRng)
        );
        let body = format!("Your new security key is on its way.\nIts PIN: {PIN}\n");
        let mail = NewMail {
            id: id.clone(),
            shipment_id: shipment,
            kind: MailKind::ShipmentPin,
            recipients: vec!["alice@example.com".into(), "manager@example.com".into()],
            subject: "Your security key's PIN".into(),
            body_sealed: self.app.state.master.encrypt(body.as_bytes(), &MAIL_BODIES.aad(&id)),
            created_at: self.clock.now(),
        };
        self.app.state.stores.mail.enqueue_mail(&mail, None).await.unwrap();
        id
    }

    async fn set_password(&self, password: &str) {
        keyfleet_core::keyring::set_secret(
            &self.app.system(),
            &Principal::System,
            &self.app.state.master,
            "smtp_password",
            Some(password),
        )
        .await
        .unwrap();
    }

    async fn run(&self, sender: &SmtpSender, holder: &str, stop_after: Option<MailStep>) -> Vec<(&'static str, u64)> {
        self.run_with(&self.app.state.master, sender, holder, stop_after).await
    }

    async fn run_with(
        &self,
        master: &keyfleet_core::secrets::MasterKey,
        sender: &SmtpSender,
        holder: &str,
        stop_after: Option<MailStep>,
    ) -> Vec<(&'static str, u64)> {
        let run = MailRun {
            sender,
            master,
            holder,
            alarm_after: 2,
            stop_after,
        };
        mail::deliver_due(&self.app.system(), &run).await.unwrap()
    }

    async fn state(&self, id: &str) -> (MailState, u32, Option<String>) {
        let m = self.app.state.stores.mail.get_mail(id).await.unwrap().unwrap();
        (m.state, m.attempts, m.last_error)
    }
}

fn sender(url: &str, ca: Option<&Path>) -> SmtpSender {
    SmtpSender::new(SmtpUrl::parse(url).unwrap(), "keyfleet@example.com", ca).unwrap()
}

async fn starttls_with_auth_delivers_once(b: Backend) {
    let (logs, _guard) = Logs::capture();
    let env = Env::new(b).await;
    let server = Smtpd::start(
        &temp_dir("starttls"),
        0,
        &["--tls", "starttls", "--auth", "keyfleet:s3cret-pass"],
    );
    let smtp = sender(
        &format!("smtp+starttls://keyfleet@localhost:{}", server.port),
        Some(&server.ca()),
    );
    let shipment = env.shipment("alice").await;
    let id = env.queue(Some(shipment)).await;

    // No password yet: refused before anything is handed over, retried later.
    let counts = env.run(&smtp, "p1", None).await;
    assert_eq!(counts, vec![("mailRetried", 1)]);
    let (state, attempts, error) = env.state(&id).await;
    assert_eq!((state, attempts), (MailState::Pending, 1));
    assert!(error.unwrap().contains("smtp_password"));
    // A wrong one: the server refuses AUTH.
    env.set_password("wrong").await;
    env.clock.advance(mail::retry_delay(1));
    env.run(&smtp, "p1", None).await;
    let (state, attempts, error) = env.state(&id).await;
    assert_eq!((state, attempts), (MailState::Pending, 2));
    assert!(error.as_deref().unwrap().contains("AUTH"), "{error:?}");
    assert!(!error.unwrap().contains(PIN));
    assert!(server.messages().is_empty());
    // The second failure raised the alarm (alarm_after = 2), once.
    assert_eq!(audit_actions(&env.app, "mail.alarm").await.len(), 1);
    let status = mail::status(&env.app.system(), &Principal::System, 2).await.unwrap();
    assert_eq!((status.pending, status.failing), (1, 1));

    env.set_password("s3cret-pass").await;
    env.clock.advance(mail::retry_delay(2));
    assert_eq!(env.run(&smtp, "p1", None).await, vec![("mailSent", 1)]);
    let got = server.messages();
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert!(m.contains(&format!("Message-ID: <{id}@example.com>")), "{m}");
    assert!(m.contains(&format!("X-Keyfleet-Mail-Id: {id}")), "{m}");
    assert!(m.contains(PIN));
    assert!(m.contains("alice@example.com") && m.contains("manager@example.com"));
    let row = env.app.state.stores.mail.get_mail(&id).await.unwrap().unwrap();
    assert_eq!(row.state, MailState::Sent);
    assert!(
        row.body_sealed.is_empty(),
        "the PIN is not kept in the outbox once sent"
    );
    let s = env
        .app
        .state
        .stores
        .shipments
        .get_shipment(shipment)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.state, ShipmentState::PinSent);
    assert_eq!(audit_actions(&env.app, "mail.sent").await.len(), 1);
    // Nothing more is sent, however often the job runs.
    env.clock.advance(Duration::from_secs(3600));
    assert!(env.run(&smtp, "p2", None).await.is_empty());
    assert_eq!(server.messages().len(), 1);
    logs.assert_clean();
}

async fn implicit_tls_delivers(b: Backend) {
    let (logs, _guard) = Logs::capture();
    let env = Env::new(b).await;
    let server = Smtpd::start(
        &temp_dir("smtps"),
        0,
        &["--tls", "implicit", "--auth", "keyfleet:s3cret-pass"],
    );
    env.set_password("s3cret-pass").await;
    let id = env.queue(None).await;
    // Not trusting the test CA: the TLS handshake fails, a refusal.
    let untrusting = sender(&format!("smtps://keyfleet@localhost:{}", server.port), None);
    assert_eq!(env.run(&untrusting, "p1", None).await, vec![("mailRetried", 1)]);
    assert!(server.messages().is_empty());
    env.clock.advance(mail::retry_delay(1));
    let smtp = sender(
        &format!("smtps://keyfleet@localhost:{}", server.port),
        Some(&server.ca()),
    );
    assert_eq!(env.run(&smtp, "p1", None).await, vec![("mailSent", 1)]);
    assert_eq!(server.messages().len(), 1);
    assert_eq!(env.state(&id).await.0, MailState::Sent);
    logs.assert_clean();
}

async fn refusing_then_accepting(b: Backend) {
    let (logs, _guard) = Logs::capture();
    let env = Env::new(b).await;
    let server = Smtpd::start(&temp_dir("refuse"), 0, &["--refuse", "2"]);
    let smtp = sender(&format!("smtp://localhost:{}", server.port), None);
    let id = env.queue(None).await;
    env.run(&smtp, "p1", None).await;
    let (state, attempts, error) = env.state(&id).await;
    assert_eq!((state, attempts), (MailState::Pending, 1));
    assert!(error.unwrap().contains("451"));
    // Not due again before the backoff.
    assert!(env.run(&smtp, "p1", None).await.is_empty());
    env.clock.advance(mail::retry_delay(1));
    env.run(&smtp, "p1", None).await;
    assert_eq!(env.state(&id).await.1, 2);
    env.clock.advance(mail::retry_delay(2));
    assert_eq!(env.run(&smtp, "p1", None).await, vec![("mailSent", 1)]);
    assert_eq!(server.messages().len(), 1, "refused twice, then one message");
    logs.assert_clean();
}

async fn down_then_up(b: Backend) {
    let (logs, _guard) = Logs::capture();
    let env = Env::new(b).await;
    let port = free_port();
    let smtp = sender(&format!("smtp://localhost:{port}"), None);
    let ids = [env.queue(None).await, env.queue(None).await];
    for attempt in 1..=3 {
        let counts = env.run(&smtp, "p1", None).await;
        assert_eq!(counts[0], ("mailRetried", 2), "attempt {attempt}");
        env.clock.advance(mail::retry_delay(attempt));
    }
    let (state, attempts, error) = env.state(&ids[0]).await;
    assert_eq!((state, attempts), (MailState::Pending, 3));
    assert!(error.unwrap().contains("cannot connect"));
    // The alarm went off once, when both reached two failures.
    let alarms = audit_actions(&env.app, "mail.alarm").await;
    assert_eq!(alarms.len(), 1);
    assert!(alarms[0].detail.as_deref().unwrap().contains("\"messages\":2"));
    let server = Smtpd::start(&temp_dir("down-up"), port, &[]);
    assert_eq!(env.run(&smtp, "p1", None).await, vec![("mailSent", 2)]);
    assert_eq!(server.messages().len(), 2);
    let status = mail::status(&env.app.system(), &Principal::System, 2).await.unwrap();
    assert_eq!((status.sent, status.pending, status.failing), (2, 0, 0));
    logs.assert_clean();
}

/// The process stops after the SMTP server accepted the message and before the outcome is
/// recorded (the test hook): the row stays `sending` under the dead process's lease; once the
/// lease has passed it becomes `uncertain`, and nothing sends it again until an
/// administrator asks. The same when it stops before the SMTP transaction.
async fn stopped_between_sending_and_recording(b: Backend) {
    let (logs, _guard) = Logs::capture();
    let env = Env::new(b).await;
    let server = Smtpd::start(&temp_dir("stop"), 0, &[]);
    let smtp = sender(&format!("smtp://localhost:{}", server.port), None);
    let shipment = env.shipment("bob").await;
    let id = env.queue(Some(shipment)).await;
    env.run(&smtp, "dead", Some(MailStep::Sent)).await;
    assert_eq!(server.messages().len(), 1);
    assert_eq!(env.state(&id).await.0, MailState::Sending);
    // Another process: the lease holds.
    assert!(env.run(&smtp, "alive", None).await.is_empty());
    env.clock.advance(mail::LEASE + Duration::from_secs(1));
    assert_eq!(env.run(&smtp, "alive", None).await, vec![("mailUncertain", 1)]);
    let (state, _, error) = env.state(&id).await;
    assert_eq!(state, MailState::Uncertain);
    assert!(error.unwrap().contains("stopped"));
    for _ in 0..3 {
        env.clock.advance(Duration::from_secs(3600));
        assert!(env.run(&smtp, "alive", None).await.is_empty());
    }
    assert_eq!(server.messages().len(), 1, "no duplicate");
    assert_eq!(audit_actions(&env.app, "mail.uncertain").await.len(), 1);
    assert_eq!(
        mail::status(&env.app.system(), &Principal::System, 2)
            .await
            .unwrap()
            .uncertain,
        1
    );
    // Stopped right after the claim, before any SMTP: uncertain too (nothing records how far
    // a process got).
    let early = env.queue(None).await;
    env.run(&smtp, "dead2", Some(MailStep::Claimed)).await;
    env.clock.advance(mail::LEASE + Duration::from_secs(1));
    env.run(&smtp, "alive", None).await;
    assert_eq!(env.state(&early).await.0, MailState::Uncertain);
    assert_eq!(server.messages().len(), 1);
    // The administrator resends one: sent again, with the same id (same Message-ID).
    mail::requeue(&env.app.system(), &Principal::System, &id).await.unwrap();
    assert_eq!(env.run(&smtp, "alive", None).await, vec![("mailSent", 1)]);
    let got = server.messages();
    assert_eq!(got.len(), 2);
    assert!(got[1].contains(&format!("Message-ID: <{id}@example.com>")));
    assert_eq!(
        env.app
            .state
            .stores
            .shipments
            .get_shipment(shipment)
            .await
            .unwrap()
            .unwrap()
            .state,
        ShipmentState::PinSent
    );
    logs.assert_clean();
}

/// The server takes the data and drops the connection without a reply: maybe delivered, so
/// `uncertain`, and not sent again.
async fn connection_lost_after_data_is_uncertain(b: Backend) {
    let (logs, _guard) = Logs::capture();
    let env = Env::new(b).await;
    let server = Smtpd::start(&temp_dir("drop"), 0, &["--drop-after-data", "1"]);
    let smtp = sender(&format!("smtp://localhost:{}", server.port), None);
    let id = env.queue(None).await;
    assert_eq!(env.run(&smtp, "p1", None).await, vec![("mailUncertain", 1)]);
    assert_eq!(env.state(&id).await.0, MailState::Uncertain);
    env.clock.advance(Duration::from_secs(3600));
    assert!(env.run(&smtp, "p1", None).await.is_empty());
    assert_eq!(server.messages().len(), 1);
    logs.assert_clean();
}

/// Messages queued under the configured key and under a first data key; two rotations;
/// re-encryption rewrites them (and the signing key, and the SMTP password); after the
/// grace the earlier data key is retired; every message is still delivered, and another
/// process that reloads the ring reads them too.
async fn rotation_while_messages_wait(b: Backend) {
    let (logs, _guard) = Logs::capture();
    let env = Env::new(b).await;
    let server = Smtpd::start(
        &temp_dir("rotate"),
        0,
        &["--tls", "starttls", "--auth", "keyfleet:s3cret-pass"],
    );
    let smtp = sender(
        &format!("smtp+starttls://keyfleet@localhost:{}", server.port),
        Some(&server.ca()),
    );
    let master = &env.app.state.master;
    let ctx = env.app.system();
    env.set_password("s3cret-pass").await;
    let mut ids = vec![env.queue(None).await, env.queue(None).await];
    assert_eq!(
        keyfleet_core::keyring::rotate(&ctx, &Principal::System, master)
            .await
            .unwrap(),
        1
    );
    assert_eq!(master.current_id(), 1);
    ids.push(env.queue(None).await);
    assert_eq!(
        keyfleet_core::keyring::rotate(&ctx, &Principal::System, master)
            .await
            .unwrap(),
        2
    );
    ids.push(env.queue(None).await);
    // Another process on the same database, with the same configured key.
    let other = keyfleet_core::secrets::MasterKey::from_base64(crate::harness::MASTER_KEY).unwrap();
    let counts = keyfleet_core::keyring::reencrypt(&ctx, master).await.unwrap();
    let rewritten = counts.iter().find(|(n, _)| *n == "secretsReencrypted").unwrap().1;
    assert!(rewritten >= 4, "3 bodies, the password, the signing key: {counts:?}");
    assert!(
        !counts.iter().any(|(n, _)| *n == "masterKeysRetired"),
        "too soon after the rotation"
    );
    let keys = env.app.state.stores.keyring.master_keys().await.unwrap();
    for k in &env
        .app
        .state
        .stores
        .keyring
        .ciphertexts(&MAIL_BODIES, None, 100)
        .await
        .unwrap()
    {
        assert_eq!(keyfleet_core::secrets::key_id(&k.1), Some(2));
    }
    // After the grace, a pass finds nothing under key 1 and retires it.
    env.clock.advance(keyfleet_core::keyring::RETIRE_GRACE);
    let counts = keyfleet_core::keyring::reencrypt(&env.app.system(), master)
        .await
        .unwrap();
    assert_eq!(counts, vec![("masterKeysRetired", 1)]);
    let after = env.app.state.stores.keyring.master_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(after[0].state, keyfleet_domain::keyring::MasterKeyState::Retired);
    assert!(after[0].wrapped.is_empty());
    assert_eq!(audit_actions(&env.app, "master_key.retire").await.len(), 1);
    other.reload(env.app.state.stores.keyring.as_ref()).await.unwrap();
    assert_eq!(other.current_id(), 2);
    // The token-signing key still loads from the rewritten row.
    env.app
        .state
        .core
        .tokens
        .reload(env.app.state.stores.signing_keys.as_ref(), &other)
        .await
        .unwrap();
    // A process that has not reloaded the ring since before the rotations (it holds key 0
    // only) meets the password and the bodies under key 2: it reloads and sends.
    let stale = keyfleet_core::secrets::MasterKey::from_base64(crate::harness::MASTER_KEY).unwrap();
    assert_eq!(stale.current_id(), 0);
    assert_eq!(env.run_with(&stale, &smtp, "p1", None).await, vec![("mailSent", 4)]);
    assert_eq!(stale.current_id(), 2);
    let got = server.messages();
    assert_eq!(got.len(), 4);
    for id in &ids {
        assert!(got.iter().any(|m| m.contains(id.as_str())));
    }
    logs.assert_clean();
}

/// Two keyfleet processes on one PostgreSQL database (each with its own pool) run the mail
/// job at the same time, several times over, on 30 due messages: each is delivered once.
#[tokio::test]
async fn two_processes_on_postgres_send_each_message_once() {
    let (logs, _guard) = Logs::capture();
    let clock = Arc::new(ManualClock::new(keyfleet_server::state::now()));
    let (url, db) = keyfleet_store_tests::postgres::throwaway_postgres().await;
    let a = Env {
        app: TestApp::on_url(url.clone(), Some(db), &[], Some(clock.clone())).await,
        clock: clock.clone(),
    };
    let b = Env {
        app: TestApp::on_url(url, None, &[], Some(clock.clone())).await,
        clock: clock.clone(),
    };
    let server = Smtpd::start(&temp_dir("two"), 0, &[]);
    let smtp = Arc::new(sender(&format!("smtp://localhost:{}", server.port), None));
    let mut ids = Vec::new();
    for i in 0..30 {
        let shipment = a.shipment(&format!("worker{i}")).await;
        ids.push(a.queue(Some(shipment)).await);
    }
    let a = Arc::new(a);
    let b = Arc::new(b);
    let mut tasks = tokio::task::JoinSet::new();
    for (n, env) in [a.clone(), b.clone(), a.clone(), b.clone()].into_iter().enumerate() {
        let smtp = smtp.clone();
        tasks.spawn(async move { env.run(&smtp, &format!("process-{n}"), None).await });
    }
    let mut sent = 0;
    while let Some(counts) = tasks.join_next().await {
        sent += counts
            .unwrap()
            .iter()
            .find(|(k, _)| *k == "mailSent")
            .map_or(0, |(_, n)| *n);
    }
    assert_eq!(sent, 30);
    let got = server.messages();
    assert_eq!(got.len(), 30, "each message once");
    for id in &ids {
        assert_eq!(got.iter().filter(|m| m.contains(&format!("<{id}@"))).count(), 1);
    }
    assert_eq!(audit_actions(&a.app, "mail.sent").await.len(), 30);
    logs.assert_clean();
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(crate::harness::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(crate::harness::Backend::Postgres).await })*
        }
    };
}

both!(
    starttls_with_auth_delivers_once,
    implicit_tls_delivers,
    refusing_then_accepting,
    down_then_up,
    stopped_between_sending_and_recording,
    connection_lost_after_data_is_uncertain,
    rotation_while_messages_wait,
);
