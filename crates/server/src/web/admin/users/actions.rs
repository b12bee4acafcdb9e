//! Console: a user's page, the actions behind its buttons: confirmations and removal of a key,
//! reset of all keys, deletion of the user; the temporary access pass shown once; group
//! membership; ending the user's sessions.

use super::*;

// ---------------------------------------------------------------------------------------
// Confirmations: remove a key, reset all keys, delete the user

/// A label and value on a confirmation page.
pub struct Fact {
    label: &'static str,
    value: String,
    mono: bool,
}

#[derive(askama::Template)]
#[template(path = "admin/user_confirm.html")]
struct ConfirmPage {
    nav: Nav,
    title: String,
    user_id: String,
    lines: Vec<String>,
    facts: Vec<Fact>,
    action: String,
    button: &'static str,
}

fn fact(label: &'static str, value: impl Into<String>) -> Fact {
    Fact {
        label,
        value: value.into(),
        mono: false,
    }
}

fn user_facts(u: &User) -> Vec<Fact> {
    vec![
        fact("Username", u.username.as_str()),
        fact("Display name", u.display_name.as_str()),
        fact("Role", role_label(u.role)),
    ]
}

fn key_id(text: &str) -> Result<Vec<u8>, PageError> {
    unb64(text).filter(|id| !id.is_empty()).ok_or_else(PageError::not_found)
}

/// The user and one of their keys; another user's key, or an id that is not one, is not
/// found.
async fn user_key(state: &AppState, staff: &Staff, id: &str, key: &str) -> Result<(User, Credential), PageError> {
    let user = target(state, staff, id).await?;
    let raw = key_id(key)?;
    let cred = keys::get_own(&staff.ctx(state), user.id, &raw).await?;
    Ok((user, cred))
}

/// `GET /admin/users/{id}/keys/{key}/remove`: what removal does, and the button.
pub(super) async fn confirm_remove_key(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let (user, cred) = user_key(&state, &staff, &id, &key).await?;
    let count = state.stores.credentials.list_user_credentials(user.id).await?.len();
    let mut lines = vec![
        format!(
            "The key “{}” stops working at once: nobody can sign in with it any more.",
            cred.nickname
        ),
        "Every session opened with this key ends now.".to_owned(),
    ];
    if count <= 1 {
        lines.push(format!(
            "This is the only key of {}. To sign in again they will need a temporary access pass, then add a new key.",
            user.display_name
        ));
    }
    let row = KeyRow::new(&cred);
    let mut facts = user_facts(&user);
    facts.extend([
        fact("Key", row.nickname),
        fact("Model", row.model),
        Fact {
            label: "AAGUID",
            value: row.aaguid,
            mono: true,
        },
        fact("Added", row.added),
        fact("Last used", row.last_used),
    ]);
    let page = ConfirmPage {
        nav: staff.viewer.nav("users"),
        title: format!("Remove the key “{}”?", cred.nickname),
        user_id: user.id.to_string(),
        lines,
        facts,
        action: format!("/admin/users/{}/keys/{}/remove", user.id, row.id),
        button: "Remove the key and end its sessions",
    };
    Ok(html(&page))
}

/// `POST /admin/users/{id}/keys/{key}/remove`: removes the key and ends its sessions.
pub(super) async fn remove_key(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let (user, cred) = user_key(&state, &staff, &id, &key).await?;
    keys::remove_for_user(&staff.ctx(&state), &staff.principal(), user.id, &cred.id).await?;
    back(&state, &staff, &user_path(user.id, "key-removed")).await
}

/// `GET /admin/users/{id}/reset`: what a reset does, and the button.
pub(super) async fn confirm_reset(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let user = target(&state, &staff, &id).await?;
    let count = state.stores.credentials.list_user_credentials(user.id).await?.len();
    let keys = if count == 1 { "key" } else { "keys" };
    let lines = vec![
        format!(
            "All security keys of {} are removed ({count} {keys}) and every session they have ends now, \
             whatever it was opened with.",
            user.display_name
        ),
        "To sign in again they will need a temporary access pass, then add a new key.".to_owned(),
    ];
    let page = ConfirmPage {
        nav: staff.viewer.nav("users"),
        title: format!("Reset all keys of {}?", user.display_name),
        user_id: user.id.to_string(),
        lines,
        facts: user_facts(&user),
        action: format!("/admin/users/{}/reset", user.id),
        button: "Remove all keys and end all sessions",
    };
    Ok(html(&page))
}

/// `POST /admin/users/{id}/reset`: removes every key and ends every session.
pub(super) async fn reset(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let user = target(&state, &staff, &id).await?;
    keys::reset(&staff.ctx(&state), &staff.principal(), user.id).await?;
    back(&state, &staff, &user_path(user.id, "reset")).await
}

/// `GET /admin/users/{id}/delete` (administrators): what deletion does, and the button.
pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    staff.require(&state, Permission::DeleteUsers).await?;
    let user = target(&state, &staff, &id).await?;
    let lines = vec![
        format!(
            "{} is deleted with their security keys, sessions, temporary access pass and group memberships.",
            user.display_name
        ),
        "The audit log keeps their history. This cannot be undone.".to_owned(),
    ];
    let page = ConfirmPage {
        nav: staff.viewer.nav("users"),
        title: format!("Delete {}?", user.display_name),
        user_id: user.id.to_string(),
        lines,
        facts: user_facts(&user),
        action: format!("/admin/users/{}/delete", user.id),
        button: "Delete the user",
    };
    Ok(html(&page))
}

/// `POST /admin/users/{id}/delete` (administrators).
pub(super) async fn delete(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    staff.require(&state, Permission::DeleteUsers).await?;
    let user = target(&state, &staff, &id).await?;
    match users::delete(&staff.ctx(&state), &staff.principal(), user.id).await {
        Ok(()) => Ok(see_other("/admin/users?done=deleted")),
        Err(e) => Err(refused(e)),
    }
}

// ---------------------------------------------------------------------------------------
// Temporary access pass

/// The TAP form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct TapForm {
    lifetime_minutes: String,
    /// Present (the checkbox) for a one-time pass.
    one_time: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "admin/user_tap.html")]
struct TapPage {
    nav: Nav,
    user_id: String,
    username: String,
    display_name: String,
    code: String,
    expires: String,
    expires_iso: String,
    one_time: bool,
    lifetime_minutes: u32,
}

fn lifetime_rule() -> String {
    format!(
        "The pass was not issued: the lifetime must be a whole number of minutes from {MIN_LIFETIME_MINUTES} to \
         {MAX_LIFETIME_MINUTES} (30 days)."
    )
}

/// `POST /admin/users/{id}/tap`: issues a pass (replacing any earlier one) and shows its code
/// once. The answer is a page, not a redirect, and is never cached.
pub(super) async fn issue_tap(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    PageForm(form): PageForm<TapForm>,
) -> Result<Response, PageError> {
    let user = target(&state, &staff, &id).await?;
    let tap_error = |msg: String| Shown {
        lifetime: Some(form.lifetime_minutes.clone()),
        ..Shown::error(msg)
    };
    let Ok(minutes) = form.lifetime_minutes.trim().parse::<u32>() else {
        return render_user(&state, &staff, &user, tap_error(lifetime_rule())).await;
    };
    let one_time = form.one_time.is_some();
    let issued = match taps::issue(&staff.ctx(&state), &staff.principal(), user.id, minutes, one_time).await {
        Ok(issued) => issued,
        Err(CoreError::Invalid {
            code: "invalid_lifetime",
            ..
        }) => return render_user(&state, &staff, &user, tap_error(lifetime_rule())).await,
        Err(CoreError::Invalid { message, .. }) => {
            let msg = format!("The pass was not issued: {}.", for_people(&message));
            return render_user(&state, &staff, &user, tap_error(msg)).await;
        }
        Err(e) => return Err(refused(e)),
    };
    let page = TapPage {
        nav: staff.viewer.nav("users"),
        user_id: user.id.to_string(),
        username: user.username.as_str().to_owned(),
        display_name: user.display_name.clone(),
        code: issued.code,
        expires: when(issued.tap.expires_at),
        expires_iso: rfc3339(issued.tap.expires_at),
        one_time,
        lifetime_minutes: minutes,
    };
    let mut res = html(&page);
    // The code is in this answer only: no cache may keep it (the global default says the
    // same; this page must not depend on it).
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

// ---------------------------------------------------------------------------------------
// Groups and sessions

/// The add-to-group form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct GroupForm {
    group: String,
}

/// `POST /admin/users/{id}/groups` (administrators): adds the user to a group.
pub(super) async fn add_group(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    PageForm(form): PageForm<GroupForm>,
) -> Result<Response, PageError> {
    let user = target(&state, &staff, &id).await?;
    let group: GroupId = parse_id(form.group.trim())?;
    groups::add_member(&staff.ctx(&state), &staff.principal(), group, user.id).await?;
    back(&state, &staff, &user_path(user.id, "group-added")).await
}

/// `POST /admin/users/{id}/groups/{group}/remove` (administrators).
pub(super) async fn remove_group(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, group)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let user = target(&state, &staff, &id).await?;
    let group: GroupId = parse_id(&group)?;
    groups::remove_member(&staff.ctx(&state), &staff.principal(), group, user.id).await?;
    back(&state, &staff, &user_path(user.id, "group-removed")).await
}

/// `POST /admin/users/{id}/sessions/revoke`: ends every session of the user.
pub(super) async fn revoke_sessions(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let user = target(&state, &staff, &id).await?;
    sessions::end_all_for_user(&staff.ctx(&state), &staff.principal(), user.id).await?;
    back(&state, &staff, &user_path(user.id, "sessions-ended")).await
}
