//! Delivery against a real SMTP server on loopback: aiosmtpd (tests/tools/smtp_server.py)
//! with STARTTLS under a test CA's certificate and AUTH, answering chosen replies. The
//! received messages are parsed and their DKIM signatures verified by dkimpy
//! (tests/tools/dkim_verify.py). Each test skips, saying so, without python3 and aiosmtpd.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailscore::delivery::SmtpSettings;
use mailscore::delivery::dkim::{DkimAlgorithm, DkimSigner, generate_key};
use mailscore::domain::TimeZoneSetting;
use mailscore::domain::batch::EmailStatus;
use mailscore::domain::time::parse_date;
use mailscore::pipeline::{BatchOptions, run_batch};
use mailscore::render::{EmailSettings, Renderer};
use mailscore::service::delivery::{SendOptions, Sender, resume};
use mailscore::service::emails::Messages;
use mailscore::store::Store;
use mailscore::store::prelude::*;

use crate::helpers::{TestStore, test_signer};

const USER: &str = "mailscore";
const PASSWORD: &str = "s3cret-pass";
const DATE: &str = "2025-07-02";
const RETURN_PATH: &str = "bounces@example.jp";
const REPLY_TO: &str = "support@example.jp";

fn skip(why: &str) {
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
}

fn python_has(modules: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The aiosmtpd server of one test, killed when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
    out_dir: PathBuf,
    ca_file: PathBuf,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpServer {
    /// Starts the server in `dir` with `script` (see smtp_server.py); `None` (and a
    /// message) when python3 or aiosmtpd is missing.
    fn start(dir: &Path, script: serde_json::Value) -> Option<Self> {
        if !python_has("aiosmtpd") {
            skip("python3 with aiosmtpd is needed (python3 -m pip install aiosmtpd dkimpy)");
            return None;
        }
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "mailscore smtp test CA");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        let ca_file = dir.join("ca.pem");
        let cert_file = dir.join("smtp-cert.pem");
        let key_file = dir.join("smtp-key.pem");
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();
        std::fs::write(&cert_file, leaf.pem()).unwrap();
        std::fs::write(&key_file, leaf_key.serialize_pem()).unwrap();
        let out_dir = dir.join("received");
        std::fs::create_dir_all(&out_dir).unwrap();
        let script_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/smtp_server.py");
        let mut child = Command::new("python3")
            .arg(script_path)
            .arg(&out_dir)
            .arg(&cert_file)
            .arg(&key_file)
            .args([USER, PASSWORD, &script.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the server says where it listens");
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("the SMTP server did not start: {line:?}"));
        Some(Self {
            child,
            port,
            out_dir,
            ca_file,
        })
    }

    fn url(&self) -> String {
        format!("smtp://{USER}@127.0.0.1:{}?tls=required", self.port)
    }

    /// The messages received so far, in order.
    fn received(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.out_dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|path| std::fs::read(path).unwrap())
            .collect()
    }
}

/// The header fields of a message, unfolded, by lower-case name (the last of a repeated
/// name wins, except that every value is kept in order in the second map).
fn headers(message: &[u8]) -> BTreeMap<String, Vec<String>> {
    let text = String::from_utf8_lossy(message);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in fields {
        map.entry(name).or_default().push(value);
    }
    map
}

fn header(message: &[u8], name: &str) -> String {
    headers(message)
        .get(name)
        .and_then(|values| values.first().cloned())
        .unwrap_or_default()
}

/// A generated day: a store with its emails of [`DATE`] queued.
async fn queued_day(users: usize) -> TestStore {
    let date = parse_date(DATE).unwrap();
    let t = TestStore::with_generated(400, users, 30, 11, date).await;
    let options = BatchOptions::new(date, TimeZoneSetting::tokyo(), test_signer());
    run_batch(&t.store, &options).await.expect("the date runs");
    t
}

fn messages() -> Arc<Messages> {
    Arc::new(Messages {
        signer: test_signer(),
        email: EmailSettings::default(),
        renderer: Renderer::builtin(),
        time_zone: TimeZoneSetting::tokyo(),
    })
}

fn settings(server: &SmtpServer) -> SmtpSettings {
    SmtpSettings {
        url: Some(server.url()),
        password: Some(PASSWORD.to_owned()),
        ca_file: Some(server.ca_file.clone()),
        timeout: Duration::from_secs(10),
        retry_base: Duration::from_millis(20),
        retry_max: Duration::from_millis(100),
        return_path: Some(RETURN_PATH.to_owned()),
        reply_to: Some(REPLY_TO.to_owned()),
        ..SmtpSettings::default()
    }
}

fn sender(t: &TestStore, settings: SmtpSettings, dkim: Option<Arc<DkimSigner>>) -> Sender {
    let store: Arc<dyn Store> = Arc::new(t.store.clone());
    Sender::new(store, messages(), dkim, settings, false).expect("the transport is made")
}

const PAST: SendOptions = SendOptions {
    dry_run: false,
    all_pending: true,
};

async fn statuses(t: &TestStore) -> BTreeMap<String, (EmailStatus, u32, String)> {
    t.store
        .emails(parse_date(DATE).unwrap(), None)
        .await
        .unwrap()
        .into_iter()
        .map(|email| {
            (
                email.user_id.as_str().to_owned(),
                (email.status, email.attempts, email.to.as_str().to_owned()),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_due_email_goes_out_once_over_starttls_with_auth_signed_with_both_parts() {
    if !python_has("dkim") {
        skip("python3 with dkimpy is needed (python3 -m pip install aiosmtpd dkimpy)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = SmtpServer::start(dir.path(), serde_json::json!({})) else {
        return;
    };
    let t = queued_day(12).await;
    let key = generate_key(DkimAlgorithm::Ed25519).unwrap();
    let key_file = dir.path().join("dkim.pem");
    std::fs::write(&key_file, key.pem.as_bytes()).unwrap();
    let signer = DkimSigner::load("example.jp", "s1", &key_file).unwrap();
    let record = signer.dns_record().1;
    let sender = sender(&t, settings(&server), Some(Arc::new(signer)));
    let before = statuses(&t).await;
    let due = before
        .values()
        .filter(|(status, ..)| *status == EmailStatus::Pending)
        .count();
    assert!(due >= 5, "the generated day queues emails: {before:?}");

    let report = sender
        .send_day(parse_date(DATE).unwrap(), PAST)
        .await
        .unwrap();
    assert_eq!(report.due, due as u64);
    assert_eq!(report.sent, due as u64, "{report:?}");
    assert_eq!((report.failed, report.retried), (0, 0));
    let after = statuses(&t).await;
    for (user, (status, attempts, _)) in &after {
        if before[user].0 == EmailStatus::Pending {
            assert_eq!((*status, *attempts), (EmailStatus::Sent, 1), "{user}");
        }
    }

    let received = server.received();
    assert_eq!(received.len(), due, "one message per email");
    let mut message_ids = BTreeSet::new();
    let mut recipients = BTreeSet::new();
    for message in &received {
        let envelope = header(message, "x-test-envelope");
        assert!(
            envelope.starts_with(&format!("from=<{RETURN_PATH}>")),
            "{envelope}"
        );
        // The test header is the server's; what mailscore sent starts after it.
        let sent = &message[message.windows(2).position(|w| w == b"\r\n").unwrap() + 2..];
        let to = header(sent, "to");
        assert!(
            envelope.ends_with(&format!("to=<{to}>")),
            "{envelope} / {to}"
        );
        assert!(recipients.insert(to), "one message per user");
        assert!(message_ids.insert(header(sent, "message-id")));
        assert_eq!(header(sent, "reply-to"), REPLY_TO);
        assert!(header(sent, "from").contains(&EmailSettings::default().sender_email));
        assert!(header(sent, "list-unsubscribe").contains("/u/"));
        assert_eq!(
            header(sent, "list-unsubscribe-post"),
            "List-Unsubscribe=One-Click"
        );
        assert!(header(sent, "content-type").starts_with("multipart/alternative"));
        let text = String::from_utf8_lossy(sent);
        assert!(
            text.contains("Content-Type: text/plain; charset=utf-8"),
            "{text}"
        );
        assert!(text.contains("Content-Type: text/html; charset=utf-8"));
        let signature = header(sent, "dkim-signature");
        assert!(signature.contains("d=example.jp"), "{signature}");
        let (verified, said) = crate::dkim::dkimpy_verifies(sent, &record);
        assert!(verified, "dkimpy: {said}");
    }

    // A second send finds nothing to try: nothing is sent twice.
    let again = sender
        .send_day(parse_date(DATE).unwrap(), PAST)
        .await
        .unwrap();
    assert_eq!((again.due, again.sent), (0, 0));
    assert_eq!(server.received().len(), due);
}

/// The users of the day's pending emails, in user id order, with their addresses.
async fn pending(t: &TestStore) -> Vec<(String, String)> {
    statuses(t)
        .await
        .into_iter()
        .filter(|(_, (status, ..))| *status == EmailStatus::Pending)
        .map(|(user, (_, _, to))| (user, to))
        .collect()
}

fn received_by(server: &SmtpServer, address: &str) -> usize {
    server
        .received()
        .iter()
        .filter(|message| header(message, "x-test-envelope").ends_with(&format!("to=<{address}>")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_then_250_is_retried_and_sent_once_and_a_dropped_connection_too() {
    let dir = tempfile::tempdir().unwrap();
    let t = queued_day(8).await;
    let users = pending(&t).await;
    let (busy_user, busy) = users[0].clone();
    let (dropped_user, dropped) = users[1].clone();
    let script = serde_json::json!({
        "rcpt": { busy.as_str(): ["451 4.3.0 try again later"] },
        "drop": { dropped.as_str(): 1 },
    });
    let Some(server) = SmtpServer::start(dir.path(), script) else {
        return;
    };
    let sender = sender(&t, settings(&server), None);
    let date = parse_date(DATE).unwrap();
    let report = sender.send_day(date, PAST).await.unwrap();
    assert_eq!(report.sent, users.len() as u64, "{report:?}");
    assert_eq!(report.retried, 2);
    assert_eq!(received_by(&server, &busy), 1);
    assert_eq!(received_by(&server, &dropped), 1);
    assert_eq!(server.received().len(), users.len());

    let after = statuses(&t).await;
    assert_eq!(after[&busy_user].0, EmailStatus::Sent);
    assert_eq!(after[&busy_user].1, 2);
    let user_id = mailscore::domain::UserId::parse(&busy_user).unwrap();
    let attempts = t.store.email_attempts(date, &user_id).await.unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].reply_code, Some(451));
    assert!(
        attempts[0].reply.contains("try again later"),
        "{attempts:?}"
    );
    assert_eq!(attempts[1].reply_code, Some(250));

    let user_id = mailscore::domain::UserId::parse(&dropped_user).unwrap();
    let attempts = t.store.email_attempts(date, &user_id).await.unwrap();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0].reply_code, None, "no reply came: {attempts:?}");
    assert_eq!(attempts[1].reply_code, Some(250));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_fails_and_a_5_1_1_also_suppresses_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let t = queued_day(8).await;
    let users = pending(&t).await;
    let (rejected_user, rejected) = users[0].clone();
    let (unknown_user, unknown) = users[1].clone();
    let script = serde_json::json!({
        "rcpt": {
            rejected.as_str(): ["554 5.7.1 message refused"],
            unknown.as_str(): ["550 5.1.1 no such user here"],
        },
    });
    let Some(server) = SmtpServer::start(dir.path(), script) else {
        return;
    };
    let sender = sender(&t, settings(&server), None);
    let report = sender
        .send_day(parse_date(DATE).unwrap(), PAST)
        .await
        .unwrap();
    assert_eq!(report.failed, 2, "{report:?}");
    assert_eq!(report.hard_bounced, 1);
    assert_eq!(report.retried, 0, "a 5xx is not retried");
    assert_eq!(report.sent, users.len() as u64 - 2);
    let after = statuses(&t).await;
    assert_eq!(after[&rejected_user].0, EmailStatus::Failed);
    assert_eq!(after[&unknown_user].0, EmailStatus::Failed);
    assert_eq!(after[&unknown_user].1, 1);
    assert_eq!(received_by(&server, &rejected), 0);
    let suppressed = t.store.suppressions().await.unwrap();
    assert_eq!(suppressed.len(), 1, "{suppressed:?}");
    assert_eq!(suppressed[0].address.as_str(), unknown);
    assert_eq!(suppressed[0].reason.as_str(), "hard_bounce");
    assert!(
        suppressed[0]
            .note
            .as_deref()
            .is_some_and(|note| note.contains("5.1.1")),
        "{suppressed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_automatic_pause_trips_at_the_threshold_and_resumes_on_command() {
    let dir = tempfile::tempdir().unwrap();
    let t = queued_day(12).await;
    let users = pending(&t).await;
    assert!(users.len() >= 8, "{users:?}");
    // The first four addresses are refused for now; the others are taken.
    let refused: serde_json::Map<String, serde_json::Value> = users[..4]
        .iter()
        .map(|(_, to)| (to.clone(), serde_json::json!(["451 4.7.1 slow down"])))
        .collect();
    let Some(server) = SmtpServer::start(dir.path(), serde_json::json!({ "rcpt": refused })) else {
        return;
    };
    let settings = SmtpSettings {
        concurrency: 1,
        max_attempts: 1,
        pause_window: 4,
        pause_threshold_percent: 50.0,
        ..settings(&server)
    };
    let sender = sender(&t, settings, None);
    let date = parse_date(DATE).unwrap();
    let report = sender.send_day(date, PAST).await.unwrap();
    let reason = report.paused.clone().expect("sending paused");
    assert!(
        reason.contains("4 of the last 4 attempts failed"),
        "{reason}"
    );
    assert_eq!((report.sent, report.failed), (0, 4), "{report:?}");
    assert!(t.store.delivery_pause().await.unwrap().is_some());
    assert_eq!(server.received().len(), 0);

    // Paused, a send sends nothing, until an operator resumes.
    let still = sender.send_day(date, PAST).await.unwrap();
    assert_eq!((still.due, still.sent), (0, 0));
    assert!(still.paused.is_some());
    assert!(resume(&t.store).await.unwrap());
    let resumed = sender.send_day(date, PAST).await.unwrap();
    assert_eq!(resumed.paused, None);
    assert_eq!(resumed.sent, users.len() as u64 - 4, "{resumed:?}");
    assert_eq!(server.received().len(), users.len() - 4);
}

fn mailscore_binary(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailscore"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("RUST_LOG");
    for (name, _) in std::env::vars() {
        if name.starts_with("MAILSCORE_") {
            command.env_remove(name);
        }
    }
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_killed_mid_send_sends_the_rest_after_restart_none_twice() {
    let dir = tempfile::tempdir().unwrap();
    let script = serde_json::json!({ "data_delay_ms": 150 });
    let Some(server) = SmtpServer::start(dir.path(), script) else {
        return;
    };
    let t = queued_day(16).await;
    let users = pending(&t).await;
    assert!(users.len() >= 10, "{users:?}");
    let data_dir = t.dir.path().to_path_buf();
    drop(t.store);
    let config = dir.path().join("mailscore.toml");
    std::fs::write(
        &config,
        format!(
            "[smtp]\nca_file = {:?}\nconcurrency = 1\nreturn_path = \"{RETURN_PATH}\"\n",
            server.ca_file.display().to_string()
        ),
    )
    .unwrap();
    let send = || {
        let mut command = mailscore_binary(&data_dir);
        command
            .args(["--config"])
            .arg(&config)
            .args(["send", "--date", DATE])
            .env("MAILSCORE_SMTP_URL", server.url())
            .env("MAILSCORE_SMTP_PASSWORD", PASSWORD)
            .env("MAILSCORE_SECRET_KEY", "test key of thirty-two bytes....")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    };
    let mut child = send().spawn().expect("mailscore send runs");
    let started = Instant::now();
    while server.received().len() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no message arrived within a minute"
        );
        if let Some(status) = child.try_wait().unwrap() {
            let output = child.wait_with_output().unwrap();
            panic!(
                "send ended before it was killed ({status}): {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGKILL: no chance to record anything more.
    child.kill().unwrap();
    child.wait().unwrap();
    let received_before = server.received().len();
    assert!(received_before < users.len(), "killed before the end");

    let output = send().output().expect("mailscore send runs again");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stdout}\n{stderr}");

    let store = mailscore::store::redb::RedbStore::open(&data_dir).unwrap();
    let emails = store.emails(parse_date(DATE).unwrap(), None).await.unwrap();
    let unknown: Vec<&str> = emails
        .iter()
        .filter(|email| email.status == EmailStatus::Sending)
        .map(|email| email.user_id.as_str())
        .collect();
    let sent = emails
        .iter()
        .filter(|email| email.status == EmailStatus::Sent)
        .count();
    assert!(
        unknown.len() <= 1,
        "one email in flight at a time: {unknown:?}"
    );
    assert_eq!(sent + unknown.len(), users.len(), "{stdout}");
    if !unknown.is_empty() {
        assert!(
            stdout.contains(&format!("unknown: {} emails", unknown.len())),
            "{stdout}"
        );
        assert!(stdout.contains(unknown[0]), "{stdout}");
    }
    let received = server.received();
    let ids: Vec<String> = received
        .iter()
        .map(|message| header(message, "message-id"))
        .collect();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "a message arrived twice: {ids:?}");
    assert!(received.len() >= sent && received.len() <= users.len());
}
