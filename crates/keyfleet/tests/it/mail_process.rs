//! The mail outbox end to end with the binary: `keyfleet admin set-secret` stores the SMTP
//! password, `rotate-master-key` rotates while messages wait, `keyfleet serve` sends them to
//! a real SMTP server (aiosmtpd, STARTTLS and AUTH) on its first job run, `reencrypt-secrets`
//! and `list-mail` see the result, and nothing the processes logged or printed holds the PIN
//! or the password.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keyfleet_core::secrets::MasterKey;
use keyfleet_domain::keyring::MAIL_BODIES;
use keyfleet_domain::mail::{MailKind, NewMail};
use keyfleet_domain::store::Stores;
use keyfleet_store_sqlite::SqliteStore;
use serde_json::Value;

use crate::process::{MASTER_KEY, Scratch, Server, bin};

const PIN: &str = "PIN-551903";
const PASSWORD: &str = "mail-s3cret-pass";

struct Smtpd(Child, PathBuf, u16);

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn smtpd(dir: &Path) -> Smtpd {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = std::env::var("KEYFLEET_TEST_SMTPD_PYTHON").unwrap_or_else(|_| {
        let out = Command::new("bash")
            .arg(root.join("scripts/aiosmtpd.sh"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    });
    std::fs::create_dir_all(dir).unwrap();
    let mut child = Command::new(python)
        .arg(root.join("tests/smtp/smtpd.py"))
        .arg("--dir")
        .arg(dir)
        .args(["--tls", "starttls", "--auth", &format!("keyfleet:{PASSWORD}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().strip_prefix("READY ").unwrap().parse().unwrap();
    Smtpd(child, dir.to_owned(), port)
}

fn messages(dir: &Path) -> Vec<String> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    v.sort();
    v.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
}

/// `keyfleet admin ARGS`, with `stdin` on its standard input; (stdout, stderr).
fn admin(dir: &Scratch, args: &[&str], stdin: &str) -> (String, String) {
    let mut child = Command::new(bin())
        .current_dir(&dir.0)
        .arg("admin")
        .args(args)
        .args(["--database-url", &dir.sqlite_url()])
        .env_remove("RUST_LOG")
        .env("KEYFLEET_MASTER_KEY", MASTER_KEY)
        .env("USER", "opsuser")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let (o, e) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert!(out.status.success(), "admin {args:?}: {e}");
    (o, e)
}

/// Queues `n` PIN mails as the connector does, under the ring as it is in the database now.
async fn queue(dir: &Scratch, n: usize) -> Vec<String> {
    let stores = Stores::from_store(SqliteStore::connect(&dir.sqlite_url()).await.unwrap());
    let master = MasterKey::from_base64(MASTER_KEY).unwrap();
    master.reload(stores.keyring.as_ref()).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..n {
        let id = format!("{:016x}", rand_core::RngCore::next_u64(&mut rand_core::OsRng));
        let body = format!("Your key's PIN: {PIN}\n");
        let mail = NewMail {
            id: id.clone(),
            shipment_id: None,
            kind: MailKind::ShipmentPin,
            recipients: vec!["pat@example.com".into()],
            subject: "Your security key's PIN".into(),
            body_sealed: master.encrypt(body.as_bytes(), &MAIL_BODIES.aad(&id)),
            created_at: keyfleet_domain::Timestamp::from_millis(0),
        };
        stores.mail.enqueue_mail(&mail, None).await.unwrap();
        ids.push(id);
    }
    ids
}

#[tokio::test]
async fn serve_sends_the_outbox_across_a_rotation_without_leaking_the_pin() {
    let dir = Scratch::new("mail-process");
    let smtp = smtpd(&dir.0.join("smtp"));
    let mut printed = String::new();
    // The first command migrates the database.
    let (o, e) = admin(
        &dir,
        &["set-secret", "--name", "smtp_password"],
        &format!("{PASSWORD}\n"),
    );
    printed += &(o + &e);
    let mut ids = queue(&dir, 3).await;
    let (o, e) = admin(&dir, &["rotate-master-key"], "");
    let rotated: Value = serde_json::from_str(o.trim()).unwrap();
    assert_eq!(rotated["keyId"], 1);
    printed += &(o + &e);
    ids.extend(queue(&dir, 2).await);

    let ca = dir.0.join("smtp/ca.pem");
    let url = format!("smtp+starttls://keyfleet@localhost:{}", smtp.2);
    let server = Server::start(
        &dir.0,
        &dir.sqlite_url(),
        &[
            ("KEYFLEET_SMTP_URL", url.as_str()),
            ("KEYFLEET_SMTP_CA_FILE", ca.to_str().unwrap()),
            ("KEYFLEET_MAIL_FROM", "keyfleet@example.com"),
            ("KEYFLEET_LOG_LEVEL", "debug"),
        ],
    );
    // The jobs runner's first poll is at start; wait for its messages (generous deadline).
    let deadline = Instant::now() + Duration::from_secs(120);
    while messages(&smtp.1).len() < 5 {
        assert!(
            Instant::now() < deadline,
            "not sent: {:?}",
            server.stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let got = messages(&smtp.1);
    assert_eq!(got.len(), 5);
    for id in &ids {
        assert!(
            got.iter()
                .any(|m| m.contains(&format!("Message-ID: <{id}@example.com>")))
        );
    }
    // A second rotation while the server runs; a pass rewrites the stored secrets.
    let (o, e) = admin(&dir, &["rotate-master-key"], "");
    printed += &(o + &e);
    let (o, e) = admin(&dir, &["reencrypt-secrets"], "");
    let counts: Value = serde_json::from_str(o.trim()).unwrap();
    assert!(counts["secretsReencrypted"].as_u64().unwrap() >= 2, "{counts}");
    printed += &(o + &e);
    let (o, e) = admin(&dir, &["list-mail", "--state", "sent"], "");
    let sent: Value = serde_json::from_str(o.trim()).unwrap();
    assert_eq!(sent.as_array().unwrap().len(), 5);
    printed += &(o + &e);
    let (o, e) = admin(&dir, &["master-keys"], "");
    let keys: Value = serde_json::from_str(o.trim()).unwrap();
    assert_eq!(keys[1]["state"], "current", "{keys}");
    printed += &(o + &e);
    let (stdout, stderr) = (server.stdout.clone(), server.stderr.clone());
    assert!(server.terminate().success());
    let logs = format!(
        "{}\n{}",
        stdout.lock().unwrap().join("\n"),
        stderr.lock().unwrap().join("\n")
    );
    assert!(logs.contains("mail-outbox"), "the job ran: {logs}");
    for text in [&logs, &printed] {
        assert!(!text.contains(PIN), "a PIN in the output:\n{text}");
        assert!(!text.contains(PASSWORD), "the SMTP password in the output:\n{text}");
    }
}
