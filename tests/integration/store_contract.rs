//! The contract every [`Store`] implementation keeps, as the trait's documentation states
//! it, checked through `&dyn Store` only: each function here takes any store. The embedded
//! store runs the whole suite below; a PostgreSQL store is to run the same functions.

use std::path::Path;

use jiff::civil::Date;
use mailscore::domain::account::{
    AccountId, NewAccount, NewApiToken, Role, TokenHash, TokenId, TokenName,
};
use mailscore::domain::action::{ActionColumnsBuilder, ActionRow};
use mailscore::domain::batch::{DayCheckpoint, EmailStatus, Phase, RunRecord, RunStatus};
use mailscore::domain::time::parse_date;
use mailscore::domain::{
    ActionType, EmailAddress, JobId, Suppression, SuppressionReason, TimeZoneSetting, UserId,
};
use mailscore::ingest::{ImportKind, ImportOptions, import_file, import_jobs};
use mailscore::store::{EmailUpdate, RetentionLimits, Store, StoreError};

use crate::helpers::{job_row, jobs_csv, queued, user_picks};

/// Runs every part of the contract on `store`, which must be empty; `files` is a scratch
/// directory for the input files the importers read.
pub async fn check_store_contract(store: &dyn Store, files: &Path) {
    check_job_snapshots(store, files).await;
    check_users_and_suppressions(store, files).await;
    check_actions(store).await;
    check_masters_and_imports(store, files).await;
    check_daily_run_records(store).await;
    check_run_lease(store).await;
    check_email_status_updates(store).await;
    check_retention_and_maintenance(store).await;
    check_accounts(store).await;
    check_api_tokens(store).await;
}

fn options() -> ImportOptions {
    ImportOptions::new(TimeZoneSetting::tokyo())
}

fn write(files: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = files.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn date(text: &str) -> Date {
    parse_date(text).unwrap()
}

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

async fn check_job_snapshots(store: &dyn Store, files: &Path) {
    assert!(
        store.job_columns().await.unwrap().is_empty(),
        "empty before any import"
    );
    assert_eq!(store.data_version().await.unwrap(), 0);
    let first = write(
        files,
        "day1.csv",
        &jobs_csv(&[job_row(3, "C"), job_row(1, "A"), job_row(2, "B")]),
    );
    let report = import_jobs(store, &[first], &options()).await.unwrap();
    assert!(report.id > 0, "the report gets its id");
    assert_eq!(store.data_version().await.unwrap(), report.id);
    assert_eq!(
        store.job_columns().await.unwrap().job_id,
        [1, 2, 3],
        "sorted by job_id"
    );

    let second = write(
        files,
        "day2.csv",
        &jobs_csv(&[job_row(2, "B2"), job_row(4, "D")]),
    );
    let forced = ImportOptions {
        max_shrink_percent: None,
        ..options()
    };
    let report = import_jobs(store, &[second], &forced).await.unwrap();
    assert_eq!(report.count("jobs_deactivated"), 2);
    let counts = store.job_counts().await.unwrap();
    assert_eq!(
        (counts.active, counts.total),
        (2, 4),
        "absent jobs are kept"
    );
    let records = store
        .jobs(&[JobId::new(1), JobId::new(2), JobId::new(99)])
        .await
        .unwrap();
    assert_eq!(
        records
            .iter()
            .map(|r| r.as_ref().map(|r| (r.job_id.get(), r.active)))
            .collect::<Vec<_>>(),
        [Some((1, false)), Some((2, true)), None],
        "in the order asked, active or not, unknown as None"
    );
    assert_eq!(
        records[1].as_ref().unwrap().value("application_name"),
        Some("B2"),
        "a job seen before is overwritten"
    );

    // The snapshot guard: refused inside the transaction, nothing changes.
    let version = store.data_version().await.unwrap();
    let shrink = write(files, "day3.csv", &jobs_csv(&[job_row(4, "D")]));
    let error = import_jobs(store, &[shrink], &options()).await.unwrap_err();
    assert!(error.to_string().contains("refused"), "{error}");
    assert_eq!(store.job_columns().await.unwrap().job_id, [2, 4]);
    assert_eq!(store.data_version().await.unwrap(), version, "no report");
}

async fn check_users_and_suppressions(store: &dyn Store, files: &Path) {
    let users = write(
        files,
        "users.csv",
        "user_id,email,name\nu2,u2@example.jp,次郎\nu1,u1@example.jp,一郎\n",
    );
    let report = import_file(store, ImportKind::Users, &users, &options())
        .await
        .unwrap();
    assert_eq!(report.count("users_inserted"), 2);
    let update = write(
        files,
        "users2.csv",
        "user_id,email,name\nu1,u1@example.jp,一朗\n",
    );
    let report = import_file(store, ImportKind::Users, &update, &options())
        .await
        .unwrap();
    assert_eq!(
        (
            report.count("users_inserted"),
            report.count("users_updated")
        ),
        (0, 1)
    );
    let stored = store.users().await.unwrap();
    assert_eq!(
        stored
            .iter()
            .map(|u| u.user_id.as_str())
            .collect::<Vec<_>>(),
        ["u1", "u2"],
        "sorted by user_id"
    );
    assert_eq!(
        store
            .user(&user("u1"))
            .await
            .unwrap()
            .unwrap()
            .name
            .as_deref(),
        Some("一朗")
    );
    assert!(store.user(&user("nobody")).await.unwrap().is_none());

    let day = date("2025-06-01");
    let emails = ["u1", "u2"]
        .map(|id| {
            queued(
                id,
                &day.to_string(),
                EmailStatus::Pending,
                &format!("件名 {}", id),
            )
        })
        .to_vec();
    store
        .begin_day(day, None, checkpoint(Phase::Render, 0))
        .await
        .unwrap();
    store
        .save_chunk(day, Vec::new(), Some(emails), checkpoint(Phase::Render, 1))
        .await
        .unwrap();
    let suppression = Suppression {
        address: EmailAddress::parse("U1@EXAMPLE.JP").unwrap(),
        reason: SuppressionReason::Unsubscribed,
        created_at: 5,
        note: None,
    };
    assert_eq!(
        store.suppress(suppression).await.unwrap(),
        1,
        "any letter case"
    );
    let statuses: Vec<EmailStatus> = store
        .emails(day, None)
        .await
        .unwrap()
        .iter()
        .map(|e| e.status)
        .collect();
    assert_eq!(statuses, [EmailStatus::Suppressed, EmailStatus::Pending]);
    assert_eq!(store.suppressions().await.unwrap().len(), 1);
    let address = EmailAddress::parse("U1@EXAMPLE.JP").unwrap();
    assert!(store.unsuppress(&address).await.unwrap());
    assert!(!store.unsuppress(&address).await.unwrap());
    assert_eq!(
        store.emails(day, Some(&user("u1"))).await.unwrap()[0].status,
        EmailStatus::Suppressed,
        "marked emails stay so"
    );
}

async fn check_actions(store: &dyn Store) {
    let at = |text: &str| TimeZoneSetting::tokyo().parse_timestamp(text).unwrap();
    let mut builder = ActionColumnsBuilder::new();
    for (job_id, when) in [(2, "2025-06-01 10:00:00+09"), (4, "2025-06-03 10:00:00+09")] {
        builder.push(&ActionRow {
            user_id: "u1",
            job_id,
            action_type: Some(ActionType::Applied),
            action_at: at(when),
            fee: -1,
            ..Default::default()
        });
    }
    let actions = builder.finish();
    let before = store.data_version().await.unwrap();
    assert_eq!(store.record_actions(actions.clone()).await.unwrap(), 2);
    assert_eq!(
        store.record_actions(actions).await.unwrap(),
        0,
        "each identity once"
    );
    assert_eq!(store.data_version().await.unwrap(), before, "no import");
    assert_eq!(store.action_count().await.unwrap(), 2);
    let from = at("2025-06-01 00:00:00+09");
    let to = at("2025-06-03 10:00:00+09");
    assert_eq!(
        store.actions_between(from, to).await.unwrap().len(),
        1,
        "[from, to): the action at `to` is left out"
    );
    let days = store
        .action_days(from, at("2025-06-04 00:00:00+09"))
        .await
        .unwrap();
    let unpacked: usize = days.iter().map(|d| d.columns().unwrap().len()).sum();
    assert_eq!(unpacked, 2);
}

async fn check_masters_and_imports(store: &dyn Store, files: &Path) {
    let builtin = store.masters().await.unwrap();
    assert!(builtin.imported.is_empty() && builtin.prefectures.len() == 47);
    let prefectures = write(
        files,
        "prefectures.csv",
        "pref_cd,url_segment,name,region,category_id\n13,tokyo,東京都,関東,3\n",
    );
    let report = import_file(store, ImportKind::Masters, &prefectures, &options())
        .await
        .unwrap();
    let masters = store.masters().await.unwrap();
    assert_eq!(
        masters.prefectures.len(),
        1,
        "an imported kind replaces the built-in"
    );
    assert!(masters.cities.len() > 1, "the other kinds stay built-in");
    assert_eq!(
        store.import_report(report.id).await.unwrap(),
        Some(report.clone())
    );
    assert_eq!(store.import_report(report.id + 100).await.unwrap(), None);
    let summaries = store.import_summaries(2).await.unwrap();
    assert_eq!(summaries.len(), 2);
    assert_eq!(summaries[0].id, report.id, "newest first");
}

fn checkpoint(until: Phase, chunks_done: u32) -> DayCheckpoint {
    DayCheckpoint {
        run_id: 1,
        data_version: 1,
        chunk_users: 1,
        chunks_done,
        until,
        settings: 0,
    }
}

fn run_record(day: Date, started_at: i64) -> RunRecord {
    RunRecord {
        id: 0,
        date: day,
        started_at,
        finished_at: None,
        status: RunStatus::Succeeded,
        until: Phase::Render,
        phases: Vec::new(),
        skipped_keywords: Vec::new(),
        failed_users: Vec::new(),
        error: None,
        warnings: Vec::new(),
        trigger: None,
        users: None,
        retry_of: None,
    }
}

async fn check_daily_run_records(store: &dyn Store) {
    let day = date("2025-07-01");
    store
        .begin_day(day, None, checkpoint(Phase::Render, 0))
        .await
        .unwrap();
    store
        .save_chunk(
            day,
            vec![user_picks("u1", 2)],
            Some(vec![queued(
                "u1",
                &day.to_string(),
                EmailStatus::Sent,
                &format!("件名 {}", "u1"),
            )]),
            checkpoint(Phase::Render, 1),
        )
        .await
        .unwrap();
    store
        .save_chunk(
            day,
            vec![user_picks("u2", 4)],
            Some(vec![queued(
                "u2",
                &day.to_string(),
                EmailStatus::Pending,
                &format!("件名 {}", "u2"),
            )]),
            checkpoint(Phase::Render, 2),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .day_checkpoint(day)
            .await
            .unwrap()
            .map(|c| c.chunks_done),
        Some(2)
    );
    assert_eq!(
        store.picks(day, Some(&user("u2"))).await.unwrap()[0].picks[0].job_id,
        4
    );

    // Beginning the date again: picks go, unsent emails go, a sent one stays as it was.
    store
        .begin_day(day, None, checkpoint(Phase::Render, 0))
        .await
        .unwrap();
    assert!(store.picks(day, None).await.unwrap().is_empty());
    let kept = store.emails(day, None).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].status, EmailStatus::Sent);
    let mut again = queued(
        "u1",
        &day.to_string(),
        EmailStatus::Pending,
        &format!("件名 {}", "u1"),
    );
    again.subject = "別の件名".into();
    store
        .save_chunk(
            day,
            vec![user_picks("u1", 2)],
            Some(vec![again]),
            checkpoint(Phase::Render, 1),
        )
        .await
        .unwrap();
    assert_eq!(
        store.emails(day, Some(&user("u1"))).await.unwrap()[0].subject,
        "件名 u1",
        "a sent email is never regenerated"
    );

    // Some users' results outside a run of the whole date: the checkpoint, the other users'
    // picks and a sent email stay as they were.
    let checkpoint_before = store.day_checkpoint(day).await.unwrap();
    let mut resent = queued("u1", &day.to_string(), EmailStatus::Pending, "また別の件名");
    resent.content = b"other".to_vec();
    store
        .save_users_results(
            day,
            vec![user_picks("u3", 9)],
            Some(vec![
                queued("u3", &day.to_string(), EmailStatus::Pending, "件名 u3"),
                resent,
            ]),
        )
        .await
        .unwrap();
    assert_eq!(store.day_checkpoint(day).await.unwrap(), checkpoint_before);
    assert_eq!(
        store.picks(day, Some(&user("u3"))).await.unwrap()[0].picks[0].job_id,
        9
    );
    assert_eq!(
        store.picks(day, Some(&user("u1"))).await.unwrap()[0].picks[0].job_id,
        2
    );
    assert_eq!(
        store.emails(day, Some(&user("u1"))).await.unwrap()[0].subject,
        "件名 u1",
        "a sent email is never regenerated"
    );
    assert_eq!(
        store.emails(day, Some(&user("u3"))).await.unwrap()[0].subject,
        "件名 u3"
    );

    let run = store.finish_day(day, run_record(day, 10)).await.unwrap();
    assert!(run.id > 0);
    assert_eq!(store.day_checkpoint(day).await.unwrap(), None);
    let later = store.save_run(run_record(day, 20)).await.unwrap();
    let runs = store.runs(10).await.unwrap();
    assert_eq!(runs[0], later, "newest first");
    assert_eq!(runs[1], run);
    assert_eq!(store.run_record(run.id).await.unwrap(), Some(run.clone()));
    assert_eq!(store.run_record(later.id + 100).await.unwrap(), None);
    assert_eq!(
        store.job_scores(day).await.unwrap(),
        None,
        "no scores were given"
    );
}

async fn check_email_status_updates(store: &dyn Store) {
    let day = date("2025-07-03");
    store
        .begin_day(day, None, checkpoint(Phase::Render, 0))
        .await
        .unwrap();
    let pending = queued("u7", &day.to_string(), EmailStatus::Pending, "件名");
    store
        .save_chunk(
            day,
            vec![user_picks("u7", 1)],
            Some(vec![pending]),
            checkpoint(Phase::Render, 1),
        )
        .await
        .unwrap();
    let cancel = [EmailStatus::Pending, EmailStatus::Failed];
    match store
        .update_email_status(day, &user("u7"), &cancel, EmailStatus::Cancelled, 99)
        .await
        .unwrap()
    {
        EmailUpdate::Updated(email) => {
            assert_eq!(
                (email.status, email.updated_at),
                (EmailStatus::Cancelled, 99)
            );
        }
        other => panic!("expected an update, got {other:?}"),
    }
    assert_eq!(
        store.emails(day, Some(&user("u7"))).await.unwrap()[0].status,
        EmailStatus::Cancelled,
        "the change is stored"
    );
    assert_eq!(
        store
            .update_email_status(day, &user("u7"), &cancel, EmailStatus::Cancelled, 100)
            .await
            .unwrap(),
        EmailUpdate::Refused(EmailStatus::Cancelled),
        "a status outside `from` is left as it is"
    );
    assert_eq!(
        store
            .update_email_status(day, &user("nobody"), &cancel, EmailStatus::Cancelled, 1)
            .await
            .unwrap(),
        EmailUpdate::NotFound
    );
}

async fn check_run_lease(store: &dyn Store) {
    assert!(store.acquire_run_lock("a", 1_000, 5_000).await.unwrap());
    assert!(!store.acquire_run_lock("b", 2_000, 6_000).await.unwrap());
    assert!(store.renew_run_lock("a", 8_000).await.unwrap());
    assert!(!store.renew_run_lock("b", 8_000).await.unwrap());
    assert_eq!(
        store.run_lock_holder().await.unwrap(),
        Some(("a".to_owned(), 8_000))
    );
    assert!(
        !store.acquire_run_lock("b", 7_999, 9_000).await.unwrap(),
        "renewed"
    );
    assert!(
        store.acquire_run_lock("b", 8_001, 12_000).await.unwrap(),
        "lapsed"
    );
    assert!(!store.renew_run_lock("a", 20_000).await.unwrap(), "lost");
    store.release_run_lock("a").await.unwrap();
    assert_eq!(store.run_lock_holder().await.unwrap().unwrap().0, "b");
    store.release_run_lock("b").await.unwrap();
    assert_eq!(store.run_lock_holder().await.unwrap(), None);
}

async fn check_retention_and_maintenance(store: &dyn Store) {
    let at = |text: &str| TimeZoneSetting::tokyo().parse_timestamp(text).unwrap();
    let purged = store
        .purge(RetentionLimits {
            actions_before: at("2025-06-03 00:00:00+09"),
            picks_before: date("2025-07-02"),
            emails_before: date("2025-06-02"),
            runs_before: 15,
        })
        .await
        .unwrap();
    assert_eq!(purged.action_days, 1);
    assert_eq!(purged.runs, 1, "the run started at 10");
    assert_eq!(store.action_count().await.unwrap(), 1);
    assert!(
        store
            .picks(date("2025-07-01"), None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .emails(date("2025-06-01"), None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.emails(date("2025-07-01"), None).await.unwrap().len(),
        2,
        "u1's sent email and u3's"
    );

    assert_eq!(
        store.reclaim_space(u64::MAX).await.unwrap(),
        None,
        "never that much unused"
    );
    let before = store.job_columns().await.unwrap();
    let (_, after_bytes) = store.compact().await.unwrap();
    assert!(after_bytes > 0);
    assert_eq!(
        format!("{:?}", store.job_columns().await.unwrap()),
        format!("{before:?}"),
        "compaction keeps the data (compared printed: a missing coordinate is NaN)"
    );
    let stats = store.storage_stats().await.unwrap();
    assert!(stats.file_bytes > 0 && stats.stored_bytes > 0);
    let missing: Result<_, StoreError> = store.import_report(u64::MAX).await;
    assert!(
        missing.unwrap().is_none(),
        "an unknown id is no report, not an error"
    );
}

fn new_account(email: &str, role: Role) -> NewAccount {
    NewAccount {
        email: EmailAddress::parse(email).unwrap(),
        role,
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$not-a-real-hash-of-{email}"),
        created_at: 1_000,
    }
}

async fn check_accounts(store: &dyn Store) {
    assert!(store.accounts().await.unwrap().is_empty());
    assert_eq!(store.count_admins().await.unwrap(), 0);
    let first = store
        .create_first_account(new_account("root@example.jp", Role::Admin))
        .await
        .unwrap()
        .expect("the first account is created while there is none");
    assert!(first.id.get() > 0 && !first.disabled);
    assert!(
        store
            .create_first_account(new_account("second@example.jp", Role::Admin))
            .await
            .unwrap()
            .is_none(),
        "only while no account is stored"
    );
    let viewer = store
        .create_account(new_account("Viewer@Example.jp", Role::Viewer))
        .await
        .unwrap();
    assert_ne!(viewer.id, first.id);
    let duplicate = store
        .create_account(new_account("viewer@EXAMPLE.JP", Role::Admin))
        .await
        .unwrap_err();
    assert!(
        matches!(duplicate, StoreError::AccountExists { .. }),
        "addresses are unique without regard to case: {duplicate}"
    );
    let listed: Vec<AccountId> = store
        .accounts()
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(
        listed,
        [first.id, viewer.id],
        "by id, the refused one not stored"
    );
    let found = store
        .account_by_email(&EmailAddress::parse("VIEWER@example.jp").unwrap())
        .await
        .unwrap()
        .expect("found without regard to case");
    assert_eq!(found, viewer);
    assert_eq!(
        store.account(viewer.id).await.unwrap().as_ref(),
        Some(&viewer)
    );
    assert!(
        store
            .account(AccountId::new(9_999))
            .await
            .unwrap()
            .is_none()
    );

    let changed = store
        .update_password(viewer.id, "$argon2id$new".to_owned())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.password_hash, "$argon2id$new");
    assert!(
        store
            .update_password(AccountId::new(9_999), "x".to_owned())
            .await
            .unwrap()
            .is_none()
    );

    // The last-admin rule: the only enabled admin can be neither demoted nor disabled.
    assert_eq!(store.count_admins().await.unwrap(), 1);
    let refused = store.set_role(first.id, Role::Operator).await.unwrap_err();
    assert!(matches!(refused, StoreError::LastAdmin), "{refused}");
    let refused = store.set_disabled(first.id, true).await.unwrap_err();
    assert!(matches!(refused, StoreError::LastAdmin), "{refused}");
    assert_eq!(
        store.account(first.id).await.unwrap().unwrap().role,
        Role::Admin
    );
    // With a second admin, the first may go; a disabled admin does not count.
    let promoted = store
        .set_role(viewer.id, Role::Admin)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(promoted.role, Role::Admin);
    assert_eq!(store.count_admins().await.unwrap(), 2);
    let disabled = store.set_disabled(first.id, true).await.unwrap().unwrap();
    assert!(disabled.disabled);
    assert_eq!(store.count_admins().await.unwrap(), 1);
    let refused = store.set_role(viewer.id, Role::Viewer).await.unwrap_err();
    assert!(matches!(refused, StoreError::LastAdmin), "{refused}");
    // A disabled admin may be demoted: it is no enabled admin.
    let demoted = store
        .set_role(first.id, Role::Viewer)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((demoted.role, demoted.disabled), (Role::Viewer, true));
    let enabled = store.set_disabled(first.id, false).await.unwrap().unwrap();
    assert!(!enabled.disabled);
    assert!(
        store
            .set_role(AccountId::new(9_999), Role::Admin)
            .await
            .unwrap()
            .is_none()
    );
}

fn token_hash(byte: char) -> TokenHash {
    TokenHash::parse(&byte.to_string().repeat(64)).unwrap()
}

async fn check_api_tokens(store: &dyn Store) {
    assert!(store.tokens().await.unwrap().is_empty());
    let new_token = |name: &str, hash: char, expires_at: Option<i64>| NewApiToken {
        name: TokenName::parse(name).unwrap(),
        role: Role::Operator,
        token_hash: token_hash(hash),
        created_at: 2_000,
        expires_at,
    };
    let ci = store
        .create_token(new_token("ci", 'a', None))
        .await
        .unwrap();
    let cron = store
        .create_token(new_token("cron", 'b', Some(5_000)))
        .await
        .unwrap();
    assert_ne!(ci.id, cron.id);
    assert_eq!(
        (ci.revoked_at, ci.last_used_at, cron.expires_at),
        (None, None, Some(5_000))
    );
    assert!(
        store
            .create_token(new_token("copy", 'a', None))
            .await
            .is_err(),
        "a hash is stored once"
    );
    assert_eq!(store.tokens().await.unwrap(), [ci.clone(), cron.clone()]);
    assert_eq!(
        store.token_by_hash(&token_hash('b')).await.unwrap(),
        Some(cron.clone())
    );
    assert!(
        store
            .token_by_hash(&token_hash('c'))
            .await
            .unwrap()
            .is_none()
    );

    store.record_token_use(ci.id, 3_000).await.unwrap();
    store.record_token_use(ci.id, 2_500).await.unwrap();
    store
        .record_token_use(TokenId::new(9_999), 1)
        .await
        .unwrap();
    let used = store
        .token_by_hash(&token_hash('a'))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        used.last_used_at,
        Some(3_000),
        "only a later use is recorded"
    );

    let revoked = store.revoke_token(ci.id, 4_000).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(4_000));
    let again = store.revoke_token(ci.id, 4_500).await.unwrap().unwrap();
    assert_eq!(again.revoked_at, Some(4_000), "the first revocation stays");
    assert!(!again.is_usable_at(4_001));
    assert!(
        store
            .token_by_hash(&token_hash('a'))
            .await
            .unwrap()
            .is_some(),
        "a revoked token is still found, and refused by its state"
    );
    assert!(
        store
            .revoke_token(TokenId::new(9_999), 1)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.tokens().await.unwrap().len(),
        2,
        "revoked, not deleted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_embedded_store_keeps_the_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = mailscore::store::redb::RedbStore::open(&dir.path().join("data")).unwrap();
    check_store_contract(&store, dir.path()).await;
}
