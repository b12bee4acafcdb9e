use crate::cbor::{self, Value};
use crate::status::Status;
use crate::test_support::Fixture;

fn info(fx: &mut Fixture) -> Value {
    fx.call(0x04, vec![]).unwrap()
}

fn texts(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|t| t.as_text().unwrap()).collect()
}

fn option(info: &Value, name: &str) -> Option<bool> {
    info.get_int_key(4)
        .unwrap()
        .get_text_key(name)
        .map(|v| v.as_bool().unwrap())
}

#[test]
fn reports_the_nfc_key() {
    let mut fx = Fixture::new();
    let i = info(&mut fx);
    assert_eq!(texts(i.get_int_key(1).unwrap()), ["U2F_V2", "FIDO_2_0", "FIDO_2_1"]);
    assert_eq!(
        texts(i.get_int_key(2).unwrap()),
        [
            "credBlob",
            "credProtect",
            "hmac-secret",
            "hmac-secret-mc",
            "largeBlobKey",
            "minPinLength"
        ]
    );
    assert_eq!(
        i.get_int_key(3).unwrap().as_bytes().unwrap(),
        &crate::model_by_name("nfc-key").unwrap().aaguid
    );
    for (name, value) in [
        ("rk", true),
        ("up", true),
        ("plat", false),
        ("clientPin", false),
        ("credMgmt", true),
        ("authnrCfg", true),
        ("setMinPINLength", true),
        ("makeCredUvNotRqd", true),
        ("pinUvAuthToken", true),
        ("alwaysUv", false),
        ("largeBlobs", true),
        ("ep", false),
    ] {
        assert_eq!(option(&i, name), Some(value), "{name}");
    }
    assert_eq!(option(&i, "uv"), None, "the NFC key has no built-in UV");
    assert_eq!(option(&i, "bioEnroll"), None);
    assert_eq!(
        i.get_int_key(6),
        Some(&Value::Array(vec![Value::Int(2), Value::Int(1)]))
    );
    assert_eq!(texts(i.get_int_key(9).unwrap()), ["nfc"]);
    let algs = i.get_int_key(0x0A).unwrap().as_array().unwrap();
    let ids: Vec<i128> = algs
        .iter()
        .map(|a| a.get_text_key("alg").unwrap().as_int().unwrap())
        .collect();
    assert_eq!(ids, [-7, -8, -35], "ES256, EdDSA, ES384");
    assert!(
        algs.iter()
            .all(|a| a.get_text_key("type") == Some(&Value::text("public-key")))
    );
    assert_eq!(
        i.get_int_key(0x0B),
        Some(&Value::Int(4096)),
        "maxSerializedLargeBlobArray"
    );
    assert_eq!(i.get_int_key(0x0F), Some(&Value::Int(32)), "maxCredBlobLength");
    assert_eq!(i.get_int_key(0x0C), Some(&Value::Bool(false)));
    assert_eq!(i.get_int_key(0x0D), Some(&Value::Int(4)));
    assert_eq!(i.get_int_key(0x0E), Some(&Value::Int(0x0001_0000)));
    assert_eq!(i.get_int_key(0x14), Some(&Value::Int(50)));
    assert_eq!(i.get_int_key(0x12), None);
}

#[test]
fn response_is_canonical_cbor() {
    let mut fx = Fixture::new();
    let raw = fx.raw(&[0x04]);
    assert_eq!(raw[0], 0);
    let decoded = cbor::decode(&raw[1..], 4).unwrap();
    assert_eq!(cbor::encode(&decoded), raw[1..]);
    // Keys ascend 0x01..0x14 in order.
    let keys: Vec<i128> = decoded
        .as_map()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_int().unwrap())
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    // Option names: shorter first, then bytewise ("up" < "rk"? no: "rk" < "up").
    let opts: Vec<&str> = decoded
        .get_int_key(4)
        .unwrap()
        .as_map()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_text().unwrap())
        .collect();
    assert_eq!(opts[..4], ["ep", "rk", "up", "plat"]);
}

#[test]
fn follows_state() {
    let mut fx = Fixture::new();
    fx.set_pin("1234").unwrap();
    fx.auth.state.always_uv = true;
    fx.auth.state.force_pin_change = true;
    let i = info(&mut fx);
    assert_eq!(option(&i, "clientPin"), Some(true));
    assert_eq!(option(&i, "alwaysUv"), Some(true));
    assert_eq!(option(&i, "makeCredUvNotRqd"), Some(false));
    assert_eq!(
        texts(i.get_int_key(1).unwrap()),
        ["FIDO_2_0", "FIDO_2_1"],
        "no U2F_V2 under alwaysUv"
    );
    assert_eq!(i.get_int_key(0x0C), Some(&Value::Bool(true)));
}

#[test]
fn band_reports_uv_only_when_worn_and_enrolled() {
    let mut fx = Fixture::model("band");
    let i = info(&mut fx);
    assert_eq!(option(&i, "uv"), Some(false));
    assert_eq!(i.get_int_key(0x12), Some(&Value::Int(2)), "uvModality fingerprint");
    fx.auth.band_wear().unwrap();
    let good = [crate::CaptureQuality::Good; 15];
    fx.auth.band_enrol_finger(&mut fx.env, &good).unwrap();
    assert_eq!(option(&info(&mut fx), "uv"), Some(true));
    fx.auth.band_take_off().unwrap();
    assert_eq!(option(&info(&mut fx), "uv"), Some(false));
}

#[test]
fn takes_no_parameters() {
    let mut fx = Fixture::new();
    assert_eq!(fx.raw(&[0x04, 0xa0]), [u8::from(Status::InvalidLength)]);
    assert!(!fx.auth.take_dirty());
}
