//! Job seekers as an operator looks them up: a filtered page of users, and one user with
//! the state that decides whether they get an email.

use super::ServiceError;
use crate::domain::{Suppression, User, UserId};
use crate::store::Store;

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

/// One user and why they would or would not get an email.
#[derive(Debug, Clone, PartialEq)]
pub struct UserDetail {
    pub user: User,
    /// The address's entry on the suppression list, if any.
    pub suppression: Option<Suppression>,
}

impl UserDetail {
    /// Whether the daily run gives the user an email (SPEC §5: active, subscribed, not
    /// suppressed).
    pub fn is_emailed(&self) -> bool {
        self.user.is_active && self.user.subscribed && self.suppression.is_none()
    }
}

pub async fn show_user(store: &dyn Store, user_id: &UserId) -> Result<UserDetail, ServiceError> {
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
    Ok(UserDetail { user, suppression })
}
