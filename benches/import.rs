//! Reference-size import benchmark: `cargo bench --bench import`.
//!
//! Generates 100,000 jobs × 10,000 users × 365 days of actions (once, cached under
//! `target/bench-data/`), then imports each file with the release binary in a fresh process
//! and prints wall time, peak RSS and rows per second; then times loading every active job's
//! scoring fields from the store. Sizes can be changed with `MAILSCORE_BENCH_JOBS`,
//! `MAILSCORE_BENCH_USERS`, `MAILSCORE_BENCH_DAYS`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mailscore::domain::time::parse_date;
use mailscore::generate::{GenerateOptions, generate};
use mailscore::store::JobStore;
use mailscore::store::redb::RedbStore;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs the binary to completion; returns wall time and the child's peak RSS in bytes.
// The child is reaped by `wait4` (which also reports its peak RSS), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[&str], data_dir: &Path) -> (Duration, u64) {
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_mailscore"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the mailscore binary starts");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    assert_eq!(waited, pid, "wait4 reaped the child");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "mailscore {args:?} failed"
    );
    (wall, usage.ru_maxrss as u64 * 1024)
}

fn count_data_rows(path: &Path) -> u64 {
    let mut reader = csv::Reader::from_path(path).expect("generated file opens");
    let mut record = csv::ByteRecord::new();
    let mut n = 0;
    while reader
        .read_byte_record(&mut record)
        .expect("generated file parses")
    {
        n += 1;
    }
    n
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench` absent: do nothing there.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let jobs = env_or("MAILSCORE_BENCH_JOBS", 100_000);
    let users = env_or("MAILSCORE_BENCH_USERS", 10_000);
    let days = env_or("MAILSCORE_BENCH_DAYS", 365) as u32;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let dataset = root.join(format!("dataset-{jobs}-{users}-{days}"));
    if !dataset.join("actions.csv").exists() {
        let started = Instant::now();
        let options = GenerateOptions {
            jobs,
            users,
            days,
            seed: 1,
            dirty: false,
            end_date: parse_date("2025-11-25").expect("valid date"),
        };
        generate(&options, &dataset).expect("dataset generated");
        println!(
            "generated {jobs} jobs × {users} users × {days} days in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let data_dir = root.join("store");
    let _ = std::fs::remove_dir_all(&data_dir);

    println!(
        "{:<28} {:>10} {:>10} {:>14} {:>12}",
        "step", "wall s", "peak MB", "rows/s", "rows"
    );
    for (kind, file) in [
        ("jobs", "jobs.csv"),
        ("users", "users.csv"),
        ("actions", "actions.csv"),
    ] {
        let path = dataset.join(file);
        let rows = count_data_rows(&path);
        let (wall, rss) = run_measured(
            &["import", kind, path.to_str().expect("utf-8 path")],
            &data_dir,
        );
        println!(
            "{:<28} {:>10.3} {:>10.1} {:>14.0} {:>12}",
            format!("import {kind}"),
            wall.as_secs_f64(),
            rss as f64 / 1e6,
            rows as f64 / wall.as_secs_f64(),
            rows
        );
    }
    // Re-importing the same feed: the daily case (every job rewritten, none new).
    let path = dataset.join("jobs.csv");
    let (wall, rss) = run_measured(
        &["import", "jobs", path.to_str().expect("utf-8 path")],
        &data_dir,
    );
    println!(
        "{:<28} {:>10.3} {:>10.1}",
        "import jobs (next day)",
        wall.as_secs_f64(),
        rss as f64 / 1e6
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store = RedbStore::open(&data_dir).expect("store opens");
    let mut timings = Vec::new();
    let mut n_jobs = 0;
    for _ in 0..7 {
        let started = Instant::now();
        let columns = runtime
            .block_on(store.job_columns())
            .expect("job columns load");
        timings.push(started.elapsed());
        n_jobs = columns.len();
    }
    timings.sort();
    println!(
        "{:<28} {:>10.3} {:>10} {:>14} {:>12}   (median of 7; min {:.3} s, max {:.3} s)",
        "load active job columns",
        timings[3].as_secs_f64(),
        "-",
        "-",
        n_jobs,
        timings[0].as_secs_f64(),
        timings[6].as_secs_f64()
    );
    let size = std::fs::metadata(store.path())
        .map(|m| m.len())
        .unwrap_or(0);
    println!("database file: {:.1} MB", size as f64 / 1e6);
}
