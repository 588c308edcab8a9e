//! The daily run against a real store: generate, import, run, re-run, resume.

use std::path::Path;

use jiff::civil::Date;
use mailscore::columnar::StrColumn;
use mailscore::domain::TimeZoneSetting;
use mailscore::domain::batch::{
    DayCheckpoint, EmailStatus, JobScoreTable, QueuedEmail, RunRecord, RunStatus, UserPicks,
};
use mailscore::domain::time::parse_date;
use mailscore::ingest::ImportKind;
use mailscore::pipeline::{BatchOptions, Phase, fingerprint, previous_picks, run_batch};
use mailscore::render::EmailSettings;
use mailscore::store::prelude::*;
use mailscore::tokens::TokenSigner;

use crate::helpers::{TestStore, job_row, jobs_csv, queued, test_signer, user_picks};

#[tokio::test(flavor = "multi_thread")]
async fn a_date_runs_stores_its_picks_and_reruns_to_the_same_result() {
    let date = parse_date("2025-11-25").unwrap();
    let t = TestStore::with_generated(1500, 120, 60, 7, date).await;
    let batch = |until| BatchOptions {
        until,
        ..BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer())
    };

    let scores_only = run_batch(&t.store, &batch(Phase::Scores)).await.unwrap();
    assert_eq!(scores_only.status, RunStatus::Succeeded);
    assert_eq!(t.store.job_scores(date).await.unwrap().unwrap().len(), 1500);
    assert!(
        t.store.picks(date, None).await.unwrap().is_empty(),
        "--until scores stores no picks"
    );

    let first = run_batch(&t.store, &batch(Phase::Picks)).await.unwrap();
    let names: Vec<&str> = first.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["load", "profiles", "scores", "picks", "store"]);
    assert!(
        t.store.emails(date, None).await.unwrap().is_empty(),
        "--until picks queues no email"
    );
    let picks = t.store.picks(date, None).await.unwrap();
    let users = t.store.users().await.unwrap();
    let expected_users = users.iter().filter(|u| u.is_active && u.subscribed).count();
    assert_eq!(
        picks.len(),
        expected_users,
        "one pick list per active, subscribed user"
    );
    assert!(
        picks.windows(2).all(|w| w[0].user_id < w[1].user_id),
        "sorted by user id"
    );
    assert!(
        picks.iter().all(|u| u.picks.len() == 40),
        "enough eligible jobs for 40 each"
    );

    let options = batch(Phase::Render);
    run_batch(&t.store, &options).await.unwrap();
    let (phase, done, total) = options.progress.snapshot();
    assert_eq!(
        (phase, done, total),
        ("render", expected_users as u64, expected_users as u64),
        "progress is observable"
    );
    assert_eq!(
        t.store.emails(date, None).await.unwrap().len(),
        expected_users,
        "one email per user with picks"
    );

    let second = run_batch(&t.store, &batch(Phase::Picks)).await.unwrap();
    assert!(second.id > first.id);
    assert_eq!(
        t.store.picks(date, None).await.unwrap(),
        picks,
        "re-running a date gives the same picks"
    );
    let one = t.store.picks(date, Some(&picks[0].user_id)).await.unwrap();
    assert_eq!(one, vec![picks[0].clone()]);
    assert_eq!(t.store.runs(10).await.unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_next_day_does_not_repeat_a_job_picked_two_days_running() {
    let day0 = parse_date("2025-11-23").unwrap();
    let t = TestStore::with_generated(1200, 40, 30, 3, day0).await;
    let run = |date| BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer());
    let days: Vec<_> = ["2025-11-23", "2025-11-24", "2025-11-25"]
        .iter()
        .map(|d| parse_date(d).unwrap())
        .collect();
    for date in &days {
        run_batch(&t.store, &run(*date)).await.unwrap();
    }
    let picked = |date| {
        let store = &t.store;
        async move {
            store
                .picks(date, None)
                .await
                .unwrap()
                .into_iter()
                .map(|u| {
                    (
                        u.user_id,
                        u.picks.iter().map(|p| p.job_id).collect::<Vec<_>>(),
                    )
                })
                .collect::<std::collections::HashMap<_, _>>()
        }
    };
    let (d1, d2, d3) = (
        picked(days[0]).await,
        picked(days[1]).await,
        picked(days[2]).await,
    );
    let mut repeated_twice = 0;
    for (user, jobs) in &d3 {
        for job in jobs {
            let on_d1 = d1.get(user).is_some_and(|j| j.contains(job));
            let on_d2 = d2.get(user).is_some_and(|j| j.contains(job));
            assert!(
                !(on_d1 && on_d2),
                "user {user} got job {job} three days running"
            );
            repeated_twice += usize::from(on_d2);
        }
    }
    assert!(
        repeated_twice > 0,
        "a job picked only the day before may come again"
    );
}

#[test]
fn the_cli_exports_byte_identical_picks_for_a_rerun_date() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("store");
    let run = |args: &[&str]| {
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_mailscore"))
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--log-level", "warn"])
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "mailscore {args:?}");
    };
    let out = dir.path().join("generated");
    let out = out.to_str().unwrap();
    run(&[
        "generate",
        "--jobs",
        "800",
        "--users",
        "60",
        "--days",
        "30",
        "--seed",
        "5",
        "--end-date",
        "2025-11-25",
        "--out",
        out,
    ]);
    for kind in ["jobs", "users", "actions"] {
        run(&["import", kind, &format!("{out}/{kind}.csv")]);
    }
    let export = |name: &str| {
        let path = dir.path().join(name);
        run(&[
            "picks",
            "export",
            "--date",
            "2025-11-25",
            "--format",
            "csv",
            "--out",
            path.to_str().unwrap(),
        ]);
        std::fs::read(path).unwrap()
    };
    run(&["batch", "run", "--date", "2025-11-25"]);
    let first = export("first.csv");
    run(&["batch", "run", "--date", "2025-11-25"]);
    let second = export("second.csv");
    assert_eq!(first, second, "a re-run exports the same bytes");
    let text = String::from_utf8(first).unwrap();
    assert!(text.starts_with(
        "date,user_id,section,rank,job_id,tier,personalized,basic,seo,total,editorial,reasons\n"
    ));
    assert!(text.lines().count() > 40);

    // `--out -` writes the same bytes to standard output, and nothing else.
    let piped = std::process::Command::new(env!("CARGO_BIN_EXE_mailscore"))
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--log-level", "warn"])
        .args(["picks", "export", "--date", "2025-11-25", "--out", "-"])
        .output()
        .unwrap();
    assert!(piped.status.success());
    assert_eq!(piped.stdout, second);
    assert!(!dir.path().join("-").exists() && !Path::new("-").exists());
}

#[tokio::test]
async fn only_one_run_holds_the_lock_until_it_releases_it_or_the_lock_lapses() {
    let t = TestStore::new();
    assert!(t.store.acquire_run_lock("a", 1_000, 5_000).await.unwrap());
    assert!(
        !t.store.acquire_run_lock("b", 2_000, 6_000).await.unwrap(),
        "held by a"
    );
    assert!(
        t.store.acquire_run_lock("a", 2_000, 6_000).await.unwrap(),
        "a may renew its own lock"
    );
    assert!(
        t.store.acquire_run_lock("b", 6_001, 9_000).await.unwrap(),
        "a's lock lapsed"
    );
    t.store.release_run_lock("a").await.unwrap();
    assert!(
        !t.store.acquire_run_lock("c", 7_000, 9_000).await.unwrap(),
        "a cannot release b's lock"
    );
    t.store.release_run_lock("b").await.unwrap();
    assert!(
        t.store
            .acquire_run_lock("c", 7_000, i64::MAX)
            .await
            .unwrap()
    );

    let date = parse_date("2025-11-25").unwrap();
    let error = run_batch(
        &t.store,
        &BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer()),
    )
    .await
    .unwrap_err();
    assert!(
        error.to_string().contains("only one runs at a time"),
        "{error}"
    );
}

#[tokio::test]
async fn retention_deletes_whole_days_of_actions_before_the_limit_and_keeps_the_rest() {
    let t = TestStore::new();
    let actions = t.file(
        "actions.csv",
        "user_id,job_id,action_type,action_at\n\
         u1,1,click,2024-01-01 10:00:00+09\n\
         u1,1,click,2024-01-02 10:00:00+09\n\
         u1,1,applied,2025-11-20 10:00:00+09\n",
    );
    t.import(ImportKind::Actions, &actions).await.unwrap();
    let zone = TimeZoneSetting::tokyo();
    let limits = mailscore::store::RetentionLimits {
        actions_before: zone.parse_timestamp("2024-06-01 00:00:00+09").unwrap(),
        picks_before: parse_date("2025-10-26").unwrap(),
        emails_before: parse_date("2025-11-18").unwrap(),
        runs_before: 0,
    };
    let purged = t.store.purge(limits).await.unwrap();
    assert_eq!(purged.action_days, 2);
    assert_eq!(t.store.action_count().await.unwrap(), 1);
    assert_eq!(t.store.actions_between(0, i64::MAX).await.unwrap().len(), 1);
}

fn checkpoint(chunks_done: u32, until: &str) -> DayCheckpoint {
    DayCheckpoint {
        run_id: 1,
        data_version: 7,
        chunk_users: 2,
        chunks_done,
        until: Phase::parse(until).unwrap(),
        settings: 0,
    }
}

/// `(user, status, subject)` of a date's emails.
async fn email_states(store: &dyn Store, date: Date) -> Vec<(String, EmailStatus, String)> {
    store
        .emails(date, None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.user_id.as_str().to_owned(), e.status, e.subject))
        .collect()
}

#[tokio::test]
async fn chunks_never_replace_a_sent_email_and_beginning_a_date_keeps_only_those() {
    let t = TestStore::new();
    let store: &dyn Store = &t.store;
    let date = parse_date("2025-11-25").unwrap();
    let next = parse_date("2025-11-26").unwrap();
    let (d, n) = ("2025-11-25", "2025-11-26");
    // The next date's results must stay untouched by everything done to `date`.
    store
        .begin_day(next, None, checkpoint(0, "render"))
        .await
        .unwrap();
    store
        .save_chunk(
            next,
            vec![user_picks("u1", 9)],
            Some(vec![queued("u1", n, EmailStatus::Pending, "next")]),
            checkpoint(1, "render"),
        )
        .await
        .unwrap();

    let mut needs = StrColumn::new();
    needs.push("学生");
    needs.push("");
    let mut matched_keywords = StrColumn::new();
    matched_keywords.push("");
    matched_keywords.push("カフェ(title)");
    let scores = JobScoreTable {
        job_id: vec![1, 2],
        basic: vec![1.0, 2.0],
        wage: vec![0.5; 2],
        fee: vec![0.0; 2],
        popularity: vec![0.0; 2],
        seo: vec![3.0, 0.0],
        needs,
        occupation_category: vec![0, 4],
        matched_keywords,
    };
    store
        .begin_day(date, Some(scores.clone()), checkpoint(0, "render"))
        .await
        .unwrap();
    assert_eq!(store.job_scores(date).await.unwrap(), Some(scores.clone()));
    assert_eq!(
        store.day_checkpoint(date).await.unwrap(),
        Some(checkpoint(0, "render"))
    );
    store
        .save_chunk(
            date,
            vec![user_picks("u1", 1), user_picks("u2", 1)],
            Some(vec![
                queued("u1", d, EmailStatus::Pending, "first"),
                queued("u2", d, EmailStatus::Sent, "first"),
            ]),
            checkpoint(1, "render"),
        )
        .await
        .unwrap();
    store
        .save_chunk(
            date,
            vec![user_picks("u3", 1)],
            Some(vec![queued("u3", d, EmailStatus::Sending, "first")]),
            checkpoint(2, "render"),
        )
        .await
        .unwrap();
    assert_eq!(
        store.day_checkpoint(date).await.unwrap(),
        Some(checkpoint(2, "render")),
        "each chunk advances the checkpoint"
    );

    // A chunk stored again (a rerun) replaces picks and unsent emails, never sent ones.
    store
        .save_chunk(
            date,
            vec![
                user_picks("u1", 2),
                user_picks("u2", 2),
                user_picks("u3", 2),
            ],
            Some(vec![
                queued("u1", d, EmailStatus::Pending, "second"),
                queued("u2", d, EmailStatus::Pending, "second"),
                queued("u3", d, EmailStatus::Pending, "second"),
            ]),
            checkpoint(3, "render"),
        )
        .await
        .unwrap();
    let s = |text: &str| text.to_owned();
    assert_eq!(
        email_states(store, date).await,
        vec![
            (s("u1"), EmailStatus::Pending, s("second")),
            (s("u2"), EmailStatus::Sent, s("first")),
            (s("u3"), EmailStatus::Sending, s("first")),
        ]
    );
    assert!(
        store
            .picks(date, None)
            .await
            .unwrap()
            .iter()
            .all(|u| u.picks[0].job_id == 2),
        "picks are replaced"
    );

    // A run that stops at picks begins the date without touching its emails.
    store
        .begin_day(date, None, checkpoint(0, "picks"))
        .await
        .unwrap();
    assert!(store.picks(date, None).await.unwrap().is_empty());
    assert_eq!(email_states(store, date).await.len(), 3);
    assert_eq!(
        store.job_scores(date).await.unwrap(),
        Some(scores),
        "no scores given: the stored ones stay"
    );

    // A run that renders begins the date by removing its unsent emails only.
    store
        .begin_day(date, None, checkpoint(0, "render"))
        .await
        .unwrap();
    assert_eq!(
        email_states(store, date).await,
        vec![
            (s("u2"), EmailStatus::Sent, s("first")),
            (s("u3"), EmailStatus::Sending, s("first")),
        ]
    );
    assert!(store.picks(date, None).await.unwrap().is_empty());

    let run = RunRecord {
        id: 0,
        date: parse_date(d).unwrap(),
        started_at: 0,
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
    };
    let run = store.finish_day(date, run).await.unwrap();
    assert!(run.id > 0);
    assert_eq!(store.runs(1).await.unwrap(), vec![run]);
    assert_eq!(store.day_checkpoint(date).await.unwrap(), None);

    assert_eq!(
        store.day_checkpoint(next).await.unwrap(),
        Some(checkpoint(1, "render"))
    );
    assert_eq!(store.picks(next, None).await.unwrap().len(), 1);
    assert_eq!(
        email_states(store, next).await,
        vec![(s("u1"), EmailStatus::Pending, s("next"))]
    );
    // Retention drops the checkpoints of dates before the picks limit.
    let purged = store
        .purge(mailscore::store::RetentionLimits {
            actions_before: 0,
            picks_before: parse_date("2025-11-27").unwrap(),
            emails_before: parse_date("2025-01-01").unwrap(),
            runs_before: 0,
        })
        .await
        .unwrap();
    assert_eq!(purged.checkpoints, 1);
    assert_eq!(store.day_checkpoint(next).await.unwrap(), None);
}

#[tokio::test]
async fn the_data_version_changes_with_every_kind_of_import_and_only_then() {
    let t = TestStore::new();
    let store: &dyn Store = &t.store;
    let mut version = store.data_version().await.unwrap();
    assert_eq!(version, 0, "no import yet");
    let jobs = t.file("jobs.csv", jobs_csv(&[job_row(1, "A")]));
    let users = t.file(
        "users.csv",
        "user_id,email,name,pref_cd,city_cd,is_active,subscribed,member_rank\n\
         u1,u1@example.jp,一郎,13,13101,1,1,0\n",
    );
    let actions = t.file(
        "actions.csv",
        "user_id,job_id,action_type,action_at\nu1,1,applied,2025-11-20 10:00:00+09\n",
    );
    let masters = t.file(
        "prefectures.csv",
        "pref_cd,url_segment,name,region,category_id\n13,tokyo,東京都,関東,3\n",
    );
    for (kind, path) in [
        (ImportKind::Jobs, &jobs),
        (ImportKind::Users, &users),
        (ImportKind::Actions, &actions),
        (ImportKind::Masters, &masters),
        // Importing the same actions again stores nothing new, but it is an import.
        (ImportKind::Actions, &actions),
    ] {
        t.import(kind, path).await.unwrap();
        let now = store.data_version().await.unwrap();
        assert!(now > version, "a {kind:?} import changes the data version");
        version = now;
    }
    let rejected = t.file("bad.csv", "job_id,title\n1,A\n");
    assert!(t.import(ImportKind::Jobs, &rejected).await.is_err());
    assert_eq!(
        store.data_version().await.unwrap(),
        version,
        "a rejected file writes nothing"
    );
    let date = parse_date("2025-11-25").unwrap();
    run_batch(
        store,
        &BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer()),
    )
    .await
    .unwrap();
    assert_eq!(
        store.data_version().await.unwrap(),
        version,
        "a daily run is no import"
    );
}

/// A date's picks, and its emails without the instants a run stamps them with.
async fn day_results(store: &dyn Store, date: Date) -> (Vec<UserPicks>, Vec<QueuedEmail>) {
    let emails = store
        .emails(date, None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| QueuedEmail {
            created_at: 0,
            updated_at: 0,
            ..e
        })
        .collect();
    (store.picks(date, None).await.unwrap(), emails)
}

fn picks_phase(run: &RunRecord) -> &mailscore::domain::batch::PhaseRecord {
    run.phases
        .iter()
        .find(|p| p.name == "picks")
        .expect("the run has a picks phase")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rerun_resumes_after_the_stored_chunks_only_on_the_same_data_and_chunk_size() {
    let date = parse_date("2025-11-25").unwrap();
    let t = TestStore::with_generated(1500, 120, 60, 11, date).await;
    let store: &dyn Store = &t.store;
    let chunked = |chunk_users| BatchOptions {
        chunk_users,
        ..BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer())
    };
    let whole = run_batch(store, &chunked(1000)).await.unwrap();
    let names: Vec<&str> = whole.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "load",
            "profiles",
            "scores",
            "picks",
            "render",
            "store",
            "retention"
        ]
    );
    assert_eq!(picks_phase(&whole).counts["users_resumed"], 0);
    let (picks, emails) = day_results(store, date).await;
    assert!(!emails.is_empty());

    let by_chunks = run_batch(store, &chunked(25)).await.unwrap();
    assert_eq!(picks_phase(&by_chunks).counts["chunks"], 5);
    assert_eq!(
        day_results(store, date).await,
        (picks.clone(), emails.clone()),
        "chunks of 25 users give what one chunk gives"
    );
    assert_eq!(store.day_checkpoint(date).await.unwrap(), None);

    // A run killed after two chunks of 25 users: the first 50 users' results are stored
    // (marked here, to see whether a rerun recomputes them), the rest is not.
    let users = store.users().await.unwrap();
    let first_50: Vec<&str> = users[..50].iter().map(|u| u.user_id.as_str()).collect();
    let (picks_ref, emails_ref, first_50) = (&picks, &emails, &first_50);
    let previous = previous_picks(store, date).await.unwrap();
    let settings = fingerprint(&chunked(25), &previous, &[]);
    let crash = |data_version| async move {
        let checkpoint = DayCheckpoint {
            run_id: 999,
            data_version,
            chunk_users: 25,
            chunks_done: 0,
            until: Phase::Render,
            settings,
        };
        store
            .begin_day(date, None, checkpoint.clone())
            .await
            .unwrap();
        let marked: Vec<UserPicks> = picks_ref
            .iter()
            .filter(|u| first_50.contains(&u.user_id.as_str()))
            .map(|u| UserPicks {
                picks: u.picks[..1].to_vec(),
                ..u.clone()
            })
            .collect();
        assert!(!marked.is_empty());
        let marked_emails: Vec<QueuedEmail> = emails_ref
            .iter()
            .filter(|e| first_50.contains(&e.user_id.as_str()))
            .cloned()
            .collect();
        store
            .save_chunk(
                date,
                marked.clone(),
                Some(marked_emails),
                DayCheckpoint {
                    chunks_done: 2,
                    ..checkpoint
                },
            )
            .await
            .unwrap();
        marked
    };
    let version = store.data_version().await.unwrap();

    // Another chunk size does not resume.
    crash(version).await;
    let other_size = run_batch(store, &chunked(30)).await.unwrap();
    assert_eq!(picks_phase(&other_size).counts["users_resumed"], 0);
    assert_eq!(
        day_results(store, date).await,
        (picks.clone(), emails.clone())
    );

    // The same data and chunk size resume after the two chunks: their users are not
    // recomputed, the others are, and the checkpoint is gone once the run finished.
    let marked = crash(version).await;
    let resumed = run_batch(store, &chunked(25)).await.unwrap();
    assert_eq!(picks_phase(&resumed).counts["resumed_from_chunk"], 2);
    assert_eq!(picks_phase(&resumed).counts["users_resumed"], 50);
    assert_eq!(
        picks_phase(&resumed).counts["users_picked"] as usize,
        picks.len() - marked.len()
    );
    let (found, found_emails) = day_results(store, date).await;
    let expected: Vec<UserPicks> = picks
        .iter()
        .map(|u| {
            marked
                .iter()
                .find(|m| m.user_id == u.user_id)
                .unwrap_or(u)
                .clone()
        })
        .collect();
    assert_eq!(found, expected);
    assert_eq!(found_emails, emails, "one email per user, none doubled");
    assert_eq!(store.day_checkpoint(date).await.unwrap(), None);

    // Other settings (here the sender's name, which every email shows) or another signing
    // key: the date starts over.
    crash(version).await;
    let renamed = BatchOptions {
        email: EmailSettings {
            sender_name: "another sender".to_owned(),
            ..EmailSettings::default()
        },
        ..chunked(25)
    };
    assert_eq!(
        picks_phase(&run_batch(store, &renamed).await.unwrap()).counts["users_resumed"],
        0
    );
    assert_ne!(
        day_results(store, date).await.1,
        emails,
        "the emails name the other sender"
    );
    crash(version).await;
    let rekeyed = BatchOptions {
        signer: TokenSigner::new(b"another key of at least thirty-two bytes"),
        ..chunked(25)
    };
    assert_eq!(
        picks_phase(&run_batch(store, &rekeyed).await.unwrap()).counts["users_resumed"],
        0
    );

    // A new import between the crash and the rerun: the date starts over.
    crash(version).await;
    t.import(ImportKind::Users, &t.dir.path().join("generated/users.csv"))
        .await
        .unwrap();
    assert!(store.data_version().await.unwrap() > version);
    let after_import = run_batch(store, &chunked(25)).await.unwrap();
    assert_eq!(picks_phase(&after_import).counts["users_resumed"], 0);
    assert_eq!(picks_phase(&after_import).counts["resumed_from_chunk"], 0);
    assert_eq!(day_results(store, date).await, (picks, emails));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_suppressed_address_gets_no_picks_and_no_email_until_it_is_lifted() {
    use mailscore::domain::{EmailAddress, Suppression, SuppressionReason};
    let date = parse_date("2025-11-25").unwrap();
    let t = TestStore::with_generated(1500, 120, 60, 13, date).await;
    let store: &dyn Store = &t.store;
    let options = BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer());
    run_batch(store, &options).await.unwrap();
    let (picks, emails) = day_results(store, date).await;
    let (first, second) = (&emails[0], &emails[1]);

    // The second user's email went out already: suppressing leaves it as it is.
    let sent = QueuedEmail {
        status: EmailStatus::Sent,
        ..second.clone()
    };
    store
        .save_chunk(date, Vec::new(), Some(vec![sent]), checkpoint(0, "render"))
        .await
        .unwrap();
    let suppression = |address: &str| Suppression {
        address: EmailAddress::parse(address).unwrap(),
        reason: SuppressionReason::HardBounce,
        created_at: 1,
        note: Some("550 no such user".to_owned()),
    };
    // Another spelling of the same mailbox is the same suppression.
    assert_eq!(
        store
            .suppress(suppression(&first.to.as_str().to_ascii_uppercase()))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .suppress(suppression(second.to.as_str()))
            .await
            .unwrap(),
        0
    );
    let states = email_states(store, date).await;
    let state = |user: &str| states.iter().find(|s| s.0 == user).unwrap().1;
    assert_eq!(state(first.user_id.as_str()), EmailStatus::Suppressed);
    assert_eq!(state(second.user_id.as_str()), EmailStatus::Sent);
    assert_eq!(store.suppressions().await.unwrap().len(), 2);

    // The next run leaves both out: no picks, no new email; the sent one stays.
    let run = run_batch(store, &options).await.unwrap();
    let load = run.phases.iter().find(|p| p.name == "load").unwrap();
    assert_eq!(load.counts["suppressed_users"], 2);
    let (picks_now, emails_now) = day_results(store, date).await;
    assert!(picks_now.iter().all(|p| p.user_id != first.user_id));
    assert!(emails_now.iter().all(|e| e.user_id != first.user_id));
    assert_eq!(
        emails_now
            .iter()
            .find(|e| e.user_id == second.user_id)
            .map(|e| e.status),
        Some(EmailStatus::Sent)
    );
    assert_eq!(picks_now.len(), picks.len() - 2);

    // Lifted: the user is back in the next run.
    let address = first.to.clone();
    assert!(store.unsuppress(&address).await.unwrap());
    assert!(!store.unsuppress(&address).await.unwrap());
    run_batch(store, &options).await.unwrap();
    let (_, emails_after) = day_results(store, date).await;
    let back = emails_after
        .iter()
        .find(|e| e.user_id == first.user_id)
        .expect("the user gets an email again");
    assert_eq!(back.status, EmailStatus::Pending);
    assert_eq!(back.content, first.content);
}

/// The fallback of a user whose matching failed keeps yesterday's sections (an email shows
/// its picks by section), drops jobs no longer eligible and renumbers the ranks.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_users_fallback_keeps_yesterdays_sections_and_only_eligible_jobs() {
    use mailscore::pipeline::compute::fallback_from_yesterday;
    use mailscore::pipeline::{DayInputs, compute_day};
    use mailscore::scoring::{DayWindows, ScoringConfig};
    let date = parse_date("2025-11-25").unwrap();
    let yesterday = parse_date("2025-11-24").unwrap();
    let t = TestStore::with_generated(1500, 120, 60, 17, date).await;
    let store: &dyn Store = &t.store;
    run_batch(
        store,
        &BatchOptions::new(yesterday, TimeZoneSetting::tokyo(), test_signer()),
    )
    .await
    .unwrap();
    let stored = store.picks(yesterday, None).await.unwrap();
    let user = stored
        .iter()
        .max_by_key(|u| u.picks.len())
        .expect("someone was picked yesterday");

    // Today's job scores, with the first half of yesterday's jobs no longer eligible.
    let zone = TimeZoneSetting::tokyo();
    let config = ScoringConfig::default();
    let (masters, jobs, users) = (
        store.masters().await.unwrap(),
        store.job_columns().await.unwrap(),
        store.users().await.unwrap(),
    );
    let previous = Default::default();
    let inputs = DayInputs {
        jobs: &jobs,
        masters: &masters,
        users: &users,
        action_days: &[],
        previous: &previous,
        windows: DayWindows::new(date, &zone, &config),
        config: &config,
    };
    let mut scores = compute_day(&inputs, Phase::Scores).scores.unwrap();
    let gone: Vec<u64> = user.picks.iter().step_by(2).map(|p| p.job_id).collect();
    for job_id in &gone {
        let row = jobs
            .position(mailscore::domain::JobId::new(*job_id))
            .unwrap();
        scores.eligible[row] = false;
    }

    let fallback = fallback_from_yesterday(user, &jobs, &scores);
    assert!(fallback.fallback);
    assert_eq!(fallback.user_id, user.user_id);
    let expected: Vec<(u8, u64)> = user
        .picks
        .iter()
        .filter(|p| {
            !gone.contains(&p.job_id)
                && scores.eligible[jobs
                    .position(mailscore::domain::JobId::new(p.job_id))
                    .unwrap()]
        })
        .map(|p| (p.section, p.job_id))
        .collect();
    assert!(!expected.is_empty());
    let found: Vec<(u8, u64)> = fallback
        .picks
        .iter()
        .map(|p| (p.section, p.job_id))
        .collect();
    assert_eq!(
        found, expected,
        "yesterday's sections and order, minus ineligible jobs"
    );
    for section in fallback.picks.iter().map(|p| p.section) {
        let ranks: Vec<u8> = fallback
            .picks
            .iter()
            .filter(|p| p.section == section)
            .map(|p| p.rank)
            .collect();
        assert_eq!(ranks, (1..=ranks.len() as u8).collect::<Vec<_>>());
    }
}

/// An operator's `[scoring]` settings drive the run: here four sections (no editorial picks,
/// no new jobs) and at most two jobs of a company (`endcl_cd`) per email.
#[tokio::test(flavor = "multi_thread")]
async fn configured_sections_and_company_cap_shape_the_picks() {
    use mailscore::scoring::{ScoringConfig, SectionKind, SectionSpec};
    let date = parse_date("2025-11-25").unwrap();
    let t = TestStore::with_generated(1500, 120, 60, 19, date).await;
    let store: &dyn Store = &t.store;
    // The spec's sections without the editorial picks and the new jobs: 30 picks.
    let sections: Vec<SectionSpec> = ScoringConfig::default()
        .sections
        .into_iter()
        .filter(|s| !matches!(s.kind, SectionKind::Editorial | SectionKind::New))
        .collect();
    assert_eq!(sections.iter().map(|s| s.count).sum::<usize>(), 30);
    let config = ScoringConfig {
        company_cap: 2,
        sections: sections.clone(),
        ..ScoringConfig::default()
    };
    config.validate().unwrap();
    let options = BatchOptions {
        config,
        ..BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer())
    };
    let run = run_batch(store, &options).await.unwrap();
    assert_eq!(picks_phase(&run).counts["failed_users"], 0);
    let jobs = store.job_columns().await.unwrap();
    let picked = store.picks(date, None).await.unwrap();
    assert!(!picked.is_empty());
    let codes: Vec<u8> = sections.iter().map(|s| s.kind.code()).collect();
    for user in &picked {
        assert!(
            user.picks.len() <= 30,
            "{}: {}",
            user.user_id,
            user.picks.len()
        );
        assert!(user.picks.iter().all(|p| codes.contains(&p.section)));
        let mut companies: std::collections::HashMap<&str, usize> = Default::default();
        for pick in &user.picks {
            let row = jobs
                .position(mailscore::domain::JobId::new(pick.job_id))
                .unwrap();
            let company = jobs.endcl_cd.get(row);
            if !company.is_empty() {
                *companies.entry(company).or_default() += 1;
            }
        }
        assert!(companies.values().all(|&n| n <= 2), "{}", user.user_id);
    }
    assert!(
        picked.iter().any(|u| u.picks.len() == 30),
        "full emails exist"
    );
}

/// Compacting gives freed space back to the file system and keeps every remaining byte.
#[tokio::test(flavor = "multi_thread")]
async fn compacting_shrinks_the_file_after_a_purge_and_keeps_the_data() {
    let date = parse_date("2025-11-25").unwrap();
    let t = TestStore::with_generated(3000, 300, 120, 23, date).await;
    let store: &dyn Store = &t.store;
    run_batch(
        store,
        &BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer()),
    )
    .await
    .unwrap();
    let zone = TimeZoneSetting::tokyo();
    store
        .purge(mailscore::store::RetentionLimits {
            actions_before: zone.start_of_day(parse_date("2025-11-27").unwrap()),
            picks_before: parse_date("2025-01-01").unwrap(),
            emails_before: parse_date("2025-01-01").unwrap(),
            runs_before: 0,
        })
        .await
        .unwrap();
    assert_eq!(store.action_count().await.unwrap(), 0);
    let (jobs, users, picks, emails) = (
        store.job_columns().await.unwrap(),
        store.users().await.unwrap(),
        store.picks(date, None).await.unwrap(),
        store.emails(date, None).await.unwrap(),
    );
    let unused = store.storage_stats().await.unwrap().fragmented_bytes;

    let (before, after) = store.compact().await.unwrap();
    assert!(
        after < before,
        "{before} → {after} bytes with {unused} unused"
    );
    assert_eq!(
        std::fs::metadata(t.store.path()).unwrap().len(),
        after,
        "the size reported is the file's"
    );
    assert!(store.storage_stats().await.unwrap().fragmented_bytes < unused);
    assert_eq!(store.job_columns().await.unwrap(), jobs);
    assert_eq!(store.users().await.unwrap(), users);
    assert_eq!(store.picks(date, None).await.unwrap(), picks);
    assert_eq!(store.emails(date, None).await.unwrap(), emails);

    // A daily run compacts by itself once most of the file is unused (here: any of it).
    t.import(ImportKind::Jobs, &t.dir.path().join("generated/jobs.csv"))
        .await
        .unwrap();
    let options = BatchOptions {
        compact_above: Some(0),
        ..BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer())
    };
    let run = run_batch(store, &options).await.unwrap();
    let compacted = run
        .phases
        .iter()
        .find(|p| p.name == "compact")
        .expect("the re-import left most of the file unused: the run compacted");
    assert!(compacted.counts["file_bytes_after"] <= compacted.counts["file_bytes_before"]);
    let never = BatchOptions {
        compact_above: None,
        ..options
    };
    let run = run_batch(store, &never).await.unwrap();
    assert!(run.phases.iter().all(|p| p.name != "compact"));
}

#[tokio::test(flavor = "multi_thread")]
async fn recorded_actions_are_no_import_and_leave_an_earlier_dates_run_as_it_was() {
    use mailscore::domain::ActionType;
    use mailscore::domain::action::{ActionColumnsBuilder, ActionRow};
    let date = parse_date("2025-11-25").unwrap();
    let t = TestStore::with_generated(300, 30, 30, 5, date).await;
    let store: &dyn Store = &t.store;
    let options = BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer());
    run_batch(store, &options).await.unwrap();
    let before = day_results(store, date).await;
    let version = store.data_version().await.unwrap();
    let count = store.action_count().await.unwrap();

    // Opens and clicks of the morning's email, at 10:00 on the date itself.
    let at = TimeZoneSetting::tokyo()
        .parse_timestamp("2025-11-25 10:00:00+09")
        .unwrap();
    let user = before.0[0].user_id.as_str().to_owned();
    let job_id = before.0[0].picks[0].job_id;
    let mut builder = ActionColumnsBuilder::new();
    for action_type in [ActionType::Open, ActionType::Click] {
        builder.push(&ActionRow {
            user_id: &user,
            job_id,
            action_type: Some(action_type),
            action_at: at,
            fee: -1,
            ..Default::default()
        });
    }
    let tracked = builder.finish();
    assert_eq!(store.record_actions(tracked.clone()).await.unwrap(), 2);
    assert_eq!(
        store.record_actions(tracked).await.unwrap(),
        0,
        "each identity once"
    );
    assert_eq!(store.action_count().await.unwrap(), count + 2);
    assert_eq!(
        store.data_version().await.unwrap(),
        version,
        "recording tracked actions is no import"
    );

    // The date's own actions are outside its windows: a rerun gives the same results.
    run_batch(store, &options).await.unwrap();
    assert_eq!(day_results(store, date).await, before);
}

#[tokio::test]
async fn a_lease_is_renewed_by_its_holder_only_and_one_of_a_process_that_is_gone_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = mailscore::store::redb::RedbStore::open(dir.path()).unwrap();
        assert!(store.acquire_run_lock("a", 1_000, 5_000).await.unwrap());
        assert!(store.renew_run_lock("a", 9_000).await.unwrap());
        assert!(
            !store.renew_run_lock("b", 9_000).await.unwrap(),
            "b holds no lease to renew"
        );
        assert_eq!(
            store.run_lock_holder().await.unwrap(),
            Some(("a".to_owned(), 9_000))
        );
        assert!(
            !store.acquire_run_lock("b", 2_000, 9_000).await.unwrap(),
            "a lives in this process"
        );
        // The process holding "a" ends without releasing it (as if killed).
    }
    let store = mailscore::store::redb::RedbStore::open(dir.path()).unwrap();
    assert!(
        store.acquire_run_lock("b", 2_000, 9_000).await.unwrap(),
        "only one process opens the file, so a's process is gone: no need to wait for the expiry"
    );
    assert!(
        !store.renew_run_lock("a", 12_000).await.unwrap(),
        "a lost it"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_of_one_user_stores_that_users_picks_and_email_and_nothing_else() {
    let date = parse_date("2025-11-25").unwrap();
    let t = TestStore::with_generated(800, 60, 30, 17, date).await;
    let store: &dyn Store = &t.store;
    let users = store.users().await.unwrap();
    let user = users
        .iter()
        .find(|u| u.is_active && u.subscribed)
        .expect("an active, subscribed user")
        .user_id
        .clone();
    let one = BatchOptions {
        users: Some(vec![user.clone()]),
        chunk_users: 7,
        ..BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer())
    };
    let run = run_batch(store, &one).await.unwrap();
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(run.users.as_deref(), Some(std::slice::from_ref(&user)));
    let names: Vec<&str> = run.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["load", "profiles", "scores", "picks", "render", "store"],
        "no inbox import and no retention"
    );
    assert_eq!(run.phases[0].counts["users"], 1);
    let (picks, emails) = day_results(store, date).await;
    assert_eq!(picks.len(), 1, "only the user's picks are stored");
    assert_eq!(picks[0].user_id, user);
    assert_eq!(emails.len(), 1);
    assert_eq!(store.day_checkpoint(date).await.unwrap(), None);
    assert_eq!(
        store.job_scores(date).await.unwrap(),
        None,
        "the date's job scores are a run of every user's"
    );

    // The whole date gives that user the same picks and email.
    run_batch(
        store,
        &BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer()),
    )
    .await
    .unwrap();
    let (all_picks, all_emails) = day_results(store, date).await;
    assert!(all_picks.len() > 1);
    let same_user = |p: &UserPicks| p.user_id == user;
    assert_eq!(all_picks.iter().find(|p| same_user(p)), Some(&picks[0]));
    let email = all_emails.iter().find(|e| e.user_id == user).unwrap();
    assert_eq!(
        (&email.subject, &email.content),
        (&emails[0].subject, &emails[0].content)
    );

    // Run again for the one user, after the date's run: the others stay as they are.
    run_batch(store, &one).await.unwrap();
    assert_eq!(day_results(store, date).await.0, all_picks);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_run_records_where_it_stopped_and_its_date_resumes_to_the_same_picks() {
    let date = parse_date("2025-11-25").unwrap();
    let t = TestStore::with_generated(800, 60, 30, 19, date).await;
    let store: &dyn Store = &t.store;
    let chunked = || BatchOptions {
        chunk_users: 2,
        ..BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer())
    };
    let straight = run_batch(store, &chunked()).await.unwrap();
    assert_eq!(straight.status, RunStatus::Succeeded);
    let reference = day_results(store, date).await;

    // Cancelled before it starts: nothing of the date changes.
    let cancelled = chunked();
    cancelled.cancel.cancel();
    let run = run_batch(store, &cancelled).await.unwrap();
    assert_eq!(run.status, RunStatus::Cancelled);
    assert!(
        run.error
            .as_deref()
            .is_some_and(|e| e.contains("before loading")),
        "{run:?}"
    );
    assert_eq!(store.runs(1).await.unwrap()[0], run, "its record says so");
    assert_eq!(day_results(store, date).await, reference);

    // Cancelled once a chunk is stored: the checkpoint stays, the next run resumes it.
    let midway = chunked();
    let (progress, cancel) = (
        std::sync::Arc::clone(&midway.progress),
        midway.cancel.clone(),
    );
    let watcher = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while progress.chunks().is_none_or(|(done, _)| done == 0)
            && std::time::Instant::now() < deadline
        {
            std::thread::yield_now();
        }
        cancel.cancel();
    });
    let run = run_batch(store, &midway).await.unwrap();
    watcher.join().unwrap();
    assert_eq!(run.status, RunStatus::Cancelled, "{run:?}");
    let checkpoint = store.day_checkpoint(date).await.unwrap().expect("kept");
    let n_chunks = picks_phase(&straight).counts["chunks"];
    assert!(
        checkpoint.chunks_done >= 1 && u64::from(checkpoint.chunks_done) < n_chunks,
        "{checkpoint:?} of {n_chunks}"
    );
    assert!(
        run.error.as_deref().unwrap().contains("after chunk"),
        "{run:?}"
    );

    let resumed = run_batch(store, &chunked()).await.unwrap();
    assert_eq!(resumed.status, RunStatus::Succeeded);
    assert_eq!(
        picks_phase(&resumed).counts["resumed_from_chunk"],
        u64::from(checkpoint.chunks_done)
    );
    assert_eq!(day_results(store, date).await, reference);
}
