//! Console: single sign-on applications. The list; a new application's form (its secret shown
//! once on the next page); an application's page (its settings as a form for
//! administrators, read-only for helpdesk staff); deletion with a confirmation.
//!
//! Every read and change is the use case the JSON routes call
//! (`keyfleet_core::oidc::applications`): reading needs `ReadApplications` (administrators and
//! helpdesk), changing `ManageApplications` (administrators), with the same validation and
//! audit. The secret is never logged and appears only in the answer that made it
//! (`Cache-Control: no-store`).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use keyfleet_core::CoreError;
use keyfleet_core::access::Permission;
use keyfleet_core::oidc::applications::{
    self, ApplicationInput, ApplicationPatch, DEFAULT_ACCESS_TOKEN_LIFETIME_S, DEFAULT_REFRESH_TOKEN_LIFETIME_S,
};
use keyfleet_core::strengths;
use keyfleet_domain::oidc::{Application, SCOPES};

use super::Staff;
use super::groups::refusal;
use crate::state::AppState;
use crate::web::page::{Done, Nav, PageError, PageForm, html_status, see_other};

/// What changing applications needs (administrators); reading them needs
/// `ReadApplications` (administrators and helpdesk staff), checked by the core's reads.
const WHAT: Permission = Permission::ManageApplications;

/// Routes of this section.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/applications", get(list))
        .route("/admin/applications/new", get(new).post(create))
        .route("/admin/applications/{id}", get(show).post(save))
        .route("/admin/applications/{id}/delete", get(confirm_delete).post(delete))
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "created" => Some("The application was created."),
        "saved" => Some("The application was saved."),
        "deleted" => Some("The application was deleted. Its sign-ins and tokens stopped working."),
        _ => None,
    }
}

/// The application's page, with its id percent-encoded.
fn app_path(id: &str) -> String {
    let mut out = "/admin/applications/".to_owned();
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One application as the list shows it.
struct AppRow {
    client_id: String,
    name: String,
    client_type: &'static str,
    redirect_uris: String,
    strength: String,
    third_party: bool,
}

impl From<&Application> for AppRow {
    fn from(a: &Application) -> Self {
        AppRow {
            client_id: a.client_id.clone(),
            name: a.name.clone(),
            client_type: a.client_type.as_str(),
            redirect_uris: a.redirect_uris.join(" "),
            strength: a.authentication_strength.clone().unwrap_or_default(),
            third_party: a.third_party,
        }
    }
}

#[derive(askama::Template)]
#[template(path = "admin/applications.html")]
struct ListPage {
    nav: Nav,
    manage: bool,
    applications: Vec<AppRow>,
    notice: Option<&'static str>,
}

/// `GET /admin/applications`.
async fn list(State(state): State<AppState>, staff: Staff, Query(q): Query<Done>) -> Result<Response, PageError> {
    let all = applications::list(&staff.ctx(&state), &staff.principal()).await?;
    let page = ListPage {
        nav: staff.viewer.nav("applications"),
        manage: staff.principal().may(WHAT),
        applications: all.iter().map(AppRow::from).collect(),
        notice: notice(q.done.as_deref()),
    };
    Ok(html_status(StatusCode::OK, &page))
}

/// The form (also the values kept when it is shown again after a refusal).
#[derive(Debug, Default, Clone)]
struct AppForm {
    name: String,
    /// `confidential` or `public` (new applications only).
    client_type: String,
    /// One URI per line.
    redirect_uris: String,
    /// One URI per line.
    post_logout_redirect_uris: String,
    scopes: Vec<String>,
    access_token_lifetime: String,
    refresh_token_lifetime: String,
    /// A strength's id, or empty for none.
    strength: String,
    backchannel_logout_uri: String,
    /// `on` for a third-party application.
    third_party: String,
}

impl AppForm {
    fn fresh() -> Self {
        AppForm {
            client_type: "confidential".into(),
            scopes: SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            access_token_lifetime: DEFAULT_ACCESS_TOKEN_LIFETIME_S.to_string(),
            refresh_token_lifetime: DEFAULT_REFRESH_TOKEN_LIFETIME_S.to_string(),
            ..AppForm::default()
        }
    }

    fn of(a: &Application) -> Self {
        AppForm {
            name: a.name.clone(),
            client_type: a.client_type.as_str().to_owned(),
            redirect_uris: a.redirect_uris.join("\n"),
            post_logout_redirect_uris: a.post_logout_redirect_uris.join("\n"),
            scopes: a.scopes.clone(),
            access_token_lifetime: a.access_token_lifetime_s.to_string(),
            refresh_token_lifetime: a.refresh_token_lifetime_s.to_string(),
            strength: a.authentication_strength.clone().unwrap_or_default(),
            backchannel_logout_uri: a.backchannel_logout_uri.clone().unwrap_or_default(),
            third_party: if a.third_party { "on".into() } else { String::new() },
        }
    }

    /// Reads the form's fields (repeated `scope` fields are why this is not a struct).
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut f = AppForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "name" => f.name = v,
                "client_type" => f.client_type = v,
                "redirect_uris" => f.redirect_uris = v,
                "post_logout_redirect_uris" => f.post_logout_redirect_uris = v,
                "scope" => f.scopes.push(v),
                "access_token_lifetime" => f.access_token_lifetime = v,
                "refresh_token_lifetime" => f.refresh_token_lifetime = v,
                "strength" => f.strength = v,
                "backchannel_logout_uri" => f.backchannel_logout_uri = v,
                "third_party" => f.third_party = v,
                _ => {}
            }
        }
        f
    }

    fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// URIs typed one per line (blank lines ignored), kept exactly as typed otherwise.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn seconds(text: &str, field: &str) -> Result<i64, CoreError> {
    text.trim()
        .parse()
        .map_err(|_| CoreError::invalid("invalid_field", format!("{field} must be a whole number of seconds")))
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim()).filter(|t| !t.is_empty()).map(str::to_owned)
}

impl AppForm {
    fn input(&self) -> Result<ApplicationInput, CoreError> {
        Ok(ApplicationInput {
            name: self.name.clone(),
            redirect_uris: lines(&self.redirect_uris),
            post_logout_redirect_uris: lines(&self.post_logout_redirect_uris),
            client_type: Some(self.client_type.clone()),
            scopes: Some(self.scopes.clone()),
            access_token_lifetime_s: Some(seconds(&self.access_token_lifetime, "the token lifetime")?),
            refresh_token_lifetime_s: Some(seconds(&self.refresh_token_lifetime, "the refresh token lifetime")?),
            authentication_strength: optional(&self.strength),
            backchannel_logout_uri: optional(&self.backchannel_logout_uri),
            // private_key_jwt and its keys are set through the API (a JWK Set is not a form
            // field); the console creates secret-based applications.
            token_endpoint_auth_method: None,
            jwks: None,
            third_party: Some(self.third_party == "on"),
        })
    }

    fn patch(&self) -> Result<ApplicationPatch, CoreError> {
        Ok(ApplicationPatch {
            name: Some(self.name.clone()),
            redirect_uris: Some(lines(&self.redirect_uris)),
            post_logout_redirect_uris: Some(lines(&self.post_logout_redirect_uris)),
            scopes: Some(self.scopes.clone()),
            access_token_lifetime_s: Some(seconds(&self.access_token_lifetime, "the token lifetime")?),
            refresh_token_lifetime_s: Some(seconds(&self.refresh_token_lifetime, "the refresh token lifetime")?),
            authentication_strength: Some(optional(&self.strength)),
            backchannel_logout_uri: Some(optional(&self.backchannel_logout_uri)),
            // Left as they are (set through the API).
            token_endpoint_auth_method: None,
            jwks: None,
            third_party: Some(self.third_party == "on"),
        })
    }
}

/// A choice in the strengths list.
struct StrengthOption {
    id: String,
    label: String,
}

#[derive(askama::Template)]
#[template(path = "admin/application.html")]
struct AppPage {
    nav: Nav,
    title: String,
    /// The application's id (an existing one), else a new one's form.
    id: Option<String>,
    manage: bool,
    form: AppForm,
    scopes: Vec<&'static str>,
    strengths: Vec<StrengthOption>,
    notice: Option<&'static str>,
    error: Option<String>,
}

async fn render(
    state: &AppState,
    staff: &Staff,
    id: Option<String>,
    form: AppForm,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let ctx = staff.ctx(state);
    let strengths = strengths::list(&ctx, &staff.principal()).await?;
    let title = match &id {
        Some(_) => format!("Application “{}”", form.name),
        None => "New application".to_owned(),
    };
    let page = AppPage {
        nav: staff.viewer.nav("applications"),
        title,
        id,
        manage: staff.principal().may(WHAT),
        form,
        scopes: SCOPES.to_vec(),
        strengths: strengths
            .into_iter()
            .map(|s| StrengthOption {
                label: format!("{} (acr {})", s.name, s.acr),
                id: s.id,
            })
            .collect(),
        notice,
        error,
    };
    Ok(html_status(status, &page))
}

/// `GET /admin/applications/new`.
async fn new(State(state): State<AppState>, staff: Staff) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    render(&state, &staff, None, AppForm::fresh(), StatusCode::OK, None, None).await
}

#[derive(askama::Template)]
#[template(path = "admin/application_secret.html")]
struct SecretPage {
    nav: Nav,
    name: String,
    client_id: String,
    secret: String,
}

/// `POST /admin/applications/new`: creates it; a confidential one's secret is shown once.
async fn create(
    State(state): State<AppState>,
    staff: Staff,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    let form = AppForm::from_pairs(pairs);
    let created = match form.input() {
        Ok(input) => applications::create(&staff.ctx(&state), &staff.principal(), input).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(c) => match c.secret {
            Some(secret) => {
                let page = SecretPage {
                    nav: staff.viewer.nav("applications"),
                    name: c.application.name.clone(),
                    client_id: c.application.client_id.clone(),
                    secret,
                };
                let mut res = html_status(StatusCode::OK, &page);
                res.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                Ok(res)
            }
            None => Ok(see_other(&format!(
                "{}?done=created",
                app_path(&c.application.client_id)
            ))),
        },
        Err(e) => {
            let (status, message) = refusal(e)?;
            let msg = format!("The application was not created. {message}");
            render(&state, &staff, None, form, status, None, Some(msg)).await
        }
    }
}

/// `GET /admin/applications/{id}`.
async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    let app = applications::get(&staff.ctx(&state), &staff.principal(), &id).await?;
    let n = notice(q.done.as_deref());
    render(
        &state,
        &staff,
        Some(app.client_id.clone()),
        AppForm::of(&app),
        StatusCode::OK,
        n,
        None,
    )
    .await
}

/// `POST /admin/applications/{id}`: saves every field; nothing changes when one is refused.
async fn save(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    let mut form = AppForm::from_pairs(pairs);
    let saved = match form.patch() {
        Ok(patch) => applications::update(&staff.ctx(&state), &staff.principal(), &id, patch).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(app) => Ok(see_other(&format!("{}?done=saved", app_path(&app.client_id)))),
        Err(e) => {
            let (status, message) = refusal(e)?;
            let app = applications::get(&staff.ctx(&state), &staff.principal(), &id).await?;
            form.client_type = app.client_type.as_str().to_owned();
            let msg = format!("Nothing was saved. {message}");
            render(&state, &staff, Some(app.client_id), form, status, None, Some(msg)).await
        }
    }
}

#[derive(askama::Template)]
#[template(path = "admin/application_delete.html")]
struct DeletePage {
    nav: Nav,
    client_id: String,
    name: String,
}

/// `GET /admin/applications/{id}/delete`: what deletion does, and the button.
async fn confirm_delete(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    let app = applications::get(&staff.ctx(&state), &staff.principal(), &id).await?;
    let page = DeletePage {
        nav: staff.viewer.nav("applications"),
        client_id: app.client_id,
        name: app.name,
    };
    Ok(html_status(StatusCode::OK, &page))
}

/// `POST /admin/applications/{id}/delete`.
async fn delete(State(state): State<AppState>, staff: Staff, Path(id): Path<String>) -> Result<Response, PageError> {
    applications::delete(&staff.ctx(&state), &staff.principal(), &id).await?;
    Ok(see_other("/admin/applications?done=deleted"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_one_per_line_and_kept_as_typed() {
        assert_eq!(
            lines("https://a.example/cb\r\n\n  http://127.0.0.1:9/cb?x=1  \n"),
            vec!["https://a.example/cb", "http://127.0.0.1:9/cb?x=1"]
        );
    }

    #[test]
    fn application_paths_are_encoded() {
        assert_eq!(app_path("kfa_AbC-1"), "/admin/applications/kfa_AbC-1");
        assert_eq!(app_path("a/b?c"), "/admin/applications/a%2Fb%3Fc");
    }
}
