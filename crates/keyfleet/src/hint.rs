//! The command a person types next: `serve`'s first-start instructions name a `keyfleet admin`
//! command that works from the shell that started it, whether that was `cargo run --release --
//! serve` (the README's run command), `./target/debug/keyfleet serve` or `keyfleet serve`.

use std::path::Path;

use keyfleet_server::config::{SETTINGS, Settings};

/// `keyfleet admin` as this process was started: the same program (through `cargo run` when
/// cargo started it), on the same configuration file and database. A database URL with a
/// password is left out: it came from the environment or the configuration file, which the
/// command uses too.
pub fn admin_command(settings: &Settings, config_flag: Option<&Path>) -> String {
    let mut words = program();
    words.push("admin".to_owned());
    let config = config_flag
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("KEYFLEET_CONFIG").map(Into::into));
    if let Some(path) = config {
        words.push("--config".to_owned());
        words.push(quote(&path.to_string_lossy()));
    }
    let default_url = SETTINGS.iter().find(|s| s.key == "database_url").map(|s| s.default);
    if Some(settings.database_url.as_str()) != default_url && !has_password(&settings.database_url) {
        words.push("--database-url".to_owned());
        words.push(quote(&settings.database_url));
    }
    words.join(" ")
}

/// The words that run this program again.
fn program() -> Vec<String> {
    if started_by_cargo()
        && let Some(profile) = std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.file_name()?.to_str()?.to_owned()))
    {
        let mut words = vec!["cargo".to_owned(), "run".to_owned()];
        match profile.as_str() {
            "debug" => {}
            "release" => words.push("--release".to_owned()),
            other => words.extend(["--profile".to_owned(), other.to_owned()]),
        }
        words.push("--".to_owned());
        return words;
    }
    // A path as typed (`./target/debug/keyfleet`) works from the same directory; a bare name
    // was found on PATH.
    match std::env::args_os().next() {
        Some(argv0) if argv0.to_string_lossy().contains('/') => vec![quote(&argv0.to_string_lossy())],
        _ => vec!["keyfleet".to_owned()],
    }
}

/// Whether `cargo run` started this program. Cargo replaces itself with the program (exec),
/// so the parent is the shell, not cargo; what cargo leaves is the package's environment
/// (`CARGO`, `CARGO_PKG_NAME=keyfleet`), which a shell does not have.
fn started_by_cargo() -> bool {
    std::env::var_os("CARGO").is_some() && std::env::var("CARGO_PKG_NAME").is_ok_and(|name| name == "keyfleet")
}

fn has_password(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

/// `word` as one POSIX shell word.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_needed() {
        assert_eq!(quote("sqlite:///tmp/k.db"), "sqlite:///tmp/k.db");
        assert_eq!(quote("sqlite:///tmp/k.db?mode=rwc"), "'sqlite:///tmp/k.db?mode=rwc'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn passwords_are_recognised() {
        assert!(has_password("postgres://kf:secret@db:5432/kf"));
        assert!(!has_password("postgres://kf@db:5432/kf"));
        assert!(!has_password("postgres://db/kf?user=a:b"));
        assert!(!has_password("sqlite://keyfleet.db"));
    }
}
