//! The two stores' migrations stay in step.

use std::path::Path;

fn migration_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn both_stores_have_the_same_migration_files() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let sqlite = migration_names(&crates.join("store-sqlite/migrations"));
    let postgres = migration_names(&crates.join("store-postgres/migrations"));
    assert!(!sqlite.is_empty(), "no migrations found");
    assert_eq!(
        sqlite, postgres,
        "store-sqlite/migrations and store-postgres/migrations differ"
    );
}
