//! `keyfleet admin …`: first setup and automation, working directly on the database through
//! the same use cases (validation, audit) as the HTTP API. Results go to standard output;
//! everything else to standard error.

use anyhow::{Context as _, anyhow};
use clap::Subcommand;
use keyfleet_core::CoreError;
use keyfleet_core::access::Principal;
use keyfleet_core::clients;
use keyfleet_core::identity::taps;
use keyfleet_core::identity::users::{self, CreateUser};
use keyfleet_domain::audit::Actor;
use keyfleet_domain::tap::DEFAULT_LIFETIME_MINUTES;
use keyfleet_domain::user::{Role, Username};
use keyfleet_server::config::Settings;

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
    /// Create an API client; prints {"client_id", "client_secret"} as JSON.
    CreateClient {
        /// Name shown to administrators.
        #[arg(long)]
        name: String,
        /// Scopes: users:read, users:write, provisioning, shipments, audit:read.
        #[arg(long = "scope", num_args = 1.., required = true)]
        scopes: Vec<String>,
    },
}

fn service_error(e: CoreError) -> anyhow::Error {
    match e {
        CoreError::NotFound => anyhow!("not found"),
        other => anyhow!("{other}"),
    }
}

pub async fn run(cmd: AdminCommand, settings: Settings) -> anyhow::Result<()> {
    let stores = keyfleet_server::serve::open_stores(&settings.database_url).await?;
    let (core, _) = keyfleet_server::serve::core(&settings, stores.clone()).await?;
    let ctx = core.ctx(Actor::System, None);
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
            let user = users::create(&ctx, &cli, input).await.map_err(service_error)?;
            let json = serde_json::to_string(&keyfleet_server::api::UserJson::from(&user))?;
            println!("{json}");
            eprintln!("created user {} ({})", user.username.as_str(), user.id);
        }
        AdminCommand::IssueTap {
            username,
            minutes,
            one_time,
        } => {
            let name = Username::parse(&username).map_err(|e| anyhow!("--username: {e}"))?;
            let user = stores
                .users
                .find_user_by_username(&name)
                .await?
                .with_context(|| format!("no user {:?}", name.as_str()))?;
            let issued = taps::issue(&ctx, &cli, user.id, minutes, one_time)
                .await
                .map_err(service_error)?;
            println!("{}", issued.code);
            eprintln!(
                "temporary access pass for {} valid until {} ({})",
                user.username.as_str(),
                keyfleet_server::state::rfc3339(issued.tap.expires_at),
                if one_time { "one-time" } else { "multi-use" }
            );
        }
        AdminCommand::CreateClient { name, scopes } => {
            let scopes: Vec<String> = scopes
                .iter()
                .flat_map(|s| s.split([' ', ',']))
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            let created = clients::create(&ctx, &cli, &name, &scopes)
                .await
                .map_err(service_error)?;
            println!(
                "{}",
                serde_json::json!({ "client_id": created.client.client_id, "client_secret": created.secret })
            );
            eprintln!("created client {:?}; the secret is shown only now", created.client.name);
        }
    }
    Ok(())
}
