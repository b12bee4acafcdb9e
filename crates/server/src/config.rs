//! Configuration: command-line flag, then `KEYFLEET_*` environment variable, then TOML file,
//! then default. Every setting is listed once, in [`SETTINGS`], with its default and meaning;
//! `docs/configuration.md` is that table in prose, and a test keeps the two in step.
//!
//! Values are validated at start; a bad value stops keyfleet with a message that names the
//! setting, where it came from and what is allowed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;

/// One setting: its name (TOML key; the environment variable is `KEYFLEET_` + upper case),
/// its default, and what it means.
pub struct SettingDoc {
    /// TOML key.
    pub key: &'static str,
    /// Default value, as text.
    pub default: &'static str,
    /// What it does.
    pub help: &'static str,
}

/// Every setting keyfleet reads.
pub const SETTINGS: &[SettingDoc] = &[
    SettingDoc {
        key: "listen",
        default: "127.0.0.1:8080",
        help: "Address and port the HTTP server binds: IP:PORT, or HOST:PORT to bind every address the host name resolves to (flag --listen).",
    },
    SettingDoc {
        key: "database_url",
        default: "sqlite://keyfleet.db",
        help: "sqlite://PATH (created and migrated on first start) or postgres://USER@HOST:PORT/DB (flag --database-url).",
    },
    SettingDoc {
        key: "rp_id",
        default: "localhost",
        help: "WebAuthn relying-party ID: a registrable domain every origin's host equals or ends with.",
    },
    SettingDoc {
        key: "rp_name",
        default: "keyfleet",
        help: "Relying-party name shown by authenticators.",
    },
    SettingDoc {
        key: "origins",
        default: "http://localhost:8080",
        help: "Comma-separated exact origins allowed in WebAuthn client data and Origin headers. http:// only for localhost. Unset, with rp_id localhost: http://localhost:PORT, PORT being listen's.",
    },
    SettingDoc {
        key: "issuer",
        default: "(first origin)",
        help: "Issuer URL of access tokens (iss); the token audience is ISSUER/api.",
    },
    SettingDoc {
        key: "master_key",
        default: "(unset)",
        help: "Base64 of 32 random bytes that encrypt secrets at rest (signing keys, queued mail, secret settings), directly or through the data keys `keyfleet admin rotate-master-key` makes (docs/secrets.md). Overrides master_key_file. Every process sharing a database needs the same key.",
    },
    SettingDoc {
        key: "master_key_file",
        default: "keyfleet.master-key",
        help: "File holding the master key; created with mode 0600 on first start when missing.",
    },
    SettingDoc {
        key: "log_format",
        default: "human",
        help: "human or json.",
    },
    SettingDoc {
        key: "log_level",
        default: "info",
        help: "tracing filter, e.g. info or keyfleet_server=debug,info (RUST_LOG overrides).",
    },
    SettingDoc {
        key: "session_idle_minutes",
        default: "60",
        help: "A session ends after this many minutes without a request (1 to 1440).",
    },
    SettingDoc {
        key: "session_absolute_hours",
        default: "12",
        help: "A session ends this many hours after sign-in, whatever the activity (1 to 720).",
    },
    SettingDoc {
        key: "directory_recovery_days",
        default: "30",
        help: "A user deleted by directory sync (SCIM) stays disabled and recoverable this many days, then is removed for good (0 to 3650; 0 removes at the next housekeeping run).",
    },
    SettingDoc {
        key: "tap_session_minutes",
        default: "60",
        help: "Longest session a temporary access pass opens; it also ends when the pass expires (5 to 1440).",
    },
    SettingDoc {
        key: "access_token_minutes",
        default: "10",
        help: "Lifetime of client-credentials access tokens (1 to 60).",
    },
    SettingDoc {
        key: "client_secret_phase_out_minutes",
        default: "1440",
        help: "When a client secret is rotated, the old one keeps working this long (0 to 43200).",
    },
    SettingDoc {
        key: "tap_attempts_per_user",
        default: "10",
        help: "Failed TAP sign-ins on one account per window after which every address gets one attempt per window on that account (guessing from rotating addresses); the account is never locked (1 to 1000).",
    },
    SettingDoc {
        key: "tap_attempts_per_address",
        default: "30",
        help: "TAP sign-ins one client address may have failed or in flight per window before 429 (1 to 100000).",
    },
    SettingDoc {
        key: "token_failures_per_address",
        default: "30",
        help: "Failed client authentications at /oauth2/token one client address may make per window before 429 (1 to 100000).",
    },
    SettingDoc {
        key: "rate_limit_window_minutes",
        default: "15",
        help: "Length of the rate-limit window (1 to 1440).",
    },
    SettingDoc {
        key: "max_body_bytes",
        default: "65536",
        help: "Largest accepted request body; larger ones get 413 before parsing (1024 to 10485760).",
    },
    SettingDoc {
        key: "shutdown_grace_seconds",
        default: "30",
        help: "On SIGTERM, in-flight requests get this long to finish (1 to 600).",
    },
    SettingDoc {
        key: "challenge_timeout_seconds",
        default: "300",
        help: "How long a WebAuthn ceremony (its challenge) stays valid (30 to 3600).",
    },
    SettingDoc {
        key: "onbehalf_challenge_timeout_minutes",
        default: "43200",
        help: "How long creation options issued on behalf of a user stay valid when the request does not say (5 to 43200): the connector's orders use it, and a key may take weeks to be made and shipped, hence 30 days.",
    },
    SettingDoc {
        key: "factory_url",
        default: "(unset)",
        help: "Base URL of the key factory the pre-registration connector sends key orders to (http or https, e.g. https://factory.example.com); unset: orders wait in requested and the process-shipments job does not run.",
    },
    SettingDoc {
        key: "factory_token",
        default: "(unset)",
        help: "The factory's API token (keyfleet factory create-token), sent as a Bearer token; never shown by the status route, logs or errors.",
    },
    SettingDoc {
        key: "factory_timeout_seconds",
        default: "30",
        help: "How long one call to the key factory may take before it counts as a failed attempt (1 to 300).",
    },
    SettingDoc {
        key: "shipments_poll_schedule",
        default: "0 0 * * * *",
        help: "When the connector submits requested orders and polls submitted ones: cron with seconds (sec min hour day month weekday), UTC.",
    },
    SettingDoc {
        key: "shipments_cleanup_schedule",
        default: "0 30 3 * * *",
        help: "When complete orders older than shipments_cleanup_completed_days are deleted with every secret they held: cron with seconds, UTC.",
    },
    SettingDoc {
        key: "shipments_cleanup_completed_days",
        default: "30",
        help: "Complete orders older than this many days are deleted by the cleanup job (0 to 3650; 0 keeps everything).",
    },
    SettingDoc {
        key: "shipments_max_attempts",
        default: "5",
        help: "Failed attempts of a connector step (submit, poll) before the order goes to needsAttention (1 to 100).",
    },
    SettingDoc {
        key: "shipments_retry_seconds",
        default: "60",
        help: "Delay before a failed connector step is tried again, doubled after each failure up to 6 hours (0 to 86400; 0: at the next run).",
    },
    SettingDoc {
        key: "user_verification",
        default: "preferred",
        help: "WebAuthn userVerification asked for and enforced: required, preferred or discouraged.",
    },
    SettingDoc {
        key: "attestation_roots_file",
        default: "(unset)",
        help: "PEM file of attestation root certificates; when set, attestation trust paths are evaluated.",
    },
    SettingDoc {
        key: "require_trusted_attestation",
        default: "false",
        help: "true: refuse keys whose attestation does not chain to attestation_roots_file.",
    },
    SettingDoc {
        key: "mds_url",
        default: "(unset)",
        help: "URL of the FIDO Metadata Service BLOB (e.g. https://mds3.fidoalliance.org/); when set, the server downloads it daily (no later than its nextUpdate) with conditional requests and imports it when it changed.",
    },
    SettingDoc {
        key: "smtp_url",
        default: "(unset)",
        help: "SMTP server the mail outbox is sent to: smtp://[USER@]HOST[:PORT] (STARTTLS when offered), smtp+starttls://… (STARTTLS required, port 587) or smtps://… (implicit TLS, port 465). No password here: `keyfleet admin set-secret --name smtp_password` stores it encrypted. Unset: no mail is sent (it waits in the outbox).",
    },
    SettingDoc {
        key: "mail_from",
        default: "keyfleet@localhost",
        help: "Sender address of keyfleet's mail (its domain ends every Message-ID).",
    },
    SettingDoc {
        key: "smtp_ca_file",
        default: "(unset)",
        help: "PEM file of the certificates trusted for the SMTP server's TLS instead of the system's roots (a private CA).",
    },
    SettingDoc {
        key: "mail_alarm_after_failures",
        default: "5",
        help: "Failed attempts of a queued message after which the mail alarm goes off (an audit event mail.alarm and a warning); 1 to 1000.",
    },
    SettingDoc {
        key: "mds_root_file",
        default: "(bundled GlobalSign Root CA - R3)",
        help: "Trust anchor (DER or PEM, one certificate) of the metadata BLOB's signing chain.",
    },
    SettingDoc {
        key: "mds_factory_dir",
        default: "(unset)",
        help: "Directory holding the key factory's factory-ca-MODEL.der roots; each goes on keyfleet's own model's metadata entry at every refresh, so the factory's keys are trusted like certified ones.",
    },
    SettingDoc {
        key: "removal_ends_sessions",
        default: "false",
        help: "true: removing a key in the portal also ends the sessions opened with it; false: they last until they expire or the user signs in again (reporting a key lost always ends them).",
    },
    SettingDoc {
        key: "signin_failures_per_address",
        default: "30",
        help: "Failed security-key sign-ins allowed per client address per rate_limit_window_minutes before 429 (1 to 100000).",
    },
    SettingDoc {
        key: "signin_starts_per_address_per_minute",
        default: "600",
        help: "Sign-in ceremonies (options) one client address may start per minute before 429; 0 turns the limit off.",
    },
    SettingDoc {
        key: "bootstrap_admin_username",
        default: "admin",
        help: "Username of the administrator created on first start.",
    },
    SettingDoc {
        key: "bootstrap_admin_email",
        default: "admin@keyfleet.invalid",
        help: "Email of the administrator created on first start.",
    },
];

/// A configuration problem, worded for the person starting keyfleet.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// A value does not parse or is out of range.
    #[error("invalid {key} {value:?} (from {source_name}): {reason}")]
    Invalid {
        /// Setting name.
        key: &'static str,
        /// The value as given.
        value: String,
        /// Where it came from.
        source_name: String,
        /// What is allowed.
        reason: String,
    },
    /// The TOML file cannot be read or parsed.
    #[error("configuration file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The TOML file names a setting that does not exist (a typo must not pass silently).
    #[error("unknown setting `{key}` in {path}; {}", typo_hint(*.suggestion))]
    UnknownSetting {
        /// The key as written.
        key: String,
        /// The file.
        path: PathBuf,
        /// The closest known setting, if one is close.
        suggestion: Option<&'static str>,
    },
}

fn typo_hint(suggestion: Option<&str>) -> String {
    match suggestion {
        Some(s) => format!("did you mean `{s}`?"),
        None => "see docs/configuration.md for the settings".to_owned(),
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One readable line per event.
    Human,
    /// One JSON object per event.
    Json,
}

/// Where the master key comes from.
#[derive(Debug, Clone)]
pub enum MasterKeySource {
    /// Given inline (base64).
    Inline(String),
    /// Read from, or created in, a file.
    File(PathBuf),
}

/// Where the HTTP server listens: the address as given, and the socket addresses it stands
/// for (a host name may resolve to several, such as 127.0.0.1 and ::1 for localhost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    text: String,
    addrs: Vec<SocketAddr>,
}

impl Listen {
    /// Parses `IP:PORT` (`[::1]:PORT` for IPv6) or `HOST:PORT`, resolving the host name.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(Listen {
                text: text.to_owned(),
                addrs: vec![addr],
            });
        }
        let form = "expected IP:PORT or HOST:PORT, e.g. 127.0.0.1:8080, [::1]:8080 or localhost:8080";
        let (host, port) = text.rsplit_once(':').ok_or(form)?;
        let port: u16 = port.parse().map_err(|_| form)?;
        let is_name = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !is_name {
            return Err(form.to_owned());
        }
        let mut addrs: Vec<SocketAddr> = Vec::new();
        let resolved = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
            .map_err(|e| format!("cannot resolve {host}: {e}"))?;
        for addr in resolved {
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        if addrs.is_empty() {
            return Err(format!("{host} resolves to no address"));
        }
        Ok(Listen {
            text: text.to_owned(),
            addrs,
        })
    }

    /// The socket addresses to bind, in the resolver's order (at least one).
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addrs[0].port()
    }

    /// A listen setting standing for these addresses, for tests of binding.
    #[cfg(test)]
    pub(crate) fn of(addrs: &[SocketAddr]) -> Self {
        Listen {
            text: "test".to_owned(),
            addrs: addrs.to_vec(),
        }
    }
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Bind address.
    pub listen: Listen,
    /// Database URL.
    pub database_url: String,
    /// Relying-party ID.
    pub rp_id: String,
    /// Relying-party name.
    pub rp_name: String,
    /// Exact allowed origins (scheme://host[:port], no trailing slash).
    pub origins: Vec<String>,
    /// Token issuer.
    pub issuer: String,
    /// Master key.
    pub master_key: MasterKeySource,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter.
    pub log_level: String,
    /// Session idle lifetime.
    pub session_idle: Duration,
    /// Session absolute lifetime.
    pub session_absolute: Duration,
    /// Longest TAP session.
    pub tap_session: Duration,
    /// Access-token lifetime.
    pub access_token_lifetime: Duration,
    /// How long a rotated-out client secret keeps working.
    pub client_secret_phase_out: Duration,
    /// Failed TAP attempts per username per window.
    pub tap_attempts_per_user: u32,
    /// Failed TAP attempts per address per window.
    pub tap_attempts_per_address: u32,
    /// Failed token requests per address per window.
    pub token_failures_per_address: u32,
    /// Rate-limit window.
    pub rate_limit_window: Duration,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Shutdown grace period.
    pub shutdown_grace: Duration,
    /// First administrator's username.
    pub bootstrap_admin_username: String,
    /// First administrator's email.
    pub bootstrap_admin_email: String,
    /// Whether cookies carry `Secure` (every origin is https).
    pub secure_cookies: bool,
    /// Lifetime of a WebAuthn ceremony.
    pub challenge_timeout: Duration,
    /// Default lifetime of on-behalf creation options, in minutes.
    pub onbehalf_challenge_timeout_minutes: u32,
    /// `required`, `preferred` or `discouraged`.
    pub user_verification: String,
    /// PEM bundle of attestation roots.
    pub attestation_roots_file: Option<PathBuf>,
    /// Refuse keys without an attestation that chains to the roots.
    pub require_trusted_attestation: bool,
    /// Where the metadata BLOB is downloaded from (the scheduled refresh), if anywhere.
    pub mds_url: Option<String>,
    /// The metadata BLOB's trust anchor file (default: the bundled GlobalSign root).
    pub mds_root_file: Option<PathBuf>,
    /// The SMTP server of the mail outbox (`None`: no mail is sent).
    pub smtp_url: Option<crate::mail::SmtpUrl>,
    /// The sender of keyfleet's mail.
    pub mail_from: String,
    /// Roots trusted for the SMTP server's TLS instead of the system's.
    pub smtp_ca_file: Option<PathBuf>,
    /// Failed attempts of a message after which the mail alarm goes off.
    pub mail_alarm_after_failures: u32,
    /// The key factory's directory (its `factory-ca-MODEL.der` roots).
    pub mds_factory_dir: Option<PathBuf>,
    /// Whether removing a key in the portal also ends the sessions opened with it.
    pub removal_ends_sessions: bool,
    /// Failed WebAuthn sign-ins per client address per `rate_limit_window`.
    pub signin_failures_per_address: u32,
    /// Sign-in ceremonies one address may start per minute (0: unlimited).
    pub signin_starts_per_address_per_minute: u32,
    /// How long a user deleted by directory sync stays recoverable.
    pub directory_recovery: Duration,
    /// The key factory's base URL (the connector runs when set).
    pub factory_url: Option<String>,
    /// The factory's API token.
    pub factory_token: Option<SecretText>,
    /// How long one call to the factory may take.
    pub factory_timeout: Duration,
    /// The connector's schedules and cleanup age.
    pub shipment_schedules: keyfleet_core::jobs::ShipmentSchedules,
    /// Failed attempts of a connector step before the order needs attention.
    pub shipments_max_attempts: u32,
    /// The first retry's delay.
    pub shipments_retry_backoff: Duration,
}

/// A secret setting: its `Debug` output never shows it.
#[derive(Clone)]
pub struct SecretText(String);

impl SecretText {
    /// The secret.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(redacted)")
    }
}

/// Values given on the command line (highest precedence).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--database-url`.
    pub database_url: Option<String>,
    /// `--config`.
    pub config: Option<PathBuf>,
}

struct Raw {
    values: BTreeMap<&'static str, (String, String)>,
}

impl Raw {
    fn get(&self, key: &'static str) -> (String, String) {
        self.values.get(key).cloned().unwrap_or_else(|| {
            let default = SETTINGS.iter().find(|s| s.key == key).map_or("", |s| s.default);
            (default.to_owned(), "default".to_owned())
        })
    }

    fn invalid(&self, key: &'static str, reason: impl Into<String>) -> ConfigError {
        let (value, source_name) = self.get(key);
        // Never echo a secret back, even a malformed one.
        let value = if key == "master_key" || key == "factory_token" || key == "smtp_url" {
            "(redacted)".to_owned()
        } else {
            value
        };
        ConfigError::Invalid {
            key,
            value,
            source_name,
            reason: reason.into(),
        }
    }

    fn int<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
        &self,
        key: &'static str,
        min: T,
        max: T,
    ) -> Result<T, ConfigError> {
        let (v, _) = self.get(key);
        match v.trim().parse::<T>() {
            Ok(n) if n >= min && n <= max => Ok(n),
            _ => Err(self.invalid(key, format!("expected a whole number from {min} to {max}"))),
        }
    }

    fn bool(&self, key: &'static str) -> Result<bool, ConfigError> {
        match self.get(key).0.trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(self.invalid(key, "expected true or false")),
        }
    }

    fn minutes(&self, key: &'static str, min: u64, max: u64) -> Result<Duration, ConfigError> {
        self.int(key, min, max).map(|m| Duration::from_secs(m * 60))
    }
}

impl Settings {
    /// Resolves the configuration from flags, the process environment and the TOML file.
    pub fn load(overrides: &Overrides) -> Result<Self, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars().filter(|(k, _)| k.starts_with("KEYFLEET_")).collect();
        Self::resolve(overrides, &env)
    }

    /// Resolves the configuration from flags and the given environment (for tests).
    pub fn resolve(overrides: &Overrides, env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut values = BTreeMap::new();
        let config_path = overrides
            .config
            .clone()
            .or_else(|| env.get("KEYFLEET_CONFIG").map(PathBuf::from));
        if let Some(path) = &config_path {
            for (key, value) in read_toml(path)? {
                values.insert(key, (value, format!("{}", path.display())));
            }
        }
        for s in SETTINGS {
            let var = format!("KEYFLEET_{}", s.key.to_uppercase());
            if let Some(v) = env.get(&var) {
                values.insert(s.key, (v.clone(), format!("environment variable {var}")));
            }
        }
        if let Some(v) = &overrides.listen {
            values.insert("listen", (v.clone(), "flag --listen".to_owned()));
        }
        if let Some(v) = &overrides.database_url {
            values.insert("database_url", (v.clone(), "flag --database-url".to_owned()));
        }
        Self::validate(&Raw { values })
    }

    fn validate(raw: &Raw) -> Result<Self, ConfigError> {
        let listen = Listen::parse(&raw.get("listen").0).map_err(|reason| raw.invalid("listen", reason))?;
        let database_url = raw.get("database_url").0;
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(raw.invalid("database_url", "expected sqlite://PATH or postgres://…"));
        }
        let rp_id = raw.get("rp_id").0.trim().to_lowercase();
        if !valid_domain(&rp_id) {
            return Err(raw.invalid(
                "rp_id",
                "expected a domain name such as localhost or example.com (no scheme, port or path)",
            ));
        }
        // Unset, the origin follows the listen port (`--listen 127.0.0.1:9000` is reached at
        // http://localhost:9000): the browser's origin must match, and the banner names it.
        let origins = match raw.values.get("origins") {
            None if rp_id == "localhost" && listen.port() != 0 => vec![format!("http://localhost:{}", listen.port())],
            _ => parse_origins(&raw.get("origins").0, &rp_id).map_err(|r| raw.invalid("origins", r))?,
        };
        let issuer = match raw.values.get("issuer") {
            Some((v, _)) => parse_origin(v).map_err(|r| raw.invalid("issuer", r))?.0,
            None => origins[0].clone(),
        };
        let master_key = match raw.values.get("master_key") {
            Some((v, _)) => {
                keyfleet_core::secrets::MasterKey::from_base64(v)
                    .map_err(|_| raw.invalid("master_key", "expected base64 of exactly 32 bytes"))?;
                MasterKeySource::Inline(v.clone())
            }
            None => MasterKeySource::File(PathBuf::from(raw.get("master_key_file").0)),
        };
        let log_format = match raw.get("log_format").0.as_str() {
            "human" => LogFormat::Human,
            "json" => LogFormat::Json,
            _ => return Err(raw.invalid("log_format", "expected human or json")),
        };
        let log_level = raw.get("log_level").0;
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            return Err(raw.invalid("log_level", "expected a tracing filter such as info or debug"));
        }
        let bootstrap_admin_username = keyfleet_domain::user::Username::parse(&raw.get("bootstrap_admin_username").0)
            .map_err(|e| raw.invalid("bootstrap_admin_username", e.to_string()))?
            .as_str()
            .to_owned();
        let bootstrap_admin_email = keyfleet_domain::user::validate_email(&raw.get("bootstrap_admin_email").0, "email")
            .map_err(|e| raw.invalid("bootstrap_admin_email", e.to_string()))?;
        let secure_cookies = origins.iter().all(|o| o.starts_with("https://"));
        let user_verification = raw.get("user_verification").0;
        if !matches!(user_verification.as_str(), "required" | "preferred" | "discouraged") {
            return Err(raw.invalid("user_verification", "expected required, preferred or discouraged"));
        }
        let attestation_roots_file = raw.values.get("attestation_roots_file").map(|(v, _)| PathBuf::from(v));
        let require_trusted_attestation = raw.bool("require_trusted_attestation")?;
        let removal_ends_sessions = raw.bool("removal_ends_sessions")?;
        if require_trusted_attestation && attestation_roots_file.is_none() {
            return Err(raw.invalid("require_trusted_attestation", "needs attestation_roots_file"));
        }
        let mds_url = raw.values.get("mds_url").map(|(v, _)| v.trim().to_owned());
        if let Some(u) = &mds_url
            && !url::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some())
        {
            return Err(raw.invalid("mds_url", "expected an http or https URL"));
        }
        let mds_root_file = raw.values.get("mds_root_file").map(|(v, _)| PathBuf::from(v));
        let factory_url = raw.values.get("factory_url").map(|(v, _)| v.trim().to_owned());
        if let Some(u) = &factory_url
            && !url::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some())
        {
            return Err(raw.invalid("factory_url", "expected an http or https URL"));
        }
        let factory_token = raw
            .values
            .get("factory_token")
            .map(|(v, _)| SecretText(v.trim().to_owned()));
        let cron = |key: &'static str| {
            keyfleet_core::jobs::CronSchedule::parse(&raw.get(key).0).map_err(|why| raw.invalid(key, why))
        };
        let shipment_schedules = keyfleet_core::jobs::ShipmentSchedules {
            poll: cron("shipments_poll_schedule")?,
            cleanup: cron("shipments_cleanup_schedule")?,
            cleanup_completed_days: raw.int("shipments_cleanup_completed_days", 0u32, 3650)?,
        };
        let smtp_url = raw
            .values
            .get("smtp_url")
            .map(|(v, _)| crate::mail::SmtpUrl::parse(v))
            .transpose()
            .map_err(|e| raw.invalid("smtp_url", e))?;
        let mail_from = raw.get("mail_from").0.trim().to_owned();
        if mail_from.parse::<lettre::Address>().is_err() {
            return Err(raw.invalid("mail_from", "expected an email address such as keyfleet@example.com"));
        }
        let smtp_ca_file = raw.values.get("smtp_ca_file").map(|(v, _)| PathBuf::from(v));
        let mds_factory_dir = raw.values.get("mds_factory_dir").map(|(v, _)| PathBuf::from(v));
        Ok(Settings {
            listen,
            database_url,
            rp_id,
            rp_name: raw.get("rp_name").0,
            origins,
            issuer,
            master_key,
            log_format,
            log_level,
            session_idle: raw.minutes("session_idle_minutes", 1, 1440)?,
            session_absolute: raw
                .int("session_absolute_hours", 1u64, 720)
                .map(|h| Duration::from_secs(h * 3600))?,
            tap_session: raw.minutes("tap_session_minutes", 5, 1440)?,
            access_token_lifetime: raw.minutes("access_token_minutes", 1, 60)?,
            client_secret_phase_out: raw.minutes("client_secret_phase_out_minutes", 0, 43_200)?,
            tap_attempts_per_user: raw.int("tap_attempts_per_user", 1, 1000)?,
            tap_attempts_per_address: raw.int("tap_attempts_per_address", 1, 100_000)?,
            token_failures_per_address: raw.int("token_failures_per_address", 1, 100_000)?,
            rate_limit_window: raw.minutes("rate_limit_window_minutes", 1, 1440)?,
            max_body_bytes: raw.int("max_body_bytes", 1024, 10 * 1024 * 1024)?,
            shutdown_grace: raw.int("shutdown_grace_seconds", 1u64, 600).map(Duration::from_secs)?,
            bootstrap_admin_username,
            bootstrap_admin_email,
            secure_cookies,
            challenge_timeout: raw
                .int("challenge_timeout_seconds", 30u64, 3600)
                .map(Duration::from_secs)?,
            onbehalf_challenge_timeout_minutes: raw.int("onbehalf_challenge_timeout_minutes", 5u32, 43_200)?,
            user_verification,
            attestation_roots_file,
            require_trusted_attestation,
            mds_url,
            mds_root_file,
            smtp_url,
            mail_from,
            smtp_ca_file,
            mail_alarm_after_failures: raw.int("mail_alarm_after_failures", 1u32, 1000)?,
            mds_factory_dir,
            removal_ends_sessions,
            signin_failures_per_address: raw.int("signin_failures_per_address", 1, 100_000)?,
            directory_recovery: raw
                .int("directory_recovery_days", 0u64, 3650)
                .map(|d| Duration::from_secs(d * 86_400))?,
            signin_starts_per_address_per_minute: raw.int("signin_starts_per_address_per_minute", 0, 1_000_000)?,
            factory_url,
            factory_token,
            factory_timeout: raw.int("factory_timeout_seconds", 1u64, 300).map(Duration::from_secs)?,
            shipment_schedules,
            shipments_max_attempts: raw.int("shipments_max_attempts", 1u32, 100)?,
            shipments_retry_backoff: raw
                .int("shipments_retry_seconds", 0u64, 86_400)
                .map(Duration::from_secs)?,
        })
    }

    /// Lifetimes of the sessions this server opens.
    pub fn session_lifetimes(&self) -> keyfleet_domain::session::SessionLifetimes {
        keyfleet_domain::session::SessionLifetimes {
            idle: self.session_idle,
            absolute: self.session_absolute,
        }
    }

    /// The audience of access tokens this server issues and accepts.
    pub fn token_audience(&self) -> String {
        format!("{}/api", self.issuer)
    }
}

fn read_toml(path: &Path) -> Result<Vec<(&'static str, String)>, ConfigError> {
    let file_err = |reason: String| ConfigError::File {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| file_err(e.message().to_owned()))?;
    let mut out = Vec::new();
    for (key, value) in table {
        let Some(doc) = SETTINGS.iter().find(|s| s.key == key) else {
            return Err(ConfigError::UnknownSetting {
                suggestion: closest_setting(&key),
                key,
                path: path.to_owned(),
            });
        };
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| file_err(format!("{key}: expected a list of strings")))
                })
                .collect::<Result<Vec<_>, _>>()?
                .join(","),
            other => return Err(file_err(format!("{key}: unsupported value {other}"))),
        };
        out.push((doc.key, text));
    }
    Ok(out)
}

/// The setting `key` was probably meant to be: the closest name if it is close enough to be a
/// typo (at most one edit in four characters, at least one, at most three), else the only
/// setting whose name begins with it (`session_idle` → `session_idle_minutes`).
fn closest_setting(key: &str) -> Option<&'static str> {
    let key = key.to_lowercase().replace('-', "_");
    let allowed = (key.chars().count() / 4).clamp(1, 3);
    let typo = SETTINGS
        .iter()
        .map(|s| (edit_distance(&key, s.key), s.key))
        .filter(|(d, _)| *d <= allowed)
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name);
    typo.or_else(|| {
        let mut longer = SETTINGS
            .iter()
            .filter(|s| key.len() >= 4 && s.key.starts_with(&format!("{key}_")));
        match (longer.next(), longer.next()) {
            (Some(only), None) => Some(only.key),
            _ => None,
        }
    })
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
/// neighbouring characters each cost one.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

fn valid_domain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

/// Parses one origin into its canonical text and host. Only `https://`, or `http://` on a
/// loopback host, with no path, query or userinfo.
fn parse_origin(raw: &str) -> Result<(String, String), String> {
    let raw = raw.trim().trim_end_matches('/');
    let (scheme, rest) = raw
        .split_once("://")
        .ok_or("an origin looks like https://example.com")?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return Err(format!(
            "{raw:?} is not an origin (scheme://host[:port], nothing after)"
        ));
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => {
            p.parse::<u16>().map_err(|_| format!("{raw:?} has a bad port"))?;
            (h, Some(p))
        }
        _ => (rest, None),
    };
    let host = host.to_lowercase();
    let loopback = matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]");
    match scheme {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err(format!("{raw:?}: http:// is only allowed for localhost; use https://")),
        _ => return Err(format!("{raw:?}: scheme must be https (or http for localhost)")),
    }
    let canonical = match port {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    };
    Ok((canonical, host))
}

fn parse_origins(list: &str, rp_id: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (origin, host) = parse_origin(item)?;
        if host != rp_id && !host.ends_with(&format!(".{rp_id}")) {
            return Err(format!(
                "{origin}: its host must be {rp_id} or a subdomain of it (rp_id)"
            ));
        }
        if !out.contains(&origin) {
            out.push(origin);
        }
    }
    if out.is_empty() {
        return Err("at least one origin is required".to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
