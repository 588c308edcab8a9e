//! SMTP delivery throughput of `mailscore send`: `cargo bench --bench delivery`.
//!
//! Generates a store (20,000 jobs × 10,000 users by default), runs its reference date, then
//! sends the day's queued emails with the release binary, DKIM-signed with a new RSA-2048
//! key, to Postfix's `smtp-sink` on loopback, and prints:
//! 1. with `smtp.rate_per_second = 0` (no limit): emails sent, wall seconds, emails per
//!    second, the sender's peak RSS and CPU seconds per email (its own `getrusage`);
//! 2. with `smtp.rate_per_second = 100` over a smaller store of the same jobs (1,500 users):
//!    the rate measured at the sink after the limiter's one-second burst, and whether it is
//!    within 5 % of 100/s.
//!
//! Needs Debian's `postfix` for `/usr/sbin/smtp-sink`; without it, it prints that and stops.
//! The size can be changed with `MAILSCORE_BENCH_JOBS` and `MAILSCORE_BENCH_USERS`.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mailscore::config::{Overrides, Settings};
use mailscore::domain::TimeZoneSetting;
use mailscore::domain::time::parse_date;
use mailscore::generate::{GenerateOptions, generate};
use mailscore::ingest::{ImportKind, ImportOptions, import_file};
use mailscore::pipeline::{BatchOptions, run_batch};
use mailscore::store::prelude::*;
use mailscore::store::redb::RedbStore;
use mailscore::tokens::TokenSigner;

const DATE: &str = "2025-11-25";
const SMTP_SINK: &str = "/usr/sbin/smtp-sink";

fn env_number(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if !Path::new(SMTP_SINK).exists() {
        println!("skipped: {SMTP_SINK} is missing (apt-get install postfix)");
        return;
    }
    let jobs = env_number("MAILSCORE_BENCH_JOBS", 20_000);
    let users = env_number("MAILSCORE_BENCH_USERS", 10_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let root = dir.path();

    let key = root.join("dkim.pem");
    let status = Command::new(env!("CARGO_BIN_EXE_mailscore"))
        .args([
            "--log-level",
            "warn",
            "dkim",
            "keygen",
            "--algorithm",
            "rsa",
        ])
        .args(["--domain", "example.jp", "--selector", "bench", "--out"])
        .arg(&key)
        .arg("--data-dir")
        .arg(root.join("keygen"))
        .stdout(Stdio::null())
        .status()
        .expect("dkim keygen runs");
    assert!(status.success(), "the DKIM key is made");

    let started = Instant::now();
    let queued = prepare_store(&root.join("full"), jobs, users);
    println!(
        "store of {jobs} jobs × {users} users, {queued} emails queued on {DATE} (prepared in {:.0} s); smtp pool_size and concurrency at their defaults",
        started.elapsed().as_secs_f64()
    );
    let run = send(&root.join("full"), &key, 0);
    println!(
        "unlimited (rate_per_second = 0), RSA-2048 DKIM: {} emails sent ({} received by smtp-sink) in {:.2} s: {:.0} emails/s (target ≥ 1,000: {}); sender peak RSS {:.1} MB; CPU {:.2} s user + {:.2} s sys = {:.0} µs per email",
        run.sent,
        run.received,
        run.seconds,
        run.sent as f64 / run.seconds,
        if run.sent as f64 / run.seconds >= 1_000.0 {
            "met"
        } else {
            "NOT MET"
        },
        run.peak_rss_mb,
        run.user_seconds,
        run.system_seconds,
        (run.user_seconds + run.system_seconds) * 1e6 / run.sent.max(1) as f64
    );
    println!("sender said: {}", run.report);

    let small_users = 1_500.min(users);
    let queued = prepare_store(&root.join("small"), jobs, small_users);
    let run = send(&root.join("small"), &key, 100);
    let rate = run.steady_rate.unwrap_or(run.sent as f64 / run.seconds);
    let within = (rate - 100.0).abs() <= 5.0;
    println!(
        "rate_per_second = 100 over {queued} emails ({small_users} users): {} sent in {:.2} s; measured {rate:.1} emails/s at the sink after the first second's burst of 100 (which the limiter allows), {:.1}/s over the whole run; within 5 % of 100/s: {}",
        run.sent,
        run.seconds,
        run.sent as f64 / run.seconds,
        if within { "yes" } else { "NO" },
    );
    println!("sender said: {}", run.report);
}

/// Generates `jobs` × `users` into `dir`, imports it and runs [`DATE`]; the emails queued.
fn prepare_store(dir: &Path, jobs: u32, users: u32) -> usize {
    let date = parse_date(DATE).expect("date");
    let data = dir.join("generated");
    let options = GenerateOptions {
        jobs: jobs as usize,
        users: users as usize,
        days: 30,
        seed: 5,
        dirty: false,
        end_date: date,
    };
    generate(&options, &data).expect("the dataset is generated");
    let store_dir = dir.join("store");
    let store = RedbStore::open(&store_dir).expect("store opens");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // The store's own key file, as `mailscore send` signs links with the key of the run.
    let settings = Settings::load(Overrides {
        data_dir: Some(store_dir.clone()),
        ..Overrides::default()
    })
    .expect("settings");
    let key = TokenSigner::new(&settings.create_secret_key_bytes().expect("the store's key"));
    runtime.block_on(async {
        let import = ImportOptions::new(TimeZoneSetting::tokyo());
        for (kind, file) in [
            (ImportKind::Jobs, "jobs.csv"),
            (ImportKind::Users, "users.csv"),
            (ImportKind::Actions, "actions.csv"),
        ] {
            import_file(&store, kind, &data.join(file), &import)
                .await
                .expect("the generated file imports");
        }
        let batch = BatchOptions::new(date, TimeZoneSetting::tokyo(), key.clone());
        run_batch(&store, &batch).await.expect("the date runs");
        store.emails(date, None).await.expect("emails").len()
    })
}

/// A free loopback port.
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

struct SendRun {
    sent: u64,
    received: u64,
    seconds: f64,
    peak_rss_mb: f64,
    user_seconds: f64,
    system_seconds: f64,
    steady_rate: Option<f64>,
    report: String,
}

/// `smtp-sink` on a free loopback port, its running count of messages read by a thread,
/// with the time of the first and the latest message.
struct Sink {
    child: Child,
    addr: SocketAddr,
    received: Arc<AtomicU64>,
    arrivals: Arc<std::sync::Mutex<Vec<Instant>>>,
}

fn start_sink() -> Sink {
    let addr = free_addr();
    let mut child = Command::new(SMTP_SINK)
        .args(["-c", "-u", "root"])
        .arg(addr.to_string())
        .arg("1000")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("smtp-sink starts");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let received = Arc::new(AtomicU64::new(0));
    let arrivals = Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let received = received.clone();
        let arrivals = arrivals.clone();
        std::thread::spawn(move || {
            // `-c` writes "sess=N quit=N mesg=N\r" as each message arrives.
            let mut line = Vec::new();
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                for &byte in &buffer[..n] {
                    if byte != b'\r' && byte != b'\n' {
                        line.push(byte);
                        continue;
                    }
                    let text = String::from_utf8_lossy(&line);
                    if let Some(count) = text
                        .split_whitespace()
                        .find_map(|f| f.strip_prefix("mesg="))
                        .and_then(|n| n.parse::<u64>().ok())
                        && count > received.swap(count, Ordering::Relaxed)
                    {
                        arrivals.lock().expect("arrivals").push(Instant::now());
                    }
                    line.clear();
                }
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "smtp-sink listens within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    Sink {
        child,
        addr,
        received,
        arrivals,
    }
}

/// `mailscore send --date DATE` of the store in `dir` to a new `smtp-sink`, DKIM-signed.
fn send(dir: &Path, key: &Path, rate: u32) -> SendRun {
    let mut sink = start_sink();
    // The connection check above counts as a session, not a message.
    let started = Instant::now();
    // Reaped by `wait4` below, which also gives its resource usage.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(env!("CARGO_BIN_EXE_mailscore"))
        .arg("--data-dir")
        .arg(dir.join("store"))
        .args(["--log-level", "warn", "send", "--date", DATE])
        .env("MAILSCORE_SMTP_URL", format!("smtp://{}", sink.addr))
        .env("MAILSCORE_SMTP_RATE_PER_SECOND", rate.to_string())
        .env("MAILSCORE_DKIM_DOMAIN", "example.jp")
        .env("MAILSCORE_DKIM_SELECTOR", "bench")
        .env("MAILSCORE_DKIM_KEY_FILE", key)
        .env_remove("MAILSCORE_CONFIG")
        .stdout(Stdio::piped())
        .spawn()
        .expect("mailscore send starts");
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let mut status = 0;
    // SAFETY: waiting for our own child, with a zeroed rusage to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(waited, pid, "wait4 of the sender");
    let report = reader.join().expect("the output reader").trim().to_owned();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "mailscore send succeeds: status {status}, said {report:?}"
    );
    let sent = report
        .split(": ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    // Let the sink's last count arrive.
    std::thread::sleep(Duration::from_millis(300));
    let received = sink.received.load(Ordering::Relaxed);
    // The limiter lets one second's worth go at once, then `rate` a second: the steady
    // rate is measured from the message after that burst to the last.
    let arrivals = sink.arrivals.lock().expect("arrivals").clone();
    let burst = rate as usize;
    let steady_rate = (rate > 0 && arrivals.len() > burst + 1).then(|| {
        (arrivals.len() - 1 - burst) as f64
            / (arrivals[arrivals.len() - 1] - arrivals[burst]).as_secs_f64()
    });
    let _ = sink.child.kill();
    let _ = sink.child.wait();
    let seconds_of = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    SendRun {
        sent,
        received,
        seconds,
        // ru_maxrss is in KB on Linux.
        peak_rss_mb: usage.ru_maxrss as f64 * 1024.0 / 1e6,
        user_seconds: seconds_of(usage.ru_utime),
        system_seconds: seconds_of(usage.ru_stime),
        steady_rate,
        report,
    }
}
