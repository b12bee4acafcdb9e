//! Architecture invariant: a handler never writes to a store. Routes, pages and the
//! extractors parse, call a use case of `keyfleet-core`, and render; every state change (and
//! its audit entry) is made by the core. This test reads the source: every store method that
//! is not a read (`get_…`, `find_…`, `list_…`, `count_…`, `peek`, `ping`, `schema`) counts as
//! a write, and no file of the HTTP layer may call one through `stores`.

use std::path::{Path, PathBuf};

const READ_PREFIXES: [&str; 7] = ["get_", "find_", "list_", "count_", "peek", "ping", "schema"];

/// Every store trait method that writes, from the domain's store contracts.
fn store_writes() -> Vec<String> {
    let contracts = include_str!("../../../domain/src/store.rs");
    let mut writes = Vec::new();
    for line in contracts.lines() {
        let Some(rest) = line.trim().strip_prefix("async fn ") else {
            continue;
        };
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if !READ_PREFIXES.iter().any(|p| name.starts_with(p)) {
            writes.push(name);
        }
    }
    writes
}

/// The store writes `source` makes through a `stores` handle.
fn writes_in(source: &str, writes: &[String]) -> Vec<String> {
    let flat: String = source.chars().filter(|c| !c.is_whitespace()).collect();
    let mut found = Vec::new();
    let mut rest = flat.as_str();
    while let Some(at) = rest.find("stores.") {
        rest = &rest[at + "stores.".len()..];
        let Some(dot) = rest.find('.') else { break };
        let concern = &rest[..dot];
        if !concern.chars().all(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let call = &rest[dot + 1..];
        let method: String = call.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if call[method.len()..].starts_with('(') && writes.contains(&method) {
            found.push(format!("stores.{concern}.{method}"));
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_detector_sees_writes_and_ignores_reads() {
    let writes = store_writes();
    for w in [
        "create_user",
        "revoke_user_sessions",
        "append",
        "hit",
        "reserve",
        "touch_session",
        "claim_job",
    ] {
        assert!(writes.contains(&w.to_owned()), "{w} is a write");
    }
    for r in ["get_user", "list_members", "find_live_session", "peek", "schema"] {
        assert!(!writes.contains(&r.to_owned()), "{r} is a read");
    }
    let chained = "state\n    .stores\n    .sessions\n    .revoke_user_sessions(user.id, &audit)";
    assert_eq!(writes_in(chained, &writes), ["stores.sessions.revoke_user_sessions"]);
    assert!(writes_in("state.stores.users.get_user(id)", &writes).is_empty());
}

#[test]
fn no_handler_writes_to_a_store() {
    let writes = store_writes();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src.join("routes"), &mut files);
    rust_files(&src.join("web"), &mut files);
    for f in ["auth.rs", "app.rs", "extract.rs", "api.rs", "error.rs", "state.rs"] {
        files.push(src.join(f));
    }
    assert!(files.len() > 20, "the HTTP layer was found: {files:?}");
    let mut offenders = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for w in writes_in(&text, &writes) {
            offenders.push(format!("{}: {w}", file.strip_prefix(&src).unwrap().display()));
        }
    }
    assert!(
        offenders.is_empty(),
        "handlers must call a use case of keyfleet-core instead of writing to a store:\n{}",
        offenders.join("\n")
    );
}
