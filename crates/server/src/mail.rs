//! The SMTP client of the mail outbox ([`keyfleet_core::mail::MailSender`]), with lettre's
//! async connection on tokio and rustls (docs/mail.md).
//!
//! One connection per message, driven step by step so that how far it got is known when it
//! fails: a failure before the message's data is handed over (connect, TLS, AUTH, MAIL,
//! RCPT, DATA) or a 4xx/5xx reply to the data is a refusal (not delivered, retried); a
//! connection lost or no reply within [`TIMEOUT`] after the data was handed over is
//! uncertain. Every step has its own timeout, so a server that stops answering holds no
//! message longer than that.
//!
//! `smtp_url`: `smtp://[user@]host[:port]` (STARTTLS when the server offers it; without it,
//! no password is sent), `smtp+starttls://…` (STARTTLS required; port 587 by default),
//! `smtps://…` (implicit TLS; port 465). The password is the `smtp_password` secret setting.

use std::path::Path;
use std::time::Duration;

use keyfleet_core::mail::{MailSender, Outgoing, Sent};
use lettre::Address;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, CertificateStore, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::ClientId;

/// How long one connection attempt, and each reply, may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The header that carries a message's idempotency key (its outbox id).
pub const ID_HEADER: &str = "X-Keyfleet-Mail-Id";

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtp://`: STARTTLS when offered; no password without it.
    Opportunistic,
    /// `smtp+starttls://`: STARTTLS or nothing.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Implicit,
}

/// A parsed `smtp_url` (never holds a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    /// How the connection is protected.
    pub security: Security,
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// User to authenticate as (with the `smtp_password` secret setting).
    pub user: Option<String>,
}

impl SmtpUrl {
    /// Parses `smtp_url`; the error says what is wrong. A password in the URL is refused: it
    /// belongs in the database, sealed (`keyfleet admin set-secret --name smtp_password`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let url =
            url::Url::parse(text.trim()).map_err(|_| "expected smtp://, smtp+starttls:// or smtps:// HOST[:PORT]")?;
        let (security, default_port) = match url.scheme() {
            "smtp" => (Security::Opportunistic, 25),
            "smtp+starttls" => (Security::StartTls, 587),
            "smtps" => (Security::Implicit, 465),
            _ => return Err("expected smtp://, smtp+starttls:// or smtps:// HOST[:PORT]".to_owned()),
        };
        if url.password().is_some() {
            return Err(
                "must not hold the password: set it with `keyfleet admin set-secret --name smtp_password` (stored encrypted)"
                    .to_owned(),
            );
        }
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or("expected a host")?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        if url.path().len() > 1 || url.query().is_some() {
            return Err("expected no path or query after HOST[:PORT]".to_owned());
        }
        let user = (!url.username().is_empty())
            .then(|| percent_decode(url.username()))
            .transpose()?;
        Ok(SmtpUrl {
            security,
            host,
            port: url.port().unwrap_or(default_port),
            user,
        })
    }

    /// The URL as shown in listings (no secret in it).
    pub fn display(&self) -> String {
        let scheme = match self.security {
            Security::Opportunistic => "smtp",
            Security::StartTls => "smtp+starttls",
            Security::Implicit => "smtps",
        };
        let user = self.user.as_ref().map(|u| format!("{u}@")).unwrap_or_default();
        format!("{scheme}://{user}{}:{}", self.host, self.port)
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).map_err(|_| "bad percent-encoding in the user")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "bad percent-encoding in the user")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the user is not UTF-8".to_owned())
}

/// The idempotency-key header.
#[derive(Debug, Clone)]
struct MailId(String);

impl Header for MailId {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str(ID_HEADER)
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// Sends the outbox's messages to one SMTP server.
pub struct SmtpSender {
    url: SmtpUrl,
    from: Mailbox,
    /// Extra trusted roots (`smtp_ca_file`); with them, only they are trusted.
    roots: Vec<Certificate>,
    hello: ClientId,
}

impl std::fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSender")
            .field("url", &self.url.display())
            .finish_non_exhaustive()
    }
}

impl SmtpSender {
    /// A sender to `url` from `from`, trusting the PEM certificates of `ca_file` (else the
    /// system's roots).
    pub fn new(url: SmtpUrl, from: &str, ca_file: Option<&Path>) -> anyhow::Result<Self> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| anyhow::anyhow!("mail_from {from:?} is not an address: {e}"))?;
        let mut roots = Vec::new();
        if let Some(path) = ca_file {
            let pem = std::fs::read(path).map_err(|e| anyhow::anyhow!("smtp_ca_file {}: {e}", path.display()))?;
            let text = String::from_utf8_lossy(&pem);
            for block in text.split_inclusive("-----END CERTIFICATE-----") {
                if block.contains("-----BEGIN CERTIFICATE-----") {
                    roots.push(
                        Certificate::from_pem(block.trim_start().as_bytes())
                            .map_err(|e| anyhow::anyhow!("smtp_ca_file {}: {e}", path.display()))?,
                    );
                }
            }
            if roots.is_empty() {
                anyhow::bail!("smtp_ca_file {}: no certificate in it", path.display());
            }
        }
        Ok(Self {
            url,
            from,
            roots,
            hello: ClientId::default(),
        })
    }

    fn tls(&self) -> Result<TlsParameters, String> {
        let mut b = TlsParameters::builder(self.url.host.clone());
        if !self.roots.is_empty() {
            b = b.certificate_store(CertificateStore::None);
            for r in &self.roots {
                b = b.add_root_certificate(r.clone());
            }
        }
        b.build_rustls().map_err(|e| format!("TLS setup: {e}"))
    }

    /// The message as sent: Message-ID `<id@domain of mail_from>` and the id header.
    fn message(&self, mail: &Outgoing<'_>) -> Result<Message, String> {
        let mut b = Message::builder()
            .from(self.from.clone())
            .subject(mail.subject)
            .message_id(Some(format!("<{}@{}>", mail.id, self.from.email.domain())))
            .header(MailId(mail.id.to_owned()))
            .header(lettre::message::header::ContentType::TEXT_PLAIN);
        for r in mail.recipients {
            let to: Mailbox = r.parse().map_err(|_| format!("recipient {r:?} is not an address"))?;
            b = b.to(to);
        }
        b.body(mail.body.to_owned())
            .map_err(|e| format!("the message cannot be built: {e}"))
    }

    async fn transaction(&self, mail: &Outgoing<'_>) -> Sent {
        let message = match self.message(mail) {
            Ok(m) => m,
            Err(e) => return Sent::Refused(e),
        };
        let tls = match self.tls() {
            Ok(t) => t,
            Err(e) => return Sent::Refused(e),
        };
        let implicit = (self.url.security == Security::Implicit).then(|| tls.clone());
        let connect = AsyncSmtpConnection::connect_tokio1(
            (self.url.host.as_str(), self.url.port),
            Some(TIMEOUT),
            &self.hello,
            implicit,
            None,
        );
        let mut conn = match tokio::time::timeout(TIMEOUT, connect).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Sent::Refused(format!("cannot connect to {}: {e}", self.url.display())),
            Err(_) => {
                return Sent::Refused(format!(
                    "cannot connect to {}: no greeting within {} s",
                    self.url.display(),
                    TIMEOUT.as_secs()
                ));
            }
        };
        let result = self.send_on(&mut conn, mail, &message, tls).await;
        // Saying goodbye is a courtesy: the outcome is known already.
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            if matches!(result, Sent::Accepted) {
                let _ = conn.quit().await;
            } else {
                conn.abort().await;
            }
        })
        .await;
        result
    }

    async fn send_on(
        &self,
        conn: &mut AsyncSmtpConnection,
        mail: &Outgoing<'_>,
        message: &Message,
        tls: TlsParameters,
    ) -> Sent {
        // Each step before the data is handed over: an error or no reply within TIMEOUT is
        // a refusal (nothing was delivered).
        async fn step<T>(
            name: &str,
            fut: impl std::future::Future<Output = Result<T, lettre::transport::smtp::Error>>,
        ) -> Result<T, Sent> {
            match tokio::time::timeout(TIMEOUT, fut).await {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => Err(Sent::Refused(format!("{name}: {e}"))),
                Err(_) => Err(Sent::Refused(format!(
                    "{name}: no reply within {} s",
                    TIMEOUT.as_secs()
                ))),
            }
        }
        if self.url.security != Security::Implicit {
            if conn.can_starttls() {
                if let Err(s) = step("STARTTLS", conn.starttls(tls, &self.hello)).await {
                    return s;
                }
            } else if self.url.security == Security::StartTls {
                return Sent::Refused("the server does not offer STARTTLS, which smtp+starttls:// requires".to_owned());
            }
        }
        if let Some(user) = &self.url.user {
            if !conn.is_encrypted() {
                return Sent::Refused("the server offers no TLS: the password is not sent in the clear".to_owned());
            }
            let Some(password) = mail.password else {
                return Sent::Refused("smtp_url names a user but the smtp_password secret is not set".to_owned());
            };
            let creds = Credentials::new(user.clone(), password.to_owned());
            if let Err(s) = step("AUTH", conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds)).await {
                return s;
            }
        }
        let envelope = message.envelope();
        if let Err(s) = step("MAIL FROM", conn.command(Mail::new(envelope.from().cloned(), vec![]))).await {
            return s;
        }
        for to in envelope.to() {
            let to: Address = to.clone();
            if let Err(s) = step("RCPT TO", conn.command(Rcpt::new(to, vec![]))).await {
                return s;
            }
        }
        if let Err(s) = step("DATA", conn.command(Data)).await {
            return s;
        }
        // From here on the server may hold the message: only a 4xx/5xx reply says it does not.
        match tokio::time::timeout(TIMEOUT, conn.message(&message.formatted())).await {
            Ok(Ok(_)) => Sent::Accepted,
            Ok(Err(e)) if e.status().is_some() => Sent::Refused(format!("the message: {e}")),
            Ok(Err(e)) => Sent::Uncertain(format!("no reply after the message was handed over: {e}")),
            Err(_) => Sent::Uncertain(format!(
                "no reply within {} s after the message was handed over",
                TIMEOUT.as_secs()
            )),
        }
    }
}

#[async_trait::async_trait]
impl MailSender for SmtpSender {
    async fn send(&self, mail: &Outgoing<'_>) -> Sent {
        self.transaction(mail).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls() {
        let u = SmtpUrl::parse("smtp://mail.example.com").unwrap();
        assert_eq!((u.security, u.port, u.user), (Security::Opportunistic, 25, None));
        let u = SmtpUrl::parse("smtp+starttls://keyfleet%40corp@mail.example.com").unwrap();
        assert_eq!((u.security, u.port), (Security::StartTls, 587));
        assert_eq!(u.user.as_deref(), Some("keyfleet@corp"));
        let u = SmtpUrl::parse("smtps://[::1]:2465").unwrap();
        assert_eq!((u.security, u.host.as_str(), u.port), (Security::Implicit, "::1", 2465));
        assert!(SmtpUrl::parse("smtp://u:secret@h").unwrap_err().contains("set-secret"));
        assert!(SmtpUrl::parse("http://h").is_err());
        assert!(SmtpUrl::parse("smtp://h/path").is_err());
        assert_eq!(SmtpUrl::parse("smtps://a@h").unwrap().display(), "smtps://a@h:465");
    }
}
