//! Authenticator model names by AAGUID for the pages: the facts of the models a page shows
//! ([`Models`]: name, icon, compromise flag), named by `keyfleet_core::models` (the FIDO
//! Metadata Service entry first, then `crates/core/data/aaguids.tsv`).

use keyfleet_core::metadata::ModelFacts;
pub use keyfleet_core::models::{aaguid_text, model_label, model_name};

/// The metadata facts of the models a page shows, loaded once per page.
#[derive(Debug, Default)]
pub struct Models(Vec<([u8; 16], ModelFacts)>);

impl Models {
    /// The facts of these models (through `core::metadata::models`).
    pub async fn load(ctx: &keyfleet_core::Ctx<'_>, aaguids: &[[u8; 16]]) -> Result<Self, keyfleet_core::CoreError> {
        Ok(Self(keyfleet_core::metadata::models(ctx, aaguids).await?))
    }

    fn facts(&self, aaguid: &[u8; 16]) -> Option<&ModelFacts> {
        self.0.iter().find(|(a, _)| a == aaguid).map(|(_, f)| f)
    }

    /// The model's name: the metadata's description, else the community list's, else a phrase.
    pub fn label(&self, aaguid: &[u8; 16]) -> String {
        keyfleet_core::models::label(self.facts(aaguid), aaguid)
    }

    /// Where the model's icon is served (`/models/AAGUID/icon`), when its entry has one.
    pub fn icon_url(&self, aaguid: &[u8; 16]) -> Option<String> {
        self.facts(aaguid)?
            .icon
            .as_ref()
            .map(|_| format!("/models/{}/icon", aaguid_text(aaguid)))
    }

    /// The status the metadata reports the model compromised with (its keys are flagged).
    pub fn compromised(&self, aaguid: &[u8; 16]) -> Option<String> {
        self.facts(aaguid)
            .filter(|f| f.compromised)
            .map(|f| f.status.clone().unwrap_or_else(|| "compromised".to_owned()))
    }
}

/// The image bytes and media type of a `data:` URL that `core::metadata::models` let through.
pub fn decode_icon(url: &str) -> Option<(&str, Vec<u8>)> {
    use base64::Engine as _;
    let (media, data) = url.strip_prefix("data:")?.split_once(";base64,")?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(data).ok()?;
    Some((media, bytes))
}

/// `/models/{aaguid}/icon`: a model's icon from its metadata entry (the BLOB's `data:` URL,
/// decoded and served from keyfleet itself, so the pages' `img-src 'self'` holds). Metadata is
/// public, so no sign-in is needed.
pub fn router() -> axum::Router<crate::state::AppState> {
    axum::Router::new().route("/models/{aaguid}/icon", axum::routing::get(icon))
}

async fn icon(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    axum::extract::Path(aaguid): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<axum::response::Response, super::page::PageError> {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let Ok(uuid) = uuid::Uuid::parse_str(&aaguid) else {
        return Err(super::page::PageError::not_found());
    };
    let ctx = state.ctx(keyfleet_domain::audit::Actor::System, &headers);
    let models = Models::load(&ctx, &[*uuid.as_bytes()]).await?;
    let Some((media, bytes)) = models
        .facts(uuid.as_bytes())
        .and_then(|f| f.icon.as_deref())
        .and_then(decode_icon)
    else {
        return Err(super::page::PageError::not_found());
    };
    let media = HeaderValue::from_str(media).map_err(|_| super::page::PageError::not_found())?;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, media);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    Ok(res)
}
