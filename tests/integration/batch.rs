//! The daily run against a real store: generate, import, run, re-run.

use mailscore::domain::TimeZoneSetting;
use mailscore::domain::batch::RunStatus;
use mailscore::domain::time::parse_date;
use mailscore::ingest::ImportKind;
use mailscore::pipeline::{BatchOptions, Phase, run_batch};
use mailscore::store::Store;

use crate::helpers::{TestStore, test_signer};

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
