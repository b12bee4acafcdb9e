//! The core knows nothing about HTTP: no axum, tower or hyper anywhere in its dependency
//! tree (normal and build dependencies), checked with `cargo tree` on the lock file as it is.

use std::process::Command;

#[test]
fn the_core_has_no_http_stack_in_its_dependency_tree() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--locked",
            "-p",
            "keyfleet-core",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    let crates: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(crates.contains(&"keyfleet-domain"), "the tree was read: {tree}");
    for forbidden in [
        "axum",
        "axum-core",
        "tower",
        "tower-http",
        "hyper",
        "hyper-util",
        "sqlx",
        "sqlx-core",
    ] {
        assert!(
            !crates.contains(&forbidden),
            "keyfleet-core depends on {forbidden}:\n{tree}"
        );
    }
}
