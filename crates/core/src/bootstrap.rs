//! First start: the administrator and their one-time setup pass.

use keyfleet_domain::audit::{Action, Target};
use keyfleet_domain::tap;
use keyfleet_domain::user::{NewUser, Role, Username};
use rand_core::OsRng;
use serde::Serialize;

use crate::audit::Detail;
use crate::{CoreError, Ctx};

/// The administrator created on first start and their setup code.
pub struct Bootstrap {
    /// Their username.
    pub username: String,
    /// The one-time setup TAP.
    pub code: String,
    /// Its lifetime in minutes.
    pub minutes: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bootstrapped<'a> {
    username: &'a str,
    tap_id: String,
}
impl Detail for Bootstrapped<'_> {}

/// On a database that has never been set up and has no users, creates the first
/// administrator with a one-time setup TAP. Returns it only to the one process that did so
/// (a marker row decides between processes starting together).
pub async fn bootstrap(ctx: &Ctx<'_>, username: &str, email: &str) -> Result<Option<Bootstrap>, CoreError> {
    if ctx.stores.users.count_users().await? > 0 {
        return Ok(None);
    }
    let user = NewUser {
        username: Username::parse(username).map_err(|e| CoreError::invalid("invalid_field", e.to_string()))?,
        display_name: "Administrator".into(),
        email: email.to_owned(),
        manager_email: None,
        shipping_address: None,
        role: Role::Admin,
    }
    .into_user(ctx.now, &mut OsRng);
    let minutes = tap::DEFAULT_LIFETIME_MINUTES;
    let issued = tap::issue(user.id, minutes, true, ctx.now, &mut OsRng)
        .map_err(|e| CoreError::invalid("invalid_lifetime", e.to_string()))?;
    let detail = Bootstrapped {
        username: user.username.as_str(),
        tap_id: issued.tap.id.to_string(),
    };
    let audit = ctx.audit_with(Action::SystemBootstrap, Some(Target::User(user.id)), &detail);
    let created = ctx.stores.users.bootstrap_admin(&user, &issued.tap, &audit).await?;
    Ok(created.then(|| Bootstrap {
        username: user.username.as_str().to_owned(),
        code: issued.code,
        minutes,
    }))
}
