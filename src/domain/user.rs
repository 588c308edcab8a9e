//! Job seekers: who gets an email, and where they are when they say so.

use serde::{Deserialize, Serialize};

use super::ids::{CityCode, EmailAddress, PrefCode, UserId};
use super::time::Micros;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub user_id: UserId,
    pub email: EmailAddress,
    pub name: Option<String>,
    pub pref_cd: Option<PrefCode>,
    pub city_cd: Option<CityCode>,
    pub age_range: Option<String>,
    pub gender: Option<String>,
    pub is_active: bool,
    pub subscribed: bool,
    pub created_at: Option<Micros>,
    /// Columns of the input row that mailscore does not interpret, kept with the record.
    pub extra: Vec<(String, String)>,
    /// When and how the user agreed to receive the newsletter (Japan's specified-email
    /// act). Not part of the user's own stored form: the embedded store keeps it in a
    /// table of its own, so users stored before it existed read unchanged.
    #[serde(skip)]
    pub consent: Option<Consent>,
}

/// A consent record: `consented_at` and `consent_source` of `users.csv`, else the user's
/// `created_at` with the source [`Consent::DEFAULT_SOURCE`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub at: Micros,
    pub source: String,
}

impl Consent {
    /// The source of a consent taken from `created_at` or given without a source.
    pub const DEFAULT_SOURCE: &'static str = "registration";
}

/// Why an address gets no email (SPEC §5: unsubscribed, complained or hard-bounced; or an
/// operator's decision).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressionReason {
    Unsubscribed,
    Complained,
    HardBounce,
    Manual,
    /// `bounces.soft_limit` soft bounces within `bounces.soft_window_days`. Appended last:
    /// the stored form numbers the variants in order.
    SoftBounces,
}

impl SuppressionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unsubscribed => "unsubscribed",
            Self::Complained => "complained",
            Self::HardBounce => "hard_bounce",
            Self::Manual => "manual",
            Self::SoftBounces => "soft_bounces",
        }
    }
}

/// An address on the suppression list: whoever has it gets no picks and no email, whatever
/// the users file says, until the suppression is lifted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    pub address: EmailAddress,
    pub reason: SuppressionReason,
    pub created_at: Micros,
    pub note: Option<String>,
}
