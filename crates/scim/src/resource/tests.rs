use serde_json::json;

use super::*;
use crate::ScimType;

#[test]
fn reads_a_user_leniently() {
    let doc = json!({
        "schemas": [USER, ENTERPRISE_USER],
        "USERNAME": "ada@example.com",
        "externalId": "e-1",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": "home@example.org", "type": "home"}, {"value": "ada@example.com", "type": "work"}],
        "active": "True",
        "addresses": [{"type": "work", "streetAddress": "1 Main St", "locality": "Leeds", "postalCode": "LS1", "country": "GB"}],
        ENTERPRISE_USER: {"manager": {"value": "m-1"}},
    });
    let u = UserInput::from_json(&doc).unwrap();
    assert_eq!(u.user_name, "ada@example.com");
    assert_eq!(u.active, Some(true));
    assert_eq!(u.primary_email().as_deref(), Some("ada@example.com"));
    assert_eq!(u.shipping_address().as_deref(), Some("1 Main St\nLeeds LS1\nGB"));
    assert_eq!(u.manager.as_deref(), Some("m-1"));
    assert_eq!(u.effective_display_name(), "Ada Lovelace");
    // Entra's bare manager id.
    let bare = json!({"userName": "b", ENTERPRISE_USER: {"manager": "m-2"}});
    assert_eq!(UserInput::from_json(&bare).unwrap().manager.as_deref(), Some("m-2"));
}

#[test]
fn refuses_bad_users() {
    let cases = [
        json!({}),
        json!({"userName": ""}),
        json!({"userName": 5}),
        json!({"userName": "a", "active": "maybe"}),
        json!({"userName": "a", "emails": "a@b.example"}),
        json!({"userName": "a", "emails": ["a@b.example"]}),
        json!({"userName": "a", "name": "Ada"}),
        json!([]),
    ];
    for doc in cases {
        let e = UserInput::from_json(&doc).expect_err(&doc.to_string());
        assert!(
            matches!(e.scim_type, Some(ScimType::InvalidValue | ScimType::InvalidSyntax)),
            "{doc}"
        );
    }
}

#[test]
fn groups_round_trip() {
    let doc = json!({"displayName": "Ops", "members": [{"value": "a"}, {"value": "a"}, {"value": "b"}]});
    let g = GroupInput::from_json(&doc).unwrap();
    assert_eq!(g.members, vec!["a".to_owned(), "b".to_owned()]);
    assert!(GroupInput::from_json(&json!({"members": []})).is_err());
    assert!(GroupInput::from_json(&json!({"displayName": "x", "members": [{"display": "a"}]})).is_err());
    let view = GroupView {
        id: "g".into(),
        display_name: "Ops".into(),
        external_id: None,
        members: vec![("a".into(), "Ada".into())],
    };
    assert_eq!(view.to_json(true)["members"][0]["value"], json!("a"));
    assert!(view.to_json(false).get("members").is_none());
}

#[test]
fn versions_follow_content() {
    let a = json!({"id": "1", "userName": "a"});
    let b = json!({"id": "1", "userName": "b"});
    assert_ne!(version_of(&a), version_of(&b));
    assert_eq!(version_of(&a), version_of(&a.clone()));
    assert!(version_of(&a).starts_with("W/\""));
}

#[test]
fn projects_attributes() {
    let doc = json!({"schemas": [USER], "id": "1", "userName": "a", "name": {"givenName": "A"}, "emails": [], ENTERPRISE_USER: {"manager": {"value": "m"}}});
    let only = project(doc.clone(), Some("userName,name.givenName"), None);
    assert_eq!(only.as_object().unwrap().len(), 4, "{only}");
    assert!(only.get("emails").is_none());
    let ext = project(doc.clone(), Some(&format!("{ENTERPRISE_USER}:manager")), None);
    assert!(ext.get(ENTERPRISE_USER).is_some());
    let without = project(doc, None, Some("emails,name"));
    assert!(without.get("emails").is_none() && without.get("name").is_none() && without.get("userName").is_some());
}
