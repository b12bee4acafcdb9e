//! Errors mapped to HTTP at the edge: RFC 9457 problem details with a stable `code`.
//!
//! Use cases return `keyfleet_core::CoreError` (or `CeremonyError`), which know nothing
//! about HTTP; this module turns them into an [`ApiError`]. A 5xx answer never tells the client why (its cause is logged, inside
//! the request's span, so the log line carries the request id).

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyfleet_core::{CeremonyError, CoreError, FailureClass};
use keyfleet_domain::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// The problem document (RFC 9457) every error response carries.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// URI naming the problem type (`urn:keyfleet:problem:CODE`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong in this case, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable machine-readable code.
    pub code: String,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: Option<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
    internal: Option<String>,
}

impl ApiError {
    /// An answer with a status, a code and a human detail.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: Some(detail.into()),
            headers: Vec::new(),
            internal: None,
        }
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }

    /// 400 with a code.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 401: no or bad credentials.
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    /// 403: authenticated, not allowed.
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }

    /// 429 with `Retry-After`.
    pub fn too_many(code: &'static str, retry_after_s: u64) -> Self {
        let detail = match code {
            "too_many_requests" => "too many requests from this address; wait a minute",
            _ => "too many failed attempts from this address; wait before trying again",
        };
        Self::new(StatusCode::TOO_MANY_REQUESTS, code, detail)
            .with_header(header::RETRY_AFTER, &retry_after_s.to_string())
    }

    /// 404.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    /// 500 with a cause for the log only.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an internal error occurred",
        );
        e.internal = Some(cause.to_string());
        e
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Logs the cause of a 5xx answer (inside the request's span), for adapters that render
    /// the error in another shape (SCIM).
    pub fn log_internal(&self) {
        if let Some(cause) = &self.internal {
            tracing::error!(code = self.code, cause = %cause, "request failed");
        }
    }

    /// The human detail (never a 5xx cause).
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Invalid { code, message } => Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message),
            CoreError::NotFound => Self::not_found(),
            CoreError::Conflict { code, message } => Self::new(StatusCode::CONFLICT, code, message),
            CoreError::Forbidden { code, message, scope } => {
                let err = Self::forbidden(code, message);
                match scope {
                    // RFC 6750 §3.1: tell a bearer client which scope it lacks.
                    Some(scope) => err.with_header(
                        header::WWW_AUTHENTICATE,
                        &format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\""),
                    ),
                    _ => err,
                }
            }
            CoreError::Limited { code, retry_after_s } => Self::too_many(code, retry_after_s),
            CoreError::Unavailable { code, message } => Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message),
            CoreError::Store(s) => s.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => {
                let mut err = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "the database is unavailable; try again",
                );
                err.internal = Some(cause);
                err.headers.push((header::RETRY_AFTER, HeaderValue::from_static("1")));
                err
            }
            StoreError::NotFound | StoreError::Conflict(_) | StoreError::Invalid(_) => CoreError::from(e).into(),
            other => Self::internal(other),
        }
    }
}

fn title(status: StatusCode) -> String {
    status.canonical_reason().unwrap_or("Error").to_owned()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.internal {
            tracing::error!(code = self.code, cause = %cause, "request failed");
        }
        let problem = Problem {
            kind: format!("urn:keyfleet:problem:{}", self.code),
            title: title(self.status),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.to_owned(),
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut res = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            )],
            body,
        )
            .into_response();
        for (name, value) in self.headers {
            res.headers_mut().append(name, value);
        }
        res
    }
}

impl From<CeremonyError> for ApiError {
    fn from(e: CeremonyError) -> Self {
        let status = match e.class {
            FailureClass::Rejected => StatusCode::BAD_REQUEST,
            FailureClass::Unauthenticated => StatusCode::UNAUTHORIZED,
            FailureClass::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            FailureClass::Conflict => StatusCode::CONFLICT,
            FailureClass::Limited(retry_after_s) => return Self::too_many(e.code, retry_after_s),
            FailureClass::Store => return Self::internal(e.message),
        };
        Self::new(status, e.code, e.message)
    }
}
