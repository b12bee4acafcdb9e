//! SCIM filters and sorting turned into store queries over the attributes the store indexes.
//!
//! A filter on an attribute keyfleet does not index (`name.familyName`, `title`, …) is
//! refused with `invalidFilter` rather than answered by scanning: the identity providers
//! filter on `userName`, `externalId`, `emails` and `displayName`, which the store answers
//! from its indexes.

use keyfleet_domain::Timestamp;
use keyfleet_domain::directory::{Cmp, Condition, GroupAttr, Operand, UserAttr};
use keyfleet_scim::filter::{AttrPath, CompareOp, Filter};
use keyfleet_scim::schema::{GROUP, USER};
use keyfleet_scim::{ScimError, ScimResult};
use serde_json::Value;

fn cmp(op: CompareOp) -> Cmp {
    match op {
        CompareOp::Eq => Cmp::Eq,
        CompareOp::Ne => Cmp::Ne,
        CompareOp::Co => Cmp::Co,
        CompareOp::Sw => Cmp::Sw,
        CompareOp::Ew => Cmp::Ew,
        CompareOp::Gt => Cmp::Gt,
        CompareOp::Ge => Cmp::Ge,
        CompareOp::Lt => Cmp::Lt,
        CompareOp::Le => Cmp::Le,
    }
}

/// How an attribute's values are compared.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Text compared exactly.
    Exact,
    /// Text compared ignoring case (stored or indexed lower-case).
    Folded,
    /// A flag.
    Flag,
    /// A time.
    Time,
}

fn unsupported(path: &AttrPath) -> ScimError {
    ScimError::filter(format!("filtering on {} is not supported", path.dotted()))
}

fn core_path(path: &AttrPath, core: &str) -> bool {
    path.uri.as_deref().is_none_or(|u| u.eq_ignore_ascii_case(core))
}

fn user_attr(path: &AttrPath) -> Option<(UserAttr, Kind)> {
    if !core_path(path, USER) {
        return None;
    }
    let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
    Some(match (path.name.to_ascii_lowercase().as_str(), sub.as_deref()) {
        ("id", None) => (UserAttr::Id, Kind::Exact),
        ("username", None) => (UserAttr::UserName, Kind::Folded),
        ("externalid", None) => (UserAttr::ExternalId, Kind::Exact),
        ("displayname", None) => (UserAttr::DisplayName, Kind::Folded),
        ("emails", None | Some("value")) => (UserAttr::Email, Kind::Folded),
        ("active", None) => (UserAttr::Active, Kind::Flag),
        ("meta", Some("created")) => (UserAttr::Created, Kind::Time),
        ("meta", Some("lastmodified")) => (UserAttr::LastModified, Kind::Time),
        _ => return None,
    })
}

fn group_attr(path: &AttrPath) -> Option<(GroupAttr, Kind)> {
    if !core_path(path, GROUP) {
        return None;
    }
    let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
    Some(match (path.name.to_ascii_lowercase().as_str(), sub.as_deref()) {
        ("id", None) => (GroupAttr::Id, Kind::Exact),
        ("displayname", None) => (GroupAttr::DisplayName, Kind::Folded),
        ("externalid", None) => (GroupAttr::ExternalId, Kind::Exact),
        ("members", None | Some("value")) => (GroupAttr::Member, Kind::Exact),
        ("meta", Some("created")) => (GroupAttr::Created, Kind::Time),
        _ => return None,
    })
}

fn operand(kind: Kind, op: CompareOp, v: &Value, path: &AttrPath) -> ScimResult<Operand> {
    let wrong = || ScimError::filter(format!("{} cannot be compared with {v}", path.dotted()));
    match (kind, v) {
        (Kind::Exact, Value::String(s)) => Ok(Operand::Text(s.clone())),
        (Kind::Folded, Value::String(s)) => Ok(Operand::Text(s.to_lowercase())),
        (Kind::Flag, v) if matches!(op, CompareOp::Eq | CompareOp::Ne) => {
            keyfleet_scim::resource::lenient_bool(v, "active")
                .map(Operand::Bool)
                .map_err(|_| wrong())
        }
        (Kind::Time, Value::String(s)) if !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) => {
            parse_time(s).map(Operand::Time).ok_or_else(wrong)
        }
        _ => Err(wrong()),
    }
}

fn parse_time(s: &str) -> Option<Timestamp> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .ok()
        .map(Timestamp::from_millis)
}

/// `attr pr`: text attributes must also be non-empty (a user without an email holds "").
fn present<A>(attr: A, kind: Kind) -> Condition<A> {
    match kind {
        Kind::Exact | Kind::Folded => Condition::Compare(attr, Cmp::Ne, Operand::Text(String::new())),
        Kind::Flag | Kind::Time => Condition::Present(attr),
    }
}

/// The two sides of `and` and `or`.
type Pair<A> = (Box<Condition<A>>, Box<Condition<A>>);

fn translate<A: Copy>(
    f: &Filter,
    attr_of: &dyn Fn(&AttrPath) -> Option<(A, Kind)>,
    value_path: &dyn Fn(&AttrPath, &Filter) -> ScimResult<Condition<A>>,
) -> ScimResult<Condition<A>> {
    let both = |a: &Filter, b: &Filter| -> ScimResult<Pair<A>> {
        Ok((
            Box::new(translate(a, attr_of, value_path)?),
            Box::new(translate(b, attr_of, value_path)?),
        ))
    };
    Ok(match f {
        Filter::And(a, b) => {
            let (a, b) = both(a, b)?;
            Condition::And(a, b)
        }
        Filter::Or(a, b) => {
            let (a, b) = both(a, b)?;
            Condition::Or(a, b)
        }
        Filter::Not(a) => Condition::Not(Box::new(translate(a, attr_of, value_path)?)),
        Filter::Present(path) => {
            let (attr, kind) = attr_of(path).ok_or_else(|| unsupported(path))?;
            present(attr, kind)
        }
        Filter::Compare(path, op, Value::Null) => {
            let (attr, kind) = attr_of(path).ok_or_else(|| unsupported(path))?;
            let absent = Condition::Not(Box::new(present(attr, kind)));
            if *op == CompareOp::Ne {
                present(attr, kind)
            } else {
                absent
            }
        }
        Filter::Compare(path, op, v) => {
            let (attr, kind) = attr_of(path).ok_or_else(|| unsupported(path))?;
            if kind == Kind::Flag && !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return Err(ScimError::filter(format!(
                    "{} compares with eq or ne only",
                    path.dotted()
                )));
            }
            Condition::Compare(attr, cmp(*op), operand(kind, *op, v, path)?)
        }
        Filter::ValuePath(path, inner) => value_path(path, inner)?,
    })
}

/// `emails[…]`: keyfleet keeps one email, the work one, so a test on `type` holds for
/// `"work"` only and `primary` for true; `value` is the email.
fn email_element(f: &Filter) -> ScimResult<Condition<UserAttr>> {
    let element = |path: &AttrPath| -> Option<(UserAttr, Kind)> {
        (path.uri.is_none() && path.is("value", None)).then_some((UserAttr::Email, Kind::Folded))
    };
    Ok(match f {
        Filter::Compare(p, CompareOp::Eq, Value::String(t)) if p.is("type", None) => {
            Condition::Always(t.eq_ignore_ascii_case("work"))
        }
        Filter::Compare(p, CompareOp::Eq, v) if p.is("primary", None) => {
            Condition::Always(keyfleet_scim::resource::lenient_bool(v, "primary").unwrap_or(false))
        }
        Filter::And(a, b) => Condition::And(Box::new(email_element(a)?), Box::new(email_element(b)?)),
        Filter::Or(a, b) => Condition::Or(Box::new(email_element(a)?), Box::new(email_element(b)?)),
        Filter::Not(a) => Condition::Not(Box::new(email_element(a)?)),
        other => translate(other, &element, &|p, _| Err(unsupported(p)))?,
    })
}

/// A user filter as a store condition.
pub fn user_condition(filter: Option<&str>) -> ScimResult<Condition<UserAttr>> {
    let Some(text) = filter.filter(|f| !f.trim().is_empty()) else {
        return Ok(Condition::Always(true));
    };
    let f = keyfleet_scim::filter::parse(text)?;
    translate(&f, &user_attr, &|path, inner| {
        if core_path(path, USER) && path.is("emails", None) {
            email_element(inner)
        } else {
            Err(unsupported(path))
        }
    })
}

/// A group filter as a store condition.
pub fn group_condition(filter: Option<&str>) -> ScimResult<Condition<GroupAttr>> {
    let Some(text) = filter.filter(|f| !f.trim().is_empty()) else {
        return Ok(Condition::Always(true));
    };
    let f = keyfleet_scim::filter::parse(text)?;
    let member = |path: &AttrPath| -> Option<(GroupAttr, Kind)> {
        (path.uri.is_none() && path.is("value", None)).then_some((GroupAttr::Member, Kind::Exact))
    };
    translate(&f, &group_attr, &|path, inner| {
        if core_path(path, GROUP) && path.is("members", None) {
            translate(inner, &member, &|p, _| Err(unsupported(p)))
        } else {
            Err(unsupported(path))
        }
    })
}

/// The attribute a user list is sorted by; an attribute keyfleet cannot sort by sorts by id
/// (RFC 7644 §3.4.2.3 leaves the order of unsortable attributes to the provider).
pub fn user_sort(sort_by: Option<&str>) -> Option<UserAttr> {
    let path = AttrPath::parse(sort_by?).ok()?;
    user_attr(&path).map(|(a, _)| a)
}

/// The attribute a group list is sorted by (see [`user_sort`]).
pub fn group_sort(sort_by: Option<&str>) -> Option<GroupAttr> {
    let path = AttrPath::parse(sort_by?).ok()?;
    group_attr(&path).map(|(a, _)| a).filter(|a| *a != GroupAttr::Member)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_filters_become_conditions() {
        let eq = |a, s: &str| Condition::Compare(a, Cmp::Eq, Operand::Text(s.into()));
        let cases: Vec<(&str, Condition<UserAttr>)> = vec![
            (
                r#"userName eq "Ada@Example.com""#,
                eq(UserAttr::UserName, "ada@example.com"),
            ),
            (r#"externalId eq "AbC""#, eq(UserAttr::ExternalId, "AbC")),
            (r#"emails.value eq "A@B.example""#, eq(UserAttr::Email, "a@b.example")),
            (
                r#"emails[type eq "work"].value eq "a@b.example""#,
                Condition::And(
                    Box::new(Condition::Always(true)),
                    Box::new(eq(UserAttr::Email, "a@b.example")),
                ),
            ),
            (r#"emails[type eq "home"]"#, Condition::Always(false)),
            (
                "active eq \"False\"",
                Condition::Compare(UserAttr::Active, Cmp::Eq, Operand::Bool(false)),
            ),
            (
                "externalId eq null",
                Condition::Not(Box::new(Condition::Compare(
                    UserAttr::ExternalId,
                    Cmp::Ne,
                    Operand::Text(String::new()),
                ))),
            ),
            (
                r#"meta.lastModified gt "2026-01-01T00:00:00Z""#,
                Condition::Compare(
                    UserAttr::LastModified,
                    Cmp::Gt,
                    Operand::Time(Timestamp::from_millis(1_767_225_600_000)),
                ),
            ),
        ];
        for (f, expected) in cases {
            assert_eq!(user_condition(Some(f)), Ok(expected), "{f}");
        }
        assert_eq!(user_condition(None), Ok(Condition::Always(true)));
    }

    #[test]
    fn unsupported_or_ill_typed_filters_are_invalid_filter() {
        for f in [
            r#"name.familyName eq "x""#,
            r#"title pr"#,
            "userName eq 5",
            "active gt true",
            r#"active eq "maybe""#,
            r#"meta.created gt "yesterday""#,
            r#"addresses[type eq "work"]"#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x""#,
        ] {
            let e = user_condition(Some(f)).expect_err(f);
            assert_eq!(e.scim_type, Some(keyfleet_scim::ScimType::InvalidFilter), "{f}");
        }
    }

    #[test]
    fn group_filters_become_conditions() {
        assert_eq!(
            group_condition(Some(r#"displayName eq "Ops""#)),
            Ok(Condition::Compare(
                GroupAttr::DisplayName,
                Cmp::Eq,
                Operand::Text("ops".into())
            ))
        );
        assert_eq!(
            group_condition(Some(r#"members[value eq "u1"]"#)),
            Ok(Condition::Compare(
                GroupAttr::Member,
                Cmp::Eq,
                Operand::Text("u1".into())
            ))
        );
        assert!(group_condition(Some(r#"members[display eq "x"]"#)).is_err());
    }
}
