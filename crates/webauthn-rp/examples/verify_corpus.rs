//! Runs keyfleet's WebAuthn conformance corpus: `cargo run --example verify_corpus -- PATH`
//! where PATH is a case file or a directory of them. Prints one line per case and a final
//! `N passed, N failed` line; exits 1 if any case failed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use keyfleet_webauthn_rp::corpus::run_case;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: verify_corpus <case.json | directory>");
        return ExitCode::from(2);
    };
    let files = match case_files(&path) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("cannot read {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    for file in &files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let report = match std::fs::read_to_string(file) {
            Ok(text) => run_case(&text),
            Err(e) => {
                println!("FAIL {name}: cannot read: {e}");
                failed += 1;
                continue;
            }
        };
        let status = if report.verdict_ok { "PASS" } else { "FAIL" };
        let detail = if report.detail.is_empty() {
            String::new()
        } else {
            format!(" [{}]", report.detail)
        };
        println!(
            "{status} {name}: expected {}, got {}{detail}",
            report.expected, report.got
        );
        if report.verdict_ok {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 && passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The `.json` files at `path` (one file, or a directory's, sorted).
fn case_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    Ok(files)
}
