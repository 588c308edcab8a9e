//! The server's logs as an operator meets them, from the real binary: JSON lines on
//! standard output, the same lines in a daily file in `DATA_DIR/logs/` (flushed by the
//! graceful shutdown), one access line per request carrying the client's `x-request-id`,
//! no secret anywhere, and the recent warnings readable at `GET /api/logs`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mailscore::api::SHUTDOWN_DEADLINE;
use mailscore::domain::account::Role;
use mailscore::service::accounts::create_token;
use mailscore::store::redb::RedbStore;
use serde_json::Value;

use crate::helpers::{job_row, jobs_csv};

/// How long any one request of these tests may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// The binary on `data_dir`, with nothing of this machine's environment that would change
/// where it logs or listens.
fn mailscore(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailscore"));
    command.arg("--data-dir").arg(data_dir);
    for name in [
        "MAILSCORE_CONFIG",
        "MAILSCORE_LISTEN",
        "MAILSCORE_LOG_FORMAT",
        "MAILSCORE_LOG_LEVEL",
        "MAILSCORE_LOG_FILES",
        "MAILSCORE_LOG_DIR",
        "MAILSCORE_LOG_RETENTION_DAYS",
        "MAILSCORE_ADMIN_EMAIL",
        "MAILSCORE_ADMIN_PASSWORD",
        "RUST_LOG",
    ] {
        command.env_remove(name);
    }
    command
}

/// A store with one job, made by the binary, and a viewer's and an operator's token.
fn store_with_tokens(root: &Path) -> (PathBuf, String, String) {
    let data_dir = root.join("data");
    let feed = root.join("jobs.csv");
    std::fs::write(&feed, jobs_csv(&[job_row(1, "ホールスタッフ")])).unwrap();
    let imported = mailscore(&data_dir)
        .args(["import", "jobs"])
        .arg(&feed)
        .output()
        .unwrap();
    assert!(imported.status.success(), "{imported:?}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (viewer, operator) = runtime.block_on(async {
        let store = RedbStore::open(&data_dir).expect("the imported store opens");
        let viewer = create_token(&store, "log reader", Role::Viewer, None)
            .await
            .unwrap();
        let operator = create_token(&store, "uploader", Role::Operator, None)
            .await
            .unwrap();
        (viewer.secret, operator.secret)
    });
    (data_dir, viewer, operator)
}

/// A `serve` process, its standard output read line by line on a thread of its own (so
/// that a full pipe never stops it).
struct Served {
    child: Child,
    addr: String,
    stdout: std::thread::JoinHandle<Vec<String>>,
}

/// `mailscore serve` on a port of its own, with `args` after it and `env` set.
fn serve(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Served {
    let mut command = mailscore(data_dir);
    command.envs(env.iter().copied());
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let stdout = std::thread::spawn(move || stdout.lines().map_while(Result::ok).collect());
    // The line that says where it serves is for a person, on standard error.
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_owned);
    let Some(addr) = addr else {
        let _ = child.kill();
        panic!("no address in {line:?}");
    };
    Served {
        child,
        addr,
        stdout,
    }
}

impl Served {
    /// SIGTERM, then the exit status and every line of standard output.
    fn stop(mut self) -> (std::process::ExitStatus, Vec<String>) {
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + SHUTDOWN_DEADLINE + Duration::from_secs(5);
        let exit = loop {
            if let Some(exit) = self.child.try_wait().unwrap() {
                break exit;
            }
            if Instant::now() > deadline {
                self.child.kill().unwrap();
                panic!("the server did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        (exit, self.stdout.join().unwrap())
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(CLIENT_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into()
}

/// Status, `x-request-id` answered, and body.
fn send(
    request: ureq::http::request::Builder,
    body: Option<(&str, Vec<u8>)>,
) -> (u16, Option<String>, String) {
    let agent = agent();
    let result = match body {
        Some((content_type, bytes)) => agent.run(
            request
                .header("content-type", content_type)
                .body(bytes)
                .unwrap(),
        ),
        None => agent.run(request.body(()).unwrap()),
    };
    let mut response = result.expect("the server answers");
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let status = response.status().as_u16();
    (
        status,
        request_id,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

fn get(url: &str, bearer: Option<&str>, request_id: Option<&str>) -> (u16, Option<String>, String) {
    let mut request = ureq::http::Request::builder().method("GET").uri(url);
    if let Some(secret) = bearer {
        request = request.header("authorization", format!("Bearer {secret}"));
    }
    if let Some(id) = request_id {
        request = request.header("x-request-id", id);
    }
    send(request, None)
}

/// The page `GET /api/logs?QUERY` answers the viewer.
fn logs(base: &str, viewer: &str, query: &str) -> Value {
    let (status, _, body) = get(&format!("{base}/api/logs?{query}"), Some(viewer), None);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Each line as JSON; panics naming a line that is not.
fn json_lines(lines: &[String], whence: &str) -> Vec<Value> {
    lines
        .iter()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a line of {whence} is not JSON ({e}): {line}"))
        })
        .collect()
}

/// The access line of the request with `request_id`.
fn access_line<'a>(lines: &'a [Value], request_id: &str) -> Option<&'a Value> {
    lines.iter().find(|line| {
        line["target"] == "mailscore::access" && line["fields"]["request_id"] == request_id
    })
}

#[test]
fn the_server_logs_json_to_stdout_and_a_daily_file_and_keeps_its_warnings_for_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, viewer, operator) = store_with_tokens(dir.path());
    let served = serve(&data_dir, &[], &[]);
    let base = format!("http://{}", served.addr);
    let marker = format!("obs-{}", std::process::id());

    let access_id = format!("{marker}-status");
    let (status, answered_id, body) = get(
        &format!("{base}/api/status"),
        Some(&viewer),
        Some(&access_id),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(answered_id.as_deref(), Some(access_id.as_str()));

    // A failed login and a rejected upload are what really logs a warning.
    let wrong_password = "not-the-password-of-anyone";
    let login_id = format!("{marker}-login");
    let login = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{base}/api/session"))
        .header("x-request-id", &login_id);
    let credentials =
        format!(r#"{{"email":"nobody@example.jp","password":"{wrong_password}"}}"#).into_bytes();
    let (status, _, body) = send(login, Some(("application/json", credentials)));
    assert_eq!(status, 401, "{body}");

    let upload_id = format!("{marker}-upload");
    let boundary = "mailscore-logs-test-boundary";
    let upload_body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
         filename=\"not-a-feed.csv\"\r\nContent-Type: text/csv\r\n\r\n\
         colour,shape\r\nred,round\r\n\r\n--{boundary}--\r\n"
    );
    let upload = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{base}/api/imports?kind=jobs"))
        .header("authorization", format!("Bearer {operator}"))
        .header("x-request-id", &upload_id);
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let (status, _, body) = send(upload, Some((&content_type, upload_body.into_bytes())));
    assert_eq!(status, 422, "{body}");

    // Newest first; each warning with the request it happened in.
    let both = logs(&base, &viewer, &format!("q={marker}"));
    assert_eq!(both["total"], 2, "{both}");
    let entries = both["entries"].as_array().unwrap();
    assert_eq!(entries[0]["message"], "import rejected", "{both}");
    assert_eq!(entries[0]["level"], "warn");
    assert_eq!(entries[0]["request_id"], upload_id.as_str());
    assert_eq!(entries[0]["fields"]["file"], "not-a-feed.csv", "{both}");
    assert!(
        entries[0]["fields"]["error"]
            .as_str()
            .is_some_and(|error| !error.is_empty()),
        "the rejection says why: {both}"
    );
    assert_eq!(entries[1]["message"], "a login failed", "{both}");
    assert_eq!(entries[1]["request_id"], login_id.as_str());
    assert!(
        entries[1]["at"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z')),
        "{both}"
    );

    let only_login = logs(&base, &viewer, &format!("q={login_id}"));
    assert_eq!(only_login["total"], 1, "{only_login}");
    let warnings = logs(&base, &viewer, &format!("q={marker}&level=warn&limit=1"));
    assert_eq!(warnings["total"], 2, "{warnings}");
    assert_eq!(warnings["entries"].as_array().unwrap().len(), 1);
    let errors = logs(&base, &viewer, &format!("q={marker}&level=error"));
    assert_eq!(errors["total"], 0, "{errors}");
    let (status, _, body) = get(&format!("{base}/api/logs"), None, None);
    assert_eq!(status, 401, "{body}");

    let (exit, stdout) = served.stop();
    assert!(exit.success(), "{exit:?}");

    let stdout = json_lines(&stdout, "standard output");
    let access = access_line(&stdout, &access_id).expect("the access line on standard output");
    assert_eq!(access["fields"]["route"], "/api/status");
    assert_eq!(access["fields"]["status"], 200);

    let log_dir = data_dir.join("logs");
    let files: Vec<PathBuf> = std::fs::read_dir(&log_dir)
        .expect("DATA_DIR/logs exists")
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    let day = name
        .strip_prefix("mailscore.")
        .and_then(|rest| rest.strip_suffix(".log"))
        .and_then(|day| day.parse::<jiff::civil::Date>().ok());
    assert!(day.is_some(), "not mailscore.YYYY-MM-DD.log: {name}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let file = json_lines(&lines, "the log file");
    let access = access_line(&file, &access_id).expect("the access line in the file");
    assert_eq!(access["fields"]["method"], "GET");
    assert!(
        file.iter().any(|line| line["target"] == "mailscore::api"
            && line["fields"]["message"] == "server stopped"),
        "the last line was flushed at shutdown:\n{text}"
    );

    let everything = format!("{}\n{text}", serde_json::to_string(&stdout).unwrap());
    for secret in [viewer.as_str(), operator.as_str(), wrong_password] {
        assert!(
            !everything.contains(secret),
            "a secret was logged: {secret}"
        );
    }
}

#[test]
fn the_log_files_can_be_turned_off_and_the_console_can_be_human() {
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, viewer, _) = store_with_tokens(dir.path());
    let served = serve(
        &data_dir,
        &["--log-format", "human"],
        &[("MAILSCORE_LOG_FILES", "false")],
    );
    let (status, _, _) = get(
        &format!("http://{}/api/status", served.addr),
        Some(&viewer),
        Some("files-off"),
    );
    assert_eq!(status, 200);
    let (exit, stdout) = served.stop();
    assert!(exit.success(), "{exit:?}");
    assert!(!data_dir.join("logs").exists(), "no log directory");
    assert!(
        stdout
            .iter()
            .any(|line| line.contains("files-off") && !line.starts_with('{')),
        "human lines on standard output: {stdout:?}"
    );
}
