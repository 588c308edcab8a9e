//! The people and programs that may use the server: accounts with a role and a password
//! hash, and API tokens with a role of their own.
//!
//! Pure: hashing, random tokens and the clock belong to the shell (`crate::credentials`,
//! `crate::service::accounts`); instants come in as [`Micros`].

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ids::EmailAddress;
use super::time::Micros;
use super::value::ValueError;

/// The fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// The most bytes a password may have: far more than any passphrase, few enough that
/// hashing a hostile one costs no more than hashing a real one.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The most characters of an API token's name.
pub const MAX_TOKEN_NAME_CHARS: usize = 100;

/// What an account or a token may do. Ordered: each role may do everything the roles
/// below it may.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything.
    #[default]
    Viewer,
    /// Also imports, runs, cancels, retries and suppresses.
    Operator,
    /// Also manages accounts, tokens and settings.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str().eq_ignore_ascii_case(raw.trim()))
            .ok_or(ValueError::Invalid(
                "a role is one of viewer, operator, admin",
            ))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An account's id, given by the store (1, 2, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AccountId(u64);

/// An API token's id, given by the store (1, 2, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TokenId(u64);

macro_rules! numeric_id {
    ($type:ident, $what:literal) => {
        impl $type {
            pub fn new(value: u64) -> Self {
                Self(value)
            }

            pub fn get(self) -> u64 {
                self.0
            }

            pub fn parse(raw: &str) -> Result<Self, ValueError> {
                raw.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|value| *value > 0)
                    .map(Self)
                    .ok_or(ValueError::Invalid(concat!(
                        $what,
                        " is a positive whole number such as 3"
                    )))
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

numeric_id!(AccountId, "an account id");
numeric_id!(TokenId, "a token id");

/// A person who signs in with an email address and a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub email: EmailAddress,
    pub role: Role,
    /// The password's argon2id hash as a PHC string (`$argon2id$v=19$…`); never the password.
    pub password_hash: String,
    pub created_at: Micros,
    /// A disabled account cannot sign in, and its sessions stop working at once.
    pub disabled: bool,
}

impl Account {
    /// Whether this account counts as an admin for the last-admin rule: enabled and admin.
    pub fn is_active_admin(&self) -> bool {
        self.role == Role::Admin && !self.disabled
    }
}

/// An account before the store gives it its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub email: EmailAddress,
    pub role: Role,
    pub password_hash: String,
    pub created_at: Micros,
}

/// A password as a person chose it: at least [`MIN_PASSWORD_CHARS`] characters and at
/// most [`MAX_PASSWORD_BYTES`] bytes. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        if raw.chars().count() < MIN_PASSWORD_CHARS {
            return Err(ValueError::Invalid(
                "a password needs at least 12 characters; a passphrase of a few words is easiest",
            ));
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(ValueError::Invalid("a password has at most 1024 bytes"));
        }
        Ok(Password(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// The SHA-256 of an API token's secret, as 64 lower-case hex digits: what the store keeps
/// and looks a token up by. The secret itself is shown once and never stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct TokenHash(String);

impl TokenHash {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let ok = raw.len() == 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| TokenHash(raw.to_owned()))
            .ok_or(ValueError::Invalid(
                "a token hash is 64 lower-case hex digits",
            ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TokenHash {
    type Error = ValueError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        TokenHash::parse(&value)
    }
}

/// An API token's name, for the people who manage tokens: 1 to 100 characters, no control
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct TokenName(String);

impl TokenName {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(ValueError::Invalid("a token needs a name"));
        }
        if text.chars().count() > MAX_TOKEN_NAME_CHARS {
            return Err(ValueError::Invalid(
                "a token name has at most 100 characters",
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(ValueError::Invalid(
                "a token name has no control characters",
            ));
        }
        Ok(TokenName(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TokenName {
    type Error = ValueError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        TokenName::parse(&value)
    }
}

/// A credential for automation: a bearer secret with a role of its own, optionally
/// expiring, revocable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: TokenId,
    pub name: TokenName,
    pub role: Role,
    pub token_hash: TokenHash,
    pub created_at: Micros,
    pub expires_at: Option<Micros>,
    pub revoked_at: Option<Micros>,
    /// When the token was last used, to within the resolution its user records it at.
    pub last_used_at: Option<Micros>,
}

impl ApiToken {
    /// Whether the token authenticates a request at `now`: neither revoked nor expired
    /// (a token expires at the instant `expires_at`).
    pub fn is_usable_at(&self, now: Micros) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|expiry| now < expiry)
    }
}

/// A token before the store gives it its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    pub name: TokenName,
    pub role: Role,
    pub token_hash: TokenHash,
    pub created_at: Micros,
    pub expires_at: Option<Micros>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_from_viewer_to_admin() {
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        assert_eq!(Role::parse(" Admin "), Ok(Role::Admin));
        assert!(Role::parse("root").is_err());
    }

    #[test]
    fn a_password_needs_twelve_characters_and_never_shows_in_debug() {
        assert!(Password::parse("short-pass1").is_err(), "11 characters");
        assert!(
            Password::parse("パスワードは十二文字以上").is_ok(),
            "12 characters"
        );
        assert!(Password::parse(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
        let password = Password::parse("correct horse battery").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    fn a_token_is_usable_until_its_expiry_or_its_revocation() {
        let token = ApiToken {
            id: TokenId::new(1),
            name: TokenName::parse("ci").unwrap(),
            role: Role::Operator,
            token_hash: TokenHash::parse(&"a".repeat(64)).unwrap(),
            created_at: 0,
            expires_at: Some(100),
            revoked_at: None,
            last_used_at: None,
        };
        assert!(token.is_usable_at(99));
        assert!(!token.is_usable_at(100));
        let forever = ApiToken {
            expires_at: None,
            ..token.clone()
        };
        assert!(forever.is_usable_at(i64::MAX));
        let revoked = ApiToken {
            revoked_at: Some(5),
            ..forever
        };
        assert!(!revoked.is_usable_at(1));
    }

    #[test]
    fn ids_names_and_hashes_are_checked_when_parsed() {
        assert_eq!(AccountId::parse("12").map(AccountId::get), Ok(12));
        assert!(AccountId::parse("0").is_err());
        assert!(TokenId::parse("x").is_err());
        assert!(TokenName::parse("  ").is_err());
        assert!(TokenName::parse("a\nb").is_err());
        assert!(TokenHash::parse(&"A".repeat(64)).is_err());
        assert!(TokenHash::parse("abc").is_err());
    }
}
