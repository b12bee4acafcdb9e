use serde_json::json;

use super::*;
use crate::ScimType;

fn path(name: &str, sub: Option<&str>) -> AttrPath {
    AttrPath {
        uri: None,
        name: name.into(),
        sub: sub.map(Into::into),
    }
}

fn cmp(name: &str, op: CompareOp, v: Value) -> Filter {
    Filter::Compare(path(name, None), op, v)
}

#[test]
fn parses_the_rfc_examples() {
    let cases: Vec<(&str, Filter)> = vec![
        (r#"userName Eq "john""#, cmp("userName", CompareOp::Eq, json!("john"))),
        (
            r#"name.familyName co "O'Malley""#,
            Filter::Compare(path("name", Some("familyName")), CompareOp::Co, json!("O'Malley")),
        ),
        (r#"userName sw "J""#, cmp("userName", CompareOp::Sw, json!("J"))),
        ("title pr", Filter::Present(path("title", None))),
        (
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            Filter::Compare(
                path("meta", Some("lastModified")),
                CompareOp::Gt,
                json!("2011-05-13T04:42:34Z"),
            ),
        ),
        ("active eq False", cmp("active", CompareOp::Eq, json!(false))),
        ("active eq false", cmp("active", CompareOp::Eq, json!(false))),
        ("count ge 10", cmp("count", CompareOp::Ge, json!(10))),
        ("manager eq null", cmp("manager", CompareOp::Eq, Value::Null)),
        (
            r#"title pr and userType eq "Employee""#,
            Filter::And(
                Box::new(Filter::Present(path("title", None))),
                Box::new(cmp("userType", CompareOp::Eq, json!("Employee"))),
            ),
        ),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            Filter::And(
                Box::new(cmp("userType", CompareOp::Eq, json!("Employee"))),
                Box::new(Filter::Or(
                    Box::new(cmp("emails", CompareOp::Co, json!("example.com"))),
                    Box::new(Filter::Compare(
                        path("emails", Some("value")),
                        CompareOp::Co,
                        json!("example.org"),
                    )),
                )),
            ),
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com")"#,
            Filter::And(
                Box::new(cmp("userType", CompareOp::Ne, json!("Employee"))),
                Box::new(Filter::Not(Box::new(cmp(
                    "emails",
                    CompareOp::Co,
                    json!("example.com"),
                )))),
            ),
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"]"#,
            Filter::ValuePath(
                path("emails", None),
                Box::new(Filter::And(
                    Box::new(cmp("type", CompareOp::Eq, json!("work"))),
                    Box::new(cmp("value", CompareOp::Co, json!("@example.com"))),
                )),
            ),
        ),
        (
            r#"emails[type eq "work"].value eq "a@b.example""#,
            Filter::ValuePath(
                path("emails", None),
                Box::new(Filter::And(
                    Box::new(cmp("type", CompareOp::Eq, json!("work"))),
                    Box::new(cmp("value", CompareOp::Eq, json!("a@b.example"))),
                )),
            ),
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x""#,
            Filter::Compare(
                AttrPath {
                    uri: Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".into()),
                    name: "manager".into(),
                    sub: Some("value".into()),
                },
                CompareOp::Eq,
                json!("x"),
            ),
        ),
        (
            r#"userName eq "quote \" and ] inside""#,
            cmp("userName", CompareOp::Eq, json!("quote \" and ] inside")),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(parse(input), Ok(expected), "{input}");
    }
}

#[test]
fn precedence_is_not_and_or() {
    // a or b and c  ==  a or (b and c)
    let f = parse(r#"a eq "1" or b eq "2" and c eq "3""#).unwrap();
    assert!(matches!(f, Filter::Or(_, ref r) if matches!(**r, Filter::And(_, _))));
}

#[test]
fn refuses_malformed_filters_with_invalid_filter() {
    let nested = format!("{}a pr{}", "(".repeat(40), ")".repeat(40));
    let long = format!("userName eq \"{}\"", "a".repeat(MAX_FILTER_LEN));
    let cases = [
        "",
        "userName",
        "userName eq",
        r#"userName xx "a""#,
        r#"userName eq "unterminated"#,
        r#"userName eq unquoted"#,
        r#"(userName eq "a""#,
        r#"userName eq "a")"#,
        r#"emails[type eq "work""#,
        r#"not userName eq "a""#,
        r#"userName eq "a" and"#,
        r#"userName co 5"#,
        "active gt true",
        "name gt null",
        r#"1abc eq "a""#,
        r#"user$name eq "a""#,
        r#"userName eq "a" "b""#,
        nested.as_str(),
        long.as_str(),
    ];
    for input in cases {
        let e = parse(input).expect_err(input);
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{input}");
        assert_eq!(e.status, 400);
    }
}

#[test]
fn evaluates_against_documents() {
    let user = json!({
        "userName": "Ada",
        "active": true,
        "emails": [{"value": "ada@example.com", "type": "work"}, {"value": "ada@home.example", "type": "home"}],
        "name": {"givenName": "Ada"},
    });
    let cases = [
        (r#"username eq "ada""#, true),
        (r#"userName ne "ada""#, false),
        (r#"emails co "home""#, true),
        (r#"emails[type eq "work"].value eq "ada@example.com""#, true),
        (r#"emails[type eq "work"].value eq "ada@home.example""#, false),
        (r#"emails[type eq "home" and value ew ".example"]"#, true),
        ("name.givenName pr", true),
        ("name.familyName pr", false),
        ("active eq true", true),
        ("not (active eq true)", false),
        (r#"title eq "x""#, false),
        (r#"title ne "x""#, true),
        ("title eq null", true),
        (r#"userName gt "a" and userName lt "b""#, true),
    ];
    for (input, expected) in cases {
        assert_eq!(matches(&parse(input).unwrap(), &user), expected, "{input}");
    }
    // Entra's string booleans.
    let entra = json!({"active": "False"});
    assert!(matches(&parse("active eq false").unwrap(), &entra));
}
