//! `/metrics` as Prometheus reads it: after requests of every kind (an API read, an error,
//! a refused click, an open, a rejected upload), the exposition passes `promtool check
//! metrics` (Debian's `prometheus` package; `.ci/run` installs it) and carries the metrics
//! the house style names.
//!
//! The recorder is the process's, shared by every server the tests start, so a test
//! checks which series exist, not their values.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::tracking::{TrackedApp, get, get_as, spawn_tracked_app};

/// How long the metrics a server sets in the background (the store gauges, the group
/// commit of tracked opens) may take to appear.
const BACKGROUND_DEADLINE: Duration = Duration::from_secs(20);

/// A rejected upload of a jobs feed (a header without the feed's columns).
async fn upload_a_file_that_is_not_a_feed(app: &TrackedApp) -> u16 {
    let boundary = "mailscore-metrics-test-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.csv\"\r\n\
         Content-Type: text/csv\r\n\r\ncolour,shape\r\nred,round\r\n\r\n--{boundary}--\r\n"
    );
    let url = format!("http://{}/api/imports?kind=jobs", app.addr);
    let bearer = format!("Bearer {}", app.admin);
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(20)))
            .http_status_as_error(false)
            .build()
            .into();
        agent
            .post(&url)
            .header("authorization", &bearer)
            .content_type(format!("multipart/form-data; boundary={boundary}"))
            .send(body)
            .unwrap()
            .status()
            .as_u16()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_metrics_pass_promtool_and_label_routes_by_template() {
    let mut app = spawn_tracked_app().await;
    let base = format!("http://{}", app.addr);
    assert_eq!(
        get_as(format!("{base}/api/users?limit=2"), &app.admin)
            .await
            .status,
        200
    );
    assert_eq!(
        get_as(format!("{base}/api/users/nobody"), &app.admin)
            .await
            .status,
        404
    );
    assert_eq!(get(format!("{base}/t/c/forged")).await.status, 404);
    let open = app.links(0).await.open_pixel;
    assert_eq!(get(open).await.status, 200);
    assert_eq!(upload_a_file_that_is_not_a_feed(&app).await, 422);
    let expected = [
        "mailscore_http_requests_total",
        "mailscore_http_request_duration_seconds_bucket",
        "mailscore_tracking_events_total",
        "mailscore_imports_total{kind=\"jobs\",status=\"rejected\"}",
        "mailscore_import_rows_total{kind=\"jobs\",outcome=\"skipped\"}",
        "mailscore_store_operation_duration_seconds_bucket{operation=\"users\"",
        "mailscore_store_operation_duration_seconds_bucket{operation=\"token_by_hash\"",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        // Set in the background: the gauges as the server starts, the commit of the
        // open within the batch window.
        "mailscore_store_operation_duration_seconds_bucket{operation=\"record_actions\"",
        "mailscore_store_picks{section=\"top5\"}",
        "mailscore_store_emails{status=\"pending\"}",
    ];
    let deadline = Instant::now() + BACKGROUND_DEADLINE;
    let text = loop {
        let metrics = get_as(format!("{base}/metrics"), &app.admin).await;
        assert_eq!(metrics.status, 200);
        let text = metrics.text();
        let missing: Vec<&str> = expected
            .iter()
            .copied()
            .filter(|name| !text.contains(name))
            .collect();
        if missing.is_empty() {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "{missing:?} missing from:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let rss = text
        .lines()
        .find_map(|line| line.strip_prefix("process_resident_memory_bytes "))
        .and_then(|value| value.trim().parse::<f64>().ok());
    assert!(rss.is_some_and(|bytes| bytes > 1e6), "{rss:?}");
    assert!(
        text.contains("route=\"/api/users/{id}\""),
        "a route label is its template"
    );
    assert!(!text.contains("nobody"), "never a raw path");

    let Ok(mut promtool) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!(
            "skipped: promtool is not installed (apt-get install prometheus); the metrics were checked without it"
        );
        app.stop().await;
        return;
    };
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = promtool.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    app.stop().await;
}
