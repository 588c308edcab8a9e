//! The secrets of the server's own users: argon2id password hashes, and the random
//! secrets of API tokens, sessions and setup links with their SHA-256 digests, compared in
//! constant time.
//!
//! Hashing a password is deliberately slow (tens of milliseconds): callers on the async
//! runtime run [`hash_password`] and [`verify_password`] on the blocking pool.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

use crate::domain::account::{Password, TokenHash};

/// What every API token starts with, so that a leaked one is recognisable (secret
/// scanners, logs) and a session id or a setup token is never taken for one.
pub const API_TOKEN_PREFIX: &str = "msk_";

/// Random bytes in every secret: API tokens, session ids, CSRF tokens, setup tokens.
pub const SECRET_BYTES: usize = 32;

/// The length of a secret's text: 32 bytes in unpadded base64url.
pub const SECRET_TEXT_LEN: usize = 43;

#[derive(Debug, Error)]
pub enum CredentialError {
    #[error("the password could not be hashed: {0}")]
    Hash(String),
}

/// The argon2id hash of `password` with a new random salt, as a PHC string, with the
/// crate's default parameters (OWASP's minimum: 19 MiB, 2 passes, 1 lane).
pub fn hash_password(password: &Password) -> Result<String, CredentialError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|error| CredentialError::Hash(error.to_string()))?;
    Argon2::default()
        .hash_password(password.as_str().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| CredentialError::Hash(error.to_string()))
}

/// Whether `password` hashes to the PHC string `stored` (its own parameters and salt). An
/// unreadable `stored` matches nothing.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash no password matches in practice, to verify against when a login names no
/// account: the answer then takes as long as for a wrong password, so the time does not
/// tell which addresses have accounts.
pub fn decoy_password_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let secret = new_secret();
        Password::parse(&secret)
            .ok()
            .and_then(|password| hash_password(&password).ok())
            .unwrap_or_default()
    })
}

/// [`SECRET_BYTES`] random bytes as unpadded base64url ([`SECRET_TEXT_LEN`] characters).
pub fn new_secret() -> String {
    let bytes: [u8; SECRET_BYTES] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `text` has the form of [`new_secret`]'s output; anything else is refused before
/// it is hashed or logged.
pub fn is_secret_text(text: &str) -> bool {
    text.len() == SECRET_TEXT_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The SHA-256 of `text`, as 64 lower-case hex digits.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new API token: the secret to show once (`msk_` + 43 characters) and the hash to store.
pub fn new_api_token() -> (String, TokenHash) {
    let token = format!("{API_TOKEN_PREFIX}{}", new_secret());
    let hash = api_token_hash(&token).expect("a new token has the token form");
    (token, hash)
}

/// The hash of a presented API token, or `None` when it does not have the token form.
pub fn api_token_hash(token: &str) -> Option<TokenHash> {
    let secret = token.strip_prefix(API_TOKEN_PREFIX)?;
    is_secret_text(secret)
        .then(|| TokenHash::parse(&sha256_hex(token)).ok())
        .flatten()
}

/// Whether two secrets (or their hashes) are equal, in time that depends on their lengths
/// only, never on where they first differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let password = Password::parse("correct horse battery staple").unwrap();
        let hash = hash_password(&password).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(verify_password("correct horse battery staple", &hash));
        assert!(!verify_password("correct horse battery stapler", &hash));
        assert!(!verify_password(
            "correct horse battery staple",
            "not a phc string"
        ));
        assert_ne!(
            hash,
            hash_password(&password).unwrap(),
            "a new salt each time"
        );
        assert!(!verify_password("", decoy_password_hash()));
    }

    #[test]
    fn a_token_is_msk_and_43_base64url_characters_and_hashes_to_its_stored_form() {
        let (token, hash) = new_api_token();
        assert!(
            token.starts_with("msk_") && token.len() == 4 + SECRET_TEXT_LEN,
            "{token}"
        );
        assert_eq!(api_token_hash(&token), Some(hash.clone()));
        assert_eq!(hash.as_str(), sha256_hex(&token));
        assert_eq!(api_token_hash(&token[4..]), None, "no prefix");
        assert_eq!(api_token_hash("msk_short"), None);
        assert_eq!(api_token_hash(&format!("{token}x")), None);
        assert_ne!(new_api_token().0, token);
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert!(is_secret_text(&new_secret()));
        assert!(!is_secret_text("a+b"));
    }
}
