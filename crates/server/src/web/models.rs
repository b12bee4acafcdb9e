//! Authenticator model names by AAGUID: from the FIDO Metadata Service entries when there is
//! one ([`Models`]: name, icon, compromise flag), else from `crates/server/data/aaguids.tsv`
//! (the community list, provenance in the file's header). Unknown AAGUIDs, and the all-zero
//! AAGUID that authenticators send when they do not attest their model, have no name.

use std::collections::HashMap;
use std::sync::LazyLock;

use keyfleet_core::metadata::ModelFacts;

static TABLE: &str = include_str!("../../data/aaguids.tsv");

static NAMES: LazyLock<HashMap<[u8; 16], &'static str>> = LazyLock::new(|| {
    TABLE
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (id, name) = l.split_once('\t')?;
            Some((parse(id)?, name.trim()))
        })
        .collect()
});

fn parse(text: &str) -> Option<[u8; 16]> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    let bytes = hex::decode(hex).ok()?;
    bytes.try_into().ok()
}

/// The AAGUID as text (`xxxxxxxx-xxxx-…`).
pub fn aaguid_text(aaguid: &[u8; 16]) -> String {
    uuid::Uuid::from_bytes(*aaguid).hyphenated().to_string()
}

/// The model's name, when the AAGUID is known.
pub fn model_name(aaguid: &[u8; 16]) -> Option<&'static str> {
    NAMES.get(aaguid).copied()
}

/// The model's name, or a phrase saying it is not known.
pub fn model_label(aaguid: &[u8; 16]) -> String {
    match model_name(aaguid) {
        Some(name) => name.to_owned(),
        None if *aaguid == [0; 16] => "Security key (model not disclosed)".to_owned(),
        None => "Unknown model".to_owned(),
    }
}

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

    /// The model's name: the metadata's description, else the community list's; `None` when
    /// neither names it.
    pub fn name(&self, aaguid: &[u8; 16]) -> Option<String> {
        match self.facts(aaguid) {
            Some(f) if !f.description.trim().is_empty() => Some(f.description.clone()),
            _ => model_name(aaguid).map(str::to_owned),
        }
    }

    /// The model's name: the metadata's description, else the community list's, else a phrase.
    pub fn label(&self, aaguid: &[u8; 16]) -> String {
        self.name(aaguid).unwrap_or_else(|| model_label(aaguid))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_parses() {
        for line in TABLE.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let (id, name) = line.split_once('\t').unwrap_or_else(|| panic!("no tab: {line}"));
            assert!(parse(id).is_some(), "bad AAGUID: {line}");
            assert!(!name.trim().is_empty() && !name.contains('\t'), "bad name: {line}");
        }
    }

    #[test]
    fn names_keyfleets_own_models() {
        let nfc = parse("3559c435-ff17-4bc9-b942-325c1f348b94").unwrap();
        assert!(model_name(&nfc).unwrap().contains("NFC"));
        assert_eq!(model_label(&[0; 16]), "Security key (model not disclosed)");
        assert_eq!(model_label(&[0xAB; 16]), "Unknown model");
        assert_eq!(aaguid_text(&nfc), "3559c435-ff17-4bc9-b942-325c1f348b94");
    }
}
