//! The platform side of CTAP 2.1, just enough for the `keyfleet key` commands: getInfo,
//! authenticatorClientPIN with PIN/UV auth protocol two (§6.5.7), credential management (§6.8)
//! and reset. Requests go to an [`Applet`] as real CTAP2 messages, so the commands exercise the
//! same engine paths a client would.

use keyfleet_authenticator::cbor::{self, Value};
use keyfleet_authenticator::pin_protocol::SharedSecret;
use keyfleet_authenticator::status::Status;
use keyfleet_ctap_transport::Applet;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use rand_core::OsRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// authenticatorClientPIN.
const CLIENT_PIN: u8 = 0x06;
/// authenticatorGetInfo.
const GET_INFO: u8 = 0x04;
/// authenticatorReset.
const RESET: u8 = 0x07;
/// authenticatorCredentialManagement.
const CRED_MGMT: u8 = 0x0A;
/// authenticatorMakeCredential.
const MAKE_CREDENTIAL: u8 = 0x01;
/// authenticatorConfig.
const CONFIG: u8 = 0x0D;
/// The makeCredential permission.
pub const PERMISSION_MC: u8 = 0x01;
/// The authenticator configuration permission.
pub const PERMISSION_ACFG: u8 = 0x20;
const PROTOCOL: i128 = 2;
/// The credential management permission.
pub const PERMISSION_CM: u8 = 0x04;
/// Maximum depth of CBOR this client accepts.
const MAX_DEPTH: usize = 8;

/// A CTAP error from the authenticator, or a response this client cannot use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CtapError {
    /// The authenticator answered with this status.
    #[error("the key answered {name} (0x{code:02X})")]
    Status {
        /// The status byte.
        code: u8,
        /// Its CTAP name.
        name: String,
    },
    /// The response is malformed.
    #[error("malformed response: {0}")]
    Malformed(&'static str),
}

impl CtapError {
    fn status(code: u8) -> Self {
        let name = Status::try_from(code)
            .map(|s| format!("{s:?}"))
            .unwrap_or_else(|_| "unknown status".into());
        CtapError::Status { code, name }
    }
}

/// A discoverable credential as credential management reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialInfo {
    /// The relying party ID.
    pub rp_id: String,
    /// The credential ID.
    pub credential_id: Vec<u8>,
    /// The user handle.
    pub user_id: Vec<u8>,
    /// The user name, if stored.
    pub user_name: Option<String>,
}

/// A CTAP2 client talking to one applet.
pub struct Platform<'a, A: Applet> {
    applet: &'a mut A,
}

impl<'a, A: Applet> Platform<'a, A> {
    /// A client for `applet`.
    pub fn new(applet: &'a mut A) -> Self {
        Platform { applet }
    }

    /// Sends one command and decodes the CBOR response (an empty map when there is none).
    pub fn call(&mut self, command: u8, params: Vec<(i128, Value)>) -> Result<Value, CtapError> {
        let mut request = vec![command];
        if !params.is_empty() {
            request.extend(cbor::encode(&Value::int_map(params)));
        }
        let response = self.applet.ctap2(&request);
        match response.split_first() {
            Some((0, [])) => Ok(Value::Map(Vec::new())),
            Some((0, body)) => cbor::decode(body, MAX_DEPTH).map_err(|_| CtapError::Malformed("CBOR")),
            Some((&code, _)) => Err(CtapError::status(code)),
            None => Err(CtapError::Malformed("empty response")),
        }
    }

    /// authenticatorGetInfo.
    pub fn get_info(&mut self) -> Result<Value, CtapError> {
        self.call(GET_INFO, Vec::new())
    }

    /// authenticatorReset.
    pub fn reset(&mut self) -> Result<(), CtapError> {
        self.call(RESET, Vec::new()).map(drop)
    }

    /// getPINRetries: (retries, power cycle state).
    pub fn pin_retries(&mut self) -> Result<u64, CtapError> {
        let response = self.client_pin(0x01, Vec::new())?;
        uint(response.get_int_key(3))
    }

    fn client_pin(&mut self, sub: i128, mut params: Vec<(i128, Value)>) -> Result<Value, CtapError> {
        params.extend([(1, Value::Int(PROTOCOL)), (2, Value::Int(sub))]);
        self.call(CLIENT_PIN, params)
    }

    /// getKeyAgreement, then ECDH: the shared secret and our public key in COSE form.
    fn key_agreement(&mut self) -> Result<(SharedSecret, Value), CtapError> {
        let response = self.client_pin(0x02, Vec::new())?;
        let peer = response.get_int_key(1).ok_or(CtapError::Malformed("no keyAgreement"))?;
        let coordinate = |k| {
            peer.get_int_key(k)
                .and_then(|v| v.as_bytes().ok())
                .filter(|b| b.len() == 32)
        };
        let (x, y) = coordinate(-2)
            .zip(coordinate(-3))
            .ok_or(CtapError::Malformed("keyAgreement"))?;
        let peer = p256::PublicKey::from_sec1_bytes(&[&[0x04][..], x, y].concat())
            .map_err(|_| CtapError::Malformed("keyAgreement point"))?;
        let ours = p256::ecdh::EphemeralSecret::random(&mut OsRng);
        let z = ours.diffie_hellman(&peer);
        let mut z_bytes = Zeroizing::new([0u8; 32]);
        z_bytes.copy_from_slice(z.raw_secret_bytes());
        let point = ours.public_key().to_encoded_point(false);
        let (ox, oy) = point.x().zip(point.y()).ok_or(CtapError::Malformed("our point"))?;
        let cose = Value::int_map(vec![
            (1, Value::Int(2)),
            (3, Value::Int(-25)),
            (-1, Value::Int(1)),
            (-2, Value::bytes(ox)),
            (-3, Value::bytes(oy)),
        ]);
        Ok((SharedSecret::from_z(&z_bytes), cose))
    }

    /// setPIN (§6.5.5.5).
    pub fn set_pin(&mut self, pin: &str) -> Result<(), CtapError> {
        let (shared, cose) = self.key_agreement()?;
        let new_pin_enc = shared.encrypt(&mut OsRng, &pad_pin(pin)?);
        let param = shared.authenticate(&new_pin_enc);
        self.client_pin(
            0x03,
            vec![(3, cose), (4, Value::bytes(&param)), (5, Value::Bytes(new_pin_enc))],
        )
        .map(drop)
    }

    /// changePIN (§6.5.5.6).
    pub fn change_pin(&mut self, old: &str, new: &str) -> Result<(), CtapError> {
        let (shared, cose) = self.key_agreement()?;
        let new_pin_enc = shared.encrypt(&mut OsRng, &pad_pin(new)?);
        let pin_hash_enc = shared.encrypt(&mut OsRng, &pin_hash(old));
        let param = shared.authenticate(&[new_pin_enc.as_slice(), &pin_hash_enc].concat());
        self.client_pin(
            0x04,
            vec![
                (3, cose),
                (4, Value::bytes(&param)),
                (5, Value::Bytes(new_pin_enc)),
                (6, Value::Bytes(pin_hash_enc)),
            ],
        )
        .map(drop)
    }

    /// getPinUvAuthTokenUsingPinWithPermissions (§6.5.5.7.2).
    pub fn pin_token(
        &mut self,
        pin: &str,
        permissions: u8,
        rp_id: Option<&str>,
    ) -> Result<Zeroizing<Vec<u8>>, CtapError> {
        let (shared, cose) = self.key_agreement()?;
        let pin_hash_enc = shared.encrypt(&mut OsRng, &pin_hash(pin));
        let mut params = vec![
            (3, cose),
            (6, Value::Bytes(pin_hash_enc)),
            (9, Value::Int(permissions.into())),
        ];
        if let Some(rp_id) = rp_id {
            params.push((10, Value::text(rp_id)));
        }
        let response = self.client_pin(0x09, params)?;
        self.decrypt_token(&shared, &response)
    }

    /// getPinUvAuthTokenUsingUvWithPermissions (§6.5.5.7.3): the band's built-in UV.
    pub fn uv_token(&mut self, permissions: u8, rp_id: Option<&str>) -> Result<Zeroizing<Vec<u8>>, CtapError> {
        let (shared, cose) = self.key_agreement()?;
        let mut params = vec![(3, cose), (9, Value::Int(permissions.into()))];
        if let Some(rp_id) = rp_id {
            params.push((10, Value::text(rp_id)));
        }
        let response = self.client_pin(0x06, params)?;
        self.decrypt_token(&shared, &response)
    }

    fn decrypt_token(&self, shared: &SharedSecret, response: &Value) -> Result<Zeroizing<Vec<u8>>, CtapError> {
        let encrypted = response
            .get_int_key(2)
            .and_then(|v| v.as_bytes().ok())
            .ok_or(CtapError::Malformed("no token"))?;
        shared
            .decrypt(encrypted)
            .ok_or(CtapError::Malformed("token does not decrypt"))
    }

    /// One credential management subcommand authenticated with `token` (§6.8).
    fn cred_mgmt(&mut self, token: &[u8], sub: i128, sub_params: Option<Value>) -> Result<Value, CtapError> {
        let mut message = vec![u8::try_from(sub).map_err(|_| CtapError::Malformed("subcommand"))?];
        if let Some(p) = &sub_params {
            message.extend(cbor::encode(p));
        }
        let param = hmac_sha256(token, &message);
        let mut params = vec![
            (1, Value::Int(sub)),
            (3, Value::Int(PROTOCOL)),
            (4, Value::bytes(&param)),
        ];
        if let Some(p) = sub_params {
            params.push((2, p));
        }
        self.call(CRED_MGMT, params)
    }

    /// Every discoverable credential, through enumerateRPs and enumerateCredentials.
    pub fn list_credentials(&mut self, token: &[u8]) -> Result<Vec<CredentialInfo>, CtapError> {
        let metadata = self.cred_mgmt(token, 0x01, None)?;
        if uint(metadata.get_int_key(1))? == 0 {
            return Ok(Vec::new());
        }
        let mut rps = Vec::new();
        let first = self.cred_mgmt(token, 0x02, None);
        let first = match first {
            Err(CtapError::Status { code: 0x2E, .. }) => return Ok(Vec::new()), // NO_CREDENTIALS
            other => other?,
        };
        let total = uint(first.get_int_key(5))?;
        rps.push(rp_entry(&first)?);
        for _ in 1..total {
            rps.push(rp_entry(&self.call(CRED_MGMT, vec![(1, Value::Int(0x03))])?)?);
        }
        let mut out = Vec::new();
        for (rp_id, rp_id_hash) in rps {
            let sub_params = Value::int_map(vec![(1, Value::Bytes(rp_id_hash))]);
            let first = self.cred_mgmt(token, 0x04, Some(sub_params))?;
            let total = uint(first.get_int_key(9))?;
            out.push(credential_entry(&rp_id, &first)?);
            for _ in 1..total {
                out.push(credential_entry(
                    &rp_id,
                    &self.call(CRED_MGMT, vec![(1, Value::Int(0x05))])?,
                )?);
            }
        }
        Ok(out)
    }

    /// deleteCredential.
    pub fn delete_credential(&mut self, token: &[u8], credential_id: &[u8]) -> Result<(), CtapError> {
        let descriptor = Value::text_map(vec![
            ("id", Value::bytes(credential_id)),
            ("type", Value::text("public-key")),
        ]);
        self.cred_mgmt(token, 0x06, Some(Value::int_map(vec![(2, descriptor)])))
            .map(drop)
    }
}

/// What makeCredential is asked to make (CTAP 2.1 §6.1), as a platform builds it from the
/// relying party's creation options.
#[derive(Clone, Debug)]
pub struct MakeCredential<'r> {
    /// SHA-256 of the clientDataJSON.
    pub client_data_hash: [u8; 32],
    /// The RP ID.
    pub rp_id: &'r str,
    /// The RP's name.
    pub rp_name: &'r str,
    /// The user handle.
    pub user_id: &'r [u8],
    /// The user name.
    pub user_name: &'r str,
    /// The user's display name.
    pub user_display_name: &'r str,
    /// COSE algorithms, most preferred first.
    pub algorithms: Vec<i64>,
    /// Credential IDs the key must not already hold.
    pub exclude: Vec<Vec<u8>>,
    /// A discoverable credential.
    pub resident_key: bool,
    /// Vendor-facilitated enterprise attestation (§7.1, `enterpriseAttestation` = 1).
    pub enterprise_attestation: bool,
}

/// makeCredential's answer.
#[derive(Clone, Debug)]
pub struct Attestation {
    /// `fmt`.
    pub fmt: String,
    /// `authData`.
    pub auth_data: Vec<u8>,
    /// The WebAuthn attestation object: CBOR {"fmt", "attStmt", "authData"} (canonical order).
    pub attestation_object: Vec<u8>,
    /// The credential ID, from the attested credential data.
    pub credential_id: Vec<u8>,
}

impl<A: Applet> Platform<'_, A> {
    /// authenticatorMakeCredential with a pinUvAuthToken holding the mc permission (§6.1):
    /// pinUvAuthParam = authenticate(token, clientDataHash), so the key verifies its user.
    pub fn make_credential(&mut self, token: &[u8], request: &MakeCredential<'_>) -> Result<Attestation, CtapError> {
        let params: Vec<Value> = request
            .algorithms
            .iter()
            .map(|alg| {
                Value::text_map(vec![
                    ("alg", Value::Int((*alg).into())),
                    ("type", Value::text("public-key")),
                ])
            })
            .collect();
        let exclude: Vec<Value> = request
            .exclude
            .iter()
            .map(|id| Value::text_map(vec![("id", Value::bytes(id)), ("type", Value::text("public-key"))]))
            .collect();
        let mut body = vec![
            (1, Value::bytes(&request.client_data_hash)),
            (
                2,
                Value::text_map(vec![
                    ("id", Value::text(request.rp_id)),
                    ("name", Value::text(request.rp_name)),
                ]),
            ),
            (
                3,
                Value::text_map(vec![
                    ("id", Value::bytes(request.user_id)),
                    ("name", Value::text(request.user_name)),
                    ("displayName", Value::text(request.user_display_name)),
                ]),
            ),
            (4, Value::Array(params)),
        ];
        if !exclude.is_empty() {
            body.push((5, Value::Array(exclude)));
        }
        if request.resident_key {
            body.push((7, Value::text_map(vec![("rk", Value::Bool(true))])));
        }
        body.push((8, Value::bytes(&hmac_sha256(token, &request.client_data_hash))));
        body.push((9, Value::Int(PROTOCOL)));
        if request.enterprise_attestation {
            body.push((0x0A, Value::Int(1)));
        }
        let response = self.call(MAKE_CREDENTIAL, body)?;
        let fmt = response
            .get_int_key(1)
            .and_then(|v| v.as_text().ok())
            .ok_or(CtapError::Malformed("fmt"))?
            .to_string();
        let auth_data = response
            .get_int_key(2)
            .and_then(|v| v.as_bytes().ok())
            .ok_or(CtapError::Malformed("authData"))?
            .to_vec();
        let att_stmt = response.get_int_key(3).ok_or(CtapError::Malformed("attStmt"))?.clone();
        // authData: rpIdHash (32) ‖ flags (1) ‖ signCount (4) ‖ AAGUID (16) ‖ L (2) ‖ credentialId (L) ‖ …
        let length = auth_data
            .get(53..55)
            .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
            .ok_or(CtapError::Malformed("attested credential data"))?;
        let credential_id = auth_data
            .get(55..55 + length)
            .ok_or(CtapError::Malformed("credential ID"))?
            .to_vec();
        let attestation_object = cbor::encode(&Value::text_map(vec![
            ("fmt", Value::text(&fmt)),
            ("attStmt", att_stmt),
            ("authData", Value::bytes(&auth_data)),
        ]));
        Ok(Attestation {
            fmt,
            auth_data,
            attestation_object,
            credential_id,
        })
    }

    /// authenticatorConfig (§6.11) with a token holding the acfg permission: pinUvAuthParam =
    /// authenticate(token, 32×0xff ‖ 0x0d ‖ subCommand ‖ subCommandParams).
    fn config(&mut self, token: &[u8], sub: u8, sub_params: Option<Value>) -> Result<(), CtapError> {
        let encoded = sub_params.as_ref().map(cbor::encode).unwrap_or_default();
        let message = [&[0xffu8; 32][..], &[CONFIG, sub], &encoded].concat();
        let mut params = vec![(1, Value::Int(sub.into()))];
        if let Some(p) = sub_params {
            params.push((2, p));
        }
        params.push((3, Value::Int(PROTOCOL)));
        params.push((4, Value::bytes(&hmac_sha256(token, &message))));
        self.call(CONFIG, params).map(drop)
    }

    /// enableEnterpriseAttestation (§6.11.1).
    pub fn enable_enterprise_attestation(&mut self, token: &[u8]) -> Result<(), CtapError> {
        self.config(token, 0x01, None)
    }

    /// setMinPINLength with forceChangePin (§6.11.4): the PIN must be changed before it is used.
    pub fn force_pin_change(&mut self, token: &[u8]) -> Result<(), CtapError> {
        self.config(token, 0x03, Some(Value::int_map(vec![(0x03, Value::Bool(true))])))
    }
}

fn uint(value: Option<&Value>) -> Result<u64, CtapError> {
    value
        .and_then(|v| v.as_uint().ok())
        .ok_or(CtapError::Malformed("expected an unsigned integer"))
}

fn rp_entry(response: &Value) -> Result<(String, Vec<u8>), CtapError> {
    let rp = response.get_int_key(3).ok_or(CtapError::Malformed("no rp"))?;
    let id = rp
        .get_text_key("id")
        .and_then(|v| v.as_text().ok())
        .ok_or(CtapError::Malformed("rp.id"))?;
    let hash = response
        .get_int_key(4)
        .and_then(|v| v.as_bytes().ok())
        .ok_or(CtapError::Malformed("rpIDHash"))?;
    Ok((id.to_string(), hash.to_vec()))
}

fn credential_entry(rp_id: &str, response: &Value) -> Result<CredentialInfo, CtapError> {
    let user = response.get_int_key(6).ok_or(CtapError::Malformed("no user"))?;
    let user_id = user
        .get_text_key("id")
        .and_then(|v| v.as_bytes().ok())
        .ok_or(CtapError::Malformed("user.id"))?;
    let user_name = user
        .get_text_key("name")
        .and_then(|v| v.as_text().ok())
        .map(str::to_string);
    let credential = response.get_int_key(7).ok_or(CtapError::Malformed("no credentialID"))?;
    let id = credential
        .get_text_key("id")
        .and_then(|v| v.as_bytes().ok())
        .ok_or(CtapError::Malformed("id"))?;
    Ok(CredentialInfo {
        rp_id: rp_id.to_string(),
        credential_id: id.to_vec(),
        user_id: user_id.to_vec(),
        user_name,
    })
}

/// The PIN padded with zeros to 64 bytes (§6.5.5.5). Refuses PINs that do not fit.
fn pad_pin(pin: &str) -> Result<Zeroizing<Vec<u8>>, CtapError> {
    if pin.len() > 63 {
        return Err(CtapError::Malformed("PIN longer than 63 bytes"));
    }
    let mut padded = Zeroizing::new(vec![0u8; 64]);
    padded[..pin.len()].copy_from_slice(pin.as_bytes());
    Ok(padded)
}

/// LEFT(SHA-256(PIN), 16).
fn pin_hash(pin: &str) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(Sha256::digest(pin.as_bytes())[..16].to_vec())
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(message);
    mac.finalize().into_bytes().into()
}
