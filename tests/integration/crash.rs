//! A killed import leaves the previous data exactly as it was, and the store openable.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mailscore::store::Store;
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
