//! [`AccountStore`] for the embedded store: the `accounts`, `account_emails`, `api_tokens`
//! and `api_token_hashes` tables (see the table list in `mod.rs`).

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable};

use super::{
    ACCOUNT_EMAILS, ACCOUNTS, API_TOKEN_HASHES, API_TOKENS, Context, META, RedbStore,
    from_postcard, read_u64, to_postcard, write_u64,
};
use crate::domain::EmailAddress;
use crate::domain::account::{
    Account, AccountId, ApiToken, NewAccount, NewApiToken, Role, TokenHash, TokenId,
};
use crate::domain::time::Micros;
use crate::store::{AccountStore, StoreError};

const KEY_NEXT_ACCOUNT_ID: &str = "next_account_id";
const KEY_NEXT_TOKEN_ID: &str = "next_token_id";

/// The address index's key: addresses are unique without regard to ASCII case.
fn email_key(email: &EmailAddress) -> String {
    email.as_str().to_ascii_lowercase()
}

fn insert_account(
    txn: &redb::WriteTransaction,
    account: NewAccount,
) -> Result<Account, StoreError> {
    let key = email_key(&account.email);
    let mut emails = txn
        .open_table(ACCOUNT_EMAILS)
        .ctx("opening account_emails")?;
    if emails
        .get(key.as_str())
        .ctx("reading the address index")?
        .is_some()
    {
        return Err(StoreError::AccountExists {
            email: account.email.to_string(),
        });
    }
    let mut meta = txn.open_table(META).ctx("opening meta")?;
    let id = read_u64(&meta, KEY_NEXT_ACCOUNT_ID)?.max(1);
    write_u64(&mut meta, KEY_NEXT_ACCOUNT_ID, id + 1)?;
    let stored = Account {
        id: AccountId::new(id),
        email: account.email,
        role: account.role,
        password_hash: account.password_hash,
        created_at: account.created_at,
        disabled: false,
    };
    emails
        .insert(key.as_str(), id)
        .ctx("writing the address index")?;
    txn.open_table(ACCOUNTS)
        .ctx("opening accounts")?
        .insert(id, to_postcard(&stored, "account")?.as_slice())
        .ctx("writing an account")?;
    Ok(stored)
}

fn read_accounts(
    table: &impl ReadableTable<u64, &'static [u8]>,
) -> Result<Vec<Account>, StoreError> {
    let mut found = Vec::new();
    for entry in table.iter().ctx("listing accounts")? {
        let (_, value) = entry.ctx("reading an account")?;
        found.push(from_postcard(value.value(), "account")?);
    }
    Ok(found)
}

/// Applies `change` to one account in one transaction, refusing it when it leaves no
/// enabled admin while there was one.
fn change_account(
    db: &Database,
    id: AccountId,
    change: impl FnOnce(&mut Account),
) -> Result<Option<Account>, StoreError> {
    let txn = db.begin_write().ctx("beginning an account change")?;
    let changed = {
        let mut table = txn.open_table(ACCOUNTS).ctx("opening accounts")?;
        let accounts = read_accounts(&table)?;
        let Some(mut account) = accounts.iter().find(|a| a.id == id).cloned() else {
            return Ok(None);
        };
        let was_admin = account.is_active_admin();
        change(&mut account);
        if was_admin && !account.is_active_admin() {
            let other_admins = accounts
                .iter()
                .filter(|a| a.id != id && a.is_active_admin())
                .count();
            if other_admins == 0 {
                return Err(StoreError::LastAdmin);
            }
        }
        table
            .insert(id.get(), to_postcard(&account, "account")?.as_slice())
            .ctx("writing an account")?;
        account
    };
    txn.commit().ctx("committing an account change")?;
    Ok(Some(changed))
}

fn read_token(
    table: &impl ReadableTable<u64, &'static [u8]>,
    id: TokenId,
) -> Result<Option<ApiToken>, StoreError> {
    table
        .get(id.get())
        .ctx("reading a token")?
        .map(|guard| from_postcard(guard.value(), "token"))
        .transpose()
}

/// Applies `change` to one token in one transaction; `change` says whether it changed.
fn change_token(
    db: &Database,
    id: TokenId,
    change: impl FnOnce(&mut ApiToken) -> bool,
) -> Result<Option<ApiToken>, StoreError> {
    let txn = db.begin_write().ctx("beginning a token change")?;
    let token = {
        let mut table = txn.open_table(API_TOKENS).ctx("opening api_tokens")?;
        let Some(mut token) = read_token(&table, id)? else {
            return Ok(None);
        };
        if !change(&mut token) {
            return Ok(Some(token));
        }
        table
            .insert(id.get(), to_postcard(&token, "token")?.as_slice())
            .ctx("writing a token")?;
        token
    };
    txn.commit().ctx("committing a token change")?;
    Ok(Some(token))
}

#[async_trait]
impl AccountStore for RedbStore {
    async fn create_account(&self, account: NewAccount) -> Result<Account, StoreError> {
        self.run("create_account", move |db| {
            let txn = db.begin_write().ctx("beginning an account creation")?;
            let account = insert_account(&txn, account)?;
            txn.commit().ctx("committing an account")?;
            Ok(account)
        })
        .await
    }

    async fn create_first_account(
        &self,
        account: NewAccount,
    ) -> Result<Option<Account>, StoreError> {
        self.run("create_first_account", move |db| {
            let txn = db.begin_write().ctx("beginning the first account")?;
            let any = txn
                .open_table(ACCOUNTS)
                .ctx("opening accounts")?
                .first()
                .ctx("reading the first account")?
                .is_some();
            if any {
                return Ok(None);
            }
            let account = insert_account(&txn, account)?;
            txn.commit().ctx("committing the first account")?;
            Ok(Some(account))
        })
        .await
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.run("accounts", |db| {
            let txn = db.begin_read().ctx("beginning a read")?;
            read_accounts(&txn.open_table(ACCOUNTS).ctx("opening accounts")?)
        })
        .await
    }

    async fn account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        self.run("account", move |db| {
            let txn = db.begin_read().ctx("beginning a read")?;
            let table = txn.open_table(ACCOUNTS).ctx("opening accounts")?;
            let found = table.get(id.get()).ctx("reading an account")?;
            found
                .map(|guard| from_postcard(guard.value(), "account"))
                .transpose()
        })
        .await
    }

    async fn account_by_email(&self, email: &EmailAddress) -> Result<Option<Account>, StoreError> {
        let key = email_key(email);
        self.run("account_by_email", move |db| {
            let txn = db.begin_read().ctx("beginning a read")?;
            let id = txn
                .open_table(ACCOUNT_EMAILS)
                .ctx("opening account_emails")?
                .get(key.as_str())
                .ctx("reading the address index")?
                .map(|guard| guard.value());
            let Some(id) = id else {
                return Ok(None);
            };
            let table = txn.open_table(ACCOUNTS).ctx("opening accounts")?;
            let found = table.get(id).ctx("reading an account")?;
            found
                .map(|guard| from_postcard(guard.value(), "account"))
                .transpose()
        })
        .await
    }

    async fn update_password(
        &self,
        id: AccountId,
        password_hash: String,
    ) -> Result<Option<Account>, StoreError> {
        self.run("update_password", move |db| {
            change_account(db, id, |account| account.password_hash = password_hash)
        })
        .await
    }

    async fn set_role(&self, id: AccountId, role: Role) -> Result<Option<Account>, StoreError> {
        self.run("set_role", move |db| {
            change_account(db, id, |account| account.role = role)
        })
        .await
    }

    async fn set_disabled(
        &self,
        id: AccountId,
        disabled: bool,
    ) -> Result<Option<Account>, StoreError> {
        self.run("set_disabled", move |db| {
            change_account(db, id, |account| account.disabled = disabled)
        })
        .await
    }

    async fn count_admins(&self) -> Result<u64, StoreError> {
        let accounts = self.accounts().await?;
        Ok(accounts.iter().filter(|a| a.is_active_admin()).count() as u64)
    }

    async fn create_token(&self, token: NewApiToken) -> Result<ApiToken, StoreError> {
        self.run("create_token", move |db| {
            let txn = db.begin_write().ctx("beginning a token creation")?;
            let stored = {
                let mut hashes = txn
                    .open_table(API_TOKEN_HASHES)
                    .ctx("opening api_token_hashes")?;
                if hashes
                    .get(token.token_hash.as_str())
                    .ctx("reading the token index")?
                    .is_some()
                {
                    return Err(StoreError::Decode {
                        what: "a new API token".to_owned(),
                        message: "its hash is stored already; create the token again".to_owned(),
                    });
                }
                let mut meta = txn.open_table(META).ctx("opening meta")?;
                let id = read_u64(&meta, KEY_NEXT_TOKEN_ID)?.max(1);
                write_u64(&mut meta, KEY_NEXT_TOKEN_ID, id + 1)?;
                let stored = ApiToken {
                    id: TokenId::new(id),
                    name: token.name,
                    role: token.role,
                    token_hash: token.token_hash,
                    created_at: token.created_at,
                    expires_at: token.expires_at,
                    revoked_at: None,
                    last_used_at: None,
                };
                hashes
                    .insert(stored.token_hash.as_str(), id)
                    .ctx("writing the token index")?;
                txn.open_table(API_TOKENS)
                    .ctx("opening api_tokens")?
                    .insert(id, to_postcard(&stored, "token")?.as_slice())
                    .ctx("writing a token")?;
                stored
            };
            txn.commit().ctx("committing a token")?;
            Ok(stored)
        })
        .await
    }

    async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        self.run("tokens", |db| {
            let txn = db.begin_read().ctx("beginning a read")?;
            let table = txn.open_table(API_TOKENS).ctx("opening api_tokens")?;
            let mut found = Vec::new();
            for entry in table.iter().ctx("listing tokens")? {
                let (_, value) = entry.ctx("reading a token")?;
                found.push(from_postcard(value.value(), "token")?);
            }
            Ok(found)
        })
        .await
    }

    async fn token_by_hash(&self, hash: &TokenHash) -> Result<Option<ApiToken>, StoreError> {
        let key = hash.as_str().to_owned();
        self.run("token_by_hash", move |db| {
            let txn = db.begin_read().ctx("beginning a read")?;
            let id = txn
                .open_table(API_TOKEN_HASHES)
                .ctx("opening api_token_hashes")?
                .get(key.as_str())
                .ctx("reading the token index")?
                .map(|guard| guard.value());
            match id {
                Some(id) => read_token(
                    &txn.open_table(API_TOKENS).ctx("opening api_tokens")?,
                    TokenId::new(id),
                ),
                None => Ok(None),
            }
        })
        .await
    }

    async fn revoke_token(&self, id: TokenId, at: Micros) -> Result<Option<ApiToken>, StoreError> {
        self.run("revoke_token", move |db| {
            change_token(db, id, |token| {
                let first = token.revoked_at.is_none();
                if first {
                    token.revoked_at = Some(at);
                }
                first
            })
        })
        .await
    }

    async fn record_token_use(&self, id: TokenId, at: Micros) -> Result<(), StoreError> {
        self.run("record_token_use", move |db| {
            change_token(db, id, |token| {
                let later = token.last_used_at.is_none_or(|last| last < at);
                if later {
                    token.last_used_at = Some(at);
                }
                later
            })
            .map(|_| ())
        })
        .await
    }
}
