//! PATCH (RFC 7644 §3.5.2) applied to a resource's JSON document.
//!
//! The operations are applied in order to the resource as it would be returned; the caller
//! then reads the result back as a whole resource (so every rule that holds for a PUT holds
//! for a PATCH). Accepted beyond the letter of the RFC, because Entra ID and Okta send them:
//!
//! - `op` in any letter case (`"Replace"`, `"Add"`);
//! - a path-less `add`/`replace` whose value's keys are themselves paths
//!   (`{"name.givenName": "Ada", "urn:…:enterprise:2.0:User:manager": "…"}`), or extension
//!   URNs holding an object;
//! - `remove` on `members` with a value listing the members to take out (Entra), besides
//!   `members[value eq "…"]` (Okta);
//! - `add`/`replace` through a value filter of `eq` tests that matches no element
//!   (`emails[type eq "work"].value` on a user without emails) creates that element;
//! - `id`, `meta` and `schemas` inside a path-less value are ignored (Okta repeats `id`).
//!
//! Booleans sent as strings (`"active": "False"`) are left for the resource reader, which
//! accepts them wherever it expects a boolean.

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimResult};
use crate::filter::{self, AttrPath, CompareOp, Filter, get_ci};
use crate::schema::PATCH_OP;

/// Most operations in one request.
pub const MAX_OPERATIONS: usize = 1000;

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// Add a value.
    Add,
    /// Remove a value.
    Remove,
    /// Replace a value.
    Replace,
}

/// A PATCH path: `[URI:]attr[.sub]` or `[URI:]attr[filter][.sub]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute (with its sub-attribute when written `attr.sub`).
    pub attr: AttrPath,
    /// The value filter, when given.
    pub filter: Option<Filter>,
}

impl PatchPath {
    /// Parses a path.
    pub fn parse(raw: &str) -> ScimResult<Self> {
        let raw = raw.trim();
        let bad = |e: ScimError| ScimError::path(format!("the path {raw:?} is not valid: {}", e.detail));
        match raw.find('[') {
            None => Ok(Self {
                attr: AttrPath::parse(raw).map_err(bad)?,
                filter: None,
            }),
            Some(open) => {
                let close = raw
                    .rfind(']')
                    .ok_or_else(|| ScimError::path("a \"[\" in the path is not closed"))?;
                if close < open {
                    return Err(ScimError::path("a \"[\" in the path is not closed"));
                }
                let mut attr = AttrPath::parse(&raw[..open]).map_err(bad)?;
                if attr.sub.is_some() {
                    return Err(ScimError::path(
                        "a value filter applies to an attribute, not a sub-attribute",
                    ));
                }
                let filter = filter::parse(&raw[open + 1..close]).map_err(bad)?;
                let rest = &raw[close + 1..];
                if let Some(sub) = rest.strip_prefix('.') {
                    attr.sub = Some(AttrPath::parse(sub).map_err(bad)?.name);
                } else if !rest.is_empty() {
                    return Err(ScimError::path(format!("unexpected {rest:?} after the value filter")));
                }
                Ok(Self {
                    attr,
                    filter: Some(filter),
                })
            }
        }
    }
}

/// One operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// What it does.
    pub op: OpKind,
    /// Where (none: the resource itself).
    pub path: Option<PatchPath>,
    /// The value (none for most removals).
    pub value: Option<Value>,
}

/// Reads a PATCH request body: the PatchOp schema and its `Operations`.
pub fn parse_request(body: &Value) -> ScimResult<Vec<Operation>> {
    let schemas = get_ci(body, "schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| {
        s.iter()
            .any(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP)))
    }) {
        return Err(ScimError::syntax(format!(
            "a PATCH request must name the schema {PATCH_OP}"
        )));
    }
    let ops = get_ci(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::syntax("a PATCH request needs an \"Operations\" array"))?;
    if ops.is_empty() || ops.len() > MAX_OPERATIONS {
        return Err(ScimError::syntax(format!(
            "a PATCH request carries 1 to {MAX_OPERATIONS} operations"
        )));
    }
    ops.iter().map(parse_operation).collect()
}

fn parse_operation(op: &Value) -> ScimResult<Operation> {
    let kind = match get_ci(op, "op")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("add") => OpKind::Add,
        Some("remove") => OpKind::Remove,
        Some("replace") => OpKind::Replace,
        _ => return Err(ScimError::syntax("each operation's \"op\" is add, remove or replace")),
    };
    let path = match get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(PatchPath::parse(p)?),
        Some(_) => return Err(ScimError::path("\"path\" is a string")),
    };
    let value = get_ci(op, "value").filter(|v| !v.is_null()).cloned();
    match (kind, &path, &value) {
        (OpKind::Remove, None, _) => Err(ScimError::no_target("a removal needs a path")),
        (OpKind::Add | OpKind::Replace, _, None) => Err(ScimError::value("add and replace need a value")),
        (OpKind::Add | OpKind::Replace, None, Some(v)) if !v.is_object() => Err(ScimError::value(
            "an add or replace without a path needs an object value",
        )),
        _ => Ok(Operation { op: kind, path, value }),
    }
}

/// Applies `ops` in order to `resource` (a JSON object). `core_schema` is the resource's
/// core schema URN: a path naming it addresses the resource itself.
pub fn apply(resource: &mut Value, ops: &[Operation], core_schema: &str) -> ScimResult<()> {
    let root = resource
        .as_object_mut()
        .ok_or_else(|| ScimError::syntax("the resource is not an object"))?;
    for op in ops {
        match &op.path {
            Some(path) => apply_at(root, op.op, path, op.value.as_ref(), core_schema)?,
            None => apply_pathless(root, op.op, op.value.as_ref(), core_schema)?,
        }
    }
    Ok(())
}

const IGNORED_IN_VALUE: [&str; 3] = ["id", "meta", "schemas"];

fn apply_pathless(root: &mut Map<String, Value>, op: OpKind, value: Option<&Value>, core: &str) -> ScimResult<()> {
    let Some(Value::Object(map)) = value else {
        return Err(ScimError::value(
            "an add or replace without a path needs an object value",
        ));
    };
    for (key, v) in map {
        if IGNORED_IN_VALUE.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            continue;
        }
        let is_urn = key.to_ascii_lowercase().starts_with("urn:");
        if is_urn && v.is_object() && !key.eq_ignore_ascii_case(core) {
            // An extension's attributes, given as an object under its URN.
            let ext = child_object(root, key)?;
            apply_pathless(ext, op, Some(v), core)?;
        } else if is_urn && v.is_object() {
            apply_pathless(root, op, Some(v), core)?;
        } else {
            let path = PatchPath::parse(key)?;
            apply_at(root, op, &path, Some(v), core)?;
        }
    }
    Ok(())
}

fn key_of(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// The object under `name` (created empty when missing).
fn child_object<'a>(map: &'a mut Map<String, Value>, name: &str) -> ScimResult<&'a mut Map<String, Value>> {
    let key = key_of(map, name).unwrap_or_else(|| name.to_owned());
    let slot = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
        .ok_or_else(|| ScimError::path(format!("{name:?} is not a complex attribute")))
}

fn set(map: &mut Map<String, Value>, name: &str, value: Value) {
    let key = key_of(map, name).unwrap_or_else(|| name.to_owned());
    map.insert(key, value);
}

fn remove(map: &mut Map<String, Value>, name: &str) {
    if let Some(key) = key_of(map, name) {
        map.remove(&key);
    }
}

fn apply_at(
    root: &mut Map<String, Value>,
    op: OpKind,
    path: &PatchPath,
    value: Option<&Value>,
    core: &str,
) -> ScimResult<()> {
    let attr = &path.attr;
    // The path is an extension's URN itself (`urn:…:enterprise:2.0:User`): the operation
    // applies to the extension's object.
    if let (Some(uri), None, None) = (&attr.uri, &attr.sub, &path.filter) {
        let whole = format!("{uri}:{}", attr.name);
        if whole.eq_ignore_ascii_case(crate::schema::ENTERPRISE_USER) {
            return match op {
                OpKind::Remove => {
                    remove(root, &whole);
                    Ok(())
                }
                OpKind::Add | OpKind::Replace => {
                    let ext = child_object(root, crate::schema::ENTERPRISE_USER)?;
                    apply_pathless(ext, op, value, core)
                }
            };
        }
    }
    if attr.uri.is_none() && attr.sub.is_none() && IGNORED_IN_VALUE[..2].iter().any(|n| attr.is(n, None)) {
        return Err(ScimError::mutability(format!("{} is read-only", attr.name)));
    }
    let container = match &attr.uri {
        Some(uri) if !uri.eq_ignore_ascii_case(core) => {
            if op == OpKind::Remove && key_of(root, uri).is_none() {
                return Ok(());
            }
            child_object(root, uri)?
        }
        _ => root,
    };
    match &path.filter {
        None => apply_plain(container, op, attr, value),
        Some(f) => apply_filtered(container, op, attr, f, value),
    }
}

fn apply_plain(map: &mut Map<String, Value>, op: OpKind, attr: &AttrPath, value: Option<&Value>) -> ScimResult<()> {
    if let Some(sub) = &attr.sub {
        return match op {
            OpKind::Remove => {
                if let Some(key) = key_of(map, &attr.name) {
                    match map.get_mut(&key) {
                        Some(Value::Object(o)) => remove(o, sub),
                        Some(Value::Array(items)) => items
                            .iter_mut()
                            .filter_map(Value::as_object_mut)
                            .for_each(|o| remove(o, sub)),
                        _ => {}
                    }
                }
                Ok(())
            }
            OpKind::Add | OpKind::Replace => {
                let v = value.cloned().unwrap_or(Value::Null);
                set(child_object(map, &attr.name)?, sub, v);
                Ok(())
            }
        };
    }
    let existing_key = key_of(map, &attr.name);
    match op {
        OpKind::Remove => {
            let Some(key) = existing_key else { return Ok(()) };
            match (map.get_mut(&key), value) {
                // Entra: {"op":"Remove","path":"members","value":[{"value":"id"}]}.
                (Some(Value::Array(items)), Some(Value::Array(gone))) => {
                    items.retain(|item| !gone.iter().any(|g| same_element(item, g)));
                }
                _ => {
                    map.remove(&key);
                }
            }
            Ok(())
        }
        OpKind::Add => {
            let v = value.cloned().unwrap_or(Value::Null);
            match (existing_key.as_ref().and_then(|k| map.get_mut(k)), v) {
                (Some(Value::Array(items)), Value::Array(new)) => {
                    for n in new {
                        if !items.iter().any(|i| same_element(i, &n)) {
                            items.push(n);
                        }
                    }
                }
                (Some(Value::Array(items)), single) => {
                    if !items.iter().any(|i| same_element(i, &single)) {
                        items.push(single);
                    }
                }
                (Some(Value::Object(o)), Value::Object(new)) => o.extend(new),
                (_, v) => set(map, &attr.name, v),
            }
            Ok(())
        }
        OpKind::Replace => {
            let v = value.cloned().unwrap_or(Value::Null);
            match (existing_key.as_ref().and_then(|k| map.get_mut(k)), v) {
                // RFC 7644 §3.5.2.3: a complex attribute's unnamed sub-attributes stay.
                (Some(Value::Object(o)), Value::Object(new)) => o.extend(new),
                (_, v) => set(map, &attr.name, v),
            }
            Ok(())
        }
    }
}

/// Two elements of a multi-valued attribute are the same when their `value`s are (or, for
/// elements without one, when they are equal).
fn same_element(a: &Value, b: &Value) -> bool {
    match (get_ci(a, "value"), get_ci(b, "value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn apply_filtered(
    map: &mut Map<String, Value>,
    op: OpKind,
    attr: &AttrPath,
    f: &Filter,
    value: Option<&Value>,
) -> ScimResult<()> {
    let key = key_of(map, &attr.name);
    if op == OpKind::Remove {
        let Some(Value::Array(items)) = key.as_ref().and_then(|k| map.get_mut(k)) else {
            return Ok(());
        };
        match &attr.sub {
            None => items.retain(|item| !filter::matches(f, item)),
            Some(sub) => items
                .iter_mut()
                .filter(|item| filter::matches(f, item))
                .filter_map(Value::as_object_mut)
                .for_each(|o| remove(o, sub)),
        }
        return Ok(());
    }
    let v = value.cloned().unwrap_or(Value::Null);
    let slot = map
        .entry(key.unwrap_or_else(|| attr.name.clone()))
        .or_insert_with(|| Value::Array(Vec::new()));
    if slot.is_null() {
        *slot = Value::Array(Vec::new());
    }
    let items = slot
        .as_array_mut()
        .ok_or_else(|| ScimError::path(format!("{:?} is not multi-valued", attr.name)))?;
    let mut matched = false;
    for item in items.iter_mut().filter(|item| filter::matches(f, item)) {
        matched = true;
        write_element(item, attr.sub.as_deref(), &v);
    }
    if !matched {
        let mut fresh_map = Map::new();
        if !equalities(f, &mut fresh_map) {
            return Err(ScimError::no_target(format!(
                "the value filter on {:?} matches no element",
                attr.name
            )));
        }
        let mut fresh = Value::Object(fresh_map);
        write_element(&mut fresh, attr.sub.as_deref(), &v);
        items.push(fresh);
    }
    Ok(())
}

fn write_element(item: &mut Value, sub: Option<&str>, v: &Value) {
    match (sub, item.as_object_mut(), v) {
        (Some(sub), Some(o), v) => set(o, sub, v.clone()),
        (None, Some(o), Value::Object(new)) => o.extend(new.clone()),
        (None, _, v) => *item = v.clone(),
        (Some(_), None, _) => {}
    }
}

/// Writes the `attr eq value` tests of a conjunction into `out`; false when the filter is
/// anything else (then no element can be made from it).
fn equalities(f: &Filter, out: &mut Map<String, Value>) -> bool {
    match f {
        Filter::Compare(path, CompareOp::Eq, v) if path.uri.is_none() && path.sub.is_none() => {
            out.insert(path.name.clone(), v.clone());
            true
        }
        Filter::And(a, b) => equalities(a, out) && equalities(b, out),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
