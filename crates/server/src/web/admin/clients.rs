//! Console: API clients, for administrators only. The list with a create form, a client's
//! page (its secrets' ids and dates, rotate, revoke, enable or disable, delete), and the
//! result pages that show a new secret exactly once.
//!
//! Every page and action checks `ManageClients` ([`Staff::require`]), so a helpdesk user is refused with
//! 403 and an `access.denied` audit entry, as `crate::routes::clients` refuses them. Changes
//! go through `keyfleet_core::clients`, as that route does, with the same
//! audit actions. Secrets are never logged, never stored in clear, and appear only in the
//! answer to the request that made them (sent with `Cache-Control: no-store`).

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use keyfleet_domain::Timestamp;
use keyfleet_domain::client::{ApiClient, ClientSecret, Scope};
use keyfleet_domain::ids::SecretId;

use super::groups::refusal;
use super::{EnabledForm, Staff};
use crate::state::{AppState, rfc3339};
use crate::web::format::when;
use crate::web::page::Done;
use crate::web::page::PageForm;
use crate::web::page::{Nav, PageError, html_status, see_other};
use keyfleet_core::access::Permission;
use keyfleet_core::clients;

/// Completes "only an administrator may …" in the refusal (as the JSON routes say it).
const WHAT: Permission = Permission::ManageClients;

/// Routes of this section.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/clients", get(list).post(create))
        .route("/admin/clients/{id}", get(show))
        .route("/admin/clients/{id}/enabled", post(set_enabled))
        .route("/admin/clients/{id}/secrets", post(rotate))
        .route(
            "/admin/clients/{id}/secrets/{secret_id}/revoke",
            get(confirm_revoke).post(revoke),
        )
        .route("/admin/clients/{id}/delete", get(confirm_delete).post(delete))
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "enabled" => Some("The client was enabled. It can get access tokens again."),
        "disabled" => Some("The client was disabled. Its access tokens stopped working."),
        "revoked" => Some("The secret was revoked. It no longer works."),
        "deleted" => Some("The client was deleted. Its access tokens stopped working."),
        _ => None,
    }
}

/// What a scope lets a client do, for the create form.
fn scope_help(s: Scope) -> &'static str {
    match s {
        Scope::UsersRead => "Read users and their keys.",
        Scope::UsersWrite => "Create, change and delete users; issue temporary access passes; remove keys.",
        Scope::Provisioning => "Register keys on behalf of users (provisioning).",
        Scope::Shipments => "The pre-registration connector (key shipments).",
        Scope::AuditRead => "Read the audit log.",
        Scope::Scim => "Directory sync: provision users and groups over SCIM 2.0.",
    }
}

/// A duration in words: "90 minutes", "2 hours", "1 day".
fn duration_words(d: Duration) -> String {
    let minutes = d.as_secs() / 60;
    let (n, unit) = match minutes {
        m if m >= 1440 && m % 1440 == 0 => (m / 1440, "day"),
        m if m >= 60 && m % 60 == 0 => (m / 60, "hour"),
        m => (m, "minute"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// One client as the pages show it.
struct ClientRow {
    client_id: String,
    name: String,
    scopes: String,
    enabled: bool,
    created: String,
    created_iso: String,
}

impl From<&ApiClient> for ClientRow {
    fn from(c: &ApiClient) -> Self {
        ClientRow {
            client_id: c.client_id.clone(),
            name: c.name.clone(),
            scopes: c.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
            enabled: c.enabled,
            created: when(c.created_at),
            created_iso: rfc3339(c.created_at),
        }
    }
}

/// One secret as the client's page shows it: its id and dates, never the secret or its hash.
struct SecretRow {
    id: String,
    created: String,
    created_iso: String,
    /// When it stops (or stopped) working; empty when it does not expire.
    expires: String,
    expires_iso: String,
    /// Past its expiry.
    expired: bool,
}

impl SecretRow {
    fn new(s: &ClientSecret, now: Timestamp) -> Self {
        SecretRow {
            id: s.id.to_string(),
            created: when(s.created_at),
            created_iso: rfc3339(s.created_at),
            expires: s.expires_at.map(when).unwrap_or_default(),
            expires_iso: s.expires_at.map(rfc3339).unwrap_or_default(),
            expired: s.expires_at.is_some_and(|e| e <= now),
        }
    }
}

/// A scope checkbox on the create form.
struct ScopeBox {
    value: &'static str,
    help: &'static str,
    checked: bool,
}

#[derive(askama::Template)]
#[template(path = "admin/clients.html")]
struct ClientsPage {
    nav: Nav,
    clients: Vec<ClientRow>,
    notice: Option<&'static str>,
    error: Option<String>,
    name: String,
    scopes: Vec<ScopeBox>,
}

async fn render_list(
    state: &AppState,
    staff: &Staff,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
    form: &CreateForm,
) -> Result<Response, PageError> {
    let clients = state.stores.clients.list_clients().await?;
    let page = ClientsPage {
        nav: staff.viewer.nav("clients"),
        clients: clients.iter().map(ClientRow::from).collect(),
        notice,
        error,
        name: form.name.clone(),
        scopes: Scope::ALL
            .into_iter()
            .map(|s| ScopeBox {
                value: s.as_str(),
                help: scope_help(s),
                checked: form.scopes.iter().any(|v| v == s.as_str()),
            })
            .collect(),
    };
    Ok(html_status(status, &page))
}

/// `GET /admin/clients`.
async fn list(State(state): State<AppState>, staff: Staff, Query(q): Query<Done>) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    let n = notice(q.done.as_deref());
    render_list(&state, &staff, StatusCode::OK, n, None, &CreateForm::default()).await
}

/// The create form: a name and any number of `scope` checkboxes.
#[derive(Debug, Default)]
struct CreateForm {
    name: String,
    scopes: Vec<String>,
}

impl CreateForm {
    /// Reads the form's fields (repeated `scope` fields are why this is not a struct).
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = CreateForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "name" => form.name = v,
                "scope" => form.scopes.push(v),
                _ => {}
            }
        }
        form
    }
}

#[derive(askama::Template)]
#[template(path = "admin/client_secret.html")]
struct SecretPage {
    nav: Nav,
    /// A new client (else a rotation).
    created: bool,
    client: ClientRow,
    secret: String,
    /// After a rotation: when the earlier secrets stop working, in words and RFC 3339.
    previous_expire: String,
    previous_expire_iso: String,
    phase_out: String,
    phase_out_zero: bool,
}

/// Shows a secret: never cached, never kept.
fn secret_page(page: &SecretPage) -> Response {
    let mut res = html_status(StatusCode::OK, page);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `POST /admin/clients`: creates the client and shows its secret once.
async fn create(
    State(state): State<AppState>,
    staff: Staff,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    let form = CreateForm::from_pairs(pairs);
    match clients::create(&staff.ctx(&state), &staff.principal(), &form.name, &form.scopes).await {
        Ok(created) => Ok(secret_page(&SecretPage {
            nav: staff.viewer.nav("clients"),
            created: true,
            client: ClientRow::from(&created.client),
            secret: created.secret,
            previous_expire: String::new(),
            previous_expire_iso: String::new(),
            phase_out: String::new(),
            phase_out_zero: false,
        })),
        Err(e) => {
            let (status, message) = refusal(e)?;
            let msg = format!("The client was not created. {message}");
            render_list(&state, &staff, status, None, Some(msg), &form).await
        }
    }
}

#[derive(askama::Template)]
#[template(path = "admin/client.html")]
struct ClientPage {
    nav: Nav,
    client: ClientRow,
    secrets: Vec<SecretRow>,
    notice: Option<&'static str>,
    error: Option<String>,
    phase_out: String,
}

async fn load(state: &AppState, id: &str) -> Result<ApiClient, PageError> {
    state
        .stores
        .clients
        .get_client(id)
        .await?
        .ok_or_else(PageError::not_found)
}

async fn render_client(
    state: &AppState,
    staff: &Staff,
    id: &str,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let client = load(state, id).await?;
    let secrets = state.stores.clients.list_secrets(&client.client_id).await?;
    let now = state.now();
    let page = ClientPage {
        nav: staff.viewer.nav("clients"),
        client: ClientRow::from(&client),
        secrets: secrets.iter().map(|s| SecretRow::new(s, now)).collect(),
        notice,
        error,
        phase_out: duration_words(state.settings.client_secret_phase_out),
    };
    Ok(html_status(status, &page))
}

/// `GET /admin/clients/{id}`.
async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    render_client(&state, &staff, &id, StatusCode::OK, notice(q.done.as_deref()), None).await
}

/// `POST /admin/clients/{id}/enabled`: `enabled=true` or `enabled=false`, audited as
/// `client.enable` or `client.disable` like `PATCH /api/v1/clients/{id}`.
async fn set_enabled(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    PageForm(form): PageForm<EnabledForm>,
) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    let Some(enabled) = form.choice() else {
        return Err(PageError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "That did not work",
            "The form did not say whether to enable or disable the client. Nothing was changed.",
        ));
    };
    clients::set_enabled(&staff.ctx(&state), &staff.principal(), &id, enabled).await?;
    let done = if enabled { "enabled" } else { "disabled" };
    Ok(see_other(&format!("{}?done={done}", client_path(&id))))
}

/// The client's page, with its id percent-encoded.
fn client_path(id: &str) -> String {
    let mut out = "/admin/clients/".to_owned();
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `POST /admin/clients/{id}/secrets`: adds a secret, shows it once, and phases the earlier
/// one out after `client_secret_phase_out`.
async fn rotate(State(state): State<AppState>, staff: Staff, Path(id): Path<String>) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    let phase_out = state.core.config.clients.secret_phase_out;
    match clients::rotate(&staff.ctx(&state), &staff.principal(), &id).await {
        Ok(r) => {
            let client = load(&state, &id).await?;
            Ok(secret_page(&SecretPage {
                nav: staff.viewer.nav("clients"),
                created: false,
                client: ClientRow::from(&client),
                secret: r.secret,
                previous_expire: when(r.previous_expire_at),
                previous_expire_iso: rfc3339(r.previous_expire_at),
                phase_out: duration_words(phase_out),
                phase_out_zero: phase_out.is_zero(),
            }))
        }
        Err(e) => {
            let (status, message) = refusal(e)?;
            let msg = format!("No secret was added. {message}");
            render_client(&state, &staff, &id, status, None, Some(msg)).await
        }
    }
}

#[derive(askama::Template)]
#[template(path = "admin/client_confirm.html")]
struct ConfirmPage {
    nav: Nav,
    client: ClientRow,
    /// The secret to revoke; `None` when the client itself is to be deleted.
    secret: Option<SecretRow>,
    /// Revoking this secret leaves the client without a working one.
    last_live: bool,
    token_lifetime: String,
}

fn secret_id(text: &str) -> Result<SecretId, PageError> {
    text.parse().map_err(|_| PageError::not_found())
}

/// `GET /admin/clients/{id}/secrets/{secret_id}/revoke`: what revoking does, and the button.
async fn confirm_revoke(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, sid)): Path<(String, String)>,
) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    let sid = secret_id(&sid)?;
    let client = load(&state, &id).await?;
    let secrets = state.stores.clients.list_secrets(&client.client_id).await?;
    let now = state.now();
    let secret = secrets.iter().find(|s| s.id == sid).ok_or_else(PageError::not_found)?;
    let live = |s: &&ClientSecret| s.expires_at.is_none_or(|e| now < e);
    let last_live = live(&secret) && secrets.iter().filter(live).count() == 1;
    let page = ConfirmPage {
        nav: staff.viewer.nav("clients"),
        client: ClientRow::from(&client),
        secret: Some(SecretRow::new(secret, now)),
        last_live,
        token_lifetime: duration_words(state.settings.access_token_lifetime),
    };
    Ok(html_status(StatusCode::OK, &page))
}

/// `POST /admin/clients/{id}/secrets/{secret_id}/revoke`.
async fn revoke(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, sid)): Path<(String, String)>,
) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    let sid = secret_id(&sid)?;
    clients::revoke_secret(&staff.ctx(&state), &staff.principal(), &id, sid).await?;
    Ok(see_other(&format!("{}?done=revoked", client_path(&id))))
}

/// `GET /admin/clients/{id}/delete`: what deletion does, and the button.
async fn confirm_delete(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    let client = load(&state, &id).await?;
    let page = ConfirmPage {
        nav: staff.viewer.nav("clients"),
        client: ClientRow::from(&client),
        secret: None,
        last_live: false,
        token_lifetime: duration_words(state.settings.access_token_lifetime),
    };
    Ok(html_status(StatusCode::OK, &page))
}

/// `POST /admin/clients/{id}/delete`.
async fn delete(State(state): State<AppState>, staff: Staff, Path(id): Path<String>) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    clients::delete(&staff.ctx(&state), &staff.principal(), &id).await?;
    Ok(see_other("/admin/clients?done=deleted"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_words() {
        assert_eq!(duration_words(Duration::from_secs(0)), "0 minutes");
        assert_eq!(duration_words(Duration::from_secs(60)), "1 minute");
        assert_eq!(duration_words(Duration::from_secs(90 * 60)), "90 minutes");
        assert_eq!(duration_words(Duration::from_secs(2 * 3600)), "2 hours");
        assert_eq!(duration_words(Duration::from_secs(86_400)), "1 day");
    }

    #[test]
    fn client_paths_are_encoded() {
        assert_eq!(client_path("kfc_AbC-1"), "/admin/clients/kfc_AbC-1");
        assert_eq!(client_path("a/b?c"), "/admin/clients/a%2Fb%3Fc");
    }
}
