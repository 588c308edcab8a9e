//! A killed import leaves the previous data exactly as it was, and the store openable; a
//! killed daily run, rerun, ends as an uninterrupted one, resuming after its stored chunks.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mailscore::store::prelude::*;
use mailscore::store::redb::RedbStore;

use crate::helpers::{job_row, jobs_csv};

fn mailscore(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailscore"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

async fn stored_job_ids(data_dir: &std::path::Path) -> Vec<u64> {
    let store = RedbStore::open(data_dir).expect("the store opens after a kill");
    store.job_columns().await.unwrap().job_id
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_killed_midway_leaves_the_previous_snapshot_intact() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let small = dir.path().join("small.csv");
    std::fs::write(&small, jobs_csv(&[job_row(1, "A"), job_row(2, "B")])).unwrap();
    assert!(
        mailscore(&data_dir)
            .args(["import", "jobs"])
            .arg(&small)
            .status()
            .unwrap()
            .success()
    );

    let filler = "詳しい仕事内容はお問い合わせください。".repeat(20);
    let big_rows: Vec<String> = (10..40_010)
        .map(|id| job_row(id, &format!("求人{id}{filler}")))
        .collect();
    let big = dir.path().join("big.csv");
    std::fs::write(&big, jobs_csv(&big_rows)).unwrap();
    let big_ids: Vec<u64> = (10..40_010).collect();

    let mut kills_while_running = 0;
    let mut delay = Duration::from_millis(150);
    for _attempt in 0..8 {
        let mut child = mailscore(&data_dir)
            .args(["import", "jobs"])
            .arg(&big)
            .spawn()
            .unwrap();
        let started = Instant::now();
        while started.elapsed() < delay {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills_while_running += 1;
        }
        child.wait().unwrap();
        let ids = stored_job_ids(&data_dir).await;
        assert!(
            ids == vec![1, 2] || ids == big_ids,
            "after a kill the store holds one whole snapshot, found {} jobs",
            ids.len()
        );
        if ids == big_ids {
            break;
        }
        delay = delay.mul_f64(1.8);
    }
    assert!(
        kills_while_running >= 1,
        "at least one import was killed while running"
    );
    // Whatever happened, a later import still succeeds on the same store.
    assert!(
        mailscore(&data_dir)
            .args(["import", "jobs"])
            .arg(&small)
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(stored_job_ids(&data_dir).await, vec![1, 2]);
}

/// Runs `mailscore` with a fixed key and JSON logs; returns its output, asserting success.
fn run_ok(data_dir: &std::path::Path, args: &[&str]) {
    let status = mailscore(data_dir)
        .args(["--secret-key", "crash-test-key-of-thirty-two-bytes!"])
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "mailscore {args:?}");
}

/// Starts a daily run (`batch run --date date` and `extra` arguments) and SIGKILLs it once
/// a log line contains `needle`, `delay` later; returns whether it was still running when
/// killed.
fn kill_when(
    data_dir: &std::path::Path,
    date: &str,
    extra: &[&str],
    needle: &str,
    delay: Duration,
) -> bool {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailscore"))
        .arg("--data-dir")
        .arg(data_dir)
        .args([
            "--secret-key",
            "crash-test-key-of-thirty-two-bytes!",
            "--log-format",
            "json",
            "--log-level",
            "info",
        ])
        .args(["batch", "run", "--date", date])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let started = Instant::now();
    let mut lines = std::io::BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        if line.contains(needle) || started.elapsed() > Duration::from_secs(120) {
            break;
        }
    }
    std::thread::sleep(delay);
    let running = child.try_wait().unwrap().is_none();
    if running {
        child.kill().unwrap();
    }
    child.wait().unwrap();
    running
}

/// Starts a daily run and SIGKILLs it once the log says `phase` started (plus a moment);
/// returns whether it was still running when killed.
fn kill_during(data_dir: &std::path::Path, date: &str, phase: &str) -> bool {
    let needle = format!("\"phase\":\"{phase}\"");
    kill_when(data_dir, date, &[], &needle, Duration::from_millis(30))
}

/// The checkpoint of the date's unfinished run, read with the store opened in this process.
fn day_checkpoint(
    data_dir: &std::path::Path,
    date: &str,
) -> Option<mailscore::domain::batch::DayCheckpoint> {
    let date = mailscore::domain::time::parse_date(date).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = RedbStore::open(data_dir).expect("the store opens after a kill");
        store.day_checkpoint(date).await.unwrap()
    })
}

/// The run records, newest first.
fn runs(data_dir: &std::path::Path) -> Vec<mailscore::domain::batch::RunRecord> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = RedbStore::open(data_dir).unwrap();
        store.runs(100).await.unwrap()
    })
}

fn exported(data_dir: &std::path::Path, date: &str, name: &str) -> Vec<(String, Vec<u8>)> {
    let out = data_dir.parent().unwrap().join(name);
    run_ok(
        data_dir,
        &[
            "picks",
            "export",
            "--date",
            date,
            "--out",
            out.join("picks.csv").to_str().unwrap(),
        ],
    );
    run_ok(
        data_dir,
        &[
            "emails",
            "export",
            "--date",
            date,
            "--out",
            out.join("emails").to_str().unwrap(),
        ],
    );
    let mut files = vec![(
        "picks.csv".to_owned(),
        std::fs::read(out.join("picks.csv")).unwrap(),
    )];
    let mut emails: Vec<_> = std::fs::read_dir(out.join("emails"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    emails.sort();
    for path in emails {
        files.push((
            path.file_name().unwrap().to_string_lossy().into_owned(),
            std::fs::read(&path).unwrap(),
        ));
    }
    files
}

#[test]
fn a_daily_run_killed_during_matching_rendering_or_after_a_chunk_ends_as_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let date = "2025-11-25";
    let seed_dir = dir.path().join("seed");
    let dataset = dir.path().join("dataset");
    run_ok(
        &seed_dir,
        &[
            "generate",
            "--jobs",
            "20000",
            "--users",
            "1500",
            "--days",
            "60",
            "--seed",
            "9",
            "--end-date",
            date,
            "--out",
            dataset.to_str().unwrap(),
        ],
    );
    for kind in ["jobs", "users", "actions"] {
        run_ok(
            &seed_dir,
            &[
                "import",
                kind,
                dataset.join(format!("{kind}.csv")).to_str().unwrap(),
            ],
        );
    }
    let reference = dir.path().join("reference/data");
    let crashed = dir.path().join("crashed/data");
    for target in [&reference, &crashed] {
        std::fs::create_dir_all(target).unwrap();
        std::fs::copy(
            seed_dir.join("mailscore.redb"),
            target.join("mailscore.redb"),
        )
        .unwrap();
    }

    run_ok(&reference, &["batch", "run", "--date", date]);
    let expected = exported(&reference, date, "reference-export");

    let killed_in_picks = kill_during(&crashed, date, "picks");
    let killed_in_render = kill_during(&crashed, date, "render");
    assert!(
        killed_in_picks || killed_in_render,
        "at least one run was killed while running"
    );
    // Chunks of 100 users: killed once a chunk is stored, the rerun with the same chunk size
    // resumes after the stored chunks.
    let chunks = ["--chunk-users", "100"];
    assert!(
        kill_when(&crashed, date, &chunks, "chunk stored", Duration::ZERO),
        "the run was killed after a stored chunk, while running"
    );
    let checkpoint =
        day_checkpoint(&crashed, date).expect("the killed run left the checkpoint of its chunks");
    assert_eq!(checkpoint.chunk_users, 100);
    assert!(checkpoint.chunks_done >= 1);
    run_ok(
        &crashed,
        &["batch", "run", "--date", date, "--chunk-users", "100"],
    );
    assert_eq!(
        day_checkpoint(&crashed, date),
        None,
        "the run finished the date"
    );
    let records = runs(&crashed);
    let run = &records[0];
    assert_eq!(run.status, mailscore::domain::batch::RunStatus::Succeeded);
    // The killed runs' records say they never finished; none is left `running`.
    let killed: Vec<_> = records[1..]
        .iter()
        .filter(|r| r.status == mailscore::domain::batch::RunStatus::Failed)
        .collect();
    assert!(!killed.is_empty());
    assert!(killed.iter().all(|r| {
        r.error
            .as_deref()
            .is_some_and(|e| e.contains("ended before it finished"))
    }));
    assert!(
        records
            .iter()
            .all(|r| r.status != mailscore::domain::batch::RunStatus::Running)
    );
    let picks = run.phases.iter().find(|p| p.name == "picks").unwrap();
    assert_eq!(
        picks.counts["resumed_from_chunk"],
        u64::from(checkpoint.chunks_done)
    );
    assert_eq!(
        picks.counts["users_resumed"],
        u64::from(checkpoint.chunks_done) * 100,
        "the rerun skipped the users of the stored chunks"
    );
    let found = exported(&crashed, date, "crashed-export");

    assert_eq!(found.len(), expected.len(), "as many emails");
    for ((name, bytes), (expected_name, expected_bytes)) in found.iter().zip(&expected) {
        assert_eq!(name, expected_name);
        assert!(
            bytes == expected_bytes,
            "{name} differs from the uninterrupted run's"
        );
    }
    // One email per (user, date): the index lists each user once.
    let index = String::from_utf8(
        found
            .iter()
            .find(|(n, _)| n == "index.csv")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    let users: Vec<&str> = index
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    let mut unique = users.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), users.len());
    assert!(!users.is_empty());
}
