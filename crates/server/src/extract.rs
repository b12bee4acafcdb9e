//! Body extractors whose rejections are problem documents with stable codes.

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body. Malformed JSON is 400 `malformed_json`; a well-formed body of the wrong
/// shape (unknown or missing members, wrong types) is 422 `invalid_request`; a missing JSON
/// content type is 415; a body over the configured limit is 413 `payload_too_large`.
pub struct Json<T>(pub T);

fn body_too_large(status: StatusCode) -> Option<ApiError> {
    (status == StatusCode::PAYLOAD_TOO_LARGE).then(|| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large",
        )
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    if let Some(e) = body_too_large(rejection.status()) {
        return e;
    }
    match rejection {
        JsonRejection::JsonDataError(e) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            clean(&e.body_text()),
        ),
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::bad_request("malformed_json", "the request body is not valid JSON")
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send Content-Type: application/json",
        ),
        other => ApiError::bad_request("malformed_json", clean(&other.body_text())),
    }
}

/// A form body (`application/x-www-form-urlencoded`), as the OAuth token endpoint takes.
pub struct Form<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Form<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(Form(v)),
            Err(rejection) => Err(form_rejection(rejection)),
        }
    }
}

fn form_rejection(rejection: FormRejection) -> ApiError {
    if let Some(e) = body_too_large(rejection.status()) {
        return e;
    }
    match rejection {
        FormRejection::InvalidFormContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send Content-Type: application/x-www-form-urlencoded",
        ),
        other => ApiError::bad_request("invalid_request", clean(&other.body_text())),
    }
}

/// serde's messages name the member and the expectation; keep them short and printable so a
/// hostile body cannot stuff the answer (or a log line) with its own text.
fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(300).collect()
}

/// A JSON body that may be absent (an empty body gives `None`); a present body follows the
/// same rules as [`Json`].
pub struct OptionalJson<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let has_type = req.headers().contains_key(axum::http::header::CONTENT_TYPE);
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|r| {
            body_too_large(r.status()).unwrap_or_else(|| ApiError::bad_request("malformed_json", clean(&r.body_text())))
        })?;
        if bytes.is_empty() {
            return Ok(OptionalJson(None));
        }
        if !has_type {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send Content-Type: application/json",
            ));
        }
        match serde_json::from_slice(&bytes) {
            Ok(v) => Ok(OptionalJson(Some(v))),
            Err(e) if e.is_data() => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                clean(&e.to_string()),
            )),
            Err(_) => Err(ApiError::bad_request(
                "malformed_json",
                "the request body is not valid JSON",
            )),
        }
    }
}
