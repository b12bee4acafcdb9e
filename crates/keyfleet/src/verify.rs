//! `keyfleet verify --corpus PATH`: runs WebAuthn conformance cases (one file, or a directory
//! of them) through the same verification code the server uses. Prints one line per case and
//! a final `N passed, N failed` line; fails if any case did not give its expected verdict.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use keyfleet_webauthn_rp::corpus::run_case;

/// Arguments of `keyfleet verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// A case file, or a directory of `*.json` case files (the corpus README gives the schema).
    #[arg(long)]
    pub corpus: PathBuf,
}

/// Runs the cases; an error when any case fails or none was found.
pub fn run(args: &VerifyArgs) -> anyhow::Result<()> {
    let files = case_files(&args.corpus).with_context(|| format!("reading {}", args.corpus.display()))?;
    let (mut passed, mut failed) = (0usize, 0usize);
    for file in &files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let report = run_case(&text);
        let detail = if report.detail.is_empty() {
            String::new()
        } else {
            format!(" [{}]", report.detail)
        };
        let status = if report.verdict_ok { "PASS" } else { "FAIL" };
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
    if passed + failed == 0 {
        bail!("no case files in {}", args.corpus.display());
    }
    if failed > 0 {
        bail!("{failed} case(s) did not give the expected verdict");
    }
    Ok(())
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
