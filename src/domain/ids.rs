//! Validated identifiers and values: a value of one of these types is valid by construction.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::value::{ValueError, non_null, parse_int};

/// A job's `job_id`: a positive integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JobId(u64);

impl JobId {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let text = non_null(raw).ok_or(ValueError::Invalid("job_id is missing"))?;
        let value = parse_int(text)?;
        u64::try_from(value)
            .ok()
            .filter(|v| *v > 0)
            .map(JobId)
            .ok_or(ValueError::OutOfRange("job_id must be a positive integer"))
    }

    pub fn new(value: u64) -> Self {
        JobId(value)
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A user's `user_id`: any non-empty string, compared trimmed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UserId(String);

impl UserId {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let text = non_null(raw).ok_or(ValueError::Invalid("user_id is missing"))?;
        Ok(UserId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A prefecture code (`pref_cd`), compared as an integer. Whether it names a known
/// prefecture is a question for the masters, not for this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PrefCode(u16);

impl PrefCode {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let value = parse_int(raw)?;
        u16::try_from(value)
            .ok()
            .filter(|v| *v > 0)
            .map(PrefCode)
            .ok_or(ValueError::OutOfRange("pref_cd must be a positive integer"))
    }

    pub fn new(value: u16) -> Self {
        PrefCode(value)
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

impl fmt::Display for PrefCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A municipality code (`city_cd`), compared as an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CityCode(u32);

impl CityCode {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let value = parse_int(raw)?;
        u32::try_from(value)
            .ok()
            .filter(|v| *v > 0)
            .map(CityCode)
            .ok_or(ValueError::OutOfRange("city_cd must be a positive integer"))
    }

    pub fn new(value: u32) -> Self {
        CityCode(value)
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for CityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The fee a client pays per application: whole yen, 0 to 5,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Fee(u16);

impl Fee {
    pub const MAX: u16 = 5000;

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let value = parse_int(raw)?;
        u16::try_from(value)
            .ok()
            .filter(|v| *v <= Self::MAX)
            .map(Fee)
            .ok_or(ValueError::OutOfRange("fee must be 0 to 5000 yen"))
    }

    pub fn new(value: u16) -> Option<Self> {
        (value <= Self::MAX).then_some(Fee(value))
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

/// An email address that a mail server would accept: `local@domain` with a dotted domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let text = raw.trim();
        if text.is_empty() || text == "NULL" {
            return Err(ValueError::Invalid("email is missing"));
        }
        let (local, domain) = text
            .rsplit_once('@')
            .ok_or(ValueError::Invalid("email has no @"))?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        if !local_ok {
            return Err(ValueError::Invalid(
                "email has an invalid part before the @",
            ));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = domain.len() <= 253
            && labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
        if !domain_ok {
            return Err(ValueError::Invalid("email has an invalid domain"));
        }
        Ok(EmailAddress(format!(
            "{local}@{}",
            domain.to_ascii_lowercase()
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_are_positive_integers() {
        assert_eq!(JobId::parse(" 1000001 ").unwrap().get(), 1_000_001);
        assert!(JobId::parse("ABC123").is_err());
        assert!(JobId::parse("").is_err());
        assert!(JobId::parse("0").is_err());
        assert!(JobId::parse("-5").is_err());
    }

    #[test]
    fn codes_compare_as_integers() {
        assert_eq!(
            PrefCode::parse("013").unwrap(),
            PrefCode::parse("13").unwrap()
        );
        assert_eq!(CityCode::parse("01101").unwrap().get(), 1101);
        assert!(PrefCode::parse("東京").is_err());
    }

    #[test]
    fn fee_is_bounded_to_five_thousand_yen() {
        assert_eq!(Fee::parse("5000").unwrap().get(), 5000);
        assert_eq!(Fee::parse("0").unwrap().get(), 0);
        assert!(Fee::parse("5001").is_err());
        assert!(Fee::parse("-1").is_err());
        assert!(Fee::parse("無料").is_err());
    }

    #[test]
    fn email_addresses_are_checked() {
        assert_eq!(
            EmailAddress::parse(" Naoki@Example.COM ").unwrap().as_str(),
            "Naoki@example.com"
        );
        for bad in [
            "",
            "not-an-email",
            "a@b",
            "a b@example.com",
            "@example.com",
            "a@.com",
            "a..b@example.com",
            "a@exa mple.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
        assert!(EmailAddress::parse("first.last+tag@mail.example.co.jp").is_ok());
    }

    #[test]
    fn user_ids_are_trimmed_strings() {
        assert_eq!(UserId::parse(" 42 ").unwrap().as_str(), "42");
        assert!(UserId::parse("NULL").is_err());
    }
}
