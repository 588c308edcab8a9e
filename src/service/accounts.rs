//! Accounts and API tokens: signing in with a password, the first admin, account and token
//! management, and the login throttle. The rules live here (and the last-admin rule in the
//! store's transaction); the HTTP layer only parses and maps.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::cache::{LocalCache, LookupObserver};
use crate::credentials::{self, CredentialError};
use crate::domain::EmailAddress;
use crate::domain::account::{
    Account, AccountId, ApiToken, NewAccount, NewApiToken, Password, Role, TokenHash, TokenId,
    TokenName,
};
use crate::domain::time::Micros;
use crate::store::{Store, StoreError};

/// Failed logins that a client address, or an account, may have within
/// [`LOGIN_FAILURE_WINDOW`]; the next attempt is refused until the oldest one is that old.
pub const LOGIN_FAILURE_LIMIT: usize = 10;

/// The window of [`LOGIN_FAILURE_LIMIT`].
pub const LOGIN_FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// The most addresses and accounts the throttle remembers at once; past it, the ones whose
/// failures are all outside the window are forgotten, and then the oldest.
pub const LOGIN_THROTTLE_MAX_KEYS: usize = 100_000;

/// How often a token's `last_used_at` is written: a token used every second costs one
/// store write a minute, not one per request.
pub const TOKEN_USE_RESOLUTION: Duration = Duration::from_secs(60);

/// How often a server writes the token uses it noted ([`flush_token_uses`]). A request never
/// waits for that write: the store's one writer may be busy with a run's chunk for a while.
pub const TOKEN_USE_FLUSH_INTERVAL: Duration = Duration::from_secs(5);

/// The most password hashes computed at once. Each takes 19 MiB and tens of
/// milliseconds of a core: without a bound, a burst of logins (the throttle counts a
/// failure only once its hash is checked) could take gigabytes of memory.
pub const MAX_CONCURRENT_PASSWORD_HASHES: usize = 4;

static PASSWORD_HASHING: tokio::sync::Semaphore =
    tokio::sync::Semaphore::const_new(MAX_CONCURRENT_PASSWORD_HASHES);

/// How an account operation fails; `api/error.rs` gives each its status and code.
#[derive(Debug, Error)]
pub enum AccountError {
    /// A value of the request does not parse.
    #[error("{what}: {message}")]
    Invalid { what: &'static str, message: String },
    /// The address and password match no enabled account (which of the two is wrong is
    /// not said).
    #[error("the email address or the password is wrong")]
    InvalidCredentials,
    /// The password is right, but the account is disabled.
    #[error("the account is disabled")]
    AccountDisabled,
    #[error("too many failed logins; retry in {} s", retry_after.as_secs())]
    TooManyAttempts { retry_after: Duration },
    #[error("an account for {email} exists already")]
    AccountExists { email: String },
    #[error("the change would leave no enabled admin account")]
    LastAdmin,
    #[error("{explanation}")]
    NotFound { explanation: String },
    /// No setup is pending: an account exists, or this process's setup link was used.
    #[error("the first admin exists already")]
    SetupDone,
    #[error("the setup token is wrong")]
    SetupTokenInvalid,
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Credential(#[from] CredentialError),
    #[error("a password check did not finish: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl From<StoreError> for AccountError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::AccountExists { email } => Self::AccountExists { email },
            StoreError::LastAdmin => Self::LastAdmin,
            other => Self::Store(other),
        }
    }
}

fn invalid(what: &'static str, error: impl std::fmt::Display) -> AccountError {
    AccountError::Invalid {
        what,
        message: error.to_string(),
    }
}

/// Now, in µs since the epoch.
pub fn now() -> Micros {
    jiff::Timestamp::now().as_microsecond()
}

pub fn parse_email(text: &str) -> Result<EmailAddress, AccountError> {
    EmailAddress::parse(text).map_err(|e| invalid("email", e))
}

pub fn parse_password(text: &str) -> Result<Password, AccountError> {
    Password::parse(text).map_err(|e| invalid("password", e))
}

pub fn parse_account_id(text: &str) -> Result<AccountId, AccountError> {
    AccountId::parse(text).map_err(|e| invalid("account id", e))
}

pub fn parse_token_id(text: &str) -> Result<TokenId, AccountError> {
    TokenId::parse(text).map_err(|e| invalid("token id", e))
}

/// The argon2id hash of a password, computed on the blocking pool, at most
/// [`MAX_CONCURRENT_PASSWORD_HASHES`] at once.
async fn hash_off_runtime(password: Password) -> Result<String, AccountError> {
    let _permit = PASSWORD_HASHING
        .acquire()
        .await
        .expect("the semaphore is never closed");
    Ok(tokio::task::spawn_blocking(move || credentials::hash_password(&password)).await??)
}

/// Whether `password` matches `stored`, checked like [`hash_off_runtime`].
async fn verify_off_runtime(password: String, stored: String) -> Result<bool, AccountError> {
    let _permit = PASSWORD_HASHING
        .acquire()
        .await
        .expect("the semaphore is never closed");
    let matches =
        tokio::task::spawn_blocking(move || credentials::verify_password(&password, &stored))
            .await?;
    Ok(matches)
}

async fn new_account(email: &str, password: &str, role: Role) -> Result<NewAccount, AccountError> {
    let email = parse_email(email)?;
    let password = parse_password(password)?;
    Ok(NewAccount {
        email,
        role,
        password_hash: hash_off_runtime(password).await?,
        created_at: now(),
    })
}

/// The account whose address and password these are. A wrong password, an unknown address
/// and a malformed one are the same answer, in about the same time (an unknown address is
/// checked against a decoy hash); a disabled account is told only with its right password.
pub async fn authenticate_password(
    store: &dyn Store,
    email: &str,
    password: &str,
) -> Result<Account, AccountError> {
    let account = match EmailAddress::parse(email) {
        Ok(email) => store.account_by_email(&email).await?,
        Err(_) => None,
    };
    let stored = account.as_ref().map_or_else(
        || credentials::decoy_password_hash().to_owned(),
        |account| account.password_hash.clone(),
    );
    let matches = verify_off_runtime(password.to_owned(), stored).await?;
    match account {
        Some(account) if matches && account.disabled => Err(AccountError::AccountDisabled),
        Some(account) if matches => Ok(account),
        _ => Err(AccountError::InvalidCredentials),
    }
}

pub async fn create_account(
    store: &dyn Store,
    email: &str,
    password: &str,
    role: Role,
) -> Result<Account, AccountError> {
    let account = new_account(email, password, role).await?;
    Ok(store.create_account(account).await?)
}

pub async fn list_accounts(store: &dyn Store) -> Result<Vec<Account>, AccountError> {
    Ok(store.accounts().await?)
}

fn no_account(id: AccountId) -> AccountError {
    AccountError::NotFound {
        explanation: format!("no account {id} is stored"),
    }
}

pub async fn get_account(store: &dyn Store, id: AccountId) -> Result<Account, AccountError> {
    store.account(id).await?.ok_or_else(|| no_account(id))
}

/// What an admin changes about an account; `None` leaves it as it is.
#[derive(Debug, Default)]
pub struct AccountChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    pub password: Option<String>,
}

/// Applies `change`: every value is checked first, then the role, the disabled flag and
/// the password in that order, so that a change the last-admin rule refuses changes
/// nothing.
pub async fn change_account(
    store: &dyn Store,
    id: AccountId,
    change: AccountChange,
) -> Result<Account, AccountError> {
    let password = change.password.as_deref().map(parse_password).transpose()?;
    let mut account = get_account(store, id).await?;
    if let Some(role) = change.role {
        account = store
            .set_role(id, role)
            .await?
            .ok_or_else(|| no_account(id))?;
    }
    if let Some(disabled) = change.disabled {
        account = store
            .set_disabled(id, disabled)
            .await?
            .ok_or_else(|| no_account(id))?;
    }
    if let Some(password) = password {
        let hash = hash_off_runtime(password).await?;
        account = store
            .update_password(id, hash)
            .await?
            .ok_or_else(|| no_account(id))?;
    }
    Ok(account)
}

/// A token as created: the record, and its secret, which is shown this once.
#[derive(Debug)]
pub struct CreatedToken {
    pub token: ApiToken,
    pub secret: String,
}

/// The name of the admin token `serve` makes for the command line on its machine
/// (`DATA_DIR/server.token`, see `service::local_server`): reserved, so that replacing it
/// at the next start revokes that token and no other.
pub const LOCAL_TOKEN_NAME: &str = "mailscore serve: the command line on this machine";

/// Creates an API token with `role`, expiring at `expires_at` (µs) when given, which must
/// be in the future. [`LOCAL_TOKEN_NAME`] is not a name it takes.
pub async fn create_token(
    store: &dyn Store,
    name: &str,
    role: Role,
    expires_at: Option<Micros>,
) -> Result<CreatedToken, AccountError> {
    let name = TokenName::parse(name).map_err(|e| invalid("name", e))?;
    if name.as_str() == LOCAL_TOKEN_NAME {
        return Err(invalid(
            "name",
            "this name is reserved for the token serve makes for the command line",
        ));
    }
    insert_token(store, name, role, expires_at).await
}

/// Revokes every usable token named [`LOCAL_TOKEN_NAME`] (the last server's, which a kill
/// left usable) and creates a new admin one: the token of a server that is starting.
pub async fn replace_local_token(store: &dyn Store) -> Result<CreatedToken, AccountError> {
    let at = now();
    for token in store.tokens().await? {
        if token.name.as_str() == LOCAL_TOKEN_NAME && token.revoked_at.is_none() {
            store.revoke_token(token.id, at).await?;
        }
    }
    let name = TokenName::parse(LOCAL_TOKEN_NAME).map_err(|e| invalid("name", e))?;
    insert_token(store, name, Role::Admin, None).await
}

async fn insert_token(
    store: &dyn Store,
    name: TokenName,
    role: Role,
    expires_at: Option<Micros>,
) -> Result<CreatedToken, AccountError> {
    let created_at = now();
    if let Some(expiry) = expires_at
        && expiry <= created_at
    {
        return Err(invalid(
            "expires_at",
            "the expiry is not in the future; leave it out for a token that does not expire",
        ));
    }
    let (secret, token_hash) = credentials::new_api_token();
    let token = store
        .create_token(NewApiToken {
            name,
            role,
            token_hash,
            created_at,
            expires_at,
        })
        .await?;
    Ok(CreatedToken { token, secret })
}

pub async fn list_tokens(store: &dyn Store) -> Result<Vec<ApiToken>, AccountError> {
    Ok(store.tokens().await?)
}

/// Revokes the token `id`; from this moment on it authenticates nothing (`tokens` forgets
/// it too).
pub async fn revoke_token(
    store: &dyn Store,
    tokens: &TokenCache,
    id: TokenId,
) -> Result<ApiToken, AccountError> {
    let token = store
        .revoke_token(id, now())
        .await?
        .ok_or_else(|| AccountError::NotFound {
            explanation: format!("no token {id} is stored"),
        })?;
    tokens.forget(&token.token_hash);
    Ok(token)
}

/// How long a looked-up token is trusted without reading the store again. A revocation by
/// this process takes effect at once ([`revoke_token`]); an expiry is checked on every use.
pub const TOKEN_CACHE_TTL: Duration = TOKEN_USE_RESOLUTION;

/// The tokens a server looked up recently, by hash, so that a request seldom reads the
/// store to authenticate.
#[derive(Debug, Clone)]
pub struct TokenCache {
    entries: LocalCache<TokenHash, ApiToken>,
    /// Counts revocations. A token read from the store is kept only if no revocation came
    /// between the read and the keeping (both under this lock), so that a read which
    /// raced with a revocation cannot bring the revoked token back.
    revocations: Arc<Mutex<u64>>,
    /// Uses noted and not yet written, the latest of each token.
    uses: Arc<Mutex<HashMap<TokenId, Micros>>>,
}

impl TokenCache {
    /// At most `capacity` tokens; `observe` is told of every lookup.
    pub fn new(capacity: u64, observe: LookupObserver) -> Self {
        Self {
            entries: LocalCache::new("tokens", capacity, TOKEN_CACHE_TTL, observe),
            revocations: Arc::default(),
            uses: Arc::default(),
        }
    }

    fn uses(&self) -> std::sync::MutexGuard<'_, HashMap<TokenId, Micros>> {
        self.uses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn note_use(&self, id: TokenId, at: Micros) {
        let mut uses = self.uses();
        let latest = uses.entry(id).or_insert(at);
        *latest = (*latest).max(at);
    }

    fn revocations(&self) -> std::sync::MutexGuard<'_, u64> {
        self.revocations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn keep(&self, hash: TokenHash, token: ApiToken, revocations_before: u64) {
        let revocations = self.revocations();
        if *revocations == revocations_before {
            self.entries.insert(hash, token);
        }
    }

    fn forget(&self, hash: &TokenHash) {
        let mut revocations = self.revocations();
        *revocations += 1;
        self.entries.remove(hash);
    }
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::new(10_000, crate::cache::no_observer)
    }
}

/// The token a bearer secret names, when it is usable now; its use is noted at most once
/// per [`TOKEN_USE_RESOLUTION`], for [`flush_token_uses`] to write. `None` for anything else: not of the token form,
/// unknown, revoked or expired.
pub async fn authenticate_token(
    store: &dyn Store,
    tokens: &TokenCache,
    secret: &str,
) -> Result<Option<ApiToken>, AccountError> {
    let Some(hash) = credentials::api_token_hash(secret) else {
        return Ok(None);
    };
    let revocations_before = *tokens.revocations();
    let mut token = match tokens.entries.get(&hash) {
        Some(token) => token,
        None => match store.token_by_hash(&hash).await? {
            Some(token) => token,
            None => return Ok(None),
        },
    };
    // The lookup is by hash; comparing again in constant time keeps a store that matched
    // loosely (a prefix, a case-folding index) from ever letting a wrong secret in.
    let at = now();
    if !credentials::same_secret(token.token_hash.as_str(), hash.as_str())
        || !token.is_usable_at(at)
    {
        return Ok(None);
    }
    let resolution = TOKEN_USE_RESOLUTION.as_micros() as Micros;
    if token
        .last_used_at
        .is_none_or(|last| at.saturating_sub(last) >= resolution)
    {
        tokens.note_use(token.id, at);
        token.last_used_at = Some(at);
    }
    tokens.keep(hash, token.clone(), revocations_before);
    Ok(Some(token))
}

/// Writes the token uses [`authenticate_token`] noted since the last call; returns how many
/// were written. A use that could not be written is kept for the next call, unless a later
/// one of its token was noted meanwhile.
pub async fn flush_token_uses(
    store: &dyn Store,
    tokens: &TokenCache,
) -> Result<usize, AccountError> {
    let pending: Vec<(TokenId, Micros)> = tokens.uses().drain().collect();
    let mut written = 0;
    let mut pending = pending.into_iter();
    while let Some((id, at)) = pending.next() {
        if let Err(error) = store.record_token_use(id, at).await {
            tokens.note_use(id, at);
            for (id, at) in pending {
                tokens.note_use(id, at);
            }
            return Err(error.into());
        }
        written += 1;
    }
    Ok(written)
}

/// The first admin's credentials, from `MAILSCORE_ADMIN_EMAIL` and
/// `MAILSCORE_ADMIN_PASSWORD`. `Debug` never shows the password.
#[derive(Clone)]
pub struct FirstAdmin {
    pub email: String,
    pub password: String,
}

impl std::fmt::Debug for FirstAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirstAdmin")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// How a server start found the accounts.
#[derive(Debug)]
pub enum Bootstrap {
    /// Accounts exist: nothing to do (the first-admin settings, if any, are not used).
    AccountsExist,
    /// The first admin was created from the settings.
    Created(Account),
    /// No account exists and none is configured: the first admin comes through the
    /// one-time setup token.
    SetupRequired(SetupToken),
}

/// Makes sure the server can be administered: when no account exists, creates the first
/// admin from `first_admin`, or else returns a new one-time setup token.
pub async fn bootstrap(
    store: &dyn Store,
    first_admin: Option<&FirstAdmin>,
) -> Result<Bootstrap, AccountError> {
    if !store.accounts().await?.is_empty() {
        return Ok(Bootstrap::AccountsExist);
    }
    let Some(first_admin) = first_admin else {
        return Ok(Bootstrap::SetupRequired(SetupToken::new()));
    };
    let account = new_account(&first_admin.email, &first_admin.password, Role::Admin).await?;
    Ok(match store.create_first_account(account).await? {
        Some(account) => Bootstrap::Created(account),
        None => Bootstrap::AccountsExist,
    })
}

/// The one-time secret that lets the first admin be created over the API: it lives in this
/// process only, and dies when it is used (or when any account exists).
#[derive(Debug)]
pub struct SetupToken {
    secret: Mutex<Option<String>>,
}

impl SetupToken {
    pub fn new() -> Self {
        Self {
            secret: Mutex::new(Some(credentials::new_secret())),
        }
    }

    /// A token that is already used: no setup is possible.
    pub fn used() -> Self {
        Self {
            secret: Mutex::new(None),
        }
    }

    /// The secret while the setup is pending, to show the operator.
    pub fn pending(&self) -> Option<String> {
        self.secret
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn is(&self, presented: &str) -> bool {
        self.pending()
            .is_some_and(|secret| credentials::same_secret(&secret, presented))
    }

    fn kill(&self) {
        *self
            .secret
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

impl Default for SetupToken {
    fn default() -> Self {
        Self::new()
    }
}

/// Creates the first admin with the setup token, once: afterwards (or once any account
/// exists) the token is dead.
pub async fn complete_setup(
    store: &dyn Store,
    setup: &SetupToken,
    token: &str,
    email: &str,
    password: &str,
) -> Result<Account, AccountError> {
    if setup.pending().is_none() {
        return Err(AccountError::SetupDone);
    }
    if !setup.is(token) {
        return Err(AccountError::SetupTokenInvalid);
    }
    let account = new_account(email, password, Role::Admin).await?;
    let created = store.create_first_account(account).await?;
    setup.kill();
    created.ok_or(AccountError::SetupDone)
}

/// Failed logins per client address and per account, in this process's memory: a
/// restart forgets them, and replicas count apart (each allows the limit).
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginThrottle {
    /// `Err(retry_after)` when any of `keys` had [`LOGIN_FAILURE_LIMIT`] failures within
    /// the window before `now`.
    pub fn check(&self, keys: &[String], now: Instant) -> Result<(), Duration> {
        let failures = self.lock();
        let wait = keys
            .iter()
            .filter_map(|key| failures.get(key))
            .filter_map(|times| {
                let recent: Vec<&Instant> = times
                    .iter()
                    .filter(|at| now.duration_since(**at) < LOGIN_FAILURE_WINDOW)
                    .collect();
                (recent.len() >= LOGIN_FAILURE_LIMIT).then(|| {
                    let oldest = recent[recent.len() - LOGIN_FAILURE_LIMIT];
                    LOGIN_FAILURE_WINDOW.saturating_sub(now.duration_since(*oldest))
                })
            })
            .max();
        match wait {
            Some(wait) => Err(wait.max(Duration::from_secs(1))),
            None => Ok(()),
        }
    }

    /// Counts a failed login against each of `keys`.
    pub fn record_failure(&self, keys: &[String], now: Instant) {
        let mut failures = self.lock();
        if failures.len() + keys.len() > LOGIN_THROTTLE_MAX_KEYS {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|last| now.duration_since(*last) < LOGIN_FAILURE_WINDOW)
            });
            while failures.len() + keys.len() > LOGIN_THROTTLE_MAX_KEYS {
                let oldest = failures
                    .iter()
                    .min_by_key(|(_, times)| times.back().copied())
                    .map(|(key, _)| key.clone());
                match oldest {
                    Some(key) => failures.remove(&key),
                    None => break,
                };
            }
        }
        for key in keys {
            let times = failures.entry(key.clone()).or_default();
            times.push_back(now);
            while times.len() > LOGIN_FAILURE_LIMIT {
                times.pop_front();
            }
        }
    }

    /// Forgets the failures of `key` (an account that signed in).
    pub fn clear(&self, key: &str) {
        self.lock().remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The throttle's keys of a login attempt: its client address and the address it names
/// (lower-cased, so `A@x.jp` and `a@x.jp` share their count).
pub fn throttle_keys(client: Option<&str>, email: &str) -> Vec<String> {
    let mut keys = vec![format!("account:{}", email.trim().to_ascii_lowercase())];
    if let Some(client) = client {
        keys.push(format!("address:{client}"));
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eleventh_failure_within_the_window_is_refused_until_the_oldest_ages_out() {
        let throttle = LoginThrottle::default();
        let keys = throttle_keys(Some("127.0.0.1"), "A@example.jp");
        let start = Instant::now();
        for i in 0..LOGIN_FAILURE_LIMIT {
            assert_eq!(throttle.check(&keys, start), Ok(()), "attempt {i}");
            throttle.record_failure(&keys, start + Duration::from_secs(i as u64));
        }
        let later = start + Duration::from_secs(60);
        let wait = throttle.check(&keys, later).unwrap_err();
        assert_eq!(wait, LOGIN_FAILURE_WINDOW - Duration::from_secs(60));
        // The same account from another address is refused too; another account from
        // the same address as well.
        assert!(
            throttle
                .check(&throttle_keys(Some("10.0.0.9"), "a@example.jp"), later)
                .is_err()
        );
        assert!(
            throttle
                .check(&throttle_keys(Some("127.0.0.1"), "b@example.jp"), later)
                .is_err()
        );
        assert_eq!(
            throttle.check(&throttle_keys(Some("10.0.0.9"), "b@example.jp"), later),
            Ok(())
        );
        assert_eq!(
            throttle.check(&keys, start + LOGIN_FAILURE_WINDOW + Duration::from_secs(1)),
            Ok(()),
            "the oldest failure left the window"
        );
        throttle.clear(&keys[0]);
        throttle.clear(&keys[1]);
        assert_eq!(throttle.check(&keys, later), Ok(()));
    }

    #[test]
    fn a_setup_token_matches_once_and_never_after_it_is_killed() {
        let setup = SetupToken::new();
        let secret = setup.pending().unwrap();
        assert!(setup.is(&secret));
        assert!(!setup.is("wrong"));
        setup.kill();
        assert!(!setup.is(&secret));
        assert!(SetupToken::used().pending().is_none());
        assert!(
            !format!(
                "{:?}",
                FirstAdmin {
                    email: "a@example.jp".into(),
                    password: "hunter2hunter2".into()
                }
            )
            .contains("hunter2")
        );
    }
}
