//! `keyfleet key …`: make, inspect and drive software keys, and put them on pcscd's reader.
//!
//! No command prompts: the key-file passphrase comes from `KEYFLEET_KEY_PASSPHRASE` and PINs from
//! the flags or `KEYFLEET_KEY_PIN`. Results go to standard output (JSON where structured),
//! diagnostics to standard error.
//!
//! A command writes the key file it is given (`--out`, `--key`) and, beside it, `FILE.lock` (held
//! while the key is in use) and, while `vpcd` runs, the control socket `FILE.ctl`. Everything
//! else (the factory CAs, the file keys) goes to the data directory ([`crate::dirs`]), never to
//! the working directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyfleet_authenticator::{model_by_name, models};
use keyfleet_ctap_transport::{CardConfig, StatusUpdates};
use serde_json::json;

use crate::dirs::KeyDirs;
use crate::factory::Factory;
use crate::key::{SoftKey, parse_captures};
use crate::keyfile::{KeyFileError, Protection, sibling};
use crate::platform::{PERMISSION_CM, Platform};
use crate::vpcd::{Bridge, BridgeConfig, DEFAULT_ADDR, send_control, serve_control};

/// `keyfleet key`: the directories, then a subcommand.
#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    /// Where the factory CAs and the file keys are kept.
    #[command(flatten)]
    pub dirs: KeyDirs,
    /// What to do.
    #[command(subcommand)]
    pub command: KeyCommand,
}

/// The `keyfleet key` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum KeyCommand {
    /// List the models a key can be made as.
    Models,
    /// Create a model's factory CA if needed and print its certificate (PEM) on standard output;
    /// without `--model`, every model's CA, one after another.
    FactoryCa {
        /// The model (see `models`); all models when absent.
        #[arg(long)]
        model: Option<String>,
    },
    /// Make a factory-fresh key (no PIN, no fingerprint). Without KEYFLEET_KEY_PASSPHRASE its
    /// random file key goes to the file-keys directory, never next to the key file.
    New {
        /// The model (see `models`).
        #[arg(long)]
        model: String,
        /// The key file to create.
        #[arg(long)]
        out: PathBuf,
        /// An RP ID for which the key gives vendor-facilitated enterprise attestation (with its
        /// serial number) once enterprise attestation is enabled; repeatable.
        #[arg(long = "enterprise-rp-id")]
        enterprise_rp_ids: Vec<String>,
    },
    /// Print what the key is and holds, as JSON.
    Info {
        /// The key file.
        #[arg(long)]
        key: PathBuf,
    },
    /// Set the first PIN.
    SetPin {
        /// The key file.
        #[arg(long)]
        key: PathBuf,
        /// The new PIN.
        #[arg(long, env = "KEYFLEET_KEY_PIN", hide_env_values = true)]
        pin: String,
    },
    /// Change the PIN.
    ChangePin {
        /// The key file.
        #[arg(long)]
        key: PathBuf,
        /// The current PIN.
        #[arg(long, hide_env_values = true)]
        old: String,
        /// The new PIN.
        #[arg(long, hide_env_values = true)]
        new: String,
    },
    /// List or delete discoverable credentials (credential management).
    Credentials {
        /// What to do.
        #[command(subcommand)]
        action: CredentialsCommand,
    },
    /// authenticatorReset: delete every credential and the PIN.
    Reset {
        /// The key file.
        #[arg(long)]
        key: PathBuf,
    },
    /// Band: one fingerprint enrolment attempt (15 captures, `good` or `poor`; default all good).
    EnrolFinger {
        /// The key file.
        #[arg(long)]
        key: PathBuf,
        /// Capture qualities.
        captures: Vec<String>,
    },
    /// Band: put it on the wrist.
    Wear {
        /// The key file.
        #[arg(long)]
        key: PathBuf,
    },
    /// Band: take it off (deauthenticates at once).
    TakeOff {
        /// The key file.
        #[arg(long)]
        key: PathBuf,
    },
    /// Band: reassign it to another wearer ("delete user data"): wipes every credential, the PIN
    /// and the fingerprint, and leaves the band ready to enrol. Refused for other models. Works on
    /// the key file, or through the control socket while `vpcd` runs.
    Reassign {
        /// The key file.
        #[arg(long)]
        key: PathBuf,
    },
    /// Send a test-control command to a running `vpcd`: `lift`, `place`, `status`, `advance MS`,
    /// `presence grant|deny`, and for the band `wear`, `take-off`, `enrol-finger [CAPTURES]`,
    /// `finger good|poor` (a finger on the sensor for the next authenticatorBioEnrollment
    /// capture) and `reassign`.
    Control {
        /// The key file.
        #[arg(long)]
        key: PathBuf,
        /// The command words.
        #[arg(required = true)]
        command: Vec<String>,
    },
    /// Put the key on pcscd's vpcd reader until interrupted. Control socket: `FILE.ctl`; SIGUSR1
    /// lifts the key off the reader or puts it back.
    Vpcd {
        /// The key file.
        #[arg(long)]
        key: PathBuf,
        /// vpcd's address.
        #[arg(long, default_value = DEFAULT_ADDR)]
        addr: String,
        /// Lift the key off the reader after the Nth power-off since it was placed; it comes back
        /// after `--replace-after-ms` or on `place`. Once per placement: the automatic return does
        /// not re-arm it, the next `place` does.
        #[arg(long)]
        lift_after_power_offs: Option<u32>,
        /// How long an automatically lifted key stays off the reader.
        #[arg(long, default_value_t = 1000)]
        replace_after_ms: u64,
        /// Answer CTAP requests with a 9100 status update first when the client allows it.
        #[arg(long)]
        status_updates: bool,
    },
}

/// `keyfleet key credentials …`.
#[derive(Debug, clap::Subcommand)]
pub enum CredentialsCommand {
    /// List discoverable credentials as JSON.
    List {
        /// The key file.
        #[arg(long)]
        key: PathBuf,
        /// The PIN (without one, a worn band's built-in UV is used).
        #[arg(long, env = "KEYFLEET_KEY_PIN", hide_env_values = true)]
        pin: Option<String>,
    },
    /// Delete one discoverable credential.
    Delete {
        /// The key file.
        #[arg(long)]
        key: PathBuf,
        /// The credential ID, base64url.
        #[arg(long)]
        id: String,
        /// The PIN (without one, a worn band's built-in UV is used).
        #[arg(long, env = "KEYFLEET_KEY_PIN", hide_env_values = true)]
        pin: Option<String>,
    },
}

/// Runs one `keyfleet key` command.
pub fn run(args: KeyArgs) -> anyhow::Result<()> {
    let dirs = &args.dirs;
    match args.command {
        KeyCommand::Models => {
            for m in models() {
                println!("{}\t{}\t{}", m.name, hex::encode(m.aaguid), m.description);
            }
            Ok(())
        }
        KeyCommand::FactoryCa { model } => factory_ca(dirs, model.as_deref()),
        KeyCommand::New {
            model,
            out,
            enterprise_rp_ids,
        } => new_key(dirs, &model, &out, enterprise_rp_ids),
        KeyCommand::Info { key } => info(dirs, &key),
        KeyCommand::SetPin { key, pin } => with_platform(dirs, &key, |p| Ok(p.set_pin(&pin)?)),
        KeyCommand::ChangePin { key, old, new } => with_platform(dirs, &key, |p| Ok(p.change_pin(&old, &new)?)),
        KeyCommand::Credentials { action } => credentials(dirs, action),
        KeyCommand::Reset { key } => with_platform(dirs, &key, |p| Ok(p.reset()?)),
        KeyCommand::EnrolFinger { key, captures } => {
            let words: Vec<&str> = captures.iter().map(String::as_str).collect();
            let line = ["enrol-finger"]
                .into_iter()
                .chain(words.iter().copied())
                .collect::<Vec<_>>()
                .join(" ");
            band(dirs, &key, &line, |k| {
                let captures = parse_captures(&words).map_err(anyhow::Error::msg)?;
                Ok(format!("{:?}", k.enrol_finger(&captures)?))
            })
        }
        KeyCommand::Wear { key } => band(dirs, &key, "wear", |k| {
            Ok(k.band(|a, _| a.band_wear()).map(|()| String::new())?)
        }),
        KeyCommand::TakeOff { key } => band(dirs, &key, "take-off", |k| {
            Ok(k.band(|a, _| a.band_take_off()).map(|()| String::new())?)
        }),
        KeyCommand::Reassign { key } => band(dirs, &key, "reassign", |k| {
            k.reassign()?;
            Ok(String::new())
        }),
        KeyCommand::Control { key, command } => {
            let answer = send_control(&sibling(&key, ".ctl"), &command.join(" "))
                .with_context(|| format!("is `keyfleet key vpcd --key {}` running?", key.display()))?;
            println!("{answer}");
            if answer.starts_with("ok") {
                Ok(())
            } else {
                bail!("{answer}")
            }
        }
        KeyCommand::Vpcd {
            key,
            addr,
            lift_after_power_offs,
            replace_after_ms,
            status_updates,
        } => {
            let status_updates = if status_updates {
                StatusUpdates::FirstPoll
            } else {
                StatusUpdates::Never
            };
            let config = BridgeConfig {
                addr,
                lift_after_power_offs,
                replace_after: Duration::from_millis(replace_after_ms),
                card: CardConfig {
                    status_updates,
                    ..CardConfig::default()
                },
            };
            vpcd(dirs, &key, config)
        }
    }
}

fn new_key(dirs: &KeyDirs, model: &str, out: &Path, enterprise_rp_ids: Vec<String>) -> anyhow::Result<()> {
    let factory = Factory::new(dirs.factory()?);
    let file_keys = dirs.file_keys()?;
    let protection = Protection::from_env(&file_keys);
    let where_key = match &protection {
        Protection::FileKey(dir) => format!("its file key is in {}", dir.display()),
        Protection::Passphrase(..) => "protected by KEYFLEET_KEY_PASSPHRASE".to_owned(),
    };
    let key = SoftKey::create_with_enterprise(out, model, &factory, protection, enterprise_rp_ids)
        .with_context(|| format!("making {}", out.display()))?;
    eprintln!(
        "made {} ({}); {where_key}; factory CA in {}",
        out.display(),
        key.summary(),
        factory.dir().display()
    );
    Ok(())
}

fn factory_ca(dirs: &KeyDirs, model: Option<&str>) -> anyhow::Result<()> {
    let names: Vec<&str> = match model {
        Some(name) => {
            let Some(m) = model_by_name(name) else {
                bail!("unknown model {name:?} (see `keyfleet key models`)");
            };
            vec![m.name]
        }
        None => models().iter().map(|m| m.name).collect(),
    };
    let factory = Factory::new(dirs.factory()?);
    for name in names {
        let root = factory.root(name, &mut rand_core::OsRng)?;
        eprintln!("{name} factory CA in {}", factory.dir().display());
        println!("-----BEGIN CERTIFICATE-----");
        let b64 = base64::engine::general_purpose::STANDARD.encode(&root.cert_der);
        for line in b64.as_bytes().chunks(64) {
            println!("{}", String::from_utf8_lossy(line));
        }
        println!("-----END CERTIFICATE-----");
    }
    Ok(())
}

fn open(dirs: &KeyDirs, path: &Path) -> anyhow::Result<SoftKey> {
    let mut key = SoftKey::open(path, &dirs.file_keys()?).with_context(|| format!("opening {}", path.display()))?;
    // A command is a fresh tap: the field comes on now (so `reset` is within its 10 s window).
    keyfleet_ctap_transport::Applet::power_on(&mut key);
    Ok(key)
}

fn with_platform(
    dirs: &KeyDirs,
    path: &Path,
    f: impl FnOnce(&mut Platform<'_, SoftKey>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut key = open(dirs, path)?;
    f(&mut Platform::new(&mut key))?;
    key.persist()?;
    eprintln!("{}", key.summary());
    Ok(())
}

fn info(dirs: &KeyDirs, path: &Path) -> anyhow::Result<()> {
    let mut key = open(dirs, path)?;
    let state = key.authenticator().state();
    let model = state.model();
    let attestation = state.attestation();
    let mut out = json!({
        "model": model.name,
        "aaguid": hex::encode(model.aaguid),
        "serialNumber": attestation.serial_number,
        "pinSet": state.pin_is_set(),
        "pinRetries": state.pin_retries(),
        "minPinLength": state.min_pin_length(),
        "forcePinChange": state.force_pin_change(),
        "alwaysUv": state.always_uv(),
        "credentials": state.credentials().len(),
        "signCount": state.sign_count(),
    });
    if let Some(band) = key.authenticator().band_status() {
        out["band"] = json!({
            "worn": band.worn, "enrolled": band.enrolled, "seeAdmin": band.see_admin, "uvReady": band.uv_ready,
        });
    }
    let versions = Platform::new(&mut key).get_info()?;
    if let Some(v) = versions.get_int_key(1).and_then(|v| v.as_array().ok()) {
        out["versions"] = v.iter().filter_map(|s| s.as_text().ok()).collect::<Vec<_>>().into();
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

fn credentials(dirs: &KeyDirs, action: CredentialsCommand) -> anyhow::Result<()> {
    let (path, pin, delete) = match action {
        CredentialsCommand::List { key, pin } => (key, pin, None),
        CredentialsCommand::Delete { key, id, pin } => {
            let id = URL_SAFE_NO_PAD
                .decode(id.trim_end_matches('='))
                .context("--id must be base64url")?;
            (key, pin, Some(id))
        }
    };
    let mut key = open(dirs, &path)?;
    let mut platform = Platform::new(&mut key);
    let token = match &pin {
        Some(pin) => platform.pin_token(pin, PERMISSION_CM, None)?,
        None => platform
            .uv_token(PERMISSION_CM, None)
            .context("no --pin given and built-in UV is not available")?,
    };
    match delete {
        Some(id) => platform.delete_credential(&token, &id)?,
        None => {
            let list: Vec<_> = platform
                .list_credentials(&token)?
                .into_iter()
                .map(|c| {
                    json!({
                        "rpId": c.rp_id,
                        "credentialId": URL_SAFE_NO_PAD.encode(&c.credential_id),
                        "userId": URL_SAFE_NO_PAD.encode(&c.user_id),
                        "userName": c.user_name,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
        }
    }
    key.persist()?;
    Ok(())
}

/// Runs a band control on the key file, or through the control socket of a running `vpcd`.
fn band(
    dirs: &KeyDirs,
    path: &Path,
    line: &str,
    f: impl FnOnce(&mut SoftKey) -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    let in_use = match SoftKey::open(path, &dirs.file_keys()?) {
        Ok(mut key) => {
            let answer = f(&mut key)?;
            key.persist()?;
            if !answer.is_empty() {
                println!("{answer}");
            }
            eprintln!("{}", key.summary());
            return Ok(());
        }
        Err(crate::key::KeyError::File(KeyFileError::Io { op: "lock", .. })) => true,
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    debug_assert!(in_use);
    let answer = send_control(&sibling(path, ".ctl"), line)
        .context("the key is in use and its control socket does not answer")?;
    match answer.strip_prefix("ok") {
        Some(rest) => {
            if !rest.trim().is_empty() {
                println!("{}", rest.trim());
            }
            Ok(())
        }
        None => bail!("{answer}"),
    }
}

fn vpcd(dirs: &KeyDirs, path: &Path, config: BridgeConfig) -> anyhow::Result<()> {
    let key = SoftKey::open(path, &dirs.file_keys()?).with_context(|| format!("opening {}", path.display()))?;
    let addr = config.addr.clone();
    let bridge = Bridge::new(key, config);
    let ctl_path = sibling(path, ".ctl");
    let _socket =
        serve_control(bridge.clone(), &ctl_path).with_context(|| format!("binding {}", ctl_path.display()))?;
    watch_signals(bridge.clone())?;
    eprintln!(
        "keyfleet-key: {} on vpcd {addr}; control socket {}",
        path.display(),
        ctl_path.display()
    );
    bridge.run();
    eprintln!("keyfleet-key: stopped");
    Ok(())
}

/// SIGUSR1 toggles lift/place; SIGTERM, SIGINT and SIGHUP stop the bridge cleanly.
fn watch_signals(bridge: Bridge<SoftKey>) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
    let mut signals = signal_hook::iterator::Signals::new([SIGUSR1, SIGTERM, SIGINT, SIGHUP])?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        for signal in signals.forever() {
            if signal != SIGUSR1 {
                bridge.stop();
                return;
            }
            if bridge.is_lifted() {
                bridge.place();
            } else {
                bridge.lift();
            }
        }
    })?;
    Ok(())
}
