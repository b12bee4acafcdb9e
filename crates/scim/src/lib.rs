//! SCIM 2.0 (RFC 7643, RFC 7644) as keyfleet's directory sync speaks it, without IO:
//!
//! - [`filter`]: the filter language, parsed into a tree with typed errors
//!   (`scimType: invalidFilter`) and evaluated against JSON (PATCH value filters); the core
//!   translates trees into store queries.
//! - [`patch`]: PATCH requests and their application to a resource document, with the
//!   forms Entra ID and Okta send.
//! - [`resource`]: users and groups read leniently from clients and written for them.
//! - [`schema`]: URNs and the discovery documents.
//! - [`error`]: [`ScimError`] and the `scimType` values.
//!
//! ```
//! use keyfleet_scim::filter;
//! let f = filter::parse(r#"userName eq "ada" and not (emails co "example.org")"#).unwrap();
//! let user = serde_json::json!({"userName": "Ada", "emails": [{"value": "ada@example.com"}]});
//! assert!(filter::matches(&f, &user));
//! ```

pub mod error;
pub mod filter;
pub mod patch;
pub mod resource;
pub mod schema;

pub use error::{ScimError, ScimResult, ScimType};
