//! The pre-registration connector's run (the `process-shipments` job, and "process now"):
//! take `requested` orders to the factory, follow `submitted` ones, and when a key has shipped,
//! verify its signed answers, register the key for its user and queue the PIN email, in one
//! transaction (docs/shipments.md, "The connector").
//!
//! Every step is idempotent and resumable:
//! - an order is worked on only under a lease claimed in the database (database clock), so
//!   two processes never work on the same order at once, and one that dies loses its lease;
//! - what a submission sends (the on-behalf options, the response key, the body) is written
//!   before it is sent, and a retry resends the same body under the same idempotency key, so
//!   the factory makes one shipment whatever happened in between;
//! - the registration is one transaction that moves the order `submitted` → `registered`
//!   (compare-and-set on the state and the lease), consumes the options, stores the key and
//!   queues the email: it happens once or not at all.
//!
//! A step that fails is retried at later runs with a doubling backoff; after
//! [`ConnectorSettings::max_attempts`] failures, or at once when retrying cannot help (the
//! factory refused the order, an answer does not verify), the order goes to `needsAttention`
//! with the reason in `lastError`. An order whose on-behalf options expired goes to `failed`
//! ("options_expired"); [`reorder`](super::order::reorder) places it again in one action.

use std::time::Duration;

use futures_util::StreamExt as _;
use keyfleet_domain::audit::{Action, Outcome, Target};
use keyfleet_domain::mail::{MailKind, NewMail};
use keyfleet_domain::onbehalf::OnBehalfOptions;
use keyfleet_domain::shipment::{ConnectorOrder, ShipmentState, ShippedKey, StepOutcome};
use keyfleet_domain::user::User;
use keyfleet_domain::{StoreError, Timestamp};
use keyfleet_provisioning::api::{
    CREDENTIAL_RESPONSE_TYP, CreateShipment, CredentialRequest, CredentialResponse, DeliveryType, PIN_RESPONSE_TYP,
    PinRequest, PinResponse,
};
use keyfleet_provisioning::jwk::{EcPrivateKey, Jwks};
use keyfleet_provisioning::{jwe, sealed};
use rand_core::OsRng;
use serde::Serialize;
use zeroize::Zeroizing;

use super::fulfilment::{Fulfilment, FulfilmentError};
use crate::access::Principal;
use crate::audit::Detail;
use crate::credentials::onbehalf::{self, OptionsRequest};
use crate::secrets::MasterKey;
use crate::{CoreError, Ctx};

/// How the connector works (the server fills it from its settings).
#[derive(Debug, Clone)]
pub struct ConnectorSettings {
    /// keyfleet's origin, written into the client data the factory makes.
    pub origin: String,
    /// Failed attempts of a step before the order needs attention.
    pub max_attempts: u32,
    /// The first retry's delay; each further one doubles it, up to [`MAX_BACKOFF`].
    pub backoff: Duration,
    /// Orders claimed at once.
    pub batch: u32,
    /// Orders worked on concurrently.
    pub concurrency: usize,
    /// How long a claimed order stays this process's.
    pub lease: Duration,
    /// A fault-test hook: the process aborts at this point of an order's step, as if killed
    /// (`kill -9`) there. `None` in production.
    pub crash_at: Option<CrashPoint>,
}

/// Where a fault test may stop the process (see [`ConnectorSettings::crash_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// After the submission was prepared and written, before it is sent.
    Prepared,
    /// After the factory accepted the submission, before `submitted` is written.
    Sent,
    /// After a shipped key was verified, before its registration's transaction.
    Verified,
}

impl CrashPoint {
    /// `prepared`, `sent`, `verified`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "prepared" => Some(CrashPoint::Prepared),
            "sent" => Some(CrashPoint::Sent),
            "verified" => Some(CrashPoint::Verified),
            _ => None,
        }
    }
}

/// Aborts the process when a fault test chose this point: no destructor runs, nothing more is
/// written, as with `kill -9`.
fn crash_point(env: &ConnectorEnv<'_>, at: CrashPoint) {
    if env.settings.crash_at == Some(at) {
        std::process::abort();
    }
}

impl Default for ConnectorSettings {
    fn default() -> Self {
        Self {
            origin: String::new(),
            max_attempts: 5,
            backoff: Duration::from_secs(60),
            batch: 500,
            concurrency: 32,
            // Longer than a batch can take with every call to the factory timing out
            // (500 / 32 rounds of 30 s): a lease never runs out under a live process.
            lease: Duration::from_secs(900),
            crash_at: None,
        }
    }
}

/// The longest delay between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// What a run needs from outside the core.
#[derive(Clone, Copy)]
pub struct ConnectorEnv<'a> {
    /// The factory.
    pub factory: &'a dyn Fulfilment,
    /// Seals the response keys, PINs and email bodies.
    pub master: &'a MasterKey,
    /// How to work.
    pub settings: &'a ConnectorSettings,
    /// This process's lease name.
    pub holder: &'a str,
}

/// The secret setting holding the factory's API token (`keyfleet admin set-secret --name
/// factory_token`), stored encrypted under the master key; it takes the place of the
/// `factory_token` configuration value.
pub const FACTORY_TOKEN: &str = "factory_token";

/// The associated data a shipment's sealed response key is bound to.
fn response_key_aad(id: &str) -> Vec<u8> {
    keyfleet_domain::keyring::SHIPMENT_RESPONSE_KEYS.aad(id)
}

/// The associated data a shipment's sealed request body is bound to.
fn request_aad(id: &str) -> Vec<u8> {
    keyfleet_domain::keyring::SHIPMENT_REQUESTS.aad(id)
}

/// The associated data a shipment's sealed PIN is bound to.
pub(crate) fn pin_aad(id: &str) -> Vec<u8> {
    keyfleet_domain::keyring::SHIPMENT_PINS.aad(id)
}

/// How one order's step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Submitted,
    Registered,
    Waiting,
    Retry,
    Attention,
    Failed,
    /// Another process took it (its lease expired meanwhile): nothing written.
    Lost,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StepDetail<'a> {
    user_id: String,
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    factory_shipment_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    serial_number: Option<&'a str>,
    to: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    attempts: u32,
}
impl Detail for StepDetail<'_> {}

/// A failure of one step: its code (the audit's and `lastError`'s first word), its words,
/// and whether retrying can help.
pub(crate) struct Failure {
    pub(crate) text: String,
    retry: bool,
    /// The order cannot succeed any more (its options expired): `failed`, not
    /// `needsAttention`.
    fatal: bool,
}

impl Failure {
    fn retry(code: &str, why: impl std::fmt::Display) -> Self {
        Self {
            text: format!("{code}: {why}"),
            retry: true,
            fatal: false,
        }
    }
    fn attention(code: &str, why: impl std::fmt::Display) -> Self {
        Self {
            text: format!("{code}: {why}"),
            retry: false,
            fatal: false,
        }
    }
    fn expired(why: impl std::fmt::Display) -> Self {
        Self {
            text: format!("options_expired: {why}"),
            retry: false,
            fatal: true,
        }
    }
    fn factory(e: &FulfilmentError) -> Self {
        if e.retryable() {
            Self::retry("factory_unavailable", e)
        } else {
            Self::attention("factory_refused", e)
        }
    }
}

impl From<CoreError> for Failure {
    fn from(e: CoreError) -> Self {
        Failure::retry("internal", e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::retry("database", e)
    }
}

/// The same context at the database's time (TTLs and backoff are decided by one clock
/// however the processes' clocks disagree).
fn at_database_time<'a>(ctx: &Ctx<'a>, now: Timestamp) -> Ctx<'a> {
    let mut c = ctx.as_actor(ctx.actor.clone());
    c.now = now;
    c
}

/// One run: submits the due `requested` orders, then polls the due `submitted` ones; every
/// order is looked at once per run. Returns the counts (`submitted`, `registered`, `waiting`,
/// `retried`, `needsAttention`, `failed`).
pub async fn process(ctx: &Ctx<'_>, env: &ConnectorEnv<'_>) -> Result<Vec<(&'static str, u64)>, CoreError> {
    let start = ctx.stores.shipments.run_start().await?;
    let run = at_database_time(ctx, start);
    let mut steps = Vec::new();
    let transport = env.factory.transport_keys().await;
    steps.extend(
        phase(&run, env, ShipmentState::Requested, start, &|o| {
            submit_one(&run, env, &transport, o)
        })
        .await?,
    );
    let signers = env.factory.sign_keys().await;
    steps.extend(
        phase(&run, env, ShipmentState::Submitted, start, &|o| {
            poll_one(&run, env, &signers, o)
        })
        .await?,
    );
    let count = |s: Step| steps.iter().filter(|x| **x == s).count() as u64;
    Ok(vec![
        ("submitted", count(Step::Submitted)),
        ("registered", count(Step::Registered)),
        ("waiting", count(Step::Waiting)),
        ("retried", count(Step::Retry)),
        ("needsAttention", count(Step::Attention)),
        ("failed", count(Step::Failed)),
    ])
}

type StepFuture<'f> = std::pin::Pin<Box<dyn std::future::Future<Output = Step> + Send + 'f>>;

/// Claims the due orders in `state` batch by batch and runs `step` on each, concurrently.
async fn phase<'f>(
    run: &Ctx<'_>,
    env: &ConnectorEnv<'_>,
    state: ShipmentState,
    start: Timestamp,
    step: &(dyn Fn(ConnectorOrder) -> StepFuture<'f> + Sync),
) -> Result<Vec<Step>, CoreError> {
    let mut steps = Vec::new();
    loop {
        let batch = run
            .stores
            .shipments
            .claim_orders(state, env.holder, env.settings.lease, start, env.settings.batch)
            .await?;
        if batch.is_empty() {
            return Ok(steps);
        }
        let done: Vec<Step> = futures_util::stream::iter(batch)
            .map(step)
            .buffer_unordered(env.settings.concurrency.max(1))
            .collect()
            .await;
        steps.extend(done);
    }
}

fn submit_one<'f>(
    run: &'f Ctx<'_>,
    env: &'f ConnectorEnv<'_>,
    transport: &'f Result<Jwks, FulfilmentError>,
    order: ConnectorOrder,
) -> StepFuture<'f> {
    Box::pin(async move {
        match submit(run, env, transport, &order).await {
            Ok(step) => step,
            Err(failure) => record_failure(run, env, &order, failure).await,
        }
    })
}

fn poll_one<'f>(
    run: &'f Ctx<'_>,
    env: &'f ConnectorEnv<'_>,
    signers: &'f Result<Jwks, FulfilmentError>,
    order: ConnectorOrder,
) -> StepFuture<'f> {
    Box::pin(async move {
        match poll(run, env, signers, &order).await {
            Ok(step) => step,
            Err(failure) => record_failure(run, env, &order, failure).await,
        }
    })
}

/// The backoff before attempt `attempts + 1`.
fn backoff(settings: &ConnectorSettings, attempts: u32) -> Duration {
    let factor = 1u32 << attempts.min(16);
    settings.backoff.saturating_mul(factor).min(MAX_BACKOFF)
}

fn detail<'a>(order: &'a ConnectorOrder, to: ShipmentState, reason: Option<&'a str>, attempts: u32) -> StepDetail<'a> {
    let s = &order.shipment;
    StepDetail {
        user_id: s.user_id.to_string(),
        model: &s.model,
        factory_shipment_id: s.factory_shipment_id.as_deref(),
        serial_number: s.serial_number.as_deref(),
        to: to.as_str(),
        reason,
        attempts,
    }
}

/// Records a failed step: retried later while attempts remain and retrying can help, else
/// `needsAttention` (or `failed` when the order cannot succeed any more), audited.
async fn record_failure(run: &Ctx<'_>, env: &ConnectorEnv<'_>, order: &ConnectorOrder, failure: Failure) -> Step {
    let s = &order.shipment;
    let attempts = s.attempts + 1;
    let (state, step, retry_after) = if failure.fatal {
        (ShipmentState::Failed, Step::Failed, None)
    } else if failure.retry && attempts < env.settings.max_attempts {
        (s.state, Step::Retry, Some(backoff(env.settings, s.attempts)))
    } else {
        (ShipmentState::NeedsAttention, Step::Attention, None)
    };
    let outcome = StepOutcome {
        state,
        failed: true,
        error: Some(&failure.text),
        retry_after,
        tracking_number: None,
        at: run.now,
    };
    let audit = (step != Step::Retry).then(|| {
        run.audit_with(
            Action::ShipmentFail,
            Some(Target::Shipment(s.id)),
            &detail(order, state, Some(&failure.text), attempts),
        )
        .with_outcome(Outcome::Failure)
    });
    tracing::warn!(shipment = %s.id, state = s.state.as_str(), to = state.as_str(), attempts, error = %failure.text, "shipment step failed");
    match run
        .stores
        .shipments
        .order_step(s.id, env.holder, &outcome, audit.as_ref())
        .await
    {
        Ok(()) => step,
        Err(StoreError::NotFound) => Step::Lost,
        Err(e) => {
            tracing::warn!(shipment = %s.id, error = %e, "could not record a shipment's failure");
            Step::Lost
        }
    }
}

/// The order's user, able to receive a key.
async fn user_of(run: &Ctx<'_>, order: &ConnectorOrder) -> Result<User, Failure> {
    let user = run
        .stores
        .users
        .get_user(order.shipment.user_id)
        .await?
        .ok_or_else(|| Failure::attention("user_gone", "the user no longer exists"))?;
    if !user.enabled {
        return Err(Failure::attention("user_disabled", "the user is disabled"));
    }
    Ok(user)
}

/// The request body and the response key, sealed: prepared once, resent unchanged.
#[derive(Serialize, serde::Deserialize)]
struct Prepared {
    body: CreateShipment,
}

async fn submit(
    run: &Ctx<'_>,
    env: &ConnectorEnv<'_>,
    transport: &Result<Jwks, FulfilmentError>,
    order: &ConnectorOrder,
) -> Result<Step, Failure> {
    let s = &order.shipment;
    let id = s.id.to_string();
    let (options_id, body) = match (&order.options_id, &order.request_sealed) {
        (Some(options_id), Some(sealed)) => {
            // Prepared by an earlier attempt: resent as it was, unless its options expired.
            let options = options_of(run, order).await?;
            if !options.is_some_and(|o| o.is_live(run.now)) {
                return Err(Failure::expired(
                    "the on-behalf creation options expired before the order was submitted",
                ));
            }
            let plain = env
                .master
                .decrypt(sealed, &request_aad(&id))
                .map_err(|e| Failure::attention("sealed_request", e))?;
            let prepared: Prepared =
                serde_json::from_slice(&plain).map_err(|e| Failure::attention("sealed_request", e))?;
            (*options_id, prepared.body)
        }
        _ => {
            let prepared = prepare(run, env, transport, order).await?;
            crash_point(env, CrashPoint::Prepared);
            prepared
        }
    };
    let key = format!("{id}:{options_id}");
    let factory_id = env
        .factory
        .submit(&body, &key)
        .await
        .map_err(|e| Failure::factory(&e))?;
    crash_point(env, CrashPoint::Sent);
    let audit = run.audit_with(
        Action::ShipmentSubmit,
        Some(Target::Shipment(s.id)),
        &StepDetail {
            factory_shipment_id: Some(&factory_id),
            ..detail(order, ShipmentState::Submitted, None, s.attempts)
        },
    );
    match run
        .stores
        .shipments
        .order_submitted(s.id, env.holder, &factory_id, run.now, &audit)
        .await
    {
        Ok(()) => Ok(Step::Submitted),
        Err(StoreError::NotFound) => Ok(Step::Lost),
        Err(e) => Err(e.into()),
    }
}

/// Makes the on-behalf options, the response key and the body, and writes them (sealed)
/// before anything is sent.
async fn prepare(
    run: &Ctx<'_>,
    env: &ConnectorEnv<'_>,
    transport: &Result<Jwks, FulfilmentError>,
    order: &ConnectorOrder,
) -> Result<(keyfleet_domain::ids::CeremonyId, CreateShipment), Failure> {
    let s = &order.shipment;
    let id = s.id.to_string();
    let transport = transport.as_ref().map_err(Failure::factory)?;
    let recipient_key = transport
        .keys
        .first()
        .ok_or_else(|| Failure::retry("factory_keys", "the factory publishes no transport key"))?;
    let user = user_of(run, order).await?;
    let address = order
        .details
        .shipping_address
        .clone()
        .or_else(|| user.shipping_address.clone())
        .filter(|a| !a.trim().is_empty())
        .ok_or_else(|| Failure::attention("no_address", "neither the order nor the user has a shipping address"))?;
    let request = OptionsRequest {
        challenge_timeout_minutes: None,
        model: Some(s.model.clone()),
        aaguid: None,
    };
    let issued = onbehalf::creation_options(run, &Principal::System, user.id, request)
        .await
        .map_err(|e| Failure::attention("options_refused", e))?;
    let public_key = serde_json::from_value(issued.public_key.clone()).map_err(|e| Failure::attention("options", e))?;
    let credential_request = CredentialRequest {
        origin: env.settings.origin.clone(),
        public_key,
    };
    let plain = Zeroizing::new(serde_json::to_vec(&credential_request).map_err(|e| Failure::attention("options", e))?);
    let encrypted = jwe::encrypt(&plain, recipient_key, None, &mut OsRng)
        .map_err(|e| Failure::retry("factory_keys", format!("the transport key does not take: {e}")))?;
    let response_key = EcPrivateKey::generate(&mut OsRng);
    let body = CreateShipment {
        model: s.model.clone(),
        recipient: user.display_name.clone(),
        address,
        delivery_type: DeliveryType::parse(&order.details.delivery_type).unwrap_or(DeliveryType::Standard),
        pin_request: PinRequest {
            length: order.details.pin_length,
        },
        credential_requests: vec![encrypted],
        response_key: response_key.public_jwk("enc", jwe::ALG),
    };
    let scalar = response_key.to_bytes();
    let key_sealed = env.master.encrypt(&scalar, &response_key_aad(&id));
    let prepared = Zeroizing::new(
        serde_json::to_vec(&Prepared { body: body.clone() }).map_err(|e| Failure::attention("request", e))?,
    );
    let request_sealed = env.master.encrypt(&prepared, &request_aad(&id));
    match run
        .stores
        .shipments
        .prepare_order(s.id, env.holder, issued.options.id, &key_sealed, &request_sealed)
        .await
    {
        Ok(()) => Ok((issued.options.id, body)),
        Err(StoreError::NotFound) => Err(Failure::retry("lease_lost", "another process took the order")),
        Err(e) => Err(e.into()),
    }
}

/// The order's on-behalf options, while they exist.
async fn options_of(run: &Ctx<'_>, order: &ConnectorOrder) -> Result<Option<OnBehalfOptions>, Failure> {
    let Some(id) = order.options_id else {
        return Ok(None);
    };
    let all = run
        .stores
        .onbehalf
        .list_onbehalf_options(order.shipment.user_id)
        .await?;
    Ok(all.into_iter().find(|o| o.id == id))
}

/// The response key, unsealed.
fn response_key(env: &ConnectorEnv<'_>, order: &ConnectorOrder) -> Result<EcPrivateKey, Failure> {
    let id = order.shipment.id.to_string();
    let sealed = order
        .response_key_sealed
        .as_deref()
        .ok_or_else(|| Failure::attention("no_response_key", "the order has no response key"))?;
    let scalar = env
        .master
        .decrypt(sealed, &response_key_aad(&id))
        .map_err(|e| Failure::attention("sealed_response_key", e))?;
    let unnamed = EcPrivateKey::from_bytes("", &scalar).map_err(|e| Failure::attention("sealed_response_key", e.0))?;
    let kid = unnamed
        .public_jwk("enc", jwe::ALG)
        .thumbprint()
        .map_err(|e| Failure::attention("sealed_response_key", e.0))?;
    EcPrivateKey::from_bytes(&kid, &scalar).map_err(|e| Failure::attention("sealed_response_key", e.0))
}

async fn poll(
    run: &Ctx<'_>,
    env: &ConnectorEnv<'_>,
    signers: &Result<Jwks, FulfilmentError>,
    order: &ConnectorOrder,
) -> Result<Step, Failure> {
    let s = &order.shipment;
    let factory_id = s
        .factory_shipment_id
        .as_deref()
        .ok_or_else(|| Failure::attention("no_factory_id", "a submitted order without the factory's id"))?;
    let options = options_of(run, order).await?;
    let live = options.as_ref().is_some_and(|o| o.is_live(run.now));
    let shipment = env.factory.poll(factory_id).await.map_err(|e| Failure::factory(&e))?;
    match shipment.state.as_str() {
        "shipped" | "delivered" => {}
        "cancelled" | "failed" => {
            let why = shipment.failure.as_deref().unwrap_or("no reason given");
            return Err(Failure {
                text: format!("factory_{}: {why}", shipment.state),
                retry: false,
                fatal: true,
            });
        }
        "received" | "locked" | "programmed" if !live => {
            // It cannot be registered any more: stop it at the factory if it still can be.
            let _ = env.factory.cancel(factory_id).await;
            return Err(Failure::expired(
                "the on-behalf creation options expired before the key shipped",
            ));
        }
        "received" | "locked" | "programmed" => return waiting(run, env, order).await,
        other => return Err(Failure::retry("factory_state", format!("unknown state {other:?}"))),
    }
    let Some(options) = options.filter(|_| live) else {
        return Err(Failure::expired(
            "the on-behalf creation options expired before the key was registered",
        ));
    };
    let signers = signers.as_ref().map_err(Failure::factory)?;
    register(run, env, order, &shipment, signers, &options).await
}

/// Not shipped yet: released until the next run.
async fn waiting(run: &Ctx<'_>, env: &ConnectorEnv<'_>, order: &ConnectorOrder) -> Result<Step, Failure> {
    let outcome = StepOutcome {
        state: ShipmentState::Submitted,
        failed: false,
        error: None,
        retry_after: None,
        tracking_number: None,
        at: run.now,
    };
    match run
        .stores
        .shipments
        .order_step(order.shipment.id, env.holder, &outcome, None)
        .await
    {
        Ok(()) => Ok(Step::Waiting),
        Err(StoreError::NotFound) => Ok(Step::Lost),
        Err(e) => Err(e.into()),
    }
}

/// Opens the shipped answers, verifies the key as the on-behalf route does, and registers it
/// with the PIN email in one transaction.
async fn register(
    run: &Ctx<'_>,
    env: &ConnectorEnv<'_>,
    order: &ConnectorOrder,
    shipment: &keyfleet_provisioning::api::Shipment,
    signers: &Jwks,
    options: &OnBehalfOptions,
) -> Result<Step, Failure> {
    let s = &order.shipment;
    let id = s.id.to_string();
    let ours = [response_key(env, order)?];
    let serial = shipment
        .serial_number
        .as_deref()
        .ok_or_else(|| Failure::attention("answer_incomplete", "shipped without a serial number"))?;
    let (Some(pin_jwe), Some(credential_jwe)) =
        (shipment.pin_response.as_deref(), shipment.credential_responses.first())
    else {
        return Err(Failure::attention("answer_incomplete", "shipped without its answers"));
    };
    let credential: CredentialResponse = sealed::open(credential_jwe, &ours, signers, CREDENTIAL_RESPONSE_TYP)
        .map_err(|e| Failure::attention("answer_refused", e))?;
    let pin: PinResponse =
        sealed::open(pin_jwe, &ours, signers, PIN_RESPONSE_TYP).map_err(|e| Failure::attention("answer_refused", e))?;
    let factory_id = s.factory_shipment_id.as_deref().unwrap_or_default();
    credential
        .check_binding(factory_id, serial)
        .map_err(|e| Failure::attention("answer_refused", e))?;
    if pin.shipment_id != factory_id || pin.serial_number != serial {
        return Err(Failure::attention(
            "answer_refused",
            "the PIN answers another shipment or key",
        ));
    }
    let challenge = onbehalf::response_challenge(&credential.public_key_credential);
    if challenge.as_deref() != Some(options.challenge.as_slice()) {
        return Err(Failure::attention(
            "answer_refused",
            "the key answers other creation options",
        ));
    }
    let user = user_of(run, order).await?;
    let display_name = format!("Shipped key {serial}");
    let (key, key_audit) =
        match onbehalf::verify_answer(run, &user, options, &display_name, &credential.public_key_credential).await {
            Ok(v) => v,
            Err(e) if e.code == "challenge_expired" => return Err(Failure::expired(e.message)),
            Err(e) => return Err(Failure::attention(e.code, e.message)),
        };
    crash_point(env, CrashPoint::Verified);
    let pin_sealed = env.master.encrypt(pin.pin.as_bytes(), &pin_aad(&id));
    let mail = pin_mail(
        env.master,
        order,
        &user,
        serial,
        shipment.tracking_number.as_deref(),
        &pin.pin,
        MailKind::ShipmentPin,
        run.now,
    )?;
    let order_audit = run.audit_with(
        Action::ShipmentRegister,
        Some(Target::Shipment(s.id)),
        &StepDetail {
            serial_number: Some(serial),
            ..detail(order, ShipmentState::Registered, None, s.attempts)
        },
    );
    let shipped = ShippedKey {
        id: s.id,
        holder: env.holder,
        options_id: options.id,
        credential: &key,
        tracking_number: shipment.tracking_number.as_deref(),
        serial_number: serial,
        pin_sealed: &pin_sealed,
        mail: &mail,
        at: run.now,
    };
    match run
        .stores
        .shipments
        .register_shipped(&shipped, &key_audit, &order_audit)
        .await
    {
        Ok(()) => Ok(Step::Registered),
        Err(StoreError::Conflict("order_moved")) => Ok(Step::Lost),
        Err(StoreError::Conflict("credential_id")) => Err(Failure::attention(
            "credential_exists",
            "this key is already registered",
        )),
        Err(StoreError::Conflict("ceremony_used")) => Err(Failure::expired("the on-behalf creation options are gone")),
        Err(e) => Err(e.into()),
    }
}

/// Who the PIN email goes to: the order's addresses, else the user's manager, else the user.
fn recipients(order: &ConnectorOrder, user: &User) -> Vec<String> {
    if !order.details.emails_to.is_empty() {
        return order.details.emails_to.clone();
    }
    match user.manager_email.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => vec![m.to_owned()],
        None => vec![user.email.clone()],
    }
}

/// The PIN email, its body sealed under the master key for its outbox row.
#[allow(clippy::too_many_arguments)]
pub(crate) fn pin_mail(
    master: &MasterKey,
    order: &ConnectorOrder,
    user: &User,
    serial: &str,
    tracking: Option<&str>,
    pin: &str,
    kind: MailKind,
    now: Timestamp,
) -> Result<NewMail, Failure> {
    let mail_id = uuid::Uuid::new_v4().to_string();
    let body = Zeroizing::new(format!(
        "A security key ({model}, serial number {serial}) is on its way to {name} ({username}){tracking}.\n\n\
         Its PIN is: {pin}\n\n\
         Please give this PIN to {name} separately from the key. The key asks for a new PIN the \
         first time it is used; the PIN above works only to set it.\n",
        model = order.shipment.model,
        name = user.display_name,
        username = user.username.as_str(),
        tracking = tracking.map(|t| format!(", tracking number {t}")).unwrap_or_default(),
    ));
    Ok(NewMail {
        body_sealed: master.encrypt(body.as_bytes(), &keyfleet_domain::keyring::MAIL_BODIES.aad(&mail_id)),
        id: mail_id,
        shipment_id: Some(order.shipment.id),
        kind,
        recipients: recipients(order, user),
        subject: format!("PIN of the security key for {}", user.display_name),
        created_at: now,
    })
}

/// "Process now" (`POST /api/v1/shipments/process`, the console's button): one run at once,
/// audited as the job's run (`job.run`). Safe beside the scheduled run of this or another
/// process: each order is claimed under its own lease.
pub async fn process_now(
    ctx: &Ctx<'_>,
    principal: &Principal,
    env: &ConnectorEnv<'_>,
) -> Result<Vec<(&'static str, u64)>, CoreError> {
    crate::access::authorize(ctx, principal, crate::access::Permission::ManageShipments).await?;
    let jobs = crate::jobs::JobEnv {
        connector: Some(*env),
        ..Default::default()
    };
    crate::jobs::Job::ProcessShipments.run_audited(ctx, &jobs).await
}
