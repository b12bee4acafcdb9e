use serde_json::{Value, json};

use super::*;
use crate::ScimType;
use crate::schema::{ENTERPRISE_USER, GROUP, USER};

fn patch(doc: Value, body: Value, core: &str) -> Result<Value, ScimError> {
    let ops = parse_request(&body)?;
    let mut doc = doc;
    apply(&mut doc, &ops, core)?;
    Ok(doc)
}

fn ops(list: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": list})
}

fn user() -> Value {
    json!({
        "schemas": [USER], "id": "u1", "userName": "ada", "displayName": "Ada", "active": true,
        "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
    })
}

/// Each case: operations, then what the patched document must hold at a JSON pointer.
#[test]
fn applies_what_entra_and_okta_send() {
    let cases: Vec<(Value, &str, Value)> = vec![
        // Entra ID: deactivate with a string boolean (read later by the resource reader).
        (
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
            "/active",
            json!("False"),
        ),
        // Okta: path-less replace carrying the id and active.
        (
            json!([{"op": "replace", "value": {"id": "u1", "active": false}}]),
            "/active",
            json!(false),
        ),
        // Entra ID: path-less replace with keys that are paths.
        (
            json!([{"op": "Replace", "value": {"name.givenName": "Ada", "displayName": "Ada L."}}]),
            "/name/givenName",
            json!("Ada"),
        ),
        (
            json!([{"op": "Replace", "value": {"name.givenName": "Ada", "displayName": "Ada L."}}]),
            "/displayName",
            json!("Ada L."),
        ),
        // Entra ID: the manager as a bare id under its URN path.
        (
            json!([{"op": "Add", "path": format!("{ENTERPRISE_USER}:manager"), "value": "m1"}]),
            &*Box::leak(format!("/{}/manager", ENTERPRISE_USER.replace('/', "~1")).into_boxed_str()),
            json!("m1"),
        ),
        // A value filter on an existing element.
        (
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "ada@new.example"}]),
            "/emails/0/value",
            json!("ada@new.example"),
        ),
        // A value filter matching nothing creates the element (Entra on a user without addresses).
        (
            json!([{"op": "Add", "path": "addresses[type eq \"work\"].formatted", "value": "1 Main St"}]),
            "/addresses/0/formatted",
            json!("1 Main St"),
        ),
        (
            json!([{"op": "Add", "path": "addresses[type eq \"work\"].formatted", "value": "1 Main St"}]),
            "/addresses/0/type",
            json!("work"),
        ),
        // Extension object in a path-less add.
        (
            json!([{"op": "add", "value": {ENTERPRISE_USER: {"manager": {"value": "m2"}}}}]),
            "/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User/manager/value",
            json!("m2"),
        ),
        // The extension's URN as the path.
        (
            json!([{"op": "add", "path": ENTERPRISE_USER, "value": {"manager": {"value": "m3"}}}]),
            "/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User/manager/value",
            json!("m3"),
        ),
        // Remove a sub-attribute.
        (
            json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]),
            "/emails/0/type",
            json!("work"),
        ),
        // Add to a multi-valued attribute appends.
        (
            json!([{"op": "add", "path": "emails", "value": [{"value": "b@example.com", "type": "home"}]}]),
            "/emails/1/value",
            json!("b@example.com"),
        ),
        // Replace of a complex attribute keeps the sub-attributes it does not name.
        (
            json!([{"op": "add", "path": "name", "value": {"givenName": "A", "familyName": "L"}}, {"op": "replace", "path": "name", "value": {"givenName": "B"}}]),
            "/name/familyName",
            json!("L"),
        ),
    ];
    for (list, pointer, expected) in cases {
        let out = patch(user(), ops(list.clone()), USER).unwrap_or_else(|e| panic!("{list}: {e}"));
        assert_eq!(out.pointer(pointer), Some(&expected), "{list}");
    }
}

#[test]
fn removes_group_members_both_ways() {
    let group =
        json!({"schemas": [GROUP], "displayName": "Ops", "members": [{"value": "a"}, {"value": "b"}, {"value": "c"}]});
    // Okta.
    let out = patch(
        group.clone(),
        ops(json!([{"op": "remove", "path": "members[value eq \"b\"]"}])),
        GROUP,
    )
    .unwrap();
    assert_eq!(out["members"], json!([{"value": "a"}, {"value": "c"}]));
    // Entra ID.
    let out = patch(
        group.clone(),
        ops(json!([{"op": "Remove", "path": "members", "value": [{"value": "a"}, {"value": "c"}]}])),
        GROUP,
    )
    .unwrap();
    assert_eq!(out["members"], json!([{"value": "b"}]));
    // Entra ID adds, repeating one.
    let out = patch(
        group.clone(),
        ops(json!([{"op": "Add", "path": "members", "value": [{"value": "c"}, {"value": "d"}]}])),
        GROUP,
    )
    .unwrap();
    assert_eq!(out["members"].as_array().unwrap().len(), 4);
    // Okta replaces the whole list.
    let out = patch(
        group.clone(),
        ops(json!([{"op": "replace", "path": "members", "value": [{"value": "z"}]}])),
        GROUP,
    )
    .unwrap();
    assert_eq!(out["members"], json!([{"value": "z"}]));
    // Removing every member.
    let out = patch(group, ops(json!([{"op": "remove", "path": "members"}])), GROUP).unwrap();
    assert!(out.get("members").is_none());
}

#[test]
fn refuses_bad_requests_with_their_scim_type() {
    let cases: Vec<(Value, ScimType)> = vec![
        (
            json!({"Operations": [{"op": "add", "path": "title", "value": "x"}]}),
            ScimType::InvalidSyntax,
        ),
        (json!({"schemas": [PATCH_OP]}), ScimType::InvalidSyntax),
        (ops(json!([])), ScimType::InvalidSyntax),
        (
            ops(json!([{"op": "move", "path": "title", "value": "x"}])),
            ScimType::InvalidSyntax,
        ),
        (ops(json!([{"op": "remove"}])), ScimType::NoTarget),
        (ops(json!([{"op": "add", "path": "title"}])), ScimType::InvalidValue),
        (ops(json!([{"op": "replace", "value": "x"}])), ScimType::InvalidValue),
        (
            ops(json!([{"op": "replace", "path": "emails[type eq", "value": "x"}])),
            ScimType::InvalidPath,
        ),
        (
            ops(json!([{"op": "replace", "path": "1bad", "value": "x"}])),
            ScimType::InvalidPath,
        ),
        (
            ops(json!([{"op": "replace", "path": 5, "value": "x"}])),
            ScimType::InvalidPath,
        ),
        (
            ops(json!([{"op": "replace", "path": "id", "value": "x"}])),
            ScimType::Mutability,
        ),
        (
            ops(json!([{"op": "replace", "path": "emails[value co \"zzz\"].type", "value": "x"}])),
            ScimType::NoTarget,
        ),
    ];
    for (body, expected) in cases {
        let e = patch(user(), body.clone(), USER).expect_err(&body.to_string());
        assert_eq!(e.scim_type, Some(expected), "{body}");
    }
}
