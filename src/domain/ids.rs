//! Validated identifiers and values: a value of one of these types is valid by construction.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::value::{ValueError, non_null, parse_int};

/// A job's `job_id`: a positive integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64")]
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
#[serde(try_from = "String")]
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
#[serde(try_from = "u16")]
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
#[serde(try_from = "u32")]
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
#[serde(try_from = "u16")]
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
#[serde(try_from = "String")]
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

impl PartialEq<str> for UserId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for UserId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

// Stored values are checked again when they are read, like input: a record read back never
// holds a value its type's `parse` would refuse.
impl TryFrom<u64> for JobId {
    type Error = ValueError;

    fn try_from(value: u64) -> Result<Self, Self::Error> {
        (value > 0)
            .then_some(JobId(value))
            .ok_or(ValueError::OutOfRange("job_id must be a positive integer"))
    }
}

impl TryFrom<String> for UserId {
    type Error = ValueError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        UserId::parse(&value)
    }
}

impl TryFrom<u16> for PrefCode {
    type Error = ValueError;

    fn try_from(value: u16) -> Result<Self, Self::Error> {
        (value > 0)
            .then_some(PrefCode(value))
            .ok_or(ValueError::OutOfRange("pref_cd must be a positive integer"))
    }
}

impl TryFrom<u32> for CityCode {
    type Error = ValueError;

    fn try_from(value: u32) -> Result<Self, Self::Error> {
        (value > 0)
            .then_some(CityCode(value))
            .ok_or(ValueError::OutOfRange("city_cd must be a positive integer"))
    }
}

impl TryFrom<u16> for Fee {
    type Error = ValueError;

    fn try_from(value: u16) -> Result<Self, Self::Error> {
        Fee::new(value).ok_or(ValueError::OutOfRange("fee must be 0 to 5000 yen"))
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = ValueError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        EmailAddress::parse(&value)
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

    #[test]
    fn stored_values_are_checked_when_read_back() {
        let job: JobId = serde_json::from_str("7").unwrap();
        assert_eq!(job.get(), 7);
        assert!(serde_json::from_str::<JobId>("0").is_err());
        assert!(serde_json::from_str::<UserId>("\"NULL\"").is_err());
        assert!(serde_json::from_str::<EmailAddress>("\"not-an-address\"").is_err());
        assert!(serde_json::from_str::<Fee>("5001").is_err());
        assert!(serde_json::from_str::<PrefCode>("0").is_err());
        let email = EmailAddress::parse("Naoki@Example.JP").unwrap();
        let again: EmailAddress =
            serde_json::from_str(&serde_json::to_string(&email).unwrap()).unwrap();
        assert_eq!(again, email, "a stored address reads back as itself");
    }
}
