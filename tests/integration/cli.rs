//! The binary as an operator runs it: refusing a data directory without a store, a closed
//! pipe on standard output, `config check`, and log lines without colour codes off a terminal.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::helpers::{job_row, jobs_csv};

fn mailscore(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailscore"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("MAILSCORE_CONFIG")
        .env_remove("MAILSCORE_SECRET_KEY")
        .env_remove("MAILSCORE_BASE_URL")
        .env_remove("RUST_LOG");
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A data directory with a store holding two jobs, made by the binary itself.
fn store_with_jobs(dir: &Path) -> std::path::PathBuf {
    let data_dir = dir.join("data");
    let jobs = dir.join("jobs.csv");
    std::fs::write(&jobs, jobs_csv(&[job_row(1, "A"), job_row(2, "B")])).unwrap();
    let output = run(mailscore(&data_dir).args(["import", "jobs"]).arg(&jobs));
    assert!(output.status.success(), "{}", stderr(&output));
    data_dir
}

#[test]
fn every_reading_command_refuses_a_data_dir_without_a_store_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let commands: &[&[&str]] = &[
        &["batch", "run"],
        &["batch", "list"],
        &["status"],
        &["picks", "export", "--date", "2025-07-02", "--out", "-"],
        &["scores", "export", "--date", "2025-07-02", "--out", "-"],
        &[
            "emails",
            "preview",
            "--user",
            "1",
            "--date",
            "2025-07-02",
            "--out",
            "-",
        ],
        &["emails", "export", "--date", "2025-07-02", "--out", "out"],
        &["imports", "list"],
        &["imports", "show", "1"],
        &["jobs", "show", "1"],
        &["suppressions", "list"],
        &["suppressions", "add", "someone@example.com"],
        &["suppressions", "remove", "someone@example.com"],
        &["compact"],
        &["scheduler"],
        &["serve", "--listen", "127.0.0.1:0"],
    ];
    for args in commands {
        for data_dir in [dir.path().join("typo"), empty.clone()] {
            let output = run(mailscore(&data_dir).args(*args));
            let message = stderr(&output);
            assert!(!output.status.success(), "{args:?} succeeded");
            assert!(
                message.contains(&format!("no mailscore store in {}", data_dir.display())),
                "{args:?}: {message}"
            );
            assert!(message.contains("hint:"), "{args:?}: {message}");
            assert!(!message.contains("panicked"), "{args:?}: {message}");
        }
        assert!(
            !dir.path().join("typo").exists(),
            "{args:?} created the directory"
        );
        let left: Vec<_> = std::fs::read_dir(&empty).unwrap().collect();
        assert!(left.is_empty(), "{args:?} left {left:?}");
    }
}

#[test]
fn importing_creates_the_store_and_its_key_and_then_reading_commands_work() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = store_with_jobs(dir.path());
    assert!(data_dir.join("mailscore.redb").exists());
    assert!(data_dir.join("secret.key").exists());
    let output = run(mailscore(&data_dir).arg("status"));
    assert!(output.status.success(), "{}", stderr(&output));
}

/// Runs `args`, reads one line of its standard output, closes the pipe and waits.
fn read_one_line_and_close(data_dir: &Path, args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = mailscore(data_dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(!line.is_empty(), "{args:?} printed nothing");
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    (output.status, stderr(&output))
}

#[test]
fn a_reader_that_closes_the_pipe_after_one_line_is_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    // Thousands of bad addresses: a report far larger than a pipe's buffer.
    let mut users = String::from("user_id,email\n");
    for id in 1..=5_000 {
        users.push_str(&format!("{id},not-an-address-{id}\n"));
    }
    let users_file = dir.path().join("users.csv");
    std::fs::write(&users_file, users).unwrap();
    let output = run(mailscore(&data_dir)
        .args(["import", "users"])
        .arg(&users_file));
    assert!(output.status.success(), "{}", stderr(&output));

    for args in [
        &["imports", "show", "1"][..],
        &["imports", "show", "1", "--json"],
        &["import", "users", users_file.to_str().unwrap()],
        &["config", "check"],
    ] {
        let (status, message) = read_one_line_and_close(&data_dir, args);
        assert!(status.success(), "{args:?}: {status:?} {message}");
        assert!(!message.contains("panicked"), "{args:?}: {message}");
    }
}

#[test]
fn config_check_prints_every_table_with_the_secrets_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mailscore.toml");
    std::fs::write(
        &config,
        "[email]\nsender_name = \"テスト便\"\nllm_url = \"http://127.0.0.1:9/v1\"\n",
    )
    .unwrap();
    let output = run(mailscore(dir.path())
        .args([
            "config",
            "check",
            "--secret-key",
            "the-very-secret-signing-key-0123456789",
        ])
        .arg("--config")
        .arg(&config)
        .env("MAILSCORE_LLM_API_KEY", "sk-hidden-api-key"));
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = String::from_utf8(output.stdout).unwrap();
    for table in ["[log]", "[storage]", "[import]", "[email]", "[scoring]"] {
        assert!(printed.contains(table), "{table} missing:\n{printed}");
    }
    assert!(printed.contains("sender_name = \"テスト便\""), "{printed}");
    assert!(
        printed.contains("base_url = \"http://localhost:8080\""),
        "{printed}"
    );
    assert!(
        printed.contains("# secret_key is set (hidden)"),
        "{printed}"
    );
    assert!(
        printed.contains("# llm_api_key is set (hidden)"),
        "{printed}"
    );
    assert!(!printed.contains("the-very-secret"), "{printed}");
    assert!(!printed.contains("sk-hidden"), "{printed}");
    assert!(!dir.path().join("secret.key").exists());
}

#[test]
fn a_base_url_that_is_not_an_absolute_http_url_is_refused_with_its_key_and_origin() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mailscore.toml");
    std::fs::write(&config, "[email]\nbase_url = \"not a url\"\n").unwrap();
    let output = run(mailscore(dir.path())
        .args(["config", "check", "--config"])
        .arg(&config));
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(message.contains("email.base_url"), "{message}");
    assert!(message.contains(&config.display().to_string()), "{message}");
    assert!(
        message.contains("example: base_url = \"https://"),
        "{message}"
    );

    for url in [
        "ftp://example.jp",
        "https://example.jp/?a=1",
        "https://",
        "https://example.jp#top",
    ] {
        let output = run(mailscore(dir.path()).args(["config", "check", "--base-url", url]));
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{url}: {message}");
        assert!(message.contains("--base-url"), "{url}: {message}");
    }
}

#[test]
fn log_lines_off_a_terminal_or_under_no_color_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = store_with_jobs(dir.path());
    for no_color in [None, Some("1")] {
        let mut command = mailscore(&data_dir);
        command.args(["batch", "run", "--date", "2025-07-02", "--until", "scores"]);
        if let Some(value) = no_color {
            command.env("NO_COLOR", value);
        } else {
            command.env_remove("NO_COLOR");
        }
        let output = run(&mut command);
        let message = stderr(&output);
        assert!(output.status.success(), "{message}");
        assert!(message.contains("daily run started"), "{message}");
        assert!(!message.contains("\x1b["), "{no_color:?}: {message:?}");
    }
}

#[test]
fn a_daily_run_whose_log_reader_goes_away_still_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = store_with_jobs(dir.path());
    // `batch run 2>&1 | head -1`: the log's first line is read, then both streams are a
    // closed pipe for the rest of the run.
    let script = format!(
        "'{}' --data-dir '{}' batch run --date 2025-11-25 2>&1 | head -1 >/dev/null; \
         echo \"${{PIPESTATUS[0]}}\"",
        env!("CARGO_BIN_EXE_mailscore"),
        data_dir.display()
    );
    let output = run(Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env_remove("RUST_LOG"));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "0",
        "the run's exit status; {}",
        stderr(&output)
    );
    let list = run(mailscore(&data_dir).args(["batch", "list"]));
    let runs = String::from_utf8_lossy(&list.stdout);
    assert!(
        runs.contains(" succeeded ") && !runs.contains("running") && !runs.contains("failed"),
        "{runs}"
    );
}
