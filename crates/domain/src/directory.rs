//! Directory sync (SCIM 2.0): what keyfleet keeps about users and groups an identity provider
//! provisions, and the queries a directory client can ask, in store terms.
//!
//! The SCIM protocol itself (filters, PATCH, documents) lives in `keyfleet-scim`; the core
//! translates a SCIM filter into a [`Condition`] over the attributes the store can answer
//! from its indexes.

use async_trait::async_trait;

use crate::audit::NewAuditEvent;
use crate::group::Group;
use crate::store::StoreResult;
use crate::user::User;
use crate::{GroupId, Timestamp, UserId};

/// Longest `externalId` kept, in characters.
pub const EXTERNAL_ID_MAX: usize = 256;

/// What directory sync keeps beside a user's own row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirectoryLink {
    /// The identity provider's id for the user (unique when present).
    pub external_id: Option<String>,
    /// The manager as a keyfleet user (the enterprise extension's `manager.value`); the
    /// user's `manager_email` is that user's email when it was set.
    pub manager_id: Option<UserId>,
    /// The SCIM attributes keyfleet has no column for, as last sent (`name`, `emails`,
    /// `addresses`), as a JSON object; the user's columns stay the truth for what they hold.
    pub attributes: Option<String>,
    /// When the directory deleted the user: they are disabled and hidden from the directory,
    /// and purged for good after the recovery period.
    pub deleted_at: Option<Timestamp>,
}

/// A user with their directory link (a user created elsewhere has an empty link).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    /// The user.
    pub user: User,
    /// The link.
    pub link: DirectoryLink,
}

/// A group with its directory id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryGroup {
    /// The group.
    pub group: Group,
    /// The identity provider's id for the group.
    pub external_id: Option<String>,
}

/// User attributes a directory query can test and sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAttr {
    /// keyfleet's id (exact).
    Id,
    /// The canonical username (compared lower-case).
    UserName,
    /// The external id (exact).
    ExternalId,
    /// The display name (ignoring case).
    DisplayName,
    /// The email (ignoring case).
    Email,
    /// Enabled.
    Active,
    /// Created.
    Created,
    /// Last changed.
    LastModified,
}

/// Group attributes a directory query can test and sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupAttr {
    /// keyfleet's id (exact).
    Id,
    /// The name (ignoring case).
    DisplayName,
    /// The external id (exact).
    ExternalId,
    /// A member's user id (`eq` only).
    Member,
    /// Created.
    Created,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

/// A value to compare with, already in the attribute's stored form (lower-cased where the
/// attribute ignores case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// Text.
    Text(String),
    /// A flag.
    Bool(bool),
    /// A time.
    Time(Timestamp),
}

/// A condition over attributes `A`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition<A> {
    /// Always true or always false (a test that cannot hold, like `emails[type eq "home"]`
    /// when keyfleet keeps the work address only).
    Always(bool),
    /// `attr cmp operand`.
    Compare(A, Cmp, Operand),
    /// The attribute has a non-empty value.
    Present(A),
    /// Both.
    And(Box<Condition<A>>, Box<Condition<A>>),
    /// Either.
    Or(Box<Condition<A>>, Box<Condition<A>>),
    /// Not.
    Not(Box<Condition<A>>),
}

/// A filtered, sorted page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryQuery<A> {
    /// Which.
    pub filter: Condition<A>,
    /// Sorted by (then by id); by id when `None`.
    pub sort_by: Option<A>,
    /// Descending.
    pub descending: bool,
    /// How many to skip (SCIM's `startIndex` − 1).
    pub offset: u64,
    /// How many at most.
    pub limit: u32,
}

/// Directory sync's store: users and groups with their links, in one transaction with
/// their audit events. Conflicts: `Conflict("username")`, `Conflict("external_id")`,
/// `Conflict("group_name")`, `Conflict("group_external_id")`.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// Inserts a user with their link.
    async fn create_directory_user(&self, user: &User, link: &DirectoryLink, audit: &NewAuditEvent) -> StoreResult<()>;
    /// A user with their link (deleted ones included).
    async fn directory_user(&self, id: UserId) -> StoreResult<Option<DirectoryUser>>;
    /// A page of users that are not deleted, and how many match in all.
    async fn list_directory_users(&self, query: &DirectoryQuery<UserAttr>) -> StoreResult<(Vec<DirectoryUser>, u64)>;
    /// Replaces a user's attributes (the username included) and link. When `user.enabled`
    /// is false the same transaction revokes every session of the user. `NotFound` when
    /// unknown.
    async fn replace_directory_user(&self, user: &User, link: &DirectoryLink, audit: &NewAuditEvent)
    -> StoreResult<()>;
    /// Marks a user deleted at `at`: disabled, sessions revoked, hidden from the directory.
    async fn delete_directory_user(&self, id: UserId, at: Timestamp, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Deletes for good the users the directory deleted before `before`; returns their ids
    /// (each removal audited with the event `audit_for` makes for it).
    /// Undoes a directory deletion: the user enabled (`updated_at` = `at`) and visible to
    /// the directory again. `NotFound` unless the user is deleted by the directory.
    async fn restore_directory_user(&self, id: UserId, at: Timestamp, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Deletes for good the users the directory deleted before `before`; returns their ids
    /// (each removal audited with the event `audit_for` makes for it).
    async fn purge_directory_users(
        &self,
        before: Timestamp,
        audit_for: &(dyn Fn(UserId) -> NewAuditEvent + Send + Sync),
    ) -> StoreResult<Vec<UserId>>;
    /// Inserts a group with its external id and members, with one audit event per entry of
    /// `audits` (the creation, each member added).
    async fn create_directory_group(
        &self,
        group: &Group,
        external_id: Option<&str>,
        members: &[UserId],
        audits: &[NewAuditEvent],
    ) -> StoreResult<()>;
    /// A group with its external id.
    async fn directory_group(&self, id: GroupId) -> StoreResult<Option<DirectoryGroup>>;
    /// A page of groups and how many match in all.
    async fn list_directory_groups(&self, query: &DirectoryQuery<GroupAttr>)
    -> StoreResult<(Vec<DirectoryGroup>, u64)>;
    /// Renames a group, sets its external id, adds `add` and removes `remove` from its
    /// members, with `audits`. `NotFound` when the group (or a user to add) is unknown.
    async fn update_directory_group(
        &self,
        group: &Group,
        external_id: Option<&str>,
        add: &[UserId],
        remove: &[UserId],
        audits: &[NewAuditEvent],
    ) -> StoreResult<()>;
}
