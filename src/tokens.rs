//! Signed tokens for the links in an email (click, open, unsubscribe): HMAC-SHA256 under the
//! secret key, carrying user, job, date, purpose and expiry, verified in constant time.
//!
//! Form: `base64url(payload) "." base64url(mac)`, payload `v1|purpose|expires|date|job|user`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

type HmacSha256 = Hmac<Sha256>;

/// How long a link in an email stays valid (seconds): click and open 90 days, unsubscribe a year.
pub const CLICK_TOKEN_SECONDS: i64 = 90 * 86_400;
pub const UNSUBSCRIBE_TOKEN_SECONDS: i64 = 365 * 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Click,
    Open,
    Unsubscribe,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Click => "click",
            Self::Open => "open",
            Self::Unsubscribe => "unsubscribe",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Click, Self::Open, Self::Unsubscribe]
            .into_iter()
            .find(|p| p.as_str() == text)
    }
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub purpose: Purpose,
    pub user_id: String,
    /// 0 where the token is not about a job (open, unsubscribe).
    pub job_id: u64,
    /// The email's date, `YYYY-MM-DD`.
    pub date: String,
    /// Unix seconds after which the token is refused.
    pub expires_at: i64,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature does not match")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is for {found}, not {expected}")]
    WrongPurpose {
        expected: &'static str,
        found: &'static str,
    },
}

/// Signs and verifies tokens under one secret key.
#[derive(Clone)]
pub struct TokenSigner {
    /// The MAC already keyed: cloning it skips re-hashing the key for every token.
    keyed: HmacSha256,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(…)")
    }
}

impl TokenSigner {
    /// A signer for `key` (at least 32 bytes are recommended).
    pub fn new(key: &[u8]) -> Self {
        Self {
            keyed: HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length"),
        }
    }

    fn mac(&self) -> HmacSha256 {
        self.keyed.clone()
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let mut token = String::new();
        self.sign_into(
            &mut token,
            claims.purpose,
            &claims.user_id,
            claims.job_id,
            &claims.date,
            claims.expires_at,
        );
        token
    }

    /// Appends the token of these claims to `out`, with no allocation but `out`'s growth
    /// (the renderer signs about forty links per email).
    pub fn sign_into(
        &self,
        out: &mut String,
        purpose: Purpose,
        user_id: &str,
        job_id: u64,
        date: &str,
        expires_at: i64,
    ) {
        use std::io::Write as _;
        let mut payload = [0u8; 256];
        let mut cursor = std::io::Cursor::new(&mut payload[..]);
        let written = write!(
            cursor,
            "v1|{}|{expires_at}|{date}|{job_id}|{user_id}",
            purpose.as_str()
        );
        let long;
        let payload: &[u8] = if written.is_ok() {
            let len = cursor.position() as usize;
            &payload[..len]
        } else {
            // A user id too long for the buffer: rare, allocate.
            long = format!(
                "v1|{}|{expires_at}|{date}|{job_id}|{user_id}",
                purpose.as_str()
            );
            long.as_bytes()
        };
        let mut mac = self.mac();
        mac.update(payload);
        let signature = mac.finalize().into_bytes();
        URL_SAFE_NO_PAD.encode_string(payload, out);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, out);
    }

    /// Checks the signature (in constant time), the purpose and the expiry (`now` in Unix seconds).
    pub fn verify(&self, token: &str, expected: Purpose, now: i64) -> Result<Claims, TokenError> {
        let (payload_part, signature_part) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload_part)
            .map_err(|_| TokenError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature_part)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(&payload);
        mac.verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        let text = std::str::from_utf8(&payload).map_err(|_| TokenError::Malformed)?;
        let mut parts = text.splitn(6, '|');
        let version = parts.next();
        let (Some("v1"), Some(purpose), Some(expires), Some(date), Some(job), Some(user)) = (
            version,
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(TokenError::Malformed);
        };
        let purpose = Purpose::parse(purpose).ok_or(TokenError::Malformed)?;
        if purpose != expected {
            return Err(TokenError::WrongPurpose {
                expected: expected.as_str(),
                found: purpose.as_str(),
            });
        }
        let expires_at: i64 = expires.parse().map_err(|_| TokenError::Malformed)?;
        if now > expires_at {
            return Err(TokenError::Expired);
        }
        Ok(Claims {
            purpose,
            user_id: user.to_owned(),
            job_id: job.parse().map_err(|_| TokenError::Malformed)?,
            date: date.to_owned(),
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(purpose: Purpose) -> Claims {
        Claims {
            purpose,
            user_id: "u|1".into(),
            job_id: 1_000_001,
            date: "2025-11-25".into(),
            expires_at: 2_000,
        }
    }

    #[test]
    fn a_signed_token_verifies_and_round_trips_its_claims() {
        let signer = TokenSigner::new(b"0123456789abcdef0123456789abcdef");
        let token = signer.sign(&claims(Purpose::Click));
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "URL safe: {token}"
        );
        assert_eq!(
            signer.verify(&token, Purpose::Click, 1_000),
            Ok(claims(Purpose::Click))
        );
    }

    #[test]
    fn tampered_tokens_are_rejected() {
        let signer = TokenSigner::new(b"0123456789abcdef0123456789abcdef");
        let token = signer.sign(&claims(Purpose::Click));
        let (payload, signature) = token.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode("v1|click|2000|2025-11-25|1000002|u|1");
        assert_eq!(
            signer.verify(&format!("{forged_payload}.{signature}"), Purpose::Click, 0),
            Err(TokenError::BadSignature)
        );
        let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
        bytes[0] ^= 1;
        let flipped = format!("{payload}.{}", URL_SAFE_NO_PAD.encode(bytes));
        assert_eq!(
            signer.verify(&flipped, Purpose::Click, 0),
            Err(TokenError::BadSignature)
        );
        let other_key = TokenSigner::new(b"another key of thirty-two bytes!");
        assert_eq!(
            other_key.verify(&token, Purpose::Click, 0),
            Err(TokenError::BadSignature)
        );
        for garbage in ["", "abc", "a.b.c", "!!!.???"] {
            assert!(
                signer.verify(garbage, Purpose::Click, 0).is_err(),
                "{garbage}"
            );
        }
    }

    #[test]
    fn expired_tokens_are_rejected() {
        let signer = TokenSigner::new(b"0123456789abcdef0123456789abcdef");
        let token = signer.sign(&claims(Purpose::Open));
        assert!(
            signer.verify(&token, Purpose::Open, 2_000).is_ok(),
            "valid up to its expiry"
        );
        assert_eq!(
            signer.verify(&token, Purpose::Open, 2_001),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_token_for_one_purpose_is_refused_for_another() {
        let signer = TokenSigner::new(b"0123456789abcdef0123456789abcdef");
        let token = signer.sign(&claims(Purpose::Click));
        assert_eq!(
            signer.verify(&token, Purpose::Unsubscribe, 0),
            Err(TokenError::WrongPurpose {
                expected: "unsubscribe",
                found: "click"
            })
        );
    }
}
