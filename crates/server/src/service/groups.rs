//! Groups: creation with its rules, shared by the JSON routes and the console.

use keyfleet_domain::GroupId;
use keyfleet_domain::group::{Group, validate_name};
use keyfleet_domain::user::has_forbidden_formatting;
use rand_core::OsRng;

use super::Ctx;
use crate::error::ServiceError;

/// Longest description, in characters.
pub const DESCRIPTION_MAX: usize = 1024;

/// Validates and creates a group (name 1–64 printable characters, unique ignoring case;
/// description up to 1024 printable characters).
pub async fn create(ctx: &Ctx<'_>, name: &str, description: &str) -> Result<Group, ServiceError> {
    let (name, name_key) = validate_name(name).map_err(|e| ServiceError::invalid("invalid_field", e.to_string()))?;
    if description.chars().count() > DESCRIPTION_MAX || has_forbidden_formatting(description) {
        return Err(ServiceError::invalid(
            "invalid_field",
            "description must be at most 1024 printable characters",
        ));
    }
    let group = Group {
        id: GroupId::new_random(&mut OsRng),
        name,
        name_key,
        description: description.to_owned(),
        created_at: ctx.now,
    };
    let audit = ctx
        .audit("group.create", Some(format!("group:{}", group.id)))
        .with_detail(serde_json::json!({ "name": group.name }).to_string());
    ctx.stores.groups.create_group(&group, &audit).await?;
    Ok(group)
}
