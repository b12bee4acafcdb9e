//! `keyfleet admin …`: first setup and automation, working directly on the database through
//! the same use cases (validation, audit) as the HTTP API and the console. Data goes to
//! standard output as JSON (`list-users --format table` for people); summaries and errors go
//! to standard error, worded with the flags typed here rather than the API's JSON fields.
//!
//! Every change is audited as done by `cli:OS-USER`, the operating-system user who ran the
//! command (`$SUDO_USER`, else `$USER`, else `$LOGNAME`, else the numeric uid).

use std::os::unix::fs::MetadataExt as _;

use anyhow::{Context as _, anyhow, bail};
use clap::{Subcommand, ValueEnum};
use keyfleet_core::access::Principal;
use keyfleet_core::identity::users::{self, CreateUser, UpdateUser};
use keyfleet_core::identity::{sessions, taps};
use keyfleet_core::{CoreError, Ctx, clients, credentials::keys};
use keyfleet_domain::audit::Actor;
use keyfleet_domain::store::Stores;
use keyfleet_domain::tap::DEFAULT_LIFETIME_MINUTES;
use keyfleet_domain::user::{Role, User, UserQuery, Username};
use keyfleet_server::api::UserJson;
use keyfleet_server::config::Settings;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user; prints the user as JSON.
    CreateUser {
        /// Username (compared case-insensitively).
        #[arg(long)]
        username: String,
        /// Name shown to people.
        #[arg(long)]
        display_name: String,
        /// Email address.
        #[arg(long)]
        email: String,
        /// The manager's email (receives PIN letters for pre-registered keys).
        #[arg(long)]
        manager_email: Option<String>,
        /// Role: worker (default), helpdesk or admin.
        #[arg(long, default_value = "worker")]
        role: String,
    },
    /// List users, by username; prints a JSON array of users (or a table).
    ListUsers {
        /// Only users whose username, display name or email contains this (any letter case).
        #[arg(long)]
        search: Option<String>,
        /// json: one array of user objects (as GET /api/v1/users); table: for people.
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
    },
    /// Disable a user: they cannot sign in and their sessions end; prints the user as JSON.
    DisableUser {
        /// Username.
        #[arg(long)]
        username: String,
    },
    /// Enable a disabled user; prints the user as JSON.
    EnableUser {
        /// Username.
        #[arg(long)]
        username: String,
    },
    /// Remove all of a user's security keys and end their sessions; prints
    /// {"username", "keysRemoved"} as JSON.
    ResetKeys {
        /// Username.
        #[arg(long)]
        username: String,
    },
    /// A band taken from a user to be given to another wearer: removes the user's credentials
    /// made with a keyfleet band and ends their sessions (then wipe the band with `keyfleet key
    /// reassign`).
    ReassignBand {
        /// Username.
        #[arg(long)]
        username: String,
    },
    /// Issue a temporary access pass; prints the code alone on standard output.
    IssueTap {
        /// Username.
        #[arg(long)]
        username: String,
        /// Lifetime in minutes (10 to 43200).
        #[arg(long, default_value_t = DEFAULT_LIFETIME_MINUTES)]
        minutes: u32,
        /// Consumed by its first sign-in.
        #[arg(long)]
        one_time: bool,
    },
    /// Withdraw a user's temporary access pass; prints {"username", "tapRevoked"} as JSON.
    RevokeTap {
        /// Username.
        #[arg(long)]
        username: String,
    },
    /// End every session of a user (they stay enabled); prints {"username", "sessionsEnded"}
    /// as JSON.
    EndSessions {
        /// Username.
        #[arg(long)]
        username: String,
    },
    /// Create an API client; prints {"client_id", "client_secret"} as JSON.
    CreateClient {
        /// Name shown to administrators.
        #[arg(long)]
        name: String,
        /// Scopes: users:read, users:write, provisioning, shipments, audit:read, scim.
        #[arg(long = "scope", num_args = 1.., required = true)]
        scopes: Vec<String>,
    },
    /// Creates a single sign-on application (an OpenID Connect client); prints `client_id` and,
    /// for a confidential one, `client_secret` (shown only now) as JSON.
    CreateApplication {
        /// Name shown to administrators and users.
        #[arg(long)]
        name: String,
        /// Redirect URIs, compared as exact strings (https, or http on a loopback host).
        #[arg(long = "redirect-uri", num_args = 1.., required = true)]
        redirect_uris: Vec<String>,
        /// Where RP-initiated logout may return.
        #[arg(long = "post-logout-redirect-uri", num_args = 1..)]
        post_logout_redirect_uris: Vec<String>,
        /// A public client (no secret; PKCE alone binds its codes).
        #[arg(long)]
        public: bool,
        /// The authentication strength (by id) a session's key must meet.
        #[arg(long)]
        strength: Option<String>,
        /// Allowed scopes (default: openid profile email groups offline_access).
        #[arg(long = "scope", num_args = 1..)]
        scopes: Vec<String>,
    },
    /// Start a rotation of the token-signing key: a new key is published in /oauth2/jwks now
    /// and signs from 24 hours on (the running servers pick it up by themselves); the old
    /// one stays published until its tokens have expired. Prints `{"kid", "activates_at"}`.
    RotateSigningKey,
    /// Rotate the master key without downtime: a new data key encrypts from now on (running
    /// servers load it within 5 s); the earlier keys still decrypt until the servers'
    /// re-encryption job has rewritten every stored secret, then they are retired
    /// (docs/secrets.md). Prints `{"keyId", "replaces"}`.
    RotateMasterKey,
    /// List the master data keys: prints a JSON array of `{id, state, createdAt, retiredAt}`.
    MasterKeys,
    /// Rewrite every stored secret under the current master key now (what the servers' job
    /// does every few minutes), retiring earlier keys when nothing uses them and the
    /// rotation is old enough. Prints the counts as JSON.
    ReencryptSecrets,
    /// Set a secret setting (smtp_password or factory_token), read from standard input (one
    /// line), stored encrypted under the master key; `--remove` removes it. The value is
    /// never printed.
    SetSecret {
        /// smtp_password or factory_token.
        #[arg(long)]
        name: String,
        /// Remove the setting instead.
        #[arg(long)]
        remove: bool,
    },
    /// List messages of the mail outbox (never their bodies): prints a JSON array.
    ListMail {
        /// Only messages in this state: pending, sending, sent, failed, uncertain, cancelled.
        #[arg(long)]
        state: Option<String>,
    },
    /// Queue an uncertain (maybe delivered, maybe not) message again, with the same id.
    ResendMail {
        /// The message id.
        #[arg(long)]
        id: String,
    },
}

/// How `list-users` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON array.
    Json,
    /// Aligned columns.
    Table,
}

/// The JSON fields the core's messages name, and the flags a person typed for them here.
const FLAGS: &[(&str, &str)] = &[
    ("lifetimeMinutes", "--minutes"),
    ("displayName", "--display-name"),
    ("managerEmail", "--manager-email"),
    ("email", "--email"),
    ("username", "--username"),
    ("client name", "--name"),
];

/// A core message with the field it begins with replaced by its flag (`lifetimeMinutes must
/// be …` → `--minutes must be …`).
fn in_flags(message: &str) -> String {
    for (field, flag) in FLAGS {
        if let Some(rest) = message.strip_prefix(field)
            && (rest.is_empty() || rest.starts_with(' '))
        {
            return format!("{flag}{rest}");
        }
    }
    message.to_owned()
}

/// A refusal of the core, worded for this command line.
fn refusal(e: CoreError) -> anyhow::Error {
    match e {
        CoreError::Invalid { message, .. } => anyhow!("{}", in_flags(&message)),
        CoreError::NotFound => anyhow!("not found"),
        other => anyhow!("{other}"),
    }
}

/// Who ran this command: the operating-system user, as the audit log's actor.
pub(crate) fn os_user() -> String {
    let named = ["SUDO_USER", "USER", "LOGNAME"]
        .into_iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()));
    named.unwrap_or_else(|| match std::fs::metadata("/proc/self") {
        Ok(me) => format!("uid-{}", me.uid()),
        Err(_) => String::new(),
    })
}

/// The user called `username` (`--username`).
async fn user_named(stores: &Stores, username: &str) -> anyhow::Result<User> {
    let name = Username::parse(username).map_err(|e| anyhow!("{}", in_flags(&e.to_string())))?;
    stores
        .users
        .find_user_by_username(&name)
        .await?
        .with_context(|| format!("no user {:?}", name.as_str()))
}

/// One JSON document on standard output.
fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

fn user_json(user: &User) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::to_value(UserJson::from(user))?)
}

pub async fn run(cmd: AdminCommand, settings: Settings) -> anyhow::Result<()> {
    let stores = keyfleet_server::serve::open_stores(&settings.database_url).await?;
    let (core, master) = keyfleet_server::serve::core(&settings, stores.clone()).await?;
    let ctx = core.ctx(Actor::cli(&os_user()), None);
    // The local CLI: an operator with the database and the master key.
    let cli = Principal::System;
    match cmd {
        AdminCommand::CreateUser {
            username,
            display_name,
            email,
            manager_email,
            role,
        } => {
            let role = Role::parse(&role).ok_or_else(|| anyhow!("--role must be worker, helpdesk or admin"))?;
            let input = CreateUser {
                username,
                display_name,
                email,
                manager_email,
                shipping_address: None,
                role: Some(role),
            };
            let user = users::create(&ctx, &cli, input).await.map_err(refusal)?;
            print_json(&user_json(&user)?)?;
            eprintln!("created user {} ({})", user.username.as_str(), user.id);
        }
        AdminCommand::ListUsers { search, format } => {
            let found = list_users(&ctx, &cli, search).await?;
            match format {
                Format::Json => print_json(&found.iter().map(user_json).collect::<anyhow::Result<_>>()?)?,
                Format::Table => print!("{}", table(&found)),
            }
            eprintln!("{} user{}", found.len(), if found.len() == 1 { "" } else { "s" });
        }
        AdminCommand::DisableUser { username } => set_enabled(&ctx, &cli, &stores, &username, false).await?,
        AdminCommand::EnableUser { username } => set_enabled(&ctx, &cli, &stores, &username, true).await?,
        AdminCommand::ResetKeys { username } => {
            let user = user_named(&stores, &username).await?;
            let removed = keys::reset(&ctx, &cli, user.id).await.map_err(refusal)?;
            print_json(&json!({ "username": user.username.as_str(), "keysRemoved": removed }))?;
            eprintln!(
                "removed {removed} security key{} of {} and ended their sessions",
                if removed == 1 { "" } else { "s" },
                user.username.as_str()
            );
        }
        AdminCommand::ReassignBand { username } => {
            let user = user_named(&stores, &username).await?;
            let bands: Vec<_> = keys::list_for_user(&ctx, &cli, user.id)
                .await
                .map_err(refusal)?
                .into_iter()
                .filter(keys::is_band)
                .collect();
            if bands.is_empty() {
                bail!("{} has no band credential", user.username.as_str());
            }
            for band in &bands {
                keys::reassign_band(&ctx, &cli, user.id, &band.id)
                    .await
                    .map_err(refusal)?;
            }
            print_json(&json!({ "username": user.username.as_str(), "bandCredentialsRemoved": bands.len() }))?;
            eprintln!(
                "removed {} band credential{} of {} and ended their sessions; wipe the band with `keyfleet key reassign`",
                bands.len(),
                if bands.len() == 1 { "" } else { "s" },
                user.username.as_str()
            );
        }
        AdminCommand::IssueTap {
            username,
            minutes,
            one_time,
        } => {
            let user = user_named(&stores, &username).await?;
            let issued = taps::issue(&ctx, &cli, user.id, minutes, one_time)
                .await
                .map_err(refusal)?;
            println!("{}", issued.code);
            eprintln!(
                "temporary access pass for {} valid until {} ({})",
                user.username.as_str(),
                keyfleet_server::state::rfc3339(issued.tap.expires_at),
                if one_time { "one-time" } else { "multi-use" }
            );
        }
        AdminCommand::RevokeTap { username } => {
            let user = user_named(&stores, &username).await?;
            match taps::revoke(&ctx, &cli, user.id).await {
                Ok(()) => {}
                Err(CoreError::NotFound) => bail!("{} has no temporary access pass", user.username.as_str()),
                Err(e) => return Err(refusal(e)),
            }
            print_json(&json!({ "username": user.username.as_str(), "tapRevoked": true }))?;
            eprintln!("revoked the temporary access pass of {}", user.username.as_str());
        }
        AdminCommand::EndSessions { username } => {
            let user = user_named(&stores, &username).await?;
            let ended = sessions::end_all_for_user(&ctx, &cli, user.id).await.map_err(refusal)?;
            print_json(&json!({ "username": user.username.as_str(), "sessionsEnded": ended }))?;
            eprintln!(
                "ended {ended} session{} of {}",
                if ended == 1 { "" } else { "s" },
                user.username.as_str()
            );
        }
        AdminCommand::CreateApplication {
            name,
            redirect_uris,
            post_logout_redirect_uris,
            public,
            strength,
            scopes,
        } => {
            use keyfleet_core::oidc::applications::{self, ApplicationInput};
            let input = ApplicationInput {
                name,
                redirect_uris,
                post_logout_redirect_uris,
                client_type: Some(if public { "public" } else { "confidential" }.to_owned()),
                scopes: (!scopes.is_empty()).then_some(scopes),
                authentication_strength: strength,
                ..Default::default()
            };
            let created = applications::create(&ctx, &cli, input).await.map_err(refusal)?;
            let mut out = json!({ "client_id": created.application.client_id });
            if let Some(secret) = created.secret {
                out["client_secret"] = json!(secret);
            }
            println!("{out}");
            eprintln!(
                "created application {:?}; a secret is shown only now",
                created.application.name
            );
        }
        AdminCommand::CreateClient { name, scopes } => {
            let scopes: Vec<String> = scopes
                .iter()
                .flat_map(|s| s.split([' ', ',']))
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            let created = clients::create(&ctx, &cli, &name, &scopes).await.map_err(refusal)?;
            println!(
                "{}",
                json!({ "client_id": created.client.client_id, "client_secret": created.secret })
            );
            eprintln!("created client {:?}; the secret is shown only now", created.client.name);
        }
        AdminCommand::RotateMasterKey => {
            let before = master.current_id();
            let id = keyfleet_core::keyring::rotate(&ctx, &cli, &master)
                .await
                .map_err(refusal)?;
            print_json(&json!({ "keyId": id, "replaces": before }))?;
            eprintln!(
                "master data key {id} encrypts from now on; key {before} decrypts until every stored secret is re-encrypted"
            );
        }
        AdminCommand::MasterKeys => {
            let keys = keyfleet_core::keyring::keys(&ctx, &cli).await.map_err(refusal)?;
            print_json(&serde_json::to_value(keys)?)?;
        }
        AdminCommand::ReencryptSecrets => {
            let counts = keyfleet_core::keyring::reencrypt(&ctx, &master)
                .await
                .map_err(refusal)?;
            let out: serde_json::Map<String, serde_json::Value> =
                counts.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
            print_json(&serde_json::Value::Object(out))?;
        }
        AdminCommand::SetSecret { name, remove } => {
            let value = if remove {
                None
            } else {
                let mut line = zeroize::Zeroizing::new(String::new());
                std::io::stdin()
                    .read_line(&mut line)
                    .context("reading the value from standard input")?;
                Some(zeroize::Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned()))
            };
            keyfleet_core::keyring::set_secret(&ctx, &cli, &master, &name, value.as_ref().map(|v| v.as_str()))
                .await
                .map_err(refusal)?;
            print_json(&json!({ "name": name, "set": !remove }))?;
            eprintln!(
                "{} secret setting {name}",
                if remove { "removed" } else { "stored (encrypted)" }
            );
        }
        AdminCommand::ListMail { state } => {
            use keyfleet_domain::outbox::MailState;
            let state = state
                .map(|s| {
                    MailState::parse(&s).ok_or_else(|| {
                        anyhow!("--state must be pending, sending, sent, failed, uncertain or cancelled")
                    })
                })
                .transpose()?;
            let mail = keyfleet_core::mail::list(&ctx, &cli, state, 1000)
                .await
                .map_err(refusal)?;
            let rows: Vec<serde_json::Value> = mail
                .iter()
                .map(|m| {
                    json!({
                        "id": m.id,
                        "shipmentId": m.shipment_id.map(|s| s.to_string()),
                        "kind": m.kind.as_str(),
                        "recipients": m.recipients,
                        "subject": m.subject,
                        "state": m.state.as_str(),
                        "attempts": m.attempts,
                        "lastError": m.last_error,
                        "createdAt": keyfleet_server::state::rfc3339(m.created_at),
                        "sentAt": m.sent_at.map(keyfleet_server::state::rfc3339),
                    })
                })
                .collect();
            print_json(&json!(rows))?;
        }
        AdminCommand::ResendMail { id } => {
            keyfleet_core::mail::requeue(&ctx, &cli, &id).await.map_err(refusal)?;
            print_json(&json!({ "id": id, "state": "pending" }))?;
            eprintln!("message {id} is queued again");
        }
        AdminCommand::RotateSigningKey => {
            let next = keyfleet_core::oidc::keys::rotate(&ctx, &cli, &master)
                .await
                .map_err(refusal)?;
            let at = keyfleet_server::state::rfc3339(next.activates_at);
            println!("{}", json!({ "kid": next.kid, "activates_at": at }));
            eprintln!("signing key {} is published now and signs from {at}", next.kid);
        }
    }
    Ok(())
}

/// Every user matching `search`, by username, a page at a time.
async fn list_users(ctx: &Ctx<'_>, cli: &Principal, search: Option<String>) -> anyhow::Result<Vec<User>> {
    const PAGE: u32 = 200;
    let mut query = UserQuery {
        search: search.filter(|s| !s.is_empty()),
        after: None,
        limit: PAGE,
    };
    let mut all = Vec::new();
    loop {
        let page = users::list(ctx, cli, &query).await.map_err(refusal)?;
        let full = page.len() == PAGE as usize;
        query.after = page.last().map(|u| u.username.as_str().to_owned());
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}

/// `disable-user` and `enable-user`: through `users::update`, as the console's button does. A
/// user already in that state is left alone (no change, no audit event).
async fn set_enabled(
    ctx: &Ctx<'_>,
    cli: &Principal,
    stores: &Stores,
    username: &str,
    enabled: bool,
) -> anyhow::Result<()> {
    let user = user_named(stores, username).await?;
    let name = user.username.as_str().to_owned();
    let state = if enabled { "enabled" } else { "disabled" };
    let user = if user.enabled == enabled {
        eprintln!("{name} is already {state}; nothing changed");
        user
    } else {
        let change = UpdateUser {
            enabled: Some(enabled),
            ..UpdateUser::default()
        };
        let user = users::update(ctx, cli, user.id, change).await.map_err(refusal)?;
        if enabled {
            eprintln!("enabled {name}");
        } else {
            eprintln!("disabled {name}; their sessions ended");
        }
        user
    };
    print_json(&user_json(&user)?)
}

/// Users as aligned columns with a header line.
fn table(users: &[User]) -> String {
    let rows: Vec<[String; 5]> = users
        .iter()
        .map(|u| {
            [
                u.username.as_str().to_owned(),
                u.role.as_str().to_owned(),
                if u.enabled { "enabled" } else { "disabled" }.to_owned(),
                u.display_name.clone(),
                u.email.clone(),
            ]
        })
        .collect();
    let header = ["USERNAME", "ROLE", "STATUS", "DISPLAY NAME", "EMAIL"].map(str::to_owned);
    let mut widths = [0usize; 5];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row.iter().zip(widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::in_flags;

    #[test]
    fn core_messages_name_the_flags() {
        assert_eq!(
            in_flags("lifetimeMinutes must be between 10 and 43200"),
            "--minutes must be between 10 and 43200"
        );
        assert_eq!(
            in_flags("managerEmail is not a valid email address"),
            "--manager-email is not a valid email address"
        );
        assert_eq!(
            in_flags("email is not a valid email address"),
            "--email is not a valid email address"
        );
        assert_eq!(
            in_flags("client name must be 1 to 128 printable characters"),
            "--name must be 1 to 128 printable characters"
        );
        // Only a whole leading field is replaced.
        assert_eq!(in_flags("emailing failed"), "emailing failed");
        assert_eq!(in_flags("unknown scope \"x\""), "unknown scope \"x\"");
    }
}
