//! Bad mornings: a cut-off or partial feed never empties tomorrow's emails (the snapshot
//! guard), a feed split over files is one snapshot, and a daily run whose inbox file was
//! refused says so in its record, its output and its exit status.

use std::path::Path;
use std::process::{Command, Output};

use mailscore::domain::TimeZoneSetting;
use mailscore::ingest::{ImportOptions, IngestError, import_jobs};
use mailscore::store::prelude::*;

use crate::helpers::{TestStore, job_row, jobs_csv};

fn feed(ids: std::ops::Range<u64>) -> String {
    let rows: Vec<String> = ids.map(|id| job_row(id, &format!("求人{id}"))).collect();
    jobs_csv(&rows)
}

async fn active_jobs(t: &TestStore) -> u64 {
    t.store.job_counts().await.unwrap().active
}

#[tokio::test]
async fn a_feed_that_would_deactivate_most_jobs_is_refused_unless_forced() {
    let t = TestStore::new();
    let options = ImportOptions::new(TimeZoneSetting::tokyo());
    let full = t.file("full.csv", feed(1..1001));
    import_jobs(&t.store, &[full], &options).await.unwrap();
    assert_eq!(active_jobs(&t).await, 1000);
    let reports_before = t.store.import_summaries(100).await.unwrap().len();

    let partial = t.file("partial.csv", feed(1..601));
    let error = import_jobs(&t.store, std::slice::from_ref(&partial), &options)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            IngestError::SnapshotShrink {
                active: 1000,
                deactivated: 400,
                remaining: 600,
                max_percent: 30,
                ..
            }
        ),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("400 of the 1000 active jobs") && message.contains("--allow-shrink"),
        "{message}"
    );
    assert_eq!(active_jobs(&t).await, 1000, "nothing was deactivated");
    assert_eq!(
        t.store.import_summaries(100).await.unwrap().len(),
        reports_before,
        "a refused feed writes no report"
    );

    let header_only = t.file("header.csv", feed(1..1));
    assert!(matches!(
        import_jobs(&t.store, &[header_only], &options).await,
        Err(IngestError::SnapshotShrink {
            deactivated: 1000,
            ..
        })
    ));
    assert_eq!(active_jobs(&t).await, 1000);

    // A shrink within the limit passes; forcing takes any.
    let within = t.file("within.csv", feed(1..701));
    import_jobs(&t.store, &[within], &options).await.unwrap();
    assert_eq!(active_jobs(&t).await, 700);
    let forced = ImportOptions {
        max_shrink_percent: None,
        ..options.clone()
    };
    let report = import_jobs(&t.store, &[partial], &forced).await.unwrap();
    assert_eq!(report.count("jobs_deactivated"), 100);
    assert_eq!(active_jobs(&t).await, 600);
}

#[tokio::test]
async fn a_feed_split_over_two_files_is_one_snapshot() {
    let t = TestStore::new();
    let options = ImportOptions::new(TimeZoneSetting::tokyo());
    let whole = t.file("whole.csv", feed(1..1001));
    import_jobs(&t.store, &[whole], &options).await.unwrap();
    let part1 = t.file("part1.csv", feed(1..501));
    // The second part repeats the first part's last job: the last row wins, reported.
    let part2 = t.file("part2.csv", feed(500..1001));
    let report = import_jobs(&t.store, &[part1, part2.clone()], &options)
        .await
        .unwrap();
    assert_eq!(report.rows_imported, 1000);
    assert_eq!(report.count("jobs_deactivated"), 0);
    assert_eq!(report.count("duplicates_in_file"), 1);
    let repeat = &report.issues[0];
    assert_eq!(
        repeat.file.as_deref(),
        Some(part2.display().to_string().as_str())
    );
    assert_eq!(repeat.line, 2);
    assert!(repeat.message.contains("part1.csv"), "{}", repeat.message);
    assert_eq!(active_jobs(&t).await, 1000);

    let other_header = t.file(
        "other.csv",
        feed(1..10).replace(",image_url_1", ",image_url_2"),
    );
    let first = t.file("first.csv", feed(1..501));
    assert!(matches!(
        import_jobs(&t.store, &[first, other_header], &options).await,
        Err(IngestError::HeaderMismatch { .. })
    ));
}

fn mailscore(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailscore"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs")
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_daily_run_with_a_refused_inbox_feed_succeeds_with_warnings_and_exit_status_3() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let generated = dir.path().join("generated");
    let generate = mailscore(
        &data,
        &[
            "generate",
            "--jobs",
            "400",
            "--users",
            "40",
            "--days",
            "30",
            "--end-date",
            "2025-11-24",
            "--out",
            generated.to_str().unwrap(),
        ],
    );
    assert!(generate.status.success(), "{generate:?}");
    for kind in ["jobs", "users", "actions"] {
        let file = generated.join(format!("{kind}.csv"));
        let output = mailscore(&data, &["import", kind, file.to_str().unwrap()]);
        assert!(output.status.success(), "{output:?}");
    }

    // Yesterday's feed cut after 100 rows, dropped into the inbox twice under one name.
    let text = std::fs::read_to_string(generated.join("jobs.csv")).unwrap();
    let cut: String = text.split_inclusive('\n').take(101).collect();
    let inbox = data.join("inbox");
    let mut statuses = Vec::new();
    for _ in 0..2 {
        std::fs::create_dir_all(&inbox).unwrap();
        std::fs::write(inbox.join("jobs.csv"), &cut).unwrap();
        let run = mailscore(&data, &["batch", "run", "--date", "2025-11-25"]);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr),
        );
        assert!(stdout.contains("succeeded with warnings"), "{stdout}");
        assert!(
            stderr.contains("warning: inbox:") && stderr.contains("would deactivate"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("\x1b["),
            "no colour codes off a terminal: {stderr}"
        );
        statuses.push(run.status.code());
    }
    assert_eq!(statuses, [Some(3), Some(3)], "the documented exit status");

    let failed = names_in(&inbox.join("failed"));
    assert_eq!(
        failed.len(),
        4,
        "two feeds and two reports, none overwritten: {failed:?}"
    );
    assert_eq!(
        failed
            .iter()
            .filter(|n| n.ends_with(".report.json"))
            .count(),
        2
    );
    assert!(failed.iter().all(|n| n.starts_with("jobs.")), "{failed:?}");
    assert!(!inbox.join("jobs.csv").exists());

    // The picks were made from the previous snapshot: every job is still active.
    let status = mailscore(&data, &["status"]);
    let status_text = String::from_utf8_lossy(&status.stdout);
    assert!(status_text.contains("jobs: 400 active"), "{status_text}");
    let picks = mailscore(
        &data,
        &[
            "picks",
            "export",
            "--date",
            "2025-11-25",
            "--format",
            "csv",
            "--out",
            "-",
        ],
    );
    let picked_jobs: std::collections::HashSet<&str> = std::str::from_utf8(&picks.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| line.split(',').nth(4).unwrap())
        .collect();
    assert!(
        picked_jobs.len() > 100,
        "the picks come from all 400 jobs, not the cut feed's 100: {}",
        picked_jobs.len()
    );
    let list = mailscore(&data, &["batch", "list"]);
    let list_text = String::from_utf8_lossy(&list.stdout);
    assert!(list_text.contains("succeeded with warnings"), "{list_text}");
    assert!(list_text.contains("warning: inbox:"), "{list_text}");

    // A good feed the next morning: a clean run, exit 0, the file kept in done/.
    std::fs::write(inbox.join("jobs.csv"), &text).unwrap();
    let run = mailscore(&data, &["batch", "run", "--date", "2025-11-25"]);
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    assert!(String::from_utf8_lossy(&run.stdout).contains(": succeeded in"));
    let done = names_in(&inbox.join("done"));
    assert_eq!(done.len(), 2, "{done:?}");
}
