//! Job seekers as an operator looks them up: a filtered page of users, and one user with
//! the state that decides whether they get an email, the profile and location the daily
//! run infers from their history, their applications and what else they did.

use jiff::civil::Date;

use super::ServiceError;
use crate::domain::action::ActionDay;
use crate::domain::time::Micros;
use crate::domain::{ActionSource, ActionType, Suppression, TimeZoneSetting, User, UserId};
use crate::pipeline::compute::{actions_of_user, profile_of_user};
use crate::scoring::profile::{Counts, Geography, UserProfile};
use crate::scoring::{DayWindows, ScoringConfig};
use crate::store::Store;

/// How many values of each of a profile's frequency maps a user's detail shows, most
/// applied first.
pub const MAX_PROFILE_VALUES: usize = 10;

/// The most applications and recent actions one user's detail lists (each).
pub const MAX_USER_ACTIONS: usize = 1000;

/// One page of users.
#[derive(Debug, Clone, PartialEq)]
pub struct UserPage {
    /// In user id order.
    pub users: Vec<User>,
    /// How many users match the filter, on every page.
    pub total: usize,
}

/// Which users a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// A part of the user id, the address or the name (ASCII case ignored).
    pub search: Option<String>,
    /// Only active (or only inactive) users.
    pub active: Option<bool>,
    /// Only subscribed (or only unsubscribed) users.
    pub subscribed: Option<bool>,
}

impl UserFilter {
    /// Whether the filter keeps `user`; `search` is the filter's search, lowercased once.
    fn keeps(&self, user: &User, search: Option<&str>) -> bool {
        let found = search.is_none_or(|needle| {
            user.user_id.as_str().to_lowercase().contains(needle)
                || user.email.as_str().to_lowercase().contains(needle)
                || user
                    .name
                    .as_deref()
                    .is_some_and(|name| name.to_lowercase().contains(needle))
        });
        found
            && self.active.is_none_or(|active| user.is_active == active)
            && self
                .subscribed
                .is_none_or(|subscribed| user.subscribed == subscribed)
    }
}

/// The users `filter` keeps, `limit` of them from `offset` on, in user id order.
pub async fn list_users(
    store: &dyn Store,
    filter: &UserFilter,
    offset: usize,
    limit: usize,
) -> Result<UserPage, ServiceError> {
    let search = filter.search.as_deref().map(str::to_lowercase);
    let matching: Vec<User> = store
        .users()
        .await?
        .into_iter()
        .filter(|user| filter.keeps(user, search.as_deref()))
        .collect();
    let total = matching.len();
    let users = matching.into_iter().skip(offset).take(limit).collect();
    Ok(UserPage { users, total })
}

/// One user and why they would or would not get an email, with what their history says.
#[derive(Debug, Clone, PartialEq)]
pub struct UserDetail {
    pub user: User,
    /// The address's entry on the suppression list, if any.
    pub suppression: Option<Suppression>,
    /// The date the profile and location are of (their window is the days before it).
    pub date: Date,
    pub location: LocationDetail,
    pub profile: ProfileSummary,
    /// Every stored action of the user, by type.
    pub actions_by_type: Vec<(ActionType, u64)>,
    /// How many `applied` actions are stored; `applications` lists the latest.
    pub n_applications: u64,
    /// The latest `applied` actions, newest first, at most the limit asked.
    pub applications: Vec<UserAction>,
    /// The latest actions of any type, newest first, at most the limit asked.
    pub recent_actions: Vec<UserAction>,
    /// Days of actions that could not be read (left out, as the daily run leaves them).
    pub unreadable_days: Vec<String>,
}

impl UserDetail {
    /// Whether the daily run gives the user an email (SPEC §5: active, subscribed, not
    /// suppressed).
    pub fn is_emailed(&self) -> bool {
        self.user.is_active && self.user.subscribed && self.suppression.is_none()
    }
}

/// Where the daily run of the date places the user (SPEC §3.4), with the masters' names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocationDetail {
    pub pref_cd: Option<u16>,
    pub pref_name: Option<String>,
    pub city_cd: Option<u32>,
    pub city_name: Option<String>,
    pub region: Option<String>,
    pub source: LocationSource,
}

/// Where a user's location comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LocationSource {
    /// The `city_cd` the user gave (its prefecture from the city master).
    GivenCity,
    /// The `pref_cd` the user gave; the city is unknown.
    GivenPrefecture,
    /// Inferred: the most-applied city of the history window and its prefecture.
    Applications,
    /// Neither given nor inferable: every place weighs the same for the user.
    #[default]
    Unknown,
}

impl LocationSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GivenCity => "given_city",
            Self::GivenPrefecture => "given_prefecture",
            Self::Applications => "applications",
            Self::Unknown => "unknown",
        }
    }
}

/// What the applications of the history window say about the user (SPEC §3.4): each
/// frequency map's most applied values (at most [`MAX_PROFILE_VALUES`]), count first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileSummary {
    /// `applied` actions in the window.
    pub n_applications: u32,
    pub prefectures: Vec<(String, u32)>,
    pub cities: Vec<(String, u32)>,
    pub occupations: Vec<(String, u32)>,
    pub employment_types: Vec<(String, u32)>,
    /// Company codes (`endcl_cd`).
    pub companies: Vec<(String, u32)>,
    /// The mean hourly equivalent of the applications with a wage.
    pub mean_hourly_wage: Option<f64>,
}

/// One stored action of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAction {
    pub job_id: u64,
    pub action_type: Option<ActionType>,
    pub action_at: Micros,
    pub source: Option<ActionSource>,
    pub section: Option<String>,
}

/// What a user's detail is computed with.
#[derive(Debug, Clone)]
pub struct UserDetailOptions {
    /// The profile's date (its window is the days before); `None`: today in the zone, the
    /// date of the next daily run.
    pub date: Option<Date>,
    pub time_zone: TimeZoneSetting,
    pub scoring: ScoringConfig,
    /// How many applications and recent actions to list (each), at most
    /// [`MAX_USER_ACTIONS`].
    pub limit: usize,
}

/// One user with their suppression entry, the profile and location the daily run of
/// `options.date` infers (the pipeline's own functions over the user's actions), their
/// stored actions by type and the latest applications and actions. Reads every stored day
/// of actions once: the store keeps them by day, not by user.
pub async fn show_user(
    store: &dyn Store,
    user_id: &UserId,
    options: &UserDetailOptions,
) -> Result<UserDetail, ServiceError> {
    let user = store
        .user(user_id)
        .await?
        .ok_or_else(|| ServiceError::NotFound {
            explanation: format!(
                "no user {user_id} is stored (`mailscore import users FILE` stores them)"
            ),
        })?;
    let suppression = store
        .suppressions()
        .await?
        .into_iter()
        .find(|s| s.address.as_str().eq_ignore_ascii_case(user.email.as_str()));
    let masters = store.masters().await?;
    let jobs = store.job_columns().await?;
    let days = store.action_days(i64::MIN / 2, i64::MAX / 2).await?;
    let options = options.clone();
    let date = options
        .date
        .unwrap_or_else(|| super::runs::today(options.time_zone.zone()));
    let limit = options.limit.min(MAX_USER_ACTIONS);
    tokio::task::spawn_blocking(move || {
        let (own_days, unreadable_days) = actions_of_user(&days, user.user_id.as_str());
        drop(days);
        let windows = DayWindows::new(date, &options.time_zone, &options.scoring);
        let (profile, stats, geography) =
            profile_of_user(&user, &own_days, &jobs, &masters, windows, &options.scoring);
        let history = summarise_actions(&own_days, limit);
        UserDetail {
            location: location_detail(&user, &profile, &geography),
            profile: profile_summary(&profile, &stats.companies.names),
            suppression,
            date,
            actions_by_type: history.by_type,
            n_applications: history.n_applications,
            applications: history.applications,
            recent_actions: history.recent,
            unreadable_days,
            user,
        }
    })
    .await
    .map_err(ServiceError::from)
}

fn location_detail(user: &User, profile: &UserProfile, geography: &Geography) -> LocationDetail {
    let location = profile.location;
    let source = if user.city_cd.is_some() {
        LocationSource::GivenCity
    } else if user.pref_cd.is_some() {
        LocationSource::GivenPrefecture
    } else if location.inferred {
        LocationSource::Applications
    } else {
        LocationSource::Unknown
    };
    LocationDetail {
        pref_cd: location.pref_cd,
        pref_name: location
            .pref_cd
            .and_then(|p| geography.pref_names.get(&p).cloned()),
        city_cd: location.city_cd,
        city_name: location
            .city_cd
            .and_then(|c| geography.city_names.get(&c).cloned()),
        region: location
            .pref_cd
            .and_then(|p| geography.region_of(p))
            .and_then(|r| geography.region_names.get(r as usize).cloned()),
        source,
    }
}

/// A frequency map's most frequent values (ties: the smaller code), at most
/// [`MAX_PROFILE_VALUES`].
fn top<T: Copy + Ord>(counts: &Counts<T>, name: impl Fn(T) -> String) -> Vec<(String, u32)> {
    let mut sorted = counts.clone();
    sorted.sort_by(|(a, n_a), (b, n_b)| n_b.cmp(n_a).then(a.cmp(b)));
    sorted
        .into_iter()
        .take(MAX_PROFILE_VALUES)
        .map(|(value, n)| (name(value), n))
        .collect()
}

fn profile_summary(profile: &UserProfile, companies: &[String]) -> ProfileSummary {
    let code = |value: u32| value.to_string();
    ProfileSummary {
        n_applications: profile.n_applications,
        prefectures: top(&profile.prefectures, |p: u16| p.to_string()),
        cities: top(&profile.cities, code),
        occupations: top(&profile.occupations, code),
        employment_types: top(&profile.employment_types, |e: u16| e.to_string()),
        companies: top(&profile.companies, |c: u32| {
            companies.get(c as usize).cloned().unwrap_or_default()
        }),
        mean_hourly_wage: profile.mean_wage,
    }
}

/// A user's stored actions, counted and the latest listed.
struct ActionHistory {
    by_type: Vec<(ActionType, u64)>,
    n_applications: u64,
    applications: Vec<UserAction>,
    recent: Vec<UserAction>,
}

/// Counts the user's actions by type and lists the latest `limit` applications and actions
/// (newest first: the days are in day order and each day in identity order, whose first
/// key is the instant).
fn summarise_actions(own_days: &[Box<dyn ActionDay>], limit: usize) -> ActionHistory {
    let mut by_type: Vec<(ActionType, u64)> = ActionType::ALL.iter().map(|&t| (t, 0)).collect();
    let mut applications = Vec::new();
    let mut recent = Vec::new();
    for day in own_days.iter().rev() {
        let Ok(columns) = day.columns() else {
            continue;
        };
        for row in (0..columns.len()).rev() {
            let action = columns.row(row);
            if let Some(kind) = action.action_type
                && let Some(entry) = by_type.iter_mut().find(|(t, _)| *t == kind)
            {
                entry.1 += 1;
            }
            let listed = || UserAction {
                job_id: action.job_id,
                action_type: action.action_type,
                action_at: action.action_at,
                source: action.source,
                section: action.section.map(str::to_owned),
            };
            if recent.len() < limit {
                recent.push(listed());
            }
            if action.action_type == Some(ActionType::Applied) && applications.len() < limit {
                applications.push(listed());
            }
        }
    }
    let n_applications = by_type
        .iter()
        .find(|(t, _)| *t == ActionType::Applied)
        .map_or(0, |(_, n)| *n);
    ActionHistory {
        by_type,
        n_applications,
        applications,
        recent,
    }
}
