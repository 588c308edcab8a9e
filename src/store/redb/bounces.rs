//! [`BounceStore`] for the embedded store: the `bounces`, `bounce_source_ids` and
//! `soft_bounces` tables (see the table list in `mod.rs`).

use std::collections::HashSet;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable};

use super::{
    BOUNCE_SOURCE_IDS, BOUNCES, Context, EMAILS, META, RedbStore, SOFT_BOUNCES, SUPPRESSIONS,
    date_key, from_postcard, mark_emails_suppressed, read_u64, to_postcard, write_u64,
};
use crate::domain::Suppression;
use crate::domain::batch::QueuedEmail;
use crate::domain::bounce::{
    BounceEvent, BounceKind, SoftBounceRule, StoredBounce, email_of_message_id, suppression_for,
};
use crate::domain::time::Micros;
use crate::store::{BounceBatch, BounceFilter, BounceStore, StoreError};

const KEY_NEXT_BOUNCE_ID: &str = "next_bounce_id";

fn to_json(bounce: &StoredBounce) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(bounce).map_err(|error| StoreError::Decode {
        what: format!("bounce {}", bounce.id),
        message: error.to_string(),
    })
}

fn from_json(id: u64, bytes: &[u8]) -> Result<StoredBounce, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Decode {
        what: format!("bounce {id}"),
        message: error.to_string(),
    })
}

fn record_bounces(
    db: &Database,
    events: Vec<BounceEvent>,
    rule: SoftBounceRule,
    received_at: Micros,
) -> Result<BounceBatch, StoreError> {
    let txn = db.begin_write().ctx("beginning a bounce batch")?;
    let mut batch = BounceBatch::default();
    let mut newly_suppressed = HashSet::new();
    {
        let mut meta = txn.open_table(META).ctx("opening meta")?;
        let mut next_id = read_u64(&meta, KEY_NEXT_BOUNCE_ID)?.max(1);
        let mut bounces = txn.open_table(BOUNCES).ctx("opening bounces")?;
        let mut source_ids = txn
            .open_table(BOUNCE_SOURCE_IDS)
            .ctx("opening bounce_source_ids")?;
        let mut soft = txn.open_table(SOFT_BOUNCES).ctx("opening soft_bounces")?;
        let mut suppressions = txn.open_table(SUPPRESSIONS).ctx("opening suppressions")?;
        let emails = txn.open_table(EMAILS).ctx("opening emails")?;
        for event in events {
            let source_key = event
                .source_id
                .as_ref()
                .map(|id| format!("{}/{id}", event.source.as_str()));
            if let Some(key) = &source_key
                && source_ids
                    .get(key.as_str())
                    .ctx("reading a bounce's source id")?
                    .is_some()
            {
                batch.duplicates += 1;
                continue;
            }
            let id = next_id;
            next_id += 1;
            let address = event.address.as_str().to_ascii_lowercase();
            let email = match event.message_id.as_deref().and_then(email_of_message_id) {
                Some(named) => {
                    let stored = emails
                        .get((date_key(named.date), named.user_id.as_str()))
                        .ctx("reading an email")?
                        .map(|guard| from_postcard::<QueuedEmail>(guard.value(), "email"))
                        .transpose()?;
                    stored
                        .is_some_and(|email| email.to.as_str().eq_ignore_ascii_case(&address))
                        .then_some(named)
                }
                None => None,
            };
            let soft_in_window = if event.kind == BounceKind::SoftBounce {
                soft.insert((address.as_str(), event.occurred_at, id), ())
                    .ctx("writing a soft bounce")?;
                let from = rule.window_start(event.occurred_at);
                soft.range(
                    (address.as_str(), from, 0)..=(address.as_str(), event.occurred_at, u64::MAX),
                )
                .ctx("counting soft bounces")?
                .count() as u32
            } else {
                0
            };
            let mut suppressed = None;
            if let Some(reason) = suppression_for(event.kind, soft_in_window, rule) {
                let listed = suppressions
                    .get(address.as_str())
                    .ctx("reading a suppression")?
                    .is_some();
                if !listed {
                    let note = format!(
                        "{} {}{}",
                        event.source.as_str(),
                        event.kind.as_str(),
                        event
                            .reason
                            .as_deref()
                            .map(|reason| format!(": {reason}"))
                            .unwrap_or_default()
                    );
                    let suppression = Suppression {
                        address: event.address.clone(),
                        reason,
                        created_at: received_at,
                        note: Some(note.chars().take(300).collect()),
                    };
                    suppressions
                        .insert(
                            address.as_str(),
                            to_postcard(&suppression, "suppression")?.as_slice(),
                        )
                        .ctx("writing a suppression")?;
                    newly_suppressed.insert(address.clone());
                    suppressed = Some(reason);
                }
            }
            let stored = StoredBounce {
                id,
                event,
                email,
                received_at,
                suppressed,
            };
            bounces
                .insert(id, to_json(&stored)?.as_slice())
                .ctx("writing a bounce")?;
            if let Some(key) = &source_key {
                source_ids
                    .insert(key.as_str(), id)
                    .ctx("writing a bounce's source id")?;
            }
            batch.stored.push(stored);
        }
        write_u64(&mut meta, KEY_NEXT_BOUNCE_ID, next_id)?;
    }
    batch.emails_suppressed = mark_emails_suppressed(&txn, &newly_suppressed, received_at)?;
    txn.commit().ctx("committing a bounce batch")?;
    Ok(batch)
}

fn list_bounces(
    db: &Database,
    filter: &BounceFilter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<StoredBounce>, u64), StoreError> {
    let txn = db.begin_read().ctx("beginning a read")?;
    let table = txn.open_table(BOUNCES).ctx("opening bounces")?;
    let mut page = Vec::new();
    let mut total = 0u64;
    for entry in table.iter().ctx("listing bounces")?.rev() {
        let (id, value) = entry.ctx("reading a bounce")?;
        let bounce = from_json(id.value(), value.value())?;
        if !filter.keeps(&bounce) {
            continue;
        }
        if total >= offset && (page.len() as u64) < limit {
            page.push(bounce);
        }
        total += 1;
    }
    Ok((page, total))
}

#[async_trait]
impl BounceStore for RedbStore {
    async fn record_bounces(
        &self,
        events: Vec<BounceEvent>,
        rule: SoftBounceRule,
        received_at: Micros,
    ) -> Result<BounceBatch, StoreError> {
        self.run("record_bounces", move |db| {
            record_bounces(db, events, rule, received_at)
        })
        .await
    }

    async fn bounces(
        &self,
        filter: &BounceFilter,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<StoredBounce>, u64), StoreError> {
        let filter = filter.clone();
        self.run("bounces", move |db| {
            list_bounces(db, &filter, offset, limit)
        })
        .await
    }
}
