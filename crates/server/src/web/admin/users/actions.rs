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
    /// Hidden fields the form sends (name, value).
    hidden: Vec<(&'static str, &'static str)>,
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
        fact("Role", role_name(u.role)),
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
    let (key_id, facts) = key_facts(&user, &cred, "Key");
    let page = ConfirmPage {
        nav: staff.viewer.nav("users"),
        title: format!("Remove the key “{}”?", cred.nickname),
        user_id: user.id.to_string(),
        lines,
        facts,
        action: format!("/admin/users/{}/keys/{}/remove", user.id, key_id),
        hidden: Vec::new(),
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

/// `GET /admin/users/{id}/keys/{key}/reassign`: what reassigning a band does, and the button.
/// A key that is not a band is not offered (the page would refuse it anyway).
pub(super) async fn confirm_reassign_band(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let (user, cred) = user_key(&state, &staff, &id, &key).await?;
    if !keys::is_band(&cred) {
        return Err(PageError::not_found());
    }
    let lines = vec![
        format!(
            "The band “{}” is taken from {} to be given to another wearer.",
            cred.nickname, user.display_name
        ),
        format!(
            "{}'s credential on it is removed now: nobody can sign in as {} with this band any more, \
             and every session opened with it ends.",
            user.display_name, user.display_name
        ),
        "Then wipe the band itself (keyfleet key reassign: its credentials and fingerprint are deleted) \
         so that the next wearer can enrol."
            .to_owned(),
    ];
    let (key_id, facts) = key_facts(&user, &cred, "Band");
    let page = ConfirmPage {
        nav: staff.viewer.nav("users"),
        title: format!("Reassign the band “{}”?", cred.nickname),
        user_id: user.id.to_string(),
        lines,
        facts,
        action: format!("/admin/users/{}/keys/{}/reassign", user.id, key_id),
        hidden: Vec::new(),
        button: "Reassign the band",
    };
    Ok(html(&page))
}

/// `POST /admin/users/{id}/keys/{key}/reassign`: removes the user's band credential and ends its
/// sessions (`keys::reassign_band`).
pub(super) async fn reassign_band(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let (user, cred) = user_key(&state, &staff, &id, &key).await?;
    keys::reassign_band(&staff.ctx(&state), &staff.principal(), user.id, &cred.id).await?;
    back(&state, &staff, &user_path(user.id, "band-reassigned")).await
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
        hidden: Vec::new(),
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
        hidden: Vec::new(),
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
    /// The code in blocks of four characters, for reading out.
    code_groups: Vec<String>,
    /// The code as one word, for the copy button.
    code: String,
    expires: String,
    expires_iso: String,
    one_time: bool,
    lifetime_minutes: u32,
}

/// A code in blocks of four (`ABCD EFGH …`): easier to read out and to check.
fn blocks_of_four(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    chars.chunks(4).map(|c| c.iter().collect()).collect()
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
    // Post/redirect/get: the code travels to the page that shows it once in a cookie sealed
    // under the master key, bound to this user and this pass, for five minutes. A reload of
    // that page shows the pass's status, never a new code; issuing again takes the button.
    let sealed = state.master.encrypt(
        format!("{}\n{}", issued.tap.id, issued.code).as_bytes(),
        tap_cookie_aad(user.id).as_bytes(),
    );
    let path = format!("/admin/users/{}/tap", user.id);
    let secure = if state.settings.secure_cookies { "; Secure" } else { "" };
    let cookie = format!(
        "{TAP_COOKIE}={}; Path={path}; Max-Age=300; HttpOnly; SameSite=Strict{secure}",
        b64(&sealed)
    );
    let mut res = see_other(&path);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// The cookie that carries a just-issued code to the page that shows it.
const TAP_COOKIE: &str = "kf_tap_shown";

fn tap_cookie_aad(user: UserId) -> String {
    format!("keyfleet-tap-shown:{user}")
}

/// The code sealed in the request's cookie, if it is this user's current pass.
fn sealed_code(state: &AppState, headers: &axum::http::HeaderMap, user: UserId, tap: &Tap) -> Option<String> {
    let value = crate::auth::cookie(headers, TAP_COOKIE)?;
    let plain = state
        .master
        .decrypt(&unb64(value)?, tap_cookie_aad(user).as_bytes())
        .ok()?;
    let text = std::str::from_utf8(&plain).ok()?;
    let (id, code) = text.split_once('\n')?;
    (id == tap.id.to_string()).then(|| code.to_owned())
}

#[derive(askama::Template)]
#[template(path = "admin/user_tap_status.html")]
struct TapStatusPage {
    nav: Nav,
    user_id: String,
    display_name: String,
    usable: bool,
    expires: String,
    expires_iso: String,
    one_time: bool,
    uses: String,
    lifetime: u32,
    min_lifetime: u32,
    max_lifetime: u32,
}

/// `GET /admin/users/{id}/tap`: the code of the pass just issued, once (from the sealed
/// cookie, which this answer clears); otherwise the pass's status and a button to issue a new
/// one. Never issues anything itself.
pub(super) async fn show_tap(
    State(state): State<AppState>,
    staff: Staff,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let user = target(&state, &staff, &id).await?;
    let Some(tap) = taps::find_for_user(&staff.ctx(&state), &staff.principal(), user.id).await? else {
        return Ok(see_other(&user_path(user.id, "no-tap")));
    };
    let code = sealed_code(&state, &headers, user.id, &tap).filter(|_| tap.is_usable(state.now()));
    let mut res = match code {
        Some(code) => html(&TapPage {
            nav: staff.viewer.nav("users"),
            user_id: user.id.to_string(),
            username: user.username.as_str().to_owned(),
            display_name: user.display_name.clone(),
            code_groups: blocks_of_four(&code),
            code,
            expires: when(tap.expires_at),
            expires_iso: rfc3339(tap.expires_at),
            one_time: tap.one_time,
            lifetime_minutes: u32::try_from((tap.expires_at.as_millis() - tap.created_at.as_millis()) / 60_000)
                .unwrap_or(0),
        }),
        None => html(&TapStatusPage {
            nav: staff.viewer.nav("users"),
            user_id: user.id.to_string(),
            display_name: user.display_name.clone(),
            usable: tap.is_usable(state.now()),
            expires: when(tap.expires_at),
            expires_iso: rfc3339(tap.expires_at),
            one_time: tap.one_time,
            uses: super::uses_text(tap.use_count),
            lifetime: DEFAULT_LIFETIME_MINUTES,
            min_lifetime: MIN_LIFETIME_MINUTES,
            max_lifetime: MAX_LIFETIME_MINUTES,
        }),
    };
    let h = res.headers_mut();
    // The code is in this answer only: no cache may keep it, and the cookie goes.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let clear = format!(
        "{TAP_COOKIE}=; Path=/admin/users/{}/tap; Max-Age=0; HttpOnly; SameSite=Strict",
        user.id
    );
    if let Ok(v) = HeaderValue::from_str(&clear) {
        h.append(header::SET_COOKIE, v);
    }
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

/// `POST /admin/users/{id}/sessions/{session}/end`: ends one session of the user.
pub(super) async fn end_session(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, session)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let user = target(&state, &staff, &id).await?;
    let session = parse_id(&session)?;
    sessions::end_one_for_user(&staff.ctx(&state), &staff.principal(), user.id, session).await?;
    back(&state, &staff, &user_path(user.id, "session-ended")).await
}

/// `POST /admin/users/{id}/tap/revoke`: the pass stops working at once.
pub(super) async fn revoke_tap(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let user = target(&state, &staff, &id).await?;
    match taps::revoke(&staff.ctx(&state), &staff.principal(), user.id).await {
        Ok(()) => back(&state, &staff, &user_path(user.id, "tap-revoked")).await,
        Err(CoreError::NotFound) => Ok(see_other(&user_path(user.id, "no-tap"))),
        Err(e) => Err(refused(e)),
    }
}

/// `GET /admin/users/{id}/disable`: what disabling does, and the button (the form posts to
/// `/admin/users/{id}/enabled` with `enabled=false`).
pub(super) async fn confirm_disable(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let user = target(&state, &staff, &id).await?;
    if !user.enabled {
        return Ok(see_other(&format!("/admin/users/{}", user.id)));
    }
    let live = state
        .stores
        .sessions
        .list_user_sessions(user.id, state.now())
        .await?
        .len();
    let sessions = match live {
        0 => "They have no open session.".to_owned(),
        1 => "Their 1 open session ends now.".to_owned(),
        n => format!("Their {n} open sessions end now."),
    };
    let mut lines = vec![
        format!(
            "{} can no longer sign in: not with a security key, not with a temporary access pass. {sessions}",
            user.display_name
        ),
        "Their keys, groups and history stay. At sign-in they are told that their account is disabled.".to_owned(),
        "You can enable the account again at any time.".to_owned(),
    ];
    if user.id == staff.viewer.user.id {
        lines.push("This is your own account: you will be signed out and cannot sign in again.".to_owned());
    }
    let page = ConfirmPage {
        nav: staff.viewer.nav("users"),
        title: format!("Disable {}?", user.display_name),
        user_id: user.id.to_string(),
        lines,
        facts: user_facts(&user),
        action: format!("/admin/users/{}/enabled", user.id),
        hidden: vec![("enabled", "false")],
        button: "Disable the user and end their sessions",
    };
    Ok(html(&page))
}

/// The facts a confirmation about one of the user's keys shows: the user's, then the key's
/// (`label` names it: "Key", "Band").
fn key_facts(user: &User, cred: &Credential, label: &'static str) -> (String, Vec<Fact>) {
    // The community list's name (a confirmation does not look the metadata up).
    let row = KeyRow::new(cred, &crate::web::models::Models::default());
    let mut facts = user_facts(user);
    facts.extend([
        fact(label, row.nickname),
        fact("Model", row.model),
        Fact {
            label: "AAGUID",
            value: row.aaguid,
            mono: true,
        },
        fact("Added", row.added),
        fact("Last used", row.last_used),
    ]);
    (row.id, facts)
}

/// `POST /admin/users/{id}/keys/{key}/returned`: a key flagged for collection was handed
/// back; it is removed.
pub(super) async fn mark_returned(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let (user, cred) = user_key(&state, &staff, &id, &key).await?;
    keys::mark_returned(&staff.ctx(&state), &staff.principal(), user.id, &cred.id).await?;
    back(&state, &staff, &user_path(user.id, "key-returned")).await
}

/// `POST /admin/users/{id}/restore`: undoes a directory deletion within the recovery period.
pub(super) async fn restore(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id: keyfleet_domain::UserId = id.parse().map_err(|_| PageError::not_found())?;
    keyfleet_core::directory::lifecycle::restore(&staff.ctx(&state), &staff.principal(), id).await?;
    back(&state, &staff, &user_path(id, "restored")).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_out_in_blocks_of_four() {
        assert_eq!(
            blocks_of_four("ABCDEFGHJKMNPQRSTUVW"),
            ["ABCD", "EFGH", "JKMN", "PQRS", "TUVW"]
        );
        assert_eq!(blocks_of_four("ABCDEF"), ["ABCD", "EF"]);
        assert_eq!(super::super::uses_text(0), "not used yet");
        assert_eq!(super::super::uses_text(1), "used 1 time");
        assert_eq!(super::super::uses_text(2), "used 2 times");
    }
}
