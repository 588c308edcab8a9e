//! HTTP load benchmark of `mailscore serve` at reference size: `cargo bench --bench server`.
//!
//! Uses a copy of the store left by `cargo bench --bench import` (it runs that import
//! itself when the store is missing), runs the reference date through picks, then serves it
//! with the release binary in its own process and prints:
//! 1. `GET /health/live`: the most requests per second (wrk, 64 connections);
//! 2. `GET /api/picks/{date}/{user}` over every user: the most requests per second (wrk),
//!    and latency percentiles at a constant 2,000 requests/s (an open-loop generator of this
//!    file, latency measured from each request's scheduled time, so queueing counts);
//! 3. click redirects with fresh signed tokens for 60 s (wrk), then the server's own count
//!    of `302` answers and, once it has stopped, the click actions stored;
//! 4. the picks `GET` at 2,000 requests/s again while a daily run of another date
//!    executes in the server (`POST /api/runs`), when the server offers it;
//! 5. the server's peak RSS through all of it.
//!
//! Needs Debian's `wrk` (`apt-get install wrk`). Durations can be shortened with
//! `MAILSCORE_BENCH_SECONDS` (default 10; the click run takes 6 times that), and
//! `MAILSCORE_BENCH_PARTS` picks some of the parts by name (comma-separated, of `health`,
//! `picks`, `clicks`, `during-run`; default all).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mailscore::config::{Overrides, Settings};
use mailscore::domain::action::ActionType;
use mailscore::domain::time::parse_date;
use mailscore::store::prelude::*;
use mailscore::store::redb::RedbStore;
use mailscore::tokens::{Claims, Purpose, TokenSigner};

const DATE: &str = "2025-11-25";

fn seconds() -> u64 {
    std::env::var("MAILSCORE_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

/// Whether `MAILSCORE_BENCH_PARTS` asks for the part `name` (all parts when unset).
fn part(name: &str) -> bool {
    std::env::var("MAILSCORE_BENCH_PARTS")
        .map(|parts| parts.split(',').any(|p| p.trim() == name))
        .unwrap_or(true)
}

fn mailscore(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailscore"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--log-level")
        .arg("warn");
    command
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).expect("the serve copy's directory");
    for entry in std::fs::read_dir(from).expect("the store directory") {
        let entry = entry.expect("an entry");
        if entry.file_type().expect("a file type").is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("a file copies");
        }
    }
}

/// A free loopback port.
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

fn wait_ready(addr: SocketAddr) {
    let agent = agent();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(response) = agent.get(&format!("http://{addr}/health/ready")).call()
            && response.status() == 200
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server did not become ready within 60 s");
}

/// The load generator's HTTP client. Its timeouts are per step and none covers name
/// resolution: with one that does, ureq resolves on a thread of its own, and the generator
/// started 2,000 threads a second on the cores the server measured needs.
fn agent() -> ureq::Agent {
    let step = Some(Duration::from_secs(10));
    ureq::Agent::config_builder()
        .timeout_connect(step)
        .timeout_send_request(step)
        .timeout_recv_response(step)
        .timeout_recv_body(step)
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// What wrk printed: requests per second, requests done, and its latency percentiles.
struct WrkRun {
    requests_per_second: f64,
    requests: u64,
    non_2xx_3xx: u64,
    latency: Vec<(String, String)>,
}

fn wrk(
    url: &str,
    connections: u32,
    duration: u64,
    paths: Option<&Path>,
    token: Option<&str>,
) -> WrkRun {
    let mut command = Command::new("wrk");
    command.args([
        "-t2",
        &format!("-c{connections}"),
        &format!("-d{duration}s"),
        "--latency",
    ]);
    if let Some(token) = token {
        command.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    if let Some(paths) = paths {
        let script = paths.with_extension("lua");
        std::fs::write(
            &script,
            format!(
                "local paths = {{}}\n\
                 for line in io.lines(\"{}\") do paths[#paths + 1] = line end\n\
                 local i = math.random(#paths)\n\
                 request = function()\n  i = i % #paths + 1\n  return wrk.format(\"GET\", paths[i])\nend\n",
                paths.display()
            ),
        )
        .expect("the wrk script is written");
        command.arg("-s").arg(&script);
    }
    let output = command
        .arg(url)
        .output()
        .expect("wrk runs (apt-get install wrk)");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let number_after = |label: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.trim_start().starts_with(label))
            .and_then(|l| l.split(':').nth(1))
            .and_then(|v| v.trim().parse().ok())
    };
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let latency = text
        .lines()
        .skip_while(|l| !l.contains("Latency Distribution"))
        .skip(1)
        .take(4)
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
        })
        .collect();
    WrkRun {
        requests_per_second: number_after("Requests/sec").unwrap_or(0.0),
        requests,
        non_2xx_3xx: number_after("Non-2xx or 3xx responses").unwrap_or(0.0) as u64,
        latency,
    }
}

/// Latencies of `GET`s of `paths` (in turn) at a constant `rate` for `duration`, measured
/// from each request's scheduled start, over `threads` keep-alive connections.
fn constant_rate(
    addr: SocketAddr,
    paths: &[String],
    token: &str,
    rate: u32,
    duration: Duration,
) -> Vec<f64> {
    let bearer = format!("Bearer {token}");
    let bearer = bearer.as_str();
    let threads = 16u32;
    let interval = Duration::from_secs_f64(f64::from(threads) / f64::from(rate));
    let started = Instant::now() + Duration::from_millis(50);
    let n_each = (duration.as_secs_f64() * f64::from(rate) / f64::from(threads)) as usize;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let agent = agent();
                    let mut latencies = Vec::with_capacity(n_each);
                    // Threads start spread over one interval, so the rate is even.
                    let offset = interval.mul_f64(f64::from(t) / f64::from(threads));
                    for k in 0..n_each {
                        let scheduled = started + offset + interval * k as u32;
                        if let Some(wait) = scheduled.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        let path = &paths[(k * threads as usize + t as usize) % paths.len()];
                        let response = agent
                            .get(&format!("http://{addr}{path}"))
                            .header("authorization", bearer)
                            .call();
                        let ok = response.is_ok_and(|mut r| {
                            let _ = r.body_mut().read_to_vec();
                            r.status() == 200
                        });
                        assert!(ok, "GET {path} failed");
                        latencies.push(scheduled.elapsed().as_secs_f64() * 1e3);
                    }
                    latencies
                })
            })
            .collect();
        let mut all: Vec<f64> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("a load thread"))
            .collect();
        all.sort_by(f64::total_cmp);
        all
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn print_rate(label: &str, latencies: &[f64], seconds: f64) {
    println!(
        "{label}: {} requests in {seconds:.0} s ({:.0}/s); p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        latencies.len(),
        latencies.len() as f64 / seconds,
        percentile(latencies, 0.50),
        percentile(latencies, 0.99),
        percentile(latencies, 0.999),
        latencies.last().copied().unwrap_or(0.0),
    );
}

/// The server's peak resident memory so far (`VmHWM`), in MB.
fn peak_rss_mb(server: &Child) -> f64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", server.id())).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb * 1024.0 / 1e6)
}

/// The server's own count of answers of `route` with `status`, from `/metrics`.
/// The sum of the server's samples whose line starts with `prefix` and contains every one
/// of `labels`.
fn metric_sum(addr: SocketAddr, token: &str, prefix: &str, labels: &[String]) -> u64 {
    let mut response = agent()
        .get(&format!("http://{addr}/metrics"))
        .header("authorization", &format!("Bearer {token}"))
        .call()
        .expect("/metrics answers");
    let text = response.body_mut().read_to_string().expect("metrics text");
    text.lines()
        .filter(|l| l.starts_with(prefix) && labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn answered(addr: SocketAddr, token: &str, route: &str, status: u16) -> u64 {
    metric_sum(
        addr,
        token,
        "mailscore_http_requests_total{",
        &[format!("route=\"{route}\""), format!("status=\"{status}\"")],
    )
}

/// The clicks the server took (verified and queued for the group commit) so far.
fn clicks_taken(addr: SocketAddr, token: &str) -> u64 {
    metric_sum(
        addr,
        token,
        "mailscore_tracking_events_total{",
        &[
            "kind=\"click\"".to_owned(),
            "outcome=\"recorded\"".to_owned(),
        ],
    )
}

/// The tracked actions the server has committed so far.
fn committed_actions(addr: SocketAddr, token: &str) -> u64 {
    metric_sum(
        addr,
        token,
        "mailscore_tracking_committed_actions_total",
        &[],
    )
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench` absent: do nothing there.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if Command::new("wrk").arg("--version").output().is_err() {
        println!("skipped: the server benchmark needs wrk (apt-get install wrk)");
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let reference = root.join("store");
    if !reference.join("mailscore.redb").exists() {
        let status = Command::new(env!("CARGO"))
            .args(["bench", "--bench", "import"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs the import bench");
        assert!(status.success(), "the import bench prepares the store");
    }
    let data_dir = root.join("serve-store");
    copy_dir(&reference, &data_dir);
    let status = mailscore(&data_dir)
        .args(["batch", "run", "--date", DATE, "--until", "picks"])
        .stdout(Stdio::null())
        .status()
        .expect("the batch runs");
    assert!(status.success(), "the reference date runs");

    // Picks paths for every user, and click links signed now (links expire) for picked jobs.
    let settings = Settings::load(Overrides {
        data_dir: Some(data_dir.clone()),
        ..Overrides::default()
    })
    .expect("settings");
    let signer = TokenSigner::new(&settings.secret_key_bytes().expect("the store's key"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let date = parse_date(DATE).expect("date");
    let (picks, token) = runtime.block_on(async {
        let store = RedbStore::open(&data_dir).expect("the store opens");
        let token = mailscore::service::accounts::create_token(
            &store,
            "server bench",
            mailscore::domain::account::Role::Operator,
            None,
        )
        .await
        .expect("a token is created")
        .secret;
        (store.picks(date, None).await.expect("picks"), token)
    });
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let expires_at = jiff::Timestamp::now().as_second() + 86_400;
    let pick_paths: Vec<String> = picks
        .iter()
        .map(|u| format!("/api/picks/{DATE}/{}", u.user_id))
        .collect();
    let click_paths: Vec<String> = picks
        .iter()
        .flat_map(|u| {
            u.picks.iter().take(4).map(|p| {
                let token = signer.sign(&Claims {
                    purpose: Purpose::Click,
                    user_id: u.user_id.to_string(),
                    job_id: p.job_id,
                    date: today.to_string(),
                    expires_at,
                });
                format!("/t/c/{token}?utm_content=top5")
            })
        })
        .collect();
    let picks_file = root.join("serve-picks.txt");
    let clicks_file = root.join("serve-clicks.txt");
    std::fs::write(&picks_file, pick_paths.join("\n") + "\n").expect("paths written");
    std::fs::write(&clicks_file, click_paths.join("\n") + "\n").expect("paths written");
    println!(
        "{} users with picks on {DATE}; {} click links",
        pick_paths.len(),
        click_paths.len()
    );

    let addr = free_addr();
    let mut server = mailscore(&data_dir)
        .args(["serve", "--listen", &addr.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server starts");
    let stderr = server.stderr.take().expect("piped stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("server: {line}");
        }
    });
    wait_ready(addr);
    println!(
        "server on {addr}, pid {}, RSS after start {:.1} MB",
        server.id(),
        peak_rss_mb(&server)
    );
    let duration = seconds();

    if part("health") {
        let health = wrk(
            &format!("http://{addr}/health/live"),
            64,
            duration,
            None,
            None,
        );
        println!(
            "GET /health/live (wrk, 64 connections): {:.0} requests/s, latency {:?}",
            health.requests_per_second, health.latency
        );
    }

    if part("picks") {
        let most = wrk(
            &format!("http://{addr}"),
            32,
            duration,
            Some(&picks_file),
            Some(&token),
        );
        println!(
            "GET picks, most throughput (wrk, 32 connections): {:.0} requests/s, latency {:?}, non-2xx {}",
            most.requests_per_second, most.latency, most.non_2xx_3xx
        );
        let at_rate = constant_rate(
            addr,
            &pick_paths,
            &token,
            2_000,
            Duration::from_secs(duration),
        );
        print_rate("GET picks at 2,000/s", &at_rate, duration as f64);
    }

    let mut answered_302 = 0;
    let mut taken = 0;
    let started_clicks = jiff::Timestamp::now().as_microsecond();
    if part("clicks") {
        let before = answered(addr, &token, "/t/c/{token}", 302);
        let committed_before = committed_actions(addr, &token);
        let taken_before = clicks_taken(addr, &token);
        let clicks = wrk(
            &format!("http://{addr}"),
            64,
            duration * 6,
            Some(&clicks_file),
            None,
        );
        answered_302 = answered(addr, &token, "/t/c/{token}", 302) - before;
        println!(
            "click redirects for {} s (wrk, 64 connections): {:.0} requests/s, {} done by wrk, {} answered 302 (the server's count), latency {:?}, non-2xx/3xx {}",
            duration * 6,
            clicks.requests_per_second,
            clicks.requests,
            answered_302,
            clicks.latency,
            clicks.non_2xx_3xx
        );
        // The group commit catches up with what was queued before the next part measures.
        let draining = Instant::now();
        while committed_actions(addr, &token) - committed_before
            < clicks_taken(addr, &token) - taken_before
            && draining.elapsed() < Duration::from_secs(600)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        // Requests still in flight when wrk closed its connections may have been taken
        // without their answer being counted; all of them are counted by now.
        taken = clicks_taken(addr, &token) - taken_before;
        answered_302 = answered(addr, &token, "/t/c/{token}", 302) - before;
        println!(
            "the queued clicks were committed {:.1} s after the load ended; {taken} clicks taken, {answered_302} answered 302",
            draining.elapsed().as_secs_f64()
        );
    }

    // The picks GET while a daily run of another date executes in the server.
    if part("during-run") {
        let run = agent()
            .post(&format!("http://{addr}/api/runs"))
            .header("authorization", &format!("Bearer {token}"))
            .content_type("application/json")
            .send(r#"{"date":"2025-11-24","until":"picks"}"#);
        match run {
            Ok(response) if response.status() == 202 => {
                let during = constant_rate(
                    addr,
                    &pick_paths,
                    &token,
                    2_000,
                    Duration::from_secs(duration),
                );
                print_rate(
                    "GET picks at 2,000/s during a daily run",
                    &during,
                    duration as f64,
                );
            }
            Ok(response) => println!(
                "skipped the picks GET during a daily run: POST /api/runs answered {}",
                response.status()
            ),
            Err(error) => println!("skipped the picks GET during a daily run: {error}"),
        }
    }

    println!(
        "server peak RSS through all of it: {:.1} MB",
        peak_rss_mb(&server)
    );
    // SIGTERM: the server commits the queued clicks and stops.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(server.id() as libc::pid_t, libc::SIGTERM) };
    let status = server.wait().expect("the server stops");
    assert!(status.success(), "the server stops cleanly: {status}");
    if part("clicks") {
        let stored = runtime.block_on(async {
            let store = RedbStore::open(&data_dir).expect("the store opens");
            let actions = store
                .actions_between(started_clicks, i64::MAX / 2)
                .await
                .expect("actions");
            (0..actions.len())
                .filter(|&row| actions.row(row).action_type == Some(ActionType::Click))
                .count() as u64
        });
        println!(
            "click actions stored after the clean stop: {stored} (answered 302: {answered_302}{}; taken: {taken}{})",
            if stored == answered_302 {
                ", equal"
            } else {
                ", NOT EQUAL"
            },
            if stored == taken {
                ", equal"
            } else {
                ", NOT EQUAL"
            }
        );
    }
}
