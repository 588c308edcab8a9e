//! The HTTP server as a client sees it: the real server on a loopback port of its own, in
//! this process, over a store in a temporary data directory, through a real HTTP client
//! (ureq) with timeouts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailscore::api::{RunningServer, SHUTDOWN_DEADLINE, ServeOptions};
use mailscore::domain::TimeZoneSetting;
use mailscore::domain::account::Role;
use mailscore::domain::time::parse_date;
use mailscore::ingest::ImportKind;
use mailscore::pipeline::{BatchOptions, run_batch};
use mailscore::service::accounts::create_token;
use mailscore::store::Store;
use serde_json::Value;

use crate::helpers::{TestStore, job_row, jobs_csv, test_signer};

/// How long any one request of these tests may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// A running server over a small store: three jobs imported from a feed with one unusable
/// row (so the import's report has an issue), and one daily run. It has an API token for
/// each role; requests go as the admin unless they say otherwise.
pub struct TestApp {
    pub addr: SocketAddr,
    server: Option<RunningServer>,
    agent: ureq::Agent,
    /// The server's store, shared with it, for what a test sets up behind the API.
    pub store: Arc<dyn Store>,
    /// A bearer secret per role, viewer first.
    tokens: Vec<(Role, String)>,
    /// Kept for the life of the server: the store's files are in it.
    _dir: tempfile::TempDir,
}

/// The status, headers and body of one answer.
pub struct Answer {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// How a test request authenticates.
#[derive(Debug, Clone)]
pub enum As {
    Nobody,
    /// The app's token of this role.
    Role(Role),
    /// `Authorization: Bearer` this.
    Bearer(String),
    /// The session cookie, and the CSRF header when given.
    Session {
        cookie: String,
        csrf: Option<String>,
    },
}

pub async fn spawn_app() -> TestApp {
    let t = TestStore::new();
    let mut rows = vec![
        job_row(101, "ホールスタッフ"),
        job_row(102, "キッチン"),
        job_row(103, "レジ"),
    ];
    rows.push("not-a-number,EC9,株式会社テスト,壊れた行,13,13113,1,1200,1400,800,1,100,\"100\",2025-07-01 00:00:00+09,2025-09-30 23:59:59+09,,0,".to_owned());
    let feed = t.file("jobs.csv", jobs_csv(&rows));
    t.import(ImportKind::Jobs, &feed)
        .await
        .expect("the feed imports");
    let date = parse_date("2025-07-02").unwrap();
    let options = BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer());
    run_batch(&t.store, &options).await.expect("the date runs");
    let TestStore { dir, store } = t;
    spawn_with(dir, Arc::new(store), serve_options()).await
}

/// The options tests start servers with: every setting at its default, links signed with
/// the tests' key (the data directory is the app's own).
pub fn serve_options() -> ServeOptions {
    ServeOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        std::path::PathBuf::new(),
        test_signer(),
    )
}

/// A running server over an empty store in a data directory of its own, started with
/// `options` (its `listen` is replaced by a loopback port of its own).
pub async fn spawn_empty_app(options: ServeOptions) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let store = mailscore::store::redb::RedbStore::open(dir.path()).unwrap();
    spawn_with(dir, Arc::new(store), options).await
}

pub async fn spawn_with(
    dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    options: ServeOptions,
) -> TestApp {
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let created = create_token(store.as_ref(), &format!("test {role}"), role, None)
            .await
            .expect("a token is created");
        tokens.push((role, created.secret));
    }
    let options = ServeOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        ..options
    };
    let server = mailscore::api::start(Arc::clone(&store), &options)
        .await
        .expect("the server starts");
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(CLIENT_TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    TestApp {
        addr: server.local_addr(),
        server: Some(server),
        agent,
        store,
        tokens,
        _dir: dir,
    }
}

impl TestApp {
    /// The server's data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The app's bearer secret for `role`.
    pub fn token(&self, role: Role) -> &str {
        &self
            .tokens
            .iter()
            .find(|(r, _)| *r == role)
            .expect("a token per role")
            .1
    }

    /// The first admin's setup token, while the setup is pending.
    pub fn setup_token(&self) -> Option<String> {
        self.server.as_ref().and_then(RunningServer::setup_token)
    }

    /// `method path` with a JSON `body` when given, authenticated `who`, with the extra
    /// request `headers`, off the async runtime (ureq blocks).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        who: As,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut all: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match who {
            As::Nobody => {}
            As::Role(role) => all.push((
                "authorization".into(),
                format!("Bearer {}", self.token(role)),
            )),
            As::Bearer(secret) => all.push(("authorization".into(), format!("Bearer {secret}"))),
            As::Session { cookie, csrf } => {
                all.push(("cookie".into(), format!("mailscore_session={cookie}")));
                if let Some(csrf) = csrf {
                    all.push(("x-csrf-token".into(), csrf));
                }
            }
        }
        let agent = self.agent.clone();
        let url = self.url(path);
        let method = method.to_owned();
        let body = body.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            let mut builder = ureq::http::Request::builder()
                .method(method.as_str())
                .uri(&url);
            for (name, value) in &all {
                builder = builder.header(name, value);
            }
            let result = match body {
                Some(body) => agent.run(
                    builder
                        .header("content-type", "application/json")
                        .body(body)
                        .unwrap(),
                ),
                None => agent.run(builder.body(()).unwrap()),
            };
            let mut response = result.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
            Answer {
                status: response.status().as_u16(),
                headers: response.headers().clone(),
                body: response
                    .body_mut()
                    .with_config()
                    .limit(16 * 1024 * 1024)
                    .read_to_string()
                    .unwrap_or_default(),
            }
        })
        .await
        .unwrap()
    }

    /// `GET path` as the admin, with the given request headers.
    async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.send("GET", path, As::Role(Role::Admin), None, headers)
            .await
    }

    /// `GET path` as the admin.
    pub async fn get(&self, path: &str) -> Answer {
        self.get_with(path, &[]).await
    }

    /// Sends `head` (request line and headers, no body) on a raw connection and returns
    /// the answer's status line and the rest: for requests a client library would not
    /// send as they are.
    async fn raw(&self, head: String) -> (String, String) {
        let addr = self.addr;
        tokio::task::spawn_blocking(move || {
            let mut stream = TcpStream::connect_timeout(&addr, CLIENT_TIMEOUT).unwrap();
            stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
            stream.write_all(head.as_bytes()).unwrap();
            let mut reader = BufReader::new(stream);
            let mut status = String::new();
            reader.read_line(&mut status).unwrap();
            let mut rest = String::new();
            // The server closes the connection after refusing the request.
            let _ = reader.read_to_string(&mut rest);
            (status.trim_end().to_owned(), rest)
        })
        .await
        .unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("the server stops cleanly");
        }
    }
}

/// Asserts an answer is the JSON error with `status` and `code`, and returns its body.
pub fn assert_error(answer: &Answer, status: u16, code: &str) -> Value {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert!(
        answer
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        answer.headers
    );
    let body = answer.json();
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body.get("hint").is_some(), "{body}");
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn liveness_and_readiness_answer_200_while_the_server_runs() {
    let app = spawn_app().await;
    let live = app.get("/health/live").await;
    assert_eq!(live.status, 200, "{}", live.body);
    assert_eq!(live.json()["status"], "live");
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.json()["status"], "ready");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_lists_every_operation_and_is_snapshotted() {
    let app = spawn_app().await;
    let answer = app.get("/api/openapi.json").await;
    assert_eq!(answer.status, 200);
    let document = answer.json();
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "{document}"
    );
    let mut operations = Vec::new();
    for (path, methods) in document["paths"].as_object().expect("paths") {
        for (method, operation) in methods.as_object().unwrap() {
            operations.push(format!(
                "{} {path} {}",
                method.to_uppercase(),
                operation["operationId"].as_str().unwrap_or("-")
            ));
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|status| status.starts_with('2')),
                "{path}: {responses:?}"
            );
        }
    }
    operations.sort();
    assert_eq!(
        operations,
        [
            "DELETE /api/session logout",
            "DELETE /api/suppressions/{address} remove_suppression",
            "DELETE /api/tokens/{id} revoke_token",
            "GET /api/accounts list_accounts",
            "GET /api/accounts/{id} get_account",
            "GET /api/bounces list_bounces",
            "GET /api/delivery get_delivery",
            "GET /api/emails list_emails",
            "GET /api/emails/{date}/{user_id} get_email",
            "GET /api/imports list_imports",
            "GET /api/imports/progress get_upload_progress",
            "GET /api/imports/{id} get_import",
            "GET /api/jobs list_jobs",
            "GET /api/jobs/{id} get_job",
            "GET /api/logs list_logs",
            "GET /api/picks/{date}/{user_id} get_user_picks",
            "GET /api/runs list_runs",
            "GET /api/runs/current get_current_run",
            "GET /api/runs/{id} get_run",
            "GET /api/runs/{id}/events run_events",
            "GET /api/session get_session",
            "GET /api/stats get_stats",
            "GET /api/status get_status",
            "GET /api/suppressions list_suppressions",
            "GET /api/tokens list_tokens",
            "GET /api/users list_users",
            "GET /api/users/{id} get_user",
            "GET /health/live health_live",
            "GET /health/ready health_ready",
            "PATCH /api/accounts/{id} update_account",
            "POST /api/accounts create_account",
            "POST /api/actions ingest_actions",
            "POST /api/bounces record_bounces",
            "POST /api/delivery/cancel cancel_delivery",
            "POST /api/delivery/pause pause_delivery",
            "POST /api/delivery/resume resume_delivery",
            "POST /api/emails/{date}/{user_id}/cancel cancel_email",
            "POST /api/emails/{date}/{user_id}/retry retry_email",
            "POST /api/imports upload_import",
            "POST /api/picks/{date}/{user_id}/recompute recompute_user_picks",
            "POST /api/runs start_run",
            "POST /api/runs/{id}/cancel cancel_run",
            "POST /api/session login",
            "POST /api/setup setup",
            "POST /api/suppressions add_suppression",
            "POST /api/tokens create_token",
        ]
    );
    // An operation documents its error answers with the one error body.
    let job = &document["paths"]["/api/jobs/{id}"]["get"]["responses"];
    assert_eq!(
        job["404"]["content"]["application/json; charset=utf-8"]["schema"]["$ref"],
        "#/components/schemas/Error",
        "{job}"
    );
    assert_eq!(
        mailscore::api::openapi_document(),
        answer.body,
        "the served document is the one the library builds"
    );
    insta::assert_snapshot!("openapi", answer.body);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_explorer_is_served_from_the_binary_with_a_policy_of_its_own() {
    let app = spawn_app().await;
    let page = app.get("/api/docs").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("SwaggerUIBundle"), "not the explorer");
    assert!(
        page.body.contains("/api/status"),
        "the document is in the page"
    );
    // Nothing is loaded from anywhere else: no script or style from another origin.
    for external in ["src=\"http", "href=\"http", "src='http", "href='http"] {
        assert!(!page.body.contains(external), "the page loads {external}…");
    }
    let policy = page.header("content-security-policy").unwrap();
    assert!(policy.starts_with("default-src 'self'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_counts_what_the_store_holds() {
    let app = spawn_app().await;
    let answer = app.get("/api/status").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let status = answer.json();
    assert_eq!(status["jobs"]["active"], 3, "{status}");
    assert_eq!(status["jobs"]["total"], 3, "{status}");
    assert_eq!(status["users"], 0, "{status}");
    assert_eq!(status["masters"]["prefectures"], 47, "{status}");
    assert!(
        status["storage"]["file_bytes"].as_u64().unwrap() > 0,
        "{status}"
    );
    assert!(status["unknown_codes"].is_array(), "{status}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_runs_list_the_daily_runs_with_string_ids_and_rfc3339_times() {
    let app = spawn_app().await;
    let answer = app.get("/api/runs?limit=5").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let runs = answer.json();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = &runs[0];
    assert!(run["id"].is_string(), "{run}");
    assert_eq!(run["date"], "2025-07-02");
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["until"], "render");
    let started = run["started_at"].as_str().unwrap();
    started
        .parse::<jiff::Timestamp>()
        .unwrap_or_else(|e| panic!("{started}: {e}"));
    assert!(
        run["phases"].as_array().is_some_and(|p| !p.is_empty()),
        "{run}"
    );

    assert_eq!(
        app.get("/api/runs").await.json().as_array().unwrap().len(),
        1
    );
    for bad in [
        "/api/runs?limit=0",
        "/api/runs?limit=1001",
        "/api/runs?limit=many",
    ] {
        assert_error(&app.get(bad).await, 400, "invalid_request");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_imports_list_and_one_import_give_the_stored_report() {
    let app = spawn_app().await;
    let answer = app.get("/api/imports").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let imports = answer.json();
    let imports = imports.as_array().unwrap();
    assert_eq!(imports.len(), 1, "{imports:?}");
    let summary = &imports[0];
    assert_eq!(summary["kind"], "jobs");
    assert_eq!(summary["rows_imported"], 3);
    assert_eq!(summary["rows_skipped"], 1);
    let id = summary["id"].as_str().expect("the id is a string");

    let answer = app.get(&format!("/api/imports/{id}")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let report = answer.json();
    assert_eq!(report["id"], id);
    assert_eq!(report["status"], "imported");
    assert_eq!(report["encoding"], "UTF-8", "{report}");
    let issue = &report["issues"][0];
    assert_eq!(issue["severity"], "error", "{report}");
    assert_eq!(issue["line"], 5, "{report}");
    assert_eq!(issue["column"], "job_id", "{report}");
    assert_eq!(issue["value"], "not-a-number", "{report}");

    let missing = assert_error(&app.get("/api/imports/999").await, 404, "not_found");
    assert!(
        missing["message"].as_str().unwrap().contains("999"),
        "{missing}"
    );
    assert_error(&app.get("/api/imports/abc").await, 400, "invalid_value");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_shows_every_feed_column_in_the_feed_order() {
    let app = spawn_app().await;
    let answer = app.get("/api/jobs/102").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let job = answer.json();
    assert_eq!(job["job_id"], "102");
    assert_eq!(job["active"], true);
    let columns = job["columns"].as_array().unwrap();
    let names: Vec<&str> = columns
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        crate::helpers::JOB_HEADER.split(',').collect::<Vec<_>>()
    );
    let value = |name: &str| {
        columns
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["value"].clone())
            .unwrap()
    };
    assert_eq!(value("application_name"), "キッチン");
    assert_eq!(value("catch_copy"), "未経験歓迎, 日払いOK");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_that_is_not_stored_is_a_json_404_and_a_bad_id_a_400() {
    let app = spawn_app().await;
    let body = assert_error(&app.get("/api/jobs/999999").await, 404, "not_found");
    assert!(
        body["message"].as_str().unwrap().contains("999999"),
        "{body}"
    );
    let body = assert_error(&app.get("/api/jobs/abc").await, 400, "invalid_value");
    assert!(
        body["message"].as_str().unwrap().contains("\"abc\""),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_route_or_method_is_a_json_error_too() {
    let app = spawn_app().await;
    for path in [
        "/nothing/here",
        "/api/nothing",
        "/api/jobs/101/columns",
        "/api/docs/missing.js",
    ] {
        let answer = app.get(path).await;
        let body = assert_error(&answer, 404, "route_not_found");
        assert!(
            !answer.body.contains("nothing"),
            "the path is echoed: {body}"
        );
    }
    let (status, rest) = app
        .raw(format!(
            "POST /api/status HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            app.addr,
            app.token(Role::Admin)
        ))
        .await;
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed", "{rest}");
    assert!(rest.contains("\"code\":\"method_not_allowed\""), "{rest}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sane_request_id_is_echoed_and_any_other_is_replaced() {
    let app = spawn_app().await;
    let answer = app
        .get_with("/health/live", &[("x-request-id", "probe-42.a:b")])
        .await;
    assert_eq!(answer.header("x-request-id"), Some("probe-42.a:b"));
    let generated = app.get("/api/status").await;
    let id = generated
        .header("x-request-id")
        .expect("an id is always sent");
    assert_eq!(id.len(), 36, "{id}");
    let long = "x".repeat(300);
    let replaced = app
        .get_with("/health/live", &[("x-request-id", &long)])
        .await;
    let id = replaced.header("x-request-id").unwrap();
    assert_ne!(id, long);
    assert_eq!(id.len(), 36, "{id}");
    // Errors carry it too.
    let missing = app
        .get_with("/api/jobs/999999", &[("x-request-id", "trace-1")])
        .await;
    assert_eq!(missing.header("x-request-id"), Some("trace-1"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_answer_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in ["/api/status", "/api/jobs/999999", "/nothing", "/metrics"] {
        let answer = app.get(path).await;
        assert_eq!(
            answer.header("content-security-policy"),
            Some("default-src 'self'; frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(
            answer.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            answer.header("referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
        // Plain HTTP: a browser would ignore HSTS, and it would promise what is not true.
        assert_eq!(answer.header("strict-transport-security"), None, "{path}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_over_the_limit_or_of_unknown_length_is_refused_before_it_is_read() {
    let app = spawn_app().await;
    let host = app.addr;
    let (status, rest) = app
        .raw(format!(
            "GET /api/status HTTP/1.1\r\nHost: {host}\r\nContent-Length: 10000000\r\nConnection: close\r\n\r\n"
        ))
        .await;
    assert_eq!(status, "HTTP/1.1 413 Payload Too Large", "{rest}");
    assert!(rest.contains("\"code\":\"payload_too_large\""), "{rest}");
    let (status, rest) = app
        .raw(format!(
            "GET /api/status HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n"
        ))
        .await;
    assert_eq!(status, "HTTP/1.1 411 Length Required", "{rest}");
    assert!(rest.contains("\"code\":\"length_required\""), "{rest}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_metrics_count_requests_by_route_template_and_show_the_store() {
    let app = spawn_app().await;
    assert_eq!(app.get("/api/jobs/101").await.status, 200);
    assert_eq!(app.get("/api/jobs/999999").await.status, 404);
    assert_eq!(app.get("/no/such/route/7").await.status, 404);
    let deadline = Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        let answer = app.get("/metrics").await;
        assert_eq!(answer.status, 200);
        assert!(
            answer
                .header("content-type")
                .is_some_and(|t| t.starts_with("text/plain")),
            "{:?}",
            answer.headers
        );
        // The store gauges are set by a task the server starts; wait for its first pass.
        if answer
            .body
            .contains("mailscore_store_jobs{state=\"active\"}")
            || Instant::now() > deadline
        {
            break answer.body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for line in [
        "mailscore_http_requests_total{method=\"GET\",route=\"/api/jobs/{id}\",status=\"200\"}",
        "mailscore_http_requests_total{method=\"GET\",route=\"/api/jobs/{id}\",status=\"404\"}",
        "mailscore_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}",
        "mailscore_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/jobs/{id}\",le=\"0.005\"}",
        "# TYPE mailscore_http_request_duration_seconds histogram",
        "mailscore_store_jobs{state=\"active\"}",
        "mailscore_store_users ",
    ] {
        assert!(metrics.contains(line), "no {line} in\n{metrics}");
    }
    assert!(
        !metrics.contains("/no/such/route"),
        "a raw path is a label:\n{metrics}"
    );
    assert!(
        !metrics.contains("/api/jobs/999999"),
        "a raw path is a label:\n{metrics}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shutdown_stops_accepting_within_the_deadline() {
    let mut app = spawn_app().await;
    assert_eq!(app.get("/health/ready").await.status, 200);
    let server = app.server.take().unwrap();
    let started = Instant::now();
    server.shutdown().await.expect("a clean shutdown");
    assert!(
        started.elapsed() < SHUTDOWN_DEADLINE,
        "an idle server took {:?} to stop",
        started.elapsed()
    );
    let refused = TcpStream::connect_timeout(&app.addr, Duration::from_secs(2));
    assert!(refused.is_err(), "the listener still accepts");
}

#[test]
fn the_binary_serves_until_sigterm_and_then_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let feed = dir.path().join("jobs.csv");
    std::fs::write(&feed, jobs_csv(&[job_row(1, "A")])).unwrap();
    let mailscore = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mailscore"));
        command
            .arg("--data-dir")
            .arg(&data_dir)
            .env_remove("MAILSCORE_CONFIG")
            .env_remove("MAILSCORE_LISTEN")
            .env_remove("RUST_LOG");
        command
    };
    let imported = mailscore()
        .args(["import", "jobs"])
        .arg(&feed)
        .output()
        .unwrap();
    assert!(imported.status.success(), "{imported:?}");
    let mut child = mailscore()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Standard output carries the log lines; the address is told on standard error.
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(CLIENT_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    let live = agent.get(&format!("http://{addr}/health/live")).call();
    let status = live.as_ref().map(|r| r.status().as_u16());
    // SIGTERM whatever the probe said, so that no server is left behind.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + SHUTDOWN_DEADLINE + Duration::from_secs(5);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the server did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.ok(), Some(200), "{line}");
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn delivery_shows_the_day_pauses_resumes_and_cancels_for_operators_only() {
    let date = parse_date("2025-07-02").unwrap();
    let t = TestStore::with_generated(300, 8, 30, 11, date).await;
    let options = BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer());
    run_batch(&t.store, &options).await.expect("the date runs");
    let TestStore { dir, store } = t;
    let app = spawn_with(dir, Arc::new(store), serve_options()).await;
    let day = app.get("/api/delivery?date=2025-07-02").await;
    assert_eq!(day.status, 200, "{}", day.body);
    let state = day.json();
    assert_eq!(state["paused"], false);
    let pending = state["pending"].as_u64().unwrap();
    assert!(pending > 0, "{state}");
    assert_eq!(state["sent"], 0);

    let viewer = app
        .send(
            "POST",
            "/api/delivery/pause",
            As::Role(Role::Viewer),
            Some("{}"),
            &[],
        )
        .await;
    assert_eq!(viewer.status, 403, "{}", viewer.body);
    let paused = app
        .send(
            "POST",
            "/api/delivery/pause",
            As::Role(Role::Operator),
            Some(r#"{"reason":"the relay is down"}"#),
            &[],
        )
        .await;
    assert_eq!(paused.status, 200, "{}", paused.body);
    assert_eq!(paused.json()["paused_reason"], "the relay is down");
    let resumed = app
        .send(
            "POST",
            "/api/delivery/resume",
            As::Role(Role::Operator),
            Some("{}"),
            &[],
        )
        .await;
    assert_eq!(resumed.json()["paused"], false, "{}", resumed.body);

    let cancelled = app
        .send(
            "POST",
            "/api/delivery/cancel?date=2025-07-02",
            As::Role(Role::Operator),
            Some("{}"),
            &[],
        )
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.json()["cancelled"].as_u64(), Some(pending));
    let after = app.get("/api/delivery?date=2025-07-02").await.json();
    assert_eq!(
        (after["pending"].as_u64(), after["cancelled"].as_u64()),
        (Some(0), Some(pending))
    );
    app.stop().await;
}
