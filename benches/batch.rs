//! Reference-size daily-run benchmark: `cargo bench --bench batch`.
//!
//! Uses the store left by `cargo bench --bench import` (it runs that import itself when the
//! store is missing), then:
//! 1. runs `mailscore batch run --until picks` in a fresh process: wall time, peak RSS and the
//!    per-phase figures of its run record;
//! 2. in process, times job scores, and profiles + picks for 1,000 / 3,000 / 10,000 users
//!    to show how time grows with users;
//! 3. times one user's 40 picks recomputed on demand.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use mailscore::domain::UserId;
use mailscore::domain::time::parse_date;
use mailscore::matching::{MatchContext, UserMatcher, picks_for_user};
use mailscore::pipeline::{DayInputs, Phase, compute_day};
use mailscore::scoring::{DayWindows, ScoringConfig};
use mailscore::store::prelude::*;
use mailscore::store::redb::RedbStore;

const DATE: &str = "2025-11-25";

// The child is reaped by `wait4` (which also reports its peak RSS), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[&str], data_dir: &Path) -> (f64, u64, String) {
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_mailscore"))
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--log-level")
        .arg("warn")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the mailscore binary starts");
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.expect("piped stdout");
    let mut output = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut output).expect("child output");
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "mailscore {args:?} failed"
    );
    (
        started.elapsed().as_secs_f64(),
        usage.ru_maxrss as u64 * 1024,
        output,
    )
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let data_dir = root.join("store");
    if !data_dir.join("mailscore.redb").exists() {
        let status = Command::new(env!("CARGO"))
            .args(["bench", "--bench", "import"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs the import bench");
        assert!(status.success(), "the import bench prepares the store");
    }

    let (wall, rss, output) = run_measured(
        &["batch", "run", "--date", DATE, "--until", "picks"],
        &data_dir,
    );
    println!(
        "batch run --until picks (fresh process): {wall:.3} s wall, peak RSS {:.1} MB",
        rss as f64 / 1e6
    );
    print!("{output}");

    // The whole daily run: the day's feed waiting in the inbox, imported, then every phase
    // up to rendering and queueing the emails.
    let inbox = data_dir.join("inbox");
    std::fs::create_dir_all(&inbox).expect("inbox");
    let feed = root.join("dataset-100000-10000-365/jobs.csv");
    std::fs::copy(&feed, inbox.join("jobs.csv")).expect("the feed is copied to the inbox");
    let (wall, rss, output) = run_measured(&["batch", "run", "--date", DATE], &data_dir);
    println!(
        "\nwhole daily run with the feed import (fresh process): {wall:.3} s wall, peak RSS {:.1} MB",
        rss as f64 / 1e6
    );
    print!("{output}");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store = RedbStore::open(&data_dir).expect("store opens");
    let zone = mailscore::domain::TimeZoneSetting::tokyo();
    let date = parse_date(DATE).expect("date");
    let config = ScoringConfig::default();
    let windows = DayWindows::new(date, &zone, &config);
    let (masters, jobs, users, days) = runtime.block_on(async {
        (
            store.masters().await.expect("masters"),
            store.job_columns().await.expect("jobs"),
            store.users().await.expect("users"),
            store
                .action_days(windows.history_start, windows.day_start)
                .await
                .expect("actions"),
        )
    });
    let previous = mailscore::pipeline::PreviousPicks::default();

    let inputs = DayInputs {
        jobs: &jobs,
        masters: &masters,
        users: &users,
        action_days: &days,
        previous: &previous,
        windows,
        config: &config,
    };
    let started = Instant::now();
    let scored = compute_day(&inputs, Phase::Scores);
    println!(
        "\nin process: actions aggregation + profiles + job scores for {} jobs: {:.3} s (job scores alone {:.3} s)",
        jobs.len(),
        started.elapsed().as_secs_f64(),
        scored
            .phases
            .iter()
            .find(|p| p.name == "scores")
            .map_or(0, |p| p.duration_ms) as f64
            / 1000.0
    );

    println!(
        "{:>8} {:>14} {:>14} {:>12}",
        "users", "profiles s", "picks s", "µs/user"
    );
    for n in [1_000usize, 3_000, 10_000] {
        let mut subset = Vec::with_capacity(n);
        for i in 0..n {
            let mut user = users[i % users.len()].clone();
            if i >= users.len() {
                user.user_id =
                    UserId::parse(&format!("{}-{}", user.user_id, i / users.len())).expect("id");
            }
            subset.push(user);
        }
        let inputs = DayInputs {
            users: &subset,
            ..inputs
        };
        let results = compute_day(&inputs, Phase::Picks);
        let phase_s = |name: &str| {
            results
                .phases
                .iter()
                .find(|p| p.name == name)
                .map_or(0, |p| p.duration_ms) as f64
                / 1000.0
        };
        println!(
            "{:>8} {:>14.3} {:>14.3} {:>12.0}",
            n,
            phase_s("profiles"),
            phase_s("picks"),
            phase_s("picks") * 1e6 / n as f64
        );
    }

    let scores = scored.scores.as_ref().expect("scores computed");
    let context = MatchContext::new(
        &jobs,
        scores,
        &scored.job_company,
        &scored.stats.recent_applications,
        &scored.geography,
        windows,
        &config,
    );
    // 100,000 users: the real profiles cycled (the dataset has 10,000), picks only.
    {
        use rayon::prelude::*;
        let pairs: Vec<_> = users.iter().zip(&scored.profiles).collect();
        let started = Instant::now();
        let n_picked: usize = (0..100_000usize)
            .into_par_iter()
            .map(|i| {
                let (user, profile) = pairs[i % pairs.len()];
                picks_for_user(&context, user, profile, (&[], &[]))
                    .map_or(0, |p| usize::from(!p.is_empty()))
            })
            .sum();
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{:>8} {:>14} {:>14.3} {:>12.0}   (10,000 real profiles cycled; {n_picked} users picked)",
            100_000,
            "-",
            seconds,
            seconds * 1e6 / 100_000.0
        );
    }
    let mut timings = Vec::new();
    for (user, profile) in users
        .iter()
        .zip(&scored.profiles)
        .filter(|(u, _)| u.is_active && u.subscribed)
        .take(200)
    {
        let started = Instant::now();
        let picks = picks_for_user(&context, user, profile, (&[], &[]));
        timings.push(started.elapsed().as_secs_f64() * 1000.0);
        // The pruned lists must give exactly what full scans give.
        let reference = UserMatcher::new(&context, user, profile, (&[], &[])).picks_by_full_scan();
        assert_eq!(
            picks.as_deref(),
            Some(reference.as_slice()),
            "pruned picks differ for user {}",
            user.user_id
        );
    }
    timings.sort_by(f64::total_cmp);

    // Rendering alone: stored emails rendered to HTML and text from their packed views, as
    // the sender does, on one core.
    let signer = mailscore::tokens::TokenSigner::new(
        &std::fs::read(data_dir.join("secret.key")).expect("the run created the secret key"),
    );
    let settings = mailscore::render::EmailSettings::default();
    let renderer = mailscore::templates::load_renderer(&settings);
    let queued = runtime.block_on(store.emails(date, None)).expect("emails");
    let sample: Vec<_> = queued.iter().take(2_000).collect();
    let started = Instant::now();
    let mut bytes = 0usize;
    for email in &sample {
        let rendered = renderer
            .render_packed(&email.content, &signer, &settings, email.user_id.as_str())
            .expect("unpacks");
        bytes += rendered.html.len() + rendered.text.len();
    }
    let seconds = started.elapsed().as_secs_f64();
    let stored: usize = queued
        .iter()
        .map(|e| e.content.len() + e.subject.len() + e.to.as_str().len())
        .sum();
    println!(
        "rendering alone, one core: {:.0} emails/s ({} emails, {:.1} KB of HTML + text each); stored email data for the day: {:.1} MB for {} emails",
        sample.len() as f64 / seconds,
        sample.len(),
        bytes as f64 / sample.len() as f64 / 1e3,
        stored as f64 / 1e6,
        queued.len()
    );
    println!(
        "one user's picks on demand (context ready): median {:.3} ms, p95 {:.3} ms over {} users (each equal to a full-scan reference)",
        timings[timings.len() / 2],
        timings[timings.len() * 95 / 100],
        timings.len()
    );
}
