//! Users and groups as SCIM documents (RFC 7643 §4): read leniently from what a client
//! sends, written from plain values the caller fills.
//!
//! Reading accepts attribute names in any letter case, booleans as strings (`"False"`, as
//! Entra ID sends them), and the enterprise `manager` as an object or a bare id.

use serde_json::{Map, Value, json};

use crate::error::{ScimError, ScimResult};
use crate::filter::get_ci;
use crate::schema::{ENTERPRISE_USER, GROUP, USER};

/// A user as a client sent it (POST, PUT, or the result of a PATCH).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserInput {
    /// `userName` (required).
    pub user_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `name` (kept as sent: `formatted`, `givenName`, `familyName`, …).
    pub name: Option<Value>,
    /// `emails` as sent.
    pub emails: Vec<Value>,
    /// `active` (absent: leave as it is, or true on creation).
    pub active: Option<bool>,
    /// `addresses` as sent.
    pub addresses: Vec<Value>,
    /// The enterprise extension's `manager.value`.
    pub manager: Option<String>,
}

/// Reads a boolean the way Entra ID and Okta send them: JSON booleans, or the strings
/// `"True"`/`"False"` in any letter case.
pub fn lenient_bool(v: &Value, field: &str) -> ScimResult<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::value(format!("{field} must be a boolean"))),
    }
}

fn opt_string(obj: &Value, name: &str) -> ScimResult<Option<String>> {
    match get_ci(obj, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ScimError::value(format!("{name} must be a string"))),
    }
}

fn multi(obj: &Value, name: &str) -> ScimResult<Vec<Value>> {
    match get_ci(obj, name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            if items.iter().any(|i| !i.is_object()) {
                return Err(ScimError::value(format!("each of {name} must be an object")));
            }
            Ok(items.clone())
        }
        Some(_) => Err(ScimError::value(format!("{name} must be an array"))),
    }
}

impl UserInput {
    /// Reads a user document.
    pub fn from_json(doc: &Value) -> ScimResult<Self> {
        if !doc.is_object() {
            return Err(ScimError::syntax("a user is a JSON object"));
        }
        let user_name = opt_string(doc, "userName")?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| ScimError::value("userName is required"))?;
        let name = match get_ci(doc, "name") {
            None | Some(Value::Null) => None,
            Some(v @ Value::Object(_)) => Some(v.clone()),
            Some(_) => return Err(ScimError::value("name must be an object")),
        };
        let active = match get_ci(doc, "active") {
            None | Some(Value::Null) => None,
            Some(v) => Some(lenient_bool(v, "active")?),
        };
        let manager = match get_ci(doc, ENTERPRISE_USER).and_then(|ext| get_ci(ext, "manager")) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(m @ Value::Object(_)) => opt_string(m, "value")?,
            Some(_) => return Err(ScimError::value("manager must be an object or an id")),
        };
        Ok(Self {
            user_name,
            external_id: opt_string(doc, "externalId")?,
            display_name: opt_string(doc, "displayName")?,
            name,
            emails: multi(doc, "emails")?,
            active,
            addresses: multi(doc, "addresses")?,
            manager: manager.filter(|m| !m.trim().is_empty()),
        })
    }

    /// The email keyfleet keeps: the primary one, else the work one, else the first.
    pub fn primary_email(&self) -> Option<String> {
        pick_primary(&self.emails)
            .and_then(|e| get_ci(e, "value"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// The shipping address keyfleet keeps, as text: the primary (else work, else first)
    /// address's `formatted`, or its parts one per line.
    pub fn shipping_address(&self) -> Option<String> {
        pick_primary(&self.addresses).and_then(address_text)
    }

    /// The display name keyfleet keeps: `displayName`, else `name.formatted`, else given and
    /// family names, else the userName.
    pub fn effective_display_name(&self) -> String {
        let from_name = self.name.as_ref().and_then(|n| {
            let s = |k: &str| {
                get_ci(n, k)
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
            };
            s("formatted").map(str::to_owned).or_else(|| {
                let parts: Vec<&str> = [s("givenName"), s("familyName")].into_iter().flatten().collect();
                (!parts.is_empty()).then(|| parts.join(" "))
            })
        });
        self.display_name
            .clone()
            .filter(|d| !d.trim().is_empty())
            .or(from_name)
            .unwrap_or_else(|| self.user_name.clone())
    }
}

fn pick_primary(items: &[Value]) -> Option<&Value> {
    let flag = |i: &&Value| get_ci(i, "primary").is_some_and(|p| lenient_bool(p, "primary").unwrap_or(false));
    let work = |i: &&Value| {
        get_ci(i, "type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("work"))
    };
    items
        .iter()
        .find(flag)
        .or_else(|| items.iter().find(work))
        .or_else(|| items.first())
}

/// An address as text: `formatted`, or street, locality region postal code, country.
pub fn address_text(a: &Value) -> Option<String> {
    let s = |k: &str| {
        get_ci(a, k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    if let Some(f) = s("formatted") {
        return Some(f.to_owned());
    }
    let city: Vec<&str> = [s("locality"), s("region"), s("postalCode")]
        .into_iter()
        .flatten()
        .collect();
    let lines: Vec<String> = [
        s("streetAddress").map(str::to_owned),
        (!city.is_empty()).then(|| city.join(" ")),
        s("country").map(str::to_owned),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// What a user document is written from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserView {
    /// keyfleet's id.
    pub id: String,
    /// userName.
    pub user_name: String,
    /// externalId.
    pub external_id: Option<String>,
    /// displayName (none: left out).
    pub display_name: Option<String>,
    /// `name` as last sent, if any.
    pub name: Option<Value>,
    /// `emails`.
    pub emails: Vec<Value>,
    /// active (none: left out).
    pub active: Option<bool>,
    /// `addresses`.
    pub addresses: Vec<Value>,
    /// The manager's id (`manager.value`).
    pub manager: Option<String>,
    /// The groups the user belongs to: (id, displayName).
    pub groups: Vec<(String, String)>,
}

impl UserView {
    /// The document, without `meta` (see [`with_meta`]).
    pub fn to_json(&self) -> Value {
        let mut doc = Map::new();
        let mut schemas = vec![json!(USER)];
        doc.insert("id".into(), json!(self.id));
        if let Some(e) = &self.external_id {
            doc.insert("externalId".into(), json!(e));
        }
        doc.insert("userName".into(), json!(self.user_name));
        if let Some(n) = &self.name {
            doc.insert("name".into(), n.clone());
        }
        if let Some(d) = &self.display_name {
            doc.insert("displayName".into(), json!(d));
        }
        if !self.emails.is_empty() {
            doc.insert("emails".into(), Value::Array(self.emails.clone()));
        }
        if let Some(a) = self.active {
            doc.insert("active".into(), json!(a));
        }
        if !self.addresses.is_empty() {
            doc.insert("addresses".into(), Value::Array(self.addresses.clone()));
        }
        if !self.groups.is_empty() {
            let groups = self
                .groups
                .iter()
                .map(|(id, name)| json!({"value": id, "display": name, "$ref": format!("../Groups/{id}")}))
                .collect();
            doc.insert("groups".into(), Value::Array(groups));
        }
        if let Some(m) = &self.manager {
            schemas.push(json!(ENTERPRISE_USER));
            doc.insert(
                ENTERPRISE_USER.into(),
                json!({"manager": {"value": m, "$ref": format!("../Users/{m}")}}),
            );
        }
        doc.insert("schemas".into(), Value::Array(schemas));
        Value::Object(doc)
    }
}

/// A group as a client sent it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupInput {
    /// `displayName` (required).
    pub display_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// The members' ids (`members[].value`), in order, without repeats.
    pub members: Vec<String>,
}

impl GroupInput {
    /// Reads a group document.
    pub fn from_json(doc: &Value) -> ScimResult<Self> {
        if !doc.is_object() {
            return Err(ScimError::syntax("a group is a JSON object"));
        }
        let display_name = opt_string(doc, "displayName")?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| ScimError::value("displayName is required"))?;
        let mut members = Vec::new();
        for m in multi(doc, "members")? {
            let id = opt_string(&m, "value")?.ok_or_else(|| ScimError::value("each member needs a value"))?;
            if !members.contains(&id) {
                members.push(id);
            }
        }
        Ok(Self {
            display_name,
            external_id: opt_string(doc, "externalId")?,
            members,
        })
    }
}

/// What a group document is written from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupView {
    /// keyfleet's id.
    pub id: String,
    /// displayName.
    pub display_name: String,
    /// externalId.
    pub external_id: Option<String>,
    /// Members: (id, display).
    pub members: Vec<(String, String)>,
}

impl GroupView {
    /// The document, without `meta`. `with_members` false leaves `members` out
    /// (`excludedAttributes=members`).
    pub fn to_json(&self, with_members: bool) -> Value {
        let mut doc = Map::new();
        doc.insert("schemas".into(), json!([GROUP]));
        doc.insert("id".into(), json!(self.id));
        if let Some(e) = &self.external_id {
            doc.insert("externalId".into(), json!(e));
        }
        doc.insert("displayName".into(), json!(self.display_name));
        if with_members {
            let members = self
                .members
                .iter()
                .map(|(id, _display)| json!({"value": id, "$ref": format!("../Users/{id}")}))
                .collect();
            doc.insert("members".into(), Value::Array(members));
        }
        Value::Object(doc)
    }
}

/// Adds `meta` to a document.
pub fn with_meta(
    mut doc: Value,
    resource_type: &str,
    created: &str,
    last_modified: &str,
    location: &str,
    version: &str,
) -> Value {
    if let Some(map) = doc.as_object_mut() {
        map.insert(
            "meta".into(),
            json!({
                "resourceType": resource_type,
                "created": created,
                "lastModified": last_modified,
                "location": location,
                "version": version,
            }),
        );
    }
    doc
}

/// A weak entity tag over a document's content (without `meta`): FNV-1a of its JSON, so
/// any change made by any path (SCIM, the console, the API) changes it.
pub fn version_of(doc: &Value) -> String {
    let text = doc.to_string();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("W/\"{h:016x}\"")
}

/// The top-level attribute a listed name (`userName`, `name.givenName`, `urn:…:User:manager`,
/// `emails.value`) selects, lower-cased.
fn top_level(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    let rest = match lower.rfind(':') {
        // An extension attribute selects the extension's object.
        Some(i)
            if !lower.starts_with(&USER.to_ascii_lowercase()) && !lower.starts_with(&GROUP.to_ascii_lowercase()) =>
        {
            return lower[..i].to_owned();
        }
        Some(i) => lower[i + 1..].to_owned(),
        None => lower,
    };
    rest.split('.').next().unwrap_or_default().to_owned()
}

/// Applies `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, comma-separated) to a
/// document: `id`, `schemas` and `meta` are always returned.
pub fn project(mut doc: Value, attributes: Option<&str>, excluded: Option<&str>) -> Value {
    let list = |s: Option<&str>| -> Vec<String> {
        s.map(|s| s.split(',').filter(|p| !p.trim().is_empty()).map(top_level).collect())
            .unwrap_or_default()
    };
    let (keep, drop) = (list(attributes), list(excluded));
    if let Some(map) = doc.as_object_mut() {
        let always = |k: &str| ["id", "schemas", "meta"].iter().any(|a| a.eq_ignore_ascii_case(k));
        map.retain(|k, _| {
            let k = k.to_ascii_lowercase();
            always(&k) || ((keep.is_empty() || keep.contains(&k)) && !drop.contains(&k))
        });
    }
    doc
}

#[cfg(test)]
mod tests;
