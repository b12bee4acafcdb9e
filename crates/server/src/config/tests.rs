use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn err(pairs: &[(&str, &str)]) -> String {
    Settings::resolve(&Overrides::default(), &env(pairs))
        .unwrap_err()
        .to_string()
}

#[test]
fn defaults_are_safe() {
    let s = Settings::resolve(&Overrides::default(), &env(&[])).unwrap();
    assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(s.database_url, "sqlite://keyfleet.db");
    assert_eq!(s.rp_id, "localhost");
    assert_eq!(s.origins, vec!["http://localhost:8080".to_owned()]);
    assert_eq!(s.issuer, "http://localhost:8080");
    assert!(!s.secure_cookies);
    assert_eq!(s.session_idle, Duration::from_secs(3600));
}

#[test]
fn flag_beats_environment_beats_file() {
    let dir = std::env::temp_dir().join(format!("kf-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("k.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:1000\"\nrp_id = \"example.com\"\norigins = [\"https://id.example.com\"]\nsession_idle_minutes = 5\n").unwrap();
    let o = Overrides {
        config: Some(file.clone()),
        ..Default::default()
    };
    let s = Settings::resolve(&o, &env(&[])).unwrap();
    assert_eq!(s.listen.port(), 1000);
    assert_eq!(s.origins, vec!["https://id.example.com".to_owned()]);
    assert!(s.secure_cookies);
    assert_eq!(s.session_idle, Duration::from_secs(300));
    let s = Settings::resolve(&o, &env(&[("KEYFLEET_LISTEN", "127.0.0.1:2000")])).unwrap();
    assert_eq!(s.listen.port(), 2000);
    let o2 = Overrides {
        listen: Some("127.0.0.1:3000".into()),
        ..o
    };
    let s = Settings::resolve(&o2, &env(&[("KEYFLEET_LISTEN", "127.0.0.1:2000")])).unwrap();
    assert_eq!(s.listen.port(), 3000);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_values_name_the_setting_and_source() {
    let e = err(&[("KEYFLEET_LISTEN", "localhost")]);
    assert!(
        e.contains("listen") && e.contains("KEYFLEET_LISTEN") && e.contains("IP:PORT"),
        "{e}"
    );
    let e = err(&[("KEYFLEET_DATABASE_URL", "mysql://x")]);
    assert!(e.contains("database_url"), "{e}");
    let e = err(&[("KEYFLEET_RP_ID", "https://example.com")]);
    assert!(e.contains("rp_id"), "{e}");
    let e = err(&[
        ("KEYFLEET_ORIGINS", "http://example.com"),
        ("KEYFLEET_RP_ID", "example.com"),
    ]);
    assert!(e.contains("only allowed for localhost"), "{e}");
    let e = err(&[("KEYFLEET_ORIGINS", "https://evil.com")]);
    assert!(e.contains("must be localhost"), "{e}");
    let e = err(&[("KEYFLEET_ORIGINS", "http://localhost:8080/path")]);
    assert!(e.contains("not an origin"), "{e}");
    let e = err(&[("KEYFLEET_SESSION_IDLE_MINUTES", "0")]);
    assert!(e.contains("1 to 1440"), "{e}");
    let e = err(&[("KEYFLEET_MAX_BODY_BYTES", "lots")]);
    assert!(e.contains("max_body_bytes"), "{e}");
    let e = err(&[("KEYFLEET_LOG_FORMAT", "xml")]);
    assert!(e.contains("human or json"), "{e}");
    let e = err(&[("KEYFLEET_MASTER_KEY", "c2hvcnQ")]);
    assert!(
        e.contains("32 bytes") && !e.contains("c2hvcnQ\""),
        "the key value must not be echoed: {e}"
    );
}

#[test]
fn unknown_file_keys_are_refused() {
    let dir = std::env::temp_dir().join(format!("kf-config-u-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("k.toml");
    std::fs::write(&file, "lisen = \"127.0.0.1:1000\"\n").unwrap();
    let e = Settings::resolve(
        &Overrides {
            config: Some(file.clone()),
            ..Default::default()
        },
        &env(&[]),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        format!("unknown setting `lisen` in {}; did you mean `listen`?", file.display())
    );
    let refusal = |text: &str| {
        std::fs::write(&file, text).unwrap();
        let o = Overrides {
            config: Some(file.clone()),
            ..Default::default()
        };
        Settings::resolve(&o, &env(&[])).unwrap_err().to_string()
    };
    let shown = file.display();
    assert_eq!(
        refusal("shutdown_grace = 5\n"),
        format!("unknown setting `shutdown_grace` in {shown}; did you mean `shutdown_grace_seconds`?")
    );
    assert_eq!(
        refusal("whatever = 1\n"),
        format!("unknown setting `whatever` in {shown}; see docs/configuration.md for the settings")
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn typos_are_matched_to_the_closest_setting() {
    for (typo, meant) in [
        ("listn", "listen"),
        ("lsiten", "listen"),
        ("databse_url", "database_url"),
        ("database-url", "database_url"),
        ("DATABASE_URL", "database_url"),
        ("rp-id", "rp_id"),
        ("session_idle_minute", "session_idle_minutes"),
        ("tap_atempts_per_user", "tap_attempts_per_user"),
        ("session_idle", "session_idle_minutes"),
    ] {
        assert_eq!(closest_setting(typo), Some(meant), "{typo}");
    }
    for unrelated in ["x", "colour", "port", "password", "session", "tap"] {
        assert_eq!(closest_setting(unrelated), None, "{unrelated}");
    }
    assert_eq!(edit_distance("listen", "lsiten"), 1);
    assert_eq!(edit_distance("", "abc"), 3);
}

#[test]
fn listen_takes_host_names_and_resolves_them() {
    let s = Settings::resolve(&Overrides::default(), &env(&[("KEYFLEET_LISTEN", "localhost:8123")])).unwrap();
    assert_eq!(s.listen.to_string(), "localhost:8123");
    assert_eq!(s.listen.port(), 8123);
    assert!(!s.listen.addrs().is_empty());
    assert!(
        s.listen
            .addrs()
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 8123),
        "{:?}",
        s.listen.addrs()
    );
    let ipv6 = Settings::resolve(&Overrides::default(), &env(&[("KEYFLEET_LISTEN", "[::1]:9")])).unwrap();
    assert_eq!(ipv6.listen.addrs(), ["[::1]:9".parse().unwrap()]);
    for bad in ["localhost", ":8080", "::1:8080", "local host:1", "localhost:http"] {
        let e = err(&[("KEYFLEET_LISTEN", bad)]);
        assert!(e.contains("expected IP:PORT or HOST:PORT"), "{bad}: {e}");
    }
    let e = err(&[("KEYFLEET_LISTEN", "no-such-host.invalid:8080")]);
    assert!(e.contains("cannot resolve no-such-host.invalid"), "{e}");
}

#[test]
fn docs_list_every_setting() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md")).unwrap();
    for s in SETTINGS {
        let var = format!("KEYFLEET_{}", s.key.to_uppercase());
        assert!(doc.contains(&var), "docs/configuration.md lacks {var}");
    }
}

#[test]
fn the_default_origin_follows_the_listen_port() {
    let s = Settings::resolve(&Overrides::default(), &env(&[("KEYFLEET_LISTEN", "127.0.0.1:9000")])).unwrap();
    assert_eq!(s.origins, vec!["http://localhost:9000".to_owned()]);
    assert_eq!(s.issuer, "http://localhost:9000");
    // Set, the origins are taken as given; another RP ID needs them set.
    let s = Settings::resolve(
        &Overrides::default(),
        &env(&[
            ("KEYFLEET_LISTEN", "127.0.0.1:9000"),
            ("KEYFLEET_ORIGINS", "http://localhost:8080"),
        ]),
    )
    .unwrap();
    assert_eq!(s.origins, vec!["http://localhost:8080".to_owned()]);
    let e = err(&[("KEYFLEET_LISTEN", "127.0.0.1:9000"), ("KEYFLEET_RP_ID", "example.com")]);
    assert!(e.contains("origins"), "{e}");
    // Port 0 (a port picked at bind time) keeps the documented default.
    let s = Settings::resolve(&Overrides::default(), &env(&[("KEYFLEET_LISTEN", "127.0.0.1:0")])).unwrap();
    assert_eq!(s.origins, vec!["http://localhost:8080".to_owned()]);
}
