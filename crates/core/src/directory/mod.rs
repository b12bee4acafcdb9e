//! Directory sync: the SCIM 2.0 service provider's use cases (RFC 7643, RFC 7644), for the
//! `/scim/v2` routes.
//!
//! Every operation needs `Permission::Directory` (an API client with the scope `scim`, or
//! an administrator); an API client changes workers only. Every change is one store
//! transaction with its audit event, the client as actor. A conflict (a `userName` or
//! `externalId` another user holds, a group name taken) is refused with SCIM's
//! `uniqueness` and changes nothing.
//!
//! A PATCH is applied to the resource as it would be returned and the result is read back
//! as a whole resource, so a PATCH obeys every rule a PUT does. Entity tags are computed
//! from the content (`keyfleet_scim::resource::version_of`), so a change made anywhere (the
//! console, the API) changes them; `If-Match` is checked against the current tag before the
//! change.
//!
//! - [`users`]: create, read, list, replace, patch, delete (recoverable) users;
//! - [`groups`]: the same for groups and their members;
//! - [`lifecycle`]: what deactivation, deletion and reactivation do to sessions and keys;
//! - [`query`]: filters and sorting as store queries.

pub mod groups;
pub mod lifecycle;
pub mod query;
pub mod users;

use keyfleet_domain::StoreError;
use keyfleet_domain::Timestamp;
use keyfleet_scim::ScimError;
use keyfleet_scim::schema::MAX_PAGE;
use serde_json::Value;

use crate::CoreError;

/// A refusal in SCIM's terms, or a core refusal (permission, store) the server maps.
#[derive(Debug)]
pub enum DirectoryError {
    /// A SCIM error (400 with a `scimType`, 409 uniqueness, 412 precondition failed).
    Scim(ScimError),
    /// A core error: `NotFound`, `Forbidden`, a store failure.
    Core(CoreError),
}

impl From<ScimError> for DirectoryError {
    fn from(e: ScimError) -> Self {
        DirectoryError::Scim(e)
    }
}

impl From<CoreError> for DirectoryError {
    fn from(e: CoreError) -> Self {
        DirectoryError::Core(e)
    }
}

impl From<StoreError> for DirectoryError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(rule) => DirectoryError::Scim(ScimError::uniqueness(match rule {
                "username" => "another user has this userName (userNames ignore letter case)",
                "external_id" => "another user has this externalId",
                "group_name" => "another group has this displayName (names ignore letter case)",
                "group_external_id" => "another group has this externalId",
                _ => "the change conflicts with another resource",
            })),
            StoreError::Invalid(_) => DirectoryError::Scim(ScimError::value("text must not contain NUL characters")),
            other => DirectoryError::Core(other.into()),
        }
    }
}

/// Result alias.
pub type DirectoryResult<T> = Result<T, DirectoryError>;

/// A resource as the directory sees it: its document (without `meta`), its version, and
/// the times `meta` gives.
#[derive(Debug, Clone)]
pub struct Resource {
    /// keyfleet's id.
    pub id: String,
    /// The document, without `meta`.
    pub doc: Value,
    /// The weak entity tag (`W/"…"`).
    pub version: String,
    /// When it was created.
    pub created: Timestamp,
    /// When it last changed.
    pub last_modified: Timestamp,
}

/// What a list asks for (RFC 7644 §3.4.2).
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    /// `filter`.
    pub filter: Option<String>,
    /// `sortBy`.
    pub sort_by: Option<String>,
    /// `sortOrder=descending`.
    pub descending: bool,
    /// `startIndex` (1-based; below 1 counts as 1).
    pub start_index: Option<i64>,
    /// `count` (capped at [`MAX_PAGE`]; negative counts as 0).
    pub count: Option<i64>,
    /// Whether groups carry their members (`excludedAttributes=members` leaves them out).
    pub with_members: bool,
}

impl ListRequest {
    fn offset(&self) -> u64 {
        u64::try_from(self.start_index.unwrap_or(1).max(1) - 1).unwrap_or(0)
    }

    fn limit(&self) -> u32 {
        let count = self.count.unwrap_or(i64::from(MAX_PAGE)).clamp(0, i64::from(MAX_PAGE));
        u32::try_from(count).unwrap_or(MAX_PAGE)
    }

    /// The `startIndex` the answer reports.
    pub fn start(&self) -> u64 {
        self.offset() + 1
    }
}

/// A page of resources and how many match in all.
#[derive(Debug, Clone)]
pub struct Listed {
    /// How many match the filter.
    pub total: u64,
    /// This page.
    pub resources: Vec<Resource>,
}

/// Refuses the change unless `if_match` (the `If-Match` header) names the current version
/// or is `*`.
fn check_version(if_match: Option<&str>, current: &str) -> DirectoryResult<()> {
    let Some(header) = if_match else { return Ok(()) };
    let weakless = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let ok = header
        .split(',')
        .any(|t| t.trim() == "*" || weakless(t) == weakless(current));
    if ok {
        Ok(())
    } else {
        Err(DirectoryError::Scim(ScimError {
            status: 412,
            scim_type: None,
            detail: "the resource changed since the version named in If-Match".into(),
        }))
    }
}

/// Whether `s` holds control or bidirectional formatting characters, or is too long.
fn check_external_id(external_id: Option<&str>, what: &str) -> DirectoryResult<()> {
    if let Some(e) = external_id {
        let bad = e.is_empty()
            || e.chars().count() > keyfleet_domain::directory::EXTERNAL_ID_MAX
            || keyfleet_domain::user::has_forbidden_formatting(e);
        if bad {
            return Err(ScimError::value(format!(
                "{what}'s externalId must be 1 to {} printable characters",
                keyfleet_domain::directory::EXTERNAL_ID_MAX
            ))
            .into());
        }
    }
    Ok(())
}
