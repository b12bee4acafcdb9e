//! The factory's errors, typed, and their HTTP form: RFC 9457 problem details with a stable
//! `code`, the same shape as keyfleet's (`urn:keyfleet:problem:CODE`). A 5xx answer never
//! carries its cause; the cause is logged.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Why a factory operation was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FactoryError {
    /// No token, an unknown token or a revoked one.
    #[error("a valid API token is required")]
    Unauthorized,
    /// No such shipment.
    #[error("no shipment {0:?}")]
    NotFound(String),
    /// The shipment is past the point where this is allowed (locked or finished).
    #[error("the shipment is {state}: it can no longer be {verb}")]
    Locked {
        /// Its state.
        state: String,
        /// What was refused: `changed`, `cancelled`, `fulfilled`, `delivered`.
        verb: &'static str,
    },
    /// Bad input, with a stable code.
    #[error("{detail}")]
    Invalid {
        /// The stable code.
        code: &'static str,
        /// For people (never a secret).
        detail: String,
    },
    /// No such API token.
    #[error("no API token {0:?}")]
    TokenNotFound(String),
    /// The database.
    #[error("database: {0}")]
    Store(#[from] sqlx::Error),
    /// The database schema.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Anything else inside the factory (files, the key engine).
    #[error("{0}")]
    Internal(String),
}

impl FactoryError {
    /// Bad input.
    pub fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        FactoryError::Invalid {
            code,
            detail: detail.into(),
        }
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            FactoryError::Unauthorized => "unauthorized",
            FactoryError::NotFound(_) => "shipment_not_found",
            FactoryError::Locked { .. } => "shipment_locked",
            FactoryError::Invalid { code, .. } => code,
            FactoryError::TokenNotFound(_) => "token_not_found",
            FactoryError::Store(_) | FactoryError::Migrate(_) | FactoryError::Internal(_) => "internal_error",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            FactoryError::Unauthorized => StatusCode::UNAUTHORIZED,
            FactoryError::NotFound(_) | FactoryError::TokenNotFound(_) => StatusCode::NOT_FOUND,
            FactoryError::Locked { .. } => StatusCode::CONFLICT,
            FactoryError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            FactoryError::Store(_) | FactoryError::Migrate(_) | FactoryError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

/// The problem document.
#[derive(Debug, Serialize)]
pub struct Problem {
    /// `urn:keyfleet:problem:CODE`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// For people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable machine-readable code.
    pub code: String,
}

impl IntoResponse for FactoryError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
            None
        } else {
            Some(self.to_string())
        };
        let problem = Problem {
            kind: format!("urn:keyfleet:problem:{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail,
            code: self.code().to_string(),
        };
        let mut response = (status, axum::Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"keyfleet-factory\""),
            );
        }
        response
    }
}
