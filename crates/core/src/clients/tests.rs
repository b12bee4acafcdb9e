use super::*;

#[test]
fn digests_match_only_their_secret_and_key() {
    let key = [7u8; 32];
    let stored = digest_secret(&key, "s3cret");
    assert!(stored.starts_with("hmac-sha256:"));
    assert_eq!(check_secret(&key, "s3cret", &stored), Match::Digest);
    assert_eq!(check_secret(&key, "s3creT", &stored), Match::No);
    assert_eq!(check_secret(&[8u8; 32], "s3cret", &stored), Match::No);
    assert_eq!(check_secret(&key, "s3cret", "hmac-sha256:zz"), Match::No);
    assert_eq!(check_secret(&key, "s3cret", "garbage"), Match::No);
}

#[test]
fn legacy_argon2_hashes_still_match() {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    let params = argon2::Params::new(19 * 1024, 2, 1, None).unwrap();
    let argon = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let phc = argon.hash_password(b"old-secret", &salt).unwrap().to_string();
    assert_eq!(check_secret(&[1; 32], "old-secret", &phc), Match::Legacy);
    assert_eq!(check_secret(&[1; 32], "other", &phc), Match::No);
}
