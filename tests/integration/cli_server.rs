//! The command line next to a server: `mailscore serve` started as a child process of the
//! built binary on a data directory, and the commands of an operator run on that same
//! directory, which go to the server, compared with the same commands on a copy that no
//! server holds. Also `--server` with `MAILSCORE_TOKEN` from another directory, a wrong
//! token, the commands that cannot be forwarded, a stale `server.json` (a SIGKILLed
//! server), a server that does not answer, Ctrl-C during a forwarded run, and TLS.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use mailscore::service::local_server::{SERVER_FILE, ServerFile, TOKEN_FILE};
use serde_json::Value;

use crate::helpers::{job_row, jobs_csv};

/// The batch date of every run here (the generated actions lead up to it).
const DATE: &str = "2025-07-02";

/// How long one command may take before the test gives up on it.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a server may take to start (it prints its address) or to stop on SIGTERM.
const SERVER_TIMEOUT: Duration = Duration::from_secs(60);

/// A schedule that does not fire while a test runs: the servers here run only what the
/// tests ask.
const QUIET_SCHEDULE: &str = "0 3 1 1 *";

/// The binary with a clean environment: none of the variables that would change what a
/// test asks, warnings only in the log.
fn mailscore(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailscore"));
    command.arg("--data-dir").arg(data_dir);
    for name in [
        "MAILSCORE_CONFIG",
        "MAILSCORE_SECRET_KEY",
        "MAILSCORE_BASE_URL",
        "MAILSCORE_LISTEN",
        "MAILSCORE_SERVER",
        "MAILSCORE_TOKEN",
        "MAILSCORE_ADMIN_EMAIL",
        "MAILSCORE_ADMIN_PASSWORD",
        "MAILSCORE_IMPORT_ENCODING",
        "MAILSCORE_IMPORT_MAX_SHRINK_PERCENT",
        "MAILSCORE_TIME_ZONE",
        "MAILSCORE_LOG_FORMAT",
        "RUST_LOG",
    ] {
        command.env_remove(name);
    }
    command
        .env("MAILSCORE_LOG_LEVEL", "warn")
        .env("MAILSCORE_SCHEDULE", QUIET_SCHEDULE);
    command
}

/// Runs `command` to its end, within [`COMMAND_TIMEOUT`] (killed and failed past it).
fn run(command: &mut Command) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let status = wait_for(&mut child, COMMAND_TIMEOUT)
        .unwrap_or_else(|| panic!("{command:?} took longer than {COMMAND_TIMEOUT:?}"));
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// The child's exit status once it exits within `limit`; killed (and `None`) otherwise.
fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `command` and insists it succeeds; its standard output.
fn run_ok(command: &mut Command) -> String {
    let output = run(command);
    assert!(
        output.status.success(),
        "{command:?}: {}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

fn send_signal(pid: u32, signal: libc::c_int) {
    // SAFETY: `kill` takes any pid and signal; the pid is a child of this test.
    unsafe { libc::kill(pid as libc::pid_t, signal) };
}

/// `mailscore serve` on a data directory, as a child process; killed when dropped, so a
/// failing test leaves no server behind.
struct Server {
    child: Child,
    data_dir: PathBuf,
    file: ServerFile,
}

impl Server {
    /// Starts the server on `data_dir` on a loopback port of its own (with `extra`
    /// arguments of `serve`) and returns once it said it serves, with the `server.json`
    /// it wrote.
    fn start(data_dir: &Path, extra: &[&str]) -> Self {
        let mut child = mailscore(data_dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        // The server says where it serves on standard error (its logs go to standard
        // output); the rest of standard error is drained so that the server never blocks.
        let stderr = child.stderr.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sender = Some(sender);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.starts_with("serving on ")
                    && let Some(sender) = sender.take()
                {
                    let _ = sender.send(line);
                }
            }
        });
        let line = receiver.recv_timeout(SERVER_TIMEOUT);
        let file = std::fs::read_to_string(data_dir.join(SERVER_FILE)).ok();
        let mut server = Server {
            child,
            data_dir: data_dir.to_path_buf(),
            file: ServerFile {
                url: String::new(),
                pid: 0,
                started_at: String::new(),
                ca_file: None,
            },
        };
        let line = line.unwrap_or_default();
        assert!(line.starts_with("serving on "), "the server said {line:?}");
        server.file = serde_json::from_str(&file.expect("serve wrote server.json"))
            .expect("server.json parses");
        assert_eq!(
            server.file.pid,
            server.child.id(),
            "server.json names the server"
        );
        assert!(
            line.contains(&server.file.url),
            "server.json has the address the server printed: {line:?} {:?}",
            server.file
        );
        server
    }

    fn url(&self) -> &str {
        &self.file.url
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The local admin token the server wrote.
    fn token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join(TOKEN_FILE))
            .expect("serve wrote server.token")
            .trim()
            .to_owned()
    }

    /// SIGTERM, and the server's clean exit.
    fn stop(mut self) {
        send_signal(self.pid(), libc::SIGTERM);
        let status = wait_for(&mut self.child, SERVER_TIMEOUT).expect("the server stops");
        assert!(status.success(), "{status:?}");
    }

    /// SIGKILL: the server leaves its files behind.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// `GET path` with the server's own token, as JSON.
    fn get(&self, path: &str) -> Value {
        let mut response = agent()
            .get(format!("{}{path}", self.url()))
            .header("authorization", format!("Bearer {}", self.token()))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let body = response.body_mut().read_to_string().unwrap();
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(20)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// A generated dataset imported by the binary into `DIR/original`, from which each test
/// takes copies: one for a server to hold, one that runs alone.
struct Dataset {
    dir: tempfile::TempDir,
    original: PathBuf,
}

impl Dataset {
    fn new(users: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let generated = dir.path().join("generated");
        let options = mailscore::generate::GenerateOptions {
            jobs: 300,
            users,
            days: 20,
            seed: 11,
            dirty: false,
            end_date: mailscore::domain::time::parse_date(DATE).unwrap(),
        };
        mailscore::generate::generate(&options, &generated).expect("the dataset is generated");
        let original = dir.path().join("original");
        for kind in ["jobs", "users", "actions"] {
            run_ok(
                mailscore(&original)
                    .args(["import", kind])
                    .arg(generated.join(format!("{kind}.csv"))),
            );
        }
        Self { dir, original }
    }

    /// A copy of the original store (database and key) in `DIR/name`.
    fn copy(&self, name: &str) -> PathBuf {
        let copy = self.dir.path().join(name);
        std::fs::create_dir(&copy).unwrap();
        for file in ["mailscore.redb", "secret.key"] {
            std::fs::copy(self.original.join(file), copy.join(file)).unwrap();
        }
        copy
    }

    /// Writes `contents` to `DIR/files/name`.
    fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let dir = self.dir.path().join("files");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// The address of the generated user `user_id`.
    fn address_of(&self, user_id: &str) -> String {
        let users =
            std::fs::read_to_string(self.dir.path().join("generated").join("users.csv")).unwrap();
        users
            .lines()
            .find_map(|line| {
                let mut cells = line.split(',');
                (cells.next() == Some(user_id)).then(|| cells.next().unwrap().to_owned())
            })
            .unwrap_or_else(|| panic!("no user {user_id}"))
    }
}

/// What differs between two runs of the same command by nature, masked: the data
/// directory's path, durations and rates, instants (a run's start, a suppression's time,
/// an import's), and the database file's sizes in `status` (the server wrote its own
/// token into its store, so its pages differ). Everything else must be equal.
fn normalise(output: &str, data_dir: &Path) -> String {
    let output = output.replace(&data_dir.display().to_string(), "DATA");
    output
        .lines()
        .map(|line| {
            let trimmed = line.trim_start();
            for key in ["\"started_at\": ", "\"duration_ms\": "] {
                if trimmed.starts_with(key) {
                    let indent = &line[..line.len() - trimmed.len()];
                    let comma = if trimmed.ends_with(',') { "," } else { "" };
                    return format!("{indent}{key}#{comma}");
                }
            }
            mask_tokens(line)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Masks the decimals (durations, megabytes), rates, RFC 3339 instants and local times of
/// one line.
fn mask_tokens(line: &str) -> String {
    let is_delimiter = |c: char| " ,()[]\"".contains(c);
    let mut tokens: Vec<String> = Vec::new();
    let mut current = String::new();
    for c in line.chars() {
        if is_delimiter(c) {
            if !current.is_empty() {
                tokens.push(std::mem::take(&mut current));
            }
            tokens.push(c.to_string());
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    let is_decimal = |t: &str| {
        let mut parts = t.split('.');
        let (Some(whole), Some(fraction), None) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        !whole.is_empty()
            && !fraction.is_empty()
            && whole.bytes().all(|b| b.is_ascii_digit())
            && fraction.bytes().all(|b| b.is_ascii_digit())
    };
    let is_date = |t: &[u8]| t.len() == 10 && t[4] == b'-' && t[7] == b'-' && t.starts_with(b"20");
    let is_instant =
        |t: &str| t.len() > 20 && is_date(&t.as_bytes()[..10]) && t.as_bytes()[10] == b'T';
    let is_clock = |t: &str| t.len() == 11 && t.as_bytes()[2] == b':' && t.as_bytes()[8] == b'+';
    let mut masked = tokens.clone();
    for (index, token) in tokens.iter().enumerate() {
        let next_word = tokens.get(index + 2).map(String::as_str);
        let rate = next_word == Some("rows/s") && token.bytes().all(|b| b.is_ascii_digit());
        let local_date = is_date(token.as_bytes()) && next_word.is_some_and(is_clock);
        if is_decimal(token) || is_instant(token) || is_clock(token) || rate || local_date {
            masked[index] = "#".to_owned();
        }
    }
    masked.concat()
}

/// What an operator does on a store, one command at a time.
fn operator_steps(data: &Dataset, suppressed: &str) -> Vec<Vec<String>> {
    let new_users = data.file(
        "new-users.csv",
        "user_id,email,name\n900001,new1@example.jp,新規一\n900002,not-an-address,壊れ\n900003,new3@example.jp,\n",
    );
    let (sjis, _, _) =
        encoding_rs::SHIFT_JIS.encode("user_id,email,name\n900004,new4@example.jp,山田花子\n");
    let sjis_users = data.file("sjis-users.csv", &sjis);
    // UTF-8 read as Shift_JIS spoils every name: `--encoding` must reach the server.
    let utf8_names = data.file(
        "utf8-names.csv",
        "user_id,email,name\n910001,a@example.jp,佐藤花子\n910002,b@example.jp,鈴木一郎\n\
         910003,c@example.jp,高橋由美\n910004,d@example.jp,田中健太\n",
    );
    let part1 = data.file(
        "feed-part1.csv",
        jobs_csv(&[
            job_row(1, "ホール"),
            job_row(2, "キッチン"),
            job_row(3, "レジ"),
        ]),
    );
    let part2 = data.file(
        "feed-part2.csv",
        jobs_csv(&[
            job_row(3, "レジ（再）"),
            job_row(4, "品出し"),
            "x,bad".into(),
        ]),
    );
    let path = |p: &Path| p.display().to_string();
    let step = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    vec![
        step(&["status"]),
        step(&["import", "users", &path(&new_users)]),
        step(&[
            "import",
            "users",
            &path(&sjis_users),
            "--encoding",
            "shift_jis",
        ]),
        step(&[
            "import",
            "users",
            &path(&utf8_names),
            "--encoding",
            "shift_jis",
        ]),
        step(&["imports", "show", "4", "--json"]),
        step(&["imports", "show", "5"]),
        step(&["batch", "run", "--date", DATE, "--chunk-users", "7"]),
        step(&[
            "suppressions",
            "add",
            suppressed,
            "--reason",
            "hard-bounce",
            "--note",
            "bounced twice",
        ]),
        step(&["suppressions", "add", "Someone.Else@Example.jp"]),
        step(&["suppressions", "remove", "someone.else@example.jp"]),
        step(&["suppressions", "remove", "never-listed@example.jp"]),
        step(&["suppressions", "list"]),
        step(&["jobs", "show", "1000007"]),
        step(&["jobs", "show", "999999"]),
        // The snapshot guard refuses the small feed; then it is taken as a real shrink.
        step(&["import", "jobs", &path(&part1), &path(&part2)]),
        // `--max-shrink-percent` must reach the server too.
        step(&[
            "--max-shrink-percent",
            "100",
            "import",
            "jobs",
            &path(&part1),
            &path(&part2),
        ]),
        step(&[
            "import",
            "jobs",
            &path(&part1),
            &path(&part2),
            "--allow-shrink",
        ]),
        step(&["imports", "list", "--limit", "4"]),
        step(&[
            "batch",
            "run",
            "--date",
            DATE,
            "--until",
            "picks",
            "--chunk-users",
            "5",
        ]),
        step(&["batch", "list"]),
        step(&["status"]),
    ]
}

#[test]
fn commands_on_a_data_dir_a_server_holds_go_to_it_and_print_what_they_print_alone() {
    let data = Dataset::new(40);
    let alone = data.copy("alone");
    let held = data.copy("held");
    let server = Server::start(&held, &[]);
    // A user the first run emails, so that suppressing them marks a queued email.
    let picks = run_ok(mailscore(&data.original).args(["batch", "run", "--date", DATE]));
    assert!(picks.contains("succeeded"), "{picks}");
    let exported =
        run_ok(mailscore(&data.original).args(["picks", "export", "--date", DATE, "--out", "-"]));
    let user = exported.lines().nth(1).unwrap().split(',').nth(1).unwrap();
    let suppressed = data.address_of(user);

    for step in operator_steps(&data, &suppressed) {
        let here = run(mailscore(&alone).args(&step));
        let there = run(mailscore(&held).args(&step));
        assert_eq!(
            there.status.code(),
            here.status.code(),
            "{step:?}: exit status\nalone: {}\nnext to the server: {}",
            text(&here.stderr),
            text(&there.stderr)
        );
        assert_eq!(
            normalise(&text(&there.stdout), &held),
            normalise(&text(&here.stdout), &alone),
            "{step:?}: standard output (stderr next to the server: {})",
            text(&there.stderr)
        );
        if step[0] == "suppressions" && step[1] == "add" && step[2] == suppressed {
            assert!(
                text(&here.stdout).contains("1 queued emails marked suppressed"),
                "{}",
                text(&here.stdout)
            );
        }
    }
    assert!(!alone.join(SERVER_FILE).exists());

    // The server did the work: its runs are the command line's, and it has the uploads'
    // reports under the names the command line gave.
    let runs = server.get("/api/runs");
    let triggers: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["trigger"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(triggers, ["cli", "cli"], "{runs}");
    let feed = server.get("/api/imports/6");
    let files = data.dir.path().join("files");
    let names = format!(
        "{}, {}",
        files.join("feed-part1.csv").display(),
        files.join("feed-part2.csv").display()
    );
    assert_eq!(feed["file"], names.as_str(), "{feed}");

    // A clean stop takes the files away; then both stores hold the same results.
    server.stop();
    assert!(!held.join(SERVER_FILE).exists(), "server.json is removed");
    assert!(!held.join(TOKEN_FILE).exists(), "server.token is removed");
    for args in [
        &["picks", "export", "--date", DATE, "--out", "-"][..],
        &["scores", "export", "--date", DATE, "--out", "-"],
        &["suppressions", "list"],
        &["imports", "show", "6", "--json"],
    ] {
        assert_eq!(
            normalise(&run_ok(mailscore(&held).args(args)), &held),
            normalise(&run_ok(mailscore(&alone).args(args)), &alone),
            "{args:?}"
        );
    }
}

#[test]
fn server_and_token_from_another_directory_reach_the_server_and_a_wrong_token_is_a_401() {
    let data = Dataset::new(20);
    let held = data.copy("held");
    let server = Server::start(&held, &[]);
    let elsewhere = tempfile::tempdir().unwrap();
    let nowhere = elsewhere.path().join("no-data-dir");
    let remote = |token: Option<&str>| {
        let mut command = mailscore(&nowhere);
        command
            .current_dir(elsewhere.path())
            .args(["--server", server.url()]);
        if let Some(token) = token {
            command.env("MAILSCORE_TOKEN", token);
        }
        command
    };
    let token = server.token();

    let status = run_ok(remote(Some(&token)).arg("status"));
    let beside = run_ok(mailscore(&held).arg("status"));
    let (first, rest) = status.split_once('\n').unwrap();
    assert!(
        first.starts_with(&format!("database: the database of {} (", server.url())),
        "{first}"
    );
    assert_eq!(rest, beside.split_once('\n').unwrap().1);

    let new_users = data.file("remote-users.csv", "user_id,email\n800001,far@example.jp\n");
    let imported = run_ok(
        remote(Some(&token))
            .args(["import", "users"])
            .arg(&new_users),
    );
    assert!(imported.contains("read 1 rows, imported 1"), "{imported}");
    run_ok(remote(Some(&token)).args(["suppressions", "add", "far@example.jp"]));
    // MAILSCORE_SERVER says the same as --server.
    let mut by_variable = mailscore(&nowhere);
    by_variable
        .current_dir(elsewhere.path())
        .env("MAILSCORE_SERVER", server.url())
        .env("MAILSCORE_TOKEN", &token)
        .args(["suppressions", "list"]);
    let list = run_ok(&mut by_variable);
    assert!(list.contains("far@example.jp,manual,"), "{list}");
    assert!(
        !nowhere.exists(),
        "nothing was created in the data directory given"
    );

    let wrong = run(remote(Some("msk_not-a-token-of-this-server")).arg("status"));
    assert_eq!(wrong.status.code(), Some(1));
    let message = text(&wrong.stderr);
    assert!(
        message.contains(&format!(
            "the server at {} refused the token in MAILSCORE_TOKEN (401 unauthenticated)",
            server.url()
        )),
        "{message}"
    );
    assert!(message.contains("hint: set MAILSCORE_TOKEN"), "{message}");
    assert!(wrong.stdout.is_empty());

    let missing = run(remote(None).arg("status"));
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("needs an API token in MAILSCORE_TOKEN"),
        "{}",
        text(&missing.stderr)
    );

    // The command line's token has a reserved name: nobody else makes one.
    let reserved = agent()
        .post(format!("{}/api/tokens", server.url()))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .send(
            serde_json::json!({
                "name": mailscore::service::accounts::LOCAL_TOKEN_NAME,
                "role": "viewer"
            })
            .to_string(),
        )
        .unwrap();
    assert_eq!(reserved.status().as_u16(), 400);
    server.stop();
}

#[test]
fn a_command_no_api_operation_does_is_refused_naming_the_servers_address_and_pid() {
    let data = Dataset::new(10);
    let held = data.copy("held");
    let server = Server::start(&held, &[]);
    let out = data.dir.path().join("emails-out");
    let commands: &[&[&str]] = &[
        &["compact"],
        &["picks", "export", "--date", DATE, "--out", "-"],
        &["scores", "export", "--date", DATE, "--out", "-"],
        &[
            "emails",
            "export",
            "--date",
            DATE,
            "--out",
            out.to_str().unwrap(),
        ],
        &["demo", "--no-serve"],
        &["scheduler"],
        &["serve", "--listen", "127.0.0.1:0"],
    ];
    for args in commands {
        let output = run(mailscore(&held).args(*args));
        let message = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {message}");
        assert!(
            message.contains(&format!(
                "cannot be sent to the server at {} (PID {})",
                server.url(),
                server.pid()
            )),
            "{args:?}: {message}"
        );
        assert!(
            message.contains(&format!("hint: stop the server (kill {},", server.pid())),
            "{args:?}: {message}"
        );
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    assert!(!out.exists());
    assert!(!held.join("demo-dataset").exists(), "demo did nothing");
    // A command that needs no store runs alone beside the server.
    run_ok(mailscore(&held).args(["scheduler", "--print", "1"]));
    run_ok(mailscore(&held).args(["config", "check"]));
    // Through --server, the same refusal names the URL.
    let output = run(mailscore(&held)
        .args(["--server", server.url(), "compact"])
        .env("MAILSCORE_TOKEN", server.token()));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains(&format!(
            "`mailscore compact` cannot be sent to the server at {}, which",
            server.url()
        )),
        "{}",
        text(&output.stderr)
    );
    server.stop();
}

#[test]
fn a_stale_server_file_is_ignored_and_the_next_start_replaces_it_and_its_token() {
    let data = Dataset::new(10);
    let held = data.copy("held");
    let first = Server::start(&held, &[]);
    let old_token = first.token();
    let old_pid = first.pid();
    first.kill();
    assert!(
        held.join(SERVER_FILE).exists(),
        "a SIGKILL leaves server.json"
    );
    assert!(held.join(TOKEN_FILE).exists());

    // The command runs alone, on the store the dead server left.
    let alone = data.copy("alone");
    let here = run_ok(mailscore(&held).arg("status"));
    assert_eq!(
        normalise(&here, &held),
        normalise(&run_ok(mailscore(&alone).arg("status")), &alone)
    );
    let added = run_ok(mailscore(&held).args(["suppressions", "add", "stale@example.jp"]));
    assert!(added.starts_with("stale@example.jp suppressed"), "{added}");

    let second = Server::start(&held, &[]);
    assert_ne!(second.pid(), old_pid);
    assert_ne!(second.token(), old_token, "a new token");
    let refused = run(mailscore(&held)
        .args(["--server", second.url(), "status"])
        .env("MAILSCORE_TOKEN", &old_token));
    assert_eq!(refused.status.code(), Some(1), "the old token is revoked");
    assert!(
        text(&refused.stderr).contains("401"),
        "{}",
        text(&refused.stderr)
    );
    let list = run_ok(mailscore(&held).args(["suppressions", "list"]));
    assert!(list.contains("stale@example.jp"), "{list}");
    second.stop();
    assert!(!held.join(SERVER_FILE).exists());
}

#[test]
fn a_server_that_holds_the_store_but_does_not_answer_is_named_by_the_error() {
    let data = Dataset::new(10);
    let held = data.copy("held");
    let server = Server::start(&held, &[]);
    // Stopped, the process lives and keeps the store open, but answers nothing.
    send_signal(server.pid(), libc::SIGSTOP);
    let output = run(mailscore(&held).arg("status"));
    send_signal(server.pid(), libc::SIGCONT);
    let message = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.contains("is in use by another mailscore process: the server at"),
        "{message}"
    );
    assert!(
        message.contains(&format!("{} (PID {},", server.url(), server.pid())),
        "{message}"
    );
    assert!(message.contains("did not answer"), "{message}");
    server.stop();
}

#[test]
fn ctrl_c_during_a_forwarded_run_cancels_the_servers_run_which_the_next_run_resumes() {
    let data = Dataset::new(300);
    let held = data.copy("held");
    let server = Server::start(&held, &[]);
    let mut child = mailscore(&held)
        .args(["batch", "run", "--date", DATE, "--chunk-users", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the server's run has stored a chunk, Ctrl-C the command line.
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    loop {
        let current = agent()
            .get(format!("{}/api/runs/current", server.url()))
            .header("authorization", format!("Bearer {}", server.token()))
            .call()
            .unwrap();
        let status = current.status().as_u16();
        let body: Value =
            serde_json::from_reader(current.into_body().into_reader()).unwrap_or(Value::Null);
        if status == 200 && body["progress"]["chunks_done"].as_u64().unwrap_or(0) >= 1 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be interrupted"
        );
        assert!(Instant::now() < deadline, "the run never stored a chunk");
        std::thread::sleep(Duration::from_millis(20));
    }
    send_signal(child.id(), libc::SIGINT);
    let status = wait_for(&mut child, COMMAND_TIMEOUT).expect("the command line ends");
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with(&format!("run #1 for {DATE}: cancelled in ")),
        "{stdout}"
    );
    assert!(stderr.contains("interrupted: run #1"), "{stderr}");
    let run = server.get("/api/runs/1");
    assert_eq!(run["status"], "cancelled", "{run}");
    // The next run of the date resumes after the chunks the cancelled one stored.
    let rerun =
        run_ok(mailscore(&held).args(["batch", "run", "--date", DATE, "--chunk-users", "1"]));
    assert!(
        rerun.starts_with(&format!("run #2 for {DATE}: succeeded")),
        "{rerun}"
    );
    let picks_line = rerun
        .lines()
        .find(|l| l.trim_start().starts_with("picks"))
        .unwrap();
    assert!(
        !picks_line.contains("resumed_from_chunk 0,"),
        "{picks_line}"
    );
    server.stop();
}

#[test]
fn a_server_with_a_self_signed_certificate_is_reached_over_https() {
    let data = Dataset::new(10);
    let held = data.copy("held");
    let alone = data.copy("alone");
    let server = Server::start(&held, &["--tls-self-signed"]);
    assert!(
        server.url().starts_with("https://127.0.0.1:"),
        "{}",
        server.url()
    );
    assert_eq!(
        server.file.ca_file.as_deref(),
        Some(Path::new("tls/self-signed.pem"))
    );
    let there = run_ok(mailscore(&held).arg("status"));
    let here = run_ok(mailscore(&alone).arg("status"));
    assert_eq!(normalise(&there, &held), normalise(&here, &alone));
    let added = run_ok(mailscore(&held).args(["suppressions", "add", "tls@example.jp"]));
    assert!(added.starts_with("tls@example.jp suppressed"), "{added}");
    server.stop();
}
