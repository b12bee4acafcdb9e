use super::*;

#[test]
fn usernames_are_canonicalised() {
    for raw in ["Alice", " alice ", "ALICE", "\u{FF21}lice"] {
        assert_eq!(Username::parse(raw).unwrap().as_str(), "alice", "{raw:?}");
    }
    assert_eq!(
        Username::parse("A.B-c_d+e@Ex.org").unwrap().as_str(),
        "a.b-c_d+e@ex.org"
    );
}

#[test]
fn usernames_are_validated() {
    assert_eq!(Username::parse("  "), Err(UserFieldError::UsernameLength));
    assert_eq!(Username::parse(&"a".repeat(65)), Err(UserFieldError::UsernameLength));
    assert!(Username::parse(&"a".repeat(64)).is_ok());
    for bad in ["al ice", "al\u{202E}ice", "élan", "a/b", "a'b", "<script>"] {
        assert_eq!(Username::parse(bad), Err(UserFieldError::UsernameCharacters), "{bad:?}");
    }
}

#[test]
fn display_names_refuse_controls_and_bidi() {
    assert_eq!(validate_display_name("  Ada Lovelace ").unwrap(), "Ada Lovelace");
    assert_eq!(
        validate_display_name("Zoë <b>"),
        Ok("Zoë <b>".to_owned()),
        "escaping is the renderer's job"
    );
    assert!(validate_display_name("a\u{202E}b").is_err());
    assert!(validate_display_name("a\nb").is_err());
    assert!(validate_display_name("").is_err());
    assert!(validate_display_name(&"x".repeat(129)).is_err());
}

#[test]
fn emails_are_validated() {
    assert_eq!(validate_email("Bob@Example.ORG", "email").unwrap(), "Bob@example.org");
    for bad in [
        "bob",
        "bob@",
        "@x.org",
        "bob@x",
        "bob@.x.org",
        "bob@x..org",
        "b ob@x.org",
        "a@b@x.org",
    ] {
        assert_eq!(
            validate_email(bad, "email"),
            Err(UserFieldError::Email("email")),
            "{bad:?}"
        );
    }
}

#[test]
fn addresses_allow_newlines_only() {
    assert!(validate_address("1 Main St\r\nSpringfield").is_ok());
    assert!(validate_address("1 Main St\u{2066}").is_err());
    assert!(validate_address(&"x".repeat(513)).is_err());
}

#[test]
fn roles_round_trip() {
    for r in [Role::Admin, Role::Helpdesk, Role::Worker] {
        assert_eq!(Role::parse(r.as_str()), Some(r));
    }
    assert_eq!(Role::parse("root"), None);
}
