//! The narrow interface between the connector and whoever makes and ships keys: submit an
//! order, poll it, cancel it. keyfleet's own key factory is one implementation (the server's
//! `factory_client`, over HTTP); a vendor's would be another. The core does no IO: the
//! server passes an implementation in.
//!
//! The shapes are the factory protocol's (`keyfleet_provisioning::api`): an order carries
//! credential requests encrypted to the fulfiller's published transport key and the customer's
//! response key; its answers come back signed by the fulfiller's published signing keys and
//! encrypted to that response key.

use keyfleet_provisioning::api::{CreateShipment, Shipment};
use keyfleet_provisioning::jwk::Jwks;

/// Why a call to the fulfiller did not give an answer to act on. Never carries a token or a
/// body that could hold one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FulfilmentError {
    /// Not reached: the connection failed before the request was sent (nothing happened there).
    #[error("the factory is unreachable: {0}")]
    Unreachable(String),
    /// Sent, but no answer came in time (it may have acted on it).
    #[error("the factory did not answer in time: {0}")]
    NoAnswer(String),
    /// It answered with an error status.
    #[error("the factory refused the request: HTTP {status} {code}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The problem's `code`, or empty.
        code: String,
    },
    /// It answered, but not with what the protocol says.
    #[error("the factory's answer is not understood: {0}")]
    Garbage(String),
}

impl FulfilmentError {
    /// Whether trying again later may succeed (the factory down, slow, confused, busy); a
    /// refusal of the request itself (4xx) will not change by itself.
    pub fn retryable(&self) -> bool {
        match self {
            FulfilmentError::Refused { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            _ => true,
        }
    }
}

/// Whoever fulfils key orders (keyfleet's factory over HTTP, in the server).
#[async_trait::async_trait]
pub trait Fulfilment: Send + Sync {
    /// Where it is (a URL), for the status page; never a secret.
    fn endpoint(&self) -> String;
    /// The keys credential requests are encrypted to (`/.well-known/transport-keys.jwks`).
    async fn transport_keys(&self) -> Result<Jwks, FulfilmentError>;
    /// The keys its answers are signed with (`/.well-known/sign-keys.jwks`).
    async fn sign_keys(&self) -> Result<Jwks, FulfilmentError>;
    /// Submits an order; `idempotency_key` makes a resubmission of the same order return the
    /// first one instead of making a second. Returns the fulfiller's id.
    async fn submit(&self, order: &CreateShipment, idempotency_key: &str) -> Result<String, FulfilmentError>;
    /// The order as it stands.
    async fn poll(&self, id: &str) -> Result<Shipment, FulfilmentError>;
    /// Cancels an order it still allows to be cancelled (a 409 refusal otherwise).
    async fn cancel(&self, id: &str) -> Result<(), FulfilmentError>;
}
