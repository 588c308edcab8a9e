//! The runs resource through the real server: a run started over the API and followed by
//! its server-sent events to the outcome, one run at a time, cancel and resume, retry, one
//! user, the list, and a shutdown that stops the executing run at a chunk boundary. The
//! server listens on a loopback port of its own over a generated store; every wait is
//! bounded.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::civil::Date;
use mailscore::api::{RunningServer, ServeOptions};
use mailscore::domain::TimeZoneSetting;
use mailscore::domain::batch::UserPicks;
use mailscore::domain::time::parse_date;
use mailscore::service::run_manager::RunSettings;
use mailscore::store::Store;
use serde_json::{Value, json};

use crate::helpers::{TestStore, test_signer};

/// How long any one request may take; an event stream, as long as its run.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);
const STREAM_TIMEOUT: Duration = Duration::from_secs(120);

/// Users per chunk: the generated store's 200 users make 100 chunks, so that a run is
/// still executing when a test asks something of it.
const CHUNK_USERS: usize = 2;

/// The batch date of the generated data.
fn day() -> Date {
    parse_date("2025-11-25").unwrap()
}

struct RunsApp {
    addr: SocketAddr,
    server: Option<RunningServer>,
    store: Arc<dyn Store>,
    agent: ureq::Agent,
    /// An operator's API token: starting and cancelling runs asks for one.
    token: String,
    _dir: tempfile::TempDir,
}

/// The status and body of one answer.
struct Answer {
    status: u16,
    location: Option<String>,
    body: Value,
}

/// A generated store (600 jobs, 200 users, 20 days of actions up to [`day`]).
async fn generated_store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let TestStore { dir, store } = TestStore::with_generated(600, 200, 20, 23, day()).await;
    (dir, Arc::new(store))
}

fn serve_options() -> ServeOptions {
    let mut runs = RunSettings::new(TimeZoneSetting::tokyo(), test_signer());
    runs.base.chunk_users = CHUNK_USERS;
    ServeOptions {
        runs,
        ..crate::api::serve_options()
    }
}

async fn start_server(store: &Arc<dyn Store>) -> RunningServer {
    mailscore::api::start(Arc::clone(store), &serve_options())
        .await
        .expect("the server starts")
}

async fn spawn_runs_app() -> RunsApp {
    let (dir, store) = generated_store().await;
    let token = mailscore::service::accounts::create_token(
        store.as_ref(),
        "runs tests",
        mailscore::domain::account::Role::Operator,
        None,
    )
    .await
    .expect("a token is created")
    .secret;
    let server = start_server(&store).await;
    RunsApp {
        addr: server.local_addr(),
        server: Some(server),
        store,
        agent: agent(CLIENT_TIMEOUT),
        token,
        _dir: dir,
    }
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

fn answer(mut response: ureq::http::Response<ureq::Body>) -> Answer {
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.body_mut().read_to_string().expect("a text body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    Answer {
        status,
        location,
        body,
    }
}

impl RunsApp {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn get(&self, path: &str) -> Answer {
        let (agent, url) = (self.agent.clone(), self.url(path));
        let bearer = format!("Bearer {}", self.token);
        tokio::task::spawn_blocking(move || {
            answer(
                agent
                    .get(&url)
                    .header("authorization", &bearer)
                    .call()
                    .unwrap_or_else(|e| panic!("GET {url}: {e}")),
            )
        })
        .await
        .unwrap()
    }

    /// `POST path` with `body` as JSON, or with no body.
    async fn post(&self, path: &str, body: Option<Value>) -> Answer {
        let (agent, url) = (self.agent.clone(), self.url(path));
        let bearer = format!("Bearer {}", self.token);
        tokio::task::spawn_blocking(move || {
            let request = agent.post(&url).header("authorization", &bearer);
            let sent = match body {
                Some(body) => request
                    .content_type("application/json")
                    .send(body.to_string()),
                None => request.send_empty(),
            };
            answer(sent.unwrap_or_else(|e| panic!("POST {url}: {e}")))
        })
        .await
        .unwrap()
    }

    /// Starts a run; returns its id.
    async fn start_run(&self, body: Value) -> String {
        let started = self.post("/api/runs", Some(body)).await;
        assert_eq!(started.status, 202, "{}", started.body);
        let id = started.body["id"].as_str().expect("a string id").to_owned();
        assert_eq!(
            started.location.as_deref(),
            Some(format!("/api/runs/{id}").as_str())
        );
        id
    }

    /// Follows the run's event stream to its end with a real client: each event's type
    /// and data, and the response's content type.
    async fn events(&self, id: &str) -> (String, Vec<(String, Value)>) {
        let url = self.url(&format!("/api/runs/{id}/events"));
        let bearer = format!("Bearer {}", self.token);
        tokio::task::spawn_blocking(move || {
            let response = agent(STREAM_TIMEOUT)
                .get(&url)
                .header("authorization", &bearer)
                .header("accept", "text/event-stream")
                .call()
                .unwrap_or_else(|e| panic!("GET {url}: {e}"));
            assert_eq!(response.status().as_u16(), 200);
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let reader = BufReader::new(response.into_body().into_reader());
            let (mut events, mut kind, mut data) = (Vec::new(), String::new(), String::new());
            for line in reader.lines() {
                let line = line.expect("the stream reads");
                if let Some(value) = line.strip_prefix("event:") {
                    kind = value.trim().to_owned();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim_start());
                } else if line.is_empty() && !data.is_empty() {
                    let value: Value = serde_json::from_str(&data).expect("JSON data");
                    events.push((std::mem::take(&mut kind), value));
                    data.clear();
                }
            }
            (content_type, events)
        })
        .await
        .unwrap()
    }

    /// The outcome event of the run's stream (the stream ends with it).
    async fn outcome(&self, id: &str) -> Value {
        let (_, events) = self.events(id).await;
        let (kind, outcome) = events.last().cloned().expect("at least the outcome");
        assert_eq!(kind, "outcome", "{events:?}");
        outcome
    }

    /// Waits until the run has stored at least one chunk of users; returns its progress.
    async fn wait_for_a_stored_chunk(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let run = self.get(&format!("/api/runs/{id}")).await;
            assert_eq!(run.status, 200, "{}", run.body);
            let progress = &run.body["progress"];
            assert!(
                progress.is_object(),
                "the run ended before a test could catch it: {}",
                run.body
            );
            if progress["chunks_done"]
                .as_u64()
                .is_some_and(|done| done >= 1)
            {
                return progress.clone();
            }
            assert!(Instant::now() < deadline, "no chunk stored: {}", run.body);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("the server stops cleanly");
        }
    }
}

/// Asserts an answer is the JSON error with `status` and `code`, and returns its message.
fn assert_error(answer: &Answer, status: u16, code: &str) -> String {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.body["code"], code, "{}", answer.body);
    assert!(answer.body["hint"].is_string(), "{}", answer.body);
    answer.body["message"].as_str().unwrap().to_owned()
}

async fn stored_picks(store: &dyn Store) -> Vec<UserPicks> {
    store.picks(day(), None).await.unwrap()
}

fn picks_phase(run: &Value) -> &Value {
    run["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "picks")
        .unwrap_or_else(|| panic!("no picks phase: {run}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_started_over_the_api_streams_its_progress_until_its_outcome() {
    let app = spawn_runs_app().await;
    let id = app.start_run(json!({ "date": "2025-11-25" })).await;

    let (content_type, events) = app.events(&id).await;
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let (last, progress) = events.split_last().expect("events");
    assert_eq!(last.0, "outcome", "{events:?}");
    assert_eq!(last.1["event"], "outcome");
    assert_eq!(last.1["id"], id.as_str());
    assert_eq!(last.1["status"], "succeeded", "{}", last.1);
    assert_eq!(last.1["trigger"], "api");
    assert!(!progress.is_empty(), "no progress before the outcome");
    for (kind, event) in progress {
        assert_eq!(kind, "progress");
        assert_eq!(event["event"], "progress");
        assert_eq!(event["run_id"], id.as_str());
        assert_eq!(event["date"], "2025-11-25");
    }
    let phases: Vec<&str> = progress.last().unwrap().1["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(phases[..3], ["load", "profiles", "scores"], "{phases:?}");

    // The stored record, and a finished run's stream: its outcome at once.
    let run = app.get(&format!("/api/runs/{id}")).await;
    assert_eq!(run.status, 200);
    assert_eq!(run.body["status"], "succeeded");
    assert!(run.body.get("progress").is_none(), "{}", run.body);
    assert_eq!(picks_phase(&run.body)["counts"]["chunks"], 100);
    let (_, again) = app.events(&id).await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].0, "outcome");
    assert_error(&app.get("/api/runs/current").await, 404, "not_found");
    assert_error(&app.get("/api/runs/999").await, 404, "not_found");
    assert_error(&app.get("/api/runs/abc/events").await, 400, "invalid_value");

    // The recorder is the process's: other tests' runs count there too.
    let metrics = app.get_text("/metrics").await;
    for line in [
        "mailscore_runs_total{trigger=\"api\",status=\"succeeded\"} ",
        "mailscore_run_phase_duration_seconds_bucket{phase=\"picks\",le=\"",
        "mailscore_run_progress_ratio{phase=\"picks\"} ",
        "# TYPE mailscore_run_phase_duration_seconds histogram",
    ] {
        assert!(metrics.contains(line), "no {line} in\n{metrics}");
    }
    app.stop().await;
}

impl RunsApp {
    async fn get_text(&self, path: &str) -> String {
        let (agent, url) = (self.agent.clone(), self.url(path));
        let bearer = format!("Bearer {}", self.token);
        tokio::task::spawn_blocking(move || {
            agent
                .get(&url)
                .header("authorization", &bearer)
                .call()
                .unwrap()
                .body_mut()
                .read_to_string()
                .unwrap()
        })
        .await
        .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_run_executes_at_a_time_and_a_second_start_is_a_409_naming_it() {
    let app = spawn_runs_app().await;
    let id = app.start_run(json!({ "date": "2025-11-25" })).await;
    let message = assert_error(
        &app.post("/api/runs", Some(json!({ "date": "2025-11-24" })))
            .await,
        409,
        "run_in_progress",
    );
    assert!(message.contains(&format!("#{id}")), "{message}");

    let current = app.get("/api/runs/current").await;
    assert_eq!(current.status, 200, "{}", current.body);
    assert_eq!(current.body["id"], id.as_str());
    assert_eq!(current.body["status"], "running");
    assert_eq!(current.body["progress"]["run_id"], id.as_str());
    let retried = app
        .post("/api/runs", Some(json!({ "retry_of": id.clone() })))
        .await;
    assert_error(&retried, 409, "run_in_progress");

    assert_eq!(app.outcome(&id).await["status"], "succeeded");
    // Free again once it ended.
    let next = app.start_run(json!({ "date": "2025-11-25" })).await;
    assert_eq!(app.outcome(&next).await["status"], "succeeded");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_cancelled_midway_is_retried_to_the_picks_of_a_straight_run() {
    let app = spawn_runs_app().await;
    let straight = app.start_run(json!({ "date": "2025-11-25" })).await;
    assert_eq!(app.outcome(&straight).await["status"], "succeeded");
    let reference = stored_picks(app.store.as_ref()).await;
    assert!(reference.len() > 100, "{}", reference.len());

    let id = app.start_run(json!({ "date": "2025-11-25" })).await;
    app.wait_for_a_stored_chunk(&id).await;
    let cancelled = app.post(&format!("/api/runs/{id}/cancel"), None).await;
    assert_eq!(cancelled.status, 202, "{}", cancelled.body);
    assert_eq!(cancelled.body["cancel_requested"], true);
    let outcome = app.outcome(&id).await;
    assert_eq!(outcome["status"], "cancelled", "{outcome}");
    assert!(
        outcome["error"].as_str().unwrap().contains("after chunk"),
        "{outcome}"
    );
    let checkpoint = app
        .store
        .day_checkpoint(day())
        .await
        .unwrap()
        .expect("a cancelled run keeps the date's checkpoint");
    assert!((1..100).contains(&checkpoint.chunks_done), "{checkpoint:?}");
    let again = app.post(&format!("/api/runs/{id}/cancel"), None).await;
    assert_error(&again, 409, "run_not_running");

    let listed = app.get("/api/runs?status=cancelled").await;
    let listed: Vec<&str> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [id.as_str()]);

    // The retry of a cancelled run runs its date again, resuming after its chunks.
    let retry = app.start_run(json!({ "retry_of": id.clone() })).await;
    let outcome = app.outcome(&retry).await;
    assert_eq!(outcome["status"], "succeeded", "{outcome}");
    assert_eq!(outcome["retry_of"], id.as_str());
    assert_eq!(
        picks_phase(&outcome)["counts"]["resumed_from_chunk"],
        u64::from(checkpoint.chunks_done)
    );
    assert_eq!(stored_picks(app.store.as_ref()).await, reference);
    assert_eq!(app.store.day_checkpoint(day()).await.unwrap(), None);

    // A finished run without failures has nothing to retry.
    let nothing = app
        .post("/api/runs", Some(json!({ "retry_of": straight.clone() })))
        .await;
    assert_error(&nothing, 409, "nothing_to_retry");

    // The list: newest first, paged.
    let all = app.get("/api/runs").await.body;
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [retry.as_str(), id.as_str(), straight.as_str()]);
    let page = app.get("/api/runs?limit=1&offset=1").await.body;
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(page[0]["id"], id.as_str());
    assert_error(
        &app.get("/api/runs?status=sleeping").await,
        400,
        "invalid_request",
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_of_one_user_stores_that_users_picks_and_bad_starts_are_refused() {
    let app = spawn_runs_app().await;
    let user = app
        .store
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.is_active && u.subscribed)
        .unwrap()
        .user_id;
    let id = app
        .start_run(json!({ "date": "2025-11-25", "user_id": user.as_str(), "until": "picks" }))
        .await;
    let outcome = app.outcome(&id).await;
    assert_eq!(outcome["status"], "succeeded", "{outcome}");
    assert_eq!(outcome["users"], json!([user.as_str()]));
    assert_eq!(outcome["until"], "picks");
    let picks = stored_picks(app.store.as_ref()).await;
    assert_eq!(picks.len(), 1);
    assert_eq!(picks[0].user_id, user);

    for (body, status, code) in [
        (json!({ "date": "2025-13-01" }), 400, "invalid_value"),
        (json!({ "until": "everything" }), 400, "invalid_request"),
        (json!({ "user_id": "nobody-here" }), 404, "not_found"),
        (
            json!({ "user_id": user.as_str(), "until": "scores" }),
            400,
            "invalid_value",
        ),
        (
            json!({ "retry_of": id.clone(), "date": "2025-11-25" }),
            400,
            "invalid_value",
        ),
        (json!({ "retry_of": "12345" }), 404, "not_found"),
    ] {
        let answer = app.post("/api/runs", Some(body.clone())).await;
        assert_error(&answer, status, code);
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shutdown_stops_the_executing_run_at_a_chunk_boundary_and_the_next_start_resumes() {
    let mut app = spawn_runs_app().await;
    let straight = app.start_run(json!({ "date": "2025-11-25" })).await;
    assert_eq!(app.outcome(&straight).await["status"], "succeeded");
    let reference = stored_picks(app.store.as_ref()).await;

    let id = app.start_run(json!({ "date": "2025-11-25" })).await;
    app.wait_for_a_stored_chunk(&id).await;
    let started = Instant::now();
    app.server
        .take()
        .unwrap()
        .shutdown()
        .await
        .expect("a clean shutdown");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let record = app.store.runs(1).await.unwrap().remove(0);
    assert_eq!(record.id.to_string(), id);
    assert_eq!(
        record.status,
        mailscore::domain::batch::RunStatus::Cancelled,
        "{record:?}"
    );
    let checkpoint = app
        .store
        .day_checkpoint(day())
        .await
        .unwrap()
        .expect("kept");
    assert!(checkpoint.chunks_done >= 1, "{checkpoint:?}");

    // The next server's run of the date resumes after the chunks stored before.
    let server = start_server(&app.store).await;
    app.addr = server.local_addr();
    app.server = Some(server);
    let resumed = app.start_run(json!({ "date": "2025-11-25" })).await;
    let outcome = app.outcome(&resumed).await;
    assert_eq!(outcome["status"], "succeeded", "{outcome}");
    assert_eq!(
        picks_phase(&outcome)["counts"]["resumed_from_chunk"],
        u64::from(checkpoint.chunks_done)
    );
    assert_eq!(stored_picks(app.store.as_ref()).await, reference);
    app.stop().await;
}
