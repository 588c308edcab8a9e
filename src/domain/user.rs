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
}
