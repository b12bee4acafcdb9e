//! Errors mapped to HTTP at the edge: RFC 9457 problem details with a stable `code`.
//!
//! Service code returns [`ServiceError`], which knows nothing about HTTP; handlers turn it
//! into an [`ApiError`]. A 5xx answer never tells the client why (its cause is logged, inside
//! the request's span, so the log line carries the request id).

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyfleet_domain::StoreError;
use serde::Serialize;
use thiserror::Error;
use utoipa::ToSchema;

/// What a use case can refuse, independent of HTTP.
#[derive(Debug, Error)]
pub enum ServiceError {
    /// A field breaks a rule; `code` is stable, the message names the field.
    #[error("{message}")]
    Invalid {
        /// Stable code.
        code: &'static str,
        /// Human message naming the field.
        message: String,
    },
    /// The target does not exist (or the caller may not know it does).
    #[error("not found")]
    NotFound,
    /// A uniqueness rule would break.
    #[error("{message}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// Human message.
        message: String,
    },
    /// The caller may not do this.
    #[error("{message}")]
    Forbidden {
        /// Stable code.
        code: &'static str,
        /// Human message.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl ServiceError {
    /// A rule broken by one field.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            message: message.into(),
        }
    }

    /// A refusal for lack of permission.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            message: message.into(),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ServiceError::NotFound,
            StoreError::Conflict(rule) => {
                let (code, message) = match rule {
                    "username" => (
                        "username_taken",
                        "a user with this username already exists (usernames ignore letter case)",
                    ),
                    "group_name" => ("group_name_taken", "a group with this name already exists"),
                    "client_id" => ("client_id_taken", "a client with this id already exists"),
                    "secret_limit" => (
                        "too_many_secrets",
                        "the client already holds two secrets; revoke one first",
                    ),
                    "tap_used" => ("invalid_tap", "the temporary access pass is not valid"),
                    _ => ("conflict", "the change conflicts with the current state"),
                };
                ServiceError::Conflict {
                    code,
                    message: message.to_owned(),
                }
            }
            other => ServiceError::Store(other),
        }
    }
}

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

    /// The human detail (never a 5xx cause).
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid { code, message } => Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message),
            ServiceError::NotFound => Self::not_found(),
            ServiceError::Conflict { code, message } => Self::new(StatusCode::CONFLICT, code, message),
            ServiceError::Forbidden { code, message } => Self::forbidden(code, message),
            ServiceError::Store(s) => s.into(),
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
            StoreError::NotFound | StoreError::Conflict(_) => ServiceError::from(e).into(),
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

impl From<crate::service::webauthn::CeremonyError> for ApiError {
    fn from(e: crate::service::webauthn::CeremonyError) -> Self {
        use crate::service::webauthn::FailureClass;
        let status = match e.class {
            FailureClass::Rejected => StatusCode::BAD_REQUEST,
            FailureClass::Unauthenticated => StatusCode::UNAUTHORIZED,
            FailureClass::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            FailureClass::Conflict => StatusCode::CONFLICT,
            FailureClass::Store => return Self::internal(e.message),
        };
        Self::new(status, e.code, e.message)
    }
}
