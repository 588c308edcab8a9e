//! `/metrics` as Prometheus reads it: after requests of every kind (an API read, an error,
//! a click, an open), the exposition passes `promtool check metrics` (Debian's
//! `prometheus` package; `.ci/run` installs it) and carries the metrics the house style
//! names.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::tracking::{get, get_as, spawn_tracked_app};

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
    let metrics = get_as(format!("{base}/metrics"), &app.admin).await;
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    for name in [
        "mailscore_http_requests_total",
        "mailscore_http_request_duration_seconds_bucket",
        "mailscore_tracking_events_total",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
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
