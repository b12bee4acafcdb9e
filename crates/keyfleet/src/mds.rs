//! `keyfleet mds …`: the FIDO Metadata Service BLOB, through the core's use cases
//! (`keyfleet_core::metadata`), on the database, as `cli:OS-USER`.
//!
//! - `import --file BLOB.jwt [--root CERT] [--at RFC3339] [--offline | --crl FILE…]`
//!   verifies and stores a BLOB, printing `{"no", "nextUpdate", "entries"}`; a refusal is one
//!   line on standard error naming its reason (`keyfleet: refused (rollback): …`) and a
//!   non-zero exit, and the last good BLOB is kept.
//! - `show --aaguid UUID` prints one entry: `{"aaguid", "description", "status",
//!   "certificationLevel", "attestationRoots", "source"}`.
//!
//! Revocation: keyfleet does not fetch CRLs yet. Either the CRLs are given (`--crl`, DER,
//! one per CA of the signing chain) or `--offline` states the decision to go without; with
//! neither, revocation is unknown and the BLOB is refused (MDS3 §3.2, checklist §1.4).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use clap::Subcommand;
use keyfleet_core::CoreError;
use keyfleet_core::access::Principal;
use keyfleet_core::metadata::{self, ImportBlob, RevocationInput};
use keyfleet_domain::audit::Actor;
use keyfleet_server::config::Settings;
use keyfleet_webauthn_rp::x509::TrustAnchor;
use serde_json::json;

use crate::admin::os_user;

#[derive(Debug, Subcommand)]
pub enum MdsCommand {
    /// Verify a metadata BLOB and store it; prints {"no", "nextUpdate", "entries"} as JSON.
    Import {
        /// The BLOB (a JWS file, as downloaded from the Metadata Service).
        #[arg(long)]
        file: PathBuf,
        /// The trust anchor (DER or PEM) [default: the bundled GlobalSign Root CA - R3].
        #[arg(long, value_name = "CERT")]
        root: Option<PathBuf>,
        /// Verify at this time (RFC 3339, e.g. 2022-10-22T12:00:00Z) instead of now.
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
        /// Decide without CRLs (they are not fetched): the explicit choice, recorded.
        #[arg(long, conflicts_with = "crl")]
        offline: bool,
        /// A CRL (DER) of a CA in the BLOB's signing chain; repeat for each.
        #[arg(long, value_name = "FILE")]
        crl: Vec<PathBuf>,
        /// The key factory's directory, whose factory-ca-MODEL.der roots go on keyfleet's
        /// own entries [default: the `keyfleet key` factory directory, when it exists].
        #[arg(long, env = keyfleet_softkey::dirs::FACTORY_DIR_ENV, value_name = "DIR")]
        factory_dir: Option<PathBuf>,
    },
    /// Print the metadata entry of one authenticator model as JSON.
    Show {
        /// The model's AAGUID (8-4-4-4-12 hex digits).
        #[arg(long)]
        aaguid: String,
    },
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// The trust anchor in `path`: PEM when it reads as PEM, else DER.
fn root(path: &Path) -> anyhow::Result<TrustAnchor> {
    let bytes = read(path)?;
    let anchor = match std::str::from_utf8(&bytes).ok().filter(|t| t.contains("-----BEGIN")) {
        Some(pem) => TrustAnchor::from_pem(pem)
            .ok()
            .and_then(|mut all| (all.len() == 1).then(|| all.remove(0)))
            .ok_or_else(|| anyhow!("--root {}: expected one PEM certificate", path.display()))?,
        None => TrustAnchor::from_der(&bytes).map_err(|e| anyhow!("--root {}: {e}", path.display()))?,
    };
    Ok(anchor)
}

/// The factory roots of keyfleet's models found in `dir` (none when it does not exist).
fn factory_roots(dir: Option<PathBuf>) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let dirs = keyfleet_softkey::dirs::KeyDirs {
        factory_dir: dir,
        file_keys_dir: None,
    };
    let Ok(dir) = dirs.factory() else {
        return Ok(Vec::new());
    };
    let mut roots = Vec::new();
    for (model, _) in keyfleet_mds::local::STATEMENTS {
        let path = dir.join(format!("factory-ca-{model}.der"));
        if path.is_file() {
            roots.push(((*model).to_owned(), read(&path)?));
        }
    }
    Ok(roots)
}

/// A refusal of the core, as the one line this command prints.
fn refusal(e: CoreError) -> anyhow::Error {
    match e {
        CoreError::Invalid { code, message } | CoreError::Conflict { code, message } => {
            let hint = if code == "revocation_unknown" {
                " (keyfleet does not fetch CRLs: give them with --crl, or decide with --offline)"
            } else {
                ""
            };
            anyhow!("refused ({code}): {message}{hint}")
        }
        CoreError::NotFound => anyhow!("not found"),
        other => anyhow!("{other}"),
    }
}

pub async fn run(cmd: MdsCommand, settings: Settings) -> anyhow::Result<()> {
    let stores = keyfleet_server::serve::open_stores(&settings.database_url).await?;
    let (core, _) = keyfleet_server::serve::core(&settings, stores).await?;
    let ctx = core.ctx(Actor::cli(&os_user()), None);
    let cli = Principal::System;
    match cmd {
        MdsCommand::Import {
            file,
            root: root_file,
            at,
            offline,
            crl,
            factory_dir,
        } => {
            let at = at
                .map(|s| {
                    keyfleet_server::state::parse_rfc3339(&s)
                        .ok_or_else(|| anyhow!("--at must be an RFC 3339 time, e.g. 2022-10-22T12:00:00Z"))
                })
                .transpose()?;
            let roots = match root_file {
                Some(path) => vec![root(&path)?],
                None => vec![keyfleet_mds::globalsign_root_r3()],
            };
            let revocation = if offline {
                RevocationInput::Offline
            } else {
                RevocationInput::Crls(crl.iter().map(|p| read(p)).collect::<anyhow::Result<_>>()?)
            };
            let input = ImportBlob {
                blob: read(&file)?,
                roots,
                at,
                revocation,
                blob_url: None,
                local_roots: factory_roots(factory_dir)?,
            };
            let imported = metadata::import(&ctx, &cli, input).await.map_err(refusal)?;
            println!(
                "{}",
                json!({ "no": imported.no, "nextUpdate": imported.next_update, "entries": imported.entries })
            );
            eprintln!(
                "stored metadata BLOB no {} ({} entries, {} by AAGUID; revocation: {}){}",
                imported.no,
                imported.entries,
                imported.stored_entries,
                imported.revocation,
                if imported.stale {
                    "; it is past its nextUpdate: fetch a newer one"
                } else {
                    ""
                }
            );
        }
        MdsCommand::Show { aaguid } => {
            let Some(id) = keyfleet_mds::parse_aaguid(aaguid.trim()) else {
                bail!("--aaguid must be a UUID (8-4-4-4-12 hex digits)");
            };
            let entry = match metadata::show(&ctx, &cli, &id).await {
                Ok(e) => e,
                Err(CoreError::NotFound) => bail!("no metadata entry for {}", keyfleet_mds::aaguid_to_string(&id)),
                Err(e) => return Err(refusal(e)),
            };
            println!(
                "{}",
                json!({
                    "aaguid": keyfleet_mds::aaguid_to_string(&entry.aaguid),
                    "description": entry.description,
                    "status": entry.status,
                    "statusDate": entry.status_date,
                    "certificationLevel": entry.certification_level,
                    "compromised": entry.compromised,
                    "attestationRoots": entry.attestation_roots.len(),
                    "source": entry.source.as_str(),
                })
            );
        }
    }
    Ok(())
}
